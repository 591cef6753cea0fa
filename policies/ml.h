/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decision core of the ml policy: earliest-deadline-first on predicted
 * latency, with an admission window, aging and sequential batches. Plain
 * C, shared by policies/ml.bpf.c and tests/unit/ml_test.cpp; the latency
 * model it uses is in ml_model.h.
 *
 * Queues. Kernel queue 0 (ML_Q_EDF) holds requests by deadline, queue 1
 * (ML_Q_SEQ) the requests the sequential classifier took for parts of a
 * stream, by sector. A request's deadline is its arrival plus the target
 * of its direction (read_target_us, write_target_us), halved for the RT
 * I/O priority class and four times as long for IDLE (ml_target_ns()).
 *
 * Keys (ml_key()). The top 52 bits are the primary order: the deadline in
 * units of 1024 ns in queue 0, the sector in queue 1. The low 12 bits are
 * the request's predicted service time on a log scale (ml_pred_code()), so
 * that equal deadlines go shortest first, and so that dispatch learns the
 * prediction of the request it is about to take from ufq_bpf_queue_peek()
 * without keeping anything per request.
 *
 * Cookies (ml_cookie()). The prediction made at insert travels with the
 * request to completed(), where it is compared with the measured service
 * time, subtracted from the in-flight sum and used to train the online
 * correction: the "ML" tag, the direction, whether the request was
 * requeued (its prediction already left the sum), whether the network
 * made it, the network's raw output y (for the correction's gradient) and
 * the predicted µs.
 *
 * Dispatch (ml_pick()), one request per call:
 *  1. aging: a request that waited max_latency_target_us goes first,
 *     the one that waited longest of both queues, whatever the window
 *     (so nothing starves, whatever the predictions);
 *  2. admission: a write does not go while the predicted service time of
 *     the writes in flight plus its own exceeds latency_window_us, unless
 *     no write is in flight (one always goes); dispatch() then asks for a
 *     kick, and ufq calls it again as requests complete. Like ADIOS
 *     bounding its batches by predicted latency, this keeps the device's
 *     queue of writes short in time, not in requests, so a read that
 *     arrives behind a burst of slow writes finds the device nearly free
 *     of them. Reads are not held by it: the window is there for them,
 *     and a sum of service times over-counts a device that serves several
 *     requests at once (bounding reads too held the benchmark's 4-tag
 *     null_blk to a quarter of its IOPS). But a held write at the head of
 *     EDF order holds what comes after it, reads with later deadlines
 *     included (one queue holds both directions). While a read arrived
 *     within the last read_target_us, a write also waits when it would
 *     leave fewer than read_reserve of the device's hardware tags free, so
 *     that the next read goes to the device at once instead of waiting
 *     there for a write to finish (ml_reserve_holds(); counted over all
 *     hardware queues, so on a device of several it protects reads less);
 *  3. a sequential batch in progress continues in ascending sector order
 *     from where its last request ended, up to the batch size chosen when
 *     it started: seq_batch_small while queue 1 holds fewer than
 *     seq_depth_medium requests, seq_batch_medium below seq_depth_large,
 *     else seq_batch_large (the ML seed's 8/32/64 rule);
 *  4. otherwise earliest deadline first between queue 0's first request
 *     and queue 1's oldest (whose deadline is computed from its wait and
 *     class); a queue 1 request that wins starts a batch.
 *
 * Sequential classifier (struct ml_seq_clf): a perceptron over four inputs
 * from the request's features (sequential ratio x3, seek x2 / 32, size
 * x1 / 16, inter-arrival time x4 / 32, each about 0..1): sequential when
 * the score is above 0. It learns online: the next arrival tells whether
 * the stream continued (it starts where this request ended), and a wrong
 * decision moves the weights by 1/16 of the inputs, clamped to ±8. It
 * starts from built-in weights or from a push's seq_w and seq_b, which
 * `ufqctl model train` fits offline (ufq/ml_train.hpp: fit_classifier()).
 *
 * Writes' in-flight predicted sum (struct ml_dev.write_pred_ns): a
 * write's prediction is added at dispatch (from the key), subtracted at
 * completion (from the cookie) or requeue, with atomic adds, since
 * completions run on any CPU. A merge of a dispatched request or a
 * request dispatched by earlier programs can leave it off: it is read as
 * at least 0 and set to 0 whenever the device is idle
 * (ml_inflight_settle()).
 *
 * Scheduler tags (ml_write_depth()). The policy only orders requests that
 * hold a scheduler tag; a write flood would take them all and leave a
 * reader waiting for a tag before ml sees it. Writes and async requests
 * may hold write_depth_pct percent of them (mq-deadline's async_depth,
 * kyber's and lanes' write depth do the same).
 */
#ifndef UFQ_POLICY_ML_H
#define UFQ_POLICY_ML_H

#include "ml_model.h"
#include "ufq/read_reserve.h"

enum ml_queue {
	ML_Q_EDF = 0,			/* by deadline */
	ML_Q_SEQ = 1,			/* by sector: sequential streams */
	ML_NR_QUEUES = 2,
};

enum ml_dir { ML_READ = 0, ML_WRITE = 1, ML_NR_DIRS = 2 };

#define ML_NSEC_PER_USEC 1000ULL
#define ML_KICK_MIN_NS 100000ULL	/* the kernel's shortest kick: 100 µs */

/* ---- tunables ---------------------------------------------------------------------------- */

#define ML_DEFAULT_READ_TARGET_US 2000
#define ML_DEFAULT_WRITE_TARGET_US 20000
#define ML_DEFAULT_MAX_LATENCY_TARGET_US 500000
/*
 * Off by default: on the benchmark's device-bound null_blk (1 ms, 4 tags)
 * under a 64k write flood at QD32 beside a 4k reader at QD2, a 2000 us
 * window cut the writer to 734 IOPS from 2152 with it off, for a reader
 * p99 of 3.9 ms against 4.2 (one boot, 2026-12-07). Set it for a device
 * whose writes serialise.
 */
#define ML_DEFAULT_LATENCY_WINDOW_US 0
/*
 * No limit by default. On the benchmark's 4-tag null_blk (8 scheduler
 * tags) the only real limits are 4 (50%) and less (ml_write_depth());
 * at 4 the reader's p99 beside a QD32 write flood went from 3.7-4.2 ms
 * to 3.0-3.4 ms, but the writer from 0.93x mq-deadline's IOPS to 0.81-0.83x
 * (one boot each, 2026-12-07).
 */
#define ML_DEFAULT_WRITE_DEPTH_PCT 100
/*
 * Off by default, as lanes' (lanes.h has the measurement: the median read
 * gains, the tail does not, writes lose about 30%). The measurements
 * above were taken with a reserve of 1 that, counting null_blk's poll
 * queue, took 8 tags for the device's 4 and so never held.
 */
#define ML_DEFAULT_READ_RESERVE 0
#define ML_DEFAULT_ONLINE_LEARNING 1
/*
 * 2^-8: the correction follows drift over a few hundred completions, not
 * each one's noise. On ssdsim in the VM (tests/vm/200-ml.sh) the live
 * median error of reads and writes after a push was 26% and 31% at 2^-6,
 * 22% and 29% at 2^-8, 22% and 25% with no online learning.
 */
#define ML_DEFAULT_LR_SHIFT 8
#define ML_DEFAULT_SEQ_BATCH_SMALL 8
#define ML_DEFAULT_SEQ_BATCH_MEDIUM 32
#define ML_DEFAULT_SEQ_BATCH_LARGE 64
#define ML_DEFAULT_SEQ_DEPTH_MEDIUM 16
#define ML_DEFAULT_SEQ_DEPTH_LARGE 64
#define ML_DEFAULT_USE_CLASSIFIER 1

struct ml_tunables {
	/* a read is due this long after it arrives (RT: half, IDLE: four times) */
	u32 read_target_us UFQ_TUNABLE(ML_DEFAULT_READ_TARGET_US, 10, 10000000);
	/* and a write */
	u32 write_target_us UFQ_TUNABLE(ML_DEFAULT_WRITE_TARGET_US, 10, 10000000);
	/* a request that waited this long goes first (below the 10 s watchdog) */
	u32 max_latency_target_us UFQ_TUNABLE(ML_DEFAULT_MAX_LATENCY_TARGET_US, 1000, 5000000);
	/* predicted service time of the writes in flight at most (one always goes); 0: no limit */
	u32 latency_window_us UFQ_TUNABLE(ML_DEFAULT_LATENCY_WINDOW_US, 0, 1000000);
	/* scheduler tags writes and async requests may hold, % of nr_requests; 100: all */
	u32 write_depth_pct UFQ_TUNABLE(ML_DEFAULT_WRITE_DEPTH_PCT, 1, 100);
	/* hardware tags kept free for reads while reads arrive; 0: none */
	u32 read_reserve UFQ_TUNABLE(ML_DEFAULT_READ_RESERVE, 0, 1024);
	/* 1: the correction and the classifier learn from every completion and arrival */
	u32 online_learning UFQ_TUNABLE(ML_DEFAULT_ONLINE_LEARNING, 0, 1);
	/* the correction's learning rate is 2^-lr_shift */
	u32 lr_shift UFQ_TUNABLE(ML_DEFAULT_LR_SHIFT, 0, 24);
	/* sequential batch sizes (requests) by queue 1's depth at the batch's start */
	u32 seq_batch_small UFQ_TUNABLE(ML_DEFAULT_SEQ_BATCH_SMALL, 1, 1024);
	u32 seq_batch_medium UFQ_TUNABLE(ML_DEFAULT_SEQ_BATCH_MEDIUM, 1, 1024);
	u32 seq_batch_large UFQ_TUNABLE(ML_DEFAULT_SEQ_BATCH_LARGE, 1, 1024);
	/* depths (requests in queue 1) from which the medium and large sizes apply */
	u32 seq_depth_medium UFQ_TUNABLE(ML_DEFAULT_SEQ_DEPTH_MEDIUM, 1, 65536);
	u32 seq_depth_large UFQ_TUNABLE(ML_DEFAULT_SEQ_DEPTH_LARGE, 1, 65536);
	/* 0: every request by deadline, no sequential batches */
	u32 use_classifier UFQ_TUNABLE(ML_DEFAULT_USE_CLASSIFIER, 0, 1);
};

ML_INLINE void ml_tunables_default(struct ml_tunables *t)
{
	t->read_target_us = ML_DEFAULT_READ_TARGET_US;
	t->write_target_us = ML_DEFAULT_WRITE_TARGET_US;
	t->max_latency_target_us = ML_DEFAULT_MAX_LATENCY_TARGET_US;
	t->latency_window_us = ML_DEFAULT_LATENCY_WINDOW_US;
	t->write_depth_pct = ML_DEFAULT_WRITE_DEPTH_PCT;
	t->read_reserve = ML_DEFAULT_READ_RESERVE;
	t->online_learning = ML_DEFAULT_ONLINE_LEARNING;
	t->lr_shift = ML_DEFAULT_LR_SHIFT;
	t->seq_batch_small = ML_DEFAULT_SEQ_BATCH_SMALL;
	t->seq_batch_medium = ML_DEFAULT_SEQ_BATCH_MEDIUM;
	t->seq_batch_large = ML_DEFAULT_SEQ_BATCH_LARGE;
	t->seq_depth_medium = ML_DEFAULT_SEQ_DEPTH_MEDIUM;
	t->seq_depth_large = ML_DEFAULT_SEQ_DEPTH_LARGE;
	t->use_classifier = ML_DEFAULT_USE_CLASSIFIER;
}

/* How long after its arrival a request is due. */
ML_INLINE u64 ml_target_ns(const struct ml_tunables *t, bool write, u32 prio_class)
{
	u64 ns = (u64)(write ? t->write_target_us : t->read_target_us) * ML_NSEC_PER_USEC;

	if (prio_class == ML_PRIO_RT)
		return ns / 2;
	if (prio_class == ML_PRIO_IDLE)
		return ns * 4;
	return ns;
}

/* Batch size for a batch that starts with @nr_seq requests in queue 1. */
ML_INLINE u32 ml_batch_size(const struct ml_tunables *t, u32 nr_seq)
{
	u32 n;

	if (nr_seq < t->seq_depth_medium)
		n = t->seq_batch_small;
	else if (nr_seq < t->seq_depth_large)
		n = t->seq_batch_medium;
	else
		n = t->seq_batch_large;
	return n ? n : 1;
}

/*
 * The scheduler tags writes and async requests may hold on a device of
 * @nr_requests: @pct percent of them, at least 1; 0 (no limit) at 100%.
 * blk-mq spreads a limit over the 4 words of its tag bitmap (8 to 128
 * tags), rounding up in each, so it is rounded down to a multiple of 4
 * where that leaves one (as lanes_write_depth() does): 6 of 8 would be no
 * limit at all.
 */
ML_INLINE u32 ml_write_depth(u32 pct, u32 nr_requests)
{
	u64 depth;

	if (pct >= 100)
		return 0;
	depth = (u64)nr_requests * pct / 100;
	if (depth >= 4)
		depth &= ~3ULL;
	return depth ? (u32)depth : 1;
}

/* ---- keys --------------------------------------------------------------------------------- */

#define ML_KEY_PRED_BITS 12
#define ML_KEY_PRED_MASK ((1ULL << ML_KEY_PRED_BITS) - 1)
#define ML_KEY_PRIMARY_SHIFT 10		/* deadlines in units of 1024 ns */
#define ML_KEY_PRIMARY_MAX ((1ULL << (64 - ML_KEY_PRED_BITS)) - 1)
#define ML_PRED_CODE_MANT_BITS 8
#define ML_PRED_CODE_MAX 0xfff		/* 511 << 14 = 8372224 µs, the largest code */

/*
 * @us on a 12-bit log scale: 4 bits of exponent, 8 of mantissa. Exact
 * below 256 µs, then within 1/256 (rounded down), saturating at 8.37 s.
 */
ML_INLINE u32 ml_pred_code(u32 us)
{
	u32 e;

	if (us < (1U << ML_PRED_CODE_MANT_BITS))
		return us;
	e = (ml_msb(us) & 31) - (ML_PRED_CODE_MANT_BITS - 1);	/* 1 .. 24 */
	if (e > 15)
		return ML_PRED_CODE_MAX;
	return e << ML_PRED_CODE_MANT_BITS | ((us >> (e - 1)) & 0xff);
}

/* The (lower bound of the) µs a code stands for. */
ML_INLINE u32 ml_pred_decode(u32 code)
{
	u32 e = (code >> ML_PRED_CODE_MANT_BITS) & 0xf, m = code & 0xff;

	if (!e)
		return m;
	return (256 + m) << (e - 1);
}

/* @us as its code stands for it: what the in-flight sum adds and subtracts. */
ML_INLINE u32 ml_pred_quantise(u32 us)
{
	return ml_pred_decode(ml_pred_code(us));
}

/* (@primary >> 10) << 12 | the code of @pred_us; the primary part saturates. */
ML_INLINE u64 ml_key(u64 primary, u32 pred_us)
{
	u64 p = primary >> ML_KEY_PRIMARY_SHIFT;

	if (p > ML_KEY_PRIMARY_MAX)
		p = ML_KEY_PRIMARY_MAX;
	return p << ML_KEY_PRED_BITS | ml_pred_code(pred_us);
}

/* Queue 0: by deadline, shortest predicted first within 1024 ns. */
ML_INLINE u64 ml_key_edf(u64 deadline_ns, u32 pred_us)
{
	return ml_key(deadline_ns, pred_us);
}

/* Queue 1: by sector (saturating at 2^52 sectors, 2 EiB). */
ML_INLINE u64 ml_key_seq(u64 sector, u32 pred_us)
{
	if (sector > ML_KEY_PRIMARY_MAX)
		sector = ML_KEY_PRIMARY_MAX;
	return ml_key(sector << ML_KEY_PRIMARY_SHIFT, pred_us);
}

ML_INLINE u32 ml_key_pred_us(u64 key)
{
	return ml_pred_decode((u32)(key & ML_KEY_PRED_MASK));
}

/* The deadline of a queue 0 key, rounded down to 1024 ns. */
ML_INLINE u64 ml_key_deadline_ns(u64 key)
{
	return (key >> ML_KEY_PRED_BITS) << ML_KEY_PRIMARY_SHIFT;
}

ML_INLINE u64 ml_key_sector(u64 key)
{
	return key >> ML_KEY_PRED_BITS;
}

/* ---- cookies ------------------------------------------------------------------------------ */

#define ML_COOKIE_TAG (0x4d4cULL << 48)	/* "ML" */
#define ML_COOKIE_TAG_MASK (0xffffULL << 48)
#define ML_COOKIE_WRITE (1ULL << 47)
#define ML_COOKIE_REQUEUED (1ULL << 46)	/* its prediction already left the in-flight sum */
#define ML_COOKIE_MODEL (1ULL << 45)	/* predicted by the network: y is its output */
#define ML_COOKIE_Y_SHIFT 32
#define ML_COOKIE_Y_BITS 13		/* y in Q5.8: 0 .. 32 - 1/256 */
#define ML_COOKIE_Y_MASK ((1ULL << ML_COOKIE_Y_BITS) - 1)
#define ML_COOKIE_Y_DROP (ML_Q - 8)	/* Q16.16 -> Q5.8 */

ML_INLINE u64 ml_cookie(bool write, bool model, s32 y, u32 pred_us)
{
	u64 yq = y < 0 ? 0 : (u64)y >> ML_COOKIE_Y_DROP;

	if (yq > ML_COOKIE_Y_MASK)
		yq = ML_COOKIE_Y_MASK;
	return ML_COOKIE_TAG | (write ? ML_COOKIE_WRITE : 0) | (model ? ML_COOKIE_MODEL : 0) |
	       yq << ML_COOKIE_Y_SHIFT | pred_us;
}

/* Whether @c is an ml cookie (not 0, not another policy's). */
ML_INLINE bool ml_cookie_valid(u64 c)
{
	return (c & ML_COOKIE_TAG_MASK) == ML_COOKIE_TAG;
}

ML_INLINE u32 ml_cookie_pred_us(u64 c)
{
	return (u32)c;
}

ML_INLINE bool ml_cookie_write(u64 c)
{
	return c & ML_COOKIE_WRITE;
}

ML_INLINE bool ml_cookie_requeued(u64 c)
{
	return c & ML_COOKIE_REQUEUED;
}

ML_INLINE bool ml_cookie_model(u64 c)
{
	return c & ML_COOKIE_MODEL;
}

/* The network's output y (Q16.16), within 1/256 below what was stored, clamped to 0 .. 32. */
ML_INLINE s32 ml_cookie_y(u64 c)
{
	return (s32)(((c >> ML_COOKIE_Y_SHIFT) & ML_COOKIE_Y_MASK) << ML_COOKIE_Y_DROP);
}

/* ---- sequential classifier ---------------------------------------------------------------- */

#define ML_SEQ_LR_SHIFT 4		/* a mistake moves the weights by 1/16 of the inputs */
#define ML_SEQ_W_MAX (8 * ML_ONE)	/* weights and bias within ±8 */

struct ml_seq_clf {
	s32 w[ML_SEQ_INPUTS];		/* Q16.16 */
	s32 b;
	s32 in[ML_SEQ_INPUTS];		/* inputs of the last decision, for its label */
	u32 out;			/* that decision: 1 sequential */
	u32 pending;			/* 1: a decision waits for its label */
	u64 decisions;			/* totals, for users */
	u64 sequential;
	u64 mistakes;
};

/*
 * Before a model sets them: a high sequential ratio says sequential, a
 * long seek says random. A stream of one reader has x3 near 1 and x2 near
 * 0 (score about 1.5); random I/O x3 near 0 and x2 about 30 / 32 (-1.4).
 */
#define ML_SEQ_DEFAULT_W0 (2 * ML_ONE)
#define ML_SEQ_DEFAULT_W1 (-ML_ONE)
#define ML_SEQ_DEFAULT_B (-ML_ONE / 2)

/* Weights from @w's seq_w and seq_b, or the built-in ones when @w is NULL or they are all 0. */
ML_INLINE void ml_seq_init(struct ml_seq_clf *c, const struct ml_weights *w)
{
	u32 i;

	for (i = 0; i < ML_SEQ_INPUTS; i++)
		c->in[i] = 0;
	c->out = 0;
	c->pending = 0;
	if (w && (w->seq_w[0] || w->seq_w[1] || w->seq_w[2] || w->seq_w[3] || w->seq_b)) {
		for (i = 0; i < ML_SEQ_INPUTS; i++)
			c->w[i] = ml_clamp(w->seq_w[i], -ML_SEQ_W_MAX, ML_SEQ_W_MAX);
		c->b = ml_clamp(w->seq_b, -ML_SEQ_W_MAX, ML_SEQ_W_MAX);
		return;
	}
	c->w[0] = ML_SEQ_DEFAULT_W0;
	c->w[1] = ML_SEQ_DEFAULT_W1;
	c->w[2] = 0;
	c->w[3] = 0;
	c->b = ML_SEQ_DEFAULT_B;
}

/* The classifier's inputs from the features. */
ML_INLINE void ml_seq_inputs(const s32 x[ML_NR_FEATURES], s32 in[ML_SEQ_INPUTS])
{
	in[0] = x[ML_F_SEQ];
	in[1] = x[ML_F_SEEK] >> 5;
	in[2] = x[ML_F_SIZE] >> 4;
	in[3] = x[ML_F_INTERARRIVAL] >> 5;
}

ML_INLINE s32 ml_seq_score(const struct ml_seq_clf *c, const s32 in[ML_SEQ_INPUTS])
{
	s64 acc = c->b;
	u32 i;

	for (i = 0; i < ML_SEQ_INPUTS; i++)
		acc += ((s64)c->w[i] * in[i]) >> ML_Q;
	return ml_sat32(acc);
}

/* Classifies the request of features @x (true: sequential) and keeps the inputs to learn from. */
ML_INLINE bool ml_seq_classify(struct ml_seq_clf *c, const s32 x[ML_NR_FEATURES])
{
	bool seq;

	ml_seq_inputs(x, c->in);
	seq = ml_seq_score(c, c->in) > 0;
	c->out = seq;
	c->pending = 1;
	c->decisions++;
	if (seq)
		c->sequential++;
	return seq;
}

/*
 * The label of the last decision: @continued is whether the next arrival
 * started where that request ended. A perceptron step when the decision
 * was wrong (with @learn); the decision is settled either way.
 */
ML_INLINE void ml_seq_learn(struct ml_seq_clf *c, bool continued, bool learn)
{
	s32 err;
	u32 i;

	if (!c->pending)
		return;
	c->pending = 0;
	err = (s32)continued - (s32)c->out;	/* -1, 0 or 1 */
	if (!err)
		return;
	c->mistakes++;
	if (!learn)
		return;
	for (i = 0; i < ML_SEQ_INPUTS; i++)
		c->w[i] = ml_clamp(ml_add(c->w[i], (err * c->in[i]) >> ML_SEQ_LR_SHIFT),
				   -ML_SEQ_W_MAX, ML_SEQ_W_MAX);
	c->b = ml_clamp(ml_add(c->b, (err * ML_ONE) >> ML_SEQ_LR_SHIFT), -ML_SEQ_W_MAX,
			ML_SEQ_W_MAX);
}

/*
 * struct ml_dev.write_depth before the policy applied one: whatever limit
 * the kernel has (one of programs this replaced in place, say) is set
 * again, also when it is "none".
 */
#define ML_WRITE_DEPTH_UNSET ML_U32_MAX

/* ---- device state ------------------------------------------------------------------------- */

/*
 * One device's state, at its ufq id in the map ml_status
 * (`bpftool map dump name ml_status`). Changed under the device lock by
 * insert and dispatch; completions (any CPU, interrupt context) change
 * write_pred_ns with atomic adds, and the service ring, the means and
 * the corrections with plain stores, where a race loses one sample of a
 * statistic and nothing else (each value stays within its bounds).
 */
struct ml_dev {
	u64 dev;			/* the device (MKDEV) that has this id now */
	u32 bound;			/* between init_dev and exit_dev */
	u64 model_gen;			/* the corrections and classifier follow this push */
	s64 write_pred_ns;		/* predicted service time of the writes in flight; read as >= 0 */
	u32 write_depth;		/* the write depth limit applied; 0: none */
	u32 reserved;

	struct ml_feat_state feat;
	struct ml_seq_clf clf;
	struct ml_correction corr[ML_NR_DIRS];
	struct ml_mean mean[ML_NR_DIRS];

	/* the sequential batch */
	u32 batch;			/* dispatched in the current batch; 0: none */
	u32 batch_max;			/* its size */
	u64 batch_pos;			/* sector after its last request */

	/* totals, for users */
	u64 inserted;
	u64 direct;			/* dispatched from insert, alone */
	u64 dispatched[ML_NR_QUEUES];
	u64 aged;			/* dispatched by aging */
	u64 holds;			/* dispatch() calls the window held back */
	u64 reserve_holds;		/* dispatch() calls the read reserve held back */
	u64 reads_until_ns;		/* reads are recent until then (the read reserve) */
	u64 batches;			/* sequential batches started */
	u64 requeued;
	u64 completed;
};

ML_INLINE void ml_dev_init(struct ml_dev *d, u64 dev, const struct ml_weights *w, u64 gen)
{
	u32 i;

	d->dev = dev;
	d->bound = 1;
	d->model_gen = gen;
	d->write_pred_ns = 0;
	d->write_depth = ML_WRITE_DEPTH_UNSET;
	ml_feat_init(&d->feat);
	ml_seq_init(&d->clf, w);
	d->clf.decisions = 0;
	d->clf.sequential = 0;
	d->clf.mistakes = 0;
	for (i = 0; i < ML_NR_DIRS; i++) {
		ml_correction_init(&d->corr[i]);
		d->mean[i].mean = 0;
		d->mean[i].samples = 0;
		d->dispatched[i] = 0;
	}
	d->batch = 0;
	d->batch_max = 0;
	d->batch_pos = 0;
	d->inserted = 0;
	d->direct = 0;
	d->aged = 0;
	d->holds = 0;
	d->reserve_holds = 0;
	d->reads_until_ns = 0;
	d->batches = 0;
	d->requeued = 0;
	d->completed = 0;
}

/*
 * The device is bound again after its exit_dev(): the requests of the old
 * binding report no more, so nothing of theirs is in flight; what was
 * learnt stays.
 */
ML_INLINE void ml_dev_rebind(struct ml_dev *d)
{
	d->bound = 1;
	d->write_pred_ns = 0;
	d->write_depth = ML_WRITE_DEPTH_UNSET;	/* applied again at once */
	d->feat.writes_in_flight = 0;
	d->batch = 0;
	d->clf.pending = 0;
}

/*
 * A new model (generation @gen, weights @w or NULL when there is none):
 * the corrections learnt for the old one start over, and so does the
 * classifier, from the model's weights.
 */
ML_INLINE void ml_dev_new_model(struct ml_dev *d, const struct ml_weights *w, u64 gen)
{
	ml_correction_init(&d->corr[ML_READ]);
	ml_correction_init(&d->corr[ML_WRITE]);
	ml_seq_init(&d->clf, w);
	d->model_gen = gen;
}

/* ---- prediction --------------------------------------------------------------------------- */

struct ml_prediction {
	s32 y;				/* the network's output; with no model, the mean */
	s32 y_corr;			/* y after the correction: what pred_us comes from */
	u32 pred_us;
	u32 model;			/* 1: by the network */
};

/* Predicts the request of features @x in direction @dir, with the network @w if there is one. */
ML_INLINE void ml_predict(const struct ml_dev *d, const struct ml_weights *w, u32 dir,
			  const s32 x[ML_NR_FEATURES], struct ml_prediction *p)
{
	dir = dir ? ML_WRITE : ML_READ;
	if (w) {
		p->y = ml_predict_log(w, x);
		p->y_corr = ml_correct(&d->corr[dir], p->y);
		p->model = 1;
	} else {
		p->y = d->mean[dir].mean;
		p->y_corr = p->y;
		p->model = 0;
	}
	p->pred_us = ml_pred_us(p->y_corr);
}

/*
 * A request of @cookie completed after @service_ns: the mean of its
 * direction, and, with @learn and when the network predicted it for the
 * model the device follows (@same_model), the correction.
 */
ML_INLINE void ml_learn_completion(struct ml_dev *d, const struct ml_tunables *t, u64 cookie,
				   u64 service_ns, bool same_model)
{
	u32 dir = ml_cookie_write(cookie) ? ML_WRITE : ML_READ;
	s32 m = ml_measured_log(service_ns);

	ml_feat_completed(&d->feat, service_ns);
	ml_mean_update(&d->mean[dir], m);
	if (t->online_learning && same_model && ml_cookie_model(cookie))
		ml_correction_update(&d->corr[dir], ml_cookie_y(cookie), m, t->lr_shift);
}

/*
 * Until when reads are recent after a request (@write or a read) arrived
 * at @now_ns, if they were until @until: a read keeps them recent, and the
 * read reserve up, for @read_target_us. In BPF a global function, so that
 * insert's paths do not split on the direction here (see ml_msb()).
 */
#ifdef __bpf__
__noinline u64 ml_reads_until(u64 until, bool write, u64 now_ns, u32 read_target_us)
#else
static inline u64 ml_reads_until(u64 until, bool write, u64 now_ns, u32 read_target_us)
#endif
{
	return ufq_reads_recent_until(until, !write, now_ns, (u64)read_target_us * ML_NSEC_PER_USEC);
}

ML_INLINE void ml_arrived(struct ml_dev *d, const struct ml_tunables *t, bool write, u64 now_ns)
{
	d->reads_until_ns = ml_reads_until(d->reads_until_ns, write, now_ns, t->read_target_us);
}

/*
 * ufq_read_reserve_holds() (ufq/read_reserve.h). In BPF a global function,
 * for the reason ml_msb() is one: insert's paths are near the verifier's
 * limit.
 */
#ifdef __bpf__
__noinline bool ml_reserve_holds(u32 reserve, u32 slots, u32 nr_in_flight, u64 now_ns,
				 u64 reads_until_ns)
#else
static inline bool ml_reserve_holds(u32 reserve, u32 slots, u32 nr_in_flight, u64 now_ns,
				    u64 reads_until_ns)
#endif
{
	return ufq_read_reserve_holds(reserve, slots, nr_in_flight, now_ns, reads_until_ns);
}

/* ---- writes' in-flight predicted sum ------------------------------------------------------ */

/*
 * Dispatch adds a write's prediction as its key carries it, completion
 * subtracts it from the cookie: both quantised alike, so nothing is left
 * over per request. Reads are not counted.
 */
ML_INLINE void ml_inflight_add(struct ml_dev *d, bool write, u32 pred_us)
{
	if (write)
		__sync_fetch_and_add(&d->write_pred_ns,
				     (s64)ml_pred_quantise(pred_us) * (s64)ML_NSEC_PER_USEC);
}

ML_INLINE void ml_inflight_sub(struct ml_dev *d, bool write, u32 pred_us)
{
	if (write)
		__sync_fetch_and_add(&d->write_pred_ns,
				     -(s64)ml_pred_quantise(pred_us) * (s64)ML_NSEC_PER_USEC);
}

/*
 * The sum, at least 0, under the device lock. Idle (nothing at the
 * device, nothing dispatched for it): 0, whatever was left over. A
 * negative sum (completions of requests whose prediction was never
 * added) becomes 0, unless a completion changes it at that moment.
 */
ML_INLINE u64 ml_inflight_settle(struct ml_dev *d, u32 nr_in_flight, u32 nr_ready)
{
	s64 v = *(volatile s64 *)&d->write_pred_ns;

	if (!nr_in_flight && !nr_ready && v) {
		__sync_val_compare_and_swap(&d->write_pred_ns, v, 0);
		return 0;
	}
	if (v < 0) {
		__sync_val_compare_and_swap(&d->write_pred_ns, v, 0);
		return 0;
	}
	return (u64)v;
}

/*
 * Whether a request (@write or a read) predicted at @pred_us may go to
 * the device with @writes_ns predicted for the @nr_writes writes in
 * flight. Reads always may.
 */
ML_INLINE bool ml_admit(const struct ml_tunables *t, u64 writes_ns, u32 nr_writes, bool write,
			u32 pred_us)
{
	u64 window = (u64)t->latency_window_us * ML_NSEC_PER_USEC;

	if (!window || !write || !nr_writes)
		return true;
	return writes_ns + (u64)pred_us * ML_NSEC_PER_USEC <= window;
}

/* ---- completion and requeue --------------------------------------------------------------- */

/*
 * The request of @cookie (an ml cookie) completed after @service_ns: what
 * it predicted and, if it was not requeued (which did that already), its
 * write leave what is in flight; a measured completion teaches (0 is a
 * request other programs dispatched without measuring it: nothing to
 * learn). ml_replay_complete() mirrors the feature side of this exactly.
 */
ML_INLINE void ml_completion(struct ml_dev *d, const struct ml_tunables *t, u64 cookie,
			     u64 service_ns, bool same_model)
{
	if (!ml_cookie_requeued(cookie)) {
		ml_inflight_sub(d, ml_cookie_write(cookie), ml_cookie_pred_us(cookie));
		ml_feat_left(&d->feat, ml_cookie_write(cookie));
	}
	__sync_fetch_and_add(&d->completed, 1);
	if (service_ns)
		ml_learn_completion(d, t, cookie, service_ns, same_model);
}

/*
 * The driver gave back the request of @cookie (an ml cookie, not yet
 * requeued); ufq serves it again without the policy. It leaves what is in
 * flight now, once: the cookie to set says so for ml_completion().
 */
ML_INLINE u64 ml_requeued(struct ml_dev *d, u64 cookie)
{
	ml_inflight_sub(d, ml_cookie_write(cookie), ml_cookie_pred_us(cookie));
	ml_feat_left(&d->feat, ml_cookie_write(cookie));
	__sync_fetch_and_add(&d->requeued, 1);
	return cookie | ML_COOKIE_REQUEUED;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/* A request a dispatch could take, as ufq_bpf_queue_peek() describes it. */
struct ml_cand {
	u64 key;
	u64 wait_ns;
	u64 end_sector;			/* sector after it */
	u32 valid;			/* 0: no such request */
	u32 write;
	u32 prio_class;			/* ML_PRIO_* */
	u32 bytes;
};

/*
 * What dispatch() sees. The shell fills old[q] only when queue q's oldest
 * waited max_latency_target_us, seq_next only while a batch is under way
 * (at batch_pos), seq_oldest and head whenever their queue has requests.
 */
struct ml_view {
	u32 nr[ML_NR_QUEUES];
	u64 oldest_wait_ns[ML_NR_QUEUES];
	struct ml_cand head;		/* queue 0's first: earliest deadline */
	struct ml_cand seq_oldest;	/* queue 1's oldest */
	struct ml_cand seq_next;	/* queue 1's first at or after batch_pos */
	struct ml_cand old[ML_NR_QUEUES]; /* each queue's oldest, when past the target */
	u64 write_pred_ns;		/* ml_inflight_settle() */
	u32 nr_in_flight;		/* at the device or dispatched for it */
	u32 nr_writes;			/* writes of them: ml_writes_in_flight() */
	u32 slots;			/* the device's hardware tags, all queues */
	u32 reserved;
	u64 now_ns;
};

enum ml_from {
	ML_FROM_HEAD,			/* ufq_bpf_dispatch(): the lowest key */
	ML_FROM_OLDEST,			/* ufq_bpf_dispatch_oldest() */
	ML_FROM_KEY,			/* ufq_bpf_dispatch_from(key): the batch goes on */
};

enum ml_why {
	ML_WHY_NONE,			/* nothing waits */
	ML_WHY_AGED,			/* step 1 */
	ML_WHY_BATCH,			/* step 3 */
	ML_WHY_EDF,			/* step 4 */
};

struct ml_choice {
	s32 queue;			/* -1: nothing goes now */
	enum ml_from from;
	enum ml_why why;
	u32 held;			/* 1: the window held the candidate back, 2: the read reserve */
	u64 key;			/* for ML_FROM_KEY */
	u64 retry_ns;			/* when held: kick dispatch again after this */
	struct ml_cand cand;		/* the request chosen */
	u32 pred_us;			/* its prediction, from its key */
	u32 new_batch;			/* it starts a sequential batch */
};

/* The deadline of a waiting request, from how long it waited. */
ML_INLINE u64 ml_cand_deadline(const struct ml_tunables *t, const struct ml_cand *c, u64 now)
{
	u64 arrival = now > c->wait_ns ? now - c->wait_ns : 0;

	return arrival + ml_target_ns(t, c->write, c->prio_class);
}

/* The key ufq_bpf_dispatch_from() continues a batch at. */
ML_INLINE u64 ml_batch_key(const struct ml_dev *d)
{
	return ml_key_seq(d->batch_pos, 0);
}

ML_INLINE void ml_choose(struct ml_choice *c, u32 queue, enum ml_from from, enum ml_why why,
			 const struct ml_cand *cand)
{
	c->queue = (s32)queue;
	c->from = from;
	c->why = why;
	c->cand = *cand;
	c->pred_us = ml_key_pred_us(cand->key);
}

/* What dispatch() does now, into @c. Changes nothing. */
ML_INLINE void ml_pick(const struct ml_dev *d, const struct ml_tunables *t,
		       const struct ml_view *v, struct ml_choice *c)
{
	u64 max_wait = (u64)t->max_latency_target_us * ML_NSEC_PER_USEC, window, excess;
	u32 q;

	__builtin_memset(c, 0, sizeof(*c));
	c->queue = -1;
	if (!v->nr[ML_Q_EDF] && !v->nr[ML_Q_SEQ])
		return;

	/* 1. Aging: the longest wait of both queues, past the target, goes now. */
	q = v->oldest_wait_ns[ML_Q_SEQ] > v->oldest_wait_ns[ML_Q_EDF] ? ML_Q_SEQ : ML_Q_EDF;
	if (v->nr[q] && v->oldest_wait_ns[q] >= max_wait && v->old[q].valid) {
		ml_choose(c, q, ML_FROM_OLDEST, ML_WHY_AGED,
			  q == ML_Q_SEQ ? &v->old[ML_Q_SEQ] : &v->old[ML_Q_EDF]);
		c->new_batch = q == ML_Q_SEQ;
		return;
	}

	/* 3. A batch under way goes on; 4. else the earliest deadline. */
	if (d->batch && d->batch < d->batch_max && v->seq_next.valid) {
		ml_choose(c, ML_Q_SEQ, ML_FROM_KEY, ML_WHY_BATCH, &v->seq_next);
		c->key = ml_batch_key(d);
	} else if (v->head.valid && (!v->seq_oldest.valid ||
		   ml_key_deadline_ns(v->head.key) <=
		   ml_cand_deadline(t, &v->seq_oldest, v->now_ns))) {
		ml_choose(c, ML_Q_EDF, ML_FROM_HEAD, ML_WHY_EDF, &v->head);
	} else if (v->seq_oldest.valid) {
		ml_choose(c, ML_Q_SEQ, ML_FROM_OLDEST, ML_WHY_EDF, &v->seq_oldest);
		c->new_batch = 1;
	} else {
		return;		/* counted but not peeked: emptied under us */
	}

	/* 2. The read reserve and the admission window, for writes that did not age. */
	if (c->cand.write && ml_reserve_holds(t->read_reserve, v->slots, v->nr_in_flight, v->now_ns,
					      d->reads_until_ns)) {
		c->queue = -1;
		c->held = 2;
		/* completions run dispatch(); at the latest, when reads stop being recent */
		c->retry_ns = d->reads_until_ns > v->now_ns ? d->reads_until_ns - v->now_ns : 0;
		if (c->retry_ns < ML_KICK_MIN_NS)
			c->retry_ns = ML_KICK_MIN_NS;
		return;
	}
	if (ml_admit(t, v->write_pred_ns, v->nr_writes, c->cand.write, c->pred_us))
		return;
	window = (u64)t->latency_window_us * ML_NSEC_PER_USEC;
	excess = v->write_pred_ns + (u64)c->pred_us * ML_NSEC_PER_USEC - window;
	c->queue = -1;
	c->held = 1;
	/*
	 * ufq runs dispatch() again as requests complete; this is the backstop: about
	 * when enough of the writes in flight should have completed, spread
	 * over them, between the kernel's shortest kick and the window itself.
	 */
	c->retry_ns = excess / (v->nr_writes ? v->nr_writes : 1);
	if (c->retry_ns < ML_KICK_MIN_NS)
		c->retry_ns = ML_KICK_MIN_NS;
	if (c->retry_ns > window)
		c->retry_ns = window > ML_KICK_MIN_NS ? window : ML_KICK_MIN_NS;
}

/* The request @c chose was dispatched; @v is the view it was chosen from. */
ML_INLINE void ml_dispatched(struct ml_dev *d, const struct ml_tunables *t,
			     const struct ml_choice *c, const struct ml_view *v)
{
	if (c->queue == ML_Q_SEQ) {
		if (c->new_batch) {
			d->batch = 0;
			d->batch_max = ml_batch_size(t, v->nr[ML_Q_SEQ]);
			d->batches++;
		}
		if (d->batch < ML_U32_MAX)
			d->batch++;
		d->batch_pos = c->cand.end_sector;
		d->dispatched[ML_Q_SEQ]++;
	} else {
		d->batch = 0;
		d->dispatched[ML_Q_EDF]++;
	}
	if (c->why == ML_WHY_AGED)
		d->aged++;
	/* at the time the view was taken: the trace's dispatch time is a little later */
	ml_feat_dispatched(&d->feat, c->cand.end_sector, c->cand.write, c->cand.bytes, v->now_ns);
	ml_inflight_add(d, c->cand.write, c->pred_us);
}

/*
 * The request @r, predicted at @pred_us, was dispatched from insert (at
 * its arrival) because nothing else waited; any batch ends.
 */
ML_INLINE void ml_dispatched_direct(struct ml_dev *d, const struct ml_req *r, u32 pred_us)
{
	d->batch = 0;
	d->direct++;
	ml_feat_dispatched(&d->feat, ml_end_sector(r->sector, r->bytes), r->write, r->bytes,
			   r->now_ns);
	ml_inflight_add(d, r->write, pred_us);
}

#endif /* UFQ_POLICY_ML_H */
