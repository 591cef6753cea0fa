#!/usr/bin/env bash
# Check that the kernel series is bisectable: build every prefix of
# kernel-patches/series on top of ufq-base, in a scratch git worktree of
# build/linux and a scratch object directory, with the default kernel's
# configuration (tinyconfig + kernel-patches/config/ufq.config, as
# tools/kernel/build.sh makes it).
#
# Usage: tools/kernel/series-check.sh [--quick] [--patches DIR] [--out DIR]
#                                     [--config FILE] [--jobs N]
#
#   --quick        link bzImage only with the whole series; every prefix
#                  still builds block/ with W=1
#   --patches DIR  a directory with the patches and their 'series' file
#                  (default: kernel-patches/)
#   --out DIR      scratch directory for the worktree and the objects
#                  (default: $UFQ_SERIES_CHECK_DIR or /tmp/ufq-series-check);
#                  the objects are kept there so that a rerun is incremental
#   --config FILE  use this .config instead of building one, e.g.
#                  build/kernel-default/.config
#   --jobs N       parallel make jobs (default: the number of CPUs)
#
# For each patch, 'make W=1 block/' must succeed without a warning in a
# file the series has touched so far (other warnings are reported, not
# fatal), and, unless --quick, bzImage must link. The check stops at the
# first patch that fails and names it. One summary line is printed per
# patch; the build logs stay in the scratch directory. The worktree is
# removed on exit, whatever the outcome. build/linux itself is not touched.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/versions.sh
. "$repo/tools/versions.sh"
# shellcheck source=tools/kernel/lib.sh
. "$repo/tools/kernel/lib.sh"

quick=0
patches=$PATCH_DIR
out=${UFQ_SERIES_CHECK_DIR:-/tmp/ufq-series-check}
config=
jobs=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--patches) patches=${2:?--patches needs a directory}; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--config) config=${2:?--config needs a file}; shift ;;
	--jobs) jobs=${2:?--jobs needs a number}; shift ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift
done

patches=$(cd "$patches" && pwd) || die "no patch directory $patches"
[ -f "$patches/series" ] || die "$patches has no series file"
[ -z "$config" ] || [ -f "$config" ] || die "no config file $config"
[ -d "$KERNEL_TREE/.git" ] || die "build/linux is missing; run 'make kernel' once"
git -C "$KERNEL_TREE" rev-parse -q --verify "$KERNEL_BASE_TAG" >/dev/null ||
	die "build/linux has no $KERNEL_BASE_TAG tag"

list=()
while read -r p; do
	[ -f "$patches/$p" ] || die "$patches/series names $p, which does not exist"
	list+=("$p")
done < <(grep -vE '^\s*(#|$)' "$patches/series")
[ ${#list[@]} -gt 0 ] || die "$patches/series lists no patch"

mkdir -p "$out"
out=$(cd "$out" && pwd)
tree="$out/linux"
objdir="$out/kbuild"
logs="$out/logs"

cleanup() {
	if [ -d "$tree" ]; then
		git -C "$KERNEL_TREE" worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
	fi
	git -C "$KERNEL_TREE" worktree prune 2>/dev/null || true
}
trap cleanup EXIT
cleanup
mkdir -p "$objdir" "$logs"
rm -f "$logs"/*.log
git -C "$KERNEL_TREE" worktree add -q --detach "$tree" "$KERNEL_BASE_TAG"

kernel_ccache_env "$out"
kmake=(make -C "$tree" O="$objdir" CC="ccache gcc" -j"$jobs")

apply() {
	git -C "$tree" am -q --keep-cr "$patches/$1" >"$logs/am.log" 2>&1 || {
		git -C "$tree" am --abort >/dev/null 2>&1 || true
		return 1
	}
}

# The configuration of the whole series, made once: the fragments name
# options that only exist once the series is applied.
if [ -n "$config" ]; then
	cp "$config" "$out/config"
	log "series-check: using the configuration $config"
else
	log "series-check: making the default kernel's configuration (tinyconfig + ufq.config)"
	for p in "${list[@]}"; do
		apply "$p" || die "$p does not apply to $KERNEL_BASE_TAG plus the patches before it"
	done
	"${kmake[@]}" -s tinyconfig >/dev/null
	(cd "$objdir" && "$tree/scripts/kconfig/merge_config.sh" -m -O "$objdir" \
		"$objdir/.config" "$PATCH_DIR/config/ufq.config" >/dev/null)
	"${kmake[@]}" -s olddefconfig >/dev/null
	cp "$objdir/.config" "$out/config"
	git -C "$tree" reset -q --hard "$KERNEL_BASE_TAG"
fi

total=${#list[@]}
n=0
failed=
for p in "${list[@]}"; do
	n=$((n + 1))
	tag=$(printf '%02d/%02d %s' "$n" "$total" "$p")
	if ! apply "$p"; then
		printf 'FAIL %s: does not apply (%s)\n' "$tag" "$logs/am.log"
		failed=$p
		break
	fi
	cp "$out/config" "$objdir/.config"
	"${kmake[@]}" -s olddefconfig >/dev/null
	if [ -e "$tree/block/ufq-iosched.c" ] && ! grep -q '^CONFIG_IOSCHED_UFQ=y' "$objdir/.config"; then
		printf 'FAIL %s: CONFIG_IOSCHED_UFQ is not enabled by the configuration\n' "$tag"
		failed=$p
		break
	fi

	w1log="$logs/$(printf '%02d' "$n")-w1.log"
	if ! "${kmake[@]}" W=1 block/ >"$w1log" 2>&1; then
		printf 'FAIL %s: make W=1 block/ failed (%s)\n' "$tag" "$w1log"
		grep -E 'error' "$w1log" | head -10 >&2 || true
		failed=$p
		break
	fi
	# Warnings in files the series has touched so far fail the patch.
	touched=$(git -C "$tree" diff --name-only "$KERNEL_BASE_TAG" HEAD)
	warnings=$(grep -E '^[^ ]+:[0-9]+:[0-9]+: warning:' "$w1log" | sort -u || true)
	ours=$(printf '%s\n' "$warnings" | while read -r w; do
		[ -n "$w" ] || continue
		# Paths are absolute or relative to the object directory.
		f=$(cd "$objdir" && realpath -m --relative-to="$tree" "${w%%:*}")
		if printf '%s\n' "$touched" | grep -qxF "$f"; then echo "$w"; fi
	done)
	nw=$(printf '%s' "$warnings" | grep -c . || true)
	nours=$(printf '%s' "$ours" | grep -c . || true)
	if [ "$nours" -gt 0 ]; then
		printf 'FAIL %s: %d W=1 warning(s) in files of the series (%s)\n' "$tag" "$nours" "$w1log"
		printf '%s\n' "$ours" | head -20 >&2
		failed=$p
		break
	fi

	link="skipped (--quick)"
	if [ "$quick" = 0 ] || [ "$n" = "$total" ]; then
		bzlog="$logs/$(printf '%02d' "$n")-bzImage.log"
		start=$(date +%s)
		if ! "${kmake[@]}" bzImage >"$bzlog" 2>&1; then
			printf 'FAIL %s: bzImage does not build (%s)\n' "$tag" "$bzlog"
			grep -E 'error|Error' "$bzlog" | head -10 >&2 || true
			failed=$p
			break
		fi
		link="linked in $(($(date +%s) - start)) s"
	fi
	printf 'ok   %s: W=1 block/ clean (%d other warning(s)), bzImage %s\n' "$tag" "$((nw - nours))" "$link"
done

if [ -n "$failed" ]; then
	log "series-check: the series breaks at $failed ($n of $total); logs in $logs"
	exit 1
fi
log "series-check: all $total prefixes of $patches/series build; logs in $logs"
