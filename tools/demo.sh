#!/usr/bin/env bash
# make demo: boot the ufq kernel, put ufq and a BPF policy on the VM's NVMe
# device (nvme0n1) with the commands a user types, run fio through it
# and show what happened; then the ml policy's loop on an ssdsim device:
# trace, train, push, the model in bpftool, the prediction error, a live
# swap to lanes and back.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=$repo/build/vm-out/demo
mkdir -p "$out"
echo "demo: booting the ufq kernel in a VM (a few minutes without KVM)..."
rc=0
"$repo/tools/vm/run" --out "$out" --timeout 600 -- tools/vm/demo-guest \
	>"$out.console" 2>&1 || rc=$?
if [ -s "$out/output.txt" ]; then
	cat "$out/output.txt"
else
	cat "$out.console"
fi
[ "$rc" -eq 0 ] || echo "demo: the VM run failed (exit $rc); console log: $out.console" >&2
exit "$rc"
