#!/usr/bin/env bash
# Every request offered to a policy ends in exactly one callback, across
# in-place swaps of the policy's programs and moves to another policy and
# back, under verified load with merges.
#
# The policy (tests/policies/balance.bpf.c) records each request it is
# offered and removes it at its end: finish() (after completed()) or
# merged() as next. It counts per device:
#   offered      requests offered (re-offers after an in-place swap of
#                requests it was offered already are counted in reoffered,
#                not again here)
#   finished, merged_next   requests that ended by finish() / merged()
#   moved_away   requests it had not seen end when the device left it
#                (exit_dev(), at a move to fifo): by the kernel's rule no
#                callback comes for those, their ends are not the policy's
#   in_flight    offered - finished - merged_next - moved_away
# and every breach of the contract in imbalance (an end of a request it
# does not have, a second finish(), an end reported to a later binding, an
# insert of a request whose previous life never ended, a counter below 0).
#
# Load: sequential 4k writes with holes (rw=write:4k) by pairs of jobs that
# interleave (one job writes the even blocks of a region, the other the odd
# ones), submitted 8 at a time (iodepth_batch_submit=8, one plug), on a slow
# null_blk whose two tags keep requests waiting, first in the policy's queue,
# then on the dispatch list (the policy dispatches 4 at a time): requests
# merge at insert into waiting and into dispatched requests, and grown
# requests merge away into the ones they continue, from either list.
#
# Sequence, all under load: 8 in-place swaps (ufqctl swap, which keeps the
# maps); 4 times: move to fifo, move back, swap; then 3 more swaps, so the
# device ends bound to balance with swaps after its last move. When the load
# is over the device is idle, and for the device the test asserts:
#   imbalance == 0, in_flight == 0 (every request offered in the current
#   binding has ended), offered == finished + merged_next + moved_away,
#   uncompleted == 0 (every finish() came after the request's completed()),
#   updates >= 15 (init_dev() saw each in-place swap as one), epoch == 5 and
#   exit_devs == 4 (one binding per bind, one exit per move away).
# These hold by the kernel's rule (Documentation/block/ufq-iosched.rst, "So
# every request offered to the policy ends in exactly one of"): a swap keeps
# the policy's requests, so their ends report to the new programs; a move
# ends the binding (exit_dev) and nothing more is reported for it.
#
# Before the rule was implemented, a swap cut every request dispatched and
# not yet completed off its policy (the generation changed): no completed or
# finish came for them, so in_flight stays above 0 after the last swaps and
# the request's address, when blk-mq reuses it, is inserted while still
# recorded (imbalance). A dispatched request merged away into the one it
# continues got no merged() either.
. "$(dirname "$0")/lib.sh"

dev=ufqb0
make_nullb "$dev" size=256 memory_backed=1 irqmode=2 completion_nsec=200000 \
	hw_queue_depth=2 submit_queues=2
ufqctl load "$POLICIES/fifo.bpf.o"
ufqctl load "$POLICIES/balance.bpf.o" --dev "$dev"
assert_policy "$dev" balance
# Room for requests to wait beside the two on the device (the default is
# twice the device's depth).
echo 64 >"/sys/block/$dev/queue/nr_requests"
id=$(iosched "$dev" id)
map=/sys/fs/bpf/ufq/balance/maps/bal_devs
bal() { bpftool -j map dump pinned "$map" | jq -c ".[] | select(.formatted.key == $id) | .formatted.value"; }

# One verified round: 4 jobs, each writing every other 4k block of 16M (2048
# blocks), read back and checked.
fio_round() {
	local json=$UFQ_OUT/055-fio.json j
	run_fio "$json" --filename="/dev/$dev" --direct=1 --ioengine=libaio \
		--bs=4k --rw=write:4k --size=16M --iodepth=16 \
		--iodepth_batch_submit=8 --iodepth_batch_complete_min=1 \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--name=even0 --offset=0 --name=odd0 --offset=4096 \
		--name=even1 --offset=67108864 --name=odd1 --offset=67112960
	assert_eq "fio errors" 0 "$(fio_sum "$json" '.error')"
	for j in even0 odd0 even1 odd1; do
		assert_eq "$j: 4k writes completed" 2048 \
			"$(jq ".jobs[] | select(.jobname == \"$j\") | .write.total_ios" "$json")"
		assert_eq "$j: verify reads completed" 2048 \
			"$(jq ".jobs[] | select(.jobname == \"$j\") | .read.total_ios" "$json")"
	done
}

# Verified rounds in the background.
start_rounds 055 fio_round
trap 'stop_rounds; cleanup_policies; cleanup_nullb' EXIT

policy_attr=/sys/block/$dev/queue/iosched/policy
do_swap() {
	timeout 120 "$UFQCTL" swap balance "$POLICIES/balance.bpf.o" >/dev/null ||
		fail "ufqctl swap balance failed or timed out"
	assert_policy "$dev" balance
	sleep 0.3
}
move() { # POLICY
	echo "$1" >"$policy_attr" || fail "cannot bind $dev to $1"
	assert_policy "$dev" "$1"
	sleep 0.3
}

sleep 1
for _ in $(seq 8); do do_swap; done
for _ in $(seq 4); do
	move fifo
	move balance
	do_swap
done
for _ in $(seq 3); do do_swap; done
sleep 1
stop_rounds
assert_eq "fio verify rounds (exit status)" 0 "$rounds_rc"

assert_policy "$dev" balance
assert_eq "policy errors" 0 "$(ufq_stat "$dev" policy_errors)"
check_ufq_accounting "$dev"
info "rq_merged=$(ufq_stat "$dev" rq_merged) bio_merged=$(ufq_stat "$dev" bio_merged)"

# udev may read the device after fio closed it: give the policy's view up
# to 5 s to come to rest (no request in flight, two dumps alike).
b=$(bal)
for _ in $(seq 10); do
	sleep 0.5
	b2=$(bal)
	[ "$b2" = "$b" ] && [ "$(jq .in_flight <<<"$b")" = 0 ] && break
	b=$b2
done
info "balance: $b"
f() { jq "$1" <<<"$b"; }
assert_ge "requests offered" 1000 "$(f .offered)"
assert_eq "imbalances (err_*: $(jq -c 'with_entries(select(.key | startswith("err_")))' <<<"$b"))" \
	0 "$(f .imbalance)"
assert_eq "requests in flight on the idle device" 0 "$(f .in_flight)"
assert_eq "offered vs finished + merged_next + moved_away" "$(f .offered)" \
	"$(f '.finished + .merged_next + .moved_away')"
assert_eq "requests finished without completed()" 0 "$(f .uncompleted)"
assert_ge "in-place updates seen by init_dev" 15 "$(f .updates)"
assert_eq "bindings" 5 "$(f .epoch)"
assert_eq "exit_dev calls" 4 "$(f .exit_devs)"
