/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decision core of the ioprio example policy: I/O priority classes with
 * expiry-based anti-starvation. Plain C, no BPF helpers: ioprio.bpf.c
 * compiles it into the policy, tests/unit/ioprio_example_test.cpp into a
 * host unit test.
 *
 * Requests wait in one kernel queue per class (real time, best effort,
 * idle), keyed by their level within the class, so a queue gives up its
 * most urgent level first and FIFO order within a level. A dispatch serves
 * the first class with requests in the order RT, BE, IDLE, unless a BE or
 * IDLE request has waited longer than its class's expiry time: then the
 * oldest request of that class goes first (the longest-starved class if
 * both have expired).
 */
#ifndef UFQ_EXAMPLE_IOPRIO_H
#define UFQ_EXAMPLE_IOPRIO_H

#include "ufq/btf_tags.h"
#include "ufq/ioprio.h"
#include "ufq/types.h"

/* Kernel queue numbers: the classes, most urgent first. */
enum iop_queue { IOP_RT = 0, IOP_BE = 1, IOP_IDLE = 2, IOP_NR_QUEUES = 3 };

#define IOP_DEFAULT_BE_EXPIRE_MS 250
#define IOP_DEFAULT_IDLE_EXPIRE_MS 2000

/* Expiry times stay below the kernel's watchdog (10 s by default). */
struct iop_tunables {
	/* how long a best-effort request may wait for real-time ones */
	u32 be_expire_ms UFQ_TUNABLE(IOP_DEFAULT_BE_EXPIRE_MS, 1, 9000);
	/* how long an idle request may wait for the others */
	u32 idle_expire_ms UFQ_TUNABLE(IOP_DEFAULT_IDLE_EXPIRE_MS, 1, 9000);
};

static inline void iop_tunables_default(struct iop_tunables *t)
{
	t->be_expire_ms = IOP_DEFAULT_BE_EXPIRE_MS;
	t->idle_expire_ms = IOP_DEFAULT_IDLE_EXPIRE_MS;
}

/* The queue of a request with I/O priority @ioprio (ufq_bpf_rq_ioprio()). */
static inline u32 iop_queue(u16 ioprio)
{
	switch (ufq_ioprio_class_or_be(ioprio)) {
	case UFQ_IOPRIO_CLASS_RT:
		return IOP_RT;
	case UFQ_IOPRIO_CLASS_IDLE:
		return IOP_IDLE;
	default:
		return IOP_BE;
	}
}

/* Its key in that queue: the level, 0 first. */
static inline u64 iop_key(u16 ioprio)
{
	return ufq_ioprio_level(ioprio);
}

/* What the kernel's queues look like at dispatch time. */
struct iop_view {
	u32 nr[IOP_NR_QUEUES];
	u64 oldest_wait_ns[IOP_NR_QUEUES];
};

struct iop_choice {
	int queue;	/* -1: nothing waits */
	bool oldest;	/* the queue's oldest request, not its lowest key */
};

static inline bool iop_expired(const struct iop_view *v, u32 q, u32 expire_ms)
{
	return v->nr[q] && v->oldest_wait_ns[q] > (u64)expire_ms * 1000000;
}

static inline struct iop_choice iop_choose(const struct iop_tunables *t, const struct iop_view *v)
{
	struct iop_choice c = { -1, false };
	bool be = iop_expired(v, IOP_BE, t->be_expire_ms);
	bool idle = iop_expired(v, IOP_IDLE, t->idle_expire_ms);
	u32 q;

	if (be && (!idle || v->oldest_wait_ns[IOP_BE] >= v->oldest_wait_ns[IOP_IDLE])) {
		c.queue = IOP_BE;
		c.oldest = true;
		return c;
	}
	if (idle) {
		c.queue = IOP_IDLE;
		c.oldest = true;
		return c;
	}
	for (q = 0; q < IOP_NR_QUEUES; q++) {
		if (v->nr[q]) {
			c.queue = (int)q;
			return c;
		}
	}
	return c;
}

#endif /* UFQ_EXAMPLE_IOPRIO_H */
