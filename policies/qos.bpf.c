// SPDX-License-Identifier: GPL-2.0
/*
 * qos: latency-critical and best-effort tenants (cgroups) over a device
 * cost model, with token buckets and tail-latency feedback. The decisions
 * are in qos.h; this file keeps the state in maps and talks to the kernel.
 *
 * Maps (bpftool map dump name ...):
 *   qos_tenants   the tenants: cgroup id -> class, weight, SLO, reservation
 *                 (ufqctl tenant set/del/list qos ...)
 *   qos_tunables  window, burst, donation, feedback steps (ufqctl set qos ...)
 *   qos_model     the cost model (ufqctl model push qos model.json, made
 *                 by tools/qos/calibrate); built-in defaults before a push
 *   qos_status    each device's budget, spare tokens and slots, at its ufq id
 *   qos_latency   each slot's latency histogram of the current window
 *
 * A request belongs to the nearest cgroup, from its own up to the root,
 * that has an entry in qos_tenants (at most QOS_MAX_DEPTH levels up), or
 * to the default tenant. Its slot is kept in the request's cookie for
 * completed(). Completions are also counted by class for ufqctl stats:
 * 0 the default tenant, 1 BE tenants, 2 LC tenants.
 */
#include "ufq.bpf.h"
#include "ufq_class_stats.bpf.h"
#include "qos.h"

UFQ_LICENSE;

/* What ufqctl tenant set writes; a cgroup's entry applies to its descendants. */
struct qos_tenant {
	enum qos_class class UFQ_TUNABLE(0, 0, 1);		/* be | lc */
	u32 weight UFQ_TUNABLE(100, 1, 10000);			/* be: share of the rest */
	u32 slo_p99_us UFQ_TUNABLE(2000, 50, 10000000);		/* lc: p99 target */
	u32 iops UFQ_TUNABLE(0, 0, 10000000);			/* lc: reserved 4k reads/s */
};

UFQ_TENANTS_MAP(qos_tenants, struct qos_tenant, QOS_MAX_TENANTS);
UFQ_TUNABLES_MAP(qos_tunables, struct qos_tunables);
UFQ_MODEL_MAP(qos_model, struct qos_model);

/* Devices with an id of QOS_MAX_DEVICES or more are refused by init_dev(). */
#define QOS_MAX_DEVICES 16
/* Levels of cgroups searched for a tenant entry, the request's own first. */
#define QOS_MAX_DEPTH 8

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QOS_MAX_DEVICES);
	__type(key, u32);			/* struct ufq_sched.id */
	__type(value, struct qos_dev);
} qos_status SEC(".maps");

/*
 * Latency of each slot's completions since its p99 was last taken:
 * completions add with atomic adds (any CPU, interrupt context); at the end
 * of a window with at least min_samples of them the tick takes the p99 and
 * clears the counts. An add racing the clear is lost to the statistic,
 * never to a request.
 */
struct qos_latency {
	u32 count[QOS_LAT_BUCKETS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QOS_MAX_DEVICES * QOS_NR_SLOTS);
	__type(key, u32);			/* id * QOS_NR_SLOTS + slot */
	__type(value, struct qos_latency);
} qos_latency SEC(".maps");

/* A view of the queues is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct qos_view);
} qos_scratch SEC(".maps");

/* The model before the first push (qos_weights_default()), set by init_dev(). */
struct qos_weights qos_builtin_model;

static struct qos_tunables *tunables(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&qos_tunables, &zero);
}

static struct qos_dev *device(struct ufq_sched *sched)
{
	u32 id = sched->id;

	return bpf_map_lookup_elem(&qos_status, &id);
}

/* The live model and its generation (0: the built-in one). */
static const struct qos_weights *model(u64 *gen)
{
	const struct qos_weights *w = NULL;
	struct qos_model *m;
	u32 zero = 0;

	*gen = 0;
	m = bpf_map_lookup_elem(&qos_model, &zero);
	if (m)
		w = ufq_model_live(m, gen);
	return w ?: &qos_builtin_model;
}

/* A new model resets the budget to its device_viops; the feedback goes on from there. */
static const struct qos_weights *model_for(struct qos_dev *d)
{
	const struct qos_weights *w;
	u64 gen;

	w = model(&gen);
	if (gen != d->model_gen) {
		d->model_gen = gen;
		d->budget = qos_device_rate(w);
		d->reshare = 1;
	}
	return w;
}

/*
 * The tenant of @rq: the nearest cgroup with an entry, walking up from the
 * request's blkcg (through BTF: the request's cgroup is only known while
 * it has bios, i.e. at insert). 0 and the default entry when none has one.
 */
static u64 resolve_tenant(struct request *rq, struct qos_tenant *cfg)
{
	struct cgroup_subsys_state *css;
	struct bio *bio = rq->bio;
	struct qos_tenant *e;
	int level;
	u64 id;

	if (!bio || !bio->bi_blkg)
		return 0;
	css = &bio->bi_blkg->blkcg->css;
	for (level = 0; level < QOS_MAX_DEPTH && css; level++) {
		id = css->cgroup->kn->id;
		e = bpf_map_lookup_elem(&qos_tenants, &id);
		if (e) {
			*cfg = *e;
			return id;
		}
		css = css->parent;
	}
	return 0;
}

static void slot_set_config(struct qos_slot *s, const struct qos_tenant *cfg, u64 cgroup)
{
	qos_slot_configure(s, cgroup, cfg->class, cfg->weight, cfg->slo_p99_us, cfg->iops);
}

s32 UFQ_OP(qos_init_dev, struct ufq_sched *sched)
{
	const struct qos_weights *w;
	struct qos_tunables *t;
	struct qos_dev *d;
	u64 now = bpf_ktime_get_ns(), gen;

	t = ufq_tunables_init(&qos_tunables, qos_tunables_default);
	if (!t)
		return -2;	/* ENOENT (not in vmlinux.h): a one-entry array always has it */
	if (!qos_builtin_model.device_viops)
		qos_weights_default(&qos_builtin_model);
	if (sched->id >= QOS_MAX_DEVICES)
		return -28;	/* ENOSPC (not in vmlinux.h): more devices than entries */
	d = device(sched);
	if (!d)
		return -2;
	/* Bound again, or the programs replaced in place: tenants and budget stay. */
	if (d->dev == sched->dev && d->windows)
		return 0;
	w = model(&gen);
	qos_dev_init(d, w, t, sched->dev, now);
	d->model_gen = gen;
	return 0;
}

struct pick_ctx {
	struct qos_pick_state p;
	const struct qos_view *v;
	u32 mask;		/* slots with requests */
};

static long pick_slot(u32 i, void *data)
{
	struct pick_ctx *ctx = data;

	if (i >= QOS_NR_SLOTS || !(ctx->mask >> i))
		return 1;	/* no busy slot from here on */
	qos_pick_slot(&ctx->p, i, ctx->v->nr[i], ctx->v->oldest_wait_ns[i]);
	return 0;
}

/*
 * qos_pick() over the slots of @mask, the step per slot through bpf_loop():
 * verified once, not per slot, and ending after the last busy slot.
 */
static void pick(struct qos_dev *d, const struct qos_tunables *t, const struct qos_view *v,
		 u32 mask, u64 now, struct qos_choice *c)
{
	struct pick_ctx ctx = { .v = v, .mask = mask };

	qos_pick_begin(&ctx.p, d, t, now);
	bpf_loop(QOS_NR_SLOTS, pick_slot, &ctx, 0);
	qos_pick_end(&ctx.p, c);
}

/* A slot's latency histogram starts over with its new tenant. */
static void clear_latency(u32 id, u32 slot)
{
	u32 key = id * QOS_NR_SLOTS + slot, i;
	struct qos_latency *h;

	h = bpf_map_lookup_elem(&qos_latency, &key);
	if (!h)
		return;
	for (i = 0; i < QOS_LAT_BUCKETS; i++)
		h->count[i] = 0;
}

/*
 * The slot of a tenant on @d: its own, a free one it claims (at the
 * default tenant's rate until the next tick shares the budget out), or
 * the default slot.
 */
static int slot_of(struct ufq_sched *sched, struct qos_dev *d, u64 cgroup,
		   const struct qos_tenant *cfg, u64 now)
{
	int slot = qos_find_slot(d, cgroup);

	if (slot >= 0)
		return slot;
	slot = qos_free_slot(d);
	if (slot <= 0 || slot >= QOS_NR_SLOTS)
		return QOS_DEFAULT_SLOT;	/* every slot taken: the default tenant's rules */
	qos_slot_claim(&d->tenants[slot], cgroup, cfg->class, cfg->weight, cfg->slo_p99_us,
		       cfg->iops, d->tenants[QOS_DEFAULT_SLOT].rate, d->vclock, now);
	clear_latency(sched->id, slot);
	d->reshare = 1;
	return slot;
}

/* The depth the LC reserve keeps some of: one hardware queue's (qos_reserve_holds()). */
static __always_inline u32 device_slots(const struct ufq_sched *sched)
{
	return sched->hw_queue_depth;
}

static u64 rq_cost(struct qos_dev *d, const struct qos_weights *w, u64 flags, u32 bytes)
{
	return qos_cost(w, flags & UFQ_RQ_WRITE, flags & UFQ_RQ_DISCARD, bytes, d->write_weight);
}

/* Writes data: discards and write-zeroes carry the write flag but move no data. */
static bool writes_data(u64 flags)
{
	return (flags & UFQ_RQ_WRITE) && !(flags & UFQ_RQ_DISCARD);
}

s32 UFQ_OP(qos_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct qos_tunables *t = tunables();
	struct qos_dev *d = device(sched);
	struct qos_tenant cfg = { .class = QOS_CLASS_BE, .weight = QOS_DEFAULT_WEIGHT };
	const struct qos_weights *w;
	struct qos_choice c;
	u64 now = bpf_ktime_get_ns(), cgroup, rflags;
	int slot;

	if (!t || !d)
		return ufq_bpf_insert(sched, rq, QOS_DEFAULT_SLOT, now);
	cgroup = resolve_tenant(rq, &cfg);
	slot = slot_of(sched, d, cgroup, &cfg, now) & (QOS_NR_SLOTS - 1);
	ufq_bpf_rq_set_cookie(rq, QOS_COOKIE(slot, d->tenants[slot].gen));
	if (!ufq_bpf_queue_nr(sched, slot))
		qos_wake(d, slot, now);
	else
		qos_touch(d, &d->tenants[slot], now);
	d->busy_mask |= 1U << slot;

	/* Nothing else waits: dispatch now if the tenant may go, saving a dispatch() call. */
	if (!sched->nr_waiting && !sched->nr_ready) {
		w = model_for(d);
		qos_pick_alone(d, t, slot, now, &c);
		if (c.slot == slot &&
		    !qos_reserve_holds(d, t, &c, device_slots(sched), ufq_nr_in_flight(sched), now) &&
		    !ufq_bpf_direct_dispatch(sched, rq)) {
			rflags = ufq_bpf_rq_flags(rq);
			qos_charge(d, t, &c, rq_cost(d, w, rflags, ufq_bpf_rq_bytes(rq)),
				   writes_data(rflags), ufq_bpf_rq_bytes(rq), now);
			return 0;
		}
	}
	/* In arrival order within the tenant. */
	return ufq_bpf_insert(sched, rq, slot, now);
}

void UFQ_OP(qos_dispatch, struct ufq_sched *sched)
{
	struct qos_tunables *t = tunables();
	struct qos_dev *d = device(sched);
	struct ufq_rq_info info = {};
	const struct qos_weights *w;
	u64 now = bpf_ktime_get_ns();
	struct qos_choice c;
	struct qos_view *v;
	u32 zero = 0, i, mask;

	v = bpf_map_lookup_elem(&qos_scratch, &zero);
	if (!t || !d || !v) {
		ufq_bpf_abort(sched, "qos: no state for the device");
		return;
	}
	mask = d->busy_mask;
	for (i = 0; i < QOS_NR_SLOTS; i++) {
		v->nr[i] = mask & (1U << i) ? ufq_bpf_queue_nr(sched, i) : 0;
		v->oldest_wait_ns[i] = v->nr[i] ? ufq_bpf_queue_oldest_wait_ns(sched, i) : 0;
		if (!v->nr[i])
			mask &= ~(1U << i);	/* emptied by dispatch or merges */
	}
	d->busy_mask = mask;
	w = model_for(d);
	pick(d, t, v, mask, now, &c);
	if (c.slot < 0) {
		if (c.retry_ns) {
			ufq_bpf_kick_after(sched, c.retry_ns);
			d->kicks++;
		}
		return;
	}
	if (qos_reserve_holds(d, t, &c, device_slots(sched), ufq_nr_in_flight(sched), now)) {
		/* ufq runs dispatch() as requests complete; this in case none does soon */
		d->reserve_holds++;
		ufq_bpf_kick_after(sched, qos_burst_ns(t));
		return;
	}
	i = (u32)c.slot & (QOS_NR_SLOTS - 1);
	if (ufq_bpf_queue_peek(sched, i, 0, 0, &info))
		return;
	if (!ufq_bpf_dispatch(sched, i))
		return;
	qos_charge(d, t, &c, rq_cost(d, w, info.flags, info.bytes), writes_data(info.flags),
		   info.bytes, now);
}

void UFQ_OP(qos_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	u64 cookie = ufq_bpf_rq_cookie(rq), ns = wait_ns + service_ns;
	struct qos_dev *d = device(sched);
	struct qos_latency *h;
	struct qos_slot *s;
	u32 key, b, cls = 0;
	int slot;

	if (d && QOS_COOKIE_VALID(cookie)) {
		slot = QOS_COOKIE_SLOT(cookie) & (QOS_NR_SLOTS - 1);
		s = &d->tenants[slot];
		/* A request of the slot's previous tenant counts for nobody. */
		if ((s->gen & 0xff) == QOS_COOKIE_GEN(cookie)) {
			cls = slot == QOS_DEFAULT_SLOT ? 0 : s->cls == QOS_CLASS_LC ? 2 : 1;
			qos_touch(d, s, bpf_ktime_get_ns());
			key = sched->id * QOS_NR_SLOTS + slot;
			h = bpf_map_lookup_elem(&qos_latency, &key);
			b = qos_lat_bucket(ns);
			barrier_var(b);		/* keep the bounds check on what indexes */
			if (h && b < QOS_LAT_BUCKETS)
				__sync_fetch_and_add(&h->count[b], 1);
		}
	}
	ufq_sdk_completed_class(sched, rq, wait_ns, service_ns, cls);
}

struct window_ctx {
	struct ufq_sched *sched;
	struct qos_dev *d;
	struct qos_judgement j;
	u64 now;
	u64 window_ns;
	u32 busy;
	u32 min_samples;
};

/*
 * One slot at the end of a window: its p99 from its histogram, judged
 * against its target; whether it had I/O in the window.
 */
static long window_slot(u32 slot, void *data)
{
	struct window_ctx *ctx = data;
	struct qos_latency *h;
	struct qos_slot *s;
	u32 key, i;

	if (slot >= QOS_NR_SLOTS)
		return 1;
	s = &ctx->d->tenants[slot];
	key = ctx->sched->id * QOS_NR_SLOTS + slot;
	h = bpf_map_lookup_elem(&qos_latency, &key);
	if (!h)
		return 1;
	/*
	 * Too few for a p99 (a window of 100 requests has none): judged at a
	 * later window; p99_us keeps the last one taken.
	 */
	if (qos_lat_total(h->count) >= ctx->min_samples) {
		s->p99_us = qos_p99_us(h->count);
		for (i = 0; i < QOS_LAT_BUCKETS; i++)
			h->count[i] = 0;
		qos_judge_slot(&ctx->j, s);
	}
	if (ufq_bpf_queue_nr(ctx->sched, slot) || qos_within(ctx->now, s->last_active_ns, ctx->window_ns))
		ctx->busy |= 1U << slot;
	return 0;
}

static long share_lc(u32 i, void *data)
{
	qos_share_lc(data, i);
	return 0;
}

static long share_weigh(u32 i, void *data)
{
	qos_share_weigh(data, i);
	return 0;
}

static long share_be(u32 i, void *data)
{
	qos_share_be(data, i);
	return 0;
}

static long reset_window(u32 i, void *data)
{
	struct qos_share_state *st = data;

	if (i >= QOS_NR_SLOTS)
		return 1;
	st->d->tenants[i].window_charged = 0;
	return 0;
}

/*
 * qos_allocate(), each pass a bpf_loop(); at the end of a window
 * (@window_end) the slots' window counts start over
 * (qos_window_reset_slots()).
 */
static void share(struct qos_dev *d, const struct qos_tunables *t, u32 busy, u64 window_ns,
		  bool window_end)
{
	struct qos_share_state st;

	qos_share_begin(&st, d, t, busy, window_ns);
	bpf_loop(QOS_NR_SLOTS, share_lc, &st, 0);
	bpf_loop(QOS_NR_SLOTS, share_weigh, &st, 0);
	qos_share_rest(&st);
	bpf_loop(QOS_NR_SLOTS, share_be, &st, 0);
	if (window_end)
		bpf_loop(QOS_NR_SLOTS, reset_window, &st, 0);
	d->reshare = 0;
}

struct tick_ctx {
	struct ufq_sched *sched;
	struct qos_dev *d;
	const struct qos_tunables *t;
	u64 now;
	u64 window_ns;
};

/* One slot's tick: its tenant's entry read again, its bucket refilled. */
static long tick_slot(u32 i, void *data)
{
	struct tick_ctx *ctx = data;
	struct qos_tenant *cfg;
	struct qos_slot *s;

	if (i >= QOS_NR_SLOTS)
		return 1;
	s = &ctx->d->tenants[i];
	if (i != QOS_DEFAULT_SLOT) {
		if (!s->cgroup)
			return 0;
		cfg = bpf_map_lookup_elem(&qos_tenants, &s->cgroup);
		if (cfg) {
			slot_set_config(s, cfg, s->cgroup);
		} else if (!ufq_bpf_queue_nr(ctx->sched, i) &&
			   !qos_within(ctx->now, s->last_active_ns, ctx->window_ns)) {
			s->cgroup = 0;		/* free; the next tenant bumps gen */
			return 0;
		} else {
			qos_slot_configure(s, s->cgroup, QOS_CLASS_BE, ctx->t->default_weight, 0, 0);
		}
	}
	qos_refill(ctx->d, s, ctx->t, ctx->now);
	return 0;
}

/*
 * qos_window_end() as a global function: the verifier checks its branches
 * once, not once for each path of qos_tick() into the sharing loops after
 * it (inlined, they took qos_tick past the million instructions).
 */
__noinline int qos_feedback(struct qos_dev *d, struct qos_judgement *j,
			    const struct qos_weights *w, const struct qos_tunables *t, u64 elapsed)
{
	if (!d || !j || !w || !t)
		return QOS_HOLD;
	return qos_window_end(d, j, w, t, elapsed);
}

/*
 * Every 10 ms: tenants' entries read again (a change applies within a
 * tick; a slot whose entry is gone serves out its queue under the default
 * tenant's rules, then is freed), buckets refilled so that idle ones
 * donate, and once per window the feedback and a new share of the budget.
 */
void UFQ_OP(qos_tick, struct ufq_sched *sched)
{
	struct qos_tunables *t = tunables();
	struct qos_dev *d = device(sched);
	struct window_ctx wctx;
	struct tick_ctx tctx;
	const struct qos_weights *w;
	u64 now = bpf_ktime_get_ns(), window_ns, elapsed;

	if (!t || !d)
		return;
	w = model_for(d);
	window_ns = qos_window_ns(t);
	d->tenants[QOS_DEFAULT_SLOT].weight = t->default_weight ?: 1;
	tctx.sched = sched;
	tctx.d = d;
	tctx.t = t;
	tctx.now = now;
	tctx.window_ns = window_ns;
	bpf_loop(QOS_NR_SLOTS, tick_slot, &tctx, 0);

	elapsed = now - d->window_start_ns;
	if (elapsed < window_ns) {
		if (d->reshare)		/* a slot changed hands: share the budget now */
			share(d, t, d->busy_mask, window_ns, false);
		return;
	}
	wctx.sched = sched;
	wctx.d = d;
	wctx.now = now;
	wctx.window_ns = window_ns;
	wctx.busy = 0;
	wctx.min_samples = t->min_samples;
	qos_judge_begin(&wctx.j);
	bpf_loop(QOS_NR_SLOTS, window_slot, &wctx, 0);
	qos_feedback(d, &wctx.j, w, t, elapsed);
	share(d, t, wctx.busy, elapsed, true);
	d->window_start_ns = now;
}

/*
 * Merges stay within a cgroup: a bio of another cgroup merged into a
 * waiting request would be served at that request's tenant's priority and
 * charged to it.
 */
bool UFQ_OP(qos_allow_merge, struct ufq_sched *sched, struct request *rq, struct bio *bio)
{
	struct bio *first = rq->bio;

	return !first || first->bi_blkg == bio->bi_blkg;
}

UFQ_POLICY(qos,
	.init_dev = (void *)qos_init_dev,
	.insert = (void *)qos_insert,
	.dispatch = (void *)qos_dispatch,
	.completed = (void *)qos_completed,
	.allow_merge = (void *)qos_allow_merge,
	.tick = (void *)qos_tick,
	.tick_ms = 10,
);
