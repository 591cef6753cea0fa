#!/usr/bin/env bash
# The user's device: nvme0n1 on QEMU's emulated NVMe controller (tools/vm/run
# gives every VM one), with several hardware queues, reads and writes on
# different hardware contexts, real interrupts and the NVMe driver's own
# requeue and timeout paths. ufq serves it with no policy and with every
# shipped policy under fio verify; the device is swapped live and rebound
# under verified load; ufqctl status and stats name it; the stats add up.
. "$(dirname "$0")/lib.sh"

dev=nvme0n1
[ -b /dev/$dev ] || fail "no /dev/$dev: tools/vm/run attaches an NVMe controller unless --nvme 0"
nr_hctx=$(find /sys/block/$dev/mq -mindepth 1 -maxdepth 1 -type d | wc -l)
info "$dev: $nr_hctx hardware queues, nr_requests $(cat /sys/block/$dev/queue/nr_requests)"
assert_ge "$dev hardware queues" 2 "$nr_hctx"
before=$(grep -o '\[[^]]*\]' /sys/block/$dev/queue/scheduler | tr -d '[]')
trap 'cleanup_policies; echo "$before" >/sys/block/$dev/queue/scheduler' EXIT

# verify_on POLICY: fio verify on the device, with a random reader beside it
# on another region, so that both hardware context types carry I/O.
verify_on() {
	local json=$UFQ_OUT/160-$1.json
	fio_verify_job $dev "$json" 24 --iodepth=32 \
		--name=reader --filename=/dev/$dev --direct=1 --ioengine=libaio \
		--iodepth=8 --rw=randread --bs=16k --offset=512M --size=64M --io_size=8M
	assert_eq "reader errors" 0 "$(jq '.jobs[] | select(.jobname == "reader") | .error' "$json")"
	check_ufq_accounting $dev
}

set_sched $dev ufq
verify_on none
for src in "$UFQ_REPO"/policies/*.bpf.c; do
	p=$(basename "$src" .bpf.c)
	ufqctl load "$POLICIES/$p.bpf.o" --dev $dev
	assert_policy $dev "$p"
	verify_on "$p"
	assert_eq "$p policy errors" 0 "$(ufq_stat $dev policy_errors)"
	ufqctl unload "$p"
	set_sched $dev ufq
done

# Live swap and rebind under verified load.
ufqctl load "$POLICIES/fifo.bpf.o" --dev $dev
ufqctl load "$POLICIES/deadline.bpf.o"
stop=$UFQ_OUT/160.stop
rm -f "$stop"
(
	rounds=0
	while [ ! -e "$stop" ]; do
		fio_verify_job $dev "$UFQ_OUT/160-swap.json" 16 --iodepth=32
		rounds=$((rounds + 1))
	done
	info "fio verify rounds: $rounds"
) &
fio_pid=$!
trap 'touch "$stop"; wait; cleanup_policies; echo "$before" >/sys/block/$dev/queue/scheduler' EXIT
sleep 1
out=$("$UFQ_REPO/build/host/bin/swap_loop" /sys/fs/bpf/ufq/fifo/link \
	"$POLICIES/fifo.bpf.o" $dev deadline fifo 100 5) || fail "swap_loop failed"
info "$out"
read -r _ swaps _ rebinds <<<"$out"
assert_ge "in-place swaps" 10 "$swaps"
assert_ge "rebinds" 10 "$rebinds"
for _ in 1 2 3; do
	ufqctl unbind --dev $dev
	assert_eq "$dev state after unbind" none "$(iosched $dev state)"
	sleep 0.3
	ufqctl bind deadline --dev $dev
	assert_policy $dev deadline
	sleep 0.3
done
touch "$stop"
wait $fio_pid || fail "fio verify failed during the swaps on $dev"
assert_eq "policy errors" 0 "$(ufq_stat $dev policy_errors)"
check_ufq_accounting $dev

# ufqctl names the device, by name and by path.
status=$(ufqctl status --json --dev /dev/$dev)
info "status: $status"
assert_eq "status device" $dev "$(jq -r '.devices[0].device' <<<"$status")"
assert_eq "status policy" deadline "$(jq -r '.devices[0].policy' <<<"$status")"
line=$(ufqctl stats --dev $dev --count 1 --json)
info "stats: $line"
assert_eq "stats device" $dev "$(jq -r '.device' <<<"$line")"
assert_eq "stats policy" deadline "$(jq -r '.policy' <<<"$line")"
grep -Eq "^$dev +deadline +active" <<<"$(ufqctl stats --dev $dev --count 1)" ||
	fail "no stats table row for $dev"
