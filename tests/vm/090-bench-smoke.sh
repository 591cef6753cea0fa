#!/usr/bin/env bash
# The benchmark suite keeps working. Its plan in --quick mode (the rows
# summary.csv gets: every scheduler through every scenario and tenants
# variant) is checked in full against a list written out here: tools/bench/
# guest --plan, the same code as a run, with nothing run. Then the guest
# part runs a subset that covers every scheduler and every scenario,
# variant and job, in 250 ms fio runs (BENCH_QUICK_RUNTIME_MS): the
# schedulers with tenants variants of their own (none: io.latency and
# io.cost; bfq: weights; ufq:qos: its tenants) through every scenario, the
# others through the overhead scenario. Each run's summary.csv must hold
# exactly its plan's rows, and the summary is made from it. Fails only on a
# broken pipeline (a run that could not be done, a missing or extra row, a
# malformed value, a missing section), never on a performance number: the
# numbers of such short runs in an emulated VM mean nothing. Also checks
# tools/bench/run's argument errors.
. "$(dirname "$0")/lib.sh"

bench=$UFQ_REPO/tools/bench
py=/usr/bin/python3
[ -x "$py" ] || fail "$py is missing"

# The front end refuses bad arguments with one line and status 2, before it
# boots anything.
bad_args() {
	local err rc=0
	err=$("$bench/run" "$@" 2>&1 >/dev/null) || rc=$?
	assert_eq "tools/bench/run $* exit status" 2 "$rc"
	assert_eq "tools/bench/run $* error lines" 1 "$(wc -l <<<"$err")"
	info "tools/bench/run $*: $err"
}
bad_args --bogus
bad_args --reps 0
bad_args --reps
bad_args --sched none,cfq
bad_args --sched ufq:nosuchpolicy
bad_args --scenario overhead,nosuch
bad_args --timeout soon
help=$("$bench/run" --help) || fail "tools/bench/run --help failed"
for sec in NAME SYNOPSIS DESCRIPTION OPTIONS OUTPUT "EXIT STATUS"; do
	grep -qx "$sec" <<<"$help" || fail "tools/bench/run --help has no $sec section"
done

# What the quick mode must produce, written out here rather than taken from
# the suite, so that a scheduler or job the suite forgets is caught. The
# policies are those shipped in policies/, whose objects make build made.
scheds=(none mq-deadline kyber bfq ufq)
for src in "$UFQ_REPO"/policies/*.bpf.c; do
	p=$(basename "$src" .bpf.c)
	[ -f "$POLICIES/$p.bpf.o" ] || fail "policy $p is shipped but $POLICIES/$p.bpf.o is not built"
	scheds+=("ufq:$p")
done
expected=$UFQ_OUT/090-expected.csv
{
	echo "none,calibration,alone-read-4k-qd16"
	echo "none,ssd-calibration,alone-read-4k-qd16"
	# the critical reader alone: the qos and io.cost variants' SLO
	echo "none,calibration,alone-crit-read-4k-qd2"
	echo "none,ssd-calibration,alone-crit-read-4k-qd2"
	for s in "${scheds[@]}"; do
		echo "$s,overhead,randread-4k-qd32"
		echo "$s,overhead,randrw70-4k-qd8"
		echo "$s,contention,read-4k-qd2"
		echo "$s,contention,write-64k-qd32"
		echo "$s,ssd-contention,read-4k-qd2"
		echo "$s,ssd-contention,write-64k-qd32"
		for sc in mixed ssd-mixed; do
			echo "$s,$sc,seqread-4k-qd16"
			echo "$s,$sc,randread-4k-qd4"
			echo "$s,$sc,seqwrite-16k-qd8"
		done
		variants=(tenants)
		case "$s" in
		bfq) variants+=(tenants-bfq-weight) ;;
		none | mq-deadline) variants+=(tenants-io.latency tenants-io.cost) ;;
		ufq:qos) variants=(tenants-qos) ;; # only with its tenants set
		esac
		for v in "${variants[@]}" "${variants[@]/#/ssd-}"; do
			echo "$s,$v,crit-read-4k-qd2"
			echo "$s,$v,be-write-64k-qd16"
			echo "$s,$v,be-read-64k-qd16"
		done
	done
} >"$expected"

# The whole matrix, as planned.
plan=$UFQ_OUT/090-plan.csv
"$bench/guest" --plan --quick >"$plan" || fail "tools/bench/guest --plan --quick failed (exit $?)"

# The runs: the schedulers with a tenants variant of their own through every
# scenario, every other one through the overhead scenario.
full=(none bfq ufq:qos)
rest=()
for s in "${scheds[@]}"; do
	[[ " ${full[*]} " == *" $s "* ]] || rest+=("$s")
done
out=$UFQ_OUT/090-bench
rm -rf "$out"
mkdir -p "$out"
export BENCH_QUICK_RUNTIME_MS=250
# run_part NAME GUEST_OPTIONS...: one guest run into $out/NAME, and its plan
# (--plan with the same options) in $out/NAME-plan.csv. The guest makes the
# summary from its CSV as tools/bench/run does on the host, and fails when
# it cannot.
run_part() {
	local name=$1 start=$SECONDS
	shift
	"$bench/guest" --plan --quick "$@" >"$out/$name-plan.csv" ||
		fail "tools/bench/guest --plan --quick $* failed (exit $?)"
	"$bench/guest" --quick --out "$out/$name" "$@" ||
		fail "tools/bench/guest --quick $* failed (exit $?); see $out/$name/bench.log"
	info "guest part ($*): $((SECONDS - start)) s"
	if grep -q '^ERROR' "$out/$name/notes.txt"; then
		fail "the guest reported errors: $(grep '^ERROR' "$out/$name/notes.txt")"
	fi
}
run_part full --sched "$(IFS=,; echo "${full[*]}")"
run_part rest --sched "$(IFS=,; echo "${rest[*]}")" --scenario overhead

# The rows, in one python run (each costs seconds under emulation): the
# whole plan holds every expected row exactly once and nothing else; so do
# each run's plan.csv and summary.csv of the rows its --plan listed, with
# well-formed values and no run that did no I/O at all; together the runs
# ran every scheduler, and every scenario, variant and job; all of
# repetition 1. And the chart code compiles: the charts are not drawn here
# (matplotlib under software emulation took 7 minutes for the three charts,
# 3 s on the host, past this test's time limit); tools/bench/run --quick
# draws them.
if ! "$py" -S - "$expected" "$plan" "$bench/plot.py" "$out" full rest <<'PY'; then
import csv, math, os, sys

expected, plan, plot, out, parts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
bad = []
try:
    compile(open(plot).read(), plot, "exec")
except SyntaxError as e:
    bad.append(f"{plot} does not compile: {e}")


def keys(path):
    """(scheduler, scenario, job) of a CSV with a header, or of a bare list."""
    with open(path) as f:
        if f.readline().startswith("scheduler,"):
            f.seek(0)
            return [(r["scheduler"], r["scenario"], r["job"]) for r in csv.DictReader(f)]
        f.seek(0)
        return [tuple(l.strip().split(",")[:3]) for l in f if l.strip()]


def check(path, want, values=False):
    rows = list(csv.DictReader(open(path)))
    got = [(r["scheduler"], r["scenario"], r["job"]) for r in rows]
    name = os.path.relpath(path, os.path.dirname(out))
    bad.extend(f"{name}: missing: " + ",".join(k) for k in sorted(set(want) - set(got)))
    bad.extend(f"{name}: unexpected: " + ",".join(k) for k in sorted(set(got) - set(want)))
    bad.extend(f"{name}: more than once: " + ",".join(k)
               for k in sorted({k for k in got if got.count(k) > 1}))
    runs = {}
    for r in rows:
        if r["repetition"] != "1":
            bad.append(f"{name}: repetition {r['repetition']!r} in quick mode: {r}")
        if not values:
            continue
        for col in ("iops", "bw_kib"):
            try:
                v = float(r[col])
                ok = math.isfinite(v) and v >= 0
            except ValueError:
                ok = False
            if not ok:
                bad.append(f"{name}: {col}={r[col]!r}: {r}")
        for col in ("lat_mean_us", "lat_p50_us", "lat_p99_us", "lat_p999_us"):
            if r[col] != "" and not float(r[col]) >= 0:
                bad.append(f"{name}: {col}={r[col]!r}: {r}")
        key = (r["scheduler"], r["scenario"])
        runs[key] = runs.get(key, 0) + float(r["iops"] or 0)
    bad.extend(f"{name}: no I/O at all in run " + ",".join(k) for k, t in sorted(runs.items()) if t <= 0)
    print(f"090: {name}: {len(rows)} rows, {len(set(want))} expected")
    return rows


want = keys(expected)
check(plan, want)
ran = []
for p in parts:
    part_want = keys(os.path.join(out, p + "-plan.csv"))
    check(os.path.join(out, p, "plan.csv"), part_want)
    ran += check(os.path.join(out, p, "summary.csv"), part_want, values=True)
for i, what in enumerate(("scheduler", "scenario", "job")):
    bad.extend(f"{what} {x} never ran" for x in sorted({w[i] for w in want} - {r[what] for r in ran}))
for b in bad:
    print("090:", b)
sys.exit(1 if bad else 0)
PY
	fail "the benchmark's rows are not the expected ones, or plot.py does not compile"
fi

for sec in "### Overhead" "### The device-bound null_blk alone" "### Contention" "### Mixed" "### Tenants" \
	"### The ssdsim device alone" "### Contention (ssdsim)" "### Mixed (ssdsim)" "### Tenants (ssdsim)" \
	"## Notes" "## Details"; do
	grep -q "^$sec" "$out/full/summary.md" || fail "$out/full/summary.md has no '$sec' section"
done
for s in "${full[@]}"; do
	grep -q "^| $s | " "$out/full/summary.md" || fail "$out/full/summary.md has no row for $s"
done
for s in "${rest[@]}"; do
	grep -q "^| $s | " "$out/rest/summary.md" || fail "$out/rest/summary.md has no row for $s"
done
info "summaries: $out/full/summary.md, $out/rest/summary.md"
