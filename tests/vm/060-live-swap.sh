#!/usr/bin/env bash
# Live swap under verified load. ufqctl swap replaces the fifo policy's
# programs in place; then, every 100 ms for 10 s, the programs are replaced
# again (bpf_link_update) and the device is moved between the fifo and
# deadline policies; then the deadline policy, which keeps per-device state,
# is replaced in place while it serves the device. No I/O error, nothing
# lost, no fallback.
. "$(dirname "$0")/lib.sh"

make_nullb ufqs0 size=512 memory_backed=1 submit_queues=2
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqs0
ufqctl load "$POLICIES/deadline.bpf.o"

# Verified I/O, round after round, until the swapping is over.
stop=$UFQ_OUT/060.stop
rm -f "$stop"
(
	rounds=0
	while [ ! -e "$stop" ]; do
		fio_verify_job ufqs0 "$UFQ_OUT/060-fio.json" 48 --iodepth=32
		rounds=$((rounds + 1))
	done
	info "fio verify rounds: $rounds"
) &
fio_pid=$!
# On failure too: let the verify round finish before tearing down.
trap 'touch "$stop"; wait; cleanup_policies; cleanup_nullb' EXIT

sleep 1
ufqctl swap fifo "$POLICIES/fifo.bpf.o"
assert_policy ufqs0 fifo
out=$("$UFQ_REPO/build/host/bin/swap_loop" /sys/fs/bpf/ufq/fifo/link \
	"$POLICIES/fifo.bpf.o" ufqs0 deadline fifo 100 10) || fail "swap_loop failed"
info "$out"
read -r _ swaps _ rebinds <<<"$out"
assert_ge "in-place swaps" 30 "$swaps"
assert_ge "rebinds" 30 "$rebinds"

# In-place swaps of a policy that keeps per-device state in maps: the new
# programs take the state over, the device never falls back.
echo deadline >/sys/block/ufqs0/queue/iosched/policy
assert_policy ufqs0 deadline
for _ in $(seq 10); do
	ufqctl swap deadline "$POLICIES/deadline.bpf.o" >/dev/null
	sleep 0.2
	assert_policy ufqs0 deadline
done
touch "$stop"
wait $fio_pid || fail "fio verify failed during live swaps"
assert_eq "policy errors" 0 "$(ufq_stat ufqs0 policy_errors)"
assert_eq "ufqs0 state" active "$(iosched ufqs0 state)"
check_ufq_accounting ufqs0
