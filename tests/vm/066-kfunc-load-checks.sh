#!/usr/bin/env bash
# Kfuncs called from callbacks that may not call them fail at load time,
# not at run time (tests/policies/bad_kf.h): ufq_bpf_dispatch() from insert(),
# ufq_bpf_direct_dispatch() from dispatch(), ufq_bpf_queue_nr() from completed().
# Asserts, for each: ufqctl load exits non-zero with its one-line error, the
# verifier log names the kfunc, and nothing is left behind (no pin, the
# device keeps its elevator). Then a policy that calls each kfunc where it
# may (deadline) still loads and serves.
. "$(dirname "$0")/lib.sh"

dev=ufqv0
make_nullb "$dev" size=64
sched_before=$(cat "/sys/block/$dev/queue/scheduler")
for p in bad_kf_insert:ufq_bpf_dispatch bad_kf_dispatch:ufq_bpf_direct_dispatch \
	bad_kf_complete:ufq_bpf_queue_nr; do
	name=${p%%:*} kfunc=${p#*:}
	err=$("$UFQCTL" load "$POLICIES/$name.bpf.o" --dev "$dev" 2>&1 >/dev/null) &&
		fail "$name loaded"
	grep -q "the kernel refused policy $name" <<<"$err" || fail "$name: unexpected error: $err"
	log=/run/ufq/$name.verifier.log
	grep -q "calling kernel function $kfunc is not allowed" "$log" ||
		fail "$name: the verifier log does not name $kfunc: $(tail -5 "$log")"
	info "$name refused: $(grep -m1 "calling kernel function" "$log")"
	[ ! -e "/sys/fs/bpf/ufq/$name" ] || fail "$name: pinned after a failed load"
	assert_eq "$dev elevator after $name" "$sched_before" "$(cat "/sys/block/$dev/queue/scheduler")"
	rm -f "$log"
done

ufqctl load "$POLICIES/deadline.bpf.o" --dev "$dev"
assert_policy "$dev" deadline
json=$UFQ_OUT/066-fio.json
run_fio "$json" --filename="/dev/$dev" --direct=1 --ioengine=libaio --bs=4k \
	--rw=randrw --iodepth=8 --number_ios=500 --size=32M --name=rw
assert_eq "fio errors" 0 "$(fio_sum "$json" '.error')"
assert_policy "$dev" deadline
