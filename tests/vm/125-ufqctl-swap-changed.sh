#!/usr/bin/env bash
# ufqctl swap to a version of a policy whose maps changed
# (tests/policies/deadline_v2.bpf.c: a new map before the tunables, the
# tunables reordered with a wider range and a new member), under verified
# load, and back: unchanged maps (per-device state) are kept, the tunables
# get the new layout with the values the user set carried over by name, and
# ranges and names come from the new BTF; the running programs read the map
# ufqctl writes. A version the verifier rejects and one without a link are
# refused and change nothing. Concurrent swaps, sets and loads are
# serialised and leave consistent pins.
. "$(dirname "$0")/lib.sh"

make_nullb ufqw0 size=256 memory_backed=1 submit_queues=2
elevator=$(grep -o '\[[^]]*\]' /sys/block/ufqw0/queue/scheduler)
ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqw0 --set fifo_batch=8 --set read_expire_ms=100
pins=/sys/fs/bpf/ufq/deadline
seen() { bpftool -j map dump pinned "$pins/maps/dl_v2_seen" | jq -c ".[0].formatted.value.$1"; }
map_id() { bpftool -j map show pinned "$pins/maps/$1" | jq .id; }
tunables() { ufqctl get deadline --json | jq -cS .; }
devices_id=$(map_id dl_devices)

stop=$UFQ_OUT/125.stop
rm -f "$stop"
(
	while [ ! -e "$stop" ]; do
		fio_verify_job ufqw0 "$UFQ_OUT/125-fio.json" 32 --iodepth=32
	done
) &
fio_pid=$!
trap 'touch "$stop"; wait; cleanup_policies; cleanup_nullb' EXIT
sleep 1

out=$(ufqctl swap deadline "$POLICIES/deadline_v2.bpf.o")
info "$out"
grep -Eq '^  maps kept: .*dl_devices' <<<"$out" || fail "dl_devices not kept: $out"
grep -Eq '^  maps new or changed \(start afresh\): dl_v2_seen, dl_tunables$' <<<"$out" ||
	fail "new maps: $out"
grep -Eq '^  tunables carried over into the new layout: fifo_batch, read_expire_ms$' <<<"$out" ||
	fail "carried tunables: $out"
assert_eq "per-device state map kept" "$devices_id" "$(map_id dl_devices)"
assert_eq "tunables in the new layout" \
	'{"batch_bonus":3,"fifo_batch":8,"read_expire_ms":100,"write_expire_ms":5000,"writes_starved":2}' \
	"$(tunables)"
assert_policy ufqw0 deadline

# Ranges from the new BTF: 2000 is beyond the old 1..1024, batch_bonus is new.
ufqctl set deadline fifo_batch=2000 >/dev/null
expect_fail "batch_bonus: 11 is out of range 0..10" ufqw0 -- ufqctl set deadline batch_bonus=11
# The running programs read what ufqctl writes.
ufqctl set deadline fifo_batch=5 batch_bonus=7 >/dev/null
seen_set() { [ "$(seen fifo_batch) $(seen batch_bonus)" = "5 7" ]; }
wait_for "the new programs to see fifo_batch=5 batch_bonus=7" 30 seen_set

# Refused versions: nothing changes, the new programs keep running.
err=$("$UFQCTL" swap deadline "$POLICIES/deadline_broken.bpf.o" 2>&1) && fail "deadline_broken swapped in"
expect_fail "the kernel refused policy deadline" ufqw0 -- \
	ufqctl swap deadline "$POLICIES/deadline_broken.bpf.o"
expect_fail "must be in SEC(\".struct_ops.link\")" ufqw0 -- \
	ufqctl swap deadline "$POLICIES/no_link.bpf.o"
n=$(seen dispatches)
still_running() { [ "$(seen dispatches)" -gt "$n" ]; }
wait_for "deadline_v2 to keep dispatching" 30 still_running
assert_eq "tunables after refused swaps" \
	'{"batch_bonus":7,"fifo_batch":5,"read_expire_ms":100,"write_expire_ms":5000,"writes_starved":2}' \
	"$(tunables)"

# Back to the first version: fifo_batch=2000 is out of its range and gets
# the default, read_expire_ms carries over, batch_bonus and dl_v2_seen go.
ufqctl set deadline fifo_batch=2000 >/dev/null
out=$(ufqctl swap deadline "$POLICIES/deadline.bpf.o")
info "$out"
grep -Eq '^  maps dropped: dl_v2_seen$' <<<"$out" || fail "dropped maps: $out"
grep -Eq '^  tunables back at their default .*: fifo_batch$' <<<"$out" || fail "reset tunables: $out"
assert_eq "tunables back in the old layout" \
	'{"fifo_batch":16,"read_expire_ms":100,"write_expire_ms":5000,"writes_starved":2}' \
	"$(tunables)"
assert_eq "pins" "link maps" "$(ls "$pins" | tr '\n' ' ' | sed 's/ $//')"
[ ! -e "$pins/maps/dl_v2_seen" ] || fail "dl_v2_seen still pinned"
assert_eq "per-device state map kept" "$devices_id" "$(map_id dl_devices)"

# Concurrent commands on one policy are serialised: every swap and set
# succeeds, the pins stay consistent, the last set wins.
pids=()
for i in 1 2 3 4 5 6; do
	ufqctl swap deadline "$POLICIES/deadline.bpf.o" >/dev/null &
	pids+=($!)
	ufqctl set deadline writes_starved=$i >/dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent swap or set failed"; done
assert_eq "pins after concurrent swaps" "link maps" "$(ls "$pins" | tr '\n' ' ' | sed 's/ $//')"
ufqctl get deadline writes_starved | grep -Eq '^[1-6]$' || fail "writes_starved: $(ufqctl get deadline writes_starved)"
# Two loads of one policy at once: one loads it, the other says so.
rc_a=0 rc_b=0
ufqctl load "$POLICIES/fifo.bpf.o" >"$UFQ_OUT/125-a.log" 2>&1 &
pa=$!
ufqctl load "$POLICIES/fifo.bpf.o" >"$UFQ_OUT/125-b.log" 2>&1 &
pb=$!
wait $pa || rc_a=$?
wait $pb || rc_b=$?
assert_eq "one of two concurrent loads fails" 1 "$((rc_a + rc_b))"
grep -h "already loaded" "$UFQ_OUT/125-a.log" "$UFQ_OUT/125-b.log" >/dev/null ||
	fail "the other load said: $(cat "$UFQ_OUT/125-a.log" "$UFQ_OUT/125-b.log")"
ufqctl unload fifo

touch "$stop"
wait $fio_pid || fail "fio verify failed during the swaps"
assert_eq "policy errors" 0 "$(ufq_stat ufqw0 policy_errors)"
assert_eq "ufqw0 state" active "$(iosched ufqw0 state)"
check_ufq_accounting ufqw0
ufqctl unload deadline
assert_eq "ufqw0's elevator after unload" "$elevator" \
	"$(grep -o '\[[^]]*\]' /sys/block/ufqw0/queue/scheduler)"
