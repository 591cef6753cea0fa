// SPDX-License-Identifier: GPL-2.0
/*
 * ml: earliest deadline first on predicted latency. Every request's
 * service time is predicted at insert by a small integer network (weights
 * pushed by `ufqctl model push ml`, trained by `ufqctl model train ml`
 * from a trace) or, before a push, by each direction's running mean.
 * While reads arrive, writes leave some of the device's hardware tags free
 * for them; optionally, writes go only while the predicted time of the
 * writes at the device stays within a window, and hold at most a share of
 * the scheduler tags. Sequential streams go in sector-ordered batches.
 * The decisions are in ml.h, the model in ml_model.h; this file keeps the
 * state in maps and talks to the kernel.
 *
 * Maps (bpftool map dump name ...):
 *   ml_tunables     targets, window, write depth, batches, learning
 *                   (ufqctl set ml ...)
 *   ml_model        the network and the classifier's starting weights
 *   ml_status       each device's state at its ufq id: features, classifier,
 *                   corrections, writes' in-flight sum, totals
 *   ufq_pred_error  the prediction error per device and direction (SDK)
 * Completions feed the SDK's latency histograms and traces
 * (ufq_sdk_completed), so `ufqctl stats` and `ufqctl trace record` work.
 */
#include "ufq.bpf.h"
#include "ufq_pred_stats.bpf.h"
#include "ml.h"

UFQ_LICENSE;

UFQ_TUNABLES_MAP(ml_tunables, struct ml_tunables);
UFQ_MODEL_MAP(ml_model, struct ml_model_value);

/* Devices with an id of ML_MAX_DEVICES or more are refused by init_dev(). */
#define ML_MAX_DEVICES 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ML_MAX_DEVICES);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct ml_dev);
} ml_status SEC(".maps");

/* What dispatch() looks at, too large for the BPF stack beside its callees. */
struct ml_scratch {
	struct ml_view v;
	struct ml_choice c;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct ml_scratch);
} ml_scratch SEC(".maps");

static struct ml_tunables *tunables(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&ml_tunables, &zero);
}

static struct ml_dev *device(struct ufq_sched *sched)
{
	u32 id = sched->id;

	return bpf_map_lookup_elem(&ml_status, &id);
}

/* The live weights and their generation, or NULL (and 0) before the first push. */
static const struct ml_weights *model(u64 *gen)
{
	struct ml_model_value *m;
	u32 zero = 0;

	*gen = 0;
	m = bpf_map_lookup_elem(&ml_model, &zero);
	if (!m)
		return NULL;
	return ufq_model_live(m, gen);
}

/*
 * Limits the scheduler tags of everything but sync reads to what
 * write_depth_pct allows of nr_requests, when that changed (a tunable set,
 * queue/nr_requests written, or the device bound again). Not applied:
 * tried again at the next dispatch.
 */
static void apply_write_depth(struct ufq_sched *sched, struct ml_dev *d,
			      const struct ml_tunables *t)
{
	u32 depth = ml_write_depth(t->write_depth_pct, sched->nr_requests);

	if (depth == d->write_depth)
		return;
	if (ufq_bpf_set_depth_limit(sched, UFQ_DEPTH_SYNC_WRITE, depth) ||
	    ufq_bpf_set_depth_limit(sched, UFQ_DEPTH_ASYNC, depth))
		return;
	d->write_depth = depth;
}

s32 UFQ_OP(ml_init_dev, struct ufq_sched *sched)
{
	const struct ml_weights *w;
	struct ml_tunables *t;
	struct ml_dev *d;
	u64 gen;

	/* ufqctl writes the defaults at load; all zero: loaded some other way. */
	t = ufq_tunables_init(&ml_tunables, ml_tunables_default);
	if (!t)
		return -2;	/* ENOENT (not in vmlinux.h): a one-entry array always has it */
	if (sched->id >= ML_MAX_DEVICES)
		return -28;	/* ENOSPC (not in vmlinux.h): more devices than entries */
	d = device(sched);
	if (!d)
		return -2;
	w = model(&gen);
	if (d->dev == sched->dev && d->bound) {
		/*
		 * The programs were replaced in place: the requests the old
		 * ones dispatched still complete here, so the in-flight sum,
		 * the depth limit and everything learnt stay.
		 */
		return 0;
	}
	if (d->dev == sched->dev) {
		/* Bound again: keep what was learnt of this device. */
		ml_dev_rebind(d);
		if (gen != d->model_gen)
			ml_dev_new_model(d, w, gen);
	} else {
		ml_dev_init(d, sched->dev, w, gen);
	}
	apply_write_depth(sched, d, t);
	return 0;
}

void UFQ_OP(ml_exit_dev, struct ufq_sched *sched)
{
	struct ml_dev *d = device(sched);

	if (d && d->dev == sched->dev) {
		d->bound = 0;
	}
}

s32 UFQ_OP(ml_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct ml_tunables *t = tunables();
	struct ml_dev *d = device(sched);
	const struct ml_weights *w;
	struct ml_prediction p;
	s32 x[ML_NR_FEATURES];
	struct ml_req r = {};
	u64 cookie, gen, deadline;
	bool seq = false, continued;

	if (!t || !d)
		return ufq_bpf_insert(sched, rq, ML_Q_EDF, 0);
	r.sector = ufq_bpf_rq_sector(rq);
	r.bytes = ufq_bpf_rq_bytes(rq);
	r.write = ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE ? 1 : 0;
	r.prio_class = ufq_ioprio_class(ufq_bpf_rq_ioprio(rq));
	/* The insert time, as the trace has it, so the trainer sees the same features. */
	r.now_ns = ufq_bpf_rq_insert_ns(rq) ?: bpf_ktime_get_ns();
	deadline = r.now_ns + ml_target_ns(t, r.write, r.prio_class);

	/*
	 * Offered again after the programs were replaced: it arrived before,
	 * and its prediction is in its cookie.
	 */
	cookie = ufq_bpf_rq_cookie(rq);
	if ((flags & UFQ_INSERT_REOFFER) && ml_cookie_valid(cookie))
		return ufq_bpf_insert(sched, rq, ML_Q_EDF,
				  ml_key_edf(deadline, ml_cookie_pred_us(cookie)));

	w = model(&gen);
	if (gen != d->model_gen)
		ml_dev_new_model(d, w, gen);
	/* The previous arrival's label: did this one continue it? */
	continued = d->feat.last_arrival_ns && r.sector == d->feat.last_arrival_end;
	ml_seq_learn(&d->clf, continued, t->online_learning);

	r.nr_in_flight = ufq_nr_in_flight(sched);
	r.nr_waiting = sched->nr_waiting;
	ml_arrived(d, t, r.write, r.now_ns);
	ml_features(&d->feat, &r, x);
	ml_predict(d, w, r.write, x, &p);
	if (t->use_classifier)
		seq = ml_seq_classify(&d->clf, x);
	ufq_bpf_rq_set_cookie(rq, ml_cookie(r.write, p.model, p.y, p.pred_us));
	d->inserted++;

	/*
	 * Alone in the scheduler, within the window and (a write) the read
	 * reserve, the request is the one dispatch() would pick next:
	 * dispatch it now and save the call.
	 */
	if (!sched->nr_waiting && !sched->nr_ready &&
	    !(r.write && ml_reserve_holds(t->read_reserve, ufq_device_slots(sched), r.nr_in_flight,
					  r.now_ns, d->reads_until_ns)) &&
	    ml_admit(t, ml_inflight_settle(d, r.nr_in_flight, 0),
		     ml_writes_in_flight(&d->feat, r.nr_in_flight), r.write, p.pred_us) &&
	    !ufq_bpf_direct_dispatch(sched, rq)) {
		ml_dispatched_direct(d, &r, p.pred_us);
		return 0;
	}
	if (seq)
		return ufq_bpf_insert(sched, rq, ML_Q_SEQ, ml_key_seq(r.sector, p.pred_us));
	return ufq_bpf_insert(sched, rq, ML_Q_EDF, ml_key_edf(deadline, p.pred_us));
}

/*
 * Describes in @c the request of @queue at @key (0: the head) or, with
 * UFQ_PEEK_OLDEST, its oldest. Inlined: six arguments.
 */
static __always_inline void peek(struct ufq_sched *sched, u32 queue, u64 key, u64 flags,
				 struct ml_cand *c)
{
	struct ufq_rq_info info = {};

	c->valid = 0;
	if (ufq_bpf_queue_peek(sched, queue, key, flags, &info))
		return;
	c->valid = 1;
	c->key = info.key;
	c->wait_ns = info.wait_ns;
	c->end_sector = ml_end_sector(info.sector, info.bytes);
	c->write = info.flags & UFQ_RQ_WRITE ? 1 : 0;
	c->prio_class = ufq_ioprio_class(info.ioprio);
	c->bytes = info.bytes;
}

/* The view of the queues ml_pick() decides on. */
static void look(struct ufq_sched *sched, struct ml_dev *d, const struct ml_tunables *t,
		 struct ml_scratch *s)
{
	u64 max_wait = (u64)t->max_latency_target_us * ML_NSEC_PER_USEC;
	struct ml_view *v = &s->v;
	u32 in_flight = ufq_nr_in_flight(sched), ready = sched->nr_ready;

	__builtin_memset(v, 0, sizeof(*v));
	v->nr[ML_Q_EDF] = ufq_bpf_queue_nr(sched, ML_Q_EDF);
	v->nr[ML_Q_SEQ] = ufq_bpf_queue_nr(sched, ML_Q_SEQ);
	if (v->nr[ML_Q_EDF]) {
		v->oldest_wait_ns[ML_Q_EDF] = ufq_bpf_queue_oldest_wait_ns(sched, ML_Q_EDF);
		peek(sched, ML_Q_EDF, 0, 0, &v->head);
		if (v->oldest_wait_ns[ML_Q_EDF] >= max_wait)
			peek(sched, ML_Q_EDF, 0, UFQ_PEEK_OLDEST, &v->old[ML_Q_EDF]);
	}
	if (v->nr[ML_Q_SEQ]) {
		v->oldest_wait_ns[ML_Q_SEQ] = ufq_bpf_queue_oldest_wait_ns(sched, ML_Q_SEQ);
		peek(sched, ML_Q_SEQ, 0, UFQ_PEEK_OLDEST, &v->seq_oldest);
		if (v->oldest_wait_ns[ML_Q_SEQ] >= max_wait)
			v->old[ML_Q_SEQ] = v->seq_oldest;
		if (d->batch)
			peek(sched, ML_Q_SEQ, ml_batch_key(d), 0, &v->seq_next);
	}
	v->nr_in_flight = in_flight + ready;
	v->nr_writes = ml_writes_in_flight(&d->feat, v->nr_in_flight);
	v->slots = ufq_device_slots(sched);
	v->write_pred_ns = ml_inflight_settle(d, in_flight, ready);
	v->now_ns = bpf_ktime_get_ns();
}

void UFQ_OP(ml_dispatch, struct ufq_sched *sched)
{
	struct ml_tunables *t = tunables();
	struct ml_dev *d = device(sched);
	struct ml_scratch *s;
	struct ml_choice *c;
	u32 zero = 0, queue;
	bool ok;

	s = bpf_map_lookup_elem(&ml_scratch, &zero);
	if (!t || !d || !s) {
		ufq_bpf_abort(sched, "ml: no state for the device");
		return;
	}
	c = &s->c;
	apply_write_depth(sched, d, t);
	look(sched, d, t, s);
	ml_pick(d, t, &s->v, c);
	if (c->queue < 0) {
		if (c->held) {
			/* ufq runs dispatch() as requests complete; this is in case none does soon */
			if (c->held == 2)
				d->reserve_holds++;
			else
				d->holds++;
			ufq_bpf_kick_after(sched, c->retry_ns);
		}
		return;
	}
	queue = c->queue == ML_Q_SEQ ? ML_Q_SEQ : ML_Q_EDF;
	if (c->from == ML_FROM_OLDEST)
		ok = ufq_bpf_dispatch_oldest(sched, queue);
	else if (c->from == ML_FROM_KEY)
		ok = ufq_bpf_dispatch_from(sched, queue, c->key);
	else
		ok = ufq_bpf_dispatch(sched, queue);
	if (ok)
		ml_dispatched(d, t, c, &s->v);
}

void UFQ_OP(ml_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	struct ml_tunables *t = tunables();
	struct ml_dev *d = device(sched);
	u64 cookie = ufq_bpf_rq_cookie(rq), gen = 0;

	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
	if (!t || !d || !ml_cookie_valid(cookie))
		return;
	/* Requests that other programs dispatched without measuring report 0: no error to count. */
	if (service_ns) {
		model(&gen);
		ufq_sdk_pred_error(sched, ml_cookie_write(cookie) ? UFQ_DIR_WRITE : UFQ_DIR_READ,
				   (u64)ml_cookie_pred_us(cookie) * ML_NSEC_PER_USEC, service_ns,
				   d->model_gen);
	}
	ml_completion(d, t, cookie, service_ns, gen == d->model_gen);
}

/*
 * The driver gave the request back; ufq serves it again from its FIFO,
 * without offering it: its prediction leaves the in-flight sum now, and
 * the cookie says so for completed().
 */
void UFQ_OP(ml_requeue, struct ufq_sched *sched, struct request *rq)
{
	struct ml_dev *d = device(sched);
	u64 cookie = ufq_bpf_rq_cookie(rq);

	if (!d || !ml_cookie_valid(cookie) || ml_cookie_requeued(cookie))
		return;
	ufq_bpf_rq_set_cookie(rq, ml_requeued(d, cookie));
}

UFQ_POLICY(ml,
	.init_dev = (void *)ml_init_dev,
	.exit_dev = (void *)ml_exit_dev,
	.insert = (void *)ml_insert,
	.dispatch = (void *)ml_dispatch,
	.completed = (void *)ml_completed,
	.requeue = (void *)ml_requeue,
);
