# Pinned versions of what ufq is built and tested against. Sourced by scripts.
# shellcheck shell=bash
UFQ_LINUX_SRC_VERSION=6.12.117-1~deb12u1
UFQ_LINUX_SRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
