#!/usr/bin/env bash
# Lanes protects a light reader from a write flood better than mq-deadline.
# On a device that is the bottleneck (null_blk, 4 tags, 1 ms per request,
# so 8 scheduler tags) a 4k random reader at QD2 runs beside a 64k random
# writer at QD32, alternating mq-deadline and lanes twice in one boot.
# mq-deadline lets the writes take every scheduler tag (async_depth defaults
# to nr_requests in 6.12), so the reader waits for a tag behind them; lanes
# keeps the writes to 4, so a read finds a tag and goes first. Asserts the
# order of the reader's mean and p90 latencies (lanes below mq-deadline,
# over the two runs each), never absolute times; the p99 is logged, not
# asserted: from 4 s runs under emulation it is the emulated timer's tail
# as much as the scheduler's, and once put lanes 1 us above mq-deadline
# (the benchmark's longer runs give the p99 order). The writer keeps at
# least half of mq-deadline's IOPS; no fio error; lanes served every run
# (no fallback); counters add up. Then, with the read reserve on
# (read_reserve=1), writes are held back for reads (reserve_holds counts
# it), without a fio error, a fallback or a lost request.
. "$(dirname "$0")/lib.sh"

dev=ufql1
make_nullb "$dev" size=1024 irqmode=2 completion_nsec=1000000 hw_queue_depth=4 submit_queues=1
ufqctl load "$POLICIES/lanes.bpf.o"

contend() { # SCHED RUN: prints the reader's p99 in us and the writer's IOPS
	local json=$UFQ_OUT/048-$1-$2.json
	if [ "$1" = lanes ]; then
		ufqctl bind lanes --dev "$dev" >/dev/null
	else
		set_sched "$dev" "$1"
	fi
	run_fio "$json" --filename="/dev/$dev" --direct=1 --ioengine=libaio \
		--time_based --runtime=4 --randrepeat=0 --size=1G \
		--name=writer --rw=randwrite --bs=64k --iodepth=32 \
		--name=reader --rw=randread --bs=4k --iodepth=2
	assert_eq "fio errors ($1)" 0 "$(fio_sum "$json" '.error')"
	jq -r '[(.jobs[] | select(.jobname == "reader") | .read.clat_ns |
			(.mean, .percentile["90.000000"], .percentile["99.000000"]) / 1000 | floor),
		(.jobs[] | select(.jobname == "writer") | .write.iops | floor)] | @tsv' "$json"
}

declare -A mean p90 p99 iops
for run in 1 2; do
	for s in mq-deadline lanes; do
		read -r m p9 p w < <(contend "$s" "$run")
		info "run $run $s: reader mean ${m} us, p90 ${p9} us, p99 ${p} us; writer ${w} IOPS"
		mean[$s]=$((${mean[$s]:-0} + m))
		p90[$s]=$((${p90[$s]:-0} + p9))
		p99[$s]=$((${p99[$s]:-0} + p))
		iops[$s]=$((${iops[$s]:-0} + w))
		if [ "$s" = lanes ]; then
			# Served by lanes all along, not by the FIFO after a fallback.
			assert_policy "$dev" lanes
			assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
			check_ufq_accounting "$dev"
		fi
	done
done
info "reader mean, p90, p99 (us, mean of 2 runs): mq-deadline $((mean[mq-deadline] / 2))," \
	"$((p90[mq-deadline] / 2)), $((p99[mq-deadline] / 2)); lanes $((mean[lanes] / 2))," \
	"$((p90[lanes] / 2)), $((p99[lanes] / 2)); writer IOPS: mq-deadline" \
	"$((iops[mq-deadline] / 2)), lanes $((iops[lanes] / 2))"
[ "${mean[lanes]}" -lt "${mean[mq-deadline]}" ] ||
	fail "lanes' reader mean latency (${mean[lanes]} us over 2 runs) is not below mq-deadline's (${mean[mq-deadline]} us)"
[ "${p90[lanes]}" -lt "${p90[mq-deadline]}" ] ||
	fail "lanes' reader p90 (${p90[lanes]} us over 2 runs) is not below mq-deadline's (${p90[mq-deadline]} us)"
# Not starved either: at least half of mq-deadline's writes (the benchmark
# reports the ratio; lanes gives the reader more of the device).
assert_ge "writer IOPS under lanes x2 vs mq-deadline's" "${iops[mq-deadline]}" "$((iops[lanes] * 2))"

# The read reserve: writes held back while reads arrive, and served after.
id=$(iosched "$dev" id)
holds() {
	# shellcheck disable=SC2046
	bpftool -j map lookup name lanes_status key $(printf '%d %d %d %d' $((id & 255)) \
		$((id >> 8 & 255)) $((id >> 16 & 255)) $((id >> 24))) | jq .formatted.value.reserve_holds
}
h0=$(holds)
ufqctl set lanes read_reserve=1 >/dev/null
read -r m p9 p w < <(contend lanes reserve)
ufqctl set lanes read_reserve=0 >/dev/null
info "lanes, read_reserve=1: reader mean ${m} us, p90 ${p9} us, p99 ${p} us; writer ${w} IOPS;" \
	"$(($(holds) - h0)) dispatch calls held a write back"
assert_ge "dispatch calls the read reserve held a write back in" 1 "$(($(holds) - h0))"
assert_ge "writer IOPS under the read reserve" 1 "$w"
assert_policy "$dev" lanes
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
