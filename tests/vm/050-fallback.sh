#!/usr/bin/env bash
# A policy that breaks the contract costs latency, never data: for each way
# of failing, the device falls back to FIFO under fio verify load with zero
# errors, every I/O completed, every request accounted for, and the reason
# shown in sysfs.
. "$(dirname "$0")/lib.sh"

n=0
fallback_case() { # POLICY EXPECTED_KIND [TEXT IN last_error]
	local dev=ufqf$n
	n=$((n + 1))
	info "== $1"
	make_nullb "$dev" size=256 memory_backed=1 submit_queues=2
	ufqctl load "$POLICIES/$1.bpf.o" --dev "$dev"
	assert_policy "$dev" "$1"
	fio_verify_job "$dev" "$UFQ_OUT/050-$1.json" 16
	wait_for "$dev to fall back" 10 grep -qx fallback "/sys/block/$dev/queue/iosched/state"
	assert_fallback "$dev" "$2"
	if [ -n "${3:-}" ]; then
		case "$(iosched "$dev" last_error)" in
		*"$3"*) ;;
		*) fail "$dev: last_error does not say '$3'" ;;
		esac
	fi
	check_ufq_accounting "$dev"
	assert_eq "$dev policy errors" 1 "$(ufq_stat "$dev" policy_errors)"
	ufqctl unload "$1"
}

fallback_case bad_unplaced error
fallback_case bad_no_dispatch error "ufq_bpf_insert() by a policy without dispatch()"
fallback_case bad_abort abort
fallback_case bad_stall watchdog

# The policy's pins disappear while devices use it (as if its loader
# crashed and someone cleaned up bpffs): the kernel detaches it under load.
info "== detached under load"
make_nullb ufqf9 size=256 memory_backed=1 submit_queues=2
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqf9
fio_verify_job ufqf9 "$UFQ_OUT/050-detach.json" 48 &
fio_pid=$!
sleep 2
rm -rf /sys/fs/bpf/ufq/fifo
wait $fio_pid || fail "fio verify failed while the policy was detached"
wait_for "ufqf9 to fall back" 10 grep -qx fallback /sys/block/ufqf9/queue/iosched/state
assert_fallback ufqf9 unloaded
check_ufq_accounting ufqf9
