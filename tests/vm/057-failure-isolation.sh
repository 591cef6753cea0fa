#!/usr/bin/env bash
# Failures are kept per policy: a failure of a policy that does not serve the
# device (a candidate's init_dev(), a replaced policy's exit_dev() or late
# completion) never disturbs the serving policy, and the serving policy's own
# failure is always recorded and applied. Under verified load, with two
# copies of tests/policies/abort_on_cue.bpf.c (abort_on_cue, and
# abort_on_cue2 under another name), which call ufq_bpf_abort() on cue and then
# spin, so that their failure is pending for a while (spin_ms) while the
# serving policy works on the other CPU:
#
#  1. abort_on_cue serves; binding abort_on_cue2, whose init_dev() aborts
#     and spins, fails, and abort_on_cue keeps the device with none of its
#     kfunc calls refused (its ufq_bpf_insert() never fails) and no request
#     served by the fallback FIFO. Then the same bind is tried while
#     abort_on_cue itself calls ufq_bpf_abort() from a completion during the
#     candidate's init_dev() (the test checks the timestamps, and retries
#     otherwise): the bind still fails, and the device falls back with
#     abort_on_cue's reason.
#  2. abort_on_cue serves again; the device moves to abort_on_cue2 while
#     abort_on_cue's exit_dev() aborts and spins: abort_on_cue2 is not
#     disturbed.
#  3. abort_on_cue2 serves; one of its completions (on CPU 1) starts
#     spinning, the device moves to abort_on_cue (the move waits for the
#     completion in synchronize_rcu()), and the completion calls
#     ufq_bpf_abort() after the move, then lingers for 2 s while abort_on_cue
#     serves the verified load on CPU 0: a late failure of a replaced
#     policy, which must not disturb abort_on_cue. The test checks from the
#     policies' timestamps that the spin began before abort_on_cue's
#     init_dev() and ended well after it, and retries otherwise.
#
# Before failures were kept per policy there was one failure slot per
# device: in 1 the serving policy's locked callbacks found the candidate's
# pending failure, were refused their kfuncs (ufq_bpf_insert() failed, the
# request went to the FIFO) and cleared it, so the refusing candidate was
# bound, and the serving policy's own failure found the slot taken and was
# not recorded; in 2 the old policy's exit_dev() failure refused the new
# policy's kfuncs for as long as exit_dev() ran; in 3 the late failure
# refused the new policy's kfuncs while the completion lingered (until the
# old policy's exit_dev(), after the grace period, consumed it). Each of
# the three fails on that kernel (checked in a VM run of it: 1 and 2 at
# once, 3 when abort_on_cue's first insert is refused).
. "$(dirname "$0")/lib.sh"

# Two sources of requests, one per CPU: this script and the verified load on
# CPU 0, random reads on CPU 1. While a callback spins with preemption
# disabled on CPU 0 (init_dev() and exit_dev() run in the context of the
# write to iosched/policy), the serving policy keeps getting requests from
# CPU 1; a completion that spins does so on CPU 1 (spin_cpu=2) while the
# move happens, and the new policy serves, on CPU 0.
[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
taskset -pc 0 $$ >/dev/null

dev=ufqi0
# Completions in a soft interrupt of the CPU that issued the request, so
# that a completion spinning on CPU 1 holds back nothing issued on CPU 0.
make_nullb "$dev" size=256 memory_backed=1 submit_queues=2 irqmode=1
ufqctl load "$POLICIES/abort_on_cue.bpf.o" --dev "$dev" --set spin_ms=300
ufqctl load "$POLICIES/abort_on_cue2.bpf.o" --set spin_ms=300
assert_policy "$dev" abort_on_cue
policy_attr=/sys/block/$dev/queue/iosched/policy

# st POLICY FIELD...: the fields of the policy's aoc_state, on one line, from
# one read of the map (under this load every process takes seconds to
# start: one bpftool and one jq for all the fields).
st() {
	local p=$1
	shift
	bpftool -j map dump pinned "/sys/fs/bpf/ufq/$p/maps/aoc_state" |
		jq -r --args '.[0].formatted.value as $v | [$ARGS.positional[] | $v[.] | tostring] | join(" ")' "$@"
}
cue() { timeout 60 "$UFQCTL" set "$@" >/dev/null || fail "ufqctl set $* failed"; }

# Verified rounds in the background.
start_rounds 057 fio_verify_job "$dev" "$UFQ_OUT/057-fio.json" 32 --cpus_allowed=0
fio --name=cpu1 --filename="/dev/$dev" --direct=1 --ioengine=psync \
	--rw=randread --bs=4k --size=256M --time_based --runtime=600 \
	--cpus_allowed=1 --output=/dev/null &
reader_pid=$!
stop_load() {
	if [ -n "$reader_pid" ]; then
		kill "$reader_pid" 2>/dev/null || true
		wait "$reader_pid" 2>/dev/null || true
		reader_pid=
	fi
	stop_rounds
}
# Cues off first: unloading runs exit_dev().
trap 'stop_load
	for p in abort_on_cue abort_on_cue2; do
		timeout 60 "$UFQCTL" set $p init_abort=0 exit_abort=0 complete_abort=0 >/dev/null 2>&1 || true
	done
	cleanup_policies; cleanup_nullb' EXIT

# Baselines, and the checks that the serving POLICY was not disturbed since.
baseline() { # POLICY
	read -r b_ins b_err < <(st "$1" inserts insert_errors)
	b_fifo=$(ufq_stat "$dev" fallback)
	b_perr=$(ufq_stat "$dev" policy_errors)
}
undisturbed() { # POLICY
	assert_policy "$dev" "$1"
	local ins err
	read -r ins err < <(st "$1" inserts insert_errors)
	assert_eq "$1: failed ufq_bpf_insert() calls (kfuncs refused)" "$b_err" "$err"
	assert_eq "requests served by the fallback FIFO" "$b_fifo" "$(ufq_stat "$dev" fallback)"
	assert_eq "policy errors" "$b_perr" "$(ufq_stat "$dev" policy_errors)"
	assert_ge "$1: inserts meanwhile" $((b_ins + 1)) "$ins"
}

# fio takes seconds to start under emulation (more on a debugging kernel):
# the checks below need requests flowing through the serving policy.
wait_for "the load's requests" 60 eval '[ "$(ufq_stat "$dev" inserted)" -gt 100 ]'

refuse_candidate() {
	if echo abort_on_cue2 >"$policy_attr" 2>/dev/null; then
		fail "binding abort_on_cue2, whose init_dev() called ufq_bpf_abort(), succeeded"
	fi
}

info "== 1a: a candidate whose init_dev() aborts is refused"
baseline abort_on_cue
cue abort_on_cue2 init_abort=1
refuse_candidate
assert_ge "abort_on_cue2: init_dev() aborts" 1 "$(st abort_on_cue2 init_aborts)"
undisturbed abort_on_cue

info "== 1b: the serving policy fails while the candidate's failure is pending"
# abort_on_cue's completion aborts about 1 s after the cue, while
# abort_on_cue2's init_dev() spins for 3 s after its own ufq_bpf_abort().
cue abort_on_cue2 spin_ms=3000
during=
for attempt in 1 2 3; do
	assert_policy "$dev" abort_on_cue
	b_perr=$(ufq_stat "$dev" policy_errors)
	cue abort_on_cue delay_ms=1000 complete_abort=3
	refuse_candidate
	wait_for "$dev to fall back" 30 grep -qx fallback "/sys/block/$dev/queue/iosched/state"
	abort=$(st abort_on_cue abort_ns)
	read -r init init_end < <(st abort_on_cue2 init_dev_ns init_end_ns)
	info "abort_on_cue aborted at $abort, abort_on_cue2's init_dev ran $init..$init_end"
	if [ "$init" -lt "$abort" ] && [ "$abort" -lt "$init_end" ]; then
		during=1
		break
	fi
	info "not during the candidate's init_dev() (attempt $attempt), again"
	echo abort_on_cue >"$policy_attr"
	sleep 0.5
done
[ -n "$during" ] || fail "could not make abort_on_cue fail while abort_on_cue2's init_dev() ran"
assert_fallback "$dev" abort
case "$(iosched "$dev" last_error)" in
*"policy abort_on_cue: abort_on_cue: completed() on cue"*) ;;
*) fail "last_error does not name abort_on_cue's abort: $(iosched "$dev" last_error)" ;;
esac
assert_eq "policy errors" $((b_perr + 1)) "$(ufq_stat "$dev" policy_errors)"
cue abort_on_cue2 init_abort=0 spin_ms=300

info "== 2: the replaced policy's exit_dev() aborts"
echo abort_on_cue >"$policy_attr"
assert_policy "$dev" abort_on_cue
sleep 0.5
cue abort_on_cue exit_abort=1
baseline abort_on_cue2
echo abort_on_cue2 >"$policy_attr" || fail "cannot move $dev to abort_on_cue2"
sleep 0.5
cue abort_on_cue exit_abort=0
assert_ge "abort_on_cue: exit_dev() aborts" 1 "$(st abort_on_cue exit_aborts)"
undisturbed abort_on_cue2

info "== 3: a completion of the replaced policy aborts late"
cue abort_on_cue2 spin_ms=2000 linger_ms=2000 spin_cpu=2
overlap=
for attempt in 1 2 3; do
	assert_policy "$dev" abort_on_cue2
	baseline abort_on_cue
	b_spin=$(st abort_on_cue2 spin_start_ns)
	cue abort_on_cue2 complete_abort=2
	sleep 0.5
	echo abort_on_cue >"$policy_attr" || fail "cannot move $dev to abort_on_cue"
	read -r start end < <(st abort_on_cue2 spin_start_ns spin_end_ns)
	init=$(st abort_on_cue init_dev_ns)
	info "spin $start..$end, abort_on_cue init_dev at $init"
	if [ "$start" != "$b_spin" ] && [ "$start" -lt "$init" ] &&
		[ "$end" -gt $((init + 50000000)) ]; then
		overlap=1
		break
	fi
	# The spin had not started when the device moved, or ended before (its
	# abort was then abort_on_cue2's own, and the move bound the device from
	# the fallback). Start over.
	info "no overlap (attempt $attempt), again"
	cue abort_on_cue2 complete_abort=0
	echo abort_on_cue2 >"$policy_attr"
	sleep 0.5
done
[ -n "$overlap" ] || fail "could not move the device while a completion spun"
assert_ge "abort_on_cue2: completion aborts" 1 "$(st abort_on_cue2 complete_aborts)"
sleep 0.5
undisturbed abort_on_cue

stop_load
assert_eq "fio verify rounds (exit status)" 0 "$rounds_rc"
check_ufq_accounting "$dev"
