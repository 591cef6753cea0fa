#!/usr/bin/env bash
# ufqctl stats: counters from sysfs and latency percentiles from the SDK's
# histogram, as JSON lines and as a table; the counts add up to the I/O fio
# did; Ctrl-C (SIGINT) ends the stream cleanly with status 0. A device that
# takes over the ufq id (the histogram's index) of one that left starts
# from an empty histogram.
. "$(dirname "$0")/lib.sh"

make_nullb ufqm0 size=256 completion_nsec=200000 irqmode=2
make_nullb ufqm1 size=256
udevadm settle 2>/dev/null || true
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqm0
ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqm1

run_fio "$UFQ_OUT/130.json" --name=r --filename=/dev/ufqm0 --direct=1 --ioengine=libaio \
	--iodepth=4 --rw=randread --bs=4k --size=16M --io_size=2M \
	--name=w --filename=/dev/ufqm0 --direct=1 --ioengine=libaio \
	--iodepth=4 --rw=randwrite --bs=4k --size=16M --io_size=1M --offset=64M
reads=$(jq '[.jobs[] | select(.jobname == "r") | .read.total_ios] | add' "$UFQ_OUT/130.json")
writes=$(jq '[.jobs[] | select(.jobname == "w") | .write.total_ios] | add' "$UFQ_OUT/130.json")

udevadm settle 2>/dev/null || true # udev may read the device after fio's writes
line=$(ufqctl stats --dev ufqm0 --count 1 --json)
info "$line"
# Every completion is in the histogram; fio's are all there (udev may have read more).
assert_eq "completions in the histogram" "$(jq '.stats.completed' <<<"$line")" \
	"$(jq '.latency.read.count + .latency.write.count' <<<"$line")"
assert_eq "write completions" "$writes" "$(jq '.latency.write.count' <<<"$line")"
assert_ge "read completions" "$reads" "$(jq '.latency.read.count' <<<"$line")"
assert_eq "policy" fifo "$(jq -r '.policy' <<<"$line")"
assert_eq "window" since_load "$(jq -r '.latency_window' <<<"$line")"
# completion_nsec=200000: every request takes at least 200 us on the device.
p50=$(jq '.latency.read.p50_us' <<<"$line")
p99=$(jq '.latency.read.p99_us' <<<"$line")
p999=$(jq '.latency.read."p99_9_us"' <<<"$line")
info "read p50=$p50 p99=$p99 p99.9=$p999"
jq -e '.latency.read | .p50_us >= 180 and .p50_us <= .p99_us and .p99_us <= .p99_9_us' \
	<<<"$line" >/dev/null || fail "read percentiles are not plausible: $line"

# Every device on ufq (ours, and any another test left on ufq), three samples
# each; later samples cover the interval only.
out=$(ufqctl stats --count 3 --interval 0.3 --json)
ndev=$(grep -l '\[ufq\]' /sys/block/*/queue/scheduler | wc -l)
assert_eq "JSON lines" $((3 * ndev)) "$(wc -l <<<"$out")"
assert_eq "our devices" "ufqm0 ufqm1" \
	"$(jq -r .device <<<"$out" | grep '^ufqm' | sort -u | tr '\n' ' ' | sed 's/ $//')"
last=$(grep '"device":"ufqm0"' <<<"$out" | tail -1)
assert_eq "idle interval" 0 "$(jq '.latency.read.count' <<<"$last")"
assert_eq "idle iops" 0 "$(jq '.iops' <<<"$last")"
# deadline keeps a histogram too, empty until its device completes a request.
assert_eq "ufqm1 reads" 0 "$(grep '"device":"ufqm1"' <<<"$out" | tail -1 | jq '.latency.read.count')"

table=$(ufqctl stats --dev ufqm0 --count 2 --interval 0.2)
info "$table"
grep -Eq '^ufqm0 +fifo +active' <<<"$table" || fail "no table row for ufqm0"
grep -q 'P99.9' <<<"$table" || fail "no table header"

# Interrupted while streaming: exits 0 at once, prints whole lines only.
# (The binary, not the ufqctl function, so that $! is its pid. A background
# job starts with SIGINT ignored until ufqctl installs its
# handler: wait for output first.)
"$UFQCTL" stats --interval 0.2 --json >"$UFQ_OUT/130-stream.txt" &
pid=$!
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }
wait_for "two samples" 30 lines_at_least "$UFQ_OUT/130-stream.txt" 2
kill -INT $pid
rc=0
wait $pid || rc=$?
assert_eq "exit status after SIGINT" 0 "$rc"
jq -c . "$UFQ_OUT/130-stream.txt" >/dev/null || fail "stream output is not JSON lines"
assert_ge "samples before SIGINT" 2 "$(wc -l <"$UFQ_OUT/130-stream.txt")"

# ufqm0 leaves ufq; a new device gets its id (the lowest free one) and the
# fifo policy: its histogram holds its own completions only, none of ufqm0's.
id0=$(cat /sys/block/ufqm0/queue/iosched/id)
id1=$(cat /sys/block/ufqm1/queue/iosched/id)
[ "$id0" != "$id1" ] || fail "ufqm0 and ufqm1 share the id $id0"
make_nullb ufqm2 size=256
set_sched ufqm0 none
set_sched ufqm2 ufq
assert_eq "id of the device that came next" "$id0" "$(cat /sys/block/ufqm2/queue/iosched/id)"
echo fifo >/sys/block/ufqm2/queue/iosched/policy
assert_policy ufqm2 fifo
dd if=/dev/ufqm2 of=/dev/null bs=4k count=100 iflag=direct status=none
udevadm settle 2>/dev/null || true
line=$(ufqctl stats --dev ufqm2 --count 1 --json)
info "$line"
assert_ge "ufqm2 reads" 100 "$(jq '.latency.read.count' <<<"$line")"
assert_eq "ufqm2 completions in its histogram" "$(jq '.stats.completed' <<<"$line")" \
	"$(jq '.latency.read.count + .latency.write.count' <<<"$line")"
