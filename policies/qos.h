/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qos: multi-tenant isolation over a device cost model, after ZQoS and
 * ReFlex (ASPLOS'17). The decision core, in plain C: policies/qos.bpf.c
 * compiles it as BPF, tests/unit/qos_test.cpp natively.
 *
 * Tenants are cgroups, each in a slot of the device: slot i is kernel
 * queue i. Slot 0 is the default best-effort tenant (every cgroup without
 * an entry of its own, and any tenant past the 31 slots). A latency-
 * critical (LC) tenant has a p99 target (slo_p99_us) and optionally a
 * reserved rate (iops); a best-effort (BE) tenant a weight.
 *
 * Every request costs VIO, in Q10 fixed point: QOS_VIO (1024) is one 4 KiB
 * random read; the model (struct qos_weights, pushed by `ufqctl model
 * push`, calibrated by tools/qos/calibrate) gives the cost of each
 * direction and size bucket, and raises the cost of writes while they are
 * sustained (flash's garbage collection). The device has a budget in VIO
 * per second. LC tenants get their reserved rates; BE tenants share the
 * rest by weight. Each slot has a token bucket filled at its rate; what
 * overflows a full bucket is partly donated to a device-wide spare bucket
 * that any waiting tenant may draw from.
 *
 * Dispatch: a request that waited max_wait_ms goes first, whatever its
 * tenant's tokens, one per burst_ms (no tenant starves, whatever its
 * rate, and a throttled backlog does not flood the device); then LC tenants
 * with tokens, or without a reservation (oldest request first); then the
 * tenant with tokens and the smallest weighted virtual time; then one paid
 * from the spare bucket; with no LC tenant active, BE tenants are not held
 * back at all (work conservation). Otherwise nothing is dispatched and
 * dispatch runs again when the first bucket turns positive.
 *
 * Feedback, once per window: an LC tenant whose p99 exceeded its target
 * cuts the budget at once (by a quarter, or to the model's safe point for
 * that target, but never below half); every LC tenant under 3/4 of its
 * target with the budget at least util_raise_pct used raises it by
 * raise_pct. The budget stays between min_budget_pct of the model's
 * device_viops and twice device_viops.
 *
 * All arithmetic is on u64 with every product bounded: rates at most
 * QOS_MAX_RATE, times at most QOS_MAX_REFILL_NS, costs at most
 * QOS_MAX_COST, weights at most QOS_MAX_WEIGHT; inputs that ufqctl
 * range-checks are clamped here too, for writers that bypass it (bpftool).
 */
#ifndef UFQ_POLICY_QOS_H
#define UFQ_POLICY_QOS_H

#include "ufq/btf_tags.h"
#include "ufq/latency.h"
#include "ufq/model.h"
#include "ufq/types.h"

#define QOS_NR_SLOTS 32			/* one per kernel queue (UFQ_NR_QUEUES) */
#define QOS_DEFAULT_SLOT 0
#define QOS_MAX_TENANTS (QOS_NR_SLOTS - 1)
#define QOS_VIO 1024ULL			/* one 4 KiB random read, Q10 */
#define QOS_NSEC_PER_SEC 1000000000ULL
/* Rates (VIO Q10 per second) and elapsed times are clamped so that rate * time fits u64. */
#define QOS_MAX_RATE (100000000ULL * QOS_VIO)
#define QOS_MAX_REFILL_NS 100000000ULL	/* 100 ms */
#define QOS_MAX_COST (1ULL << 40)
#define QOS_MAX_WEIGHT 10000
#define QOS_MAX_VIOPS 100000000U

/* Inlined in BPF: some take more than the five arguments a BPF call can. */
#ifdef __bpf__
#define QOS_INLINE static __always_inline
#else
#define QOS_INLINE static inline
#endif

enum qos_class { QOS_CLASS_BE = 0, QOS_CLASS_LC = 1 };

/* ---- cost model -------------------------------------------------------------- */

#define QOS_NR_SIZES 6			/* <=4k, <=8k, <=16k, <=32k, <=64k, >64k */
#define QOS_LAST_SIZE_BYTES (128U << 10) /* the last bucket's cost is for 128k */
#define QOS_CURVE_POINTS 8

struct qos_weights {
	/* VIO cost of a read of each size bucket, Q10: read_cost[0] is 1024 */
	u32 read_cost[QOS_NR_SIZES] UFQ_RANGE(1, 16777216);
	/* the same for writes, before the sustained-write factor */
	u32 write_cost[QOS_NR_SIZES] UFQ_RANGE(1, 16777216);
	/* Q10 factor on write costs when writes are sustained at write_ramp_mib */
	u32 write_weight_max UFQ_RANGE(1024, 16384);
	/* MiB/s of writes at which that factor is reached (linear below) */
	u32 write_ramp_mib UFQ_RANGE(1, 1048576);
	/* 4k-read equivalents per second the device sustains */
	u32 device_viops UFQ_RANGE(1, 100000000);
	/* a 4k random read's p99 (curve_p99_us) at each load (curve_viops, ascending; 0 unused) */
	u32 curve_viops[QOS_CURVE_POINTS] UFQ_RANGE(0, 100000000);
	u32 curve_p99_us[QOS_CURVE_POINTS] UFQ_RANGE(0, 100000000);
};

UFQ_MODEL_STRUCT(qos_model, struct qos_weights);

/*
 * Before the first push: a flash device of 100k 4k reads per second, on
 * which cost grows with size, a write costs two reads, and sustained
 * writes of 256 MiB/s double that. No curve: cuts are by a quarter.
 */
QOS_INLINE void qos_weights_default(struct qos_weights *w)
{
	static const u32 rd[QOS_NR_SIZES] = { 1024, 1280, 1792, 2816, 4864, 8960 };
	int i;

	for (i = 0; i < QOS_NR_SIZES; i++) {
		w->read_cost[i] = rd[i];
		w->write_cost[i] = 2 * rd[i];
	}
	w->write_weight_max = 2048;
	w->write_ramp_mib = 256;
	w->device_viops = 100000;
	for (i = 0; i < QOS_CURVE_POINTS; i++) {
		w->curve_viops[i] = 0;
		w->curve_p99_us[i] = 0;
	}
}

QOS_INLINE u32 qos_size_bucket(u32 bytes)
{
	if (bytes <= 4096)
		return 0;
	if (bytes <= 8192)
		return 1;
	if (bytes <= 16384)
		return 2;
	if (bytes <= 32768)
		return 3;
	if (bytes <= 65536)
		return 4;
	return 5;
}

/*
 * Cost in VIO Q10 of a request of @bytes; @write_weight (Q10) applies to
 * writes. Discards cost a 4k write: their size says nothing of the work.
 * Past 128k the last bucket's cost scales with the size.
 */
QOS_INLINE u64 qos_cost(const struct qos_weights *w, bool write, bool discard, u32 bytes,
			   u32 write_weight)
{
	u32 b = discard ? 0 : qos_size_bucket(bytes);
	u64 cost = write || discard ? w->write_cost[b] : w->read_cost[b];

	if (write || discard)
		cost = cost * (write_weight < 16384 ? write_weight : 16384) >> 10; /* < 2^24 * 2^14 */
	if (b == QOS_NR_SIZES - 1 && bytes > QOS_LAST_SIZE_BYTES)
		cost = cost * (((u64)bytes + QOS_LAST_SIZE_BYTES - 1) / QOS_LAST_SIZE_BYTES);
	if (cost < 1)
		cost = 1;
	return cost < QOS_MAX_COST ? cost : QOS_MAX_COST;
}

/* The write factor (Q10) for writes of @bytes over @window_ns. */
QOS_INLINE u32 qos_write_weight(const struct qos_weights *w, u64 bytes, u64 window_ns)
{
	u64 mib_s, ramp = w->write_ramp_mib ? w->write_ramp_mib : 1;

	if (!window_ns)
		return 1024;
	if (bytes > (1ULL << 44))	/* 16 TiB in a window: keeps bytes * 1e9 in u64 below */
		bytes = 1ULL << 44;
	if (window_ns < 1000000)
		window_ns = 1000000;
	/* KiB < 2^34, times 10^6 < 2^20 */
	mib_s = (bytes >> 10) * 1000000 / (window_ns / 1000) >> 10;
	if (w->write_weight_max <= 1024)
		return 1024;
	if (mib_s >= ramp)
		return w->write_weight_max < 16384 ? w->write_weight_max : 16384;
	return 1024 + (u32)((u64)(w->write_weight_max - 1024) * mib_s / ramp);
}

/*
 * The highest load of the model's curve at which a 4k read's p99 is within
 * @slo_us, in VIO Q10 per second; 0 when the curve has no such point.
 */
QOS_INLINE u64 qos_safe_point(const struct qos_weights *w, u32 slo_us)
{
	u64 best = 0;
	int i;

	for (i = 0; i < QOS_CURVE_POINTS; i++) {
		if (!w->curve_viops[i] || !w->curve_p99_us[i])
			continue;
		if (w->curve_p99_us[i] <= slo_us && w->curve_viops[i] * QOS_VIO > best)
			best = w->curve_viops[i] * QOS_VIO;
	}
	return best;
}

/* ---- tunables ----------------------------------------------------------------- */

#define QOS_DEFAULT_WINDOW_MS 100
#define QOS_DEFAULT_BURST_MS 10
#define QOS_DEFAULT_DONATE_PCT 90
#define QOS_DEFAULT_UTIL_RAISE_PCT 90
#define QOS_DEFAULT_RAISE_PCT 5
#define QOS_DEFAULT_MIN_BUDGET_PCT 10
#define QOS_DEFAULT_WEIGHT 100
#define QOS_DEFAULT_BE_MIN_PCT 10
#define QOS_DEFAULT_MIN_SAMPLES 200
#define QOS_DEFAULT_MAX_WAIT_MS 1000
#define QOS_DEFAULT_FUTILE_CUTS 3
#define QOS_DEFAULT_LC_RESERVE 1
#define QOS_FUTILE_BACKOFF_MIN 10	/* windows */
#define QOS_FUTILE_BACKOFF_MAX 160	/* windows */

struct qos_tunables {
	/* feedback window: LC p99s measured and the budget adjusted once per window */
	u32 window_ms UFQ_TUNABLE(QOS_DEFAULT_WINDOW_MS, 10, 10000);
	/* depth of each token bucket, in milliseconds of its rate */
	u32 burst_ms UFQ_TUNABLE(QOS_DEFAULT_BURST_MS, 1, 1000);
	/* percent of a full bucket's overflow given to the spare bucket */
	u32 donate_pct UFQ_TUNABLE(QOS_DEFAULT_DONATE_PCT, 0, 100);
	/* the budget rises only when at least this percent of it was used */
	u32 util_raise_pct UFQ_TUNABLE(QOS_DEFAULT_UTIL_RAISE_PCT, 10, 100);
	/* step of a raise, percent of the budget */
	u32 raise_pct UFQ_TUNABLE(QOS_DEFAULT_RAISE_PCT, 1, 50);
	/* the budget never goes below this percent of the model's device_viops */
	u32 min_budget_pct UFQ_TUNABLE(QOS_DEFAULT_MIN_BUDGET_PCT, 1, 100);
	/* weight of the default tenant (cgroups without an entry) */
	u32 default_weight UFQ_TUNABLE(QOS_DEFAULT_WEIGHT, 1, 10000);
	/* BE tenants together get at least this percent of the budget, whatever LC reserves */
	u32 be_min_pct UFQ_TUNABLE(QOS_DEFAULT_BE_MIN_PCT, 0, 100);
	/* completions an LC tenant's p99 is taken from; fewer wait for the next window */
	u32 min_samples UFQ_TUNABLE(QOS_DEFAULT_MIN_SAMPLES, 1, 1000000);
	/* a request that waited this long goes first, tokens or not (below the watchdog's 10 s) */
	u32 max_wait_ms UFQ_TUNABLE(QOS_DEFAULT_MAX_WAIT_MS, 10, 5000);
	/*
	 * cuts in a row after which a miss that has not shrunk by a histogram
	 * bucket (1/8) undoes them and stops cutting for a while (0: never)
	 */
	u32 futile_cuts UFQ_TUNABLE(QOS_DEFAULT_FUTILE_CUTS, 0, 100);
	/*
	 * hardware tags of the device a BE request leaves free while an LC
	 * tenant runs (qos_reserve_holds(); 0: none)
	 */
	u32 lc_reserve UFQ_TUNABLE(QOS_DEFAULT_LC_RESERVE, 0, 1024);
};

QOS_INLINE void qos_tunables_default(struct qos_tunables *t)
{
	t->window_ms = QOS_DEFAULT_WINDOW_MS;
	t->burst_ms = QOS_DEFAULT_BURST_MS;
	t->donate_pct = QOS_DEFAULT_DONATE_PCT;
	t->util_raise_pct = QOS_DEFAULT_UTIL_RAISE_PCT;
	t->raise_pct = QOS_DEFAULT_RAISE_PCT;
	t->min_budget_pct = QOS_DEFAULT_MIN_BUDGET_PCT;
	t->default_weight = QOS_DEFAULT_WEIGHT;
	t->be_min_pct = QOS_DEFAULT_BE_MIN_PCT;
	t->min_samples = QOS_DEFAULT_MIN_SAMPLES;
	t->max_wait_ms = QOS_DEFAULT_MAX_WAIT_MS;
	t->futile_cuts = QOS_DEFAULT_FUTILE_CUTS;
	t->lc_reserve = QOS_DEFAULT_LC_RESERVE;
}

/* Window, burst and wait in ns, never 0 whatever was written into the map. */
QOS_INLINE u64 qos_window_ns(const struct qos_tunables *t)
{
	return (u64)(t->window_ms ? t->window_ms : 1) * 1000000;
}

QOS_INLINE u64 qos_burst_ns(const struct qos_tunables *t)
{
	return (u64)(t->burst_ms ? t->burst_ms : 1) * 1000000;
}

/* Whether @t (a clock read, maybe on another CPU, maybe after @now) is within @span before @now. */
QOS_INLINE bool qos_within(u64 now, u64 t, u64 span)
{
	return (s64)(now - t) < (s64)span;
}

/* ---- device and tenant state ------------------------------------------------ */

/*
 * A slot: one tenant's bucket and figures on one device. cgroup is the
 * tenant's cgroup id (0: free, and always for the default slot); ufqctl
 * tenant list shows the slot whose cgroup is the tenant's.
 */
struct qos_slot {
	u64 cgroup;
	u32 cls;		/* enum qos_class */
	u32 weight;
	u32 slo_p99_us;
	u32 iops;		/* reserved, LC only; 0: none */
	s64 tokens;		/* VIO Q10; negative after a request larger than what was left */
	u64 rate;		/* VIO Q10 per second */
	u64 vtime;		/* VIO Q10 served, scaled by QOS_DEFAULT_WEIGHT / weight */
	u64 last_refill_ns;
	u64 last_active_ns;	/* last insert or completion */
	u64 throttled_since_ns;	/* waiting without tokens since; 0: not */
	u64 throttled_ms;
	u64 dispatched;
	u64 charged_vio;	/* VIO (not Q10) charged so far */
	u64 window_charged;	/* VIO Q10 this window */
	u32 p99_us;		/* the last one taken (min_samples completions); 0: none yet */
	u32 gen;		/* bumped when the slot changes tenant */
	u32 window_throttled;	/* waited on its own reservation since its p99 was last judged */
	u32 reserved;
};

struct qos_dev {
	u64 dev;		/* struct ufq_sched.dev of the device */
	u64 budget;		/* VIO Q10 per second */
	u64 spare;		/* donated tokens, VIO Q10 */
	u64 vclock;		/* vtime of the last BE pick: where a newly busy tenant starts */
	u64 window_start_ns;
	u64 window_used;	/* VIO Q10 charged this window */
	u64 window_write_bytes;
	u32 write_weight;	/* Q10, from the last window's writes */
	u32 busy_mask;		/* slots that may have requests waiting */
	u32 reshare;		/* a slot changed tenant: share the budget at the next tick */
	u32 pad;
	u64 model_gen;		/* model generation the budget started from */
	u64 cuts;
	u64 raises;
	u64 holds;
	u64 kicks;		/* dispatch() calls that held every waiting tenant back */
	u64 aged_ns;		/* last dispatch of a request past max_wait_ms */
	u64 aged;		/* such dispatches */
	u64 lc_last_active_ns;	/* last insert or completion of an LC tenant */
	u64 windows;
	/* cuts that did not help (qos_window_end()) */
	u64 streak_budget;	/* the budget before the cuts since the last checkpoint */
	u32 streak_miss_pm;	/* the worst miss then, per mille of its target */
	u32 streak_cuts;	/* cuts since then */
	u32 futile_backoff;	/* windows the last futile streak stopped the cuts for */
	u32 futile_left;	/* windows in which a miss still cuts nothing */
	u64 futile;		/* streaks of cuts found futile and undone */
	u64 reserve_holds;	/* dispatches of BE requests held for the LC reserve */
	struct qos_slot tenants[QOS_NR_SLOTS];
};

/* Bounds of the budget, VIO Q10 per second. */
QOS_INLINE u64 qos_device_rate(const struct qos_weights *w)
{
	u32 v = w->device_viops < QOS_MAX_VIOPS ? w->device_viops : QOS_MAX_VIOPS;

	return (v ? v : 1) * QOS_VIO;
}

QOS_INLINE u64 qos_budget_floor(const struct qos_weights *w, const struct qos_tunables *t)
{
	u32 pct = t->min_budget_pct < 100 ? t->min_budget_pct : 100;
	u64 f = qos_device_rate(w) / 100 * pct;

	return f ? f : QOS_VIO;
}

QOS_INLINE u64 qos_budget_ceiling(const struct qos_weights *w)
{
	u64 c = 2 * qos_device_rate(w);

	return c < QOS_MAX_RATE ? c : QOS_MAX_RATE;
}

/*
 * A slot from zero, generation aside. Field by field: BPF cannot memset
 * more than a few words, and struct qos_dev is kilobytes.
 */
QOS_INLINE void qos_slot_reset(struct qos_slot *s, u64 now)
{
	s->cgroup = 0;
	s->cls = QOS_CLASS_BE;
	s->weight = QOS_DEFAULT_WEIGHT;
	s->slo_p99_us = 0;
	s->iops = 0;
	s->tokens = 0;
	s->rate = 0;
	s->vtime = 0;
	s->last_refill_ns = now;
	s->last_active_ns = 0;
	s->throttled_since_ns = 0;
	s->throttled_ms = 0;
	s->dispatched = 0;
	s->charged_vio = 0;
	s->window_charged = 0;
	s->window_throttled = 0;
	s->p99_us = 0;
}

QOS_INLINE void qos_dev_init(struct qos_dev *d, const struct qos_weights *w,
				const struct qos_tunables *t, u64 dev, u64 now)
{
	int i;

	d->spare = 0;
	d->vclock = 0;
	d->window_used = 0;
	d->window_write_bytes = 0;
	d->busy_mask = 0;
	d->reshare = 0;
	d->model_gen = 0;
	d->cuts = 0;
	d->raises = 0;
	d->holds = 0;
	d->kicks = 0;
	d->aged_ns = 0;
	d->aged = 0;
	d->lc_last_active_ns = 0;
	d->windows = 0;
	d->streak_budget = 0;
	d->streak_miss_pm = 0;
	d->streak_cuts = 0;
	d->futile_backoff = 0;
	d->futile_left = 0;
	d->futile = 0;
	d->reserve_holds = 0;
	for (i = 0; i < QOS_NR_SLOTS; i++) {
		qos_slot_reset(&d->tenants[i], now);
		d->tenants[i].gen = 0;
	}
	d->dev = dev;
	d->budget = qos_device_rate(w);
	d->window_start_ns = now;
	d->write_weight = 1024;
	d->tenants[QOS_DEFAULT_SLOT].cls = QOS_CLASS_BE;
	d->tenants[QOS_DEFAULT_SLOT].weight = t->default_weight ? t->default_weight : 1;
	/* the whole budget until the first tick shares it out */
	d->tenants[QOS_DEFAULT_SLOT].rate = d->budget;
	d->reshare = 1;
}

/* A tenant's configuration, as the slot keeps it. */
QOS_INLINE void qos_slot_configure(struct qos_slot *s, u64 cgroup, u32 cls, u32 weight,
				      u32 slo_p99_us, u32 iops)
{
	s->cgroup = cgroup;
	s->cls = cls == QOS_CLASS_LC ? QOS_CLASS_LC : QOS_CLASS_BE;
	s->weight = weight < 1 ? 1 : weight > QOS_MAX_WEIGHT ? QOS_MAX_WEIGHT : weight;
	s->slo_p99_us = slo_p99_us;
	s->iops = s->cls == QOS_CLASS_LC ? iops : 0;
}

/*
 * Give a slot to a new tenant: figures from zero, a bucket with one 4k
 * read in it, filling at @rate (the default tenant's, say) until the next
 * share of the budget (the caller sets d->reshare), so that the tenant is
 * not held back meanwhile.
 */
QOS_INLINE void qos_slot_claim(struct qos_slot *s, u64 cgroup, u32 cls, u32 weight,
				  u32 slo_p99_us, u32 iops, u64 rate, u64 vclock, u64 now)
{
	qos_slot_reset(s, now);
	qos_slot_configure(s, cgroup, cls, weight, slo_p99_us, iops);
	s->gen++;
	s->rate = rate < QOS_MAX_RATE ? rate : QOS_MAX_RATE;
	s->tokens = (s64)QOS_VIO;
	s->vtime = vclock;
	s->last_active_ns = now;
}

/*
 * The slot of tenant @cgroup on @d, or -1 (then the caller claims one with
 * qos_free_slot(), or uses the default slot). @cgroup 0 is the default.
 */
QOS_INLINE int qos_find_slot(const struct qos_dev *d, u64 cgroup)
{
	int i;

	if (!cgroup)
		return QOS_DEFAULT_SLOT;
	for (i = 1; i < QOS_NR_SLOTS; i++)
		if (d->tenants[i].cgroup == cgroup)
			return i;
	return -1;
}

/* A free slot, or -1: every slot holds a tenant. */
QOS_INLINE int qos_free_slot(const struct qos_dev *d)
{
	int i;

	for (i = 1; i < QOS_NR_SLOTS; i++)
		if (!d->tenants[i].cgroup)
			return i;
	return -1;
}

/*
 * Slot @s (of tenant class LC or BE) had I/O at @now: an insert or a
 * completion. LC I/O within the last window holds BE tenants to their
 * buckets; without it they run free (qos_pick_end()).
 */
QOS_INLINE void qos_touch(struct qos_dev *d, struct qos_slot *s, u64 now)
{
	s->last_active_ns = now;
	if (s->cls == QOS_CLASS_LC && s->cgroup)
		d->lc_last_active_ns = now;
}

/*
 * Shares out the budget: each LC tenant its reserved rate (one without a
 * reservation its last window's use, so BE tenants get what it leaves),
 * the BE tenants the rest by weight. Bit i of @busy: slot i had I/O in the
 * last window (an idle BE tenant is given the rate it would get if it
 * joined). Three passes over the slots, each a step per slot so that BPF
 * can run it with bpf_loop(): qos_share_lc(), qos_share_weigh(), then
 * qos_share_be() after qos_share_rest(). qos_allocate() does it all.
 */
struct qos_share_state {
	struct qos_dev *d;
	u32 busy;
	u32 be_min_pct;
	u64 window_ns;
	u64 lc;			/* reserved for busy LC tenants */
	u64 weights;		/* of busy BE tenants */
	u64 rest;		/* what BE tenants share */
};

QOS_INLINE bool qos_slot_in_use(const struct qos_slot *s, u32 i)
{
	return s->cgroup || i == QOS_DEFAULT_SLOT;
}

QOS_INLINE void qos_share_lc(struct qos_share_state *st, u32 i)
{
	struct qos_slot *s;
	u64 used;

	if (i >= QOS_NR_SLOTS)
		return;
	s = &st->d->tenants[i];
	if (s->cls != QOS_CLASS_LC || !qos_slot_in_use(s, i))
		return;
	/* charged is clamped to 2^43 VIO Q10 (more than 10 s of QOS_MAX_RATE) before * 10^6 */
	used = st->window_ns >= 1000 ? (s->window_charged < (1ULL << 43) ? s->window_charged :
					(1ULL << 43)) * 1000000 / (st->window_ns / 1000) : 0;
	/*
	 * A reservation is not cut with the budget: cuts are there to hold BE
	 * tenants back for the LC ones, and an LC tenant held to less than it
	 * reserved would miss its target for that alone, and cut again.
	 */
	s->rate = s->iops ? (u64)s->iops * QOS_VIO : used;
	if (s->rate > QOS_MAX_RATE)
		s->rate = QOS_MAX_RATE;
	/*
	 * BE tenants share what LC tenants leave: a reservation counts as far
	 * as it was used, with a quarter of headroom; the rest of it still
	 * fills the LC bucket and overflows into the spare bucket.
	 */
	if (st->busy & (1U << i))
		st->lc += s->rate < used + used / 4 ? s->rate : used + used / 4;
}

QOS_INLINE void qos_share_weigh(struct qos_share_state *st, u32 i)
{
	const struct qos_slot *s;

	if (i >= QOS_NR_SLOTS)
		return;
	s = &st->d->tenants[i];
	if (s->cls == QOS_CLASS_BE && qos_slot_in_use(s, i) && (st->busy & (1U << i)))
		st->weights += s->weight;
}

/*
 * What BE tenants share, at least be_min_pct of the budget: reservations
 * beyond the budget (a budget cut below them) must not starve BE I/O; they
 * overcommit the budget by that much instead.
 */
QOS_INLINE void qos_share_rest(struct qos_share_state *st)
{
	u64 min = st->d->budget / 100 * st->be_min_pct;

	st->rest = st->lc < st->d->budget ? st->d->budget - st->lc : 0;
	if (st->rest < min)
		st->rest = min;
}

QOS_INLINE void qos_share_be(struct qos_share_state *st, u32 i)
{
	struct qos_slot *s;
	u64 w;

	if (i >= QOS_NR_SLOTS)
		return;
	s = &st->d->tenants[i];
	if (s->cls != QOS_CLASS_BE || !qos_slot_in_use(s, i))
		return;
	w = st->weights + (st->busy & (1U << i) ? 0 : s->weight);
	/* rest <= QOS_MAX_RATE < 2^37, weight <= QOS_MAX_WEIGHT < 2^14 */
	s->rate = w ? st->rest * s->weight / w : 0;
}

QOS_INLINE void qos_share_begin(struct qos_share_state *st, struct qos_dev *d,
				const struct qos_tunables *t, u32 busy, u64 window_ns)
{
	st->d = d;
	st->busy = busy;
	st->be_min_pct = t->be_min_pct;
	st->window_ns = window_ns;
	st->lc = 0;
	st->weights = 0;
	st->rest = 0;
}

QOS_INLINE void qos_allocate(struct qos_dev *d, const struct qos_tunables *t, u32 busy,
				u64 window_ns)
{
	struct qos_share_state st;
	u32 i;

	qos_share_begin(&st, d, t, busy, window_ns);
	for (i = 0; i < QOS_NR_SLOTS; i++)
		qos_share_lc(&st, i);
	for (i = 0; i < QOS_NR_SLOTS; i++)
		qos_share_weigh(&st, i);
	qos_share_rest(&st);
	for (i = 0; i < QOS_NR_SLOTS; i++)
		qos_share_be(&st, i);
}

/* Bucket depth of a slot, VIO Q10: burst_ms of its rate, at least one 4k read. */
QOS_INLINE u64 qos_bucket_cap(const struct qos_slot *s, const struct qos_tunables *t)
{
	u64 cap = s->rate / 1000 * (t->burst_ms < 1000 ? t->burst_ms : 1000);	/* rate < 2^37 */

	return cap > QOS_VIO ? cap : QOS_VIO;
}

/*
 * Refill slot @s for the time since its last refill; @donate_pct of what a
 * full bucket overflows goes to the device's spare bucket, itself at most
 * burst_ms of the budget.
 */
QOS_INLINE void qos_refill(struct qos_dev *d, struct qos_slot *s, const struct qos_tunables *t,
			      u64 now)
{
	u64 dt = now > s->last_refill_ns ? now - s->last_refill_ns : 0;
	u64 add, cap = qos_bucket_cap(s, t), spare_cap;
	s64 room;

	s->last_refill_ns = now;
	if (dt > QOS_MAX_REFILL_NS)
		dt = QOS_MAX_REFILL_NS;
	add = s->rate * dt / QOS_NSEC_PER_SEC;	/* < 2^37 * 2^27 */
	room = (s64)cap - s->tokens;
	if (room < 0)
		room = 0;
	if (add <= (u64)room) {
		s->tokens += (s64)add;
		return;
	}
	s->tokens = (s64)cap;
	add -= (u64)room;
	spare_cap = d->budget / 1000 * (t->burst_ms < 1000 ? t->burst_ms : 1000);
	d->spare += add / 100 * (t->donate_pct < 100 ? t->donate_pct : 100);
	if (d->spare > spare_cap)
		d->spare = spare_cap;
}

/* What qos_pick() sees of the device's queues. */
struct qos_view {
	u32 nr[QOS_NR_SLOTS];
	u64 oldest_wait_ns[QOS_NR_SLOTS];
};

enum qos_pay {
	QOS_PAY_OWN = 0,	/* from the tenant's bucket */
	QOS_PAY_SPARE = 1,	/* from the spare bucket */
	QOS_PAY_FREE = 2,	/* work conservation, or a request waiting max_wait_ms */
};

struct qos_choice {
	int slot;		/* -1: hold everything back */
	int aged_slot;		/* slot, when its request is past max_wait_ms; else -1 */
	enum qos_pay pay;
	u64 retry_ns;		/* with slot -1: when a bucket turns positive */
};

/*
 * Which slot dispatches next, after refilling every slot with I/O waiting;
 * slots that wait without tokens are marked throttled. In three steps, so
 * that BPF can run the step per slot with bpf_loop() (the verifier checks
 * its body once, not 32 times): qos_pick_begin(), qos_pick_slot() for each
 * slot, qos_pick_end(). qos_pick() does all three.
 */
struct qos_pick_state {
	struct qos_dev *d;
	const struct qos_tunables *t;
	u64 now;
	u64 window_ns;
	u64 lc_wait;		/* oldest wait among LC tenants with tokens */
	u64 own_vtime;		/* smallest vtime among tenants with tokens */
	u64 any_vtime;		/* smallest vtime among tenants with requests */
	u64 retry;		/* soonest a waiting bucket turns positive */
	u64 max_wait_ns;
	u64 aged_wait;		/* oldest wait among requests past max_wait_ns */
	int lc, own, any, aged;	/* the slots of those, -1 for none */
	bool lc_running;
	bool may_age;		/* no aged request went in the last burst_ms */
};

QOS_INLINE void qos_pick_begin(struct qos_pick_state *p, struct qos_dev *d,
			       const struct qos_tunables *t, u64 now)
{
	p->d = d;
	p->t = t;
	p->now = now;
	p->window_ns = qos_window_ns(t);
	p->lc_wait = 0;
	p->own_vtime = ~0ULL;
	p->any_vtime = ~0ULL;
	p->retry = ~0ULL;
	p->max_wait_ns = (u64)(t->max_wait_ms ? t->max_wait_ms : 1) * 1000000;
	p->aged_wait = 0;
	/*
	 * One aged request per burst_ms at most: enough that none starves, not
	 * so many that a throttled tenant's backlog floods the device at once.
	 */
	p->may_age = !d->aged_ns || !qos_within(now, d->aged_ns, qos_burst_ns(t));
	p->lc = p->own = p->any = p->aged = -1;
	p->lc_running = d->lc_last_active_ns &&
			qos_within(now, d->lc_last_active_ns, p->window_ns);
}

/* Slot @i, with @nr requests waiting, the oldest for @oldest_wait_ns. */
QOS_INLINE void qos_pick_slot(struct qos_pick_state *p, u32 i, u32 nr, u64 oldest_wait_ns)
{
	struct qos_slot *s;
	bool unmetered;

	if (i >= QOS_NR_SLOTS || !nr)
		return;
	s = &p->d->tenants[i];
	qos_refill(p->d, s, p->t, p->now);
	if (oldest_wait_ns >= p->max_wait_ns) {
		if (p->may_age && (p->aged < 0 || oldest_wait_ns > p->aged_wait)) {
			p->aged = (int)i;
			p->aged_wait = oldest_wait_ns;
		} else if (!p->may_age && qos_burst_ns(p->t) < p->retry) {
			p->retry = qos_burst_ns(p->t);	/* its turn comes within a burst */
		}
	} else if (p->max_wait_ns - oldest_wait_ns < p->retry) {
		p->retry = p->max_wait_ns - oldest_wait_ns;	/* when it ages */
	}
	unmetered = s->cls == QOS_CLASS_LC && !s->iops;
	if (s->cls == QOS_CLASS_LC && (unmetered || s->tokens > 0) &&
	    (p->lc < 0 || oldest_wait_ns > p->lc_wait)) {
		p->lc = (int)i;
		p->lc_wait = oldest_wait_ns;
	}
	if (s->tokens > 0 && (p->own < 0 || s->vtime < p->own_vtime)) {
		p->own = (int)i;
		p->own_vtime = s->vtime;
	}
	if (p->any < 0 || s->vtime < p->any_vtime) {
		p->any = (int)i;
		p->any_vtime = s->vtime;
	}
	if (s->tokens <= 0 && !unmetered) {
		u64 need = (u64)(-s->tokens) + 1;

		if (!s->throttled_since_ns)
			s->throttled_since_ns = p->now;
		/* its own reservation held it (cuts never touch it) */
		if (s->cls == QOS_CLASS_LC)
			s->window_throttled = 1;
		if (s->rate && need < (1ULL << 34)) {
			/* need < 2^34, 1e9 < 2^30 */
			u64 ns = need * QOS_NSEC_PER_SEC / s->rate + 1;

			if (ns < p->retry)
				p->retry = ns;
		} else if (qos_burst_ns(p->t) < p->retry) {
			/* no rate of its own: the spare bucket, refilled by others, is its chance */
			p->retry = qos_burst_ns(p->t);
		}
	}
}

/* What a request of the spare bucket must find there: one 4k read. */
#define QOS_SPARE_MIN QOS_VIO

QOS_INLINE void qos_pick_end(const struct qos_pick_state *p, struct qos_choice *c)
{
	c->retry_ns = 0;
	c->pay = QOS_PAY_OWN;
	c->aged_slot = p->aged;
	if (p->aged >= 0) {
		c->slot = p->aged;
		c->pay = QOS_PAY_FREE;
	} else if (p->lc >= 0) {
		c->slot = p->lc;
	} else if (p->own >= 0) {
		c->slot = p->own;
	} else if (p->any >= 0 && p->d->spare >= QOS_SPARE_MIN) {
		c->slot = p->any;
		c->pay = QOS_PAY_SPARE;
	} else if (p->any >= 0 && !p->lc_running) {
		c->slot = p->any;
		c->pay = QOS_PAY_FREE;
	} else {
		c->slot = -1;
		/* something waits: a kick is always armed, at least 10 us away */
		if (p->any >= 0)
			c->retry_ns = p->retry < p->window_ns ? (p->retry > 10000 ? p->retry : 10000) :
								 p->window_ns;
	}
}

QOS_INLINE void qos_pick(struct qos_dev *d, const struct qos_tunables *t,
			 const struct qos_view *v, u64 now, struct qos_choice *c)
{
	struct qos_pick_state p;
	u32 i;

	qos_pick_begin(&p, d, t, now);
	for (i = 0; i < QOS_NR_SLOTS; i++)
		qos_pick_slot(&p, i, v->nr[i], v->oldest_wait_ns[i]);
	qos_pick_end(&p, c);
}

/* qos_pick() when slot @i is the only one with a request waiting (one). */
QOS_INLINE void qos_pick_alone(struct qos_dev *d, const struct qos_tunables *t, u32 i, u64 now,
			       struct qos_choice *c)
{
	struct qos_pick_state p;

	qos_pick_begin(&p, d, t, now);
	qos_pick_slot(&p, i, 1, 0);
	qos_pick_end(&p, c);
}

/*
 * Whether the request of choice @c must wait so that lc_reserve of the
 * device's @slots hardware tags stay free, with @in_flight requests at the
 * driver, at @now. @slots is the depth of one hardware queue: the tags of
 * all of them are more than a device may take (null_blk's poll queue,
 * NVMe's queues of other CPUs), so on a device of several queues this
 * holds BE requests back sooner than it needs to, never later. Only a BE
 * request (or one of the default tenant), only while an LC tenant ran in
 * the last window, never a request past max_wait_ms, and never when the
 * reserve would leave BE requests no tag.
 * The budget bounds what BE tenants get over a window; this bounds what
 * an LC request finds in its way when it arrives: on a device of few tags
 * (4 on the benchmark's null_blk) an LC read behind a full device waits a
 * whole service time, whatever the budget, and the cuts that would follow
 * take far more from BE than that one tag does. Completions while it holds
 * run dispatch again (qos.bpf.c).
 */
QOS_INLINE bool qos_reserve_holds(const struct qos_dev *d, const struct qos_tunables *t,
				  const struct qos_choice *c, u32 slots, u32 in_flight, u64 now)
{
	u32 reserve = t->lc_reserve;

	if (!reserve || slots <= reserve || c->slot < 0 || c->slot >= QOS_NR_SLOTS)
		return false;
	if (d->tenants[c->slot].cls == QOS_CLASS_LC || c->slot == c->aged_slot)
		return false;
	if (!d->lc_last_active_ns || !qos_within(now, d->lc_last_active_ns, qos_window_ns(t)))
		return false;
	return (u64)in_flight + reserve >= slots;
}

/*
 * Charge @cost (VIO Q10) for a request of @bytes dispatched from the
 * chosen slot; @write: it writes data (a discard does not, and does not
 * count towards the write rate). What the spare bucket pays does not come
 * out of the tenant's tokens but counts as the tenant's service all the
 * same. A bucket's debt never exceeds its depth.
 */
QOS_INLINE void qos_charge(struct qos_dev *d, const struct qos_tunables *t,
			      const struct qos_choice *c, u64 cost, bool write, u32 bytes, u64 now)
{
	struct qos_slot *s;
	u64 cap, debt = cost < QOS_MAX_COST ? cost : QOS_MAX_COST;

	if (c->slot < 0 || c->slot >= QOS_NR_SLOTS)
		return;
	s = &d->tenants[c->slot];
	cap = qos_bucket_cap(s, t);
	if (c->pay == QOS_PAY_SPARE) {
		u64 from_spare = debt < d->spare ? debt : d->spare;

		d->spare -= from_spare;
		debt -= from_spare;
	}
	s->tokens -= (s64)debt;			/* debt <= 2^40 */
	if (s->tokens < -(s64)cap)
		s->tokens = -(s64)cap;
	if (c->pay == QOS_PAY_FREE && c->aged_slot >= 0 && c->slot == c->aged_slot) {
		d->aged_ns = now;
		d->aged++;
	}
	if (s->throttled_since_ns) {
		if (now > s->throttled_since_ns)
			s->throttled_ms += (now - s->throttled_since_ns) / 1000000;
		s->throttled_since_ns = 0;
	}
	/* cost <= 2^40, weight >= 1: wraps after 2^24 maximal requests at weight 1 */
	s->vtime += cost * QOS_DEFAULT_WEIGHT / s->weight;
	if (s->cls == QOS_CLASS_BE)
		d->vclock = s->vtime;
	s->dispatched++;
	s->charged_vio += cost >> 10;
	s->window_charged += cost;
	d->window_used += cost;
	if (write && d->window_write_bytes < (1ULL << 62))
		d->window_write_bytes += bytes;
}

/*
 * A request joins slot @slot whose queue was empty: it starts at the
 * device's virtual clock, so time it spent idle is not credit.
 */
QOS_INLINE void qos_wake(struct qos_dev *d, int slot, u64 now)
{
	struct qos_slot *s;

	if (slot < 0 || slot >= QOS_NR_SLOTS)
		return;
	s = &d->tenants[slot];
	if (s->vtime < d->vclock)
		s->vtime = d->vclock;
	qos_touch(d, s, now);
}

/* ---- feedback ------------------------------------------------------------------ */

/* The p99 (upper bound of its bucket, microseconds) of a histogram of ufq_lat_bucket(us). */
#define QOS_LAT_BUCKETS ((20 - UFQ_LAT_SUB_BITS + 1) * UFQ_LAT_SUB)	/* up to 2^20 us */

QOS_INLINE u32 qos_lat_bucket(u64 ns)
{
	u32 b = ufq_lat_bucket(ns / 1000);

	return b < QOS_LAT_BUCKETS ? b : QOS_LAT_BUCKETS - 1;
}

QOS_INLINE u64 qos_lat_total(const u32 count[QOS_LAT_BUCKETS])
{
	u64 total = 0;
	u32 i;

	for (i = 0; i < QOS_LAT_BUCKETS; i++)
		total += count[i];
	return total;
}

QOS_INLINE u32 qos_p99_us(const u32 count[QOS_LAT_BUCKETS])
{
	u64 total = 0, seen = 0, rank;
	u32 i;

	for (i = 0; i < QOS_LAT_BUCKETS; i++)
		total += count[i];
	if (!total)
		return 0;
	rank = total - total / 100;	/* the p99 is the rank-th smallest */
	for (i = 0; i < QOS_LAT_BUCKETS; i++) {
		seen += count[i];
		if (seen >= rank) {
			u64 high = ufq_lat_bucket_high(i);

			return high < 0xffffffffULL ? (u32)high : 0xffffffffU;
		}
	}
	return 0xffffffffU;
}

enum qos_verdict { QOS_HOLD = 0, QOS_CUT = 1, QOS_RAISE = 2 };

/* What the LC tenants' p99s say at the end of a window (qos_judge_slot() per slot). */
struct qos_judgement {
	bool missed;		/* some LC tenant over its target */
	bool comfortable;	/* every LC tenant within 3/4 of its target */
	u32 tightest_missed;	/* smallest target missed, us */
	u32 worst_miss_pm;	/* largest p99 of a missing tenant, per mille of its target */
	bool judged;		/* some LC tenant's p99 was taken */
};

QOS_INLINE void qos_judge_begin(struct qos_judgement *j)
{
	j->missed = false;
	j->comfortable = true;
	j->tightest_missed = 0;
	j->worst_miss_pm = 0;
	j->judged = false;
}

/*
 * Slot @s's p99 (tenants[i].p99_us, 0 without completions) against its
 * target. A tenant that waited on its own empty bucket asked for more than
 * its reservation: its misses are its own, and cutting the budget of BE
 * tenants would not help it, so they do not count.
 */
QOS_INLINE void qos_judge_slot(struct qos_judgement *j, struct qos_slot *s)
{
	if (s->cls != QOS_CLASS_LC || !s->cgroup || !s->p99_us)
		return;
	if (s->window_throttled) {
		/* neither a miss nor a reason to raise: judged afresh next time */
		s->window_throttled = 0;
		return;
	}
	j->judged = true;
	if (s->p99_us > s->slo_p99_us) {
		/* p99_us < 2^32 and slo_p99_us >= 1: the quotient fits 42 bits */
		u64 pm = (u64)s->p99_us * 1000 / (s->slo_p99_us ? s->slo_p99_us : 1);

		if (!j->missed || s->slo_p99_us < j->tightest_missed)
			j->tightest_missed = s->slo_p99_us;
		if (pm > j->worst_miss_pm)
			j->worst_miss_pm = pm < 0xffffffffULL ? (u32)pm : 0xffffffffU;
		j->missed = true;
	}
	/* p99 <= 3/4 target; the histogram's buckets are 12.5% wide */
	if ((u64)s->p99_us * 4 > (u64)s->slo_p99_us * 3)
		j->comfortable = false;
}

/*
 * Whether the cuts since the last checkpoint were futile, at a miss of
 * @j once t->futile_cuts of them were made: the worst miss did not shrink
 * by a histogram bucket (1/8) although the BE tenants got less and less.
 * Then what makes the LC tenant miss is not the BE load qos meters: its
 * own load, a device slower than the model, or requests waiting before
 * qos sees them (for a scheduler tag). Cutting on would only take the
 * device from BE tenants. A checkpoint that finds the cuts helped starts
 * the next one from here.
 */
QOS_INLINE bool qos_streak_checkpoint(struct qos_dev *d, const struct qos_judgement *j,
				const struct qos_tunables *t)
{
	if (!t->futile_cuts || d->streak_cuts < t->futile_cuts)
		return false;
	if ((u64)j->worst_miss_pm * 8 > (u64)d->streak_miss_pm * 7)
		return true;
	d->streak_budget = d->budget;
	d->streak_miss_pm = j->worst_miss_pm;
	d->streak_cuts = 0;
	return false;
}

/*
 * Futile cuts are undone (the budget goes back to where they started) and
 * misses cut nothing for a backoff of windows that doubles with each
 * futile streak in a row, from QOS_FUTILE_BACKOFF_MIN to _MAX, so that the
 * budget leaves the level that does not help for at most futile_cuts
 * windows in every backoff. A window without a miss ends the streak, and a
 * comfortable one the backoff's doubling.
 */
QOS_INLINE void qos_undo_futile_cuts(struct qos_dev *d)
{
	u32 b = d->futile_backoff * 2;

	if (d->budget < d->streak_budget)
		d->budget = d->streak_budget;
	b = b < QOS_FUTILE_BACKOFF_MIN ? QOS_FUTILE_BACKOFF_MIN : b;
	d->futile_backoff = b < QOS_FUTILE_BACKOFF_MAX ? b : QOS_FUTILE_BACKOFF_MAX;
	d->futile_left = d->futile_backoff;
	d->streak_cuts = 0;
	d->futile++;
}

/*
 * End of a window of @window_ns, judged by @j: the budget cut, raised or
 * held, the write factor updated. Returns the verdict; the caller then
 * re-shares the budget with qos_allocate().
 */
QOS_INLINE enum qos_verdict qos_window_end(struct qos_dev *d, const struct qos_judgement *j,
					   const struct qos_weights *w,
					   const struct qos_tunables *t, u64 window_ns)
{
	u64 capacity, floor = qos_budget_floor(w, t), ceiling = qos_budget_ceiling(w);
	enum qos_verdict v = QOS_HOLD;
	bool backing_off = d->futile_left;

	/* what the budget allowed in this window */
	capacity = d->budget / 1000 * ((window_ns < (1ULL << 40) ? window_ns : (1ULL << 40)) / 1000000);
	if (backing_off)
		d->futile_left--;
	if (j->judged && !j->missed) {
		d->streak_cuts = 0;
		if (j->comfortable)
			d->futile_backoff = 0;
	}
	if (j->missed && backing_off) {
		d->holds++;
	} else if (j->missed && qos_streak_checkpoint(d, j, t)) {
		qos_undo_futile_cuts(d);
		d->holds++;
	} else if (j->missed) {
		u64 cut = d->budget - d->budget / 4, safe = qos_safe_point(w, j->tightest_missed);

		if (!d->streak_cuts) {
			d->streak_budget = d->budget;
			d->streak_miss_pm = j->worst_miss_pm;
		}
		if (safe && safe < cut)
			cut = safe > d->budget / 2 ? safe : d->budget / 2;
		d->budget = cut > floor ? cut : floor;
		d->streak_cuts++;
		d->cuts++;
		v = QOS_CUT;
	} else if (j->comfortable && capacity &&
		   d->window_used / (t->util_raise_pct ? t->util_raise_pct : 1) >= capacity / 100) {
		u64 up = d->budget + d->budget / 100 * t->raise_pct;

		d->budget = up < ceiling ? up : ceiling;
		d->raises++;
		v = QOS_RAISE;
	} else {
		d->holds++;
	}
	if (d->budget < floor)
		d->budget = floor;
	d->write_weight = qos_write_weight(w, d->window_write_bytes, window_ns);
	d->window_used = 0;
	d->window_write_bytes = 0;
	d->windows++;
	return v;
}

/* Judge every slot and end the window. */
QOS_INLINE enum qos_verdict qos_window(struct qos_dev *d, const struct qos_weights *w,
				       const struct qos_tunables *t, u64 window_ns)
{
	struct qos_judgement j;
	u32 i;

	qos_judge_begin(&j);
	for (i = 0; i < QOS_NR_SLOTS; i++)
		qos_judge_slot(&j, &d->tenants[i]);
	return qos_window_end(d, &j, w, t, window_ns);
}

/* After qos_window() and qos_allocate(): the slots' per-window counts start over. */
QOS_INLINE void qos_window_reset_slots(struct qos_dev *d)
{
	int i;

	for (i = 0; i < QOS_NR_SLOTS; i++)
		d->tenants[i].window_charged = 0;
	d->reshare = 0;
}

/* ---- the request cookie -------------------------------------------------------- */

/* "QS" tag, slot generation (8 bits), slot (8 bits): the slot a completion belongs to. */
#define QOS_COOKIE_TAG 0x5153000000000000ULL
#define QOS_COOKIE(slot, gen) (QOS_COOKIE_TAG | ((u64)((gen) & 0xff) << 8) | ((slot) & 0xff))
#define QOS_COOKIE_VALID(c) (((c) & 0xffff000000000000ULL) == QOS_COOKIE_TAG && ((c) & 0xff) < QOS_NR_SLOTS)
#define QOS_COOKIE_SLOT(c) ((int)((c) & 0xff))
#define QOS_COOKIE_GEN(c) ((u32)(((c) >> 8) & 0xff))

#endif /* UFQ_POLICY_QOS_H */
