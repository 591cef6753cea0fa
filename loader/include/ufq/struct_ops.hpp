#pragma once

// The kernel side of a ufq_ops struct_ops map, for what libbpf's public API does not cover:
// filling a loaded map for bpf_link_update() (libbpf only does it inside
// bpf_map__attach_struct_ops(), which also registers the policy, and bpf_link__update_map(),
// which needs the struct bpf_link that attach made, not one from bpf_link__open()), and finding
// which policies are registered.

#include <filesystem>
#include <string>
#include <vector>

struct bpf_object;
struct bpf_map;

namespace ufq {

// Writes into the struct_ops map `map` of the loaded object `obj` the value the kernel expects
// (struct bpf_struct_ops_ufq_ops from the kernel's BTF at `vmlinux_btf`): the object's
// non-function members of struct ufq_ops copied by name, each callback as the fd of its loaded
// program. Afterwards the map can replace a running one with bpf_link_update(). A map filled
// before (the kernel answers EBUSY: its value is set once) is left as it is. Throws ufq::Error.
void fill_struct_ops_map(const bpf_object* obj, const bpf_map* map, const std::string& policy,
                         const std::filesystem::path& vmlinux_btf = "/sys/kernel/btf/vmlinux");

// Replaces the programs behind the struct_ops link `link_fd` (e.g. from bpf_obj_get() of a
// pinned link) with those of the ufq_ops map `map` of the loaded `obj`: fill_struct_ops_map,
// then bpf_link_update(). Throws ufq::Error with the kernel's answer.
void update_policy_link(int link_fd, const bpf_object* obj, const bpf_map* map,
                        const std::string& policy,
                        const std::filesystem::path& vmlinux_btf = "/sys/kernel/btf/vmlinux");

// The names of the ufq policies the kernel has registered: every struct_ops link whose map is a
// ufq_ops. Empty on a kernel without ufq. Throws ufq::Error if the kernel's objects cannot be
// listed.
[[nodiscard]] std::vector<std::string> kernel_registered_policies(
    const std::filesystem::path& vmlinux_btf);

} // namespace ufq
