// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that releases I/O only when enough time has passed, and
 * otherwise relies on ufq_bpf_kick_after() to be called again
 * (tests/vm/058-kick-after.sh).
 *
 * insert() queues every request (queue 0, arrival order) and never
 * dispatches. dispatch() releases one request if interval_us have passed
 * since the last release and asks for a kick when the next release is due;
 * else it holds everything back and asks for a kick after kick_delay_ns
 * (default 0: "as soon as the kernel allows"). After a queue run that
 * released a request and then held the others back, blk-mq does not run
 * the queue again by itself: the policy's I/O makes progress only if every
 * kick it asks for comes. A lost kick leaves every request waiting until
 * the watchdog (timeout_ms) makes the device fall back.
 *
 * The policy also measures the kicks. "Events" are what makes blk-mq run
 * the queue besides a kick: an insert, a completion (blk-mq restarts the
 * queue when a request is freed), a merge, a requeue. An event's own queue
 * run may come a little after the event and after a kick's run that saw
 * it, so only a stretch well clear of events tells kick runs apart: a
 * dispatch() call at least KO_SETTLE_NS after the last event, and the
 * next one with no event in between. With nothing in flight and no
 * insert (fio waits for the held requests), only kicks start queue runs
 * that reach dispatch(): ufq reports no work to blk-mq's rerun after an
 * empty run (BLK_MQ_BUDGET_DELAY, 3 ms rounded to jiffies, so it may come
 * at the next tick, microseconds later) while the policy holds every
 * request back (older kernels called dispatch() from those reruns too).
 * The time between the two calls is a sample: kicks asked for with delay
 * 0 make it the kernel's minimum of 100 us or more, a kick storm makes it
 * microseconds. early counts samples below 100 us (blk-mq reruns; all of
 * them in a storm), sum_gap_ns adds them all up for the mean.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#define KO_MIN_KICK_NS (100 * 1000ULL)
/* How long after an event a queue run can still be that event's. */
#define KO_SETTLE_NS (5 * 1000 * 1000ULL)

struct kick_tunables {
	u32 interval_us UFQ_TUNABLE(20000, 1, 100000);
	u32 kick_delay_ns UFQ_TUNABLE(0, 0, 100000000);
};

UFQ_TUNABLES_MAP(kick_tunables, struct kick_tunables);

struct kick_stats {
	u64 inserts;
	u64 dispatch_calls;
	u64 releases;		/* requests dispatched */
	u64 holds;		/* dispatch() calls that held back and asked for a kick */
	u64 completions;
	u64 samples;		/* kick delays measured */
	u64 early;		/* of which shorter than 100 us */
	u64 sum_gap_ns;		/* of all samples */
	u64 min_gap_ns;		/* the shortest, 0 if none */
	u64 max_gap_ns;
	u64 first_release_ns;
	u64 last_release_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct kick_stats);
} kick_stats SEC(".maps");

/* Under the device lock (insert, dispatch, merged) except events. */
static u64 ko_last_release_ns;
static u64 ko_events;		/* atomic: completions come without the lock */
static u64 ko_last_event_ns;	/* when the last event came */
static u64 ko_hold_ns;		/* the last hold, 0 after a release */
static u64 ko_hold_events;	/* ko_events at the last hold */
static bool ko_hold_settled;	/* the last hold came KO_SETTLE_NS after an event */
static u64 ko_seq;

static struct kick_stats *ko_stats(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&kick_stats, &zero);
}

static struct kick_tunables *ko_tun(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&kick_tunables, &zero);
}

static void ko_event(void)
{
	/* Count first: a dispatch() that sees the count sees the time too. */
	__sync_fetch_and_add(&ko_events, 1);
	ko_last_event_ns = bpf_ktime_get_ns();
}

s32 UFQ_OP(ko_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct kick_stats *st = ko_stats();

	ko_event();
	if (st)
		__sync_fetch_and_add(&st->inserts, 1);
	return ufq_bpf_insert(sched, rq, 0, ++ko_seq);
}

void UFQ_OP(ko_dispatch, struct ufq_sched *sched)
{
	struct kick_stats *st = ko_stats();
	struct kick_tunables *t = ko_tun();
	u64 now = bpf_ktime_get_ns(), interval, events, last_event, gap;

	if (!st || !t) {
		/* Cannot happen for array maps; never strand requests. */
		ufq_bpf_dispatch(sched, 0);
		return;
	}
	__sync_fetch_and_add(&st->dispatch_calls, 1);
	interval = (u64)(t->interval_us ?: 20000) * 1000;
	events = __sync_fetch_and_add(&ko_events, 0);

	/* A quiet stretch: the previous hold came well after the last event, none since. */
	if (ko_hold_ns && ko_hold_settled && events == ko_hold_events) {
		gap = now - ko_hold_ns;
		st->samples++;
		st->sum_gap_ns += gap;
		if (gap < KO_MIN_KICK_NS)
			st->early++;
		if (!st->min_gap_ns || gap < st->min_gap_ns)
			st->min_gap_ns = gap;
		if (gap > st->max_gap_ns)
			st->max_gap_ns = gap;
	}

	if (now - ko_last_release_ns >= interval && ufq_bpf_dispatch(sched, 0)) {
		ko_last_release_ns = now;
		st->releases++;
		if (!st->first_release_ns)
			st->first_release_ns = now;
		st->last_release_ns = now;
		/* The next release; a hold in this queue run asks for sooner. */
		ufq_bpf_kick_after(sched, interval);
		ko_hold_ns = 0;
		return;
	}
	st->holds++;
	ufq_bpf_kick_after(sched, t->kick_delay_ns);
	ko_hold_ns = now;
	ko_hold_events = events;
	/*
	 * ko_last_event_ns is read after the count: an event in between has
	 * a later time (not settled) and changes the count (no sample).
	 */
	last_event = ko_last_event_ns;
	ko_hold_settled = last_event < now && now - last_event >= KO_SETTLE_NS;
}

void UFQ_OP(ko_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	struct kick_stats *st = ko_stats();

	ko_event();
	if (st)
		__sync_fetch_and_add(&st->completions, 1);
}

void UFQ_OP(ko_merged, struct ufq_sched *sched, struct request *rq,
	    struct request *next)
{
	ko_event();
}

void UFQ_OP(ko_requeue, struct ufq_sched *sched, struct request *rq)
{
	ko_event();
}

UFQ_POLICY(kick_only,
	.insert = (void *)ko_insert,
	.dispatch = (void *)ko_dispatch,
	.completed = (void *)ko_completed,
	.merged = (void *)ko_merged,
	.requeue = (void *)ko_requeue,
	.timeout_ms = 5000,
);
