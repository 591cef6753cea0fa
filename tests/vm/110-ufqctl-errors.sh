#!/usr/bin/env bash
# Every ufqctl failure prints one line, exits non-zero and leaves no pin,
# link, state file or elevator change behind: not root, no such device, an
# object that is not a policy, a verifier rejection (with the log's tail and
# where the whole log is), unknown or out-of-range
# tunables at load. 115 covers the failures with policies loaded. (A kernel
# without ufq is covered by the unit tests, which run on the host's kernel.)
. "$(dirname "$0")/lib.sh"

make_nullb ufqe0 size=64
make_nullb ufqe1 size=64
set_sched ufqe0 mq-deadline
set_sched ufqe1 none
D=(ufqe0 ufqe1 --)

expect_fail "needs root" "${D[@]}" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$UFQCTL" load "$POLICIES/fifo.bpf.o" --dev ufqe0
expect_fail "needs root" "${D[@]}" setpriv --reuid=65534 --regid=65534 --clear-groups "$UFQCTL" status
expect_fail "no block device 'nosuchdev'" "${D[@]}" \
	ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqe0 --dev nosuchdev
expect_fail "no block device with number 250:99" "${D[@]}" ufqctl bind fifo --dev 250:99
expect_fail "no policy object at" "${D[@]}" ufqctl load /nonexistent.bpf.o --dev ufqe0
expect_fail "is not a ufq policy: it has no struct ufq_ops" "${D[@]}" \
	ufqctl load "$POLICIES/not_a_policy.bpf.o" --dev ufqe0
expect_fail "is not a BPF object" "${D[@]}" ufqctl load /etc/hostname --dev ufqe0

# Verifier rejection: first line says so, the indented tail follows, and the
# full log is where it says.
expect_fail "the kernel refused policy bad_verifier" "${D[@]}" \
	ufqctl load "$POLICIES/bad_verifier.bpf.o" --dev ufqe0
err=$("$UFQCTL" load "$POLICIES/bad_verifier.bpf.o" 2>&1 >/dev/null) || true
log=$(sed -n 's/^ *full log: //p' <<<"$err")
[ -s "$log" ] || fail "no full verifier log at '$log': $err"
grep -q "last lines of the log" <<<"$err" || fail "no log tail: $err"

# Tunables at load: nothing is loaded when one is wrong.
expect_fail "deadline has no tunable 'fifo'" "${D[@]}" \
	ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqe0 --set fifo=1
expect_fail "fifo_batch: 0 is out of range 1..1024" "${D[@]}" \
	ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqe0 --set fifo_batch=0
expect_fail "policy fifo has no tunables" "${D[@]}" \
	ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqe0 --set a=1
