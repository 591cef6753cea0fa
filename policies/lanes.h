/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decision core of the lanes policy: flow-iosched 3.1's Emergency, Read and
 * Write lanes over ufq's kernel-owned queues. Plain C, shared by
 * lanes.bpf.c and the host unit tests (tests/unit/lanes_test.cpp).
 *
 * Lanes. Requests inserted at the head (flushes, requeues, passthrough)
 * never reach a policy: ufq serves them first from its own FIFO, and that
 * FIFO is the Emergency lane. Every other request is classified by
 * lanes_classify(): synchronous reads, metadata and REQ_PRIO requests and
 * writes of at most 4 KiB go to the Read lane, the rest (bulk and
 * asynchronous writes, discards) to the Write lane.
 *
 * Deadlines and order inside a lane. A request's deadline is its arrival
 * time, plus 2 ms for a small write and 2 s in the Write lane. A lane's
 * queue is keyed by (deadline group, position): deadlines quantised by
 * completion_window_ns, then the sector within a group, so one dispatch
 * walk is both deadline-fair and seek-friendly (lanes_key()).
 *
 * Dispatch (lanes_pick()). A Write lane request whose deadline passed goes
 * first, unless reads are starving too (then the lanes take turns); a Read
 * lane request that waited 500 ms counts as starving. Otherwise the Read lane runs batches of up to batch_max_read and
 * the Write lane batches of up to batch_max_write. While writes wait, a
 * read batch ends after starvation_max_write reads overtook them, and no
 * new read batch starts after writes_starved read batches in a row
 * (mq-deadline's rule); while reads wait, a write batch ends after
 * starvation_max_read writes. read_priority (-20..19, like nice) scales
 * both bounds in the reads' favour (negative) or the writes' (positive), by
 * about 25% a step. So neither lane starves: with both lanes busy, at most
 * lanes_reads_bound() reads go between two writes and at most
 * lanes_writes_bound() writes between two reads.
 *
 * Scheduler tags (lanes_write_depth()). A policy only orders requests
 * that hold a scheduler tag; requests other than reads may hold at most 3/4
 * of them, and in latency mode a third of them (flow's limit), so a reader
 * finds a free tag behind a write flood. (mq-deadline's async_depth, which
 * applies to the same requests, defaults to all of them in 6.12.)
 *
 * Hardware tags (the read reserve, ufq/read_reserve.h; off by default).
 * A scheduler tag is not enough: once writes hold every hardware tag, a
 * read dispatched first still waits at the driver for a write to finish.
 * While a read arrived within read_reserve_us, a Write lane request whose
 * deadline has not passed is not dispatched when it would leave fewer than
 * read_reserve of the device's hardware tags free; a waiting Read lane
 * request goes instead, or nothing (completions and a kick at the end of
 * the window run dispatch again). While it holds, the bound of reads
 * between two writes above does not apply; expired writes are never held,
 * so the Write lane's 2 s bound stands.
 *
 * Autotuner (lanes_tune(), once a second): three modes. Latency when reads
 * wait longer in the scheduler than they take at the device while both
 * directions are busy; throughput when writes make at least 4 of 5
 * dispatches and reads wait at most half their service time; balanced
 * otherwise. A new mode must be seen in two windows in a row, and the
 * thresholds to leave a mode are wider than those to enter it, so the mode
 * does not flap. Each window the effective batch_max_read and
 * starvation_max_write move halfway toward the mode's targets. The tunable
 * mode pins a mode instead.
 */
#ifndef UFQ_POLICY_LANES_H
#define UFQ_POLICY_LANES_H

#include "ufq/types.h"
#include "ufq/btf_tags.h"
#include "ufq/rq_flags.h"
#include "ufq/read_reserve.h"

enum lanes_lane { LANE_READ = 0, LANE_WRITE = 1, LANES_NR = 2 };

/* Kernel queue of each lane. */
#define LANES_QUEUE(lane) ((u32)(lane))

/* Request classes, for the class latency histograms (ufqctl stats). */
enum lanes_class {
	LANES_CLASS_READ = 0,		/* reads, metadata, REQ_PRIO: Read lane */
	LANES_CLASS_SMALL_WRITE = 1,	/* writes of at most 4 KiB: Read lane */
	LANES_CLASS_WRITE = 2,		/* everything else: Write lane */
};

/* Autotuner modes; LANES_MODE_AUTO only as the tunable, never in effect. */
enum lanes_mode {
	LANES_MODE_AUTO = 0,
	LANES_MODE_BALANCED = 1,
	LANES_MODE_LATENCY = 2,
	LANES_MODE_THROUGHPUT = 3,
};

#define LANES_SMALL_WRITE_BYTES 4096
#define LANES_SMALL_WRITE_DELAY_NS 2000000ULL	/* 2 ms */
#define LANES_WRITE_DELAY_NS 2000000000ULL	/* 2 s */
#define LANES_READ_EXPIRE_NS 500000000ULL	/* 500 ms, mq-deadline's read_expire */
#define LANES_TUNE_PERIOD_NS 1000000000ULL	/* the autotuner's window */

/*
 * Tunables, with flow-iosched's names and defaults. The batch and
 * starvation values are the balanced mode's; the autotuner derives the
 * effective ones from them (struct lanes_dev).
 */
#define LANES_DEFAULT_READ_PRIORITY 0
#define LANES_DEFAULT_BATCH_MAX_READ 16
#define LANES_DEFAULT_BATCH_MAX_WRITE 16
#define LANES_DEFAULT_COMPLETION_WINDOW_NS 8000000
#define LANES_DEFAULT_STARVATION_MAX_READ 5
#define LANES_DEFAULT_STARVATION_MAX_WRITE 20
#define LANES_DEFAULT_WRITES_STARVED 2
/*
 * The read reserve is off by default: it buys the median read, not the
 * tail, and costs writes a share of the device. Measured 2026-12-07, one boot, the device-bound 4-tag null_blk of
 * tests/vm/048 (a 4k QD2 reader beside 64k QD32 writes), lanes with a
 * reserve of 1 against none: the reader's p50 1.45-1.56 ms against
 * 1.88-1.97, its p99 not lower (3.4-5.7 ms against 3.4-4.0: under
 * emulation the tail is the emulated timer's), the writer 0.67-0.72x the
 * IOPS.
 * With it on, reads count as recent for 10 ms after one arrived.
 */
#define LANES_DEFAULT_READ_RESERVE 0
#define LANES_DEFAULT_READ_RESERVE_US 10000
#define LANES_MAX_BOUND 1024

struct lanes_tunables {
	/* like nice: below 0 favours reads over writes, above 0 the other way */
	s32 read_priority UFQ_TUNABLE(LANES_DEFAULT_READ_PRIORITY, -20, 19);
	/* requests per Read lane batch (balanced mode) */
	u32 batch_max_read UFQ_TUNABLE(LANES_DEFAULT_BATCH_MAX_READ, 1, 1024);
	/* requests per Write lane batch */
	u32 batch_max_write UFQ_TUNABLE(LANES_DEFAULT_BATCH_MAX_WRITE, 1, 1024);
	/* deadline quantum: requests whose deadlines fall in one window go by sector */
	u32 completion_window_ns UFQ_TUNABLE(LANES_DEFAULT_COMPLETION_WINDOW_NS, 100000,
					     1000000000);
	/* writes that may go while reads wait before the Read lane runs */
	u32 starvation_max_read UFQ_TUNABLE(LANES_DEFAULT_STARVATION_MAX_READ, 1, 1024);
	/* reads that may go while writes wait before the Write lane runs (balanced mode) */
	u32 starvation_max_write UFQ_TUNABLE(LANES_DEFAULT_STARVATION_MAX_WRITE, 1, 1024);
	/* read batches in a row while writes wait before a write batch */
	u32 writes_starved UFQ_TUNABLE(LANES_DEFAULT_WRITES_STARVED, 0, 1000);
	/* auto, balanced, latency or throughput (tags take literals: 0 is auto) */
	enum lanes_mode mode UFQ_TUNABLE(0, 0, 3);
	/* hardware tags writes leave free while reads arrive; 0: none */
	u32 read_reserve UFQ_TUNABLE(LANES_DEFAULT_READ_RESERVE, 0, 1024);
	/* how long after a read arrived the reserve holds */
	u32 read_reserve_us UFQ_TUNABLE(LANES_DEFAULT_READ_RESERVE_US, 1, 1000000);
};

static inline void lanes_tunables_default(struct lanes_tunables *t)
{
	t->read_priority = LANES_DEFAULT_READ_PRIORITY;
	t->batch_max_read = LANES_DEFAULT_BATCH_MAX_READ;
	t->batch_max_write = LANES_DEFAULT_BATCH_MAX_WRITE;
	t->completion_window_ns = LANES_DEFAULT_COMPLETION_WINDOW_NS;
	t->starvation_max_read = LANES_DEFAULT_STARVATION_MAX_READ;
	t->starvation_max_write = LANES_DEFAULT_STARVATION_MAX_WRITE;
	t->writes_starved = LANES_DEFAULT_WRITES_STARVED;
	t->mode = LANES_MODE_AUTO;
	t->read_reserve = LANES_DEFAULT_READ_RESERVE;
	t->read_reserve_us = LANES_DEFAULT_READ_RESERVE_US;
}

/* Reads completed on a device, as totals since its binding. */
struct lanes_reads {
	u64 wait_ns;			/* time in the scheduler */
	u64 service_ns;			/* time at the device */
	u64 completed;
};

/* Where the current batch is. */
#define LANES_NO_BATCH 0xffffffffU

/*
 * One device's state, at its ufq id in the map lanes_status, where
 * `bpftool map dump name lanes_status` and `ufqctl get lanes` show it.
 * Changed under the device lock, and by init_dev() (the policy mutex) when
 * the device is bound or the programs are replaced; completions count into
 * per-CPU totals (struct lanes_reads) instead, which the window takes
 * differences of. Any mix of old and new fields a replacement may leave
 * for a moment is a valid state.
 */
struct lanes_dev {
	u32 dev;			/* the device (MKDEV) that has this id now */
	/* in effect: the autotuner's choice, or the pinned mode */
	enum lanes_mode mode;
	u32 batch_max_read;
	u32 starvation_max_write;
	u32 write_depth;		/* scheduler tags for non-reads; 0: not set */

	/* dispatch */
	u32 lane;			/* of the current batch, LANES_NO_BATCH before any */
	u32 batch;			/* dispatched in the current batch */
	u32 read_batches;		/* read batches started in a row while writes waited */
	u32 reads_over_writes;		/* reads dispatched while writes waited */
	u32 writes_over_reads;		/* writes dispatched while reads waited */
	enum lanes_mode candidate;	/* mode the last window pointed to */
	u64 epoch_ns[LANES_NR];		/* deadline group 0 of each lane */
	u32 window_ns[LANES_NR];	/* and the window its groups are counted in */
	u64 reads_until_ns;		/* the read reserve holds until then */

	/* the current window of the autotuner */
	u64 window_start_ns;
	u64 dispatched[LANES_NR];	/* requests dispatched, by lane */
	struct lanes_reads reads_at_start; /* completed reads before the window */

	/* totals, for users */
	u64 expired_writes;		/* writes dispatched because their deadline passed */
	u64 reserve_holds;		/* dispatch() calls the read reserve held a write back in */
	u64 windows;			/* autotuner windows closed */
	u64 mode_changes;
};

static inline void lanes_dev_init(struct lanes_dev *d, const struct lanes_tunables *t,
				  u64 now)
{
	__builtin_memset(d, 0, sizeof(*d));
	d->epoch_ns[LANE_READ] = now;
	d->epoch_ns[LANE_WRITE] = now;
	d->window_ns[LANE_READ] = t->completion_window_ns;
	d->window_ns[LANE_WRITE] = t->completion_window_ns;
	d->mode = LANES_MODE_BALANCED;
	d->candidate = LANES_MODE_BALANCED;
	d->batch_max_read = t->batch_max_read;
	d->starvation_max_write = t->starvation_max_write;
	d->lane = LANES_NO_BATCH;
	d->window_start_ns = now;
}

/*
 * The device was bound again, or the programs replaced in place, and @d is
 * still its state: start dispatching afresh (the waiting requests are
 * offered again) but keep what the autotuner learnt and the totals.
 */
static inline void lanes_dev_rebind(struct lanes_dev *d, const struct lanes_tunables *t,
				    u64 now)
{
	enum lanes_mode mode = d->mode, candidate = d->candidate;
	u32 dev = d->dev, batch_max_read = d->batch_max_read;
	u32 starvation_max_write = d->starvation_max_write;
	u64 expired_writes = d->expired_writes, windows = d->windows;
	u64 reserve_holds = d->reserve_holds;
	u64 mode_changes = d->mode_changes;

	lanes_dev_init(d, t, now);
	d->dev = dev;
	d->mode = mode;
	d->candidate = candidate;
	d->batch_max_read = batch_max_read;
	d->starvation_max_write = starvation_max_write;
	d->expired_writes = expired_writes;
	d->reserve_holds = reserve_holds;
	d->windows = windows;
	d->mode_changes = mode_changes;
}

/* ---- classification and keys ------------------------------------------------------------ */

/* The class of a request with UFQ_RQ_* @flags and @bytes. */
static inline u32 lanes_classify(u64 flags, u32 bytes)
{
	if (flags & UFQ_RQ_DISCARD)
		return LANES_CLASS_WRITE;
	if (!(flags & UFQ_RQ_WRITE) || (flags & (UFQ_RQ_META | UFQ_RQ_PRIO)))
		return LANES_CLASS_READ;
	if (bytes <= LANES_SMALL_WRITE_BYTES)
		return LANES_CLASS_SMALL_WRITE;
	return LANES_CLASS_WRITE;
}

static inline u32 lanes_lane_of(u32 cls)
{
	return cls == LANES_CLASS_WRITE ? LANE_WRITE : LANE_READ;
}

/* How long after its arrival a request of @cls is due. */
static inline u64 lanes_delay_ns(u32 cls)
{
	if (cls == LANES_CLASS_WRITE)
		return LANES_WRITE_DELAY_NS;
	if (cls == LANES_CLASS_SMALL_WRITE)
		return LANES_SMALL_WRITE_DELAY_NS;
	return 0;
}

/*
 * A key is the deadline group in the top LANES_GROUP_BITS and the position
 * in 4 KiB units below: 2^28 groups are 25 days of 8 ms windows (7.5 hours
 * of the smallest, 100 us), 2^36 units are 256 TiB. The groups count from
 * the lane's epoch, with the window in force at the epoch: both move to the
 * present whenever the lane is empty (so a new completion_window_ns applies
 * from the next time the lane drains, and keys of waiting requests never
 * change meaning). Only a lane that never drains for that long reaches the
 * last group; from then on its newest requests are ordered by position
 * alone, and expired requests still go first, until it drains once.
 */
#define LANES_POS_BITS 36
#define LANES_GROUP_BITS (64 - LANES_POS_BITS)
#define LANES_POS_MAX ((1ULL << LANES_POS_BITS) - 1)
#define LANES_GROUP_MAX ((1ULL << LANES_GROUP_BITS) - 1)

static inline u64 lanes_key(u64 deadline_ns, u64 epoch_ns, u32 window_ns, u64 sector)
{
	u64 group = 0, pos = sector >> 3;

	if (window_ns == 0)
		window_ns = 1;
	if (deadline_ns > epoch_ns)
		group = (deadline_ns - epoch_ns) / window_ns;
	if (group > LANES_GROUP_MAX)
		group = LANES_GROUP_MAX;
	if (pos > LANES_POS_MAX)
		pos = LANES_POS_MAX;
	return group << LANES_POS_BITS | pos;
}

/*
 * The key of a request of class @cls at @sector that arrived at @arrival_ns,
 * going into lane @lane holding @nr_waiting requests at @now. An empty lane
 * starts its groups anew at @now.
 */
static inline u64 lanes_insert_key(struct lanes_dev *d, const struct lanes_tunables *t,
				   u32 cls, u64 sector, u64 arrival_ns, u32 nr_waiting, u64 now)
{
	bool write = lanes_lane_of(cls) == LANE_WRITE;
	u64 *epoch = write ? &d->epoch_ns[LANE_WRITE] : &d->epoch_ns[LANE_READ];
	u32 *window = write ? &d->window_ns[LANE_WRITE] : &d->window_ns[LANE_READ];

	if (!nr_waiting) {
		*epoch = now;
		*window = t->completion_window_ns;
	}
	return lanes_key(arrival_ns + lanes_delay_ns(cls), *epoch, *window, sector);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

/*
 * read_priority as a weight in 1/1024, like the scheduler's nice levels:
 * 1024 at 0, about 25% more per step below and 20% less per step above.
 */
static inline u64 lanes_read_weight(s32 read_priority)
{
	u64 w = 1024;
	int i;

	if (read_priority < -20)
		read_priority = -20;
	if (read_priority > 19)
		read_priority = 19;
	for (i = 0; i < 20; i++) {
		if (i < -read_priority)
			w = w * 5 / 4;
		else if (i < read_priority)
			w = w * 4 / 5;
	}
	return w;
}

static inline u32 lanes_clamp_bound(u64 v)
{
	if (v < 1)
		return 1;
	return v > LANES_MAX_BOUND ? LANES_MAX_BOUND : (u32)v;
}

/* Reads that may overtake waiting writes before the Write lane runs. */
static inline u32 lanes_reads_bound(const struct lanes_dev *d, const struct lanes_tunables *t)
{
	return lanes_clamp_bound((u64)d->starvation_max_write *
				 lanes_read_weight(t->read_priority) / 1024);
}

/* Writes that may overtake waiting reads before the Read lane runs. */
static inline u32 lanes_writes_bound(const struct lanes_tunables *t)
{
	return lanes_clamp_bound((u64)t->starvation_max_read * 1024 /
				 lanes_read_weight(t->read_priority));
}

/* What the kernel's queues and the device look like at dispatch time. */
struct lanes_view {
	u32 nr[LANES_NR];
	u64 oldest_wait_ns[LANES_NR];
	u32 nr_in_flight;		/* at the device, or on their way there */
	u32 slots;			/* the device's hardware tags; 0: unknown, no reserve */
	u64 now_ns;
};

enum lanes_from {
	LANES_FROM_KEY,		/* the lowest key: earliest deadline group, lowest position */
	LANES_FROM_OLDEST,	/* the request that waited longest */
};

struct lanes_choice {
	s32 lane;		/* -1: nothing to dispatch */
	enum lanes_from from;
	bool new_batch;
	bool held;		/* lane -1: the read reserve held a write back */
	u64 retry_ns;		/* when held: when the reserve lapses */
};

/*
 * A read arrived (@read) or another request did, at @now_ns: keeps the
 * read reserve up for read_reserve_us after a read.
 */
static inline void lanes_arrived(struct lanes_dev *d, const struct lanes_tunables *t, bool read,
				 u64 now_ns)
{
	d->reads_until_ns = ufq_reads_recent_until(d->reads_until_ns, read, now_ns,
						   (u64)t->read_reserve_us * 1000);
}

/* Whether the read reserve keeps a write that did not expire from the device now. */
static inline bool lanes_reserve_holds(const struct lanes_dev *d, const struct lanes_tunables *t,
				       const struct lanes_view *v)
{
	return ufq_read_reserve_holds(t->read_reserve, v->slots, v->nr_in_flight, v->now_ns,
				      d->reads_until_ns);
}

/* Which lane's turn it is, by the batch and starvation rules alone. */
static inline void lanes_pick_turn(const struct lanes_dev *d, const struct lanes_tunables *t,
				   const struct lanes_view *v, struct lanes_choice *p)
{
	u32 reads = v->nr[LANE_READ], writes = v->nr[LANE_WRITE];
	bool reads_starving, writes_starving, write_expired, read_expired;

	p->lane = -1;
	p->from = LANES_FROM_KEY;
	p->new_batch = true;
	p->held = false;
	p->retry_ns = 0;
	if (!reads && !writes)
		return;
	write_expired = writes && v->oldest_wait_ns[LANE_WRITE] >= LANES_WRITE_DELAY_NS;
	read_expired = reads && v->oldest_wait_ns[LANE_READ] >= LANES_READ_EXPIRE_NS;
	/* (The bounds are at least 1: no need to work them out at 0.) */
	writes_starving = writes && (write_expired || (d->reads_over_writes &&
			  d->reads_over_writes >= lanes_reads_bound(d, t)));
	reads_starving = reads && (read_expired || (d->writes_over_reads &&
			 d->writes_over_reads >= lanes_writes_bound(t)));

	/* An expired write goes at once, unless the reads are starving too. */
	if (write_expired && !reads_starving) {
		p->lane = LANE_WRITE;
		p->from = LANES_FROM_OLDEST;
		p->new_batch = d->lane != LANE_WRITE;
		return;
	}

	p->new_batch = false;
	p->lane = (s32)d->lane;
	if (d->lane == LANE_READ && reads && d->batch < d->batch_max_read && !writes_starving)
		return;
	if (d->lane == LANE_WRITE && writes && d->batch < t->batch_max_write && !reads_starving)
		return;

	p->new_batch = true;
	if (!writes)
		p->lane = LANE_READ;
	else if (!reads)
		p->lane = LANE_WRITE;
	else if (writes_starving || d->read_batches >= t->writes_starved)
		/* Both starving (small bounds, or both expired): take turns. */
		p->lane = reads_starving && d->lane == LANE_WRITE ? LANE_READ : LANE_WRITE;
	else
		p->lane = LANE_READ;
	if (p->lane == LANE_WRITE && write_expired)
		p->from = LANES_FROM_OLDEST;
}

/*
 * Which lane gives up its next request, and from where, into @p: the
 * lane whose turn it is, unless the read reserve holds its write back.
 * Changes nothing.
 */
static inline void lanes_pick(const struct lanes_dev *d, const struct lanes_tunables *t,
			      const struct lanes_view *v, struct lanes_choice *p)
{
	lanes_pick_turn(d, t, v, p);
	if (p->lane != LANE_WRITE || p->from == LANES_FROM_OLDEST || !lanes_reserve_holds(d, t, v))
		return;
	/* A waiting read goes instead, or nothing. */
	if (v->nr[LANE_READ]) {
		p->lane = LANE_READ;
		p->new_batch = d->lane != LANE_READ;
		return;
	}
	p->lane = -1;
	p->held = true;
	p->retry_ns = d->reads_until_ns - v->now_ns;	/* > 0: the reserve holds */
}

static inline u32 lanes_sat_inc(u32 v)
{
	return v == 0xffffffffU ? v : v + 1;
}

/* The request @p chose was dispatched; @v is the view @p was chosen from. */
static inline void lanes_dispatched(struct lanes_dev *d, const struct lanes_choice *p,
				    const struct lanes_view *v)
{
	bool write = p->lane == LANE_WRITE;

	if (p->new_batch) {
		d->batch = 0;
		if (write) {
			d->read_batches = 0;
			d->reads_over_writes = 0;
		} else {
			d->writes_over_reads = 0;
			if (v->nr[LANE_WRITE])
				d->read_batches = lanes_sat_inc(d->read_batches);
		}
	}
	d->lane = write ? LANE_WRITE : LANE_READ;
	d->batch = lanes_sat_inc(d->batch);
	if (write && v->nr[LANE_READ])
		d->writes_over_reads = lanes_sat_inc(d->writes_over_reads);
	if (!write && v->nr[LANE_WRITE])
		d->reads_over_writes = lanes_sat_inc(d->reads_over_writes);
	if (p->from == LANES_FROM_OLDEST)
		d->expired_writes++;
	if (write)
		d->dispatched[LANE_WRITE]++;
	else
		d->dispatched[LANE_READ]++;
}

/*
 * A request of @lane was dispatched directly from insert because nothing
 * else waited: account it as lanes_pick() would have chosen it with that
 * request alone in the queues.
 */
static inline void lanes_dispatched_alone(struct lanes_dev *d, const struct lanes_tunables *t,
					  int lane)
{
	struct lanes_view v;
	struct lanes_choice p;

	__builtin_memset(&v, 0, sizeof(v));
	if (lane == LANE_WRITE)
		v.nr[LANE_WRITE] = 1;
	else
		v.nr[LANE_READ] = 1;
	lanes_pick(d, t, &v, &p);
	lanes_dispatched(d, &p, &v);
}

/* ---- scheduler tags ---------------------------------------------------------------------- */

/*
 * Scheduler tags requests other than reads may hold in @mode, of
 * @nr_requests. blk-mq spreads a limit over the words of its tag bitmap,
 * rounding up in each: 4 words for the usual sizes (8 to 128 tags, see
 * docs/writing-a-policy.md), so a limit that is not a multiple of 4 may be
 * exceeded by up to 3 (6 of 8 would be no limit at all). Rounded down to a
 * multiple of 4 then, where that leaves one.
 */
static inline u32 lanes_write_depth(u32 mode, u32 nr_requests)
{
	u64 depth = mode == LANES_MODE_LATENCY ? nr_requests / 3 : (u64)nr_requests * 3 / 4;

	if (depth >= 4)
		depth &= ~3ULL;
	return depth ? (u32)depth : 1;
}

/* ---- autotuner --------------------------------------------------------------------------- */

/* What one window of the autotuner saw. */
struct lanes_window {
	u64 reads, writes;		/* dispatched */
	u64 read_wait_ns;		/* reads completed: summed time in the scheduler */
	u64 read_service_ns;		/*		    and at the device */
	u64 reads_completed;
};

/*
 * Ends the window: @w gets what it saw, given the read totals @now; the
 * next one starts at @now_ns.
 */
static inline void lanes_close_window(struct lanes_dev *d, const struct lanes_reads *now,
				      u64 now_ns, struct lanes_window *w)
{
	w->reads = d->dispatched[LANE_READ];
	w->writes = d->dispatched[LANE_WRITE];
	/* Totals only grow; differences of unsigned counters survive a wrap. */
	w->read_wait_ns = now->wait_ns - d->reads_at_start.wait_ns;
	w->read_service_ns = now->service_ns - d->reads_at_start.service_ns;
	w->reads_completed = now->completed - d->reads_at_start.completed;
	d->reads_at_start = *now;
	d->dispatched[LANE_READ] = 0;
	d->dispatched[LANE_WRITE] = 0;
	d->window_start_ns = now_ns;
}

/* The mode the tunable pins, or LANES_MODE_AUTO (also for a value out of range). */
static inline enum lanes_mode lanes_pinned_mode(const struct lanes_tunables *t)
{
	if (t->mode == LANES_MODE_BALANCED || t->mode == LANES_MODE_LATENCY ||
	    t->mode == LANES_MODE_THROUGHPUT)
		return t->mode;
	return LANES_MODE_AUTO;
}

/* The mode one window points to, given the mode in effect (for hysteresis). */
static inline enum lanes_mode lanes_mode_for(enum lanes_mode current,
					     const struct lanes_window *w)
{
	u64 wait, service;

	if (!w->reads && !w->writes)
		return current;			/* idle: nothing learnt */
	if (!w->reads || !w->writes)
		return LANES_MODE_BALANCED;	/* one direction: nothing to arbitrate */
	if (!w->reads_completed)
		return current;
	wait = w->read_wait_ns / w->reads_completed;
	service = w->read_service_ns / w->reads_completed;

	if (current == LANES_MODE_LATENCY)
		return wait * 2 > service ? LANES_MODE_LATENCY : LANES_MODE_BALANCED;
	if (wait > service)
		return LANES_MODE_LATENCY;
	if (current == LANES_MODE_THROUGHPUT)
		return w->writes >= 2 * w->reads ? LANES_MODE_THROUGHPUT : LANES_MODE_BALANCED;
	if (w->writes >= 4 * w->reads && wait * 2 <= service)
		return LANES_MODE_THROUGHPUT;
	return LANES_MODE_BALANCED;
}

static inline u32 lanes_cap(u64 v)
{
	if (v < 1)
		return 1;
	return v > LANES_MAX_BOUND ? LANES_MAX_BOUND : (u32)v;
}

/* The effective batch_max_read and starvation_max_write @mode aims at. */
static inline void lanes_mode_targets(u32 mode, const struct lanes_tunables *t,
				      u32 *batch_max_read, u32 *starvation_max_write)
{
	if (mode == LANES_MODE_LATENCY) {
		*batch_max_read = lanes_cap((u64)t->batch_max_read * 2);
		*starvation_max_write = lanes_cap((u64)t->starvation_max_write * 4);
	} else if (mode == LANES_MODE_THROUGHPUT) {
		*batch_max_read = lanes_cap(t->batch_max_read / 2);
		*starvation_max_write = lanes_cap(t->starvation_max_write / 4);
	} else {
		*batch_max_read = lanes_cap(t->batch_max_read);
		*starvation_max_write = lanes_cap(t->starvation_max_write);
	}
}

/* Halfway from @cur to @target, at least one step. */
static inline u32 lanes_step(u32 cur, u32 target)
{
	if (cur < target)
		return cur + (target - cur + 1) / 2;
	if (cur > target)
		return cur - (cur - target + 1) / 2;
	return cur;
}

/*
 * Closes a window: chooses the mode (or takes the pinned one) and moves the
 * effective values a step toward its targets. Returns true if the mode
 * changed.
 */
static inline bool lanes_tune(struct lanes_dev *d, const struct lanes_tunables *t,
			      const struct lanes_window *w)
{
	enum lanes_mode want, old = d->mode;
	u32 bmr, smw;

	if (lanes_pinned_mode(t) != LANES_MODE_AUTO) {
		want = lanes_pinned_mode(t);
		d->candidate = want;
		d->mode = want;
	} else {
		want = lanes_mode_for(d->mode, w);
		/* A change must be seen in two windows in a row. */
		if (want != d->mode && want == d->candidate)
			d->mode = want;
		d->candidate = want;
	}
	lanes_mode_targets(d->mode, t, &bmr, &smw);
	d->batch_max_read = lanes_step(d->batch_max_read, bmr);
	d->starvation_max_write = lanes_step(d->starvation_max_write, smw);
	d->windows++;
	if (d->mode != old)
		d->mode_changes++;
	return d->mode != old;
}

#endif /* UFQ_POLICY_LANES_H */
