// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy: a version of the deadline policy (same policy name) that the
 * verifier rejects, as it writes to the kernel's struct ufq_sched. `ufqctl
 * swap deadline deadline_broken.bpf.o` must fail with the verifier log's
 * tail and leave the running programs, their maps and pins as they were
 * (tests/vm/125-ufqctl-swap-changed.sh).
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

s32 UFQ_OP(deadline_broken_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	sched->last_end_sector = 0;
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(deadline_broken_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

UFQ_POLICY(deadline,
	.insert = (void *)deadline_broken_insert,
	.dispatch = (void *)deadline_broken_dispatch,
);
