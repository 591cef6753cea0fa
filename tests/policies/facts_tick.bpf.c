// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy for the device facts in struct ufq_sched and the tick
 * (tests/vm/064-device-facts-tick.sh). A FIFO that dispatches directly
 * from insert. Per device (by sched->id) it keeps what init_dev() saw of
 * the device, the most requests in flight that insert() saw, and the
 * ticks: how many, and the in-flight count at the last one. The tick
 * aborts when the tunable abort_tick is set, to test that a policy's
 * tick ends with the policy.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#define FT_MAX_DEVS 64

struct ft_tunables {
	u32 abort_tick UFQ_TUNABLE(0, 0, 1);
};

UFQ_TUNABLES_MAP(ft_tunables, struct ft_tunables);

struct ft_dev {
	u32 dev;
	u32 nr_requests;
	u32 hw_queue_depth;
	u32 nr_hw_queues;
	u32 logical_block_size;
	u32 max_bytes;
	u32 rotational;
	u32 in_flight_max;	/* seen by insert() */
	u32 in_flight_tick;	/* at the last tick */
	u64 ticks;
	u64 exits;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FT_MAX_DEVS);
	__type(key, u32);
	__type(value, struct ft_dev);
} ft_devs SEC(".maps");

static struct ft_dev *ft_dev(struct ufq_sched *sched)
{
	u32 id = sched->id;

	return bpf_map_lookup_elem(&ft_devs, &id);
}

s32 UFQ_OP(ft_init_dev, struct ufq_sched *sched)
{
	struct ft_dev *d = ft_dev(sched);

	if (!d)
		return -7; /* E2BIG: more devices than FT_MAX_DEVS */
	d->dev = sched->dev;
	d->nr_requests = sched->nr_requests;
	d->hw_queue_depth = sched->hw_queue_depth;
	d->nr_hw_queues = sched->nr_hw_queues;
	d->logical_block_size = sched->logical_block_size;
	d->max_bytes = sched->max_bytes;
	d->rotational = sched->rotational;
	d->in_flight_max = 0;
	return 0;
}

void UFQ_OP(ft_exit_dev, struct ufq_sched *sched)
{
	struct ft_dev *d = ft_dev(sched);

	if (d)
		d->exits++;
}

s32 UFQ_OP(ft_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	struct ft_dev *d = ft_dev(sched);
	u32 in_flight = ufq_nr_in_flight(sched);

	if (d && in_flight > d->in_flight_max)
		d->in_flight_max = in_flight;
	return ufq_bpf_direct_dispatch(sched, rq);
}

void UFQ_OP(ft_tick, struct ufq_sched *sched)
{
	struct ft_dev *d = ft_dev(sched);
	struct ft_tunables *t;
	u32 zero = 0;

	if (!d)
		return;
	d->ticks++;
	d->in_flight_tick = ufq_nr_in_flight(sched);
	t = bpf_map_lookup_elem(&ft_tunables, &zero);
	if (t && t->abort_tick)
		ufq_bpf_abort(sched, "abort_tick is set");
}

UFQ_POLICY(facts_tick,
	.init_dev = (void *)ft_init_dev,
	.exit_dev = (void *)ft_exit_dev,
	.insert = (void *)ft_insert,
	.tick = (void *)ft_tick,
	.tick_ms = 20,
);
