#!/usr/bin/env bash
# The SDK as a policy author outside this repository gets it: `make
# install-sdk` into a staging DESTDIR, then
#  - examples/ioprio, copied elsewhere, builds with its own Makefile
#    against the staged SDK (pkg-config), and is a policy ufqctl can read;
#  - a policy of two files, compiled one by one with the documented flags
#    and linked by bpftool gen object, has each SDK map once;
#  - UFQ_TUNABLE and UFQ_RANGE with arguments ufqctl cannot read fail to
#    compile, with the SDK's message.
#
# Usage: install-and-build.sh REPO HOSTBUILD
set -euo pipefail
repo=$1 hostbuild=$2
[ -f "$hostbuild/vmlinux/vmlinux.h" ] || { echo "SKIP: no vmlinux.h (BPF policies not built)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

stage=$tmp/stage
make -C "$repo" --no-print-directory install-sdk DESTDIR="$stage" HOSTBUILD="$hostbuild"
for f in ufq.bpf.h ufq_stats.bpf.h ufq_class_stats.bpf.h ufq_pred_stats.bpf.h btf_tags.h ioprio.h \
	rq_flags.h latency.h model.h pred_error.h read_reserve.h trace.h types.h vmlinux/vmlinux.h; do
	[ -f "$stage/usr/include/ufq/$f" ] || fail "make install-sdk did not install include/ufq/$f"
done
export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_PATH=$stage/usr/share/pkgconfig
cflags=$(pkg-config --cflags ufq) || fail "pkg-config finds no ufq in the staged SDK"
# Nothing of the repository on the include path: only the staged SDK.
case "$cflags" in *"$repo"*) fail "ufq.pc points into the repository: $cflags" ;; esac

# The example, as a user who copied it.
cp -r "$repo/examples/ioprio" "$tmp/ioprio"
rm -f "$tmp/ioprio/ioprio.bpf.o"
make -C "$tmp/ioprio" --no-print-directory
obj=$tmp/ioprio/ioprio.bpf.o
btf=$(bpftool btf dump file "$obj")
grep -q "VAR 'ioprio'" <<<"$btf" || fail "ioprio.bpf.o has no struct_ops variable ioprio"
for tag in default=250 default=2000 max=9000; do
	grep -q "DECL_TAG 'ufq:$tag'" <<<"$btf" || fail "ioprio.bpf.o lacks the tag ufq:$tag"
done
grep -q "VAR 'ufq_class_latency'" <<<"$btf" || fail "ioprio.bpf.o has no class histograms"

# Two files, one policy.
for f in a b; do
	clang $cflags -Wall -Werror -c "$repo/tests/sdk/two_files/$f.bpf.c" -o "$tmp/$f.o"
done
bpftool gen object "$tmp/two.bpf.o" "$tmp/a.o" "$tmp/b.o"
datasec=$(bpftool btf dump file "$tmp/two.bpf.o" | sed -n "/DATASEC '.maps'/,/^\[/p")
for m in ufq_latency ufq_trace_ctl ufq_trace ufq_pred_error; do
	n=$(grep -c "(VAR '$m')" <<<"$datasec" || true)
	[ "$n" = 1 ] || fail "the linked two-file policy has map $m $n times"
done
# libbpf opens it (bpftool gen skeleton opens the object to describe it).
bpftool gen skeleton "$tmp/two.bpf.o" name two >/dev/null ||
	fail "libbpf cannot open the linked two-file policy"

# Malformed tunables fail the build, and say why.
clang $cflags -Wall -Werror -DUFQ_BAD_CASE=0 -c "$repo/tests/sdk/bad_tunables/bad.bpf.c" -o "$tmp/good.o" ||
	fail "well-formed UFQ_TUNABLE arguments did not compile"
for bad in 1 2 3 4 5 6; do
	if err=$(clang $cflags -Wall -Werror -DUFQ_BAD_CASE=$bad -c "$repo/tests/sdk/bad_tunables/bad.bpf.c" \
		-o "$tmp/bad.o" 2>&1); then
		fail "malformed tunable case $bad compiled"
	fi
	grep -qE "static_assert failed \"UFQ_(TUNABLE|RANGE): " <<<"$err" ||
		fail "case $bad failed without the SDK's message: $(grep -m1 error: <<<"$err")"
	echo "case $bad refused: $(grep -m1 -oE 'UFQ_(TUNABLE|RANGE): [^"]*' <<<"$err")"
done
echo "SDK installed, example and two-file policy built, malformed tunables refused"
