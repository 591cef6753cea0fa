// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that decides with a pushed model (include/ufq/model.h).
 *
 * The model scores each request from its direction and size:
 *
 *	score = coef[dir][0] + coef[dir][1] * (bytes / 4096)
 *
 * and a request with a negative score waits in the low-priority queue 1,
 * others in queue 0, which dispatches first. Before the first push every
 * request goes to queue 0. mp_decisions counts the requests placed in each
 * queue and the model generation the last decision used, so a VM test can
 * see that `ufqctl model push` changes decisions, atomically.
 */
#include "ufq.bpf.h"
#include "ufq_stats.bpf.h"

UFQ_LICENSE;

struct mp_weights {
	s32 coef[2][2] UFQ_RANGE(-1000000, 1000000);	/* [read/write][bias, per 4 KiB] */
};

UFQ_MODEL_STRUCT(mp_model_value, struct mp_weights);
UFQ_MODEL_MAP(mp_model, struct mp_model_value);

struct mp_counts {
	u64 queued[2];		/* requests placed in queue 0 and 1 */
	u64 last_gen;		/* model generation of the last decision */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct mp_counts);
} mp_decisions SEC(".maps");

static u32 mp_queue(struct request *rq, u64 *gen)
{
	const struct mp_weights *w;
	struct mp_model_value *m;
	u32 zero = 0;
	s64 score, kib4 = ufq_bpf_rq_bytes(rq) >> 12;

	*gen = 0;
	m = bpf_map_lookup_elem(&mp_model, &zero);
	if (!m)
		return 0;
	w = ufq_model_live(m, gen);
	if (!w)
		return 0;
	if (ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE)
		score = w->coef[1][0] + w->coef[1][1] * kib4;
	else
		score = w->coef[0][0] + w->coef[0][1] * kib4;
	return score < 0 ? 1 : 0;
}

s32 UFQ_OP(mp_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct mp_counts *c;
	u32 zero = 0, q;
	u64 gen;

	q = mp_queue(rq, &gen);
	c = bpf_map_lookup_elem(&mp_decisions, &zero);
	if (c) {
		__sync_fetch_and_add(q ? &c->queued[1] : &c->queued[0], 1);
		c->last_gen = gen;
	}
	return ufq_bpf_insert(sched, rq, q, 0);
}

void UFQ_OP(mp_dispatch, struct ufq_sched *sched)
{
	if (!ufq_bpf_dispatch(sched, 0))
		ufq_bpf_dispatch(sched, 1);
}

void UFQ_OP(mp_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
}

UFQ_POLICY(model_prio,
	.insert = (void *)mp_insert,
	.dispatch = (void *)mp_dispatch,
	.completed = (void *)mp_completed,
);
