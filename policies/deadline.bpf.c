// SPDX-License-Identifier: GPL-2.0
/*
 * deadline: mq-deadline's scheduling as a ufq policy.
 *
 * Reads and writes wait in their own kernel queue keyed by sector, unless
 * nothing else waits: then a request is dispatched directly from insert.
 * The decision of which batch runs next is in deadline.h. Tunables live in the
 * BTF-typed map dl_tunables (ufqctl get deadline, ufqctl set deadline
 * fifo_batch=8) and are read at every dispatch, so changes take effect at
 * once. Completions feed the SDK's latency statistics and traces.
 */
#include "ufq.bpf.h"
#include "ufq_stats.bpf.h"
#include "deadline.h"

UFQ_LICENSE;

UFQ_TUNABLES_MAP(dl_tunables, struct deadline_tunables);

/*
 * Per-device state at the device's ufq id: an array lookup is cheaper than
 * a hash lookup, and insert() makes one for every request. A device whose
 * id is DL_MAX_DEVICES or more is refused by init_dev().
 */
#define DL_MAX_DEVICES 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DL_MAX_DEVICES);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct dl_state);
} dl_devices SEC(".maps");

static struct deadline_tunables *tunables(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&dl_tunables, &zero);
}

s32 UFQ_OP(deadline_init_dev, struct ufq_sched *sched)
{
	struct dl_state st;
	u32 id = sched->id;

	/* ufqctl writes the defaults at load; all zero: loaded some other way. */
	ufq_tunables_init(&dl_tunables, dl_tunables_default);
	dl_state_init(&st);
	/* Fails (-E2BIG) for an id beyond the map. */
	return bpf_map_update_elem(&dl_devices, &id, &st, BPF_ANY);
}

s32 UFQ_OP(deadline_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	int dir = (ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE) ? DL_WRITE : DL_READ;
	u64 sector = ufq_bpf_rq_sector(rq);
	struct deadline_tunables *t;
	struct dl_state *st;
	u32 id = sched->id;

	/*
	 * Alone in the scheduler, the request is the one dispatch() would
	 * pick next: dispatch it now and save the call. Not while others wait
	 * for the driver, or a busy device would take requests in arrival
	 * order instead of sector order.
	 */
	if (!sched->nr_waiting && !sched->nr_ready) {
		st = bpf_map_lookup_elem(&dl_devices, &id);
		t = tunables();
		if (st && t && !ufq_bpf_direct_dispatch(sched, rq)) {
			dl_dispatched_alone(st, t, dir, sector, sched->last_end_sector);
			return 0;
		}
	}
	return ufq_bpf_insert(sched, rq, DL_QUEUE(dir), sector);
}

void UFQ_OP(deadline_dispatch, struct ufq_sched *sched)
{
	struct deadline_tunables *t = tunables();
	struct dl_state *st;
	struct dl_view v;
	struct dl_batch b;
	u32 id = sched->id;
	bool ok;
	int dir;

	st = bpf_map_lookup_elem(&dl_devices, &id);
	if (!st || !t) {
		ufq_bpf_abort(sched, "deadline: no state for the device");
		return;
	}
	v.nr[DL_READ] = ufq_bpf_queue_nr(sched, DL_QUEUE(DL_READ));
	v.nr[DL_WRITE] = ufq_bpf_queue_nr(sched, DL_QUEUE(DL_WRITE));
	v.oldest_wait_ns[DL_READ] = ufq_bpf_queue_oldest_wait_ns(sched, DL_QUEUE(DL_READ));
	v.oldest_wait_ns[DL_WRITE] = ufq_bpf_queue_oldest_wait_ns(sched, DL_QUEUE(DL_WRITE));

	/* Go on with the current batch if a request lies ahead of it. */
	if (dl_batch_continues(st, t, &v)) {
		dir = dl_dir(st->last_dir);
		if (ufq_bpf_dispatch_from(sched, DL_QUEUE(dir), dl_next_pos(st, dir))) {
			dl_dispatched(st, dir, sched->last_end_sector, false);
			return;
		}
	}

	b = dl_new_batch(st, t, &v);
	if (b.dir < 0)
		return;
	dir = dl_dir(b.dir);
	ok = false;
	if (b.start == DL_START_AT_POS)
		ok = ufq_bpf_dispatch_from(sched, DL_QUEUE(dir), dl_next_pos(st, dir));
	/* Expired, or nothing beyond the last position: oldest first. */
	if (!ok)
		ok = ufq_bpf_dispatch_oldest(sched, DL_QUEUE(dir));
	if (ok)
		dl_dispatched(st, dir, sched->last_end_sector, true);
}

void UFQ_OP(deadline_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
	ufq_sdk_completed(sched, rq, wait_ns, service_ns);
}

UFQ_POLICY(deadline,
	.init_dev = (void *)deadline_init_dev,
	.insert = (void *)deadline_insert,
	.dispatch = (void *)deadline_dispatch,
	.completed = (void *)deadline_completed,
);
