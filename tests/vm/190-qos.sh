#!/usr/bin/env bash
# The qos policy with cgroup v2 tenants, on a device that is the bottleneck
# (null_blk: 4 tags, 0.5 ms per request, memory-backed for verify; 64
# scheduler tags, so that the LC tenant's requests reach the policy instead
# of waiting for a tag behind the BE tenants' - qos orders requests, it does
# not limit tag use by tenant). The model is what tools/qos/calibrate would
# write for it: 8000 4k reads a second.
# - an LC tenant (QD1 4k reads, 2000 IOPS reserved, its p99 alone as its
#   target) beside two BE tenants (QD32 4k reads, QD16 16k writes): the LC
#   tenant's p99 is below each BE tenant's; the feedback cut the budget, the
#   BE tenants were held back (for the LC tenant's reserved hardware tag,
#   and by their buckets unless the cuts were found futile) and the LC
#   tenant never was (its p99 under
#   none with the same load is logged: across runs it measures the host;
#   a debug kernel, /proc/lockdep, skips that baseline);
# - fio verify=crc32c in an LC and a BE cgroup at once: zero errors;
# - with a target no cut can meet, the cuts are found futile and undone;
# - a BE-only load is never held back, whatever the budget (work
#   conservation: no dispatch call waits for tokens or keeps the LC
#   reserve) and, on a non-debug kernel, gets at least 70% of the IOPS it
#   gets under none;
# - a tenant changed (lc -> be) and another removed while their cgroups
#   have I/O in flight: zero errors, the policy stays, the slot follows,
#   the removed tenant's slot is freed once idle;
# - a child cgroup without an entry counts for its parent's tenant;
# - a cgroup removed while configured: listed as deleted, removed by id;
# - no fallback, no policy error, ufq's counters add up.
. "$(dirname "$0")/lib.sh"

cg=/sys/fs/cgroup
grep -qw io "$cg/cgroup.controllers" 2>/dev/null || skip "no io controller in cgroup v2 at $cg"
echo +io >"$cg/cgroup.subtree_control"
groups=(ufqlc ufqbe1 ufqbe2 ufqgone)
for g in "${groups[@]}"; do mkdir -p "$cg/$g"; done
cleanup_cgroups() {
	local g
	for g in "${groups[@]}"; do rmdir "$cg/$g" 2>/dev/null || true; done
}
trap 'cleanup_policies; cleanup_nullb; cleanup_cgroups' EXIT

dev=ufqq0
make_nullb "$dev" size=256 memory_backed=1 irqmode=2 completion_nsec=500000 hw_queue_depth=4 \
	submit_queues=1
set_sched "$dev" ufq
echo 64 >"/sys/block/$dev/queue/nr_requests"

# in_cgroup NAME COMMAND...: run COMMAND (or a function) as a member of cgroup NAME.
in_cgroup() {
	local dir=$cg/$1
	shift
	(echo $BASHPID >"$dir/cgroup.procs" && "$@")
}

fio_common=(--filename="/dev/$dev" --direct=1 --ioengine=libaio --randrepeat=0 --size=256M)
# tenants_load TAG: the LC reader and the two BE tenants for 5 s, each in its cgroup.
tenants_load() {
	local pids=() p
	in_cgroup ufqlc fio --output-format=json --output="$UFQ_OUT/190-$1-lc.json" "${fio_common[@]}" \
		--time_based --runtime=5 --ramp_time=1 --name=lc --rw=randread --bs=4k --iodepth=1 &
	pids+=($!)
	in_cgroup ufqbe1 fio --output-format=json --output="$UFQ_OUT/190-$1-be1.json" "${fio_common[@]}" \
		--time_based --runtime=5 --ramp_time=1 --name=be1 --rw=randread --bs=4k --iodepth=32 &
	pids+=($!)
	in_cgroup ufqbe2 fio --output-format=json --output="$UFQ_OUT/190-$1-be2.json" "${fio_common[@]}" \
		--time_based --runtime=5 --ramp_time=1 --name=be2 --rw=randwrite --bs=16k --iodepth=16 &
	pids+=($!)
	for p in "${pids[@]}"; do wait "$p" || fail "fio ($1) exited with an error"; done
	for p in lc be1 be2; do
		assert_eq "fio errors ($1 $p)" 0 "$(fio_sum "$UFQ_OUT/190-$1-$p.json" '.error')"
	done
}
p99_us() { # JSON: the job's p99 completion latency, read or write, in us
	jq '.jobs[0] | (if .read.total_ios > 0 then .read else .write end).clat_ns.percentile["99.000000"] / 1000 | floor' "$1"
}
iops() { jq '[.jobs[0].read.iops, .jobs[0].write.iops] | add | floor' "$1"; }
qos_status() { # the device's entry of qos_status, as JSON
	local id
	id=$(iosched "$dev" id)
	bpftool -j map lookup pinned /sys/fs/bpf/ufq/qos/maps/qos_status \
		key $((id & 255)) $((id >> 8 & 255)) 0 0 | jq '.formatted.value'
}
log_status() { # qos_status JSON on stdin: its figures worth a look, logged
	jq -c '{budget: (.budget / 1024 | floor), spare, cuts, raises, holds, kicks, aged, futile, reserve_holds,
		tenants: [.tenants[] | select(.cgroup != 0 or .dispatched != 0) |
			{cgroup, cls, iops, rate: (.rate / 1024 | floor), tokens, dispatched, throttled_ms, p99_us}]}' |
		sed 's/^/-- status: /' >&2
}

# ---- the baseline under none ---------------------------------------------------
# Numbers to log, and the BE-alone IOPS the qos run is held to on a
# non-debug kernel; a debug kernel (lock debugging: /proc/lockdep) asserts
# nothing on them, so it skips them.
debug_kernel=0
[ -e /proc/lockdep ] && debug_kernel=1
if [ $debug_kernel = 0 ]; then
	set_sched "$dev" none
	tenants_load none
	none_lc=$(p99_us "$UFQ_OUT/190-none-lc.json")
	info "none: LC p99 $none_lc us, BE p99 $(p99_us "$UFQ_OUT/190-none-be1.json") and $(p99_us "$UFQ_OUT/190-none-be2.json") us"
	run_fio "$UFQ_OUT/190-none-beonly.json" "${fio_common[@]}" --time_based --runtime=3 \
		--name=beonly --rw=randread --bs=4k --iodepth=32
	none_beonly=$(iops "$UFQ_OUT/190-none-beonly.json")
else
	info "debug kernel: no baseline under none"
	none_lc="(not measured)" none_beonly="(not measured)"
fi

# ---- qos ---------------------------------------------------------------------------
set_sched "$dev" ufq
echo 64 >"/sys/block/$dev/queue/nr_requests"
ufqctl load "$POLICIES/qos.bpf.o" --dev "$dev" >/dev/null
assert_policy "$dev" qos
model=$UFQ_OUT/190-model.json
jq -n '{read_cost: [1024, 1280, 1792, 2816, 4864, 8960],
	write_cost: [1024, 1280, 1792, 2816, 4864, 8960],
	write_weight_max: 1024, write_ramp_mib: 1024, device_viops: 8000,
	curve_viops: [2000, 4000, 6000, 8000, 0, 0, 0, 0],
	curve_p99_us: [600, 700, 1100, 6000, 0, 0, 0, 0]}' >"$model"
ufqctl model push qos "$model" >/dev/null
ufqctl tenant set qos "$cg/ufqlc" class=lc iops=2000
ufqctl tenant set qos "$cg/ufqbe1" class=be weight=100
ufqctl tenant set qos "$cg/ufqbe2" class=be weight=100
# The SLO: the LC job's p99 alone (the benchmark allows 1.5 times that; a
# target this tight makes the feedback act, which is what is tested).
in_cgroup ufqlc fio --output-format=json --output="$UFQ_OUT/190-lc-alone.json" "${fio_common[@]}" \
	--time_based --runtime=3 --ramp_time=1 --name=lc --rw=randread --bs=4k --iodepth=1 ||
	fail "fio (LC alone) failed"
slo=$(p99_us "$UFQ_OUT/190-lc-alone.json")
info "LC alone: p99 $(p99_us "$UFQ_OUT/190-lc-alone.json") us; SLO $slo us"
ufqctl tenant set qos "$cg/ufqlc" slo_p99_us="$slo"

tenants_load qos
lc=$(p99_us "$UFQ_OUT/190-qos-lc.json")
be1=$(p99_us "$UFQ_OUT/190-qos-be1.json")
be2=$(p99_us "$UFQ_OUT/190-qos-be2.json")
info "qos: LC p99 $lc us, BE p99 $be1 and $be2 us; BE IOPS $(iops "$UFQ_OUT/190-qos-be1.json") and $(iops "$UFQ_OUT/190-qos-be2.json")"
qos_status | log_status
[ "$lc" -lt "$be1" ] || fail "LC p99 ($lc us) is not below BE reader's ($be1 us)"
[ "$lc" -lt "$be2" ] || fail "LC p99 ($lc us) is not below BE writer's ($be2 us)"
# Against none's run (logged, not asserted): two p99s of separate runs under
# emulation differ by 2x from run to run (the LC job alone has come out
# above its p99 beside the BE load under none), so their order measures
# the host. The mechanism is asserted instead: the feedback cut the budget,
# the BE tenants were held back and the LC tenant, within its reservation,
# never was.
info "LC p99: $lc us under qos, $none_lc us under none (logged only)"
cuts=$(qos_status | jq .cuts)
[ "$cuts" -gt 0 ] || fail "the feedback never cut the budget although the LC tenant's target is its p99 alone"
throttled() { qos_status | jq --argjson id "$(stat -c %i "$cg/$1")" '[.tenants[] | select(.cgroup == $id) | .throttled_ms] | add // 0'; }
# On the KASAN kernel (tools/test.sh --kasan) the emulated CPU, not the
# budget, holds the BE tenants below their rates (seen: 283 IOPS together
# against a cut budget of 800 VIO/s), so there is nothing to hold back.
# When the cuts did not shrink the LC tenant's miss (seen on the lockdep
# kernel: LC p99 15 ms against a 1.7 ms target, the emulated CPU the
# bottleneck), the feedback undid them (futile) and the budget no longer
# binds: then only the reserve, asserted below, holds the BE tenants.
if [ "${UFQ_KERNEL_LABEL:-}" = kasan ]; then
	info "KASAN kernel: BE tenants held back for $(throttled ufqbe1) and $(throttled ufqbe2) ms (logged only)"
elif [ "$(qos_status | jq .futile)" -gt 0 ]; then
	info "cuts found futile and undone: BE tenants held back by their buckets for $(throttled ufqbe1) and $(throttled ufqbe2) ms (logged only)"
else
	[ "$(throttled ufqbe1)" -gt 0 ] && [ "$(throttled ufqbe2)" -gt 0 ] ||
		fail "the BE tenants were never held back (throttled_ms $(throttled ufqbe1), $(throttled ufqbe2))"
fi
assert_eq "time the LC tenant was held back (ms)" 0 "$(throttled ufqlc)"
# The BE tenants keep more than 4 requests ready for the 4 hardware tags:
# with the LC tenant running, the reserve (lc_reserve, 1 tag) held some.
assert_ge "BE dispatches held for the LC tenant's hardware tag" 1 "$(qos_status | jq .reserve_holds)"
info "feedback: $cuts cuts, $(qos_status | jq .raises) raises, budget now $(($(qos_status | jq .budget) / 1024)) VIO/s"
list=$(ufqctl tenant list qos --json)
info "tenants: $(jq -c . <<<"$list")"
assert_policy "$dev" qos
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"

# ---- a target no cut can meet: the cuts are undone ---------------------------------
# 50 us is a tenth of the device's service time: whatever the BE tenants get,
# the LC tenant misses. After futile_cuts cuts that did not shrink the miss,
# the budget goes back and misses cut nothing for a backoff (qos.h,
# qos_streak_checkpoint()); without that the budget sinks to min_budget_pct.
# A floor of 60% makes the outcome independent of the host's speed: cuts
# above the floor may still shrink the miss (on the lockdep kernel the
# emulated CPU is the bottleneck and fewer BE requests free it: 6 cuts from
# 6000 to 2219 VIO/s, each shrinking the miss), but cuts held at the floor
# cannot. A p99 every 50 completions gives enough judged windows where the
# LC reader is slow (the lockdep kernel: some 70 completions a window). A
# futile streak of the run above (seen on the lockdep kernel) backs off for
# up to 160 windows: wait for that to end first.
floor_pct=$(ufqctl get qos min_budget_pct)
samples=$(ufqctl get qos min_samples)
ufqctl set qos min_budget_pct=60 min_samples=50
ufqctl tenant set qos "$cg/ufqlc" slo_p99_us=50
for _ in $(seq 200); do
	[ "$(qos_status | jq .futile_left)" = 0 ] && break
	sleep 0.1
done
assert_eq "windows of a futile streak's backoff still left" 0 "$(qos_status | jq .futile_left)"
before=$(qos_status)
tenants_load futile
after=$(qos_status)
futile=$(($(jq .futile <<<"$after") - $(jq .futile <<<"$before")))
cuts_made=$(($(jq .cuts <<<"$after") - $(jq .cuts <<<"$before")))
info "unmeetable target: $cuts_made cuts, $futile futile streaks undone; budget $(($(jq .budget <<<"$before") / 1024)) -> $(($(jq .budget <<<"$after") / 1024)) VIO/s; BE IOPS $(iops "$UFQ_OUT/190-futile-be1.json") and $(iops "$UFQ_OUT/190-futile-be2.json")"
log_status <<<"$after"
assert_ge "futile streaks of cuts undone" 1 "$futile"
assert_policy "$dev" qos
ufqctl tenant set qos "$cg/ufqlc" slo_p99_us="$slo"
ufqctl set qos min_budget_pct="$floor_pct" min_samples="$samples"

# ---- BE alone: the whole device ----------------------------------------------------
budget=$(($(qos_status | jq .budget) / 1024))
sleep 0.3	# past the window in which the LC tenant last ran
kicks_before=$(qos_status | jq .kicks)
reserved_before=$(qos_status | jq .reserve_holds)
in_cgroup ufqbe1 fio --output-format=json --output="$UFQ_OUT/190-qos-beonly.json" "${fio_common[@]}" \
	--time_based --runtime=3 --name=beonly --rw=randread --bs=4k --iodepth=32 ||
	fail "fio (BE alone) failed"
qos_beonly=$(iops "$UFQ_OUT/190-qos-beonly.json")
held=$(($(qos_status | jq .kicks) - kicks_before))
reserved=$(($(qos_status | jq .reserve_holds) - reserved_before))
info "BE alone: $qos_beonly IOPS under qos (budget $budget VIO/s when it started), $none_beonly under none; dispatch calls that held it back: $held for tokens, $reserved for the LC reserve"
# Work conservation: with no LC tenant running, no dispatch call holds the
# BE tenant back, whatever its tokens, and no tag is kept for an LC tenant.
# (Its IOPS against the budget is not the test: a debug kernel's CPU cost
# alone can keep it near the budget.)
assert_eq "dispatch calls that held a BE tenant back with no LC tenant running" 0 "$held"
assert_eq "BE dispatches held for the LC reserve with no LC tenant running" 0 "$reserved"
# No more than the policy's own cost below none (under emulation the CPU,
# not the device, is the bottleneck: every elevator costs IOPS here). On a
# lockdep kernel every BPF call and lock costs several times more, so there
# it is not asserted (and none's is not measured).
if [ $debug_kernel = 0 ]; then
	assert_ge "BE-alone IOPS x10 under qos vs 7x none's" "$((none_beonly * 7))" "$((qos_beonly * 10))"
fi

# ---- verify in an LC and a BE cgroup at once ---------------------------------------
in_cgroup ufqlc fio_verify_job "$dev" "$UFQ_OUT/190-verify-lc.json" 16 &
v1=$!
in_cgroup ufqbe1 fio_verify_job "$dev" "$UFQ_OUT/190-verify-be.json" 16 --offset=64M &
v2=$!
wait "$v1" || fail "verify in the LC cgroup failed"
wait "$v2" || fail "verify in the BE cgroup failed"

# ---- tenants changed and removed under load ----------------------------------------
in_cgroup ufqlc fio --output-format=json --output="$UFQ_OUT/190-change-lc.json" "${fio_common[@]}" \
	--time_based --runtime=3 --name=lc --rw=randrw --bs=4k --iodepth=8 &
f1=$!
in_cgroup ufqbe2 fio --output-format=json --output="$UFQ_OUT/190-change-be2.json" "${fio_common[@]}" \
	--time_based --runtime=3 --name=be2 --rw=randwrite --bs=16k --iodepth=16 &
f2=$!
sleep 1
ufqctl tenant set qos "$cg/ufqlc" class=be weight=300
ufqctl tenant del qos "$cg/ufqbe2"
wait "$f1" || fail "fio in the changed tenant failed"
wait "$f2" || fail "fio in the removed tenant failed"
assert_eq "fio errors (changed tenant)" 0 "$(fio_sum "$UFQ_OUT/190-change-lc.json" '.error')"
assert_eq "fio errors (removed tenant)" 0 "$(fio_sum "$UFQ_OUT/190-change-be2.json" '.error')"
list=$(ufqctl tenant list qos --json)
assert_eq "tenants after one removal" 2 "$(jq '.tenants | length' <<<"$list")"
status=$(qos_status)
lc_id=$(stat -c %i "$cg/ufqlc")
assert_eq "the changed tenant's slot is BE with weight 300" "0 300" \
	"$(jq -r --argjson id "$lc_id" '.tenants[] | select(.cgroup == $id) | "\(.cls) \(.weight)"' <<<"$status")"
be2_id=$(stat -c %i "$cg/ufqbe2")
sleep 0.3	# idle for a window (100 ms): the removed tenant's slot is freed
assert_eq "slots still held by the removed tenant" 0 \
	"$(qos_status | jq --argjson id "$be2_id" '[.tenants[] | select(.cgroup == $id)] | length')"
assert_policy "$dev" qos
check_ufq_accounting "$dev"

# ---- a child without an entry counts for its nearest configured ancestor -------------
echo +io >"$cg/ufqbe1/cgroup.subtree_control"
mkdir "$cg/ufqbe1/child"
groups=(ufqbe1/child "${groups[@]}")	# removed first
be1_id=$(stat -c %i "$cg/ufqbe1")
slot_dispatched() { qos_status | jq --argjson id "$1" '[.tenants[] | select(.cgroup == $id) | .dispatched] | add // 0'; }
before=$(slot_dispatched "$be1_id")
in_cgroup ufqbe1/child dd if="/dev/$dev" of=/dev/null bs=4k count=300 iflag=direct status=none
after=$(slot_dispatched "$be1_id")
child_slot=$(slot_dispatched "$(stat -c %i "$cg/ufqbe1/child")")
info "the child's 300 reads: ufqbe1's slot dispatched $((after - before)), a slot of the child's own $child_slot"
assert_ge "reads of ufqbe1/child counted in ufqbe1's slot" 300 "$((after - before))"
assert_eq "requests in a slot of the child's own" 0 "$child_slot"

# ---- a cgroup removed while configured ----------------------------------------------
ufqctl tenant set qos "$cg/ufqgone" class=lc slo_p99_us=5000
gone_id=$(stat -c %i "$cg/ufqgone")
in_cgroup ufqgone dd if="/dev/$dev" of=/dev/null bs=4k count=256 iflag=direct status=none
rmdir "$cg/ufqgone"
list=$(ufqctl tenant list qos)
grep -q "deleted" <<<"$list" || fail "a removed cgroup is not listed as deleted: $list"
ufqctl tenant del qos --id "$gone_id"
[ "$(ufqctl tenant list qos --json | jq '.tenants | length')" = 2 ] || fail "the removed cgroup's entry is still there"
dd if="/dev/$dev" of=/dev/null bs=4k count=256 iflag=direct status=none
assert_policy "$dev" qos
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
