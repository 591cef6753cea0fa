// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy: a version of refuse_second (same policy name) whose init_dev
 * refuses every device, so the kernel rejects `ufqctl swap refuse_second
 * refuse_second_v2.bpf.o` while the policy serves a device: the link update
 * fails after ufqctl pinned the new maps, and the running programs, their
 * maps and pins must stay as they were (tests/vm/112-ufqctl-rollback.sh).
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#define ENODEV 19 /* errno values are not in vmlinux.h */

/* A map of its own, so that the swap has new maps to pin (and unpin again). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} rs_v2_refused SEC(".maps");

s32 UFQ_OP(refuse_second_v2_init_dev, struct ufq_sched *sched)
{
	u32 zero = 0;
	u64 *n = bpf_map_lookup_elem(&rs_v2_refused, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return -ENODEV;
}

s32 UFQ_OP(refuse_second_v2_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(refuse_second_v2_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

UFQ_POLICY(refuse_second,
	.init_dev = (void *)refuse_second_v2_init_dev,
	.insert = (void *)refuse_second_v2_insert,
	.dispatch = (void *)refuse_second_v2_dispatch,
);
