#!/usr/bin/env bash
# Install the policy SDK: the BPF headers (bpf/), the plain-C headers they
# use (include/ufq/), the ufq kernel's vmlinux.h and the pkg-config file.
#
# Usage: tools/sdk/install.sh DESTDIR PREFIX VMLINUX_H
#
#   $DESTDIR$PREFIX/include/ufq/*.bpf.h, *.h   bpf/*.bpf.h and include/ufq/*.h
#   $DESTDIR$PREFIX/include/ufq/vmlinux/vmlinux.h
#   $DESTDIR$PREFIX/share/pkgconfig/ufq.pc
#
# Run by `make install` and `make install-sdk`; needs only a finished
# `make build` (for VMLINUX_H), not root, when DESTDIR is writable.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 DESTDIR PREFIX VMLINUX_H" >&2; exit 2; }
destdir=$1 prefix=$2 vmlinux=$3
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$vmlinux" ] || { echo "sdk: $vmlinux missing: run 'make build' first" >&2; exit 1; }

inc=$destdir$prefix/include/ufq
install -d "$inc/vmlinux" "$destdir$prefix/share/pkgconfig"
# One directory, as <ufq/...> (-I$prefix/include) for the plain-C headers
# and as "ufq.bpf.h" (-I$prefix/include/ufq) for the BPF ones; vmlinux.h in
# a directory of its own, so that a -I before these finds another one.
install -m 0644 "$repo"/bpf/*.bpf.h "$inc/"
install -m 0644 "$repo"/include/ufq/*.h "$inc/"
install -m 0644 "$vmlinux" "$inc/vmlinux/vmlinux.h"
version=$(sed -n 's/^project(ufq VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" "$repo/tools/sdk/ufq.pc.in" \
	>"$destdir$prefix/share/pkgconfig/ufq.pc"
chmod 0644 "$destdir$prefix/share/pkgconfig/ufq.pc"
