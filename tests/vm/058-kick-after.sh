#!/usr/bin/env bash
# ufq_bpf_kick_after() keeps a policy that holds I/O back alive, and is not a
# busy loop. tests/policies/kick_only.bpf.c never dispatches from insert and
# releases one request per interval_us (20 ms) from dispatch(); every
# dispatch() that holds I/O back asks for a kick "now" (ufq_bpf_kick_after(sched,
# 0)). After a queue run that released a request and then held the rest,
# nothing but the kick runs the queue again, so under fio load every I/O
# completes only if no kick is lost.
#
# Asserts, for two fio runs in a row (2 jobs x 100 random 4k reads, iodepth
# 8), the first with the policy asking for its kicks after 100 us, the
# second for kicks "now": fio completes every I/O without error within
# 120 s; the device never fell back (a lost kick leaves all requests
# waiting until the policy's 5 s watchdog fires); and in stretches with
# nothing in flight and no insert, completion, merge or requeue for 5 ms
# (see kick_only.bpf.c), the queue runs, started by the kicks and by
# blk-mq's own rerun after an empty run, come less than 100 us after the
# previous one (the reruns, at the next tick) no more often with kicks asked
# for "now" than with kicks after 100 us (the kernel's minimum delay makes
# the two the same), at most twice as often plus 1%, over at least 200
# samples each. A ratio measured in one boot, not a time: under emulation
# even a storm of queue runs comes some 100 us apart on average.
#
# Third, kicks asked for only when the next release is due: dispatch() is
# called about once per release, completion and insert, and once more per
# release, at most three times per release beyond releases and inserts;
# before ufq stopped polling a policy that holds everything back,
# blk-mq's reruns every 3 ms made that about four.
#
# Before the kicks were armed under a lock on a soft timer with a minimum
# delay: a delay of 0 fired at once, so every hold made the next queue run
# follow within microseconds, a busy loop of timer interrupts and queue
# runs; and a kick asked for while the timer's function ran was dropped,
# which stalls this policy until the watchdog.
. "$(dirname "$0")/lib.sh"

dev=ufqk0
# One hardware queue: every queue run, kick or blk-mq rerun, is the same work
# item, so two of them never overlap.
make_nullb "$dev" size=256 irqmode=2 completion_nsec=100000 hw_queue_depth=2 \
	submit_queues=1
ufqctl load "$POLICIES/kick_only.bpf.o" --dev "$dev"
assert_policy "$dev" kick_only
echo 64 >"/sys/block/$dev/queue/nr_requests"
stats() { bpftool -j map dump pinned /sys/fs/bpf/ufq/kick_only/maps/kick_stats | jq -c '.[0].formatted.value'; }

# One fio run: every I/O completes, no fallback; prints the policy's stats.
kick_run() { # NAME
	local json=$UFQ_OUT/058-$1.json
	timeout 120 fio --output-format=json --output="$json" --filename="/dev/$dev" \
		--direct=1 --ioengine=libaio --rw=randread --bs=4k --iodepth=8 \
		--number_ios=100 --size=128M --randrepeat=0 --name=a --name=b ||
		fail "fio ($1) failed or did not finish within 120 s (state $(iosched "$dev" state), last_error '$(iosched "$dev" last_error)')"
	assert_eq "fio errors ($1)" 0 "$(fio_sum "$json" '.error')"
	assert_ge "4k reads completed ($1)" 200 "$(fio_sum "$json" '.read.total_ios')"
	assert_policy "$dev" kick_only
	assert_eq "policy errors, watchdog fallbacks ($1)" 0 "$(ufq_stat "$dev" policy_errors)"
	assert_eq "requests served by the fallback FIFO ($1)" 0 "$(ufq_stat "$dev" fallback)"
	stats
}
f() { jq "$2" <<<"$1"; }
# Per mille of the quiet queue runs between two stats that came sooner than
# 100 us after the one before.
early_pm() { # BEFORE AFTER
	jq -n --argjson a "$1" --argjson b "$2" \
		'(($b.early - $a.early) * 1000 / ($b.samples - $a.samples)) | floor'
}

zero=$(stats)
ufqctl set kick_only kick_delay_ns=100000
at_min=$(kick_run "kicks after 100 us")
info "kick_only stats after kicks asked for after 100 us: $at_min"
ufqctl set kick_only kick_delay_ns=0
at_zero=$(kick_run "kicks asked for now")
info "kick_only stats after kicks asked for now: $at_zero"

# Fewer releases than reads if some merged while they waited.
assert_ge "requests released by dispatch()" 300 "$(f "$at_zero" .releases)"
assert_ge "quiet queue runs measured, 100 us kicks" 200 \
	"$(($(f "$at_min" .samples) - $(f "$zero" .samples)))"
assert_ge "quiet queue runs measured, immediate kicks" 200 \
	"$(($(f "$at_zero" .samples) - $(f "$at_min" .samples)))"
early_min=$(early_pm "$zero" "$at_min")
early_zero=$(early_pm "$at_min" "$at_zero")
info "quiet queue runs sooner than 100 us after the previous one: ${early_min} per mille with 100 us kicks, ${early_zero} with immediate ones"
# A kick asked for now is one after 100 us: the only runs sooner than that
# are blk-mq's reruns, as often with either delay. In a storm nearly all are.
assert_ge "early runs with 100 us kicks x2 + 10 per mille vs immediate kicks" \
	"$early_zero" "$((early_min * 2 + 10))"

# A policy that holds every request back is not polled. With its kicks
# asked for only when the next release is due (20 ms), dispatch() is
# called for each release, right after it (the hold that ends the queue
# run), for each completion and for each insert, and otherwise not: not
# every BLK_MQ_BUDGET_DELAY (3 ms) while it holds I/O back, which made
# about four calls more per release.
ufqctl set kick_only kick_delay_ns=20000000
due=$(kick_run "kicks only when due")
info "kick_only stats after kicks asked for only when due: $due"
calls=$(($(f "$due" .dispatch_calls) - $(f "$at_zero" .dispatch_calls)))
releases=$(($(f "$due" .releases) - $(f "$at_zero" .releases)))
inserts=$(($(f "$due" .inserts) - $(f "$at_zero" .inserts)))
info "dispatch() calls $calls for $releases releases and $inserts inserts"
assert_le "dispatch() calls beyond releases and inserts (3 per release)" \
	"$((3 * releases))" "$((calls - releases - inserts))"
check_ufq_accounting "$dev"
