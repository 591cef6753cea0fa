// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that checks the callback contract of the kernel: every request
 * offered to the serving policy ends in exactly one of finish() (after
 * completed() if it completed) or merged() as next, unless the device leaves
 * the policy first (exit_dev()), and an in-place update of the policy's
 * programs (ufqctl swap) changes none of that: the requests the old programs
 * were offered report to the new ones (tests/vm/055-callback-balance.sh).
 *
 * Every request the policy is offered is recorded in bal_rqs, keyed by its
 * address, with the device and the binding ("epoch") it was offered in; its
 * end removes it. A binding starts with an init_dev() for a device that is
 * not bound (no init_dev() since its last exit_dev()); an init_dev() for a
 * bound device is an in-place update and keeps the binding. That is also how
 * the policy tells the two kinds of UFQ_INSERT_REOFFER apart: a re-offer of
 * a request recorded in the current binding is one it was offered already
 * (re-offered to new programs after an in-place update), counted in
 * reoffered and not again in offered; any other re-offer (after a move from
 * another policy) is a new request for the policy. The request's address is
 * its identity while it lives: a request is recorded only between its offer
 * and its end, and blk-mq reuses its address only after freeing it.
 *
 * Per device (bal_devs, indexed by sched->id) the policy counts
 *
 *	offered      requests offered: inserts, and re-offers of requests not
 *	             recorded in the current binding
 *	reoffered    re-offers of requests recorded in the current binding
 *	completed    completed() calls
 *	finished     requests ended by finish()
 *	uncompleted  of which without a completed() before (none in the test:
 *	             every request completes)
 *	merged_next  requests ended by merged() as next
 *	moved_away   requests not ended when the device left the policy
 *	             (in_flight at exit_dev(); the kernel reports nothing for
 *	             them after that, by its rule)
 *	in_flight    offered - finished - merged_next - moved_away: the
 *	             requests the policy has on the device now
 *
 * and every breach of the contract in err_* and, summed, in imbalance:
 *
 *	err_unknown     completed(), finish(), merged() or requeue() of a
 *	                request not recorded: never offered, or ended already
 *	                (a second finish(), a finish() after merged())
 *	err_stale       one of those for a request of an earlier binding
 *	err_other_dev   one of those for a request recorded for another device
 *	err_twice       completed() twice without a requeue in between
 *	err_live_insert an insert (not a re-offer) of a request still recorded
 *	                in the current binding: the kernel never reported the
 *	                end of its previous life
 *	err_negative    in_flight went below zero
 *	err_map         bal_rqs was full
 *
 * Requests wait in queue 0 in arrival order; dispatch() moves up to
 * BAL_BATCH of them to the dispatch list at a time, so that on a busy
 * device dispatched requests wait there and can still be merged into (and
 * merged away into the requests they continue).
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#define BAL_MAX_DEVS 16
#define BAL_MAX_RQS 16384
#define BAL_BATCH 4

struct bal_dev {
	u64 bound;		/* 1 between init_dev() and exit_dev() */
	u64 epoch;		/* bindings of the device so far */
	u64 init_devs;		/* init_dev() calls */
	u64 updates;		/* of which for a bound device (in-place updates) */
	u64 exit_devs;		/* exit_dev() calls */
	u64 offered;
	u64 reoffered;
	u64 completed;
	u64 finished;
	u64 uncompleted;
	u64 merged_next;
	u64 requeued;
	u64 moved_away;
	s64 in_flight;
	u64 err_unknown;
	u64 err_stale;
	u64 err_other_dev;
	u64 err_twice;
	u64 err_live_insert;
	u64 err_negative;
	u64 err_map;
	u64 imbalance;		/* the sum of the err_* counters */
};

struct bal_rq {
	u64 epoch;		/* the binding it was offered in */
	u32 dev_id;		/* sched->id */
	u32 completed;		/* completed() seen since its offer or requeue */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BAL_MAX_DEVS);
	__type(key, u32);
	__type(value, struct bal_dev);
} bal_devs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BAL_MAX_RQS);
	__type(key, u64);
	__type(value, struct bal_rq);
} bal_rqs SEC(".maps");

/* Callbacks of one device run concurrently (completions): atomic counters. */
#define BAL_INC(d, field) __sync_fetch_and_add(&(d)->field, 1)
#define BAL_ERR(d, field)						\
	do {								\
		__sync_fetch_and_add(&(d)->field, 1);			\
		__sync_fetch_and_add(&(d)->imbalance, 1);		\
	} while (0)

static struct bal_dev *bal_dev(struct ufq_sched *sched)
{
	u32 id = sched->id;

	return bpf_map_lookup_elem(&bal_devs, &id);
}

/* A request's identity while it lives: its address. */
static u64 bal_key(struct request *rq)
{
	return (u64)rq;
}

static void bal_left(struct bal_dev *d)
{
	if (__sync_fetch_and_add(&d->in_flight, -1) <= 0)
		BAL_ERR(d, err_negative);
}

/*
 * The recorded request @rq, if it belongs to @sched's current binding;
 * counts the breach otherwise.
 */
static struct bal_rq *bal_lookup(struct ufq_sched *sched, struct bal_dev *d,
				 u64 *key)
{
	struct bal_rq *r = bpf_map_lookup_elem(&bal_rqs, key);

	if (!r) {
		BAL_ERR(d, err_unknown);
		return NULL;
	}
	if (r->dev_id != sched->id) {
		BAL_ERR(d, err_other_dev);
		return NULL;
	}
	if (r->epoch != d->epoch) {
		BAL_ERR(d, err_stale);
		return NULL;
	}
	return r;
}

s32 UFQ_OP(bal_init_dev, struct ufq_sched *sched)
{
	struct bal_dev *d = bal_dev(sched);

	if (!d)
		return -22; /* EINVAL: more devices than BAL_MAX_DEVS */
	BAL_INC(d, init_devs);
	/*
	 * Bound already: new programs of the policy (an in-place update),
	 * which keep the binding and its requests.
	 */
	if (d->bound) {
		BAL_INC(d, updates);
		return 0;
	}
	BAL_INC(d, epoch);
	d->in_flight = 0;
	d->bound = 1;
	return 0;
}

void UFQ_OP(bal_exit_dev, struct ufq_sched *sched)
{
	struct bal_dev *d = bal_dev(sched);
	s64 left;

	if (!d)
		return;
	BAL_INC(d, exit_devs);
	/* No callback comes for the requests the policy still has. */
	left = d->in_flight;
	if (left > 0)
		__sync_fetch_and_add(&d->moved_away, left);
	d->in_flight = 0;
	d->bound = 0;
}

s32 UFQ_OP(bal_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct bal_dev *d = bal_dev(sched);
	struct bal_rq *r, val = {};
	u64 key = bal_key(rq);

	if (!d)
		goto place;
	r = bpf_map_lookup_elem(&bal_rqs, &key);
	if (r && r->dev_id == sched->id && r->epoch == d->epoch) {
		if (flags & UFQ_INSERT_REOFFER) {
			/* Offered before, to the programs this one replaced. */
			BAL_INC(d, reoffered);
			goto place;
		}
		/* Its previous life never ended. */
		BAL_ERR(d, err_live_insert);
		bal_left(d);
	}
	val.epoch = d->epoch;
	val.dev_id = sched->id;
	if (bpf_map_update_elem(&bal_rqs, &key, &val, BPF_ANY))
		BAL_ERR(d, err_map);
	BAL_INC(d, offered);
	__sync_fetch_and_add(&d->in_flight, 1);
place:
	return ufq_bpf_insert(sched, rq, 0, ufq_bpf_rq_insert_ns(rq));
}

void UFQ_OP(bal_dispatch, struct ufq_sched *sched)
{
	int i;

	for (i = 0; i < BAL_BATCH; i++)
		if (!ufq_bpf_dispatch(sched, 0))
			break;
}

void UFQ_OP(bal_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	struct bal_dev *d = bal_dev(sched);
	u64 key = bal_key(rq);
	struct bal_rq *r;

	if (!d)
		return;
	BAL_INC(d, completed);
	r = bal_lookup(sched, d, &key);
	if (!r)
		return;
	if (__sync_lock_test_and_set(&r->completed, 1))
		BAL_ERR(d, err_twice);
}

void UFQ_OP(bal_finish, struct ufq_sched *sched, struct request *rq)
{
	struct bal_dev *d = bal_dev(sched);
	u64 key = bal_key(rq);
	struct bal_rq *r;

	if (!d)
		return;
	r = bal_lookup(sched, d, &key);
	if (!r)
		return;
	if (!r->completed)
		BAL_INC(d, uncompleted);
	bpf_map_delete_elem(&bal_rqs, &key);
	BAL_INC(d, finished);
	bal_left(d);
}

void UFQ_OP(bal_requeue, struct ufq_sched *sched, struct request *rq)
{
	struct bal_dev *d = bal_dev(sched);
	u64 key = bal_key(rq);
	struct bal_rq *r;

	if (!d)
		return;
	BAL_INC(d, requeued);
	r = bal_lookup(sched, d, &key);
	if (r)
		r->completed = 0;
}

void UFQ_OP(bal_merged, struct ufq_sched *sched, struct request *rq,
	    struct request *next)
{
	struct bal_dev *d = bal_dev(sched);
	u64 key = bal_key(next);

	if (!d)
		return;
	if (!bal_lookup(sched, d, &key))
		return;
	bpf_map_delete_elem(&bal_rqs, &key);
	BAL_INC(d, merged_next);
	bal_left(d);
}

UFQ_POLICY(balance,
	.init_dev = (void *)bal_init_dev,
	.exit_dev = (void *)bal_exit_dev,
	.insert = (void *)bal_insert,
	.dispatch = (void *)bal_dispatch,
	.completed = (void *)bal_completed,
	.finish = (void *)bal_finish,
	.requeue = (void *)bal_requeue,
	.merged = (void *)bal_merged,
	.timeout_ms = 30000,
);
