// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that breaks the contract: after 200 requests, insert()
 * returns without placing one. The device must fall back to FIFO with no
 * request lost.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

u64 inserted;

s32 UFQ_OP(bad_unplaced_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	if (__sync_fetch_and_add(&inserted, 1) == 200)
		return 0;
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(bad_unplaced_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

UFQ_POLICY(bad_unplaced,
	.insert = (void *)bad_unplaced_insert,
	.dispatch = (void *)bad_unplaced_dispatch,
);
