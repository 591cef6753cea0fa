// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy for scheduler-tag depth limits, request cookies and the tick
 * (tests/vm/062-depth-limits.sh).
 *
 * Reads wait in queue 0, writes in queue 1, both in arrival order, and
 * dispatch() serves reads first. Every tick (10 ms) the policy applies the
 * tunable write_depth as the limit of both write classes (0: none) and,
 * when it changed, starts a new measurement. Each request's class is kept
 * in its cookie at insert; finish() and merged() (for the request merged
 * away) take the request off its class's count by that cookie, so the
 * counts of held requests return to 0 only if every cookie came back as
 * it was set. held_max[] is the most requests of a class seen at once
 * between insert and finish: at most the scheduler tags the class held.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

enum { DL_READ = 1, DL_WRITE = 2 };	/* cookies */

struct dl_tunables {
	u32 write_depth UFQ_TUNABLE(0, 0, 2048);
};

UFQ_TUNABLES_MAP(dl_tunables, struct dl_tunables);

struct dl_stats {
	u64 held[3];		/* by cookie: inserted, not yet finished or merged away */
	u64 held_max[3];	/* since the limit last changed */
	u64 bad_cookie;		/* a request came back with a cookie it was not given */
	u64 ticks;
	u64 write_depth;	/* the limit applied, as the tick last set it */
	u64 set_errors;		/* ufq_bpf_set_depth_limit() failures */
	u64 nr_requests;	/* as the last tick saw it */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct dl_stats);
} dl_stats SEC(".maps");

static u64 dl_seq;

static struct dl_stats *dl_st(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&dl_stats, &zero);
}

/* A request of class @cookie is done with its tag (or was never given one). */
static void dl_release(struct dl_stats *st, u64 cookie)
{
	if (cookie == DL_READ)
		__sync_fetch_and_sub(&st->held[DL_READ], 1);
	else if (cookie == DL_WRITE)
		__sync_fetch_and_sub(&st->held[DL_WRITE], 1);
	else
		__sync_fetch_and_add(&st->bad_cookie, 1);
}

s32 UFQ_OP(dl_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct dl_stats *st = dl_st();
	bool write = ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE;
	u64 cookie = write ? DL_WRITE : DL_READ, held;

	/* A re-offer after an in-place update: counted when first offered. */
	if (st && !(flags & UFQ_INSERT_REOFFER && ufq_bpf_rq_cookie(rq))) {
		ufq_bpf_rq_set_cookie(rq, cookie);
		if (write) {
			held = __sync_fetch_and_add(&st->held[DL_WRITE], 1) + 1;
			if (held > st->held_max[DL_WRITE])
				st->held_max[DL_WRITE] = held;
		} else {
			held = __sync_fetch_and_add(&st->held[DL_READ], 1) + 1;
			if (held > st->held_max[DL_READ])
				st->held_max[DL_READ] = held;
		}
	}
	return ufq_bpf_insert(sched, rq, write, ++dl_seq);
}

void UFQ_OP(dl_dispatch, struct ufq_sched *sched)
{
	if (!ufq_bpf_dispatch(sched, 0))
		ufq_bpf_dispatch(sched, 1);
}

void UFQ_OP(dl_finish, struct ufq_sched *sched, struct request *rq)
{
	struct dl_stats *st = dl_st();

	if (st)
		dl_release(st, ufq_bpf_rq_cookie(rq));
}

void UFQ_OP(dl_merged, struct ufq_sched *sched, struct request *rq,
	    struct request *next)
{
	struct dl_stats *st = dl_st();

	if (st)
		dl_release(st, ufq_bpf_rq_cookie(next));
}

void UFQ_OP(dl_tick, struct ufq_sched *sched)
{
	struct dl_stats *st = dl_st();
	u32 zero = 0, depth;
	struct dl_tunables *t = bpf_map_lookup_elem(&dl_tunables, &zero);

	if (!st || !t)
		return;
	st->ticks++;
	st->nr_requests = sched->nr_requests;
	depth = t->write_depth;
	if (depth == st->write_depth)
		return;
	if (ufq_bpf_set_depth_limit(sched, UFQ_DEPTH_SYNC_WRITE, depth) ||
	    ufq_bpf_set_depth_limit(sched, UFQ_DEPTH_ASYNC, depth))
		st->set_errors++;
	st->write_depth = depth;
	st->held_max[DL_READ] = 0;
	st->held_max[DL_WRITE] = 0;
}

UFQ_POLICY(depth_limit,
	.insert = (void *)dl_insert,
	.dispatch = (void *)dl_dispatch,
	.finish = (void *)dl_finish,
	.merged = (void *)dl_merged,
	.tick = (void *)dl_tick,
	.tick_ms = 10,
);
