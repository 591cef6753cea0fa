#!/usr/bin/env bash
# Every ufqctl failure prints one line, exits non-zero and leaves no pin,
# link, state file or elevator change behind: not root, no such device, an
# object that is not a policy or whose struct ufq_ops is not in
# .struct_ops.link, a name that is not a policy's, a verifier rejection
# (with the log's tail and where the whole log is, never written through a
# symlink), unknown or out-of-range tunables at load. 112 covers failures
# half-way through, 115 the failures with policies loaded. (A kernel without
# ufq, and a bio-based device, which cannot have an elevator, are covered by
# the unit tests on a fake system: this VM kernel has no bio-based driver,
# null_blk's bio mode is gone in 6.12.)
. "$(dirname "$0")/lib.sh"

make_nullb ufqe0 size=64
make_nullb ufqe1 size=64
set_sched ufqe0 mq-deadline
set_sched ufqe1 none
D=(ufqe0 ufqe1 --)
# ufqctl's state directory (locks, device records, verifier logs) exists
# once anything was done; a failed command may leave it, empty.
install -d -m 0700 /run/ufq

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
expect_fail "must be in SEC(\".struct_ops.link\")" "${D[@]}" \
	ufqctl load "$POLICIES/no_link.bpf.o" --dev ufqe0
expect_fail "'\.\./\.\.' is not a policy name" "${D[@]}" ufqctl unload ../..

# Verifier rejection: first line says so, the indented tail follows, and the
# full log is where it says: /run/ufq/<policy>.verifier.log, root's only,
# rewritten by the next attempt (so the first attempt is outside
# expect_fail, which would see the new file), never through a symlink.
err=$("$UFQCTL" load "$POLICIES/bad_verifier.bpf.o" 2>&1 >/dev/null) && fail "bad_verifier loaded"
log=$(sed -n 's/^ *full log: //p' <<<"$err")
assert_eq "verifier log" /run/ufq/bad_verifier.verifier.log "$log"
grep -q "last lines of the log" <<<"$err" || fail "no log tail: $err"
expect_fail "the kernel refused policy bad_verifier" "${D[@]}" \
	ufqctl load "$POLICIES/bad_verifier.bpf.o" --dev ufqe0
grep -q "ufq policies may not write kernel objects" "$log" || fail "verifier log: $(cat "$log")"
assert_eq "log mode" "600 root" "$(stat -c '%a %U' "$log")"
rm "$log"
echo "keep me" >"$UFQ_OUT/110-target"
ln -s "$UFQ_OUT/110-target" "$log"
err=$("$UFQCTL" load "$POLICIES/bad_verifier.bpf.o" 2>&1 >/dev/null) && fail "bad_verifier loaded"
grep -q "the full log could not be saved: .*symbolic link" <<<"$err" || fail "symlink followed? $err"
assert_eq "symlink target" "keep me" "$(cat "$UFQ_OUT/110-target")"
rm "$log"

# Tunables at load: nothing is loaded when one is wrong.
expect_fail "deadline has no tunable 'fifo'" "${D[@]}" \
	ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqe0 --set fifo=1
expect_fail "fifo_batch: 0 is out of range 1..1024" "${D[@]}" \
	ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqe0 --set fifo_batch=0
expect_fail "policy fifo has no tunables" "${D[@]}" \
	ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqe0 --set a=1
