#!/usr/bin/env bash
# Sequential I/O is merged under the fifo and deadline policies, and a
# policy's allow_merge() can veto bio merges.
. "$(dirname "$0")/lib.sh"

# A slow device, so that requests wait in the scheduler long enough for
# the next sequential bio to find them.
seq_write() { # DEV
	run_fio "$UFQ_OUT/070-$1.json" --name=seq --filename="/dev/$1" --direct=1 \
		--ioengine=libaio --iodepth=32 --rw=write --bs=4k --size=8M
	assert_eq "fio errors" 0 "$(fio_sum "$UFQ_OUT/070-$1.json" '.error')"
}
merges() { echo $(($(ufq_stat "$1" bio_merged) + $(ufq_stat "$1" rq_merged))); }

for policy in fifo deadline no_merge; do
	dev=ufqm_$policy
	make_nullb "$dev" size=64 irqmode=2 completion_nsec=200000 hw_queue_depth=2 submit_queues=1
	ufqctl load "$POLICIES/$policy.bpf.o" --dev "$dev"
	seq_write "$dev"
	info "$policy: bio_merged=$(ufq_stat "$dev" bio_merged) rq_merged=$(ufq_stat "$dev" rq_merged)"
	check_ufq_accounting "$dev"
	case $policy in
	no_merge) assert_eq "bio merges under a vetoing policy" 0 "$(ufq_stat "$dev" bio_merged)" ;;
	*) assert_ge "merges under $policy" 1 "$(merges "$dev")" ;;
	esac
	ufqctl unload "$policy"
done
