#!/usr/bin/env bash
# tools/vm/accel's decision, without needing a broken (or a working) KVM: a
# stand-in KVM device and probe commands that pass, fail or hang on purpose.
# Run by ctest (tests/unit/CMakeLists.txt).
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
accel=$repo/tools/vm/accel
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

export UFQ_CACHE_DIR=$tmp/cache UFQ_KVM_DEV=$tmp/kvm
printf 'kernel one' >"$tmp/bzImage"
printf 'kernel two' >"$tmp/bzImage2"
: >"$UFQ_KVM_DEV"
# The probe stand-in counts its runs, so that caching can be checked.
cat >"$tmp/probe" <<'EOF'
#!/usr/bin/env bash
echo run >>"$PROBE_RUNS"
case "$PROBE_DOES" in
pass) exit 0 ;;
fail) echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2; exit 134 ;;
hang) exec sleep 60 ;;
esac
EOF
chmod +x "$tmp/probe"
export PROBE_RUNS=$tmp/runs UFQ_VM_KVM_PROBE=$tmp/probe

check() { # NAME EXPECTED_STATUS EXPECTED_STDOUT STDERR_PATTERN EXPECTED_PROBE_RUNS -- ARGS
	local name=$1 want_rc=$2 want_out=$3 pattern=$4 want_runs=$5 out err rc runs
	shift 6
	: >"$PROBE_RUNS"
	rc=0
	out=$("$accel" --kernel "$tmp/bzImage" "$@" 2>"$tmp/err") || rc=$?
	err=$(cat "$tmp/err")
	runs=$(wc -l <"$PROBE_RUNS")
	local why=""
	[ "$rc" = "$want_rc" ] || why+=" status $rc (want $want_rc);"
	[ "$out" = "$want_out" ] || why+=" stdout '$out' (want '$want_out');"
	[ "$runs" = "$want_runs" ] || why+=" probe ran $runs times (want $want_runs);"
	if [ -n "$pattern" ]; then
		grep -qE -- "$pattern" <<<"$err" || why+=" stderr '$err' lacks /$pattern/;"
		[ "$(wc -l <<<"$err")" = 1 ] || why+=" stderr has more than one line: '$err';"
	else
		[ -z "$err" ] || why+=" unexpected stderr '$err';"
	fi
	if [ -n "$why" ]; then
		echo "FAIL $name:$why"
		failures=$((failures + 1))
	else
		echo "ok   $name"
	fi
}

PROBE_DOES=pass UFQ_VM_ACCEL=tcg check "tcg asked: no probe" 0 tcg "" 0 --
PROBE_DOES=fail check "probe fails: auto chooses tcg and says why" \
	0 tcg '^vm: using TCG .*failed to set MSR' 1 --
PROBE_DOES=pass check "a failed verdict is cached" 0 tcg 'failed to set MSR.*cached' 0 --
PROBE_DOES=pass UFQ_VM_ACCEL=kvm check "kvm asked, cached failure: one-line error" \
	1 "" '^vm: UFQ_VM_ACCEL=kvm, but KVM cannot run the guest here: .*MSR' 0 --
PROBE_DOES=pass check "--forget probes again" 0 kvm "" 1 -- --forget
PROBE_DOES=fail check "a passing verdict is cached" 0 kvm "" 0 --
PROBE_DOES=pass UFQ_VM_ACCEL=kvm check "kvm asked and working" 0 kvm "" 0 --
PROBE_DOES=fail UFQ_VM_ACCEL=kvm check "kvm asked, probe fails: error" \
	1 "" '^vm: UFQ_VM_ACCEL=kvm, but .*MSR' 1 -- --forget

# A hanging guest costs the time limit, never more.
start=$(date +%s)
PROBE_DOES=hang UFQ_VM_PROBE_TIMEOUT=1 UFQ_VM_ACCEL=kvm check "kvm asked, guest hangs: error" \
	1 "" 'did not reach init within 1s' 1 -- --forget
[ $(($(date +%s) - start)) -lt 10 ] || { echo "FAIL a hanging probe was not stopped in time"; failures=$((failures + 1)); }
PROBE_DOES=hang UFQ_VM_PROBE_TIMEOUT=1 check "guest hangs: auto chooses tcg" \
	0 tcg 'did not reach init within 1s' 1 -- --forget

# Verdicts are per kernel: another kernel is probed on its own.
: >"$PROBE_RUNS"
out=$(PROBE_DOES=pass "$accel" --kernel "$tmp/bzImage2" 2>/dev/null)
if [ "$out" != kvm ] || [ "$(wc -l <"$PROBE_RUNS")" != 1 ]; then
	echo "FAIL another kernel gets its own probe (got '$out', $(wc -l <"$PROBE_RUNS") runs)"
	failures=$((failures + 1))
else
	echo "ok   another kernel gets its own probe"
fi

rm -f "$UFQ_KVM_DEV"
PROBE_DOES=pass check "no KVM device: tcg without a probe" 0 tcg 'kvm does not exist' 0 -- --forget
PROBE_DOES=pass UFQ_VM_ACCEL=kvm check "kvm asked, no KVM device: error" \
	1 "" '^vm: UFQ_VM_ACCEL=kvm, but .*does not exist' 0 --
PROBE_DOES=pass UFQ_VM_ACCEL=fast check "a bad UFQ_VM_ACCEL is refused" \
	2 "" 'must be auto, kvm or tcg' 0 --

[ "$failures" -eq 0 ] || { echo "$failures checks failed"; exit 1; }
echo "all checks passed"
