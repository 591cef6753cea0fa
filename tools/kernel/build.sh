#!/usr/bin/env bash
# Build the ufq VM kernel: Debian's linux-source-6.12 plus kernel-patches/,
# configured from tinyconfig plus kernel-patches/config/*.config.
#
# Usage: tools/kernel/build.sh [default|debug|kasan]
#
# The result (bzImage, vmlinux.h, .config) is cached under
# $UFQ_CACHE_DIR/kernel/<variant>-<key>, where the key hashes the source
# version, the patch series, the config fragments and this script. A cache
# hit costs a few seconds; a miss rebuilds in build/ with ccache (whose cache
# also lives under $UFQ_CACHE_DIR). The last line printed is the directory.
set -euo pipefail

variant=${1:-default}
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/versions.sh
. "$repo/tools/versions.sh"
# shellcheck source=tools/kernel/lib.sh
. "$repo/tools/kernel/lib.sh"

case "$variant" in
default) fragments=(ufq.config) ;;
debug) fragments=(ufq.config debug.config) ;;
kasan) fragments=(ufq.config debug.config kasan.config) ;;
*) die "unknown kernel variant '$variant' (expected default, debug or kasan)" ;;
esac

key=$(kernel_cache_key "${fragments[@]}")
out="$UFQ_CACHE_DIR/kernel/$variant-$key"
cached() {
	[ -f "$out/complete" ] || return 1
	touch "$out/complete"
	log "kernel $variant cached: $out"
	echo "$out"
}
cached && exit 0

# Every variant builds in the one kernel tree: one build at a time. A
# second caller waits, then usually finds the kernel cached.
mkdir -p "$UFQ_CACHE_DIR/kernel"
exec 9>"$UFQ_CACHE_DIR/kernel/build.lock"
if ! flock -n 9; then
	log "waiting for another kernel build to finish"
	flock 9
fi
cached && exit 0

kernel_tree_sync
objdir="$repo/build/kbuild-$variant"
mkdir -p "$objdir"
kernel_ccache_env "$repo/build"
KBUILD_BUILD_TIMESTAMP=$(git -C "$KERNEL_TREE" log -1 --format=%cd)
export KBUILD_BUILD_TIMESTAMP
kmake=(make -C "$KERNEL_TREE" O="$objdir" CC="ccache gcc" -j"$(($(nproc) + 1))")

log "configuring kernel ($variant): tinyconfig + ${fragments[*]}"
"${kmake[@]}" -s tinyconfig >/dev/null
frag_paths=()
for f in "${fragments[@]}"; do frag_paths+=("$repo/kernel-patches/config/$f"); done
(cd "$objdir" && "$KERNEL_TREE/scripts/kconfig/merge_config.sh" -m -O "$objdir" \
	"$objdir/.config" "${frag_paths[@]}" >/dev/null)
"${kmake[@]}" -s olddefconfig >/dev/null
# Every option a fragment sets must have survived olddefconfig, or the
# fragment asks for something this kernel cannot give.
missing=$(cat "${frag_paths[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=' | while read -r line; do
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -q "^$opt=" "$objdir/.config" && echo "$line"
	else
		grep -qx "$line" "$objdir/.config" || echo "$line"
	fi
done || true)
[ -z "$missing" ] || die "kernel config options did not take effect (unmet dependencies?): ${missing//$'\n'/ }"

log "building bzImage ($variant); from scratch this takes about 10 minutes"
start=$(date +%s)
if ! "${kmake[@]}" bzImage >"$objdir/build.log" 2>&1; then
	grep -E 'error|Error' "$objdir/build.log" | head -20 >&2
	die "kernel build failed; full log: $objdir/build.log"
fi
log "kernel built in $(($(date +%s) - start)) s"

tmp="$out.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
cp "$objdir/arch/x86/boot/bzImage" "$objdir/.config" "$tmp/"
bpftool btf dump file "$objdir/vmlinux" format c >"$tmp/vmlinux.h"
git -C "$KERNEL_TREE" log --oneline "$KERNEL_BASE_TAG..HEAD" >"$tmp/patches.txt"
touch "$tmp/complete"
rm -rf "$out"
mv "$tmp" "$out"
kernel_cache_prune "$variant"
echo "$out"
