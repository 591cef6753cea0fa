/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prediction-error statistics, for policies that predict how long a
 * request takes at the device.
 *
 * A policy that predicted @pred_ns of service time for a request (at
 * insert or dispatch, and kept it in the request's cookie) calls, from its
 * completed callback, besides ufq_sdk_completed():
 *
 *	ufq_sdk_pred_error(sched, ufq_sdk_dir(rq), pred_ns, service_ns, model_gen);
 *
 * That counts the relative error |pred - meas| / meas in the device's
 * histogram of that direction in the map ufq_pred_error
 * (include/ufq/pred_error.h), where `ufqctl stats` finds the median and
 * p90 error and `ufqctl model show` the error since the last push.
 * @model_gen is the generation of the model that made the predictions (0
 * for none, e.g. a built-in predictor before the first push): each CPU's
 * histogram starts over when it changes, so the figures are those of the
 * model in use. Devices with an id below UFQ_PRED_ERR_MAX_DEVS (16) are
 * counted. Like the maps of ufq_stats.bpf.h, the map is a weak
 * definition, so a policy of several files has one.
 */
#ifndef UFQ_PRED_STATS_BPF_H
#define UFQ_PRED_STATS_BPF_H

#include "ufq_stats.bpf.h"
#include "ufq/pred_error.h"

/* 16 devices of 720 bytes: 11.5 KiB per CPU. */
struct ufq_pred_error_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UFQ_PRED_ERR_MAX_DEVS);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct ufq_pred_error);
};

__weak struct ufq_pred_error_map ufq_pred_error SEC(".maps");

/*
 * This CPU's copy of an id's histogram passes to @dev and @model_gen.
 * Rare: once per CPU after a push or after a device took over an id.
 */
static __noinline void ufq_sdk_pred_error_reset(struct ufq_pred_error *pe, u64 dev,
						u64 model_gen)
{
	u32 i;

	for (i = 0; i < UFQ_PRED_ERR_DIRS * UFQ_PRED_ERR_BUCKETS; i++)
		/* volatile: a memset() of this size cannot be compiled to BPF. */
		((volatile u64 *)pe->bucket)[i] = 0;
	for (i = 0; i < UFQ_PRED_ERR_DIRS; i++) {
		pe->count[i] = 0;
		pe->sum_pct[i] = 0;
	}
	pe->dev = dev;
	pe->model_gen = model_gen;
}

/*
 * Call from the policy's completed callback; safe in interrupt context.
 * A service time of 0 (not measured: see ufq_sdk_latency_ns()) is not
 * counted.
 */
static __always_inline void ufq_sdk_pred_error(struct ufq_sched *sched, int dir, u64 pred_ns,
					       u64 service_ns, u64 model_gen)
{
	struct ufq_pred_error *pe;
	u32 id = sched->id, pct, b, d = dir == UFQ_DIR_WRITE ? 1 : 0;

	if (!service_ns)
		return;
	pe = bpf_map_lookup_elem(&ufq_pred_error, &id);
	if (!pe)
		return;		/* no statistics for devices beyond the map */
	if (pe->dev != sched->dev || pe->model_gen != model_gen)
		ufq_sdk_pred_error_reset(pe, sched->dev, model_gen);
	pct = ufq_pred_err_pct(pred_ns, service_ns);
	b = ufq_pred_err_bucket(pct);
	barrier_var(b);		/* keep the bounds check on what indexes */
	/*
	 * Per CPU, but a completion in hard interrupt context may interrupt
	 * one in soft interrupt context: atomic adds, uncontended and cheap.
	 */
	if (b < UFQ_PRED_ERR_BUCKETS && d < UFQ_PRED_ERR_DIRS)
		__sync_fetch_and_add(&pe->bucket[d][b], 1);
	if (d) {
		__sync_fetch_and_add(&pe->count[1], 1);
		__sync_fetch_and_add(&pe->sum_pct[1], pct);
	} else {
		__sync_fetch_and_add(&pe->count[0], 1);
		__sync_fetch_and_add(&pe->sum_pct[0], pct);
	}
}

#endif /* UFQ_PRED_STATS_BPF_H */
