#!/usr/bin/env bash
# ufqctl status, list, bind, unbind and unload against the real kernel:
# status shows what the iosched attributes say, in text and JSON; unbind
# leaves the device on ufq in FIFO order; bind records the device so that
# unload restores its elevator, also after the device moved between
# policies; a device ufqctl moved from one policy to another gets the first
# back when the second is unloaded; --keep-ufq keeps ufq; nothing is left in
# /sys/fs/bpf/ufq or /run/ufq afterwards.
. "$(dirname "$0")/lib.sh"

make_nullb ufqa0 size=64
make_nullb ufqa1 size=64
set_sched ufqa0 mq-deadline
set_sched ufqa1 none

ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqa0
ufqctl load "$POLICIES/deadline.bpf.o"
assert_eq "list" "deadline fifo" "$(ufqctl list | tr '\n' ' ' | sed 's/ $//')"

json=$(ufqctl status --json)
info "status: $json"
assert_eq "policies" '["deadline","fifo"]' "$(jq -c '[.policies[].name]' <<<"$json")"
assert_eq "fifo's devices" '["ufqa0"]' "$(jq -c '.policies[] | select(.name == "fifo") | .devices' <<<"$json")"
# (Other tests' devices may be on ufq too: only ours are looked at.)
assert_eq "devices on ufq" '["ufqa0"]' \
	"$(jq -c '[.devices[].device | select(startswith("ufqa"))]' <<<"$json")"
a0='.devices[] | select(.device == "ufqa0")'
assert_eq "ufqa0 policy" fifo "$(jq -r "$a0 | .policy" <<<"$json")"
assert_eq "ufqa0 state" active "$(jq -r "$a0 | .state" <<<"$json")"
assert_eq "ufqa0 registered" '["deadline","fifo"]' "$(jq -c "$a0 | .registered | sort" <<<"$json")"
dd if=/dev/ufqa0 of=/dev/null bs=4k count=100 iflag=direct status=none
assert_eq "inserted counter" "$(ufq_stat ufqa0 inserted)" \
	"$(ufqctl status --json --dev ufqa0 | jq '.devices[0].stats.inserted')"

text=$(ufqctl status --dev /dev/ufqa0)
info "$text"
grep -q "policy *fifo" <<<"$text" || fail "status text lacks the policy"
grep -q "state *active" <<<"$text" || fail "status text lacks the state"
text=$(ufqctl status)
grep -Eq '^  fifo +devices: ufqa0; maps: .*ufq_latency' <<<"$text" ||
	fail "status text lacks fifo's devices and maps: $text"
grep -q "elevator *none (not ufq)" <<<"$(ufqctl status --dev ufqa1)" ||
	fail "status of a device not on ufq: $(ufqctl status --dev ufqa1)"

# A fallback shows up with its reason.
ufqctl load "$POLICIES/bad_abort.bpf.o" --dev ufqa1 # gives up after 300 completions
dd if=/dev/ufqa1 of=/dev/null bs=4k count=400 iflag=direct status=none
wait_for "ufqa1 to fall back" 10 grep -qx fallback /sys/block/ufqa1/queue/iosched/state
json=$(ufqctl status --json --dev ufqa1)
assert_eq "ufqa1 state" fallback "$(jq -r '.devices[0].state' <<<"$json")"
jq -r '.devices[0].last_error' <<<"$json" | grep -q '^abort: policy bad_abort' ||
	fail "last_error: $(jq -r '.devices[0].last_error' <<<"$json")"
# Choosing no policy after the failure: state none, the reason still kept.
err=$(iosched ufqa1 last_error)
echo none >/sys/block/ufqa1/queue/iosched/policy
assert_eq "state after choosing none in fallback" none "$(iosched ufqa1 state)"
assert_eq "last_error kept" "$err" "$(iosched ufqa1 last_error)"
ufqctl unload bad_abort
assert_eq "ufqa1 restored" "[none]" "$(grep -o '\[none\]' /sys/block/ufqa1/queue/scheduler)"

# unbind: stays on ufq, no policy, FIFO.
ufqctl unbind --dev ufqa0
grep -q '\[ufq\]' /sys/block/ufqa0/queue/scheduler || fail "unbind left ufq"
assert_eq "policy after unbind" "[none]" "$(grep -o '\[none\]' /sys/block/ufqa0/queue/iosched/policy)"
assert_eq "state after unbind" none "$(iosched ufqa0 state)"
dd if=/dev/ufqa0 of=/dev/null bs=4k count=10 iflag=direct status=none

# bind a device ufqctl never touched: unloading its policy restores none.
ufqctl bind deadline --dev ufqa1
assert_policy ufqa1 deadline
assert_eq "deadline's devices" '["ufqa1"]' \
	"$(ufqctl status --json | jq -c '.policies[] | select(.name == "deadline") | .devices')"
# ...and moving ufqa0 (fifo's, mq-deadline before) to deadline moves its
# record: unloading fifo leaves it alone, unloading deadline restores
# mq-deadline.
ufqctl bind deadline --dev ufqa0
assert_policy ufqa0 deadline
assert_eq "deadline's devices after the move" '["ufqa0","ufqa1"]' \
	"$(ufqctl status --json | jq -c '.policies[] | select(.name == "deadline") | .devices | sort')"
ufqctl unload fifo
assert_policy ufqa0 deadline # moved to another policy since: left alone
ufqctl unload deadline
grep -q '\[mq-deadline\]' /sys/block/ufqa0/queue/scheduler ||
	fail "unload did not restore ufqa0's elevator: $(cat /sys/block/ufqa0/queue/scheduler)"
grep -q '\[none\]' /sys/block/ufqa1/queue/scheduler ||
	fail "unload did not restore ufqa1's elevator: $(cat /sys/block/ufqa1/queue/scheduler)"

# A device ufqctl moves from policy P to Q gets P back when Q is unloaded,
# and its own elevator when P is unloaded afterwards. Also for a device that
# was bound to P without ufqctl (echo to sysfs).
ufqctl load "$POLICIES/fifo.bpf.o" --dev ufqa0
set_sched ufqa1 ufq
echo fifo >/sys/block/ufqa1/queue/iosched/policy
ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqa0 --dev ufqa1
assert_policy ufqa0 deadline
assert_policy ufqa1 deadline
ufqctl unload deadline
assert_policy ufqa0 fifo
assert_policy ufqa1 fifo
ufqctl unload fifo
grep -q '\[mq-deadline\]' /sys/block/ufqa0/queue/scheduler ||
	fail "ufqa0 did not get mq-deadline back: $(cat /sys/block/ufqa0/queue/scheduler)"
# ufqa1 was on ufq already when ufqctl first saw it: it stays, unbound.
grep -q '\[ufq\]' /sys/block/ufqa1/queue/scheduler || fail "ufqa1 left ufq"
assert_eq "ufqa1 state" none "$(iosched ufqa1 state)"

# unload unbinds every device the policy serves, also one bound without
# ufqctl; --keep-ufq keeps the recorded ones on ufq.
set_sched ufqa1 none
ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqa1
set_sched ufqa0 ufq
echo deadline >/sys/block/ufqa0/queue/iosched/policy
assert_policy ufqa0 deadline
ufqctl unload deadline --keep-ufq
grep -q '\[ufq\]' /sys/block/ufqa1/queue/scheduler || fail "--keep-ufq switched ufqa1 away from ufq"
assert_eq "ufqa1 state after unload --keep-ufq" none "$(iosched ufqa1 state)"
assert_eq "ufqa0 state after unload" none "$(iosched ufqa0 state)"

# A model push and a trace leave no lock behind either.
ufqctl load "$POLICIES/model_prio.bpf.o" --dev ufqa1
echo '{"coef": [[1, 2], [3, 4]]}' >"$UFQ_OUT/100-weights.json"
ufqctl model push model_prio "$UFQ_OUT/100-weights.json" >/dev/null
ufqctl set deadline fifo_batch=2 2>/dev/null && fail "set on an unloaded policy succeeded"
ufqctl trace record --dev ufqa1 --duration 0.2 -o "$UFQ_OUT/100.csv" >/dev/null
ufqctl unload model_prio
[ -z "$(ls /sys/fs/bpf/ufq)" ] || fail "pins left: $(ls /sys/fs/bpf/ufq)"
left=$(find /run/ufq -mindepth 1)
[ -z "$left" ] || fail "files left in /run/ufq: $left"
