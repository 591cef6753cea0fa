// SPDX-License-Identifier: GPL-2.0
/*
 * fifo: requests are dispatched in the order they arrive.
 *
 * The smallest useful policy and the baseline for the others. Every request
 * is dispatched directly from insert: the device's dispatch list is itself
 * first in, first out, so a queue and a dispatch() call per request would
 * only cost time. Completions go to the SDK, which keeps the latency
 * statistics of `ufqctl stats` and the events of `ufqctl trace record`.
 */
#include "ufq.bpf.h"
#include "ufq_stats.bpf.h"

UFQ_LICENSE;

s32 UFQ_OP(fifo_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	return ufq_bpf_direct_dispatch(sched, rq);
}

void UFQ_OP(fifo_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
}

UFQ_POLICY(fifo,
	.insert = (void *)fifo_insert,
	.completed = (void *)fifo_completed,
);
