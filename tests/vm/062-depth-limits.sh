#!/usr/bin/env bash
# Scheduler-tag depth limits, request cookies and the tick
# (tests/policies/depth_limit.bpf.c). On a device with 8 scheduler tags
# (null_blk, 4 tags, 2 ms per request) four QD32 writers run beside a QD2
# reader, twice: first without a limit, then with the writes limited to 4
# tags, set at run time by the policy's tick from a tunable. Without the
# limit the reader waits for a tag among some hundred waiting writes; with
# it, a tag is free for it and it waits for one request at the driver.
#
# Asserts: without a limit the writes hold nearly all 8 tags at once; with
# the limit never more than 4 (the requests between insert and finish,
# which hold a tag each; 4 is a multiple of the 4 words of the tag bitmap,
# so the limit is exact); with the limit the reader's p99 completion
# latency is below its p99 without (the reader no longer waits for a tag
# behind the writes). Every request's cookie comes back as the policy set
# it (finish() and merged() release the class the cookie names: the counts
# return to 0, no bad cookie). After nr_requests grows to 32 the tick sees
# the new value and the limit still holds. The device never falls back;
# the counters add up.
. "$(dirname "$0")/lib.sh"

dev=ufqd0
make_nullb "$dev" size=256 irqmode=2 completion_nsec=2000000 hw_queue_depth=4 \
	submit_queues=1
ufqctl load "$POLICIES/depth_limit.bpf.o" --dev "$dev"
assert_policy "$dev" depth_limit
assert_eq "nr_requests" 8 "$(cat "/sys/block/$dev/queue/nr_requests")"
st() { bpftool -j map dump pinned /sys/fs/bpf/ufq/depth_limit/maps/dl_stats | jq -c ".[0].formatted.value$1"; }
st_is() { [ "$(st "$1")" = "$2" ]; }

# Four QD32 4k random writers and a QD2 4k random reader for 4 s; prints
# the reader's p99 completion latency in us.
contend() { # NAME
	local json=$UFQ_OUT/062-$1.json
	run_fio "$json" --filename="/dev/$dev" --direct=1 --ioengine=libaio --bs=4k \
		--time_based --runtime=4 --size=128M --randrepeat=0 \
		--name=writer --rw=randwrite --iodepth=32 --numjobs=4 \
		--name=reader --rw=randread --iodepth=2
	assert_eq "fio errors ($1)" 0 "$(fio_sum "$json" '.error')"
	jq '.jobs[] | select(.jobname == "reader") | .read.clat_ns.percentile["99.000000"] / 1000 | floor' "$json"
}
# The tick applies a new write_depth within 10 ms.
set_write_depth() {
	ufqctl set depth_limit "write_depth=$1"
	wait_for "the tick to apply write_depth=$1" 5 st_is .write_depth "$1"
}

p99_free=$(contend unlimited)
max_free=$(st '.held_max[2]')
set_write_depth 4
p99_limited=$(contend limited)
max_limited=$(st '.held_max[2]')
info "writes holding a tag at most: $max_free without a limit, $max_limited with 4; reader p99: $p99_free us without, $p99_limited us with"
assert_ge "writes holding a scheduler tag at once without a limit" 7 "$max_free"
assert_ge "write limit 4 vs writes holding a scheduler tag at once" "$max_limited" 4
[ "$p99_limited" -lt "$p99_free" ] ||
	fail "reader p99 with the write limit ($p99_limited us) not below without it ($p99_free us)"

# More tags: the policy sees them, the limit stays.
echo 32 >"/sys/block/$dev/queue/nr_requests"
wait_for "the tick to see nr_requests 32" 5 st_is .nr_requests 32
set_write_depth 0
set_write_depth 4
contend limited32 >/dev/null
assert_ge "write limit 4 vs writes holding a tag at once, nr_requests 32" \
	"$(st '.held_max[2]')" 4

udevadm settle 2>/dev/null || true
wait_for "every request to be released" 5 st_is .held '[0,0,0]'
assert_eq "requests back with a cookie they were not given" 0 "$(st .bad_cookie)"
assert_eq "ufq_bpf_set_depth_limit() failures" 0 "$(st .set_errors)"
assert_policy "$dev" depth_limit
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
