// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy: a new version of the deadline policy (same policy name) whose
 * maps changed, for `ufqctl swap deadline deadline_v2.bpf.o` and back
 * (tests/vm/125-ufqctl-swap-changed.sh):
 *
 *  - a new map, dl_v2_seen, comes before the tunables, so every BTF type id
 *    after it differs from the old object's;
 *  - the tunables map keeps its name and value size class but not its
 *    layout: members reordered, fifo_batch's range widened to 2048, a new
 *    member batch_bonus;
 *  - dl_devices (per-device state) and the SDK's maps are unchanged and
 *    must be kept.
 *
 * Each dispatch copies the tunables it sees into dl_v2_seen, so the test
 * can check that the running programs read the map ufqctl set.
 */
#include "ufq.bpf.h"
#include "ufq_stats.bpf.h"
#include "../../policies/deadline.h"

UFQ_LICENSE;

struct dl_v2_observed {
	u64 dispatches;
	u32 fifo_batch;
	u32 batch_bonus;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct dl_v2_observed);
} dl_v2_seen SEC(".maps");

struct deadline_v2_tunables {
	u32 batch_bonus UFQ_TUNABLE(3, 0, 10);
	u32 fifo_batch UFQ_TUNABLE(16, 1, 2048);
	u32 read_expire_ms UFQ_TUNABLE(500, 0, 9999);
	u32 write_expire_ms UFQ_TUNABLE(5000, 0, 9999);
	u32 writes_starved UFQ_TUNABLE(2, 0, 1000);
};

UFQ_TUNABLES_MAP(dl_tunables, struct deadline_v2_tunables);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct dl_state);
} dl_devices SEC(".maps");

/* The tunables in the decision core's layout; false if the map is missing. */
static bool tunables(struct deadline_tunables *t)
{
	struct dl_v2_observed *seen;
	struct deadline_v2_tunables *v;
	u32 zero = 0;

	v = bpf_map_lookup_elem(&dl_tunables, &zero);
	if (!v)
		return false;
	t->read_expire_ms = v->read_expire_ms;
	t->write_expire_ms = v->write_expire_ms;
	t->writes_starved = v->writes_starved;
	t->fifo_batch = v->fifo_batch;
	seen = bpf_map_lookup_elem(&dl_v2_seen, &zero);
	if (seen) {
		seen->fifo_batch = v->fifo_batch;
		seen->batch_bonus = v->batch_bonus;
		__sync_fetch_and_add(&seen->dispatches, 1);
	}
	return true;
}

s32 UFQ_OP(deadline_v2_init_dev, struct ufq_sched *sched)
{
	struct dl_state st;
	u32 id = sched->id;

	dl_state_init(&st);
	return bpf_map_update_elem(&dl_devices, &id, &st, BPF_ANY);
}

s32 UFQ_OP(deadline_v2_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	int dir = (ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE) ? DL_WRITE : DL_READ;

	return ufq_bpf_insert(sched, rq, DL_QUEUE(dir), ufq_bpf_rq_sector(rq));
}

void UFQ_OP(deadline_v2_dispatch, struct ufq_sched *sched)
{
	struct deadline_tunables t;
	struct dl_state *st;
	struct dl_view v;
	struct dl_batch b;
	u32 id = sched->id;
	bool ok;
	int dir;

	st = bpf_map_lookup_elem(&dl_devices, &id);
	if (!st || !tunables(&t)) {
		ufq_bpf_abort(sched, "deadline v2: no state for the device");
		return;
	}
	v.nr[DL_READ] = ufq_bpf_queue_nr(sched, DL_QUEUE(DL_READ));
	v.nr[DL_WRITE] = ufq_bpf_queue_nr(sched, DL_QUEUE(DL_WRITE));
	v.oldest_wait_ns[DL_READ] = ufq_bpf_queue_oldest_wait_ns(sched, DL_QUEUE(DL_READ));
	v.oldest_wait_ns[DL_WRITE] = ufq_bpf_queue_oldest_wait_ns(sched, DL_QUEUE(DL_WRITE));

	if (dl_batch_continues(st, &t, &v)) {
		dir = dl_dir(st->last_dir);
		if (ufq_bpf_dispatch_from(sched, DL_QUEUE(dir), dl_next_pos(st, dir))) {
			dl_dispatched(st, dir, sched->last_end_sector, false);
			return;
		}
	}

	b = dl_new_batch(st, &t, &v);
	if (b.dir < 0)
		return;
	dir = dl_dir(b.dir);
	ok = false;
	if (b.start == DL_START_AT_POS)
		ok = ufq_bpf_dispatch_from(sched, DL_QUEUE(dir), dl_next_pos(st, dir));
	if (!ok)
		ok = ufq_bpf_dispatch_oldest(sched, DL_QUEUE(dir));
	if (ok)
		dl_dispatched(st, dir, sched->last_end_sector, true);
}

void UFQ_OP(deadline_v2_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
}

UFQ_POLICY(deadline,
	.init_dev = (void *)deadline_v2_init_dev,
	.insert = (void *)deadline_v2_insert,
	.dispatch = (void *)deadline_v2_dispatch,
	.completed = (void *)deadline_v2_completed,
);
