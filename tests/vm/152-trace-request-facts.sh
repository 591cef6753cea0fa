#!/usr/bin/env bash
# What a completion tells a policy, checked through ufqctl trace against
# what fio issued: each request's size and cgroup (which blk-mq has already
# cleared by completion time) and its own service time, > 0 also on a
# device that completes at once and at least the completion time of a
# device with a known one.
#
# Regression test for ufq_bpf_rq_bytes() and ufq_bpf_rq_cgroup_id() returning 0 in
# completed()/finish(), and service_ns 0 for requests completed inside their
# submitter's plug.
. "$(dirname "$0")/lib.sh"

cg=/sys/fs/cgroup
grep -qw io "$cg/cgroup.controllers" || skip "no io controller in cgroup v2"
echo +io >"$cg/cgroup.subtree_control"
mkdir -p "$cg/ufqtr-a" "$cg/ufqtr-b"
trap 'cleanup_policies; cleanup_nullb; rmdir "$cg/ufqtr-a" "$cg/ufqtr-b" 2>/dev/null || true' EXIT
id_a=$(stat -c %i "$cg/ufqtr-a")
id_b=$(stat -c %i "$cg/ufqtr-b")

completion_ns=500000
make_nullb ufqtr0 size=256 irqmode=2 completion_nsec=$completion_ns
make_nullb ufqtr1 size=256
udevadm settle 2>/dev/null || true
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqtr0 --dev ufqtr1
ctl() { bpftool -j map dump pinned /sys/fs/bpf/ufq/fifo/maps/ufq_trace_ctl | jq -c '.[0].formatted.value'; }
recording() { [ "$(ctl | jq .on)" = 1 ]; }

# in_cgroup DIR COMMAND...: run COMMAND as a member of cgroup DIR.
in_cgroup() {
	local dir=$1
	shift
	(echo $BASHPID >"$dir/cgroup.procs" && exec "$@")
}

# trace_fio DEV CSV: 100 reads of 16 KiB from cgroup a and 50 writes of 8 KiB
# from cgroup b, none adjacent to another (no merges), while tracing DEV.
trace_fio() {
	local dev=$1 csv=$2 rec
	"$UFQCTL" trace record --dev "$dev" --duration 600 -o "$csv" &
	rec=$!
	wait_for "recording to start" 30 recording
	in_cgroup "$cg/ufqtr-a" fio --name=r --filename=/dev/$dev --direct=1 --ioengine=libaio \
		--iodepth=4 --rw=read:16k --bs=16k --number_ios=100 --size=64M \
		--output="$UFQ_OUT/152-r.json" --output-format=json >/dev/null ||
		fail "fio reads failed"
	in_cgroup "$cg/ufqtr-b" fio --name=w --filename=/dev/$dev --direct=1 --ioengine=libaio \
		--iodepth=4 --rw=write:8k --bs=8k --number_ios=50 --offset=128M --size=64M \
		--output="$UFQ_OUT/152-w.json" --output-format=json >/dev/null ||
		fail "fio writes failed"
	kill -INT $rec
	wait $rec || fail "trace record failed"
	head -3 "$csv"
}

# check_rows CSV: each row's size, direction and cgroup are the ones fio used.
check_rows() {
	local csv=$1
	assert_eq "header" "complete_ns,dev,sector,bytes,write,flags,ioprio,cgroup_id,nr_waiting,alloc_ns,insert_ns,wait_ns,service_ns,latency_ns" "$(head -1 "$csv")"
	# (udev may add reads of its own, from the root cgroup.)
	assert_eq "reads of 16 KiB from cgroup a" 100 \
		"$(awk -F, -v id="$id_a" 'NR > 1 && $5 == 0 && $4 == 16384 && $8 == id' "$csv" | wc -l)"
	assert_eq "writes of 8 KiB from cgroup b" 50 \
		"$(awk -F, -v id="$id_b" 'NR > 1 && $5 == 1 && $4 == 8192 && $8 == id' "$csv" | wc -l)"
	assert_eq "rows with no size" 0 "$(awk -F, 'NR > 1 && $4 == 0' "$csv" | wc -l)"
	assert_eq "rows with no cgroup" 0 "$(awk -F, 'NR > 1 && $8 == 0' "$csv" | wc -l)"
	assert_eq "rows with no service time" 0 "$(awk -F, 'NR > 1 && $13 <= 0' "$csv" | wc -l)"
}

csv=$UFQ_OUT/152-timed.csv
trace_fio ufqtr0 "$csv"
check_rows "$csv"
# The device takes completion_ns per request: no request is served faster,
# and the median is of that order, not of a plug's or a tick's.
min=$(tail -n +2 "$csv" | cut -d, -f13 | sort -n | head -1)
median=$(tail -n +2 "$csv" | cut -d, -f13 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
info "ufqtr0 service_ns: min $min, median $median (device: $completion_ns)"
assert_ge "shortest service time" $((completion_ns * 9 / 10)) "$min"
[ "$median" -lt $((completion_ns * 20)) ] || fail "median service time $median ns is not of the order of $completion_ns ns"

# A device that completes at once, often before the submitter's plug ends.
csv=$UFQ_OUT/152-inline.csv
trace_fio ufqtr1 "$csv"
check_rows "$csv"
