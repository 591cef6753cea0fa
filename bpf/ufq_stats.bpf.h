/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Latency statistics and completion traces for every policy, by one call.
 *
 * A policy includes this header and calls ufq_sdk_completed() from its
 * completed callback:
 *
 *	void UFQ_OP(my_completed, struct ufq_sched *sched, struct request *rq,
 *		    u64 wait_ns, u64 service_ns)
 *	{
 *		ufq_sdk_completed(sched, rq, wait_ns, service_ns);
 *	}
 *
 * That fills the per-device, per-direction latency histogram ufq_latency
 * (include/ufq/latency.h) that `ufqctl stats` turns into percentiles, and,
 * only while `ufqctl trace record` runs on the device, writes an event per
 * request to the ring buffer ufq_trace (include/ufq/trace.h). ufqctl pins
 * both with the policy's other maps and finds them by these names.
 * Histograms by a class the policy chooses: bpf/ufq_class_stats.bpf.h.
 *
 * A policy may be several source files, compiled one by one and linked
 * with `bpftool gen object policy.bpf.o a.o b.o`: every file that includes
 * this header gets the same weak definitions of the maps, and the linker
 * keeps one of each (a single-file policy needs nothing else). Define
 * UFQ_LICENSE and UFQ_POLICY in one file only.
 */
#ifndef UFQ_STATS_BPF_H
#define UFQ_STATS_BPF_H

#include "ufq.bpf.h"
#include "ufq/latency.h"
#include "ufq/trace.h"

/* Devices a policy keeps latency statistics for: those with an id below. */
#define UFQ_LAT_MAX_DEVS 64
/* 1 MiB: about 12000 events, a second of a busy device between two reads by ufqctl. */
#define UFQ_TRACE_RINGBUF_BYTES (1024 * 1024)

/*
 * Per CPU, so that completions on different CPUs (often in interrupt
 * context) never share a cache line; ufqctl adds the CPUs up. An array
 * indexed by the device's ufq id: the lookup in every completion is then
 * an index, not a hash.
 */
struct ufq_latency_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UFQ_LAT_MAX_DEVS);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct ufq_latency);
};

struct ufq_trace_ctl_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct ufq_trace_ctl);
};

struct ufq_trace_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, UFQ_TRACE_RINGBUF_BYTES);
};

/* Weak: one per file of the policy, merged into one by the BPF linker. */
__weak struct ufq_latency_map ufq_latency SEC(".maps");
__weak struct ufq_trace_ctl_map ufq_trace_ctl SEC(".maps");
__weak struct ufq_trace_map ufq_trace SEC(".maps");

/*
 * This CPU's copy of an id's histogram passes to @dev, the id's device
 * now. Rare: once per CPU after a device took over an id.
 */
static __noinline void ufq_sdk_latency_reset(struct ufq_latency *lat, u32 dev)
{
	u32 i;

	for (i = 0; i < UFQ_NR_DIRS * UFQ_LAT_BUCKETS; i++)
		/* volatile: a memset() of this size cannot be compiled to BPF. */
		((volatile u64 *)lat->count)[i] = 0;
	lat->sum_ns[UFQ_DIR_READ] = 0;
	lat->sum_ns[UFQ_DIR_WRITE] = 0;
	lat->dev = dev;
}

/* Count @ns for direction @dir in the histogram at @idx of @map (an array of struct ufq_latency). */
static __always_inline void ufq_sdk_latency_add(void *map, u32 idx, struct ufq_sched *sched,
						int dir, u64 ns)
{
	struct ufq_latency *lat;
	u32 b;

	/* No statistics for devices beyond the map. */
	lat = bpf_map_lookup_elem(map, &idx);
	if (!lat)
		return;
	if (lat->dev != sched->dev)
		ufq_sdk_latency_reset(lat, sched->dev);
	b = UFQ_LAT_IDX(dir, ufq_lat_bucket(ns));
	/*
	 * Per CPU, but a completion in hard interrupt context may interrupt
	 * one in soft interrupt context: atomic adds, uncontended and cheap.
	 */
	if (b < UFQ_NR_DIRS * UFQ_LAT_BUCKETS)
		__sync_fetch_and_add(&lat->count[b], 1);
	if (dir == UFQ_DIR_WRITE)
		__sync_fetch_and_add(&lat->sum_ns[UFQ_DIR_WRITE], ns);
	else
		__sync_fetch_and_add(&lat->sum_ns[UFQ_DIR_READ], ns);
}

static __always_inline void ufq_sdk_latency(struct ufq_sched *sched, int dir, u64 ns)
{
	ufq_sdk_latency_add(&ufq_latency, sched->id, sched, dir, ns);
}

static __always_inline void ufq_sdk_trace(struct ufq_sched *sched, struct request *rq,
					  u64 wait_ns, u64 service_ns)
{
	struct ufq_trace_event *ev;
	struct ufq_trace_ctl *ctl;
	u32 zero = 0;

	ctl = bpf_map_lookup_elem(&ufq_trace_ctl, &zero);
	if (!ctl || !ctl->on || ctl->dev != sched->dev)
		return;
	ev = bpf_ringbuf_reserve(&ufq_trace, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&ctl->dropped, 1);
		return;
	}
	ev->complete_ns = bpf_ktime_get_ns();
	ev->alloc_ns = ufq_bpf_rq_alloc_ns(rq);
	ev->insert_ns = ufq_bpf_rq_insert_ns(rq);
	ev->wait_ns = wait_ns;
	ev->service_ns = service_ns;
	ev->sector = ufq_bpf_rq_sector(rq);
	ev->flags = ufq_bpf_rq_flags(rq);
	ev->cgroup_id = ufq_bpf_rq_cgroup_id(rq);
	ev->dev = sched->dev;
	ev->bytes = ufq_bpf_rq_bytes(rq);
	ev->nr_waiting = sched->nr_waiting;
	ev->ioprio = ufq_bpf_rq_ioprio(rq);
	ev->reserved = 0;
	/*
	 * Wake the reader only when a good part of the buffer is used; it
	 * also polls on a timer, so quiet devices are drained too.
	 */
	bpf_ringbuf_submit(ev, bpf_ringbuf_query(&ufq_trace, BPF_RB_AVAIL_DATA) >
				       UFQ_TRACE_RINGBUF_BYTES / 8 ? BPF_RB_FORCE_WAKEUP :
								     BPF_RB_NO_WAKEUP);
}

/* The direction ufq_sdk_completed() counts a request in. */
static __always_inline int ufq_sdk_dir(struct request *rq)
{
	return (ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE) ? UFQ_DIR_WRITE : UFQ_DIR_READ;
}

/*
 * The histogram takes wait_ns + service_ns, insertion to completion. The
 * kernel measures them with blk_time_get_ns(), which inside a plug returns
 * the time cached when the plug started: a request completed inline by its
 * submitter reports a service time of 0. Only then is the clock read here,
 * to measure from insertion to now.
 */
static __always_inline u64 ufq_sdk_latency_ns(struct request *rq, u64 wait_ns, u64 service_ns)
{
	u64 ns = wait_ns + service_ns;

	if (!service_ns) {
		u64 now = bpf_ktime_get_ns(), inserted = ufq_bpf_rq_insert_ns(rq);

		if (inserted && inserted < now && now - inserted > ns)
			ns = now - inserted;
	}
	return ns;
}

/* Call from the policy's completed callback; safe in interrupt context. */
static __always_inline void ufq_sdk_completed(struct ufq_sched *sched, struct request *rq,
					      u64 wait_ns, u64 service_ns)
{
	ufq_sdk_latency(sched, ufq_sdk_dir(rq), ufq_sdk_latency_ns(rq, wait_ns, service_ns));
	ufq_sdk_trace(sched, rq, wait_ns, service_ns);
}

#endif /* UFQ_STATS_BPF_H */
