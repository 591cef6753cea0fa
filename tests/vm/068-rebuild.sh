#!/usr/bin/env bash
# A device keeps its policy when blk-mq rebuilds its elevator
# (blk_mq_update_nr_hw_queues(), ELEVATOR_FLAG_REBUILD): on a null_blk
# whose submit_queues change while it is powered, and on the VM's NVMe disk
# at a controller reset (which rebuilds at every reset), both under fio
# verify.
#
# Asserts: after every rebuild (the hardware queue count seen in sysfs
# changed) the device is on ufq with the same policy, state active, for
# deadline, lanes (depth limits set again by init_dev) and qos (a tick);
# zero fio errors and every block verified; ufq's counters add up;
# switching the elevator away and back by hand does not bind it again.
. "$(dirname "$0")/lib.sh"

dev=ufqr0
cfs=/sys/kernel/config/nullb/$dev
make_nullb "$dev" size=256 memory_backed=1 irqmode=2 completion_nsec=100000 \
	hw_queue_depth=16 submit_queues=2
hw_queues() { local d; d=(/sys/block/"$1"/mq/*/); echo ${#d[@]}; }
poll=$(<"$cfs/poll_queues")	# hardware queues besides the submission ones
assert_eq "$dev hardware queues" $((2 + poll)) "$(hw_queues "$dev")"

# rebuild N: set the null_blk's submission queues to N while it serves I/O.
rebuild() {
	echo "$1" >"$cfs/submit_queues" || fail "cannot set submit_queues to $1"
	assert_eq "$dev hardware queues after the rebuild" $(($1 + poll)) "$(hw_queues "$dev")"
}

for p in deadline lanes qos; do
	set_sched "$dev" ufq
	ufqctl load "$POLICIES/$p.bpf.o" --dev "$dev" >/dev/null
	assert_policy "$dev" "$p"
	fio_verify_job "$dev" "$UFQ_OUT/068-$p.json" 32 &
	job=$!
	for n in 1 2 1 2; do
		sleep 0.3
		rebuild "$n"
		assert_policy "$dev" "$p"
	done
	wait "$job" || fail "fio verify under $p across rebuilds failed"
	check_ufq_accounting "$dev"
	info "$p: bound again after 4 rebuilds, fio verify clean"
	ufqctl unload "$p" >/dev/null
done

# By hand, away and back: the elevator is new and has no policy.
ufqctl load "$POLICIES/deadline.bpf.o" --dev "$dev" >/dev/null
set_sched "$dev" none
set_sched "$dev" ufq
assert_eq "$dev state after none and back" none "$(iosched "$dev" state)"
[[ $(iosched "$dev" policy) == *"[none]"* ]] || fail "$dev: bound again after a switch by hand: $(iosched "$dev" policy)"
ufqctl unload deadline >/dev/null

# NVMe: a controller reset rebuilds the elevator of every namespace.
nvme=nvme0n1
ctrl=/sys/class/nvme/nvme0
[ -b "/dev/$nvme" ] || fail "no /dev/$nvme in the VM (tools/vm/run attaches one)"
set_sched "$nvme" ufq
ufqctl load "$POLICIES/deadline.bpf.o" --dev "$nvme" >/dev/null
fio_verify_job "$nvme" "$UFQ_OUT/068-nvme.json" 16 &
job=$!
for i in 1 2; do
	sleep 0.5
	echo 1 >"$ctrl/reset_controller" || fail "reset of nvme0 failed"
	assert_eq "nvme0 state after reset $i" live "$(<"$ctrl/state")"
	assert_policy "$nvme" deadline
done
wait "$job" || fail "fio verify on $nvme across controller resets failed"
check_ufq_accounting "$nvme"
info "$nvme: bound again after 2 controller resets, fio verify clean"
ufqctl unload deadline >/dev/null
set_sched "$nvme" none
