/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ufq policy SDK: what a BPF policy includes.
 *
 * A policy is a struct ufq_ops in a ".struct_ops.link" section whose
 * callbacks place requests into the device's kernel-owned queues
 * (ufq_insert) and pick which queue dispatches next (ufq_dispatch*), or
 * dispatch a request directly from insert (ufq_direct_dispatch). The
 * kernel keeps every request: a policy that misbehaves only loses the
 * device, which falls back to FIFO. See Documentation/block/ufq-iosched.rst
 * in the kernel patches and policies/fifo.bpf.c for the smallest policy.
 */
#ifndef UFQ_BPF_H
#define UFQ_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "ufq/btf_tags.h"	/* UFQ_TUNABLE, UFQ_RANGE */
#include "ufq/model.h"		/* UFQ_MODEL_STRUCT, ufq_model_live */

/* Kernel constants that BTF does not carry. */
#define UFQ_NR_QUEUES 32
#define UFQ_U64_MAX ((u64)-1)

/* Place the request being inserted in @queue at @key (from ops.insert). */
extern s32 ufq_insert(struct ufq_sched *sched, struct request *rq, u32 queue,
		      u64 key) __ksym;
/*
 * Dispatch the request being inserted at once, behind the requests already
 * dispatched (from ops.insert): for a request the policy would dispatch
 * next anyway, it saves the dispatch() call.
 */
extern s32 ufq_direct_dispatch(struct ufq_sched *sched, struct request *rq) __ksym;
/* Dispatch the lowest key of @queue (from ops.dispatch). */
extern bool ufq_dispatch(struct ufq_sched *sched, u32 queue) __ksym;
/* Dispatch the first request with key >= @key (from ops.dispatch). */
extern bool ufq_dispatch_from(struct ufq_sched *sched, u32 queue, u64 key) __ksym;
/* Dispatch the request that waited longest in @queue (from ops.dispatch). */
extern bool ufq_dispatch_oldest(struct ufq_sched *sched, u32 queue) __ksym;
/* Queue state, from callbacks that hold the device lock. */
extern u32 ufq_queue_nr(struct ufq_sched *sched, u32 queue) __ksym;
extern u64 ufq_queue_first_key(struct ufq_sched *sched, u32 queue) __ksym;
extern u64 ufq_queue_oldest_wait_ns(struct ufq_sched *sched, u32 queue) __ksym;
/* Run dispatch again in @delay_ns (for policies that hold I/O back). */
extern void ufq_kick_after(struct ufq_sched *sched, u64 delay_ns) __ksym;
/* Give the device up: it falls back to FIFO with @reason in last_error. */
extern void ufq_abort(struct ufq_sched *sched, const char *reason) __ksym;
/*
 * Limit the scheduler tags per hardware queue that requests of @class
 * (UFQ_DEPTH_SYNC_READ, UFQ_DEPTH_SYNC_WRITE, UFQ_DEPTH_ASYNC) hold at once;
 * 0 removes the limit. From any callback; from init_dev() it takes effect
 * when the policy gets the device. Removed when the device leaves the policy.
 */
extern s32 ufq_set_depth_limit(struct ufq_sched *sched, u32 class, u32 depth) __ksym;

/*
 * A u64 of the policy's kept with a request until it is freed (0 at first,
 * kept across dispatch, requeue and in-place updates); from any callback.
 */
extern s32 ufq_rq_set_cookie(struct request *rq, u64 cookie) __ksym;
extern u64 ufq_rq_cookie(const struct request *rq) __ksym;

/* Requests the driver took from the scheduler and has not completed. */
static __always_inline u32 ufq_nr_in_flight(const struct ufq_sched *sched)
{
	return *(volatile const int *)&sched->nr_in_flight.counter;
}

/* Read-only request accessors. */
extern u64 ufq_rq_sector(const struct request *rq) __ksym;
extern u32 ufq_rq_bytes(const struct request *rq) __ksym;
extern u64 ufq_rq_flags(const struct request *rq) __ksym;
extern u16 ufq_rq_ioprio(const struct request *rq) __ksym;
extern u64 ufq_rq_cgroup_id(const struct request *rq) __ksym;
extern u64 ufq_rq_alloc_ns(const struct request *rq) __ksym;
extern u64 ufq_rq_insert_ns(const struct request *rq) __ksym;

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
 * a policy loaded by other means should apply its own when it finds the map
 * all zero.
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

#define UFQ_LICENSE char _license[] SEC("license") = "GPL"

#endif /* UFQ_BPF_H */
