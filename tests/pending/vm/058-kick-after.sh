#!/usr/bin/env bash
# ufq_kick_after() keeps a policy that holds I/O back alive, and is not a
# busy loop. tests/policies/kick_only.bpf.c never dispatches from insert and
# releases one request per interval_us (500 us) from dispatch(); every
# dispatch() that holds I/O back asks for a kick "now" (ufq_kick_after(sched,
# 0)). After a queue run that released a request and then held the rest,
# nothing but the kick runs the queue again, so under fio load every I/O
# completes only if no kick is lost.
#
# Asserts: fio (2 jobs x 2000 random 4k reads, iodepth 8) completes every
# I/O without error within 120 s; the device never fell back (a lost kick
# leaves all requests waiting until the policy's 5 s watchdog fires); and
# the kicks the policy measured (see kick_only.bpf.c: two holds in a row
# with no insert, completion, merge or requeue in between, so that the
# second was started by the kick the first asked for) all came at least
# 100 us after they were asked for, the kernel's minimum delay, with at
# least 200 such samples.
#
# Before the kicks were armed under a lock on a soft timer with a minimum
# delay: a delay of 0 fired at once, so every hold made the next queue run
# follow within microseconds (samples below 100 us: "early"), a busy loop of
# timer interrupts and queue runs; and a kick asked for while the timer's
# function ran was dropped, which stalls this policy until the watchdog.
. "$(dirname "$0")/lib.sh"

dev=ufqk0
# One hardware queue: every queue run, kick or blk-mq rerun, is the same work
# item, so the only runs between two holds are the kick's (see the policy).
make_nullb "$dev" size=256 irqmode=2 completion_nsec=100000 hw_queue_depth=2 \
	submit_queues=1
ufqctl load "$POLICIES/kick_only.bpf.o" --dev "$dev"
assert_policy "$dev" kick_only
echo 64 >"/sys/block/$dev/queue/nr_requests"
stats() { bpftool -j map dump pinned /sys/fs/bpf/ufq/kick_only/maps/kick_stats | jq -c '.[0].formatted.value'; }

json=$UFQ_OUT/058-fio.json
timeout 120 fio --output-format=json --output="$json" --filename="/dev/$dev" \
	--direct=1 --ioengine=libaio --rw=randread --bs=4k --iodepth=8 \
	--number_ios=2000 --size=128M --randrepeat=0 --name=a --name=b ||
	fail "fio failed or did not finish within 120 s (state $(iosched "$dev" state), last_error '$(iosched "$dev" last_error)')"
assert_eq "fio errors" 0 "$(fio_sum "$json" '.error')"
assert_ge "4k reads completed" 4000 "$(fio_sum "$json" '.read.total_ios')"

s=$(stats)
info "kick_only stats: $s"
f() { jq "$1" <<<"$s"; }
assert_policy "$dev" kick_only
assert_eq "policy errors (watchdog fallbacks)" 0 "$(ufq_stat "$dev" policy_errors)"
assert_eq "requests served by the fallback FIFO" 0 "$(ufq_stat "$dev" fallback)"
# Fewer than the reads if some merged while they waited.
assert_ge "requests released by dispatch()" 3000 "$(f .releases)"
assert_ge "holds (kicks asked for)" 1000 "$(f .holds)"
assert_ge "kick delays measured" 200 "$(f .samples)"
assert_eq "kicks sooner than 100 us after they were asked for (shortest $(f .min_gap_ns) ns)" \
	0 "$(f .early)"
check_ufq_accounting "$dev"
