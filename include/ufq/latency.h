/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log-linear latency histograms, shared by the SDK (bpf/ufq_stats.bpf.h,
 * which fills them from the completed callback) and ufqctl (which reads
 * them from the pinned map "ufq_latency" and computes percentiles).
 *
 * Values are nanoseconds from insertion to completion (wait_ns +
 * service_ns of the completed callback). Below 2^UFQ_LAT_SUB_BITS ns each
 * value has its own bucket; above, every power of two is split into
 * 2^UFQ_LAT_SUB_BITS equal buckets, so a bucket is at most 1/8 = 12.5% wide
 * relative to its lower bound: p99 read from the histogram is within that
 * of the true value. Values of 2^UFQ_LAT_MAX_BITS ns (68.7 s) and more share
 * the last bucket. Plain C, no helpers, so unit tests check the same code.
 */
#ifndef UFQ_LATENCY_H
#define UFQ_LATENCY_H

#include "ufq/types.h"

#define UFQ_LAT_SUB_BITS 3
#define UFQ_LAT_SUB (1U << UFQ_LAT_SUB_BITS)
#define UFQ_LAT_MAX_BITS 36
/* Bucket groups: [0, 8) one per value, then one group per power of two. */
#define UFQ_LAT_BUCKETS ((UFQ_LAT_MAX_BITS - UFQ_LAT_SUB_BITS + 1) * UFQ_LAT_SUB)

enum ufq_dir { UFQ_DIR_READ = 0, UFQ_DIR_WRITE = 1, UFQ_NR_DIRS = 2 };

/*
 * Value of the per-CPU array map ufq_latency, indexed by struct
 * ufq_sched.id. count[] is indexed by UFQ_LAT_IDX(dir, bucket). An id
 * passes to another device when its device leaves the ufq elevator, so
 * each CPU's copy names the device it counts: a copy that meets a
 * completion of another device starts over. ufqctl sums the copies of the
 * device's id that name the device.
 */
struct ufq_latency {
	u64 count[UFQ_NR_DIRS * UFQ_LAT_BUCKETS];
	u64 sum_ns[UFQ_NR_DIRS];
	u64 dev;		/* struct ufq_sched.dev */
};

#define UFQ_LAT_IDX(dir, bucket) ((dir) * UFQ_LAT_BUCKETS + (bucket))

/*
 * Histograms by a class the policy chooses (bpf/ufq_class_stats.bpf.h):
 * the per-CPU array map ufq_class_latency holds one struct ufq_latency
 * per device and class, at UFQ_LAT_CLASS_IDX(id, class), for the devices
 * with an id below UFQ_LAT_CLASS_MAX_DEVS.
 */
#define UFQ_LAT_MAX_CLASSES 8
#define UFQ_LAT_CLASS_MAX_DEVS 16
#define UFQ_LAT_CLASS_IDX(id, cls) ((id) * UFQ_LAT_MAX_CLASSES + (cls))

/* Index of the highest set bit of v > 0, without a loop or clz (BPF has none). */
static inline u32 ufq_lat_msb(u64 v)
{
	u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

static inline u32 ufq_lat_bucket(u64 ns)
{
	u32 msb;

	if (ns < UFQ_LAT_SUB)
		return (u32)ns;
	msb = ufq_lat_msb(ns);
	if (msb >= UFQ_LAT_MAX_BITS)
		return UFQ_LAT_BUCKETS - 1;
	/* Group msb - SUB_BITS + 1; the SUB_BITS bits below the msb pick the bucket. */
	return (msb - UFQ_LAT_SUB_BITS + 1) * UFQ_LAT_SUB +
	       (u32)((ns >> (msb - UFQ_LAT_SUB_BITS)) & (UFQ_LAT_SUB - 1));
}

/* Smallest value that falls into bucket b. */
static inline u64 ufq_lat_bucket_low(u32 b)
{
	u32 group = b / UFQ_LAT_SUB, sub = b % UFQ_LAT_SUB;

	if (group == 0)
		return b;
	return (u64)(UFQ_LAT_SUB + sub) << (group - 1);
}

/* One past the largest value of bucket b (the last bucket is open-ended). */
static inline u64 ufq_lat_bucket_high(u32 b)
{
	return b + 1 < UFQ_LAT_BUCKETS ? ufq_lat_bucket_low(b + 1) : ~0ULL;
}

#endif /* UFQ_LATENCY_H */
