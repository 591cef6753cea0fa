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

/*
 * The class of each request in the scheduler or at the driver, by its
 * address (a number here, never dereferenced): in completed() the kernel
 * no longer knows a request's priority (ufq_rq_ioprio() is 0 once the
 * request's bios are done), so insert() notes it and finish() forgets it.
 * A request this map has no room for counts as best effort.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);		/* the struct request's address */
	__type(value, u32);		/* UFQ_IOPRIO_CLASS_RT, _BE or _IDLE */
} iop_class SEC(".maps");

s32 UFQ_OP(iop_init_dev, struct ufq_sched *sched)
{
	/* ufqctl writes the defaults at load; all zero: loaded some other way. */
	ufq_tunables_init(&iop_tunables, iop_tunables_default);
	return 0;
}

s32 UFQ_OP(iop_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	u16 prio = ufq_rq_ioprio(rq);
	u64 addr = (u64)rq;
	u32 cls = ufq_ioprio_class_or_be(prio);

	bpf_map_update_elem(&iop_class, &addr, &cls, BPF_ANY);
	/* Nothing waits, so nothing could go before it: no queue needed. */
	if (!sched->nr_waiting && !sched->nr_ready && !ufq_direct_dispatch(sched, rq))
		return 0;
	return ufq_insert(sched, rq, iop_queue(prio), iop_key(prio));
}

void UFQ_OP(iop_dispatch, struct ufq_sched *sched)
{
	struct iop_tunables *t;
	struct iop_choice c;
	struct iop_view v;
	u32 zero = 0, q;

	t = bpf_map_lookup_elem(&iop_tunables, &zero);
	if (!t) {
		ufq_abort(sched, "ioprio: no tunables");
		return;
	}
	for (q = 0; q < IOP_NR_QUEUES; q++) {
		v.nr[q] = ufq_queue_nr(sched, q);
		v.oldest_wait_ns[q] = ufq_queue_oldest_wait_ns(sched, q);
	}
	c = iop_choose(t, &v);
	if (c.queue < 0)
		return;
	if (c.oldest)
		ufq_dispatch_oldest(sched, c.queue);
	else
		ufq_dispatch(sched, c.queue);
}

void UFQ_OP(iop_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	u64 addr = (u64)rq;
	u32 *cls = bpf_map_lookup_elem(&iop_class, &addr);

	/* Latency by class for ufqctl stats: 1 RT, 2 BE, 3 IDLE (0 is never used). */
	ufq_sdk_completed_class(sched, rq, wait_ns, service_ns,
				cls ? *cls : (u32)UFQ_IOPRIO_CLASS_BE);
}

void UFQ_OP(iop_finish, struct ufq_sched *sched, struct request *rq)
{
	u64 addr = (u64)rq;

	bpf_map_delete_elem(&iop_class, &addr);
}

/* @next was merged into @rq and will not complete on its own. */
void UFQ_OP(iop_merged, struct ufq_sched *sched, struct request *rq, struct request *next)
{
	u64 addr = (u64)next;

	bpf_map_delete_elem(&iop_class, &addr);
}

UFQ_POLICY(ioprio,
	.init_dev = (void *)iop_init_dev,
	.insert = (void *)iop_insert,
	.dispatch = (void *)iop_dispatch,
	.completed = (void *)iop_completed,
	.finish = (void *)iop_finish,
	.merged = (void *)iop_merged,
);
