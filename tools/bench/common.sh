# Shared by tools/bench/run (host) and tools/bench/guest (VM): the
# schedulers, scenarios and workloads of the benchmark.
# shellcheck shell=bash disable=SC2034 # the variables are used by the sourcing scripts

BENCH_REPO=${BENCH_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# ufqctl and the policy objects: those 'make build' made, unless the
# environment names others (a snapshot, so that a long run is not hit by a
# rebuild in the middle; tools/bench/run passes both on to the VM).
BENCH_UFQCTL=${BENCH_UFQCTL:-$BENCH_REPO/build/host/bin/ufqctl}
BENCH_POLICY_OBJS=${BENCH_POLICY_OBJS:-$BENCH_REPO/build/host/policies}

BENCH_INKERNEL=(none mq-deadline kyber bfq)
BENCH_SCENARIOS=(overhead contention mixed tenants ssd-contention ssd-mixed ssd-tenants)

# The contention/tenants device: a device-bound null_blk, ~4000 IOPS at most.
BENCH_SLOW_DEPTH=4
BENCH_SLOW_COMPLETION_NS=1000000
BENCH_SLOW_PARAMS="size=1024 irqmode=2 completion_nsec=$BENCH_SLOW_COMPLETION_NS hw_queue_depth=$BENCH_SLOW_DEPTH submit_queues=1"
# The overhead device: null_blk defaults (completes at once, in softirq).
BENCH_FAST_PARAMS="size=1024 submit_queues=2"
# The ssd-* scenarios' device: ssdsim (tools/ssdsim/, docs/ssdsim.md) with this
# profile. Its nominal capacity is the model's own prediction for the
# calibration job (4k random reads at QD16).
BENCH_SSD_PROFILE=nvme
BENCH_SSDSIM=$BENCH_REPO/build/host/bin/ssdsim
# io.latency target of the latency-critical tenant, microseconds.
BENCH_IOLAT_TARGET_US=2000
# The latency target of the qos and io.cost variants: this factor times
# the latency-critical reader's p99 when it runs alone on the device
# (measured in every repetition): a target the device can meet, with room
# for the best-effort tenants.
BENCH_SLO_FACTOR=1.5
# io.cost.qos min and max (%): how far io.cost may scale its model's rate.
BENCH_IOCOST_MIN=50
BENCH_IOCOST_MAX=150

# Overhead workloads: NAME and fio arguments; the quick mode runs the
# ones marked quick=1.
BENCH_OVERHEAD_JOBS=(
	"randread-4k-qd32|1|--rw=randread --bs=4k --iodepth=32"
	"randwrite-4k-qd32|0|--rw=randwrite --bs=4k --iodepth=32"
	"seqread-128k-qd8|0|--rw=read --bs=128k --iodepth=8"
	"seqwrite-128k-qd8|0|--rw=write --bs=128k --iodepth=8"
	"randrw70-4k-qd8|1|--rw=randrw --rwmixread=70 --bs=4k --iodepth=8 --unified_rw_reporting=mixed"
)

# The mixed scenarios' jobs, run together on a device-bound device: NAME
# and fio arguments. Sequential streams whose requests a scheduler can
# merge or batch (a 4k reader at QD16, a 16k writer at QD8) beside a
# random 4k reader at QD4, each in its own 128 MiB region (the ssdsim
# device has 512 MiB): what is compared is the total throughput (bytes),
# which a scheduler raises by serving the streams in order and lowers by
# breaking them up.
BENCH_MIXED_JOBS=(
	"seqread-4k-qd16|--rw=read --bs=4k --iodepth=16 --offset=0 --size=128M"
	"randread-4k-qd4|--rw=randread --bs=4k --iodepth=4 --offset=128M --size=128M"
	"seqwrite-16k-qd8|--rw=write --bs=16k --iodepth=8 --offset=256M --size=128M"
)

# The policies worth benchmarking: built objects whose source is one of the
# repository's shipped policies (policies/*.bpf.c); test policies live
# elsewhere and are skipped.
bench_policies() {
	local src name
	for src in "$BENCH_REPO"/policies/*.bpf.c; do
		[ -e "$src" ] || continue
		name=$(basename "$src" .bpf.c)
		[ -f "$BENCH_POLICY_OBJS/$name.bpf.o" ] && echo "$name"
	done
}

# The default scheduler list, one per line: the in-kernel ones, ufq without
# a policy, and ufq:POLICY for each shipped policy (when ufqctl is built).
bench_default_scheds() {
	printf '%s\n' "${BENCH_INKERNEL[@]}" ufq
	[ -x "$BENCH_UFQCTL" ] || return 0
	bench_policies | sed 's/^/ufq:/'
}

# bench_check_sched NAME: empty output when NAME is a scheduler the
# benchmark knows, otherwise the reason why not.
bench_check_sched() {
	case "$1" in
	none | mq-deadline | kyber | bfq | ufq) ;;
	ufq:*)
		# The list is captured first: "bench_policies | grep -q" would fail
		# under pipefail when grep exits before the list is written.
		local have
		have=$(bench_policies)
		if [ ! -x "$BENCH_UFQCTL" ]; then
			echo "$1: ufqctl is not built ($BENCH_UFQCTL)"
		elif ! grep -qx -- "${1#ufq:}" <<<"$have"; then
			echo "$1: no policy '${1#ufq:}' (shipped and built: ${have//$'\n'/, })"
		fi
		;;
	*) echo "'$1': unknown scheduler (none, mq-deadline, kyber, bfq, ufq, ufq:POLICY)" ;;
	esac
}

# The default scenarios, one per line: all of them, the ssd-* ones only when
# ssdsim is built.
bench_default_scenarios() {
	local s
	for s in "${BENCH_SCENARIOS[@]}"; do
		[[ $s == ssd-* ]] && [ ! -x "$BENCH_SSDSIM" ] && continue
		echo "$s"
	done
}

bench_check_scenario() {
	case "$1" in
	overhead | contention | mixed | tenants) ;;
	ssd-contention | ssd-mixed | ssd-tenants)
		[ -x "$BENCH_SSDSIM" ] || echo "$1: ssdsim is not built ($BENCH_SSDSIM)" ;;
	*) echo "'$1': unknown scenario (overhead, contention, mixed, tenants, ssd-contention, ssd-mixed, ssd-tenants)" ;;
	esac
}

# bench_check_unique WHAT ITEM...: empty output when no ITEM is repeated.
bench_check_unique() {
	local what=$1 dup
	shift
	dup=$(printf '%s\n' "$@" | sort | uniq -d | head -1)
	[ -z "$dup" ] || echo "$what: '$dup' is given twice"
}

# A python3 with the standard library (and, on the host, matplotlib):
# Debian's, not whatever a version manager puts first in PATH.
bench_python() {
	local p
	for p in /usr/bin/python3 "$(command -v python3 2>/dev/null)"; do
		[ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}
