#!/usr/bin/env bash
# Install everything ufq needs on Debian 12 (bookworm). Idempotent: when every
# package is already present it returns without touching apt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools/versions.sh
. "$here/versions.sh"

bookworm_pkgs=(
	build-essential git make cmake pkg-config ccache bc bison flex cpio
	rsync xz-utils kmod udev file dwarves libelf-dev libssl-dev zlib1g-dev
	clang llvm qemu-system-x86 fio jq liburing-dev
	libgtest-dev libgmock-dev libspdlog-dev libfmt-dev libcli11-dev
	nlohmann-json3-dev python3-matplotlib python3-ply shellcheck sg3-utils
	python3-argcomplete python3-pkg-resources python3-requests
)
backports_pkgs=(libbpf-dev/bookworm-backports bpftool/bookworm-backports)

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: installing packages needs root; run 'sudo make deps'" >&2
		exit 1
	fi
}

missing=()
for p in "${bookworm_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
# libbpf must be >= 1.4 (struct_ops links); bookworm's own 1.1 is too old.
libbpf_ver=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || true)
if [ -z "$libbpf_ver" ] || dpkg --compare-versions "$libbpf_ver" lt 1:1.4; then
	missing+=("${backports_pkgs[@]}")
fi
command -v bpftool >/dev/null 2>&1 || missing+=(bpftool/bookworm-backports)
# ssdsim's ublk server needs the ioctl-encoded ublk commands (UBLK_U_CMD_*) of
# the 6.12 uapi headers; bookworm's own linux-libc-dev (6.1) lacks them.
grep -qs UBLK_U_CMD_ADD_DEV /usr/include/linux/ublk_cmd.h ||
	missing+=(linux-libc-dev/bookworm-backports)
command -v vng >/dev/null 2>&1 || missing+=(virtme-ng)
linux_src_ok=no
[ -f "$UFQ_LINUX_SRC_TARBALL" ] &&
	dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null | grep -q . &&
	linux_src_ok=yes
[ "$linux_src_ok" = yes ] || missing+=(linux-source-6.12)

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
need_root
echo "deps: installing: ${missing[*]}"

# bookworm-backports and bookworm-security come from the archive this
# machine already uses; keep the same URI and keyring.
src=/etc/apt/sources.list.d/debian.sources
uri=$(awk '/^URIs:/ { print $2; exit }' "$src" 2>/dev/null || true)
uri=${uri:-http://deb.debian.org/debian}
keyring=$(awk '/^Signed-By:/ { print $2; exit }' "$src" 2>/dev/null || true)
keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
bpo=/etc/apt/sources.list.d/ufq-backports.sources
if [ ! -f "$bpo" ]; then
	cat >"$bpo" <<EOS
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: $keyring
EOS
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${bookworm_pkgs[@]}" >/dev/null
apt-get install -y -qq --no-install-recommends -t bookworm-backports \
	libbpf-dev bpftool linux-libc-dev >/dev/null

# The kernel source: the pinned version when the archive still has it,
# otherwise the newest 6.12 it offers (the cache key records which).
if ! apt-get install -y -qq --no-install-recommends \
	"linux-source-6.12=$UFQ_LINUX_SRC_VERSION" >/dev/null 2>&1; then
	echo "deps: linux-source-6.12 $UFQ_LINUX_SRC_VERSION is gone from the archive; using the newest 6.12" >&2
	apt-get install -y -qq --no-install-recommends linux-source-6.12 >/dev/null
fi

# virtme-ng is architecture-independent and only packaged from trixie on:
# fetch that single .deb with a private package list so that trixie never
# becomes an install source for this bookworm system.
if ! command -v vng >/dev/null 2>&1; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/lists/partial" "$tmp/deb"
	echo "deb [signed-by=$keyring] $uri trixie main" >"$tmp/trixie.list"
	aptopt=(-o "APT::Sandbox::User=root" -o "Dir::State::Lists=$tmp/lists" -o "Dir::Etc::sourcelist=$tmp/trixie.list"
		-o "Dir::Etc::sourceparts=-" -o "APT::Get::List-Cleanup=0")
	apt-get "${aptopt[@]}" update -qq
	(cd "$tmp/deb" && apt-get "${aptopt[@]}" download -qq virtme-ng)
	dpkg -i "$tmp"/deb/virtme-ng_*.deb >/dev/null
fi
echo "deps: done"
