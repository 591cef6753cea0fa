#!/usr/bin/env bash
# The whole test suite: host unit tests (ctest), then the VM tests in one
# boot of the ufq kernel. Ends with one line "N passed, N failed".
#
# Environment: UFQ_VM_TESTS="010-ufq-listed.sh ..." runs only those VM tests;
# UFQ_SKIP_VM=1 runs the host tests only.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
hostbuild=$repo/build/host
vmout=$repo/build/vm-out/test
passed=0 failed=0 skipped=0

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
	passed=$((passed + total - nfail))
	failed=$((failed + nfail))
fi
rm -f "$ctest_log"

if [ "${UFQ_SKIP_VM:-0}" != 1 ]; then
	echo "== VM tests"
	rm -rf "$vmout"
	mkdir -p "$vmout"
	# shellcheck disable=SC2086
	"$repo/tools/vm/run" --out "$vmout" --timeout "${UFQ_VM_TIMEOUT:-2400}" -- \
		tests/vm/run-suite ${UFQ_VM_TESTS:-}
	vm_rc=$?
	planned=$(cat "$vmout/planned.txt" 2>/dev/null | wc -l)
	p=$(grep -c '^PASS' "$vmout/results.txt" 2>/dev/null)
	f=$(grep -c '^FAIL' "$vmout/results.txt" 2>/dev/null)
	s=$(grep -c '^SKIP' "$vmout/results.txt" 2>/dev/null)
	missing=$((planned - ${p:-0} - ${f:-0} - ${s:-0}))
	if [ "$planned" -eq 0 ]; then
		echo "VM tests: the suite did not start (exit $vm_rc)" >&2
		missing=1
	elif [ "$missing" -gt 0 ]; then
		echo "VM tests: $missing tests did not report (VM exit $vm_rc); counted as failed" >&2
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + missing))
	skipped=$((skipped + ${s:-0}))
	[ -s "$vmout/dmesg.txt" ] && echo "guest kernel log: $vmout/dmesg.txt"
fi

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
