#!/usr/bin/env bash
# SCSI passthrough (SG_IO) next to ordinary I/O on a device under ufq with a
# policy: blk-mq sends passthrough requests straight to the dispatch list
# (at the head by default), around the elevator, but they take ufq's
# scheduler tags. None may be stranded, fail, or upset the policy, and what
# they read must be what ordinary I/O wrote.
#
# The device is scsi_debug's RAM disk (built into the test kernel).
. "$(dirname "$0")/lib.sh"

sdebug=/sys/bus/pseudo/drivers/scsi_debug
[ -d $sdebug ] || fail "no scsi_debug in this kernel (CONFIG_SCSI_DEBUG)"
dev=
for d in /sys/block/sd*; do
	[ "$(tr -d ' ' <"$d/device/model" 2>/dev/null)" = scsi_debug ] && dev=${d##*/}
done
[ -n "$dev" ] || fail "scsi_debug created no disk"
# 50 us per command, so that commands queue up behind each other.
echo 50000 >$sdebug/ndelay
size_mb=$(($(cat /sys/block/$dev/size) / 2048))
assert_ge "$dev size in MiB" 8 "$size_mb"
info "$dev: scsi_debug, ${size_mb} MiB"

# ufqctl switches the disk to ufq and, at unload, back to this.
orig_sched=$(sed -E 's/.*\[(.*)\].*/\1/' /sys/block/$dev/queue/scheduler)
ufqctl load "$POLICIES/deadline.bpf.o" --dev $dev
assert_policy $dev deadline

# Passthrough readers over the second half of the disk while fio writes and
# verifies the first half: SG_IO READ(10)s through sg_dd and TEST UNIT
# READYs, each loop counting its failures.
half_blocks=$((size_mb * 1024))
sg_loop() { # what COMMAND...
	local what=$1 n=0 bad=0
	shift
	while [ ! -e "$UFQ_OUT/085-stop" ]; do
		"$@" >/dev/null 2>&1 || bad=$((bad + 1))
		n=$((n + 1))
	done
	echo "$n $bad" >"$UFQ_OUT/085-$what.count"
}
rm -f "$UFQ_OUT"/085-*
sg_loop read sg_dd if=/dev/$dev of=/dev/null blk_sgio=1 bs=512 bpt=64 \
	skip=$half_blocks count=1024 &
sg_loop tur sg_turs /dev/$dev &
fio_verify_job $dev "$UFQ_OUT/085-fio.json" $((size_mb / 2))
touch "$UFQ_OUT/085-stop"
wait

for what in read tur; do
	read -r n bad <"$UFQ_OUT/085-$what.count"
	info "passthrough $what: $n commands, $bad failed"
	assert_ge "passthrough $what commands" 1 "$n"
	assert_eq "failed passthrough $what commands" 0 "$bad"
done

# What a passthrough READ returns is what a normal write put there.
dd if=/dev/urandom of="$UFQ_OUT/085-pattern" bs=64k count=16 status=none
dd if="$UFQ_OUT/085-pattern" of=/dev/$dev bs=64k seek=$((half_blocks / 128)) \
	oflag=direct conv=fsync status=none
sg_dd if=/dev/$dev of="$UFQ_OUT/085-readback" blk_sgio=1 bs=512 \
	skip=$half_blocks count=2048 2>/dev/null ||
	fail "passthrough read-back failed"
cmp -s "$UFQ_OUT/085-pattern" "$UFQ_OUT/085-readback" ||
	fail "passthrough read-back differs from what was written"
rm -f "$UFQ_OUT"/085-pattern "$UFQ_OUT"/085-readback

assert_policy $dev deadline
assert_eq "policy errors" 0 "$(ufq_stat $dev policy_errors)"
check_ufq_accounting $dev
ufqctl unload deadline
grep -q "\[$orig_sched\]" /sys/block/$dev/queue/scheduler ||
	fail "$dev: scheduler is '$(cat /sys/block/$dev/queue/scheduler)' after unload, was $orig_sched"
