#!/usr/bin/env bash
# The ml policy's data path: fio verify=crc32c with zero errors under ml
# (with and without a model: the prior, then weights from the trainer's
# format pushed under load), live swaps ml -> lanes -> deadline -> ml under
# verified load, writes held back by the admission window and the read
# reserve under verified load, and its per-device state by field name; no
# fallback, no policy error, ufq's counters add up. The trace -> train -> push loop and
# the prediction error are in 200-ml.sh.
. "$(dirname "$0")/lib.sh"

dev=ufqm0
make_nullb "$dev" size=512 memory_backed=1 submit_queues=2
ufqctl load "$POLICIES/ml.bpf.o" --dev "$dev"
assert_policy "$dev" ml
generation() { ufqctl model show ml --json | jq .generation; }

# Under the prior, reads and writes of several sizes beside the verify job.
ml_load() { # JSON MB
	fio_verify_job "$dev" "$1" "$2" --iodepth=8 \
		--name=bulk --filename="/dev/$dev" --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bssplit=4k/50:128k/50 --offset=128M --size="$(($2 * 2))M" \
		--name=reader --filename="/dev/$dev" --direct=1 --ioengine=libaio --iodepth=4 \
		--rw=randread --bssplit=4k/50:64k/50 --offset=256M --size="$(($2 * 2))M"
}
ml_load "$UFQ_OUT/205-prior.json" 16
assert_eq "generation" 0 "$(generation)"
check_ufq_accounting "$dev"

# A model pushed while verified I/O runs: every decision uses one whole model.
w=$UFQ_OUT/205-weights.json
# As many features as the loaded object's struct ml_weights has (ML_NR_FEATURES).
nf=$(bpftool -j map dump name ml_model | jq '.[0].formatted.value.slot[0].in_mean | length')
[ "$nf" -gt 0 ] || fail "no in_mean in bpftool's dump of ml_model"
jq -n --argjson nf "$nf" '{in_mean: [range($nf) | 0], in_scale: [range($nf) | 65536],
	w1: [range(8) | [range($nf) | 1024]], b1: [range(8) | 0],
	w2: [range(8) | 4096], b2: 655360, seq_w: [0, 0, 0, 0], seq_b: 0,
	trained_on: 0, baseline_err_pct: [0, 0]}' >"$w"
ml_load "$UFQ_OUT/205-push.json" 16 &
v=$!
sleep 1
ufqctl model push ml "$w"
wait "$v" || fail "verify while a model was pushed failed"
assert_eq "generation" 1 "$(generation)"

# Live swaps under verified load.
ufqctl load "$POLICIES/lanes.bpf.o"
ufqctl load "$POLICIES/deadline.bpf.o"
ml_load "$UFQ_OUT/205-swap.json" 32 &
v=$!
for p in lanes deadline ml lanes ml; do
	sleep 0.5
	ufqctl bind "$p" --dev "$dev" || fail "bind $p under load"
done
wait "$v" || fail "verify while swapping ml, lanes and deadline failed"
assert_policy "$dev" ml
assert_eq "generation after the swaps" 1 "$(generation)"

# The device's state by name.
id=$(iosched "$dev" id)
key=$(printf '%d %d %d %d' $((id & 255)) $((id >> 8 & 255)) $((id >> 16 & 255)) $((id >> 24)))
# shellcheck disable=SC2086
status() { bpftool -j map lookup name ml_status key $key | jq -c .formatted.value; }

# Writes held back by the admission window and by the read reserve come
# back on completions and kicks, verified: on a second, slow device (4 tags,
# 200 us a request, so that requests are in flight when others arrive; the
# first completes inline), with a window below one pushed prediction and a
# reserve of 3 of its 4 tags, both hold writes back.
slow=ufqm1
make_nullb "$slow" size=64 memory_backed=1 irqmode=2 completion_nsec=200000 hw_queue_depth=4 \
	submit_queues=1
ufqctl bind ml --dev "$slow"
ufqctl set ml latency_window_us=100 read_reserve=3
slow_id=$(iosched "$slow" id)
fio_verify_job "$slow" "$UFQ_OUT/205-held.json" 4 \
	--name=reader --filename="/dev/$slow" --direct=1 --ioengine=libaio --iodepth=4 \
	--rw=randread --bs=4k --offset=32M --size=16M --time_based --runtime=3
# shellcheck disable=SC2046
held=$(bpftool -j map lookup name ml_status key $(printf '%d %d %d %d' $((slow_id & 255)) \
	$((slow_id >> 8 & 255)) $((slow_id >> 16 & 255)) $((slow_id >> 24))) |
	jq -c '.formatted.value | {holds, reserve_holds}')
info "$slow held back: $held (dispatch calls)"
assert_ge "dispatch calls the window held back" 1 "$(jq .holds <<<"$held")"
assert_ge "dispatch calls the read reserve held back" 1 "$(jq .reserve_holds <<<"$held")"
assert_eq "$slow policy errors" 0 "$(ufq_stat "$slow" policy_errors)"
check_ufq_accounting "$slow"
ufqctl set ml latency_window_us=0 read_reserve=0
st=$(status)

# Every request it was offered went somewhere.
info "ml_status: $(jq -c '{inserted, direct, dispatched, completed, aged, holds, reserve_holds, batches, model_gen}' <<<"$st")"
assert_eq "ml_status dev" "$(($(cut -d: -f1 <"/sys/block/$dev/dev") << 20 | $(cut -d: -f2 <"/sys/block/$dev/dev")))" "$(jq .dev <<<"$st")"
assert_eq "ml_status model_gen" 1 "$(jq .model_gen <<<"$st")"
assert_ge "requests ml dispatched" 1 "$(jq '.dispatched | add' <<<"$st")"
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
