#!/usr/bin/env bash
# The whole test suite: host unit tests (ctest), then the VM tests in one
# boot of the ufq kernel. Ends with one line "N passed, N failed".
#
# Environment: UFQ_VM_TESTS="010-ufq-listed.sh ..." runs only those VM tests;
# UFQ_SKIP_LOCKDEP=1 skips the lockdep kernel; UFQ_SKIP_VM=1 runs the host
# tests only.
#
# tools/test.sh --kasan (make test-kasan) runs only the kernel-debugging VM
# tests, on the KASAN kernel, with time limits for its slowdown.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
hostbuild=$repo/build/host
passed=0 failed=0 skipped=0
# The VM tests that exercise the queues, insert, dispatch, merges, live
# swap, fallback, kicks, depth limits and the tick (lanes and qos tick, and
# 047 swaps lanes under load), flushes, requeues, passthrough and the
# completion path under load: the ones worth repeating on a debugging
# kernel. The lanes, qos and ml issues ask for their policy in this pass.
debug_tests=(035-queue-order.sh 040-deadline-policy.sh 045-deadline-order.sh
	050-fallback.sh 055-callback-balance.sh 057-failure-isolation.sh 058-kick-after.sh
	047-lanes-policy.sh 060-live-swap.sh 062-depth-limits.sh 068-rebuild.sh 075-plugged-batches.sh 080-flush-fua-requeue.sh
	085-passthrough.sh 152-trace-request-facts.sh 190-qos.sh 205-ml-policy.sh)

run_host_tests() {
	local ctest_log summary total nfail nskip
	echo "== host unit tests"
	ctest_log=$(mktemp)
	ctest --test-dir "$hostbuild" --output-on-failure 2>&1 | tee "$ctest_log"
	# "100% tests passed, 0 tests failed out of 12"
	summary=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$ctest_log" | tail -1)
	if [ -z "$summary" ]; then
		echo "host unit tests: ctest printed no summary" >&2
		failed=$((failed + 1))
	else
		total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$summary")
		nfail=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$summary")
		# ctest counts a GTEST_SKIP() as passed; it lists them as
		# "(Skipped)" under "The following tests did not run".
		nskip=$(grep -c '(Skipped)$' "$ctest_log")
		passed=$((passed + total - nfail - nskip))
		failed=$((failed + nfail))
		skipped=$((skipped + nskip))
	fi
	rm -f "$ctest_log"
}

# run_vm_suite LABEL KERNEL TESTS...: one VM boot running the given VM tests
# (all of tests/vm when none are given); adds to the totals. UFQ_TEST_TIMEOUT
# is each test's limit inside the guest; UFQ_KERNEL_LABEL (LABEL: default,
# lockdep or kasan) tells the tests which kernel they run on.
run_vm_suite() {
	local label=$1 kernel=$2 out=$repo/build/vm-out/$1 vm_rc planned p f s missing
	shift 2
	echo "== VM tests ($label kernel)"
	rm -rf "$out"
	mkdir -p "$out"
	"$repo/tools/vm/run" --kernel "$kernel" --out "$out" \
		--timeout "${UFQ_VM_TIMEOUT:-2400}" -- \
		env UFQ_TEST_TIMEOUT="${UFQ_TEST_TIMEOUT:-300}" UFQ_KERNEL_LABEL="$label" \
		tests/vm/run-suite "$@"
	vm_rc=$?
	planned=$({ wc -l <"$out/planned.txt"; } 2>/dev/null || echo 0)
	p=$(grep -c '^PASS' "$out/results.txt" 2>/dev/null)
	f=$(grep -c '^FAIL' "$out/results.txt" 2>/dev/null)
	s=$(grep -c '^SKIP' "$out/results.txt" 2>/dev/null)
	missing=$((planned - ${p:-0} - ${f:-0} - ${s:-0}))
	if [ "$planned" -eq 0 ]; then
		echo "VM tests ($label): the suite did not start (exit $vm_rc)" >&2
		missing=1
	elif [ "$missing" -gt 0 ]; then
		echo "VM tests ($label): $missing tests did not report (VM exit $vm_rc); counted as failed" >&2
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + missing))
	skipped=$((skipped + ${s:-0}))
	[ -s "$out/dmesg.txt" ] && echo "guest kernel log: $out/dmesg.txt"
	echo "VM tests ($label kernel) ran under $(cat "$out/accel.txt" 2>/dev/null || echo "an unknown accelerator")"
}

if [ "${1:-}" = --kasan ]; then
	UFQ_TEST_TIMEOUT=${UFQ_TEST_TIMEOUT:-1500} UFQ_VM_TIMEOUT=${UFQ_VM_TIMEOUT:-7200} \
		run_vm_suite kasan "$repo/build/kernel-kasan" "${debug_tests[@]}"
else
	run_host_tests
	if [ "${UFQ_SKIP_VM:-0}" != 1 ]; then
		# shellcheck disable=SC2086
		run_vm_suite default "$repo/build/kernel-default" ${UFQ_VM_TESTS:-}
		# The same load again on a kernel with lockdep and sleep-in-atomic
		# checks: run-suite fails a test on any warning, BUG or lockdep
		# report.
		if [ "${UFQ_SKIP_LOCKDEP:-0}" != 1 ]; then
			# Lock debugging slows the guest down: a longer limit per test.
			UFQ_TEST_TIMEOUT=${UFQ_TEST_TIMEOUT:-600} \
				run_vm_suite lockdep "$repo/build/kernel-debug" "${debug_tests[@]}"
		fi
	fi
fi

[ "$skipped" -eq 0 ] || echo "$skipped tests skipped (see the SKIP and Skipped lines above)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
