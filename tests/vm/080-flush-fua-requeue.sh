#!/usr/bin/env bash
# Flushes, FUA writes and requeued (at-head) requests under ufq, without a
# policy and with each shipped policy: verified data, every request
# accounted for, none stranded.
#
# The device has a volatile write cache with FUA, so O_DSYNC writes reach
# the elevator as FUA writes and fsync() sends flushes through the flush
# machinery. null_blk's requeue fault injection sends some requests back
# through blk_mq_requeue_request(), which re-inserts them at the head: ufq
# must serve them before anything the policy holds, and the policy must
# keep working.
. "$(dirname "$0")/lib.sh"

dev=ufqf0
make_nullb $dev size=256 memory_backed=1 cache_size=32 fua=1 \
	requeue_inject/probability=3 requeue_inject/interval=1 \
	requeue_inject/times=-1 requeue_inject/verbose=0
assert_eq "$dev write cache" "write back" "$(cat /sys/block/$dev/queue/write_cache)"
assert_eq "$dev FUA support" 1 "$(cat /sys/block/$dev/queue/fua)"

# flushes_done: completed flush requests, field 16 of the disk's stat file.
flushes_done() { awk '{ print $16 }' "/sys/block/$dev/stat"; }

policies=(none)
for src in "$UFQ_REPO"/policies/*.bpf.c; do policies+=("$(basename "$src" .bpf.c)"); done
for policy in "${policies[@]}"; do
	info "policy $policy"
	set_sched $dev none
	set_sched $dev ufq
	if [ $policy != none ]; then
		ufqctl load "$POLICIES/$policy.bpf.o" --dev $dev
		assert_policy $dev $policy
	fi
	flushes=$(flushes_done)

	fio_verify_job $dev "$UFQ_OUT/080-$policy.json" 16 --sync=dsync --fsync=16

	assert_ge "flushes completed" 16 $(($(flushes_done) - flushes))
	check_ufq_accounting $dev
	assert_ge "requests requeued at the head" 1 "$(ufq_stat $dev requeued)"
	assert_eq "policy errors" 0 "$(ufq_stat $dev policy_errors)"
	if [ $policy != none ]; then
		assert_policy $dev $policy
		ufqctl unload $policy
	fi
done
