/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Latency statistics by a request class the policy chooses, on top of the
 * read/write histograms of ufq_stats.bpf.h.
 *
 * A policy with classes of its own (I/O priority classes, tenants, lanes)
 * numbers them 0 to UFQ_LAT_MAX_CLASSES - 1 and calls, instead of
 * ufq_sdk_completed():
 *
 *	ufq_sdk_completed_class(sched, rq, wait_ns, service_ns, cls);
 *
 * That counts the request in the device's read/write histogram, as
 * ufq_sdk_completed() does, and also in the histogram of its class (again
 * split by direction) in the map ufq_class_latency (include/ufq/latency.h).
 * `ufqctl stats` shows every class that has completions, by number: the
 * policy documents what its numbers mean. Class histograms cover the
 * devices with an id below UFQ_LAT_CLASS_MAX_DEVS (16); a class number out
 * of range is not counted in a class. Like the maps of ufq_stats.bpf.h,
 * the map is a weak definition, so a policy of several files has one.
 */
#ifndef UFQ_CLASS_STATS_BPF_H
#define UFQ_CLASS_STATS_BPF_H

#include "ufq_stats.bpf.h"

/* 8 classes of 16 devices, one struct ufq_latency (4.4 KiB) each: 560 KiB per CPU. */
struct ufq_class_latency_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UFQ_LAT_CLASS_MAX_DEVS * UFQ_LAT_MAX_CLASSES);
	__type(key, u32);		/* UFQ_LAT_CLASS_IDX(struct ufq_sched.id, class) */
	__type(value, struct ufq_latency);
};

__weak struct ufq_class_latency_map ufq_class_latency SEC(".maps");

/* Call from the policy's completed callback; safe in interrupt context. */
static __always_inline void ufq_sdk_completed_class(struct ufq_sched *sched, struct request *rq,
						    u64 wait_ns, u64 service_ns, u32 cls)
{
	int dir = ufq_sdk_dir(rq);
	u64 ns = ufq_sdk_latency_ns(rq, wait_ns, service_ns);
	u32 id = sched->id;

	ufq_sdk_latency(sched, dir, ns);
	if (cls < UFQ_LAT_MAX_CLASSES && id < UFQ_LAT_CLASS_MAX_DEVS)
		ufq_sdk_latency_add(&ufq_class_latency, UFQ_LAT_CLASS_IDX(id, cls), sched, dir, ns);
	ufq_sdk_trace(sched, rq, wait_ns, service_ns);
}

#endif /* UFQ_CLASS_STATS_BPF_H */
