#!/usr/bin/env bash
# ufqctl failures with policies loaded, each one line, non-zero exit and no
# pin, link, state file, elevator, tunable or model change behind: a name
# already loaded, unknown or out-of-range tunables, malformed or mis-shaped
# weights, commands on policies or devices that are not there or not on ufq.
. "$(dirname "$0")/lib.sh"

make_nullb ufqe0 size=64
make_nullb ufqe1 size=64
set_sched ufqe0 mq-deadline
set_sched ufqe1 none
D=(ufqe0 ufqe1 --)

ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqe1
ufqctl load "$POLICIES/model_prio.bpf.o"
expect_fail "policy deadline is already loaded" "${D[@]}" \
	ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqe0
expect_fail "deadline has no tunable 'nope'" "${D[@]}" ufqctl set deadline nope=1
expect_fail "write_expire_ms: 10000 is out of range 0..9999" "${D[@]}" \
	ufqctl set deadline fifo_batch=4 write_expire_ms=10000
expect_fail "fifo_batch: 'many' is not an integer" "${D[@]}" ufqctl set deadline fifo_batch=many
expect_fail "'fifo_batch' is not KEY=VALUE" "${D[@]}" ufqctl set deadline fifo_batch
assert_eq "fifo_batch unchanged" 16 "$(ufqctl get deadline fifo_batch)"
expect_fail "no policy named nope is loaded" "${D[@]}" ufqctl get nope
expect_fail "no policy named nope is loaded" "${D[@]}" ufqctl unload nope
# bind looks the policy up before switching the device: ufqe0 stays on
# mq-deadline, ufqe1 keeps deadline.
expect_fail "no policy named nope is registered in the kernel" "${D[@]}" ufqctl bind nope --dev ufqe0
expect_fail "no policy named nope is registered in the kernel" "${D[@]}" ufqctl bind nope --dev ufqe1
assert_policy ufqe1 deadline
expect_fail "defines policy deadline, not model_prio" "${D[@]}" \
	ufqctl swap model_prio "$POLICIES/deadline.bpf.o"
expect_fail "must be in SEC(\".struct_ops.link\")" "${D[@]}" \
	ufqctl swap deadline "$POLICIES/no_link.bpf.o"
expect_fail "ufqe0 does not use the ufq elevator" "${D[@]}" ufqctl unbind --dev ufqe0

w=$UFQ_OUT/110-weights.json
echo '{"coef": [[1, 2], [3, 4]]}' >"$w"
ufqctl model push model_prio "$w"
bad() { echo "$1" >"$w"; expect_fail "$2" "${D[@]}" ufqctl model push model_prio "$w"; }
bad '{"coef": [[1, 2], [3, 4]' "110-weights.json: not valid JSON: parse error"
bad '{"coef": [[1, 2], [3]]}' "coef\[1\]: expected 2 elements, got 1"
bad '{"coef": [[1, 2], [3, 4]], "bias": 1}' "unknown member 'bias'"
bad '{}' "coef: missing"
bad '{"coef": [[1, 2], [3, 4.5]]}' "coef\[1\]\[1\]: 4.5 is not an integer"
bad '{"coef": [[1, 2], [3, 1000001]]}' "coef\[1\]\[1\]: 1000001 is out of range -1000000..1000000"
expect_fail "cannot read /nonexistent.json" "${D[@]}" ufqctl model push model_prio /nonexistent.json
expect_fail "policy deadline has no model" "${D[@]}" ufqctl model push deadline "$w"
assert_eq "model after refused pushes" '{"generation":1,"weights":{"coef":[[1,2],[3,4]]}}' \
	"$(ufqctl model show model_prio --json | jq -c '{generation, weights}')"

expect_fail "ufqe0 is not served by a ufq policy" "${D[@]}" \
	ufqctl trace record --dev ufqe0 --duration 1 -o "$UFQ_OUT/110.csv"
[ ! -e "$UFQ_OUT/110.csv" ] || fail "a refused trace left its file"
expect_fail "no device uses the ufq elevator\|no block device" "${D[@]}" ufqctl stats --dev nosuchdev --count 1

ufqctl unload model_prio
ufqctl unload deadline
grep -q '\[none\]' /sys/block/ufqe1/queue/scheduler || fail "ufqe1 not restored"
grep -q '\[mq-deadline\]' /sys/block/ufqe0/queue/scheduler || fail "ufqe0 changed"
