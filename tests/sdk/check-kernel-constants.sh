#!/usr/bin/env bash
# The SDK's copies of kernel constants against the kernel they describe, so
# that they cannot drift apart: UFQ_RQ_* (include/ufq/rq_flags.h) and
# UFQ_NR_QUEUES (bpf/ufq.bpf.h) against include/uapi/linux/ufq.h and
# block/ufq.h as kernel-patches/series leaves them (rebuilt here from the patches alone, so a fresh clone needs no
# kernel tree), against the vmlinux.h of the built kernel when given, and
# the flag list of docs/ufq-formats.md against the SDK.
#
# Usage: check-kernel-constants.sh REPO [VMLINUX_H]
set -euo pipefail
repo=$1 vmlinux=${2:-}
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The two headers are created by the series and changed by later patches:
# applying just their hunks, in order, to an empty directory gives their text.
(
	cd "$tmp"
	grep -vE '^\s*(#|$)' "$repo/kernel-patches/series" | while read -r p; do
		git apply --include=block/ufq.h --include=include/uapi/linux/ufq.h \
			"$repo/kernel-patches/$p"
	done
)
kernel_h=$tmp/block/ufq.h uapi_h=$tmp/include/uapi/linux/ufq.h
for h in "$kernel_h" "$uapi_h"; do
	[ -s "$h" ] || { echo "FAIL: kernel-patches/ do not create ${h#"$tmp"/}" >&2; exit 1; }
done

# "NAME VALUE" lines, sorted, values in decimal.
sdk_flags() {
	sed -nE 's/^[[:space:]]*X\(([A-Z_]+), (0x[0-9a-fA-F]+)\).*/UFQ_RQ_\1 \2/p' \
		"$repo/include/ufq/rq_flags.h" | while read -r n v; do echo "$n $((v))"; done | sort
}
kernel_flags() { # enum ufq_rq_flags in the uapi header: "UFQ_RQ_X = 1ULL << n,"
	sed -n '/^enum ufq_rq_flags {/,/^};/p' "$uapi_h" |
		sed -nE 's/^[[:space:]]*(UFQ_RQ_[A-Z_]+)[[:space:]]*=[[:space:]]*1ULL << ([0-9]+),?.*/\1 \2/p' |
		while read -r n s; do echo "$n $((1 << s))"; done | sort
}
btf_flags() { # enum ufq_rq_flags in vmlinux.h: "UFQ_RQ_X = 1,"
	sed -n '/^enum ufq_rq_flags {/,/^};/p' "$1" |
		sed -nE 's/^[[:space:]]*(UFQ_RQ_[A-Z_]+) = ([0-9]+),?/\1 \2/p' | sort
}

sdk=$(sdk_flags)
[ "$(wc -l <<<"$sdk")" -ge 7 ] || fail "found only $(wc -l <<<"$sdk") flags in include/ufq/rq_flags.h"
kernel=$(kernel_flags)
[ -n "$kernel" ] || fail "no enum ufq_rq_flags in include/uapi/linux/ufq.h of kernel-patches/"
[ "$sdk" = "$kernel" ] || fail "UFQ_RQ_* differ between the SDK (<) and kernel-patches/ include/uapi/linux/ufq.h (>):
$(diff <(echo "$sdk") <(echo "$kernel"))"
if [ -n "$vmlinux" ]; then
	btf=$(btf_flags "$vmlinux")
	[ "$sdk" = "$btf" ] || fail "UFQ_RQ_* differ between the SDK (<) and $vmlinux (>):
$(diff <(echo "$sdk") <(echo "$btf"))"
fi

sdk_q=$(sed -nE 's/^#define UFQ_NR_QUEUES ([0-9]+)$/\1/p' "$repo/bpf/ufq.bpf.h")
kernel_q=$(sed -nE 's/^#define UFQ_NR_QUEUES[[:space:]]+([0-9]+)$/\1/p' "$kernel_h")
[ -n "$sdk_q" ] && [ "$sdk_q" = "$kernel_q" ] ||
	fail "UFQ_NR_QUEUES is '$sdk_q' in bpf/ufq.bpf.h, '$kernel_q' in the kernel"

# docs/ufq-formats.md: "write 0x1, sync 0x2, ..." in the trace table.
docs=$(grep -E '^\| `flags` \|' "$repo/docs/ufq-formats.md" |
	grep -oE '[a-z]+ 0x[0-9a-f]+' | while read -r n v; do
		echo "UFQ_RQ_${n^^} $((v))"
	done | sort)
[ "$sdk" = "$docs" ] || fail "the flags of docs/ufq-formats.md (>) are not the SDK's (<):
$(diff <(echo "$sdk") <(echo "$docs"))"

[ "$fails" -eq 0 ] || exit 1
echo "SDK constants match the kernel: $(tr '\n' ' ' <<<"$sdk")UFQ_NR_QUEUES $sdk_q"
