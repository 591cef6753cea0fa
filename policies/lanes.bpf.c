// SPDX-License-Identifier: GPL-2.0
/*
 * lanes: flow-iosched 3.1's Emergency, Read and Write lanes as a ufq policy.
 *
 * ufq's own FIFO of requests inserted at the head is the Emergency lane.
 * The Read and Write lanes are kernel queues 0 and 1, keyed by deadline
 * group and sector; which lane dispatches next, the scheduler-tag limit of
 * writes, the read reserve of hardware tags and the once-a-second
 * autotuner are in lanes.h. Tunables are in the BTF-typed map
 * lanes_tunables (ufqctl get lanes, ufqctl set lanes mode=latency);
 * each device's state, with the mode and values in effect, is at its ufq
 * id in lanes_status (bpftool map dump name lanes_status).
 * Completions feed the SDK's statistics, by direction and by class
 * (0 read, 1 small write, 2 write: ufqctl stats).
 */
#include "ufq.bpf.h"
#include "ufq_class_stats.bpf.h"
#include "lanes.h"

UFQ_LICENSE;

UFQ_TUNABLES_MAP(lanes_tunables, struct lanes_tunables);

/* Devices with an id of LANES_MAX_DEVICES or more are refused by init_dev(). */
#define LANES_MAX_DEVICES 1024

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LANES_MAX_DEVICES);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct lanes_dev);
} lanes_status SEC(".maps");

/*
 * Completed reads per device, per CPU: completions run on any CPU, often
 * in interrupt context, and never share a cache line this way. The tick
 * adds the CPUs up.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LANES_MAX_DEVICES);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct lanes_reads);
} lanes_reads SEC(".maps");

#define LANES_MAX_CPUS 8192	/* NR_CPUS at most */

/* A request's cookie: its class plus a tag, so another policy's cookie is not taken for one. */
#define LANES_COOKIE_TAG 0x4c414e4500000000ULL	/* "LANE" */
#define LANES_COOKIE(cls) (LANES_COOKIE_TAG | (cls))
#define LANES_COOKIE_VALID(c) (((c) & ~0xffULL) == LANES_COOKIE_TAG && ((c) & 0xff) <= LANES_CLASS_WRITE)
#define LANES_COOKIE_CLASS(c) ((u32)((c) & 0xff))

static struct lanes_tunables *tunables(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&lanes_tunables, &zero);
}

static struct lanes_dev *device(struct ufq_sched *sched)
{
	u32 id = sched->id;

	return bpf_map_lookup_elem(&lanes_status, &id);
}

struct sum_reads_ctx {
	u32 id;
	struct lanes_reads sum;
};

static long sum_reads_cpu(u32 cpu, void *data)
{
	struct sum_reads_ctx *ctx = data;
	struct lanes_reads *r;

	r = bpf_map_lookup_percpu_elem(&lanes_reads, &ctx->id, cpu);
	if (!r)
		return 1;	/* past the last possible CPU */
	ctx->sum.wait_ns += r->wait_ns;
	ctx->sum.service_ns += r->service_ns;
	ctx->sum.completed += r->completed;
	return 0;
}

/*
 * The device's completed reads, over every CPU. bpf_loop(): the verifier
 * checks the body once, not once per possible CPU.
 */
static void sum_reads(struct ufq_sched *sched, struct lanes_reads *sum)
{
	struct sum_reads_ctx ctx = { .id = sched->id };

	bpf_loop(LANES_MAX_CPUS, sum_reads_cpu, &ctx, 0);
	*sum = ctx.sum;
}

/* The device's side of the view lanes_pick() decides on. */
static void look_at_device(struct ufq_sched *sched, struct lanes_view *v, u64 now_ns)
{
	/* Dispatched requests blk-mq has not taken yet will hold tags too. */
	v->nr_in_flight = ufq_nr_in_flight(sched) + sched->nr_ready;
	v->slots = ufq_device_slots(sched);
	v->now_ns = now_ns;
}

/* Limits the scheduler tags of everything but reads to what the mode allows. */
static void apply_write_depth(struct ufq_sched *sched, struct lanes_dev *d)
{
	u32 depth = lanes_write_depth(d->mode, sched->nr_requests);

	if (depth == d->write_depth)
		return;
	if (ufq_bpf_set_depth_limit(sched, UFQ_DEPTH_SYNC_WRITE, depth) ||
	    ufq_bpf_set_depth_limit(sched, UFQ_DEPTH_ASYNC, depth))
		return;		/* not applied: tried again at the next tick */
	d->write_depth = depth;
}

s32 UFQ_OP(lanes_init_dev, struct ufq_sched *sched)
{
	struct lanes_tunables *t;
	struct lanes_dev st, *d;
	u32 id = sched->id;
	int err;

	/* ufqctl writes the defaults at load; all zero: loaded some other way. */
	t = ufq_tunables_init(&lanes_tunables, lanes_tunables_default);
	if (!t)
		return -2; /* ENOENT (not in vmlinux.h); a one-entry array always has it */
	if (id >= LANES_MAX_DEVICES)
		return -28;	/* ENOSPC (not in vmlinux.h): more devices than entries */
	d = device(sched);
	if (d && d->dev == sched->dev) {
		/*
		 * Bound again, or the programs were replaced in place: the
		 * waiting requests are offered again and get keys from the new
		 * dispatch state; the autotuner keeps what it learnt.
		 */
		lanes_dev_rebind(d, t, bpf_ktime_get_ns());
	} else {
		lanes_dev_init(&st, t, bpf_ktime_get_ns());
		st.dev = sched->dev;
		sum_reads(sched, &st.reads_at_start);
		err = bpf_map_update_elem(&lanes_status, &id, &st, BPF_ANY);
		if (err)
			return err;
		d = device(sched);
		if (!d)
			return -2;	/* ENOENT: just written */
	}
	apply_write_depth(sched, d);
	return 0;
}

s32 UFQ_OP(lanes_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	u64 rq_flags = ufq_bpf_rq_flags(rq);
	u32 cls = lanes_classify(rq_flags, ufq_bpf_rq_bytes(rq));
	int lane = lanes_lane_of(cls);
	struct lanes_tunables *t = tunables();
	struct lanes_dev *d = device(sched);
	struct lanes_view v = {};
	u64 arrival = 0, key;

	/*
	 * The class, for completed(): a small write that grows by merging
	 * stays in the Read lane it was placed in, and is counted as such.
	 */
	ufq_bpf_rq_set_cookie(rq, LANES_COOKIE(cls));
	if (!t || !d)
		return ufq_bpf_insert(sched, rq, LANES_QUEUE(lane), 0);
	/* The reserve's bookkeeping only when it is on: this runs per request. */
	if (t->read_reserve) {
		arrival = ufq_bpf_rq_insert_ns(rq) ?: bpf_ktime_get_ns();
		/* Reads, not the Read lane's small writes: no reader, no reserve. */
		lanes_arrived(d, t, !(rq_flags & UFQ_RQ_WRITE), arrival);
		look_at_device(sched, &v, arrival);
	}
	/*
	 * Alone in the scheduler, the request is the one dispatch() would pick
	 * next, unless the read reserve holds it (never with @v all zero):
	 * dispatch it now and save the call.
	 */
	if (!sched->nr_waiting && !sched->nr_ready &&
	    (lane == LANE_READ || !lanes_reserve_holds(d, t, &v)) &&
	    !ufq_bpf_direct_dispatch(sched, rq)) {
		lanes_dispatched_alone(d, t, lane);
		return 0;
	}
	if (!t->read_reserve)
		arrival = ufq_bpf_rq_insert_ns(rq) ?: bpf_ktime_get_ns();
	key = lanes_insert_key(d, t, cls, ufq_bpf_rq_sector(rq), arrival,
			       ufq_bpf_queue_nr(sched, LANES_QUEUE(lane)), arrival);
	return ufq_bpf_insert(sched, rq, LANES_QUEUE(lane), key);
}

void UFQ_OP(lanes_dispatch, struct ufq_sched *sched)
{
	struct lanes_tunables *t = tunables();
	struct lanes_dev *d = device(sched);
	struct lanes_choice p;
	struct lanes_view v;
	u32 queue;
	bool ok;

	if (!t || !d) {
		ufq_bpf_abort(sched, "lanes: no state for the device");
		return;
	}
	v.nr[LANE_READ] = ufq_bpf_queue_nr(sched, LANES_QUEUE(LANE_READ));
	v.nr[LANE_WRITE] = ufq_bpf_queue_nr(sched, LANES_QUEUE(LANE_WRITE));
	v.oldest_wait_ns[LANE_READ] = ufq_bpf_queue_oldest_wait_ns(sched, LANES_QUEUE(LANE_READ));
	v.oldest_wait_ns[LANE_WRITE] = ufq_bpf_queue_oldest_wait_ns(sched, LANES_QUEUE(LANE_WRITE));
	look_at_device(sched, &v, bpf_ktime_get_ns());

	lanes_pick(d, t, &v, &p);
	if (p.lane < 0) {
		if (p.held) {
			/* ufq runs dispatch() as requests complete; this is for when reads stop */
			d->reserve_holds++;
			ufq_bpf_kick_after(sched, p.retry_ns);
		}
		return;
	}
	queue = LANES_QUEUE(p.lane == LANE_WRITE ? LANE_WRITE : LANE_READ);
	if (p.from == LANES_FROM_OLDEST)
		ok = ufq_bpf_dispatch_oldest(sched, queue);
	else
		ok = ufq_bpf_dispatch(sched, queue);
	if (ok)
		lanes_dispatched(d, &p, &v);
}

void UFQ_OP(lanes_completed, struct ufq_sched *sched, struct request *rq, u64 wait_ns,
	    u64 service_ns)
{
	u64 cookie = ufq_bpf_rq_cookie(rq);
	struct lanes_reads *r;
	u32 id = sched->id, cls;

	cls = LANES_COOKIE_VALID(cookie) ? LANES_COOKIE_CLASS(cookie) :
		lanes_classify(ufq_bpf_rq_flags(rq), ufq_bpf_rq_bytes(rq));
	ufq_sdk_completed_class(sched, rq, wait_ns, service_ns, cls);
	if (ufq_bpf_rq_flags(rq) & UFQ_RQ_WRITE)
		return;
	/*
	 * This CPU's totals. A completion interrupting another on the same
	 * CPU may lose an add: a statistic, like the SDK's histograms.
	 */
	r = bpf_map_lookup_elem(&lanes_reads, &id);
	if (!r)
		return;
	r->wait_ns += wait_ns;
	r->service_ns += service_ns;
	r->completed++;
}

/*
 * Every 100 ms: keep the write depth right (nr_requests may change), and
 * close the autotuner's window once a second, or at once when a pinned
 * mode differs from the one in effect. Under the device lock: summing the
 * read totals walks every possible CPU, once a second.
 */
void UFQ_OP(lanes_tick, struct ufq_sched *sched)
{
	struct lanes_tunables *t = tunables();
	struct lanes_dev *d = device(sched);
	struct lanes_window w;
	struct lanes_reads reads;
	u64 now = bpf_ktime_get_ns();
	bool pinned_change;

	if (!t || !d)
		return;
	pinned_change = lanes_pinned_mode(t) != LANES_MODE_AUTO && lanes_pinned_mode(t) != d->mode;
	if (now - d->window_start_ns >= LANES_TUNE_PERIOD_NS || pinned_change) {
		sum_reads(sched, &reads);
		lanes_close_window(d, &reads, now, &w);
		lanes_tune(d, t, &w);
	}
	apply_write_depth(sched, d);
}

UFQ_POLICY(lanes,
	.init_dev = (void *)lanes_init_dev,
	.insert = (void *)lanes_insert,
	.dispatch = (void *)lanes_dispatch,
	.completed = (void *)lanes_completed,
	.tick = (void *)lanes_tick,
	.tick_ms = 100,
);
