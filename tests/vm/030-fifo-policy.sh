#!/usr/bin/env bash
# The fifo policy loads through ufqctl, serves verified I/O with every
# request accounted for, and unloads leaving the device as it was.
. "$(dirname "$0")/lib.sh"

make_nullb ufqp0 size=256 memory_backed=1 submit_queues=2
set_sched ufqp0 none

ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqp0
grep -q '\[ufq\]' /sys/block/ufqp0/queue/scheduler || fail "load did not select ufq"
assert_policy ufqp0 fifo
[ -e /sys/fs/bpf/ufq/fifo/link ] || fail "the policy link is not pinned"

fio_verify_job ufqp0 "$UFQ_OUT/030.json" 32
check_ufq_accounting ufqp0
assert_eq "policy errors" 0 "$(ufq_stat ufqp0 policy_errors)"
assert_eq "requests served by the fallback FIFO" 0 "$(ufq_stat ufqp0 fallback)"

ufqctl unload fifo
grep -q '\[none\]' /sys/block/ufqp0/queue/scheduler ||
	fail "unload did not restore the previous elevator: $(cat /sys/block/ufqp0/queue/scheduler)"
[ ! -e /sys/fs/bpf/ufq/fifo ] || fail "unload left pins behind"
