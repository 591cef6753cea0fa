// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy for ufqctl's generic tenants support (ufqctl tenant set, del
 * and list, ufqctl stats --tenants, tenant entries across ufqctl swap).
 *
 * Requests are dispatched in arrival order, directly from insert. The
 * tenants map tc_tenants holds per-cgroup settings: an enum and integers
 * with defaults and ranges, as a real policy's would. Every request of a
 * configured cgroup is counted in the device's entry of tc_status, in the
 * element of tenants[] whose cgroup is the request's (taken when first
 * seen, while one is free), with the tenant's weight as the policy last
 * read it: so a test sees each setting reach the policy and the live
 * figures reach ufqctl.
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

enum tc_class { TC_CLASS_BE = 0, TC_CLASS_LC = 1 };

struct tc_tenant {
	enum tc_class class UFQ_TUNABLE(0, 0, 1);
	u32 weight UFQ_TUNABLE(100, 1, 10000);
	u32 slo_us UFQ_TUNABLE(2000, 50, 10000000);
};

#define TC_MAX_TENANTS 4

UFQ_TENANTS_MAP(tc_tenants, struct tc_tenant, TC_MAX_TENANTS);

struct tc_live {
	u64 cgroup;		/* 0: unused */
	u64 requests;
	u64 bytes;
	u32 weight;		/* the setting, as the last request saw it */
	enum tc_class class;
};

struct tc_dev {
	u32 dev;		/* the device (MKDEV) that has this id now */
	u32 unmatched;		/* requests of configured cgroups beyond TC_MAX_TENANTS */
	struct tc_live tenants[TC_MAX_TENANTS];
};

#define TC_MAX_DEVICES 64

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TC_MAX_DEVICES);
	__type(key, u32);		/* struct ufq_sched.id */
	__type(value, struct tc_dev);
} tc_status SEC(".maps");

static struct tc_dev *tc_device(struct ufq_sched *sched)
{
	u32 id = sched->id;

	return bpf_map_lookup_elem(&tc_status, &id);
}

/* A device new to its id starts afresh; a rebind or an in-place swap keeps its figures. */
s32 UFQ_OP(tc_init_dev, struct ufq_sched *sched)
{
	struct tc_dev fresh = { .dev = sched->dev };
	struct tc_dev *d;
	u32 id = sched->id;

	if (id >= TC_MAX_DEVICES)
		return -28;	/* ENOSPC (not in vmlinux.h): more devices than entries */
	d = bpf_map_lookup_elem(&tc_status, &id);
	if (d && d->dev == sched->dev)
		return 0;
	return bpf_map_update_elem(&tc_status, &id, &fresh, BPF_ANY);
}

/* Called under the device lock: one request at a time per device. */
static void tc_count(struct ufq_sched *sched, struct request *rq)
{
	u64 cgroup = ufq_bpf_rq_cgroup_id(rq);
	struct tc_tenant *t = bpf_map_lookup_elem(&tc_tenants, &cgroup);
	struct tc_dev *d = tc_device(sched);
	struct tc_live *e = NULL;
	int i;

	if (!t || !d || d->dev != sched->dev)
		return;
	for (i = 0; i < TC_MAX_TENANTS; i++) {
		if (d->tenants[i].cgroup == cgroup) {
			e = &d->tenants[i];
			break;
		}
		if (!e && !d->tenants[i].cgroup)
			e = &d->tenants[i];
	}
	if (!e) {
		d->unmatched++;
		return;
	}
	e->cgroup = cgroup;
	e->requests++;
	e->bytes += ufq_bpf_rq_bytes(rq);
	e->weight = t->weight;
	e->class = t->class;
}

s32 UFQ_OP(tc_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	if (!(flags & UFQ_INSERT_REOFFER))
		tc_count(sched, rq);
	return ufq_bpf_direct_dispatch(sched, rq);
}

UFQ_POLICY(tenants_cfg,
	.insert = (void *)tc_insert,
	.init_dev = (void *)tc_init_dev,
);
