#!/usr/bin/env bash
# ufqctl model push/show with the model_prio test policy: a pushed model
# changes the policy's decisions (which queue each request waits in), each
# push is a new generation in the other slot, show reads the live one, and
# I/O stays correct while models are pushed under load.
. "$(dirname "$0")/lib.sh"

make_nullb ufqn0 size=256 memory_backed=1
udevadm settle 2>/dev/null || true
ufqctl load "$POLICIES/model_prio.bpf.o" --dev ufqn0
decisions() { bpftool -j map dump pinned /sys/fs/bpf/ufq/model_prio/maps/mp_decisions | jq -c '.[0].formatted.value'; }
w=$UFQ_OUT/140-weights.json

assert_eq "show before a push" '{"generation":0,"weights":null}' \
	"$(ufqctl model show model_prio --json | jq -c '{generation, weights}')"
grep -q "no model pushed yet" <<<"$(ufqctl model show model_prio)" || fail "show text"

# Writes score negative: they wait in queue 1.
echo '{"coef": [[10, 0], [-10, 0]]}' >"$w"
assert_eq "push 1" "model_prio: model generation 1 is live" "$(ufqctl model push model_prio "$w")"
dd if=/dev/zero of=/dev/ufqn0 bs=4k count=64 oflag=direct status=none
d=$(decisions)
info "after push 1: $d"
assert_eq "writes in queue 1" 64 "$(jq '.queued[1]' <<<"$d")"
assert_eq "generation seen by the policy" 1 "$(jq '.last_gen' <<<"$d")"

# Now by size: 64 KiB writes score -10 + 1*16 > 0 and go to queue 0.
echo '{"coef": [[10, 0], [-10, 1]]}' >"$w"
ufqctl model push model_prio "$w"
dd if=/dev/zero of=/dev/ufqn0 bs=64k count=16 oflag=direct status=none
d=$(decisions)
info "after push 2: $d"
assert_eq "queue 1 unchanged" 64 "$(jq '.queued[1]' <<<"$d")"
assert_ge "64k writes in queue 0" 16 "$(jq '.queued[0]' <<<"$d")"
assert_eq "generation 2" 2 "$(jq '.last_gen' <<<"$d")"
show=$(ufqctl model show model_prio --json)
assert_eq "show" '{"generation":2,"weights":{"coef":[[10,0],[-10,1]]}}' \
	"$(jq -c '{generation, weights}' <<<"$show")"
ufqctl model show model_prio | grep -q 'coef = \[\[10,0\],\[-10,1\]\]' || fail "show text"
# show --json's weights are a valid push file.
jq .weights <<<"$show" >"$w"
ufqctl model push model_prio "$w"

# Pushes under verified load: every decision uses a whole model.
fio_verify_job ufqn0 "$UFQ_OUT/140-fio.json" 32 &
fio_pid=$!
for i in $(seq 1 10); do
	echo "{\"coef\": [[$i, 0], [$(( i % 2 ? -1 : 1 )), 0]]}" >"$w"
	ufqctl model push model_prio "$w" >/dev/null
done
wait $fio_pid || fail "fio verify failed while models were pushed"
assert_eq "generation after 13 pushes" 13 "$(ufqctl model show model_prio --json | jq .generation)"
assert_policy ufqn0 model_prio
check_ufq_accounting ufqn0

# Swap keeps the model.
ufqctl swap model_prio "$POLICIES/model_prio.bpf.o"
assert_eq "generation after swap" 13 "$(ufqctl model show model_prio --json | jq .generation)"
ufqctl unload model_prio
