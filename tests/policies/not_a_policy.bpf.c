// SPDX-License-Identifier: GPL-2.0
/*
 * A BPF object without a struct ufq_ops: `ufqctl load` must refuse it with
 * one line and leave nothing behind (tests/unit/error_paths_test.cpp,
 * tests/vm/110-ufqctl-errors.sh).
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} nap_counter SEC(".maps");

SEC("tracepoint/block/block_rq_insert")
int nap_count(void *ctx)
{
	u32 zero = 0;
	u64 *c = bpf_map_lookup_elem(&nap_counter, &zero);

	if (c)
		__sync_fetch_and_add(c, 1);
	return 0;
}
