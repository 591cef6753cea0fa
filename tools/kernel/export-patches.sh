#!/usr/bin/env bash
# Regenerate kernel-patches/ from the commits in build/linux since the base
# (git format-patch), so that the series in the repo matches the tree.
#
# The cover letter, 0000-cover-letter.patch, is made from
# kernel-patches/cover-letter.txt (its first line the subject, then the
# text), with the shortlog and diffstat git adds; it is not part of
# kernel-patches/series, so it changes no kernel build.
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
cover="$PATCH_DIR/cover-letter.txt"
[ -f "$cover" ] || die "kernel-patches/cover-letter.txt is missing (the cover letter's subject and text)"
branch=$(git -C "$KERNEL_TREE" symbolic-ref --short HEAD) ||
	die "build/linux is not on a branch; check out the series' branch first"

rm -f "$PATCH_DIR"/*.patch
# The branch description is where git format-patch takes a cover letter's
# subject and text from.
git -C "$KERNEL_TREE" -c "branch.$branch.description=$(cat "$cover")" \
	format-patch -q --no-signature --zero-commit --numbered \
	--cover-letter --cover-from-description=subject \
	-o "$PATCH_DIR" "$KERNEL_BASE_TAG..HEAD"
# The cover letter's date is the series' (the last commit's), not the
# export's, so that exporting an unchanged series changes no file.
sed -i "s/^Date: .*/Date: $(git -C "$KERNEL_TREE" log -1 --format=%aD)/" \
	"$PATCH_DIR/0000-cover-letter.patch"
(cd "$PATCH_DIR" && ls -1 ./*.patch | sed 's|^\./||' | grep -vx '0000-cover-letter.patch') >"$PATCH_DIR/series"
tree_stamp
log "exported $(grep -c . "$PATCH_DIR/series") patches and a cover letter to kernel-patches/"
