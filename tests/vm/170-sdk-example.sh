#!/usr/bin/env bash
# The policy SDK as an author outside this repository uses it
# (docs/writing-a-policy.md): the example policy examples/ioprio, copied
# out of the tree and built with its own Makefile against an SDK installed
# into a staging directory with `make install-sdk`, loads with ufqctl load,
# orders the I/O priority classes and loses no data:
#  - three readers of classes RT, BE and IDLE on a device that is the
#    bottleneck (2 tags, 1 ms per request, room for 64 requests to wait):
#    p99 of RT < BE < IDLE, each by a factor of 2 (expected: RT a few ms,
#    BE about be_expire_ms = 250 ms, IDLE about idle_expire_ms = 2 s), from
#    ufqctl stats' class histograms, and every class is served;
#  - fio verify (random 4k writes, read back and checked) with no errors.
. "$(dirname "$0")/lib.sh"

sdk=$UFQ_OUT/170-sdk
work=$UFQ_OUT/170-ioprio
rm -rf "$sdk" "$work"
make -C "$UFQ_REPO" --no-print-directory install-sdk DESTDIR="$sdk" ||
	fail "make install-sdk failed"
cp -r "$UFQ_REPO/examples/ioprio" "$work"
rm -f "$work/ioprio.bpf.o"
PKG_CONFIG_SYSROOT_DIR=$sdk PKG_CONFIG_PATH=$sdk/usr/share/pkgconfig make -C "$work" ||
	fail "the example does not build against the installed SDK"

make_nullb ufqp0 size=64 memory_backed=1 irqmode=2 completion_nsec=1000000 \
	hw_queue_depth=2 submit_queues=1
udevadm settle 2>/dev/null || true
ufqctl load "$work/ioprio.bpf.o" --dev ufqp0
assert_policy ufqp0 ioprio
assert_eq "be_expire_ms" 250 "$(ufqctl get ioprio be_expire_ms)"
# Room for requests to wait in the scheduler beside the two on the device.
echo 64 >/sys/block/ufqp0/queue/nr_requests

# 8 s of three readers, 8 requests each in flight, one per class.
prio_job() { # NAME CLASS LEVEL
	echo "--name=$1 --filename=/dev/ufqp0 --direct=1 --ioengine=libaio --rw=randread" \
		"--bs=4k --iodepth=8 --size=32M --time_based --runtime=8 --prioclass=$2 --prio=$3"
}
# shellcheck disable=SC2046
run_fio "$UFQ_OUT/170-prio.json" $(prio_job rt 1 0) $(prio_job be 2 4) $(prio_job idle 3 7)
for j in rt be idle; do
	info "fio $j: $(jq -r --arg j $j '.jobs[] | select(.jobname == $j) |
		"\(.read.total_ios) reads, p99 \(.read.clat_ns.percentile["99.000000"] / 1000) us"' \
		"$UFQ_OUT/170-prio.json")"
done

line=$(ufqctl stats --dev ufqp0 --count 1 --json)
info "$line"
assert_eq "policy errors" 0 "$(jq '.stats.policy_errors' <<<"$line")"
p99() { jq --arg c "$1" '.classes[$c].read.p99_us // 0 | floor' <<<"$line"; }
count() { jq --arg c "$1" '.classes[$c].read.count // 0' <<<"$line"; }
rt=$(p99 1) be=$(p99 2) idle=$(p99 3)
info "read p99 by class: RT ${rt} us, BE ${be} us, IDLE ${idle} us;" \
	"reads RT $(count 1), BE $(count 2), IDLE $(count 3)"
assert_ge "RT reads" 1000 "$(count 1)"
assert_ge "BE reads" 20 "$(count 2)"
assert_ge "IDLE reads" 8 "$(count 3)"
[ "$rt" -gt 0 ] || fail "no RT p99"
[ "$((2 * rt))" -lt "$be" ] || fail "RT p99 ${rt} us is not well below BE p99 ${be} us"
[ "$((2 * be))" -lt "$idle" ] || fail "BE p99 ${be} us is not well below IDLE p99 ${idle} us"
# Anti-starvation: no class waited much longer than its expiry (the watchdog is 10 s).
[ "$idle" -lt 6000000 ] || fail "IDLE p99 ${idle} us: idle requests starved"

fio_verify_job ufqp0 "$UFQ_OUT/170-verify.json" 4
assert_policy ufqp0 ioprio
check_ufq_accounting ufqp0
assert_eq "policy errors after verify" 0 "$(ufq_stat ufqp0 policy_errors)"
ufqctl unload ioprio
