#!/usr/bin/env bash
# ufqctl trace record: one CSV line per completed request of the device,
# with the documented columns and plausible values, recording switched off
# afterwards (nothing is recorded while no trace runs), Ctrl-C ends a
# recording early and still writes the file; only one recording per policy
# runs, even when two start at once.
. "$(dirname "$0")/lib.sh"

make_nullb ufqr0 size=256 memory_backed=1
make_nullb ufqr1 size=256 memory_backed=1
udevadm settle 2>/dev/null || true
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqr0 --dev ufqr1
csv=$UFQ_OUT/150.csv
ctl() { bpftool -j map dump pinned /sys/fs/bpf/ufq/fifo/maps/ufq_trace_ctl | jq -c '.[0].formatted.value'; }
recording() { [ "$(ctl | jq .on)" = 1 ]; }

"$UFQCTL" trace record --dev ufqr0 --duration 8 -o "$csv" &
rec=$!
wait_for "recording to start" 30 recording
# Exactly 300 reads of 4 KiB on the traced device, and I/O on the other one.
dd if=/dev/ufqr0 of=/dev/null bs=4k count=300 iflag=direct status=none
dd if=/dev/ufqr1 of=/dev/null bs=4k count=200 iflag=direct status=none
wait $rec || fail "trace record failed"
assert_eq "recording off" 0 "$(ctl | jq .on)"

head -3 "$csv"
assert_eq "header" "complete_ns,dev,sector,bytes,write,flags,ioprio,cgroup_id,nr_waiting,alloc_ns,insert_ns,wait_ns,service_ns,latency_ns" "$(head -1 "$csv")"
assert_eq "events" 300 "$(tail -n +2 "$csv" | wc -l)"
dev=$(cat /sys/block/ufqr0/dev)
assert_eq "only ufqr0" "$dev" "$(tail -n +2 "$csv" | cut -d, -f2 | sort -u)"
assert_eq "reads" 0 "$(tail -n +2 "$csv" | cut -d, -f5 | sort -u)"
# Sectors 0, 8, ..., 2392: dd reads sequentially.
assert_eq "sectors" "$(seq 0 8 2392 | sort -n | md5sum)" "$(tail -n +2 "$csv" | cut -d, -f3 | sort -n | md5sum)"
awk -F, 'NR > 1 && ($14 <= 0 || $11 > $1 || $10 > $11 || $14 < $12) { bad++ } END { exit bad > 0 }' "$csv" ||
	fail "implausible timestamps or latencies"

# Nothing is recorded with no trace running.
dd if=/dev/ufqr0 of=/dev/null bs=4k count=50 iflag=direct status=none
ufqctl trace record --dev ufqr0 --duration 1 -o "$csv"
assert_eq "events of an idle device" 0 "$(tail -n +2 "$csv" | wc -l)"

# Interrupted: stops at once, writes what it has, switches recording off.
# ($UFQCTL, not the ufqctl function, so that $! is its pid.)
"$UFQCTL" trace record --dev ufqr0 --duration 60 -o "$csv" &
rec=$!
# Recording on means ufqctl's SIGINT handler is in place.
wait_for "recording to start" 30 recording
dd if=/dev/ufqr0 of=/dev/null bs=4k count=10 iflag=direct status=none
kill -INT $rec
rc=0
wait $rec || rc=$?
assert_eq "exit status after SIGINT" 0 "$rc"
assert_eq "events before SIGINT" 10 "$(tail -n +2 "$csv" | wc -l)"
assert_eq "recording off after SIGINT" 0 "$(ctl | jq .on)"
# One recording per policy, also when two start at the same moment (the
# switch is read and set under the policy's lock): exactly one records, the
# other says why.
rc_a=0 rc_b=0
"$UFQCTL" trace record --dev ufqr0 --duration 3 -o "$UFQ_OUT/150-a.csv" 2>"$UFQ_OUT/150-a.err" &
pa=$!
"$UFQCTL" trace record --dev ufqr1 --duration 3 -o "$UFQ_OUT/150-b.csv" 2>"$UFQ_OUT/150-b.err" &
pb=$!
wait $pa || rc_a=$?
wait $pb || rc_b=$?
assert_eq "one of two simultaneous recordings refused" 1 "$((rc_a + rc_b))"
grep -h "one recording at a time" "$UFQ_OUT/150-a.err" "$UFQ_OUT/150-b.err" >/dev/null ||
	fail "the refused recording said: $(cat "$UFQ_OUT/150-a.err" "$UFQ_OUT/150-b.err")"
assert_eq "recording off after both" 0 "$(ctl | jq .on)"
ufqctl unload fifo
