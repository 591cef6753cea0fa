// SPDX-License-Identifier: GPL-2.0
/*
 * fifo: requests are dispatched in the order they arrive.
 *
 * The smallest useful policy and the baseline for the others: every request
 * waits in queue 0 with the same key, so the queue keeps arrival order.
 * Completions go to the SDK, which keeps the latency statistics of
 * `ufqctl stats` and the events of `ufqctl trace record`.
 */
#include "ufq.bpf.h"
#include "ufq_stats.bpf.h"

UFQ_LICENSE;

s32 UFQ_OP(fifo_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	return ufq_insert(sched, rq, 0, 0);
}

void UFQ_OP(fifo_dispatch, struct ufq_sched *sched)
{
	ufq_dispatch(sched, 0);
}

void UFQ_OP(fifo_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
}

UFQ_POLICY(fifo,
	.insert = (void *)fifo_insert,
	.dispatch = (void *)fifo_dispatch,
	.completed = (void *)fifo_completed,
);
