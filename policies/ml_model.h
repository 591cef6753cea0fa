/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ml policy's latency model: fixed-point arithmetic, the features of a
 * request, a small integer network that predicts its service time, and the
 * online correction that keeps the prediction on a drifting device. Plain
 * C with no helper calls, compiled into policies/ml.bpf.c, into the unit
 * tests (tests/unit/ml_test.cpp) and into the offline trainer (ufqctl
 * model train), so the features the trainer fits on are exactly the ones
 * the policy computes.
 *
 * Fixed point. Every real number is Q16.16 in an s32 (ML_ONE is 1.0).
 * Products are taken in s64 and shifted back; every result that lands in
 * an s32 goes through ml_sat32(), which saturates to [-(2^31 - 1), 2^31 - 1]
 * (S32_MIN is left out so that negating a result never overflows). Right
 * shifts of negative values are arithmetic (floor), as on every compiler
 * and in BPF's arsh. No floating point anywhere in this file.
 *
 * Logarithms. Latencies, sizes, distances and counts span many orders of
 * magnitude, so the features and the prediction are base-2 logarithms:
 * ml_log2_q16() (exact at powers of two, linear between them: at most
 * 0.0861 too low, i.e. a relative error of 6.1% once turned back into a
 * number) and its inverse ml_exp2_q16(), which uses the same interpolation,
 * so that a round trip through both loses less than one part in 2^16.
 *
 * Features (ml_features(), ML_NR_FEATURES of them, all Q16.16), taken when
 * a request arrives (insert), from struct ml_feat_state, the device's
 * recent history, and struct ml_req, the request and the queues then:
 *
 *   x0  write               0 or ML_ONE
 *   x1  size                log2(max(1, bytes / 512))            0 .. ~22
 *   x2  seek distance       log2(1 + |sector - last dispatch end|) 0 .. ~40
 *   x3  sequential ratio    EWMA (weight 1/8) of "the arrival starts where the
 *                           previous arrival ended", this arrival included;
 *                           0 .. ML_ONE
 *   x4  inter-arrival time  log2(1 + µs since the previous arrival);
 *                           0 for the first arrival                0 .. ~42
 *   x5  in flight           log2(1 + requests at the device)       0 .. ~16
 *   x6  waiting             log2(1 + requests in the policy's queues)
 *   x7  I/O priority class  ML_ONE for RT, -ML_ONE for IDLE, 0 otherwise
 *   x8..x11  last four completions' service times, most recent first,
 *           each log2(1 + µs); 0 while fewer have completed        0 .. ~32
 *   x12 writes in flight    log2(1 + writes at the device), at most x5's count
 *   x13 write volume        log2(1 + KiB of writes dispatched, decaying with a
 *                           half-life of 2^24 ns, 16.8 ms)          0 .. 30
 *
 * Why x12 and x13 (the write backlog). A flash device acknowledges a write
 * once it is in its write-back buffer and programs it later, in the
 * background; a read that meets a die busy programming waits for it (on
 * ssdsim, tools/ssdsim/model.hpp, up to program time x GC factor). So a
 * read is slow when much was written recently, whatever is in flight now:
 * x5 and x6 count requests of both directions, and the service ring x8..x11
 * shows the effect only once it has happened. x13 follows the buffer's
 * fill, bytes written minus what drained, with the drain approximated by
 * an exponential decay (a leaky bucket would need the device's drain
 * rate). Its half-life is about the time a buffered write takes to be
 * programmed: on ssdsim's nvme profile at the VM's time scale 20, the 32
 * pages of a 128 KiB write drain in 19 ms. On the traces of
 * tests/vm/200-ml.sh, x13 has a rank correlation of 0.44 to 0.6 with the
 * service time of reads of each size (nothing in x0..x11 has more than
 * 0.2); half-lives of 2^22 to 2^26 ns did about as well, and a second
 * volume of half-life 2^28 to 2^34 ns (for the GC factor) added nothing
 * measurable, so it is not there. x12 splits x5 by direction: the writes
 * not yet acknowledged, which a device may serve before a read; it helps
 * little on those traces (two writes in flight at most). Both are O(1)
 * per request: x12 a counter (dispatch +1, the request's completion or
 * requeue -1, atomic, since completions run on any CPU), x13 one update
 * per write dispatch (under the device lock) and one read per arrival,
 * each ml_decay()'s shifts and one multiply; with their logarithms, two
 * more ml_msb() calls per insert and no loop.
 *
 * Latency predictor (ml_predict_log()): y = log2(service time in µs), from
 * a network of ML_NR_FEATURES inputs, one hidden layer of ML_HIDDEN ReLU
 * units and one linear output:
 *
 *   z_i = sat((x_i - in_mean[i]) * in_scale[i] >> 16)     standardisation
 *   h_j = max(0, sat(b1[j] + sum_i (w1[j][i] * z_i >> 16)))
 *   y   = sat(b2 + sum_j (w2[j] * h_j >> 16))
 *
 * That is 14 multiplies for the standardisation and 14 * 8 + 8 = 120
 * multiply-adds for the network: 134 s64 multiplies, well under a
 * microsecond (70 to 90 ns natively on a busy 2-CPU build host, as with
 * the 12 features before x12 and x13: ml_test.cpp measures it and fails
 * above 1 µs). The trainer fits the weights on a trace (struct ml_weights
 * holds them, in the policy's model map); before the first push the policy
 * predicts each direction's
 * running mean of y instead (struct ml_mean), which is also the baseline
 * the trainer reports its error against.
 *
 * Online correction (struct ml_correction): y' = (y * gain >> 16) + bias,
 * per device and direction, nudged toward each measured m = log2(1 + µs)
 * by bounded SGD at completion, so the offline model follows a device
 * that drifts (ml_correction_update()). The predicted service time is
 * ml_pred_us(y') = 2^y' - 1 µs, at least 1.
 *
 * Replaying a trace (struct ml_replay): the trainer rebuilds the policy's
 * sequence of ml_features(), ml_feat_dispatched(), ml_feat_left() and
 * ml_feat_completed() calls from `ufqctl trace record` events, in time
 * order. See ml_replay_*.
 */
#ifndef UFQ_POLICY_ML_MODEL_H
#define UFQ_POLICY_ML_MODEL_H

#include "ufq/btf_tags.h"
#include "ufq/latency.h"	/* ufq_lat_msb() */
#include "ufq/model.h"
#include "ufq/types.h"

/* Inlined in BPF: the BPF calling convention has five arguments and no arrays by value. */
#ifdef __bpf__
#define ML_INLINE static __always_inline
#else
#define ML_INLINE static inline
#endif

/* ---- fixed point ------------------------------------------------------------------------- */

#define ML_Q 16				/* fraction bits of Q16.16 */
#define ML_ONE (1 << ML_Q)		/* 1.0 */
#define ML_S32_MAX 0x7fffffff		/* largest result: 32767.99998 */
#define ML_S32_MIN (-0x7fffffff)	/* smallest: S32_MIN + 1, so -x never overflows */
#define ML_EXP2_MAX_BITS 40		/* ml_exp2_q16() saturates at 2^40 */
#define ML_U32_MAX 0xffffffffU

/* @v saturated to [ML_S32_MIN, ML_S32_MAX]. */
ML_INLINE s32 ml_sat32(s64 v)
{
	if (v > ML_S32_MAX)
		return ML_S32_MAX;
	if (v < ML_S32_MIN)
		return ML_S32_MIN;
	return (s32)v;
}

/* a + b, saturated. */
ML_INLINE s32 ml_add(s32 a, s32 b)
{
	return ml_sat32((s64)a + b);
}

/* a * b in Q16.16, saturated: the product of two s32 always fits s64. */
ML_INLINE s32 ml_mul(s32 a, s32 b)
{
	return ml_sat32(((s64)a * b) >> ML_Q);
}

/* @v clamped to [lo, hi]. */
ML_INLINE s32 ml_clamp(s32 v, s32 lo, s32 hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Index of the highest set bit of @x (0 for 0 and 1). In BPF a global
 * function: the verifier checks its bisection once, and its callers see a
 * value it does not know instead of one constant per path through the
 * bisection. Inlined, each of an insert's dozen logarithms multiplied the
 * paths to verify by up to 64, past the verifier's million instructions.
 */
#ifdef __bpf__
__noinline u32 ml_msb(u64 x)
{
	return ufq_lat_msb(x);
}
#else
static inline u32 ml_msb(u64 x)
{
	return ufq_lat_msb(x);
}
#endif

/*
 * log2(x) in Q16.16, for x >= 1; 0 for x = 0 (and x = 1). The integer part
 * is the index of the highest set bit, the fraction the next 16 bits of
 * the mantissa: log2(2^k * (1 + f)) ~ k + f, exact at f = 0, at most
 * 0.0861 low (f = 1/ln 2 - 1). At most 63 * ML_ONE, so never saturates.
 */
ML_INLINE s32 ml_log2_q16(u64 x)
{
	u32 msb, frac;

	if (!x)
		return 0;
	msb = ml_msb(x) & 63;
	if (msb >= ML_Q)
		frac = (u32)(x >> (msb - ML_Q)) & (ML_ONE - 1);
	else
		frac = (u32)(x << (ML_Q - msb)) & (ML_ONE - 1);
	return (s32)(msb << ML_Q | frac);
}

/*
 * 2^(y / 2^16), the inverse of ml_log2_q16() with the same interpolation:
 * 2^k * (1 + f), rounded down. 0 for y < 0 (a value below 1), saturating
 * at 2^ML_EXP2_MAX_BITS. For 1 <= x < 2^40, ml_exp2_q16(ml_log2_q16(x))
 * is at most x and at least x - x / 2^16 - 1, and x for a power of two.
 */
ML_INLINE u64 ml_exp2_q16(s32 y)
{
	u32 k, frac;

	if (y < 0)
		return 0;
	k = (u32)y >> ML_Q;
	if (k >= ML_EXP2_MAX_BITS)
		return 1ULL << ML_EXP2_MAX_BITS;
	frac = (u32)y & (ML_ONE - 1);
	/* < 2^17 << 39 = 2^56 */
	return ((u64)(ML_ONE + frac) << k) >> ML_Q;
}

/* log2(1 + v) in Q16.16: the scale of counts, distances and times (0 at 0). */
ML_INLINE s32 ml_log1p_q16(u64 v)
{
	return ml_log2_q16(v == ~0ULL ? v : v + 1);
}

/* ---- features ---------------------------------------------------------------------------- */

#define ML_NR_FEATURES 14
#define ML_NR_SERVICE 4			/* completions remembered (x8..x11) */
#define ML_SEQ_EWMA_SHIFT 3		/* seq_avg weight of a new arrival: 1/8 */
#define ML_SECTOR_SHIFT 9		/* bytes per sector: 512 */
#define ML_WVOL_SHIFT 24		/* x13 halves every 2^24 ns (16.8 ms) */
#define ML_WVOL_MAX (1ULL << 40)	/* and saturates at 1 TiB */
#define ML_KIB_SHIFT 10

enum ml_feature {
	ML_F_WRITE = 0,
	ML_F_SIZE = 1,
	ML_F_SEEK = 2,
	ML_F_SEQ = 3,
	ML_F_INTERARRIVAL = 4,
	ML_F_IN_FLIGHT = 5,
	ML_F_WAITING = 6,
	ML_F_PRIO = 7,
	ML_F_SERVICE0 = 8,		/* most recent completion; 9, 10, 11 the ones before */
	ML_F_WRITES_IN_FLIGHT = 12,
	ML_F_WRITE_VOLUME = 13,
};

/* I/O priority classes of struct ml_req, as the kernel's IOPRIO_CLASS_*. */
#define ML_PRIO_NONE 0
#define ML_PRIO_RT 1
#define ML_PRIO_BE 2
#define ML_PRIO_IDLE 3

/*
 * A device's recent history, per device. Arrivals and dispatches change it
 * under the device lock; completions (any CPU, maybe interrupt context)
 * write the service ring, where a race loses or repeats one sample of a
 * feature, and take their write off writes_in_flight with an atomic add,
 * so that no race leaves the count off for good.
 */
struct ml_feat_state {
	u64 last_arrival_ns;		/* of the previous arrival; 0 before the first */
	u64 last_arrival_end;		/* sector after the previous arrival */
	u64 last_dispatch_end;		/* sector after the last dispatched request */
	s32 seq_avg;			/* Q16.16 EWMA: arrivals that continued the previous */
	u32 service_head;		/* where the next completion goes in last_service_us */
	u32 last_service_us[ML_NR_SERVICE]; /* ring; the most recent at service_head - 1 */
	/* writes dispatched and not completed; atomic; read within 0 .. requests in flight */
	s32 writes_in_flight;
	u32 reserved;			/* keeps the u64s below 8-byte aligned */
	u64 write_vol;			/* bytes of writes dispatched, decaying; <= ML_WVOL_MAX */
	u64 write_vol_ns;		/* when write_vol was last brought up to date */
};

/* What a request looks like when it arrives. */
struct ml_req {
	u64 sector;
	u32 bytes;
	u8 write;			/* 0 or 1 */
	u8 prio_class;			/* ML_PRIO_* (IOPRIO_CLASS_*) */
	u16 reserved;
	u32 nr_in_flight;		/* requests at the device */
	u32 nr_waiting;			/* requests in the policy's queues */
	u64 now_ns;			/* arrival time */
};

ML_INLINE void ml_feat_init(struct ml_feat_state *st)
{
	u32 i;

	st->last_arrival_ns = 0;
	st->last_arrival_end = 0;
	st->last_dispatch_end = 0;
	st->seq_avg = 0;
	st->service_head = 0;
	for (i = 0; i < ML_NR_SERVICE; i++)
		st->last_service_us[i] = 0;
	st->writes_in_flight = 0;
	st->reserved = 0;
	st->write_vol = 0;
	st->write_vol_ns = 0;
}

/* Sector after a request of @bytes at @sector (saturating). */
ML_INLINE u64 ml_end_sector(u64 sector, u32 bytes)
{
	u64 end = sector + (bytes >> ML_SECTOR_SHIFT);

	return end < sector ? ~0ULL : end;
}

/* x1: log2 of the size in sectors, at least 1 sector. */
ML_INLINE s32 ml_feat_size(u32 bytes)
{
	u32 sectors = bytes >> ML_SECTOR_SHIFT;

	return ml_log2_q16(sectors ? sectors : 1);
}

/* x2: log2(1 + distance in sectors) from where the device's head is. */
ML_INLINE s32 ml_feat_seek(u64 sector, u64 last_dispatch_end)
{
	return ml_log1p_q16(sector > last_dispatch_end ? sector - last_dispatch_end :
							 last_dispatch_end - sector);
}

/*
 * @v (at most ML_WVOL_MAX) decayed over @dt_ns with a half-life of 2^@shift
 * ns (@shift 16 .. 63; x13 uses ML_WVOL_SHIFT): halved once per whole
 * half-life, and for the fraction f of one left over multiplied by 1 - f/2
 * instead of 2^-f (exact at f = 0 and 1, at most 0.043 too high between),
 * so no loop and no table: shifts, a multiply, a subtraction. Never more
 * than @v; 0 after 64 half-lives.
 */
ML_INLINE u64 ml_decay(u64 v, u64 dt_ns, u32 shift)
{
	u64 halvings = dt_ns >> (shift & 63);
	u64 frac = (dt_ns >> ((shift - ML_Q) & 63)) & (ML_ONE - 1);

	if (halvings >= 64)
		return 0;
	v >>= halvings;
	/* v <= 2^40, frac < 2^16: the product fits u64 */
	return v - (((v >> 1) * frac) >> ML_Q);
}

/* The write volume as of @now_ns; a clock that went back (before write_vol_ns) decays nothing. */
ML_INLINE u64 ml_write_vol_at(const struct ml_feat_state *st, u64 now_ns)
{
	u64 dt = now_ns > st->write_vol_ns ? now_ns - st->write_vol_ns : 0;

	return ml_decay(st->write_vol, dt, ML_WVOL_SHIFT);
}

/*
 * Writes in flight as the features count them: the policy's own count,
 * which completions of writes it never counted may have taken below 0,
 * within 0 .. @nr_in_flight (the kernel's count of requests at the device).
 */
ML_INLINE u32 ml_writes_in_flight(const struct ml_feat_state *st, u32 nr_in_flight)
{
	s32 w = *(volatile s32 *)&st->writes_in_flight;

	if (w <= 0)
		return 0;
	return (u32)w < nr_in_flight ? (u32)w : nr_in_flight;
}

/*
 * With nothing at the device (@nr_in_flight, the kernel's count, is 0) no
 * write is in flight: the count starts over from 0, whatever completions
 * of requests dispatched before the policy's state was (re)initialised
 * took off it. A completion racing with this may take it to -1 again,
 * which reads as 0 until the next idle moment settles it.
 */
ML_INLINE void ml_feat_settle(struct ml_feat_state *st, u32 nr_in_flight)
{
	s32 w = *(volatile s32 *)&st->writes_in_flight;

	if (!nr_in_flight && w)
		__sync_val_compare_and_swap(&st->writes_in_flight, w, 0);
}

/*
 * Computes the features @x of request @r from the state before it
 * arrives, then records the arrival in @st (last_arrival_ns,
 * last_arrival_end, seq_avg). x3 counts this arrival: whether the request
 * continues the previous one is its own property, known at arrival, and
 * the best single sign of a sequential stream.
 */
ML_INLINE void ml_features(struct ml_feat_state *st, const struct ml_req *r,
			   s32 x[ML_NR_FEATURES])
{
	bool first = st->last_arrival_ns == 0;
	s32 seq = !first && r->sector == st->last_arrival_end ? ML_ONE : 0;
	u64 gap_us = 0;
	u32 i, slot, wif;

	if (!first && r->now_ns > st->last_arrival_ns)
		gap_us = (r->now_ns - st->last_arrival_ns) / 1000;
	ml_feat_settle(st, r->nr_in_flight);
	/* EWMA: avg += (sample - avg) / 8, floor; stays within [0, ML_ONE]. */
	st->seq_avg += (seq - st->seq_avg) >> ML_SEQ_EWMA_SHIFT;

	x[ML_F_WRITE] = r->write ? ML_ONE : 0;
	x[ML_F_SIZE] = ml_feat_size(r->bytes);
	x[ML_F_SEEK] = ml_feat_seek(r->sector, st->last_dispatch_end);
	x[ML_F_SEQ] = st->seq_avg;
	x[ML_F_INTERARRIVAL] = ml_log1p_q16(gap_us);
	x[ML_F_IN_FLIGHT] = ml_log1p_q16(r->nr_in_flight);
	wif = ml_writes_in_flight(st, r->nr_in_flight);
	x[ML_F_WRITES_IN_FLIGHT] = ml_log1p_q16(wif);
	x[ML_F_WRITE_VOLUME] = ml_log1p_q16(ml_write_vol_at(st, r->now_ns) >> ML_KIB_SHIFT);
	x[ML_F_WAITING] = ml_log1p_q16(r->nr_waiting);
	x[ML_F_PRIO] = r->prio_class == ML_PRIO_RT ? ML_ONE :
		       r->prio_class == ML_PRIO_IDLE ? -ML_ONE : 0;
	for (i = 0; i < ML_NR_SERVICE; i++) {
		/* most recent first: head - 1, head - 2, ... */
		slot = (st->service_head - 1 - i) & (ML_NR_SERVICE - 1);
		x[ML_F_SERVICE0 + i] = ml_log1p_q16(st->last_service_us[slot]);
	}

	/* 0 is "no arrival yet": a clock that reads 0 still counts as one. */
	st->last_arrival_ns = r->now_ns ? r->now_ns : 1;
	st->last_arrival_end = ml_end_sector(r->sector, r->bytes);
}

/*
 * A request of @bytes ending at @end_sector, a write if @write, went to
 * the device at @now_ns. Under the device lock (as arrivals), so the write
 * volume's read-modify-write needs no atomics; writes_in_flight does, for
 * the completions.
 */
ML_INLINE void ml_feat_dispatched(struct ml_feat_state *st, u64 end_sector, bool write,
				  u32 bytes, u64 now_ns)
{
	u64 vol;

	st->last_dispatch_end = end_sector;
	if (!write)
		return;
	__sync_fetch_and_add(&st->writes_in_flight, 1);
	vol = ml_write_vol_at(st, now_ns) + bytes;
	st->write_vol = vol > ML_WVOL_MAX ? ML_WVOL_MAX : vol;
	if (now_ns > st->write_vol_ns)
		st->write_vol_ns = now_ns;
}

/*
 * A request the policy dispatched left the device (completed, or was given
 * back by the driver): a write leaves writes_in_flight. Once per dispatch.
 */
ML_INLINE void ml_feat_left(struct ml_feat_state *st, bool write)
{
	if (write)
		__sync_fetch_and_add(&st->writes_in_flight, -1);
}

/*
 * A request completed after @service_ns at the device. 0 is no
 * measurement (a request other programs dispatched): nothing to remember.
 */
ML_INLINE void ml_feat_completed(struct ml_feat_state *st, u64 service_ns)
{
	u64 us = service_ns / 1000;
	u32 head = st->service_head;

	if (!service_ns)
		return;
	st->last_service_us[head & (ML_NR_SERVICE - 1)] = us > ML_U32_MAX ? ML_U32_MAX : (u32)us;
	st->service_head = (head + 1) & (ML_NR_SERVICE - 1);
}

/* ---- predictor --------------------------------------------------------------------------- */

#define ML_HIDDEN 8
#define ML_SEQ_INPUTS 4			/* inputs of the sequential classifier (ml.h) */

/*
 * The ranges of struct ml_weights (Q16.16), named because the trainer
 * saturates to them (ufq/ml_weights.hpp) and ufqctl checks pushed files
 * against them (from the BTF tags): one definition for both. Literals, as
 * UFQ_RANGE requires.
 */
#define ML_MEAN_MIN -4194304		/* in_mean within ±64 */
#define ML_MEAN_MAX 4194304
#define ML_SCALE_MIN 0			/* in_scale 0 .. 256 (0 ignores the feature) */
#define ML_SCALE_MAX 16777216
#define ML_WEIGHT_MIN -8388608		/* every other weight within ±128 */
#define ML_WEIGHT_MAX 8388608

/*
 * The model map's weights; the member names are the JSON keys of
 * `ufqctl model push ml` and what `bpftool map dump name ml_model` prints.
 * All Q16.16 unless said otherwise; the ranges are what ufqctl accepts.
 */
struct ml_weights {
	/* standardisation: z = (x - in_mean) * in_scale */
	s32 in_mean[ML_NR_FEATURES] UFQ_RANGE(ML_MEAN_MIN, ML_MEAN_MAX);
	s32 in_scale[ML_NR_FEATURES] UFQ_RANGE(ML_SCALE_MIN, ML_SCALE_MAX);
	/* hidden layer: w1[j][i] weighs input i into unit j */
	s32 w1[ML_HIDDEN][ML_NR_FEATURES] UFQ_RANGE(ML_WEIGHT_MIN, ML_WEIGHT_MAX);
	s32 b1[ML_HIDDEN] UFQ_RANGE(ML_WEIGHT_MIN, ML_WEIGHT_MAX);
	/* output: y = log2(service µs) */
	s32 w2[ML_HIDDEN] UFQ_RANGE(ML_WEIGHT_MIN, ML_WEIGHT_MAX);
	s32 b2 UFQ_RANGE(ML_WEIGHT_MIN, ML_WEIGHT_MAX);
	/* the sequential classifier's starting weights (ml.h); all 0: the built-in ones */
	s32 seq_w[ML_SEQ_INPUTS] UFQ_RANGE(ML_WEIGHT_MIN, ML_WEIGHT_MAX);
	s32 seq_b UFQ_RANGE(ML_WEIGHT_MIN, ML_WEIGHT_MAX);
	/* requests the model was trained on (informational) */
	u32 trained_on;
	/* held-out median relative error (%) of the mean predictor, read and write */
	u32 baseline_err_pct[2];
};

UFQ_MODEL_STRUCT(ml_model_value, struct ml_weights);

/* Standardised input i: (x - mean) * scale, saturated. */
ML_INLINE s32 ml_standardise(s32 x, s32 mean, s32 scale)
{
	/* |x - mean| < 2^32, |scale| < 2^31: the product fits s64 */
	return ml_sat32((((s64)x - mean) * scale) >> ML_Q);
}

/* Hidden unit j's activation for standardised inputs @z. */
ML_INLINE s32 ml_hidden(const struct ml_weights *w, u32 j, const s32 z[ML_NR_FEATURES])
{
	s64 acc;
	s32 h;
	u32 i;

	if (j >= ML_HIDDEN)
		return 0;
	acc = w->b1[j];
	/* 12 terms of at most 2^62 >> 16 = 2^46 each: no s64 overflow */
	for (i = 0; i < ML_NR_FEATURES; i++)
		acc += ((s64)w->w1[j][i] * z[i]) >> ML_Q;
	h = ml_sat32(acc);
	return h > 0 ? h : 0;
}

/* y = log2(predicted service µs), Q16.16, of the network @w for features @x. */
ML_INLINE s32 ml_predict_log(const struct ml_weights *w, const s32 x[ML_NR_FEATURES])
{
	s32 z[ML_NR_FEATURES];
	s64 acc;
	u32 i, j;

	for (i = 0; i < ML_NR_FEATURES; i++)
		z[i] = ml_standardise(x[i], w->in_mean[i], w->in_scale[i]);
	acc = w->b2;
	for (j = 0; j < ML_HIDDEN; j++)
		acc += ((s64)w->w2[j] * ml_hidden(w, j, z)) >> ML_Q;
	return ml_sat32(acc);
}

/* ---- measurement, mean predictor, online correction ------------------------------------ */

#define ML_MEAN_EWMA_SHIFT 4		/* weight of a completion in struct ml_mean: 1/16 */
#define ML_GAIN_MIN (ML_ONE / 2)	/* the correction's gain: 0.5 .. 2 */
#define ML_GAIN_MAX (2 * ML_ONE)
#define ML_BIAS_MAX (8 * ML_ONE)	/* and its bias: ±8, a factor of 256 either way */
#define ML_LR_SHIFT_MAX 24		/* learning rates below 2^-24 learn nothing */
#define ML_PRED_US_MAX ML_U32_MAX	/* ml_pred_us() at most: 71 minutes */

/* m = log2(1 + service µs), the measured counterpart of y. */
ML_INLINE s32 ml_measured_log(u64 service_ns)
{
	return ml_log1p_q16(service_ns / 1000);
}

/* Predicted µs from a log prediction: 2^y - 1, within [1, ML_PRED_US_MAX]. */
ML_INLINE u32 ml_pred_us(s32 y)
{
	u64 v = ml_exp2_q16(y);

	v = v ? v - 1 : 0;
	if (v < 1)
		return 1;
	return v > ML_PRED_US_MAX ? ML_PRED_US_MAX : (u32)v;
}

/*
 * The mean predictor: an EWMA of m per direction, weight 1/16 (about the
 * last 16 completions). The first completion sets it.
 */
struct ml_mean {
	s32 mean;			/* Q16.16 log2(1 + µs) */
	u32 samples;			/* completions seen, saturating */
};

ML_INLINE void ml_mean_update(struct ml_mean *mm, s32 m)
{
	if (!mm->samples)
		mm->mean = m;
	else
		mm->mean = ml_sat32((s64)mm->mean + (((s64)m - mm->mean) >> ML_MEAN_EWMA_SHIFT));
	if (mm->samples < ML_U32_MAX)
		mm->samples++;
}

/* Per device and direction: y' = y * gain + bias. */
struct ml_correction {
	s32 gain;			/* Q16.16, ML_GAIN_MIN .. ML_GAIN_MAX */
	s32 bias;			/* Q16.16, ±ML_BIAS_MAX */
};

ML_INLINE void ml_correction_init(struct ml_correction *c)
{
	c->gain = ML_ONE;
	c->bias = 0;
}

/* y' from the network's @y. */
ML_INLINE s32 ml_correct(const struct ml_correction *c, s32 y)
{
	return ml_sat32((((s64)y * c->gain) >> ML_Q) + c->bias);
}

/*
 * The error one correction step takes in, at most, log2 units: the same
 * Huber threshold (0.25, a factor of 2^0.25 = 1.19) as the trainer's loss.
 * The policy is judged on its median relative error; a squared-error step
 * pulls the correction toward the log-mean, which a device's slow tail
 * (a read behind a programming die) lifts above the median: on ssdsim in
 * the VM, the live median error of writes was 43% with the squared step,
 * 25% with online learning off.
 */
#define ML_CORR_ERR_MAX (ML_ONE / 4)

/*
 * One bounded SGD step of the Huber log error (threshold ML_CORR_ERR_MAX),
 * for the network output @y whose measured value was @m:
 *   err = clamp(m - y', ±ML_CORR_ERR_MAX)
 *   bias += err >> lr_shift
 *   gain += (err * y >> 16) >> (lr_shift + 4)   (y is ~10x larger than 1)
 * each clamped to its range, so no run of outliers can move the model by
 * more than a factor of 2 in gain and 256 in bias.
 */
ML_INLINE void ml_correction_update(struct ml_correction *c, s32 y, s32 m, u32 lr_shift)
{
	s64 err = (s64)m - ml_correct(c, y), step;

	if (err > ML_CORR_ERR_MAX)
		err = ML_CORR_ERR_MAX;
	else if (err < -ML_CORR_ERR_MAX)
		err = -ML_CORR_ERR_MAX;
	if (lr_shift > ML_LR_SHIFT_MAX)
		lr_shift = ML_LR_SHIFT_MAX;
	step = err >> lr_shift;				/* |err| < 2^32 */
	c->bias = ml_clamp(ml_sat32((s64)c->bias + step), -ML_BIAS_MAX, ML_BIAS_MAX);
	step = ((err * y) >> ML_Q) >> (lr_shift + 4);	/* |err * y| < 2^49 */
	c->gain = ml_clamp(ml_sat32((s64)c->gain + step), ML_GAIN_MIN, ML_GAIN_MAX);
}

/* ---- trace replay ------------------------------------------------------------------------ */

/*
 * A trace event (struct ufq_trace_event) is one request: it arrived at
 * insert_ns, went to the device at insert_ns + wait_ns and completed at
 * complete_ns. The trainer turns every event into these three steps, sorts
 * all steps by time and, at equal times, by ml_replay_step (completions
 * first, then arrivals, then dispatches: a request dispatched directly
 * from insert has wait_ns 0, and its arrival must come before its own
 * dispatch, as in the policy), then feeds them through ml_replay_*() in
 * that order. ml_replay_arrival() gives the features the policy computed
 * for the request at insert.
 */
enum ml_replay_step {
	ML_REPLAY_COMPLETE = 0,
	ML_REPLAY_ARRIVAL = 1,
	ML_REPLAY_DISPATCH = 2,
};

struct ml_replay {
	struct ml_feat_state st;
	u32 nr_in_flight;		/* dispatched, not completed */
	u32 nr_waiting;			/* arrived, not dispatched */
};

ML_INLINE void ml_replay_init(struct ml_replay *rp)
{
	ml_feat_init(&rp->st);
	rp->nr_in_flight = 0;
	rp->nr_waiting = 0;
}

/*
 * Request @r arrived (its nr_in_flight and nr_waiting are taken from the
 * replay, not from @r): its features into @x.
 */
ML_INLINE void ml_replay_arrival(struct ml_replay *rp, const struct ml_req *r,
				 s32 x[ML_NR_FEATURES])
{
	struct ml_req q = *r;

	q.nr_in_flight = rp->nr_in_flight;
	q.nr_waiting = rp->nr_waiting;
	ml_features(&rp->st, &q, x);
	if (rp->nr_waiting < ML_U32_MAX)
		rp->nr_waiting++;
}

/* Request @r (its sector, bytes and direction) went to the device at @now_ns. */
ML_INLINE void ml_replay_dispatch(struct ml_replay *rp, const struct ml_req *r, u64 now_ns)
{
	ml_feat_dispatched(&rp->st, ml_end_sector(r->sector, r->bytes), r->write, r->bytes,
			   now_ns);
	if (rp->nr_waiting)
		rp->nr_waiting--;
	if (rp->nr_in_flight < ML_U32_MAX)
		rp->nr_in_flight++;
}

/*
 * A request (a write if @write) completed after @service_ns, 0 when not
 * measured: as the policy's completion (ml_completion() in ml.h), it
 * leaves the device either way, and only a measured one enters the
 * service ring.
 */
ML_INLINE void ml_replay_complete(struct ml_replay *rp, bool write, u64 service_ns)
{
	ml_feat_left(&rp->st, write);
	ml_feat_completed(&rp->st, service_ns);
	if (rp->nr_in_flight)
		rp->nr_in_flight--;
}

#endif /* UFQ_POLICY_ML_MODEL_H */
