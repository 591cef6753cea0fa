#!/usr/bin/env bash
# The lanes policy: verified I/O through both lanes with counts that add up;
# tunables with flow-iosched's names and defaults; the per-device state in
# lanes_status (mode, effective values, write depth) by name in bpftool
# and ufqctl get; `ufqctl set lanes mode=...` taking effect without a
# reload, an unknown mode refused; live swaps lanes <-> deadline every
# 100 ms and in-place swaps of lanes under verified load.
. "$(dirname "$0")/lib.sh"

dev=ufql0
make_nullb "$dev" size=512 memory_backed=1 submit_queues=2
ufqctl load "$POLICIES/lanes.bpf.o" --dev "$dev"
ufqctl load "$POLICIES/deadline.bpf.o"
assert_policy "$dev" lanes
maps=/sys/fs/bpf/ufq/lanes/maps
id=$(iosched "$dev" id)
tun() { bpftool -j map dump pinned "$maps/lanes_tunables" | jq -c ".[0].formatted.value$1"; }
# The device's entry alone (a dump would print all 1024).
key=$(printf '%d %d %d %d' $((id & 255)) $((id >> 8 & 255)) $((id >> 16 & 255)) $((id >> 24)))
# shellcheck disable=SC2086
st() { bpftool -j map lookup pinned "$maps/lanes_status" key $key | jq -c ".formatted.value$1"; }
st_is() { [ "$(st "$1")" = "$2" ]; }
st_ge() { [ "$(st "$1")" -ge "$2" ]; }

assert_eq "batch_max_read" 16 "$(tun .batch_max_read)"
assert_eq "completion_window_ns" 8000000 "$(tun .completion_window_ns)"
assert_eq "starvation_max_write" 20 "$(tun .starvation_max_write)"
assert_eq "writes_starved" 2 "$(tun .writes_starved)"
assert_eq "read_priority" 0 "$(tun .read_priority)"
assert_eq "ufqctl get lanes mode" auto "$(ufqctl get lanes mode)"
# The device's state under its id, by field name.
assert_eq "lanes_status dev" "$(($(cut -d: -f1 <"/sys/block/$dev/dev") << 20 | $(cut -d: -f2 <"/sys/block/$dev/dev")))" "$(st .dev)"
nr=$(cat "/sys/block/$dev/queue/nr_requests")
assert_eq "write depth (3/4 of $nr tags, whole bitmap words)" "$((nr * 3 / 4 / 4 * 4))" "$(st .write_depth)"

# Verified 4k writes (small: Read lane), 64k writes (Write lane) and reads,
# side by side; then the same with discards of another region.
lanes_load() { # JSON MB
	fio_verify_job "$dev" "$1" "$2" --iodepth=8 \
		--name=bulk --filename="/dev/$dev" --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bs=64k --offset=128M --size="$(($2 * 2))M" \
		--name=reader --filename="/dev/$dev" --direct=1 --ioengine=libaio --iodepth=4 \
		--rw=randread --bs=4k --offset=256M --size="$(($2 * 2))M"
}
lanes_load "$UFQ_OUT/047-a.json" 32
assert_ge "64k writes" 1 "$(jq '.jobs[] | select(.jobname == "bulk") | .write.total_ios' "$UFQ_OUT/047-a.json")"
check_ufq_accounting "$dev"
# Completions by class: 0 reads, 1 small writes, 2 bulk writes.
line=$(ufqctl stats --dev "$dev" --count 1 --json)
assert_ge "class 0 (read) reads" 1 "$(jq '.classes["0"].read.count // 0' <<<"$line")"
assert_ge "class 1 (small write) writes" 1000 "$(jq '.classes["1"].write.count // 0' <<<"$line")"
assert_ge "class 2 (write) writes" 1 "$(jq '.classes["2"].write.count // 0' <<<"$line")"
assert_eq "class 2 reads" 0 "$(jq '.classes["2"].read.count // 0' <<<"$line")"
wait_for "an autotuner window to close" 5 st_ge .windows 1

# A pinned mode takes effect at the next tick, and its values step there.
mode_is() { [ "$(ufqctl get lanes | awk -v h="lanes_status on $dev " '$1 == "mode" && seen { print $2 } { seen = index($0, h) == 1 || (seen && $0 != "") }')" = "$1" ]; }
ufqctl set lanes mode=latency
assert_eq "ufqctl get lanes mode" latency "$(ufqctl get lanes mode)"
wait_for "latency mode in effect" 5 mode_is latency
wait_for "batch_max_read to reach 32" 15 st_is .batch_max_read 32
wait_for "starvation_max_write to reach 80" 15 st_is .starvation_max_write 80
assert_eq "write depth in latency mode" "$((nr / 3 / 4 * 4))" "$(st .write_depth)"
ufqctl get lanes
ufqctl set lanes mode=throughput
wait_for "throughput mode in effect" 5 mode_is throughput
wait_for "batch_max_read to reach 8" 15 st_is .batch_max_read 8
expect_fail "mode: 'fast' is not one of auto, balanced, latency, throughput" "$dev" -- \
	"$UFQCTL" set lanes mode=fast
ufqctl set lanes mode=auto
assert_eq "ufqctl get lanes --json mode" 0 "$(ufqctl get lanes --json | jq -c .mode)"

# Live swaps under verified load.
start_rounds 047-swap lanes_load "$UFQ_OUT/047-b.json" 8
trap 'stop_rounds; cleanup_policies; cleanup_nullb' EXIT
sleep 1
out=$("$UFQ_REPO/build/host/bin/swap_loop" /sys/fs/bpf/ufq/lanes/link \
	"$POLICIES/lanes.bpf.o" "$dev" deadline lanes 100 10) || fail "swap_loop failed"
info "$out"
read -r _ swaps _ rebinds <<<"$out"
assert_ge "in-place swaps" 30 "$swaps"
assert_ge "rebinds" 30 "$rebinds"
echo lanes >"/sys/block/$dev/queue/iosched/policy"
for _ in 1 2; do
	ufqctl swap lanes "$POLICIES/lanes.bpf.o" >/dev/null
	sleep 0.2
	assert_policy "$dev" lanes
done
stop_rounds
assert_eq "verified load during swaps" 0 "$rounds_rc"
assert_policy "$dev" lanes
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
