/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ufq policy SDK: what a BPF policy includes.
 *
 * A policy is a struct ufq_ops in a ".struct_ops.link" section whose
 * callbacks place requests into the device's kernel-owned queues
 * (ufq_bpf_insert) and pick which queue dispatches next (ufq_bpf_dispatch*), or
 * dispatch a request directly from insert (ufq_bpf_direct_dispatch). The
 * kernel keeps every request: a policy that misbehaves only loses the
 * device, which falls back to FIFO. docs/writing-a-policy.md is the guide;
 * Documentation/block/ufq-iosched.rst in the kernel patches is the
 * contract; policies/fifo.bpf.c is the smallest policy.
 *
 * Installed by `make install` under $(PREFIX)/include/ufq with a vmlinux.h
 * of the ufq kernel; `pkg-config --cflags ufq` gives the compiler flags.
 */
#ifndef UFQ_BPF_H
#define UFQ_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ufq/btf_tags.h"	/* UFQ_TUNABLE, UFQ_RANGE */
#include "ufq/ioprio.h"		/* ufq_ioprio_class(), ufq_ioprio_level() */
#include "ufq/model.h"		/* UFQ_MODEL_STRUCT, ufq_model_live */
#include "ufq/rq_flags.h"	/* checks vmlinux.h's UFQ_RQ_* against the SDK's */

/* Kernel constants that BTF does not carry. */
#define UFQ_NR_QUEUES 32
#define UFQ_U64_MAX ((u64)-1)

/*
 * Place the request being inserted in @queue at @key (from ops.insert).
 * Returns 0 when placed; -EEXIST if the request was placed already (by an
 * earlier ufq_bpf_insert() or ufq_bpf_direct_dispatch(): it stays where it is);
 * -EPERM outside insert, or -EINVAL for a bad queue, another request or a
 * policy without dispatch: those are contract violations, and the device
 * falls back to FIFO as soon as insert returns. What insert itself returns
 * only matters if it leaves the request unplaced: that is a violation too,
 * and the value goes into last_error ("insert() failed with <errno>").
 */
extern s32 ufq_bpf_insert(struct ufq_sched *sched, struct request *rq, u32 queue,
		      u64 key) __ksym;
/*
 * Dispatch the request being inserted at once, behind the requests already
 * dispatched (from ops.insert): for a request the policy would dispatch
 * next anyway, it saves the dispatch() call. Returns 0 when dispatched,
 * -EEXIST if already placed, -EPERM or -EINVAL (violations) as ufq_bpf_insert().
 */
extern s32 ufq_bpf_direct_dispatch(struct ufq_sched *sched, struct request *rq) __ksym;
/*
 * The ufq_bpf_dispatch*() kfuncs move one request to the end of the device's
 * dispatch list and return true, or false when the queue has none to give
 * (also for a bad queue or outside dispatch, which are violations).
 * dispatch() is called when the driver can take a request and the FIFO
 * and the dispatch list are empty, and again for the next one: moving one
 * request per call is the normal case and keeps every decision as late as
 * possible. Moving several is allowed; the driver then takes them in that
 * order without further dispatch() calls (sched->nr_ready counts them).
 */
/* Dispatch the lowest key of @queue (from ops.dispatch). */
extern bool ufq_bpf_dispatch(struct ufq_sched *sched, u32 queue) __ksym;
/* Dispatch the first request with key >= @key (from ops.dispatch). */
extern bool ufq_bpf_dispatch_from(struct ufq_sched *sched, u32 queue, u64 key) __ksym;
/* Dispatch the request that waited longest in @queue (from ops.dispatch). */
extern bool ufq_bpf_dispatch_oldest(struct ufq_sched *sched, u32 queue) __ksym;
/*
 * Queue state, from callbacks that hold the device lock (insert, dispatch,
 * allow_merge, merged). For an empty queue: 0 requests, first key
 * UFQ_U64_MAX (also a valid key: check ufq_bpf_queue_nr() to tell), oldest
 * wait 0. The wait is measured at one instant per callback.
 */
extern u32 ufq_bpf_queue_nr(struct ufq_sched *sched, u32 queue) __ksym;
extern u64 ufq_bpf_queue_first_key(struct ufq_sched *sched, u32 queue) __ksym;
extern u64 ufq_bpf_queue_oldest_wait_ns(struct ufq_sched *sched, u32 queue) __ksym;
/* Run dispatch again in @delay_ns (for policies that hold I/O back). */
extern void ufq_bpf_kick_after(struct ufq_sched *sched, u64 delay_ns) __ksym;
/* Give the device up: it falls back to FIFO with @reason in last_error. */
extern void ufq_bpf_abort(struct ufq_sched *sched, const char *reason) __ksym;
/*
 * Limit the scheduler tags per hardware queue that requests of @class
 * (UFQ_DEPTH_SYNC_READ, UFQ_DEPTH_SYNC_WRITE, UFQ_DEPTH_ASYNC) hold at once;
 * 0 removes the limit. From any callback; from init_dev() it takes effect
 * when the policy gets the device. Removed when the device leaves the policy.
 */
extern s32 ufq_bpf_set_depth_limit(struct ufq_sched *sched, u32 class, u32 depth) __ksym;

/*
 * A u64 of the policy's kept with a request until it is freed (0 at first,
 * kept across dispatch, requeue and in-place updates); from any callback.
 */
extern s32 ufq_bpf_rq_set_cookie(struct request *rq, u64 cookie) __ksym;
extern u64 ufq_bpf_rq_cookie(const struct request *rq) __ksym;

/*
 * Describe the request ufq_bpf_dispatch() (key 0), ufq_bpf_dispatch_from(key) or,
 * with UFQ_PEEK_OLDEST, ufq_bpf_dispatch_oldest() would take, without taking
 * it: 0, or -ENOENT (info zeroed) if there is none. From callbacks that
 * hold the device lock; initialise @info.
 */
extern s32 ufq_bpf_queue_peek(struct ufq_sched *sched, u32 queue, u64 key, u64 flags,
			  struct ufq_rq_info *info) __ksym;

/* Requests the driver took from the scheduler and has not completed. */
static __always_inline u32 ufq_nr_in_flight(const struct ufq_sched *sched)
{
	return *(volatile const int *)&sched->nr_in_flight.counter;
}

/*
 * The device's hardware tags: depth times the hardware queues that take
 * I/O, saturated (the slots of a read reserve, ufq/read_reserve.h). More
 * than the device has when its queues share one set of tags (SCSI hosts).
 */
static __always_inline u32 ufq_device_slots(const struct ufq_sched *sched)
{
	u64 slots = (u64)sched->hw_queue_depth * sched->nr_hw_queues;

	return slots < 0xffffffffULL ? (u32)slots : 0xffffffffU;
}

/*
 * Read-only request accessors, for the request passed to a callback.
 * ufq_bpf_rq_flags(): UFQ_RQ_* bits (include/ufq/rq_flags.h). ufq_bpf_rq_ioprio():
 * take it apart with ufq_ioprio_class() and ufq_ioprio_level()
 * (include/ufq/ioprio.h). In completed() and finish(), when the request's
 * bios are done, ufq_bpf_rq_bytes(), ufq_bpf_rq_cgroup_id() and ufq_bpf_rq_ioprio()
 * return what ufq recorded at dispatch.
 */
extern u64 ufq_bpf_rq_sector(const struct request *rq) __ksym;
extern u32 ufq_bpf_rq_bytes(const struct request *rq) __ksym;
extern u64 ufq_bpf_rq_flags(const struct request *rq) __ksym;
extern u16 ufq_bpf_rq_ioprio(const struct request *rq) __ksym;
extern u64 ufq_bpf_rq_cgroup_id(const struct request *rq) __ksym;
extern u64 ufq_bpf_rq_alloc_ns(const struct request *rq) __ksym;
extern u64 ufq_bpf_rq_insert_ns(const struct request *rq) __ksym;

/* A callback of a policy: UFQ_OP(deadline_insert, struct ufq_sched *sched, ...) */
#define UFQ_OP(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

/*
 * Define the policy: UFQ_POLICY(deadline, .insert = (void *)deadline_insert,
 * ...). The variable name is the policy's name, also used by ufqctl.
 */
#define UFQ_POLICY(__name, ...)						\
	SEC(".struct_ops.link") struct ufq_ops __name = {		\
		.name = #__name,					\
		__VA_ARGS__						\
	}

/*
 * Tunables: a one-entry array whose name ends in "_tunables" and whose
 * value is a struct of integers, members marked with UFQ_TUNABLE(default,
 * min, max). `ufqctl load --set`, `ufqctl set` and `ufqctl get` handle it
 * by member name. ufqctl writes the defaults before the policy is attached;
 * a policy loaded by other means (bpftool, a skeleton) finds the map all
 * zero: call ufq_tunables_init() from init_dev to apply the defaults then.
 */
#define UFQ_TUNABLES_MAP(map_name, tunables_type)			\
	struct {							\
		__uint(type, BPF_MAP_TYPE_ARRAY);			\
		__uint(max_entries, 1);					\
		__type(key, u32);					\
		__type(value, tunables_type);				\
	} map_name SEC(".maps")

/*
 * Model weights (include/ufq/model.h): map_name must end in "_model";
 * model_type is a struct made with UFQ_MODEL_STRUCT. mmap-able, because
 * ufqctl writes the inactive slot in place.
 */
#define UFQ_MODEL_MAP(map_name, model_type)				\
	struct {							\
		__uint(type, BPF_MAP_TYPE_ARRAY);			\
		__uint(max_entries, 1);					\
		__uint(map_flags, BPF_F_MMAPABLE);			\
		__type(key, u32);					\
		__type(value, model_type);				\
	} map_name SEC(".maps")

/*
 * Per-cgroup configuration ("tenants"): a hash map whose name ends in
 * "_tenants", keyed by cgroup v2 id (u64, what ufq_bpf_rq_cgroup_id() returns
 * and the cgroup directory's inode number), whose value is a struct of
 * integers marked with UFQ_TUNABLE like the tunables. `ufqctl tenant set
 * POLICY CGROUP_PATH name=value...` writes an entry (starting from the
 * defaults), `ufqctl tenant del` removes it, `ufqctl tenant list` shows
 * them; entries survive `ufqctl swap`. Live figures per tenant: the
 * policy's "_status" map (one entry per device id) may hold an array
 * member "tenants" of structs with a u64 member "cgroup"; `ufqctl tenant
 * list` and `ufqctl stats --tenants` show the element whose cgroup is the
 * tenant's. @max is the number of tenants the policy supports.
 */
#define UFQ_TENANTS_MAP(map_name, tenant_type, max)			\
	struct {							\
		__uint(type, BPF_MAP_TYPE_HASH);			\
		__uint(max_entries, max);				\
		__type(key, u64);					\
		__type(value, tenant_type);				\
	} map_name SEC(".maps")

/* Whether the @size bytes at @p are all zero. */
static __always_inline bool ufq_is_zero(const void *p, u32 size)
{
	u32 i;

	for (i = 0; i < size; i++)
		if (((const u8 *)p)[i])
			return false;
	return true;
}

/*
 * The tunables in @map (a UFQ_TUNABLES_MAP), after @set_defaults(t) if
 * they are all zero; NULL if the map has no entry. For init_dev, which
 * runs under a global mutex, so two devices cannot race here. Set the
 * defaults from the macros that the UFQ_TUNABLE tags use, so that they are
 * written once (policies/deadline.h):
 *
 *	#define MY_DEFAULT_BATCH 16
 *	struct my_tunables { u32 batch UFQ_TUNABLE(MY_DEFAULT_BATCH, 1, 64); };
 *	static void my_defaults(struct my_tunables *t) { t->batch = MY_DEFAULT_BATCH; }
 *	...
 *	ufq_tunables_init(&my_tunables, my_defaults);
 */
#define ufq_tunables_init(map, set_defaults)				\
	({								\
		u32 __ufq_zero = 0;					\
		__typeof__(*(map)->value) *__ufq_t =			\
			bpf_map_lookup_elem((map), &__ufq_zero);	\
		if (__ufq_t && ufq_is_zero(__ufq_t, sizeof(*__ufq_t)))	\
			set_defaults(__ufq_t);				\
		__ufq_t;						\
	})

/* In one file of a policy only. */
#define UFQ_LICENSE char _license[] SEC("license") = "GPL"

#endif /* UFQ_BPF_H */
