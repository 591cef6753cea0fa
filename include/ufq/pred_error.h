/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prediction error of service times, shared by the SDK
 * (bpf/ufq_pred_stats.bpf.h, which fills it from a policy's completed
 * callback) and ufqctl (which reads the pinned map "ufq_pred_error" and
 * shows the median and p90 error per direction in `ufqctl stats` and
 * `ufqctl model show`).
 *
 * A policy that predicts how long a request will take at the device (the
 * ml policy does) reports, per completion, the prediction it made and the
 * service time measured (dispatch to completion). The error of one
 * request is the relative error |pred - meas| * 100 / meas, in whole
 * percent, counted in a histogram of UFQ_PRED_ERR_BUCKETS buckets: bucket
 * b < 40 holds [5b, 5b + 5) percent, bucket 40 [200, 1000) and bucket 41
 * 1000 percent and more. A median read from it is within 5 points of the
 * true one below 200%, which is where a useful predictor lives.
 *
 * Plain C, no helpers, so unit tests check the same code.
 */
#ifndef UFQ_PRED_ERROR_H
#define UFQ_PRED_ERROR_H

#include "ufq/types.h"

#define UFQ_PRED_ERR_BUCKETS 42
#define UFQ_PRED_ERR_STEP_PCT 5		/* width of the fine buckets */
#define UFQ_PRED_ERR_FINE 40		/* fine buckets: 0 .. 200% */
#define UFQ_PRED_ERR_HIGH_PCT 1000	/* bucket 41 from here on */
/* Devices with an id below this have a histogram (as the SDK's class histograms). */
#define UFQ_PRED_ERR_MAX_DEVS 16
/* One request's error counts at most this much in sum_pct: 10^6 percent. */
#define UFQ_PRED_ERR_PCT_MAX 1000000U
#define UFQ_PRED_ERR_DIRS 2		/* read, write: enum ufq_dir of ufq/latency.h */

/*
 * Value of the per-CPU array map ufq_pred_error, indexed by struct
 * ufq_sched.id. Like struct ufq_latency, each CPU's copy names the device
 * (dev) and the model generation (model_gen, what the policy passes; 0
 * for "no model") it counts for, and starts over when a completion of
 * another device or generation meets it; ufqctl adds up the copies that
 * name the device and the newest generation among them, so the figures
 * are "since the last push".
 */
struct ufq_pred_error {
	u64 dev;				/* struct ufq_sched.dev */
	u64 model_gen;
	u64 count[UFQ_PRED_ERR_DIRS];		/* completions counted */
	u64 sum_pct[UFQ_PRED_ERR_DIRS];		/* their errors added up, each capped */
	u64 bucket[UFQ_PRED_ERR_DIRS][UFQ_PRED_ERR_BUCKETS];
};

/*
 * Relative error in percent of a prediction of @pred_ns for a measured
 * @meas_ns (0 counts as 1 ns), at most UFQ_PRED_ERR_PCT_MAX.
 */
static inline u32 ufq_pred_err_pct(u64 pred_ns, u64 meas_ns)
{
	u64 diff = pred_ns > meas_ns ? pred_ns - meas_ns : meas_ns - pred_ns;

	if (!meas_ns)
		meas_ns = 1;
	/* diff * 100 < 2^64; past that, divide first (meas_ns / 100 is exact enough) */
	if (diff < (1ULL << 57))
		diff = diff * 100 / meas_ns;
	else
		diff = diff / (meas_ns >= 100 ? meas_ns / 100 : 1);
	return diff > UFQ_PRED_ERR_PCT_MAX ? UFQ_PRED_ERR_PCT_MAX : (u32)diff;
}

/* The bucket of an error of @pct percent. */
static inline u32 ufq_pred_err_bucket(u32 pct)
{
	if (pct < UFQ_PRED_ERR_FINE * UFQ_PRED_ERR_STEP_PCT)
		return pct / UFQ_PRED_ERR_STEP_PCT;
	return pct < UFQ_PRED_ERR_HIGH_PCT ? UFQ_PRED_ERR_FINE : UFQ_PRED_ERR_FINE + 1;
}

/* Smallest error (percent) of bucket @b. */
static inline u32 ufq_pred_err_bucket_low(u32 b)
{
	if (b < UFQ_PRED_ERR_FINE)
		return b * UFQ_PRED_ERR_STEP_PCT;
	return b == UFQ_PRED_ERR_FINE ? UFQ_PRED_ERR_FINE * UFQ_PRED_ERR_STEP_PCT :
					UFQ_PRED_ERR_HIGH_PCT;
}

/* One past the largest error of bucket @b; the last bucket ends at UFQ_PRED_ERR_PCT_MAX + 1. */
static inline u32 ufq_pred_err_bucket_high(u32 b)
{
	return b + 1 < UFQ_PRED_ERR_BUCKETS ? ufq_pred_err_bucket_low(b + 1) :
					      UFQ_PRED_ERR_PCT_MAX + 1;
}

/*
 * The @q-th percentile (0..100) of the errors counted in @bucket, in
 * percent: interpolated linearly within the bucket it falls in, except in
 * the open-ended last bucket, which gives its lower bound (1000). 0 when
 * nothing was counted.
 */
static inline u32 ufq_pred_err_percentile(const u64 bucket[UFQ_PRED_ERR_BUCKETS], u32 q)
{
	u64 total = 0, seen = 0, rank;
	u32 b, low, high;

	for (b = 0; b < UFQ_PRED_ERR_BUCKETS; b++)
		total += bucket[b];
	if (!total)
		return 0;
	if (q > 100)
		q = 100;
	/* the rank-th smallest error, counting from 1 */
	rank = (total * q + 99) / 100;
	if (!rank)
		rank = 1;
	for (b = 0; b < UFQ_PRED_ERR_BUCKETS; b++) {
		if (seen + bucket[b] >= rank)
			break;
		seen += bucket[b];
	}
	if (b >= UFQ_PRED_ERR_BUCKETS - 1)
		return UFQ_PRED_ERR_HIGH_PCT;
	low = ufq_pred_err_bucket_low(b);
	high = ufq_pred_err_bucket_high(b);
	/* the rank-th of the bucket's n errors, spread evenly over [low, high) */
	return low + (u32)((u64)(high - low) * (rank - seen - 1) / bucket[b]);
}

#endif /* UFQ_PRED_ERROR_H */
