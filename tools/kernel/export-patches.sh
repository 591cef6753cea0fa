#!/usr/bin/env bash
# Regenerate kernel-patches/ from the commits in build/linux since the base
# (git format-patch), so that the series in the repo matches the tree.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tools/versions.sh
. "$repo/tools/versions.sh"
# shellcheck source=tools/kernel/lib.sh
. "$repo/tools/kernel/lib.sh"

[ -d "$KERNEL_TREE/.git" ] || die "no kernel tree in build/linux; run 'make kernel' first"
if [ -n "$(git -C "$KERNEL_TREE" status --porcelain -- block include kernel Documentation)" ]; then
	die "build/linux has uncommitted changes; commit them in the tree first"
fi
rm -f "$PATCH_DIR"/*.patch
git -C "$KERNEL_TREE" format-patch -q --no-signature --zero-commit \
	--no-numbered -o "$PATCH_DIR" "$KERNEL_BASE_TAG..HEAD"
(cd "$PATCH_DIR" && ls -1 ./*.patch 2>/dev/null | sed 's|^\./||') >"$PATCH_DIR/series"
tree_stamp
log "exported $(grep -c . "$PATCH_DIR/series") patches to kernel-patches/"
