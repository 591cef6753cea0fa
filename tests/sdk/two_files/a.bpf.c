// SPDX-License-Identifier: GPL-2.0
/* A policy of two files (with b.bpf.c), linked by bpftool gen object. */
#include "ufq.bpf.h"
#include "ufq_pred_stats.bpf.h"

UFQ_LICENSE;

s32 two_insert_core(struct ufq_sched *sched, struct request *rq);

s32 UFQ_OP(two_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	return two_insert_core(sched, rq);
}

void UFQ_OP(two_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
	/* A prediction of 0 ns: every completion counts as 100% off. */
	ufq_sdk_pred_error(sched, ufq_sdk_dir(rq), 0, service_ns, 0);
}

UFQ_POLICY(two_files,
	.insert = (void *)two_insert,
	.completed = (void *)two_completed,
);
