#!/usr/bin/env bash
# Data written through ufq reads back intact, fio completes exactly the I/Os
# it was asked for, and ufq's counters show no request lost.
. "$(dirname "$0")/lib.sh"

make_nullb ufqt1 size=256 memory_backed=1 submit_queues=2
set_sched ufqt1 ufq

size_mb=32
bs=4096
expected=$((size_mb * 1024 * 1024 / bs))
json=$UFQ_OUT/020-fio.json
run_fio "$json" --name=verify --filename=/dev/ufqt1 --direct=1 \
	--ioengine=libaio --iodepth=16 --rw=randwrite --bs=$bs --size=${size_mb}M \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 --verify_state_save=0

errors=$(fio_sum "$json" '.error')
writes=$(fio_sum "$json" '.write.total_ios')
reads=$(fio_sum "$json" '.read.total_ios')
info "fio: writes=$writes verify-reads=$reads errors=$errors"
assert_eq "fio errors" 0 "$errors"
assert_eq "4k writes completed" "$expected" "$writes"
assert_eq "4k verify reads completed" "$expected" "$reads"

check_ufq_accounting ufqt1
ins=$(ufq_stat ufqt1 inserted)
bio=$(ufq_stat ufqt1 bio_merged)
# Every I/O reached the device through ufq, as a request or merged into one
# (bios merged in the submitter's plug never reach the scheduler).
[ $((ins + bio)) -le $((writes + reads)) ] ||
	fail "ufq saw $((ins + bio)) bios+requests for $((writes + reads)) I/Os"
assert_ge "requests through ufq" $(((writes + reads) / 2)) "$ins"
