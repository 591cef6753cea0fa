# Helpers for VM tests (sourced by tests/vm/*.sh, which run as root in the VM).
# shellcheck shell=bash
set -euo pipefail

UFQ_REPO=${UFQ_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
UFQ_OUT=${UFQ_OUT:-/tmp}
export PATH="$UFQ_REPO/tools/vm:$PATH"
_nullb_made=()

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
skip() {
	echo "SKIP: $*" >&2
	exit 77
}
info() { echo "-- $*"; }

assert_eq() { # what expected actual
	[ "$2" = "$3" ] || fail "$1: expected $2, got $3"
}
assert_ge() { # what minimum actual
	[ "$3" -ge "$2" ] || fail "$1: expected at least $2, got $3"
}
assert_le() { # what maximum actual
	[ "$3" -le "$2" ] || fail "$1: expected at most $2, got $3"
}

cleanup_nullb() {
	local n
	for n in "${_nullb_made[@]}"; do
		nullb remove "$n" 2>/dev/null || true
	done
}

# make_nullb NAME [PARAM=VALUE...]: create /dev/NAME, removed at exit.
make_nullb() {
	nullb create "$@" >/dev/null
	_nullb_made+=("$1")
}

# Under software emulation every process a helper starts costs about 0.1 s
# (jq or bpftool several times that), and the tests call the helpers
# thousands of times: they read sysfs with the shell's own $(<FILE) and
# match with [[ ]] where a cat, grep or awk would do the same.

# set_sched DEV SCHED: select an elevator and check it took effect.
set_sched() {
	local now
	echo "$2" >"/sys/block/$1/queue/scheduler"
	now=$(<"/sys/block/$1/queue/scheduler")
	[[ $now == *"[$2]"* ]] || fail "$1: scheduler is '$now' after selecting $2"
}

# ufq_stat DEV FIELD: one counter from the ufq elevator's stats attribute.
ufq_stat() {
	local stats k v
	stats=$(<"/sys/block/$1/queue/iosched/stats")
	while read -r k v _; do
		[ "$k" != "$2" ] || echo "$v"
	done <<<"$stats"
}

# check_ufq_accounting DEV: once the device is idle, every request that
# entered ufq must have left it, and every dispatched one completed (a
# requeued request is dispatched twice and completes once). udev may still
# be reading the device after a writer closed it: wait (at most 5 s) for
# the counters, read in one snapshot, to come to rest.
check_ufq_accounting() {
	local i ins req dis rqm cmp stats k v
	udevadm settle 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		# One read of the attribute: one snapshot of the counters.
		stats=$(<"/sys/block/$1/queue/iosched/stats")
		ins='' req='' dis='' rqm='' cmp=''
		while read -r k v _; do
			case $k in
			inserted) ins=$v ;;
			requeued) req=$v ;;
			dispatched) dis=$v ;;
			rq_merged) rqm=$v ;;
			completed) cmp=$v ;;
			esac
		done <<<"$stats"
		[ "$((ins + req))" = "$((dis + rqm))" ] && [ "$((dis - req))" = "$cmp" ] && break
		sleep 0.1
	done
	info "$1 ufq stats: inserted=$ins requeued=$req dispatched=$dis rq_merged=$rqm completed=$cmp"
	assert_eq "$1: inserted + requeued (requests in)" "$((ins + req))" "$((dis + rqm))"
	assert_eq "$1: completed vs dispatched - requeued" "$((dis - req))" "$cmp"
}

# run_fio JSON_OUT FIO_ARGS...: run fio, keep its JSON report, fail on error.
run_fio() {
	local out=$1
	shift
	fio --output-format=json --output="$out" "$@" ||
		fail "fio exited with $? ($*)"
}

# fio_sum JSON JQ_EXPR: sum an expression over all jobs of a fio report.
fio_sum() {
	jq "[.jobs[] | $2] | add" "$1"
}

# ---- policies ------------------------------------------------------------

UFQCTL=$UFQ_REPO/build/host/bin/ufqctl
POLICIES=$UFQ_REPO/build/host/policies

ufqctl() { "$UFQCTL" "$@"; }

# Unload every policy ufqctl loaded, so that one test's leftovers cannot
# affect the next.
cleanup_policies() {
	local p
	for p in $("$UFQCTL" list 2>/dev/null); do
		"$UFQCTL" unload "$p" >/dev/null 2>&1 || true
	done
}
trap 'cleanup_policies; cleanup_nullb' EXIT

# cleanup_ssdsim: stop every ssdsim server tools/vm/ssdsim still knows of
# (tests start them in command substitutions, so they cannot keep a list).
cleanup_ssdsim() {
	local f
	for f in /run/ssdsim/*.pid; do
		[ -e "$f" ] || continue
		ssdsim stop "$(basename "$f" .pid)" 2>/dev/null || true
	done
}

iosched() { # DEV ATTR
	local v
	v=$(<"/sys/block/$1/queue/iosched/$2") && echo "$v"
}

# assert_policy DEV NAME: NAME is the policy serving DEV.
assert_policy() {
	[[ $(<"/sys/block/$1/queue/iosched/policy") == *"[$2]"* ]] ||
		fail "$1: expected policy $2, policy attribute shows '$(iosched "$1" policy)'" \
			"(state $(iosched "$1" state), last_error '$(iosched "$1" last_error)')"
	assert_eq "$1 state" active "$(iosched "$1" state)"
}

# assert_fallback DEV KIND: DEV lost its policy for reason KIND.
assert_fallback() {
	local err
	assert_eq "$1 state" fallback "$(iosched "$1" state)"
	err=$(iosched "$1" last_error)
	case "$err" in
	"$2:"*) info "$1 last_error: $err" ;;
	*) fail "$1: last_error should start with '$2:', is '$err'" ;;
	esac
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "timed out after ${secs}s waiting for $what"
}

# fio_verify_job DEV JSON SIZE_MB [EXTRA_FIO_ARGS...]: random writes of 4k
# blocks over the first SIZE_MB, then read back and checked; asserts zero
# errors and that every block was written and verified. Extra arguments may
# change the job or add jobs (--name=...) that run alongside it.
fio_verify_job() {
	local dev=$1 json=$2 size_mb=$3 expected errors writes reads
	shift 3
	expected=$((size_mb * 256))
	run_fio "$json" --name=verify --filename="/dev/$dev" --direct=1 \
		--ioengine=libaio --iodepth=16 --rw=randwrite --bs=4k \
		--size="${size_mb}M" --verify=crc32c --do_verify=1 --verify_fatal=1 \
		--randrepeat=0 --verify_state_save=0 "$@"
	# All three from one jq: every job's errors added up, and the verify
	# job's writes and reads (a comma between them if there were several).
	read -r errors writes reads < <(jq -r '[([.jobs[] | .error] | add),
		([.jobs[] | select(.jobname == "verify") | .write.total_ios | tostring] | join(",")),
		([.jobs[] | select(.jobname == "verify") | .read.total_ios | tostring] | join(","))] |
		map(tostring) | join(" ")' "$json")
	assert_eq "fio errors" 0 "$errors"
	assert_eq "4k writes completed" "$expected" "$writes"
	assert_eq "4k verify reads completed" "$expected" "$reads"
}

# ---- ufqctl checks (tests/vm/1x0-*.sh) ------------------------------------

# ufq_snapshot DEV...: everything a failed ufqctl command must leave as it
# was: pins, state files, struct_ops links, and each device's elevator and
# policy.
ufq_snapshot() {
	local d
	find /sys/fs/bpf/ufq /run/ufq 2>/dev/null | sort
	bpftool -j link list 2>/dev/null | jq -c '[.[] | select(.type == "struct_ops") | .id] | sort'
	for d in "$@"; do
		echo "$d: $(<"/sys/block/$d/queue/scheduler")"
		[ -e "/sys/block/$d/queue/iosched/policy" ] &&
			echo "$d policy: $(<"/sys/block/$d/queue/iosched/policy")"
	done
	return 0
}

# expect_fail PATTERN DEVS -- COMMAND...: COMMAND fails with exit status 1,
# prints exactly one line (plus, for a verifier rejection, the indented log
# tail) matching PATTERN on stderr, and changes nothing in ufq_snapshot DEVS.
expect_fail() {
	local pattern=$1 devs=() before after err rc first line
	shift
	while [ "$1" != -- ]; do devs+=("$1"); shift; done
	shift
	before=$(ufq_snapshot "${devs[@]}")
	rc=0
	err=$("$@" 2>&1 >/dev/null) || rc=$?
	after=$(ufq_snapshot "${devs[@]}")
	[ "$rc" -ne 0 ] || fail "'$*' succeeded, expected: $pattern"
	first=${err%%$'\n'*}
	if [[ $err == *$'\n'* ]]; then
		while IFS= read -r line; do
			[[ -z $line || $line == "  "* ]] || fail "'$*' printed more than one line: $err"
		done <<<"${err#*$'\n'}"
	fi
	grep -q -- "$pattern" <<<"$first" || fail "'$*': expected '$pattern', got: $err"
	[ "$before" = "$after" ] || fail "'$*' left a change behind:
$(diff <(echo "$before") <(echo "$after"))"
	info "refused as expected: $first"
}

# Background load in rounds: start_rounds NAME CMD... runs CMD again and
# again (each round should take seconds) until stop_rounds, which lets the
# running round finish within 240 s (else kills its fio) and sets rounds_rc
# to the first failing round's exit status, 0 if none failed. Call
# stop_rounds from the EXIT trap too: it does nothing when no load runs.
rounds_pid= rounds_rc= rounds_stop=
start_rounds() { # NAME CMD...
	rounds_stop=$UFQ_OUT/$1.stop
	shift
	rm -f "$rounds_stop"
	(
		n=0
		while [ ! -e "$rounds_stop" ]; do
			"$@" || exit
			n=$((n + 1))
		done
		info "load rounds: $n"
	) &
	rounds_pid=$!
}
stop_rounds() {
	[ -n "$rounds_pid" ] || return 0
	touch "$rounds_stop"
	if ! timeout 240 tail --pid="$rounds_pid" -f /dev/null; then
		echo "the load did not finish its round within 240 s, killing it" >&2
		pkill -P "$rounds_pid" fio || true
	fi
	rounds_rc=0
	wait "$rounds_pid" || rounds_rc=$?
	rounds_pid=
}
