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

# Verified writes on the first 32 MiB while a reader works on the rest.
reader=(--name=reader --filename=/dev/ufqp1 --direct=1 --ioengine=libaio
	--iodepth=8 --rw=randread --bs=4k --offset=128M --size=64M)
fio_verify_job ufqp1 "$UFQ_OUT/040-a.json" 32 "${reader[@]}"
assert_ge "reads by the reader" 1 \
	"$(jq '.jobs[] | select(.jobname == "reader") | .read.total_ios' "$UFQ_OUT/040-a.json")"
check_ufq_accounting ufqp1

# fifo_batch=1, writes_starved=0: still correct, just scheduled differently.
bpftool map update pinned "$map" key 0 0 0 0 value \
	0xf4 0x01 0 0  0x88 0x13 0 0  0 0 0 0  1 0 0 0
assert_eq "fifo_batch after update" 1 \
	"$(bpftool -j map dump pinned "$map" | jq '.[0].formatted.value.fifo_batch')"
fio_verify_job ufqp1 "$UFQ_OUT/040-b.json" 16 "${reader[@]}"
check_ufq_accounting ufqp1
assert_policy ufqp1 deadline
