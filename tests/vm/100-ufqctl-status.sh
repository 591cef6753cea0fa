#!/usr/bin/env bash
# ufqctl status, list, bind, unbind and unload --keep-ufq against the real
# kernel: status shows what the iosched attributes say, in text and JSON;
# unbind leaves the device on ufq in FIFO order; bind records the device so
# that unload restores its elevator; --keep-ufq keeps ufq.
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
assert_eq "devices on ufq" '["ufqa0"]' "$(jq -c '[.devices[].device]' <<<"$json")"
assert_eq "ufqa0 policy" fifo "$(jq -r '.devices[0].policy' <<<"$json")"
assert_eq "ufqa0 state" active "$(jq -r '.devices[0].state' <<<"$json")"
assert_eq "ufqa0 registered" '["deadline","fifo"]' "$(jq -c '.devices[0].registered | sort' <<<"$json")"
dd if=/dev/ufqa0 of=/dev/null bs=4k count=100 iflag=direct status=none
assert_eq "inserted counter" "$(ufq_stat ufqa0 inserted)" \
	"$(ufqctl status --json --dev ufqa0 | jq '.devices[0].stats.inserted')"

text=$(ufqctl status --dev /dev/ufqa0)
info "$text"
grep -q "policy *fifo" <<<"$text" || fail "status text lacks the policy"
grep -q "state *active" <<<"$text" || fail "status text lacks the state"
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
# ...and moving ufqa0 (fifo's) to deadline leaves it fifo's to restore.
ufqctl bind deadline --dev ufqa0
assert_policy ufqa0 deadline
ufqctl unload fifo
assert_policy ufqa0 deadline # moved to another policy since: left alone
ufqctl unload deadline --keep-ufq
grep -q '\[ufq\]' /sys/block/ufqa1/queue/scheduler || fail "--keep-ufq switched ufqa1 away from ufq"
assert_eq "state after unload --keep-ufq" none "$(iosched ufqa1 state)"
[ -z "$(ls /sys/fs/bpf/ufq)" ] || fail "pins left: $(ls /sys/fs/bpf/ufq)"
[ -z "$(ls /run/ufq/*.json 2>/dev/null)" ] || fail "state files left: $(ls /run/ufq)"
