// SPDX-License-Identifier: GPL-2.0
/* The second file of the two_files policy: uses the SDK's maps too. */
#include "ufq.bpf.h"
#include "ufq_pred_stats.bpf.h"

__noinline s32 two_insert_core(struct ufq_sched *sched, struct request *rq)
{
	if (!sched || !rq)
		return -1;
	/* A direction's latency counted here as well: the same map as in a.bpf.c. */
	ufq_sdk_latency(sched, UFQ_DIR_READ, 0);
	ufq_sdk_pred_error(sched, UFQ_DIR_READ, 1000, 1000, 0);
	return ufq_bpf_direct_dispatch(sched, rq);
}
