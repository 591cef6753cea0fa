// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that gives up: it calls ufq_bpf_abort() from the completion
 * callback (interrupt context) after 300 completions.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

u64 completed;

s32 UFQ_OP(bad_abort_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(bad_abort_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

void UFQ_OP(bad_abort_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	if (__sync_fetch_and_add(&completed, 1) == 300)
		ufq_bpf_abort(sched, "bad_abort gives up after 300 completions");
}

UFQ_POLICY(bad_abort,
	.insert = (void *)bad_abort_insert,
	.dispatch = (void *)bad_abort_dispatch,
	.completed = (void *)bad_abort_completed,
);
