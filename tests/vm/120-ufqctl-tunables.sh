#!/usr/bin/env bash
# Tunables by name from BTF: load --set applies before the first request and
# the rest start at the defaults the policy declares; get and set agree with
# what bpftool reads from the map; swap keeps the values; the policy reads
# them (a changed fifo_batch still passes verified I/O).
. "$(dirname "$0")/lib.sh"

make_nullb ufqt0 size=256 memory_backed=1
map=/sys/fs/bpf/ufq/deadline/maps/dl_tunables
field() { bpftool -j map dump pinned "$map" | jq ".[0].formatted.value.$1"; }

ufqctl load "$POLICIES/deadline.bpf.o" --dev ufqt0 --set fifo_batch=4 --set read_expire_ms=250
assert_policy ufqt0 deadline
assert_eq "fifo_batch from --set" 4 "$(field fifo_batch)"
assert_eq "read_expire_ms from --set" 250 "$(field read_expire_ms)"
assert_eq "write_expire_ms default" 5000 "$(field write_expire_ms)"
assert_eq "writes_starved default" 2 "$(field writes_starved)"

out=$(ufqctl get deadline)
info "$out"
grep -Eq '^fifo_batch +4 +\(default 16, range 1\.\.1024\)' <<<"$out" || fail "get: $out"
assert_eq "get KEY" 250 "$(ufqctl get deadline read_expire_ms)"
assert_eq "get --json" '{"fifo_batch":4,"read_expire_ms":250,"write_expire_ms":5000,"writes_starved":2}' \
	"$(ufqctl get deadline --json | jq -cS .)"

ufqctl set deadline writes_starved=0 fifo_batch=1
assert_eq "writes_starved after set" 0 "$(field writes_starved)"
assert_eq "fifo_batch after set" 1 "$(field fifo_batch)"
ufqctl set deadline write_expire_ms=0x10
assert_eq "hex value" 16 "$(ufqctl get deadline write_expire_ms)"
ufqctl set deadline write_expire_ms=9999 read_expire_ms=0
assert_eq "range ends accepted" "9999 0" \
	"$(ufqctl get deadline write_expire_ms) $(ufqctl get deadline read_expire_ms)"

fio_verify_job ufqt0 "$UFQ_OUT/120-a.json" 16
check_ufq_accounting ufqt0

# Swap replaces the programs and keeps the tunables map.
ufqctl swap deadline "$POLICIES/deadline.bpf.o"
assert_eq "fifo_batch after swap" 1 "$(ufqctl get deadline fifo_batch)"
assert_eq "write_expire_ms after swap" 9999 "$(field write_expire_ms)"
fio_verify_job ufqt0 "$UFQ_OUT/120-b.json" 16
assert_policy ufqt0 deadline
check_ufq_accounting ufqt0
ufqctl unload deadline
