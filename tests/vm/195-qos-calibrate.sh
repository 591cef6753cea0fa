#!/usr/bin/env bash
# tools/qos/calibrate --quick on a null_blk whose cost grows with request
# size: a model ufqctl model push takes (4k reads cost 1024, costs
# non-decreasing in size, 128k well above 4k, the curve's loads ascending),
# the device's scheduler and merge setting given back; the refusal, in one
# line with nothing written, of a device a ufq policy serves (the one
# refusal that needs a real kernel's iosched/state; a mounted device, one
# holding a filesystem, a missing device, a file and the arithmetic are
# tested on the host: tests/host/qos-calibrate/). The model is pushed to
# the qos policy and read back.
. "$(dirname "$0")/lib.sh"

cal=$UFQ_REPO/tools/qos/calibrate
model=$UFQ_OUT/195-model.json
rm -f "$model"

# 200 us per request on 8 tags, and at most 64 MiB/s: a 4k read is bound
# by the completion time, a 128k one by the bandwidth (16 times the 4k's).
dev=qcal0
make_nullb "$dev" size=512 irqmode=2 completion_nsec=200000 hw_queue_depth=8 \
	submit_queues=1 mbps=64
udevadm settle 2>/dev/null || true
set_sched "$dev" mq-deadline

start=$(date +%s)
"$cal" --dev "$dev" -o "$model" --quick | tee "$UFQ_OUT/195-calibrate.txt" ||
	fail "calibrate --quick failed"
info "calibrate --quick took $(($(date +%s) - start)) s"
jq -c . "$model"

assert_eq "members" '["read_cost","write_cost","write_weight_max","write_ramp_mib","device_viops","curve_viops","curve_p99_us"]' \
	"$(jq -c keys_unsorted "$model")"
assert_eq "read_cost[0]" 1024 "$(jq '.read_cost[0]' "$model")"
for m in read_cost write_cost; do
	assert_eq "$m: 6 buckets" 6 "$(jq ".$m | length" "$model")"
	assert_eq "$m non-decreasing in size" true "$(jq ".$m == (.$m | sort)" "$model")"
done
# Bandwidth-bound: 128k reads cost several 4k reads (16 at the nominal rates).
assert_ge "read_cost[5] (128k)" 4096 "$(jq '.read_cost[5]' "$model")"
assert_ge "write_cost[5] (128k)" 4096 "$(jq '.write_cost[5]' "$model")"
assert_ge "device_viops" 100 "$(jq .device_viops "$model")"
assert_eq "write_weight_max in range" true "$(jq '.write_weight_max >= 1024 and .write_weight_max <= 16384' "$model")"
# 64k writes at 64 MiB/s at most (null_blk's throttle lets a tick's worth through early).
assert_eq "write_ramp_mib in 1..80" true "$(jq '.write_ramp_mib >= 1 and .write_ramp_mib <= 80' "$model")"
assert_eq "curve: 8 points each" "8 8" "$(jq -r '"\(.curve_viops | length) \(.curve_p99_us | length)"' "$model")"
used=$(jq '[.curve_viops[] | select(. > 0)] | length' "$model")
assert_ge "curve points used" 2 "$used"
assert_eq "curve loads ascending, then unused" true \
	"$(jq --argjson n "$used" '.curve_viops[:$n] as $u | ($u == ($u | unique)) and (.curve_viops[$n:] | all(. == 0))' "$model")"
assert_eq "curve p99 non-decreasing, >= 1 us where used" true \
	"$(jq --argjson n "$used" '.curve_p99_us[:$n] as $p | ($p == ($p | sort)) and ($p | all(. >= 1)) and (.curve_p99_us[$n:] | all(. == 0))' "$model")"
grep -q "^$dev: [0-9]* 4k random reads/s" "$UFQ_OUT/195-calibrate.txt" || fail "no summary paragraph"
grep -q '\[mq-deadline\]' "/sys/block/$dev/queue/scheduler" ||
	fail "scheduler not given back: $(cat "/sys/block/$dev/queue/scheduler")"
assert_eq "nomerges given back" 0 "$(cat "/sys/block/$dev/queue/nomerges")"

# refused CMD_ARGS... PATTERN: calibrate fails with status 1 and one line
# matching PATTERN, and writes no model.
refused() {
	local pattern=${*: -1} rc=0 err out=$UFQ_OUT/195-refused.json t0
	t0=$(date +%s)
	rm -f "$out"
	err=$("$cal" "${@:1:$#-1}" -o "$out" --quick 2>&1 >/dev/null) || rc=$?
	assert_eq "exit status of calibrate ${*:1:$#-1}" 1 "$rc"
	[ "$(wc -l <<<"$err")" -eq 1 ] || fail "more than one line: $err"
	grep -q -- "^calibrate: $pattern" <<<"$err" || fail "expected '$pattern', got: $err"
	[ ! -e "$out" ] || fail "a refused run wrote $out"
	[ -z "$(find "$UFQ_OUT" -maxdepth 1 -name '.195-refused.json.*')" ] || fail "a temporary file was left"
	info "refused as expected ($(($(date +%s) - t0)) s): $err"
}
# The policy the model is for serves the device: calibrate refuses it.
qos=$POLICIES/qos.bpf.o
[ -f "$qos" ] || fail "$qos is not built (make build)"
ufqctl load "$qos" --dev "$dev"
refused --dev "$dev" "$dev is served by a ufq policy; unbind it first"
ufqctl model push qos "$model"
assert_eq "model show qos: the calibrated weights" "$(jq -cS . "$model")" \
	"$(ufqctl model show qos --json | jq -cS .weights)"
ufqctl model show qos
ufqctl unload qos
