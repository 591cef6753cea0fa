// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy the verifier must reject: it writes to the kernel's struct
 * ufq_sched, which policies may only read. `ufqctl load` must print the end
 * of the verifier log and where the whole log is, and leave nothing behind.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

s32 UFQ_OP(bad_verifier_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	sched->last_end_sector = 0;
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(bad_verifier_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

UFQ_POLICY(bad_verifier,
	.insert = (void *)bad_verifier_insert,
	.dispatch = (void *)bad_verifier_dispatch,
);
