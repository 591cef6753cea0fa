#!/usr/bin/env bash
# The ml policy on ssdsim (nvme profile in steady state), the loop a user runs:
# - load ml and start a mixed load (QD2 random reads of 4k, 64k and 256k
#   beside QD2 random writes of 4k and 128k) that runs until the end;
#   `ufqctl trace record` records 35 s of it while the policy predicts with
#   its built-in prior (per-direction running mean);
# - `ufqctl model train ml` on the trace and `ufqctl model push` into the
#   running load: the policy's measured median relative prediction error
#   since the push (over 500 of each direction) is, for reads and for
#   writes, below the one before it and below the error the trainer
#   measured for the mean predictor on held-out requests of that direction
#   (with 10 s of trace, about 1000 requests, writes were not);
# - `bpftool map dump name ml_model` shows the pushed values by field name;
# - a malformed, a mis-shaped and an out-of-range weights file are each
#   refused with one line, and the live model keeps its generation;
# - no fallback, no policy error, ufq's counters add up.
# (Verify and live swaps under ml: 205-ml-policy.sh.)
. "$(dirname "$0")/lib.sh"

[ -e /dev/ublk-control ] || skip "no /dev/ublk-control (kernel without CONFIG_BLK_DEV_UBLK)"

# The shipped profile's time scale (50) gives ~100 requests a second under
# this load; at 20 the device is still the bottleneck and a trace of 35 s
# has about 4500 requests. The read model's gain over the running mean is
# small here (a read waits for whatever its die programs): with 25 s, the
# live read error after the push was 31-37% against the trainer's
# held-out mean-predictor error of 35-44% (on some 330 reads), too close
# for a test; more trace makes both the model and that baseline surer.
# In steady state, as SSDs are measured after preconditioning: the shipped
# profile's GC factor climbs over the first 256 MiB of sustained writes,
# about a minute of this load, so the device the model was trained on was
# not the one it was judged on (the median write service time of one run
# moved between 5 and 27 ms): with one load throughout, the model's
# median write error after the push was 31% in one run and 44% in another.
# With an 8 MiB window the factor is at its maximum within a second of
# writes and stays there while they go on: in 5 of 5 runs the model's
# median errors were 32-39% (reads) and 22-29% (writes) against 41-43%
# and 72-73% under the prior, and 42-45% and 72-77% for the mean
# predictor held out.
profile=$UFQ_OUT/200-nvme-steady.json
jq '.gc.window_mib = 8' "$UFQ_REPO/tools/ssdsim/profiles/nvme.json" >"$profile"
dev=$(ssdsim start "$profile" --time-scale 20) || fail "ssdsim start failed"
dev=${dev#/dev/}
ufqctl load "$POLICIES/ml.bpf.o" --dev "$dev"
assert_policy "$dev" ml

# The mixed load in the background until mixed_stop: reads and writes in
# separate regions. fio takes seconds to start under emulation, so what
# measures it waits for its I/O to flow first.
mixed_pid=
mixed_start() { # JSON
	fio --output-format=json --output="$1" --filename="/dev/$dev" --direct=1 --ioengine=libaio \
		--time_based --runtime=300 \
		--name=reader --rw=randread --bssplit=4k/50:64k/30:256k/20 --iodepth=2 --offset=0 --size=128M \
		--name=writer --rw=randwrite --bssplit=4k/50:128k/50 --iodepth=2 --offset=256M --size=128M &
	mixed_pid=$!
	local start
	start=$(ufq_stat "$dev" completed)
	wait_for "the mixed load's I/O" 60 eval '[ "$(ufq_stat "$dev" completed)" -gt "$((start + 50))" ]'
}
mixed_stop() { # JSON
	[ -n "$mixed_pid" ] || return 0
	kill -INT "$mixed_pid" 2>/dev/null || true
	wait "$mixed_pid" || true
	mixed_pid=
	# fio notes the signal in its report, before the JSON.
	sed -i -n '/^{/,$p' "$1"
	[ -s "$1" ] || fail "fio wrote no report to $1"
	assert_eq "fio errors" 0 "$(fio_sum "$1" '.error')"
}
trap '[ -z "$mixed_pid" ] || kill -INT "$mixed_pid" 2>/dev/null; cleanup_policies; cleanup_ssdsim' EXIT
# Relative prediction error (%) of DIR (read|write) since the live model's
# push (generation 0: the running mean), as `ufqctl stats` reports it:
# STAT is median_pct or count.
pred_err() { # DIR STAT
	ufqctl stats --dev "$dev" --count 1 --json | jq ".pred_error.$1.$2 // 0"
}
measured() { # N
	[ "$(pred_err read count)" -ge "$1" ] && [ "$(pred_err write count)" -ge "$1" ]
}
# Until N predictions of each direction were measured, looking every 2 s:
# ufqctl and jq take CPU from the device's server, whose time is part of
# every service time (polled every 0.1 s, the live read error after the
# push was 5 points above the trainer's held-out one).
wait_measured() { # N
	local i
	for ((i = 0; i < 60; i++)); do
		measured "$1" && return 0
		sleep 2
	done
	fail "timed out after 120s waiting for $1 predictions of each direction"
}
generation() { ufqctl model show ml --json | jq .generation; }

# ---- before a push: record a trace under the prior --------------------------------
# One load from the recording to the end. The model is judged on the device
# the trace showed: stopped while the trainer ran and started again, the
# load met a device whose write buffer had emptied and whose GC factor had
# fallen, writes in well under a millisecond where the recorded ones took
# several, and no feature shows that state (in 3 of 3 such runs the
# model's median write error over the first ~850 writes was 50-86%, p90
# 500-1000%, while the same weights erred by 36-40% on a trace of that
# load's later part). Train on traces of every phase a device goes through.
trace=$UFQ_OUT/200-trace.csv
mixed_start "$UFQ_OUT/200-mixed.json"
ufqctl trace record --dev "$dev" --duration 35 -o "$trace" || fail "ufqctl trace record failed"
wait_measured 300
events=$(($(wc -l <"$trace") - 1))
info "trace: $events requests"
before_r=$(pred_err read median_pct) before_w=$(pred_err write median_pct)
info "prediction error under the prior: reads $before_r%, writes $before_w% (median)"

# ---- train and push, the load running on ---------------------------------------
w=$UFQ_OUT/200-weights.json
ufqctl model train ml --trace "$trace" -o "$w" --seed 1 | tee "$UFQ_OUT/200-train.txt" ||
	fail "ufqctl model train failed"
base_r=$(jq '.baseline_err_pct[0]' "$w") base_w=$(jq '.baseline_err_pct[1]' "$w")
assert_eq "push" "ml: model generation 1 is live" "$(ufqctl model push ml "$w")"

# The pushed values, by field name, in the live slot.
dump=$(bpftool -j map dump name ml_model | jq -c '.[0].formatted.value')
active=$(jq .active <<<"$dump")
for field in b2 in_mean in_scale w1 b1 w2 seq_w seq_b trained_on; do
	assert_eq "ml_model slot[$active].$field (bpftool)" "$(jq -c ".$field" "$w")" \
		"$(jq -c ".slot[$active].$field" <<<"$dump")"
done

# ---- after the push ---------------------------------------------------------------
# A median of 500 moves by about a point and a half from run to run here.
wait_measured 500
mixed_stop "$UFQ_OUT/200-mixed.json"
after_r=$(pred_err read median_pct) after_w=$(pred_err write median_pct)
info "prediction error with the model: reads $after_r%, writes $after_w% (median); mean predictor: reads $base_r%, writes $base_w% (held out)"
ufqctl model show ml | head -5
[ "$after_r" -lt "$before_r" ] || fail "read prediction error $after_r% is not below the prior's $before_r%"
[ "$after_w" -lt "$before_w" ] || fail "write prediction error $after_w% is not below the prior's $before_w%"
[ "$after_r" -lt "$base_r" ] || fail "read prediction error $after_r% is not below the mean predictor's $base_r%"
[ "$after_w" -lt "$base_w" ] || fail "write prediction error $after_w% is not below the mean predictor's $base_w%"

# ---- bad weights: one line, the live model unchanged -----------------------------
bad=$UFQ_OUT/200-bad.json
refused() { # PATTERN
	local err rc=0
	err=$(ufqctl model push ml "$bad" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -ne 0 ] || fail "a bad weights file was pushed: $(head -c 200 "$bad")"
	assert_eq "error lines" 1 "$(wc -l <<<"$err")"
	grep -q -- "$1" <<<"$err" || fail "expected '$1', got: $err"
	assert_eq "generation after a refused push" 1 "$(generation)"
	info "refused: $err"
}
head -c 100 "$w" >"$bad"
refused "JSON"
jq '.w2 = .w2[0:7]' "$w" >"$bad"
refused "w2"
jq '.in_scale[0] = -1' "$w" >"$bad"
refused "in_scale"

assert_policy "$dev" ml
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
