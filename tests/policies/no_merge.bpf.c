// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that vetoes every merge through allow_merge(), otherwise FIFO.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

u64 vetoed;

s32 UFQ_OP(no_merge_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(no_merge_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

bool UFQ_OP(no_merge_allow_merge, struct ufq_sched *sched, struct request *rq,
	    struct bio *bio)
{
	__sync_fetch_and_add(&vetoed, 1);
	return false;
}

UFQ_POLICY(no_merge,
	.insert = (void *)no_merge_insert,
	.dispatch = (void *)no_merge_dispatch,
	.allow_merge = (void *)no_merge_allow_merge,
);
