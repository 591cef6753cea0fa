#pragma once

#include <filesystem>

namespace ufq {

// Every ufqctl command changes or reads root-only state (bpffs pins, BPF maps, elevators).
// Throws ufq::Error with advice when the process is not root.
void require_root();

// Throws ufq::Error unless the running kernel has the ufq scheduler: struct ufq_ops in its BTF,
// read from `vmlinux_btf`.
void require_ufq_kernel(const std::filesystem::path& vmlinux_btf = "/sys/kernel/btf/vmlinux");

} // namespace ufq
