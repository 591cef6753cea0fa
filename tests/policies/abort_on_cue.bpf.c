// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that fails on cue, for the failure isolation tests
 * (tests/vm/057-failure-isolation.sh). abort_on_cue2.bpf.c builds the same
 * policy under another name, so that two of them can be registered at once:
 * one serving a device, the other a candidate for it or its successor.
 *
 * Requests wait in queue 0 in arrival order and are dispatched from there,
 * so the policy calls queue kfuncs from insert() and dispatch(). The cues are
 * tunables (aoc_tunables, set with `ufqctl set`):
 *
 *	init_abort      every init_dev() calls ufq_bpf_abort(), then spins for
 *	                spin_ms (still in init_dev(), outside the device lock)
 *	exit_abort      every exit_dev() calls ufq_bpf_abort(), then spins for
 *	                spin_ms
 *	complete_abort  1: the next completed() calls ufq_bpf_abort(); 2: the next
 *	                completed() spins for spin_ms, then calls ufq_bpf_abort()
 *	                and spins linger_ms more before it returns;
 *	                3: the first completed() delay_ms after the first one
 *	                that saw the cue calls ufq_bpf_abort(). The policy clears
 *	                the cue when it takes it.
 *	spin_ms         how long the spins last
 *	spin_cpu        complete_abort=2 is taken only by a completion on CPU
 *	                spin_cpu - 1 (0: on any CPU)
 *	linger_ms       see complete_abort=2
 *	delay_ms        the delay of complete_abort=3
 *
 * A spin keeps the failure of init_dev() or exit_dev() pending (it is
 * reported first, the call returns later) while the device's serving policy
 * goes on working on another CPU; a spinning completion that started while
 * the policy served the device makes its ufq_bpf_abort() a late one when the
 * device moves to another policy meanwhile (the move waits for it, in
 * synchronize_rcu()), and lingering after it keeps that failure pending
 * while the device's new policy works on another CPU.
 *
 * aoc_state counts what the policy saw; insert_errors counts ufq_bpf_insert()
 * calls that failed, which only happens when the kernel refuses the
 * policy's kfuncs, i.e. while a failure it is charged with is pending.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#ifndef AOC_NAME
#define AOC_NAME abort_on_cue
#endif
/* Expands AOC_NAME before UFQ_POLICY stringifies it. */
#define AOC_POLICY(name, ...) UFQ_POLICY(name, __VA_ARGS__)

#define AOC_BATCH 4
#define AOC_SPIN_CHUNKS 64

struct aoc_tunables {
	u32 init_abort UFQ_TUNABLE(0, 0, 1);
	u32 exit_abort UFQ_TUNABLE(0, 0, 1);
	u32 complete_abort UFQ_TUNABLE(0, 0, 3);
	u32 spin_ms UFQ_TUNABLE(0, 0, 3000);
	u32 spin_cpu UFQ_TUNABLE(0, 0, 1024);
	u32 linger_ms UFQ_TUNABLE(0, 0, 3000);
	u32 delay_ms UFQ_TUNABLE(0, 0, 3000);
};

UFQ_TUNABLES_MAP(aoc_tunables, struct aoc_tunables);

struct aoc_state {
	u64 inserts;
	u64 insert_errors;	/* ufq_bpf_insert() failed */
	s64 last_insert_error;	/* what it returned */
	u64 dispatches;
	u64 completions;
	u64 init_devs;
	u64 init_aborts;
	u64 exit_devs;
	u64 exit_aborts;
	u64 complete_aborts;
	u64 init_dev_ns;	/* bpf_ktime_get_ns() of the last init_dev() */
	u64 init_end_ns;	/* when it returned */
	u64 exit_dev_ns;	/* of the last exit_dev(), when it returned */
	u64 abort_ns;		/* the last ufq_bpf_abort() from completed() */
	u64 cue_seen_ns;	/* complete_abort=3: its first completed() */
	u64 spin_start_ns;	/* the last completion spin: when it started */
	u64 spin_end_ns;	/* and when it ended, just before ufq_bpf_abort() */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct aoc_state);
} aoc_state SEC(".maps");

static struct aoc_tunables *aoc_tun(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&aoc_tunables, &zero);
}

static struct aoc_state *aoc_st(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&aoc_state, &zero);
}

static long aoc_spin_cb(u64 i, void *ctx)
{
	u64 *end = ctx;

	return bpf_ktime_get_ns() >= *end;
}

/* Busy-wait for @ms milliseconds (at most what AOC_SPIN_CHUNKS loops take). */
static void aoc_spin(u32 ms)
{
	u64 end = bpf_ktime_get_ns() + (u64)ms * 1000000;
	int i;

	for (i = 0; i < AOC_SPIN_CHUNKS; i++) {
		if (bpf_ktime_get_ns() >= end)
			break;
		bpf_loop(1 << 22, aoc_spin_cb, &end, 0);
	}
}

s32 UFQ_OP(aoc_init_dev, struct ufq_sched *sched)
{
	struct aoc_tunables *t = aoc_tun();
	struct aoc_state *st = aoc_st();

	if (!t || !st)
		return 0;
	__sync_fetch_and_add(&st->init_devs, 1);
	st->init_dev_ns = bpf_ktime_get_ns();
	if (t->init_abort) {
		__sync_fetch_and_add(&st->init_aborts, 1);
		ufq_bpf_abort(sched, "abort_on_cue: init_dev() on cue");
		aoc_spin(t->spin_ms);
	}
	st->init_end_ns = bpf_ktime_get_ns();
	return 0;
}

void UFQ_OP(aoc_exit_dev, struct ufq_sched *sched)
{
	struct aoc_tunables *t = aoc_tun();
	struct aoc_state *st = aoc_st();

	if (!t || !st)
		return;
	__sync_fetch_and_add(&st->exit_devs, 1);
	if (t->exit_abort) {
		__sync_fetch_and_add(&st->exit_aborts, 1);
		ufq_bpf_abort(sched, "abort_on_cue: exit_dev() on cue");
		aoc_spin(t->spin_ms);
	}
	st->exit_dev_ns = bpf_ktime_get_ns();
}

s32 UFQ_OP(aoc_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct aoc_state *st = aoc_st();
	s32 ret;

	ret = ufq_bpf_insert(sched, rq, 0, ufq_bpf_rq_insert_ns(rq));
	if (st) {
		__sync_fetch_and_add(&st->inserts, 1);
		if (ret < 0) {
			__sync_fetch_and_add(&st->insert_errors, 1);
			st->last_insert_error = ret;
		}
	}
	return ret;
}

void UFQ_OP(aoc_dispatch, struct ufq_sched *sched)
{
	struct aoc_state *st = aoc_st();
	int i;

	if (st)
		__sync_fetch_and_add(&st->dispatches, 1);
	for (i = 0; i < AOC_BATCH; i++)
		if (!ufq_bpf_dispatch(sched, 0))
			break;
}

void UFQ_OP(aoc_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	struct aoc_tunables *t = aoc_tun();
	struct aoc_state *st = aoc_st();
	u64 now, seen;
	u32 cue;

	if (!t || !st)
		return;
	__sync_fetch_and_add(&st->completions, 1);
	cue = t->complete_abort;
	if (!cue)
		return;
	if (cue == 3) {
		now = bpf_ktime_get_ns();
		seen = st->cue_seen_ns;
		if (!seen) {
			__sync_val_compare_and_swap(&st->cue_seen_ns, 0, now);
			return;
		}
		if (now - seen < (u64)t->delay_ms * 1000000)
			return;
	}
	if (cue == 2 && t->spin_cpu && bpf_get_smp_processor_id() != t->spin_cpu - 1)
		return;
	if (__sync_val_compare_and_swap(&t->complete_abort, cue, 0) != cue)
		return;
	st->cue_seen_ns = 0;
	__sync_fetch_and_add(&st->complete_aborts, 1);
	if (cue == 2) {
		st->spin_start_ns = bpf_ktime_get_ns();
		aoc_spin(t->spin_ms);
		st->spin_end_ns = bpf_ktime_get_ns();
	}
	st->abort_ns = bpf_ktime_get_ns();
	ufq_bpf_abort(sched, "abort_on_cue: completed() on cue");
	if (cue == 2)
		aoc_spin(t->linger_ms);
}

AOC_POLICY(AOC_NAME,
	.init_dev = (void *)aoc_init_dev,
	.exit_dev = (void *)aoc_exit_dev,
	.insert = (void *)aoc_insert,
	.dispatch = (void *)aoc_dispatch,
	.completed = (void *)aoc_completed,
	.timeout_ms = 30000,
);
