// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that breaks the contract: it has no dispatch callback, so it
 * must dispatch every request from insert, but after 200 requests it
 * queues one. The device must fall back to FIFO with no request lost.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

u64 inserted;

s32 UFQ_OP(bad_no_dispatch_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	if (__sync_fetch_and_add(&inserted, 1) == 200)
		return ufq_bpf_insert(sched, rq, 0, 0);
	return ufq_bpf_direct_dispatch(sched, rq);
}

UFQ_POLICY(bad_no_dispatch,
	.insert = (void *)bad_no_dispatch_insert,
);
