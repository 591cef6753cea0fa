#!/usr/bin/env bash
# ufq is offered as an elevator and can be selected and left again.
. "$(dirname "$0")/lib.sh"

make_nullb ufqt0 size=64
sched=/sys/block/ufqt0/queue/scheduler
info "schedulers: $(cat $sched)"
grep -qw ufq $sched || fail "ufq is not listed in $sched"

set_sched ufqt0 ufq
[ -f /sys/block/ufqt0/queue/iosched/stats ] || fail "ufq has no iosched/stats attribute"
set_sched ufqt0 none
set_sched ufqt0 ufq
set_sched ufqt0 mq-deadline
set_sched ufqt0 ufq
echo "ufq selected on ufqt0"
