#!/usr/bin/env bash
# The kernel-owned queues keep key order (FIFO among equal keys) whether a
# queue is a list (keys in order) or a tree (keys out of order), across the
# switches between the two, under verified random writes on a slow device
# where requests pile up. tests/policies/queue_order.bpf.c checks every
# dispatch from inside the policy and counts what it saw.
. "$(dirname "$0")/lib.sh"

make_nullb ufqo0 size=64 memory_backed=1 irqmode=2 completion_nsec=1000000 \
	hw_queue_depth=4 submit_queues=1
ufqctl load "$POLICIES/queue_order.bpf.o" --dev ufqo0
assert_policy ufqo0 queue_order
# Room for 60 requests to wait beside the 4 on the device (the default is
# twice the device's depth).
echo 64 >/sys/block/ufqo0/queue/nr_requests

fio_verify_job ufqo0 "$UFQ_OUT/035.json" 16 --iodepth=32
check_ufq_accounting ufqo0
assert_policy ufqo0 queue_order
assert_eq "policy errors" 0 "$(ufq_stat ufqo0 policy_errors)"
assert_eq "requests served by the fallback FIFO" 0 "$(ufq_stat ufqo0 fallback)"

stats=$(bpftool -j map dump pinned /sys/fs/bpf/ufq/queue_order/maps/qo_stats |
	jq -c '.[0].formatted.value')
info "queue_order stats: $stats"
field() { jq "$1" <<<"$stats"; }
for q in 0 1 2; do
	assert_ge "requests inserted into queue $q" 500 "$(field ".inserted[$q]")"
done
assert_eq "out-of-order keys in queue 0 (keyed by arrival)" 0 "$(field '.out_of_order[0]')"
assert_ge "out-of-order keys in queue 1 (keyed by sector)" 100 "$(field '.out_of_order[1]')"
# Dispatches in batches: a queue holding several requests at once.
assert_ge "dispatches checked" 4000 "$(field .checks)"
assert_ge "searches by key checked" 20 "$(field .searches)"
assert_ge "dispatches checked against ufq_bpf_queue_peek()" 4000 "$(field .peeks)"
assert_eq "ordering violations" 0 "$(field .violations)"

ufqctl unload queue_order
