# Shared by the kernel scripts: where the tree and the cache live, how the
# cache key is made, and how the tree is kept in step with kernel-patches/.
# shellcheck shell=bash

UFQ_CACHE_DIR=${UFQ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ufq}
KERNEL_TREE="$repo/build/linux"
KERNEL_BASE_TAG=ufq-base
PATCH_DIR="$repo/kernel-patches"
STAMP="$KERNEL_TREE/.git/ufq-series"

log() { printf 'kernel: %s\n' "$*" >&2; }
die() {
	printf 'kernel: error: %s\n' "$*" >&2
	exit 1
}

series_patches() {
	[ -f "$PATCH_DIR/series" ] || return 0
	grep -vE '^\s*(#|$)' "$PATCH_DIR/series" | while read -r p; do
		[ -f "$PATCH_DIR/$p" ] || die "kernel-patches/series names $p, which does not exist"
		echo "$PATCH_DIR/$p"
	done
}

source_version() {
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null ||
		die "linux-source-6.12 is not installed; run 'make deps'"
}

series_hash() {
	{
		source_version
		series_patches | while read -r p; do cat "$p"; done
	} | sha256sum | cut -c1-16
}

# Key of a kernel build: source, patches, config fragments and the recipe.
kernel_cache_key() {
	{
		series_hash
		for f in "$@"; do cat "$PATCH_DIR/config/$f"; done
		cat "$repo/tools/kernel/build.sh" "$repo/tools/kernel/lib.sh"
		gcc --version | head -1
	} | sha256sum | cut -c1-16
}

# ccache for kernel builds in directories under $1, and build metadata
# that does not change from build to build, so that unchanged objects hit.
kernel_ccache_env() {
	mkdir -p "$UFQ_CACHE_DIR/ccache"
	export CCACHE_DIR="$UFQ_CACHE_DIR/ccache"
	export CCACHE_BASEDIR="$1"
	export CCACHE_NOHASHDIR=true
	export CCACHE_SLOPPINESS=time_macros,include_file_mtime,include_file_ctime
	export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
	export KBUILD_BUILD_USER=ufq KBUILD_BUILD_HOST=ufq
}

kernel_cache_prune() {
	# Keep the four most recently used builds of a variant.
	# shellcheck disable=SC2012
	ls -1dt "$UFQ_CACHE_DIR/kernel/$1"-* 2>/dev/null | grep -v '\.tmp\.' |
		tail -n +5 | xargs -r rm -rf
}

tree_unpack() {
	local version
	version=$(source_version)
	[ -f "$UFQ_LINUX_SRC_TARBALL" ] || die "$UFQ_LINUX_SRC_TARBALL is missing; run 'make deps'"
	log "unpacking linux-source-6.12 $version into build/linux"
	rm -rf "$KERNEL_TREE" "$KERNEL_TREE.tmp"
	mkdir -p "$KERNEL_TREE.tmp"
	tar -C "$KERNEL_TREE.tmp" --strip-components=1 -xf "$UFQ_LINUX_SRC_TARBALL"
	mv "$KERNEL_TREE.tmp" "$KERNEL_TREE"
	# Debian's .gitignore ignores every top-level entry; drop that block
	# so that new files in the tree show up in git status.
	sed -i '/^# Debian packaging/,$d' "$KERNEL_TREE/.gitignore"
	sed -i '${/^#$/d}' "$KERNEL_TREE/.gitignore"
	(
		cd "$KERNEL_TREE"
		git init -q -b ufq
		git config user.name "ufq developers"
		git config user.email "ufq@localhost"
		git add -A
		git commit -q -m "Linux $version (Debian linux-source-6.12)"
		git tag "$KERNEL_BASE_TAG"
	)
	echo "none" >"$STAMP"
}

tree_apply_series() {
	local p
	git -C "$KERNEL_TREE" reset -q --hard "$KERNEL_BASE_TAG"
	for p in $(series_patches); do
		git -C "$KERNEL_TREE" am -q --keep-cr "$p" ||
			die "patch $(basename "$p") does not apply; see 'git -C build/linux am --show-current-patch'"
	done
	tree_stamp
}

tree_stamp() {
	echo "$(series_hash) $(git -C "$KERNEL_TREE" rev-parse HEAD)" >"$STAMP"
}

# Make build/linux hold exactly base + kernel-patches/series. Refuses to
# throw away work: edits or commits in the tree that were not exported with
# 'make kernel-patches' stop the build with a message saying so.
kernel_tree_sync() {
	local want have_series have_head
	want=$(series_hash)
	if [ ! -d "$KERNEL_TREE/.git" ] ||
		! git -C "$KERNEL_TREE" rev-parse -q --verify "$KERNEL_BASE_TAG" >/dev/null ||
		! git -C "$KERNEL_TREE" log -1 --format=%s "$KERNEL_BASE_TAG" | grep -qF "$(source_version)"; then
		tree_unpack
		tree_apply_series
		return
	fi
	read -r have_series have_head <"$STAMP" || true
	if [ -n "$(git -C "$KERNEL_TREE" status --porcelain -- block include kernel Documentation)" ]; then
		die "build/linux has uncommitted changes: commit them there and run 'make kernel-patches' (or discard them)"
	fi
	if [ "$(git -C "$KERNEL_TREE" rev-parse HEAD)" != "${have_head:-}" ]; then
		if [ "$have_series" = "$want" ]; then
			die "build/linux has commits that are not in kernel-patches/: run 'make kernel-patches' first"
		fi
		die "build/linux and kernel-patches/ both changed: export or drop the tree's commits, then retry"
	fi
	if [ "$have_series" != "$want" ]; then
		log "kernel-patches/ changed: re-applying the series to build/linux"
		tree_apply_series
	fi
}
