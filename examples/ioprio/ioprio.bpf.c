// SPDX-License-Identifier: GPL-2.0
/*
 * ioprio: real time before best effort before idle, by the requests' I/O
 * priority class (ionice, ioprio_set(2), fio's prioclass), with expiry
 * times so that no class starves. The worked example of
 * docs/writing-a-policy.md, built against the installed SDK:
 *
 *	make		(this directory's Makefile: pkg-config --cflags ufq)
 *	ufqctl load ioprio.bpf.o --dev nvme0n1
 *	ufqctl set ioprio be_expire_ms=100
 *	ufqctl stats --dev nvme0n1	(latency by class: 1 RT, 2 BE, 3 IDLE)
 *
 * The decisions are in ioprio.h; this file only talks to the kernel.
 */
#include "ufq.bpf.h"
#include "ufq_class_stats.bpf.h"
#include "ioprio.h"

UFQ_LICENSE;

UFQ_TUNABLES_MAP(iop_tunables, struct iop_tunables);

s32 UFQ_OP(iop_init_dev, struct ufq_sched *sched)
{
	/* ufqctl writes the defaults at load; all zero: loaded some other way. */
	ufq_tunables_init(&iop_tunables, iop_tunables_default);
	return 0;
}

s32 UFQ_OP(iop_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	u16 prio = ufq_bpf_rq_ioprio(rq);

	/* Nothing waits, so nothing could go before it: no queue needed. */
	if (!sched->nr_waiting && !sched->nr_ready && !ufq_bpf_direct_dispatch(sched, rq))
		return 0;
	return ufq_bpf_insert(sched, rq, iop_queue(prio), iop_key(prio));
}

void UFQ_OP(iop_dispatch, struct ufq_sched *sched)
{
	struct iop_tunables *t;
	struct iop_choice c;
	struct iop_view v;
	u32 zero = 0, q;

	t = bpf_map_lookup_elem(&iop_tunables, &zero);
	if (!t) {
		ufq_bpf_abort(sched, "ioprio: no tunables");
		return;
	}
	for (q = 0; q < IOP_NR_QUEUES; q++) {
		v.nr[q] = ufq_bpf_queue_nr(sched, q);
		v.oldest_wait_ns[q] = ufq_bpf_queue_oldest_wait_ns(sched, q);
	}
	c = iop_choose(t, &v);
	if (c.queue < 0)
		return;
	if (c.oldest)
		ufq_bpf_dispatch_oldest(sched, c.queue);
	else
		ufq_bpf_dispatch(sched, c.queue);
}

/* In completed() ufq_bpf_rq_ioprio() is the priority recorded at dispatch. */
void UFQ_OP(iop_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	/* Latency by class for ufqctl stats: 1 RT, 2 BE, 3 IDLE (0 is never used). */
	ufq_sdk_completed_class(sched, rq, wait_ns, service_ns,
				ufq_ioprio_class_or_be(ufq_bpf_rq_ioprio(rq)));
}

UFQ_POLICY(ioprio,
	.init_dev = (void *)iop_init_dev,
	.insert = (void *)iop_insert,
	.dispatch = (void *)iop_dispatch,
	.completed = (void *)iop_completed,
);
