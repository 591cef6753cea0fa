#!/usr/bin/env bash
# Failures half-way: the kernel refuses a device after ufqctl switched it to
# ufq (tests/policies/refuse_second.bpf.c serves one device and refuses the
# next). ufqctl undoes everything: every device gets back its elevator, or
# the policy it was bound to, and nothing stays pinned, recorded or
# registered. A policy is looked up before a device is switched. A swap the
# kernel refuses leaves the running programs and their pins.
. "$(dirname "$0")/lib.sh"

make_nullb ufqb0 size=64
make_nullb ufqb1 size=64
make_nullb ufqb2 size=64
set_sched ufqb0 mq-deadline
set_sched ufqb1 kyber
set_sched ufqb2 mq-deadline
D=(ufqb0 ufqb1 ufqb2 --)
# ufqctl's directories exist once anything was done; a failure may leave
# them, empty.
install -d -m 0700 /run/ufq
mkdir -p /sys/fs/bpf/ufq

# load with two devices: the first is bound, the second refused by the
# kernel after its switch to ufq. Both get their elevators back.
expect_fail "ufqb1: cannot bind policy refuse_second: No such device" "${D[@]}" \
	ufqctl load "$POLICIES/refuse_second.bpf.o" --dev ufqb0 --dev ufqb1
grep -q '\[mq-deadline\]' /sys/block/ufqb0/queue/scheduler || fail "ufqb0 not restored"
grep -q '\[kyber\]' /sys/block/ufqb1/queue/scheduler || fail "ufqb1 not restored"
bpftool struct_ops list 2>/dev/null | grep -q refuse_second && fail "refuse_second still registered"

# The same with the first device bound to another policy ufqctl loaded: the
# rollback binds it to that policy again (not to none), and its record
# still restores mq-deadline when that policy is unloaded.
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqb0
assert_policy ufqb0 fifo
records=$(cat /run/ufq/devices.json)
expect_fail "ufqb1: cannot bind policy refuse_second" "${D[@]}" \
	ufqctl load "$POLICIES/refuse_second.bpf.o" --dev ufqb0 --dev ufqb1
assert_policy ufqb0 fifo
assert_eq "device records after the rollback" "$records" "$(cat /run/ufq/devices.json)"

# bind: a policy that refuses the device leaves it on its elevator; so does
# a policy that is not registered, and nothing is switched to ufq for it.
ufqctl load "$POLICIES/refuse_second.bpf.o" --dev ufqb1
assert_policy ufqb1 refuse_second
expect_fail "ufqb2: cannot bind policy refuse_second: No such device" "${D[@]}" \
	ufqctl bind refuse_second --dev ufqb2
grep -q '\[mq-deadline\]' /sys/block/ufqb2/queue/scheduler || fail "ufqb2 not restored"
expect_fail "ufqb0: cannot bind policy refuse_second" "${D[@]}" \
	ufqctl bind refuse_second --dev ufqb0
assert_policy ufqb0 fifo # it had fifo, and has it again
expect_fail "no policy named nope is registered in the kernel" "${D[@]}" \
	ufqctl bind nope --dev ufqb2
grep -q '\[mq-deadline\]' /sys/block/ufqb2/queue/scheduler || fail "ufqb2 switched for nothing"

# swap: the kernel refuses the new programs (their init_dev refuses ufqb1)
# after ufqctl pinned their maps: the old programs keep the device, and pins
# and maps are as they were.
expect_fail "the kernel refused to swap policy refuse_second: No such device" "${D[@]}" \
	ufqctl swap refuse_second "$POLICIES/refuse_second_v2.bpf.o"
assert_policy ufqb1 refuse_second
[ ! -e /sys/fs/bpf/ufq/refuse_second/maps/rs_v2_refused ] || fail "the refused version's map is pinned"
dd if=/dev/ufqb1 of=/dev/null bs=4k count=10 iflag=direct status=none

ufqctl unload refuse_second
grep -q '\[kyber\]' /sys/block/ufqb1/queue/scheduler || fail "ufqb1 not restored by unload"
ufqctl unload fifo
grep -q '\[mq-deadline\]' /sys/block/ufqb0/queue/scheduler || fail "ufqb0 not restored by unload"
[ -z "$(ls /sys/fs/bpf/ufq)" ] || fail "pins left: $(ls /sys/fs/bpf/ufq)"
left=$(find /run/ufq -mindepth 1)
[ -z "$left" ] || fail "files left in /run/ufq: $left"
