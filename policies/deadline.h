/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Decision core of the deadline policy: mq-deadline's dispatch rules over
 * ufq's kernel-owned queues. Plain C, shared by deadline.bpf.c and the
 * host unit tests.
 *
 * Reads and writes wait in their own queue, sorted by sector. Requests are
 * dispatched in batches of up to fifo_batch in ascending sector order
 * within one direction; a batch ends early when no request lies at or
 * beyond the end of the previous one. A new batch prefers reads, but not
 * more than writes_starved times in a row while writes wait, and starts
 * from the oldest request of its direction if that one waited longer than
 * the direction's expiry time. A request that arrives while nothing else
 * waits is dispatched at once, accounted as dispatch() would have.
 */
#ifndef UFQ_POLICY_DEADLINE_H
#define UFQ_POLICY_DEADLINE_H

#include "ufq/types.h"
#include "ufq/btf_tags.h"

enum dl_dir { DL_READ = 0, DL_WRITE = 1, DL_NR_DIRS = 2 };

/* Queue numbers used in the kernel: one per direction. */
#define DL_QUEUE(dir) ((u32)(dir))

/*
 * Tunables, in mq-deadline's units, with mq-deadline's defaults. Expiry
 * times stay below the policy's watchdog (the kernel's default 10 s), so
 * that a deadline can never be later than the point where the kernel gives
 * up on the policy. UFQ_TUNABLE puts default and range into BTF for ufqctl;
 * dl_tunables_default() sets the same DL_DEFAULT_* values for a policy
 * loaded without ufqctl.
 */
#define DL_DEFAULT_READ_EXPIRE_MS 500
#define DL_DEFAULT_WRITE_EXPIRE_MS 5000
#define DL_DEFAULT_WRITES_STARVED 2
#define DL_DEFAULT_FIFO_BATCH 16

struct deadline_tunables {
	/* a read's deadline */
	u32 read_expire_ms UFQ_TUNABLE(DL_DEFAULT_READ_EXPIRE_MS, 0, 9999);
	/* a write's deadline */
	u32 write_expire_ms UFQ_TUNABLE(DL_DEFAULT_WRITE_EXPIRE_MS, 0, 9999);
	/* read batches before a write batch is due */
	u32 writes_starved UFQ_TUNABLE(DL_DEFAULT_WRITES_STARVED, 0, 1000);
	/* requests per batch */
	u32 fifo_batch UFQ_TUNABLE(DL_DEFAULT_FIFO_BATCH, 1, 1024);
};

static inline void dl_tunables_default(struct deadline_tunables *t)
{
	t->read_expire_ms = DL_DEFAULT_READ_EXPIRE_MS;
	t->write_expire_ms = DL_DEFAULT_WRITE_EXPIRE_MS;
	t->writes_starved = DL_DEFAULT_WRITES_STARVED;
	t->fifo_batch = DL_DEFAULT_FIFO_BATCH;
}

/* Per-device state. */
struct dl_state {
	u64 next_pos[DL_NR_DIRS];	/* sector after the last dispatch */
	u32 batching;			/* requests dispatched in this batch */
	u32 starved;			/* read batches while writes waited */
	u32 last_dir;
};

/* What the kernel's queues look like at dispatch time. */
struct dl_view {
	u32 nr[DL_NR_DIRS];
	u64 oldest_wait_ns[DL_NR_DIRS];
};

enum dl_start { DL_START_AT_POS, DL_START_OLDEST };

/* dl_state.batching before the first dispatch: no batch to continue. */
#define DL_NO_BATCH 0xffffffffU

struct dl_batch {
	int dir;		/* -1: nothing to dispatch */
	enum dl_start start;
};

/* A direction as an index the BPF verifier can bound. */
static inline int dl_dir(u32 dir)
{
	return dir == DL_WRITE ? DL_WRITE : DL_READ;
}

/*
 * Per-direction fields are read and written with constant indices: clang
 * may turn a variable index into arithmetic the verifier refuses.
 */
static inline u32 dl_nr(const struct dl_view *v, int dir)
{
	return dir == DL_WRITE ? v->nr[DL_WRITE] : v->nr[DL_READ];
}

static inline u64 dl_next_pos(const struct dl_state *s, int dir)
{
	return dir == DL_WRITE ? s->next_pos[DL_WRITE] : s->next_pos[DL_READ];
}

static inline void dl_state_init(struct dl_state *s)
{
	s->next_pos[DL_READ] = 0;
	s->next_pos[DL_WRITE] = 0;
	s->batching = DL_NO_BATCH;
	s->starved = 0;
	s->last_dir = DL_WRITE;
}

static inline u64 dl_expire_ns(const struct deadline_tunables *t, int dir)
{
	return (u64)(dir == DL_READ ? t->read_expire_ms : t->write_expire_ms) *
	       1000000ULL;
}

static inline bool dl_expired(const struct deadline_tunables *t,
			      const struct dl_view *v, int dir)
{
	u64 wait = dir == DL_WRITE ? v->oldest_wait_ns[DL_WRITE] :
				     v->oldest_wait_ns[DL_READ];

	return dl_nr(v, dir) && wait >= dl_expire_ns(t, dir);
}

/* May the current batch go on? It still has to find a request at pos. */
static inline bool dl_batch_continues(const struct dl_state *s,
				      const struct deadline_tunables *t,
				      const struct dl_view *v)
{
	return s->batching < t->fifo_batch && dl_nr(v, dl_dir(s->last_dir));
}

/*
 * Choose the direction and starting point of a new batch, accounting
 * read batches that overtook waiting writes.
 */
static inline struct dl_batch dl_new_batch(struct dl_state *s,
					   const struct deadline_tunables *t,
					   const struct dl_view *v)
{
	struct dl_batch b = { .dir = -1, .start = DL_START_AT_POS };

	if (v->nr[DL_READ]) {
		if (v->nr[DL_WRITE] && s->starved++ >= t->writes_starved)
			b.dir = DL_WRITE;
		else
			b.dir = DL_READ;
	} else if (v->nr[DL_WRITE]) {
		b.dir = DL_WRITE;
	} else {
		return b;
	}
	if (b.dir == DL_WRITE)
		s->starved = 0;
	if (dl_expired(t, v, b.dir))
		b.start = DL_START_OLDEST;
	return b;
}

/* A request of @dir ending at @end_sector was dispatched. */
static inline void dl_dispatched(struct dl_state *s, int dir, u64 end_sector,
				 bool new_batch)
{
	dir = dl_dir(dir);
	if (new_batch || (u32)dir != s->last_dir)
		s->batching = 0;
	s->batching++;
	s->last_dir = dir;
	if (dir == DL_WRITE)
		s->next_pos[DL_WRITE] = end_sector;
	else
		s->next_pos[DL_READ] = end_sector;
}

/*
 * A request of @dir starting at @sector was dispatched directly from insert
 * because nothing else waited, and ended at @end_sector. With it alone in
 * the queues, dispatch() would have picked it too: as part of the current
 * batch if the batch has room, runs in @dir and the request lies at or
 * beyond its position; else as a new batch of its own. Account it the same
 * way.
 */
static inline void dl_dispatched_alone(struct dl_state *s,
				       const struct deadline_tunables *t,
				       int dir, u64 sector, u64 end_sector)
{
	bool continues;

	dir = dl_dir(dir);
	continues = s->batching < t->fifo_batch && s->last_dir == (u32)dir &&
		    sector >= dl_next_pos(s, dir);
	if (!continues && dir == DL_WRITE)
		s->starved = 0;
	dl_dispatched(s, dir, end_sector, !continues);
}

#endif /* UFQ_POLICY_DEADLINE_H */
