// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that checks the ordering of the kernel-owned queues.
 *
 * The kernel keeps a queue as a plain list while keys arrive in order and
 * builds a tree of it on the first key that does not; an empty queue
 * starts over as a list. This policy drives every kind of queue:
 *
 *	queue 0  keyed by arrival: keys always in order (list mode)
 *	queue 1  keyed by sector: random I/O sends it to tree mode, and
 *		 back to list mode whenever it runs empty
 *	queue 2  keyed by sector / 2^14: many requests share a key
 *
 * Each dispatch() takes one request by key from a queue, every eighth a
 * batch of up to QO_BATCH (so that requests pile up in the queues, yet
 * the checks see queues drained several steps in a row), and checks what
 * the queue reports between them: the first key never goes
 * down, and the length drops by exactly one per dispatched request. In
 * queue 1 the key is the sector, so the end of the request just dispatched
 * (ufq_sched.last_end_sector) must lie past the key asked for: past the
 * first key for ufq_bpf_dispatch(), past the middle of the queue's key range
 * for the ufq_bpf_dispatch_from() that starts every fourth batch there.
 * Queue 1 is held back while it has fewer than three requests, for up to
 * QO_HOLD_NS (ufq_bpf_kick_after() runs dispatch again), so that those
 * searches happen even where the CPU and not the device is the bottleneck
 * (a KASAN kernel). Before each dispatch ufq_bpf_queue_peek() describes the
 * request about to go: its key must be the one asked for, and the
 * dispatched request must end where the peeked one does (sector + bytes);
 * on a drained queue the peek finds nothing. qo_stats counts what was
 * checked and what was wrong, for tests/vm/035-queue-order.sh.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#define QO_NR_QUEUES 3
#define QO_BATCH 8
#define QO_HOLD_NS (20 * 1000 * 1000ULL)

struct qo_stats {
	u64 inserted[QO_NR_QUEUES];
	u64 out_of_order[QO_NR_QUEUES];	/* inserted below the previous key */
	u64 checks;			/* dispatches checked */
	u64 searches;			/* ufq_bpf_dispatch_from() calls checked */
	u64 peeks;			/* ufq_bpf_queue_peek() calls checked */
	u64 violations;			/* checks that failed */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct qo_stats);
} qo_stats SEC(".maps");

/* Written under the device lock; the test uses one device. */
static u64 qo_arrivals;
static u64 qo_last_key[QO_NR_QUEUES];
static u32 qo_next_queue;
static u32 qo_dispatches;
static u32 qo_batches;

static struct qo_stats *qo_get_stats(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&qo_stats, &zero);
}

s32 UFQ_OP(qo_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct qo_stats *st = qo_get_stats();
	u64 sector = ufq_bpf_rq_sector(rq), key;
	u32 queue = sector % QO_NR_QUEUES;

	/* Keep the bound check that the compiler knows to be redundant. */
	barrier_var(queue);
	if (queue >= QO_NR_QUEUES)
		queue = 0;
	if (queue == 0)
		key = ++qo_arrivals;
	else if (queue == 1)
		key = sector;
	else
		key = sector >> 14;
	if (st) {
		st->inserted[queue]++;
		if (key < qo_last_key[queue])
			st->out_of_order[queue]++;
		qo_last_key[queue] = key;
	}
	return ufq_bpf_insert(sched, rq, queue, key);
}

/*
 * The request just dispatched is the one ufq_bpf_queue_peek() described before:
 * its key is the first at or above @min_key, it ends where that one ends.
 */
static void qo_check_peek(struct qo_stats *st, struct ufq_sched *sched,
			  const struct ufq_rq_info *info, bool peeked, u64 min_key)
{
	st->peeks++;
	if (!peeked || info->key < min_key || !info->bytes ||
	    sched->last_end_sector != info->sector + info->bytes / 512)
		st->violations++;
}

/* Dispatch up to @batch requests of @queue by key, checking each step. */
static u32 qo_drain(struct ufq_sched *sched, struct qo_stats *st, u32 queue,
		    u32 batch)
{
	struct ufq_rq_info info = {};
	bool peeked;
	u64 first, prev = 0, mid;
	u32 nr, i, sent = 0;

	nr = ufq_bpf_queue_nr(sched, queue);
	if (!nr) {
		if (!ufq_bpf_queue_peek(sched, queue, 0, UFQ_PEEK_OLDEST, &info))
			st->violations++;
		return 0;
	}
	if (queue == 1 && (qo_batches++ % 4) == 0 && nr > 2) {
		/* Between the first key and the last arrival's key. */
		first = ufq_bpf_queue_first_key(sched, queue);
		mid = first + (qo_last_key[1] > first ? (qo_last_key[1] - first) / 2 : 0);
		peeked = !ufq_bpf_queue_peek(sched, queue, mid, 0, &info);
		if (ufq_bpf_dispatch_from(sched, queue, mid)) {
			sent++;
			st->searches++;
			if (sched->last_end_sector <= mid)
				st->violations++;
			qo_check_peek(st, sched, &info, peeked, mid);
		} else if (peeked) {
			st->violations++;
		}
		if (ufq_bpf_queue_nr(sched, queue) != nr - sent)
			st->violations++;
		nr -= sent;
	}
	for (i = 0; i < QO_BATCH && i < batch && nr; i++) {
		first = ufq_bpf_queue_first_key(sched, queue);
		if (first < prev || first == UFQ_U64_MAX)
			st->violations++;
		peeked = !ufq_bpf_queue_peek(sched, queue, 0, 0, &info);
		if (!ufq_bpf_dispatch(sched, queue)) {
			st->violations++;
			break;
		}
		st->checks++;
		qo_check_peek(st, sched, &info, peeked, first);
		if (info.key != first)
			st->violations++;
		if (ufq_bpf_queue_nr(sched, queue) != nr - 1)
			st->violations++;
		if (queue == 1 && sched->last_end_sector <= first)
			st->violations++;
		nr--;
		prev = first;
		sent++;
	}
	return sent;
}

void UFQ_OP(qo_dispatch, struct ufq_sched *sched)
{
	struct qo_stats *st = qo_get_stats();
	u32 i, queue, batch, nr1;
	bool hold1;

	if (!st) {
		/* Cannot happen for an array map; never strand requests. */
		for (i = 0; i < QO_NR_QUEUES; i++)
			if (ufq_bpf_dispatch(sched, i))
				return;
		return;
	}
	nr1 = ufq_bpf_queue_nr(sched, 1);
	hold1 = nr1 && nr1 < 3 && ufq_bpf_queue_oldest_wait_ns(sched, 1) < QO_HOLD_NS;
	if (hold1)
		ufq_bpf_kick_after(sched, QO_HOLD_NS);
	batch = (qo_dispatches++ % 8) == 0 ? QO_BATCH : 1;
	for (i = 0; i < QO_NR_QUEUES; i++) {
		queue = (qo_next_queue + i) % QO_NR_QUEUES;
		if (queue == 1 && hold1)
			continue;
		if (qo_drain(sched, st, queue, batch)) {
			qo_next_queue = queue + 1;
			return;
		}
	}
}

UFQ_POLICY(queue_order,
	.insert = (void *)qo_insert,
	.dispatch = (void *)qo_dispatch,
);
