/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Completion events for `ufqctl trace record`, shared by the SDK
 * (bpf/ufq_stats.bpf.h) and ufqctl.
 *
 * The SDK writes one struct ufq_trace_event per completed request to the
 * ring buffer map ufq_trace, but only while ufq_trace_ctl says a recording
 * of that device is on: otherwise the completed path costs one array lookup
 * and a compare. ufqctl turns recording on, drains the ring buffer and turns
 * it off again; docs/ufq-formats.md describes the file it writes.
 */
#ifndef UFQ_TRACE_H
#define UFQ_TRACE_H

#include "ufq/types.h"

/* Value of the one-entry array ufq_trace_ctl, written by ufqctl. */
struct ufq_trace_ctl {
	u32 dev;	/* struct ufq_sched.dev being recorded */
	u32 on;		/* non-zero while recording */
	u32 pid;	/* the recording ufqctl, to detect one that died */
	u32 reserved;
	u64 dropped;	/* events lost because the ring buffer was full */
};

/* One completed request: what a policy saw of it, and how long it took. */
struct ufq_trace_event {
	u64 complete_ns;	/* bpf_ktime_get_ns() at completion (CLOCK_MONOTONIC) */
	u64 alloc_ns;		/* ufq_bpf_rq_alloc_ns() */
	u64 insert_ns;		/* ufq_bpf_rq_insert_ns() */
	u64 wait_ns;		/* insert to dispatch */
	u64 service_ns;		/* dispatch to completion */
	u64 sector;		/* ufq_bpf_rq_sector() */
	u64 flags;		/* ufq_bpf_rq_flags(): UFQ_RQ_* bits */
	u64 cgroup_id;		/* ufq_bpf_rq_cgroup_id() */
	u32 dev;		/* struct ufq_sched.dev */
	u32 bytes;		/* ufq_bpf_rq_bytes() */
	u32 nr_waiting;		/* requests waiting in the scheduler at completion */
	u16 ioprio;		/* ufq_bpf_rq_ioprio() */
	u16 reserved;
};

#endif /* UFQ_TRACE_H */
