#!/usr/bin/env bash
# The device facts a policy reads in struct ufq_sched, and the tick
# (tests/policies/facts_tick.bpf.c), on the VM's NVMe disk and on a
# null_blk device with 2 submission queues (and a poll queue), 4 KiB blocks and rotational set.
#
# Asserts: what init_dev() saw (nr_requests, driver tags and hardware
# queues that take I/O, poll queues not counted, logical block size, largest request, rotational) is what sysfs
# says; under fio the requests in flight are at least 2 and never more
# than the driver's tags, and 0 again once the device is idle; the tick
# comes, no more often than every tick_ms (20 ms), goes on across an
# in-place swap, stops when the device is unbound and after its policy
# aborted from the tick, and comes back when the device is bound again.
. "$(dirname "$0")/lib.sh"

nvme=nvme0n1
[ -b "/dev/$nvme" ] || fail "no /dev/$nvme in the VM (tools/vm/run attaches one)"
dev=ufqf0
make_nullb "$dev" size=256 irqmode=2 completion_nsec=200000 hw_queue_depth=16 \
	submit_queues=2 blocksize=4096
set_sched "$dev" ufq
echo 1 >"/sys/block/$dev/queue/rotational"
ufqctl load "$POLICIES/facts_tick.bpf.o" --dev "$nvme" --dev "$dev"
assert_policy "$nvme" facts_tick
assert_policy "$dev" facts_tick

map=/sys/fs/bpf/ufq/facts_tick/maps/ft_devs
ft() { # DEV FIELD
	bpftool -j map dump pinned "$map" |
		jq ".[] | select(.formatted.key == $(iosched "$1" id)) | .formatted.value.$2"
}
ft_is() { [ "$(ft "$1" "$2")" = "$3" ]; }
q=/sys/block

# Hardware queues that take I/O: the hardware contexts blk-mq's debugfs
# does not call poll queues (the null_blk has one; a count of the tag
# set's maps would count nvme-over-fabrics' shared read queues twice).
io_queues() { # DEV
	local n=0 t
	for t in /sys/kernel/debug/block/"$1"/hctx*/type; do
		[ -r "$t" ] || fail "$1: no blk-mq debugfs (CONFIG_BLK_DEBUG_FS, debugfs mounted?)"
		[ "$(<"$t")" = poll ] || n=$((n + 1))
	done
	echo "$n"
}
polls=$(grep -lx poll /sys/kernel/debug/block/"$dev"/hctx*/type | wc -l)
assert_ge "$dev: poll queues (the null_blk default)" 1 "$polls"

for d in "$nvme" "$dev"; do
	assert_eq "$d: dev" "$(($(cut -d: -f1 "$q/$d/dev") << 20 | $(cut -d: -f2 "$q/$d/dev")))" "$(ft "$d" dev)"
	assert_eq "$d: nr_requests" "$(cat "$q/$d/queue/nr_requests")" "$(ft "$d" nr_requests)"
	assert_eq "$d: hw_queue_depth" "$(cat "$q/$d/mq/0/nr_tags")" "$(ft "$d" hw_queue_depth)"
	assert_eq "$d: nr_hw_queues" "$(io_queues "$d")" "$(ft "$d" nr_hw_queues)"
	assert_eq "$d: logical_block_size" "$(cat "$q/$d/queue/logical_block_size")" \
		"$(ft "$d" logical_block_size)"
	assert_eq "$d: max_bytes" "$(($(cat "$q/$d/queue/max_sectors_kb") * 1024))" "$(ft "$d" max_bytes)"
	assert_eq "$d: rotational" "$(cat "$q/$d/queue/rotational")" "$(ft "$d" rotational)"
done
assert_ge "$dev: nr_hw_queues" 2 "$(ft "$dev" nr_hw_queues)"
assert_eq "$dev: logical_block_size" 4096 "$(ft "$dev" logical_block_size)"
assert_eq "$dev: rotational" 1 "$(ft "$dev" rotational)"

json=$UFQ_OUT/064-fio.json
run_fio "$json" --filename="/dev/$dev" --direct=1 --ioengine=libaio --bs=4k \
	--rw=randread --iodepth=32 --number_ios=2000 --size=128M --randrepeat=0 --name=r
assert_eq "fio errors" 0 "$(fio_sum "$json" '.error')"
tags=$(($(ft "$dev" hw_queue_depth) * $(ft "$dev" nr_hw_queues)))
in_flight=$(ft "$dev" in_flight_max)
info "$dev: at most $in_flight requests in flight seen at insert ($tags driver tags)"
assert_ge "requests in flight under fio" 2 "$in_flight"
assert_ge "driver tags vs requests in flight" "$in_flight" "$tags"
wait_for "no request in flight at a tick" 5 ft_is "$dev" in_flight_tick 0

# Ticks over a measured interval: some, and no more than one per 20 ms.
ticks_over() { # DEV SECONDS: prints ticks counted, and the bound
	local t0 t1 n0 n1
	n0=$(ft "$1" ticks) t0=$(date +%s%N)
	sleep "$2"
	n1=$(ft "$1" ticks) t1=$(date +%s%N)
	echo "$((n1 - n0)) $(((t1 - t0) / 20000000 + 2))"
}
read -r n bound < <(ticks_over "$dev" 1)
info "$dev: $n ticks in a second (at most $bound)"
assert_ge "ticks in a second" 1 "$n"
assert_ge "ticks allowed vs counted" "$n" "$bound"

# In place: the tick goes on with the new programs.
ufqctl swap facts_tick "$POLICIES/facts_tick.bpf.o"
read -r n _ < <(ticks_over "$dev" 0.5)
assert_ge "ticks after an in-place swap" 1 "$n"

# Unbound: exit_dev(), and no tick after it.
exits=$(ft "$dev" exits)
ufqctl unbind --dev "$dev"
assert_eq "exit_dev() calls" "$((exits + 1))" "$(ft "$dev" exits)"
read -r n _ < <(ticks_over "$dev" 0.5)
assert_eq "ticks after unbinding" 0 "$n"
read -r n _ < <(ticks_over "$nvme" 0.5)
assert_ge "ticks on the device still bound" 1 "$n"
ufqctl bind facts_tick --dev "$dev"
read -r n _ < <(ticks_over "$dev" 0.5)
assert_ge "ticks after binding again" 1 "$n"

# A tick that aborts ends the device's policy and its ticks.
ufqctl set facts_tick abort_tick=1
for d in "$dev" "$nvme"; do
	wait_for "$d to fall back" 5 bash -c "grep -qx fallback /sys/block/$d/queue/iosched/state"
	assert_fallback "$d" abort
	grep -q "abort_tick is set" "/sys/block/$d/queue/iosched/last_error" ||
		fail "$d: last_error does not give the policy's reason: $(iosched "$d" last_error)"
done
ufqctl set facts_tick abort_tick=0
read -r n _ < <(ticks_over "$dev" 0.5)
assert_eq "ticks after the policy aborted" 0 "$n"
check_ufq_accounting "$dev"
