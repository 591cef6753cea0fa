#!/usr/bin/env bash
# On a device that cannot keep up, the deadline policy hands reads to the
# driver in ascending sector order, as mq-deadline does, even though it
# dispatches a request straight from insert when nothing else waits: it
# must not do so while dispatched requests still wait for the driver. The
# fifo policy on the same device is the control: the reads arrive in random
# order. With one request on the device at a time, completion order
# (ufqctl trace record) is dispatch order. The device serves 100 reads a
# second, slow enough that even a KASAN kernel keeps requests waiting.
. "$(dirname "$0")/lib.sh"

make_nullb ufqd0 size=256 irqmode=2 completion_nsec=10000000 hw_queue_depth=1 \
	submit_queues=1

# Per mille of completed reads whose sector lies above the previous one's.
ascending_per_mille() {
	awk -F, 'NR > 1 && $5 == 0 { if (n++) up += ($3 > prev); prev = $3 }
		END { print (n > 1) ? int(1000 * up / (n - 1)) : 0 }' "$1"
}

# Median of the requests waiting in the policy's queues at each completion.
median_waiting() {
	tail -n +2 "$1" | cut -d, -f9 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] + 0 }'
}

order_run() { # POLICY: prints the per mille of ascending reads, then the median waiting
	local csv=$UFQ_OUT/045-$1.csv rec
	ufqctl load "$POLICIES/$1.bpf.o" --dev ufqd0 >&2
	# Room for requests to wait beside the one on the device.
	echo 64 >/sys/block/ufqd0/queue/nr_requests
	"$UFQCTL" trace record --dev ufqd0 --duration 60 -o "$csv" >&2 &
	rec=$!
	wait_for "recording to start" 30 \
		sh -c "bpftool -j map dump pinned /sys/fs/bpf/ufq/$1/maps/ufq_trace_ctl | jq -e '.[0].formatted.value.on == 1' >/dev/null"
	# About 400 random reads, 4 s on this device.
	fio --name=order --filename=/dev/ufqd0 --direct=1 --ioengine=libaio \
		--rw=randread --bs=4k --iodepth=32 --io_size=1600k \
		--output-format=json >"$UFQ_OUT/045-$1.json" ||
		fail "fio failed under $1"
	kill -INT $rec
	wait $rec || fail "trace record failed under $1"
	check_ufq_accounting ufqd0 >&2
	assert_eq "$1 policy errors" 0 "$(ufq_stat ufqd0 policy_errors)"
	assert_ge "$1 reads traced" 390 "$(($(wc -l <"$csv") - 1))"
	ufqctl unload "$1" >&2
	echo "$(ascending_per_mille "$csv") $(median_waiting "$csv")"
}

# (Command substitution, so that a failure inside ends the test.)
fifo_run=$(order_run fifo)
deadline_run=$(order_run deadline)
read -r fifo _ <<<"$fifo_run"
read -r deadline waiting <<<"$deadline_run"
info "reads above the previous one: fifo $fifo per mille, deadline $deadline per mille;" \
	"deadline's queues held $waiting requests at the median completion"
# Random arrivals: about half in arrival order.
[ "$fifo" -le 650 ] || fail "fifo dispatched ascending ($fifo per mille): the reads were not random"
# The device was the bottleneck: requests waited to be sorted.
assert_ge "median requests waiting under deadline" 8 "$waiting"
assert_ge "deadline reads dispatched in ascending sector order (per mille)" 850 "$deadline"
