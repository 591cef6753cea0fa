#!/usr/bin/env bash
# Live swap under verified load: the fifo policy's programs are replaced in
# place (bpf_link_update) and the device is moved between the fifo and
# deadline policies, every 100 ms for 10 s; no I/O error, nothing lost.
. "$(dirname "$0")/lib.sh"

make_nullb ufqs0 size=512 memory_backed=1 submit_queues=2
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqs0
ufqctl load "$POLICIES/deadline.bpf.o"

fio_verify_job ufqs0 "$UFQ_OUT/060.json" 96 --rw=randwrite --iodepth=32 &
fio_pid=$!

swaps=0 rebinds=0
end=$((SECONDS + 10))
while [ $SECONDS -lt $end ] && kill -0 $fio_pid 2>/dev/null; do
	ufqctl swap fifo "$POLICIES/fifo.bpf.o" >/dev/null
	swaps=$((swaps + 1))
	if ((swaps % 2)); then
		echo deadline >/sys/block/ufqs0/queue/iosched/policy
	else
		echo fifo >/sys/block/ufqs0/queue/iosched/policy
	fi
	rebinds=$((rebinds + 1))
	sleep 0.1
done
info "swapped $swaps times, rebound $rebinds times"
wait $fio_pid || fail "fio verify failed during live swaps"
assert_ge "in-place swaps" 5 "$swaps"
assert_eq "policy errors" 0 "$(ufq_stat ufqs0 policy_errors)"
assert_eq "ufqs0 state" active "$(iosched ufqs0 state)"
check_ufq_accounting ufqs0
