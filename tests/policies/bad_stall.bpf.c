// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that starves writes: they wait in queue 1, which is never
 * dispatched. The watchdog (timeout 1 s) must hand the device to the FIFO.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

s32 UFQ_OP(bad_stall_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	return ufq_bpf_insert(sched, rq, (ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE) ? 1 : 0, 0);
}

void UFQ_OP(bad_stall_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

UFQ_POLICY(bad_stall,
	.insert = (void *)bad_stall_insert,
	.dispatch = (void *)bad_stall_dispatch,
	.timeout_ms = 1000,
);
