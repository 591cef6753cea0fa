#!/usr/bin/env bash
# The deadline policy serves a verified mixed workload, its tunables are in
# a BTF-typed map with mq-deadline's defaults, and a change is applied.
. "$(dirname "$0")/lib.sh"

make_nullb ufqp1 size=256 memory_backed=1
ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqp1
assert_policy ufqp1 deadline

map=/sys/fs/bpf/ufq/deadline/maps/dl_tunables
dump=$(bpftool -j map dump pinned "$map")
info "dl_tunables: $dump"
assert_eq "read_expire_ms" 500 "$(jq '.[0].formatted.value.read_expire_ms' <<<"$dump")"
assert_eq "writes_starved" 2 "$(jq '.[0].formatted.value.writes_starved' <<<"$dump")"
assert_eq "fifo_batch" 16 "$(jq '.[0].formatted.value.fifo_batch' <<<"$dump")"

fio_verify_job ufqp1 "$UFQ_OUT/040-a.json" 32 --rw=randrw --rwmixread=50
check_ufq_accounting ufqp1

# fifo_batch=1, writes_starved=0: still correct, just scheduled differently.
bpftool map update pinned "$map" key 0 0 0 0 value \
	0xf4 0x01 0 0  0x88 0x13 0 0  0 0 0 0  1 0 0 0
assert_eq "fifo_batch after update" 1 \
	"$(bpftool -j map dump pinned "$map" | jq '.[0].formatted.value.fifo_batch')"
fio_verify_job ufqp1 "$UFQ_OUT/040-b.json" 16 --rw=randrw --rwmixread=70
check_ufq_accounting ufqp1
assert_policy ufqp1 deadline
