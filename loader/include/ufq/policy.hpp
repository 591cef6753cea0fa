#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ufq/device.hpp"
#include "ufq/sysfs_root.hpp"

namespace ufq {

// Where ufqctl keeps a loaded policy and what it asks the system. A policy's struct_ops link and
// maps are pinned under <bpffs>/ufq/<policy>/ so the policy outlives the command; what devices
// used before ufqctl bound them is recorded in <state>/devices.json so unload can restore it;
// locks and verifier logs live in <state> too. Tests point every member at fakes.
struct Paths {
    std::filesystem::path bpffs{"/sys/fs/bpf"};
    std::filesystem::path state{"/run/ufq"};
    SysfsRoot sys{};
    std::filesystem::path vmlinux_btf{"/sys/kernel/btf/vmlinux"};
    // The names of the ufq policies registered in the kernel; unset: ask the kernel (see
    // registered_policies).
    std::function<std::vector<std::string>()> registry{};

    [[nodiscard]] std::filesystem::path policy_dir(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path link_pin(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path maps_dir(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path policy_lock(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path verifier_log(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path devices_lock() const;
    [[nodiscard]] std::filesystem::path device_records() const;
};

// Throws ufq::Error unless `name` can be the name of a policy ufqctl manages: 1 to 15 letters,
// digits or '_', and not "none" (which means no policy). The kernel also allows '.', which
// bpffs does not allow in the pins named after the policy.
void check_policy_name(std::string_view name);

struct LoadedPolicy {
    std::string name;
    std::vector<BlockDevice> devices;
};

// Loads the BPF object at `object`, attaches its struct ufq_ops through a struct_ops link, pins
// link and maps, switches each device to the ufq elevator and binds it. On any failure
// everything done so far is undone (each device gets back its elevator, or the policy it was
// bound to) and ufq::Error is thrown; returns the policy as loaded.
// `assignments` ("KEY=VAL") set tunables (see ufq/tunables.hpp) before the policy is attached;
// the others start at their defaults.
LoadedPolicy load_policy(const std::filesystem::path& object,
                         const std::vector<std::string>& device_specs,
                         const std::vector<std::string>& assignments = {},
                         const Paths& paths = {});

// Unbinds every device the policy `name` serves, and those ufqctl bound to it that were
// unbound since. Each gets back what it had before ufqctl bound it to `name`: the newest
// earlier policy that is still registered, else its previous elevator (unless `keep_ufq`,
// which leaves every device on ufq without a policy). Then removes the pins, which detaches
// the policy. Best effort per device: one that cannot be restored does not stop the others or
// the detaching; afterwards ufq::Error lists every device that failed.
void unload_policy(const std::string& name, bool keep_ufq, const Paths& paths = {});

// What swap_policy did with the running policy's maps.
struct SwapResult {
    std::vector<std::string> kept;    // pinned maps the new programs use as they are
    std::vector<std::string> fresh;   // maps that are new or whose definition changed
    std::vector<std::string> dropped; // maps the new object no longer has
    // When the tunables map's layout changed: tunables whose value was carried over by name,
    // and those the user had changed whose value the new version does not accept (they start
    // at the new default).
    std::vector<std::string> tunables_carried;
    std::vector<std::string> tunables_reset;
    // When the tenants map changed (layout or size): how many tenant entries were copied into
    // the new one, and the settings ("ID.member") the new ranges refuse (back at the default).
    std::size_t tenants_copied = 0;
    std::vector<std::string> tenant_settings_reset;
};

// Replaces the programs of the running policy `name` with those of `object` in place
// (bpf_link_update), without unbinding any device. The object's policy must have the same name.
// A map is kept when its definition and BTF type (names, members, offsets, sizes, decl tags)
// did not change, so tunables, tenants, model, statistics and per-device state carry over;
// other maps start afresh, but for a changed tunables or tenants map, whose settings carry
// over by name. A new tenants map too small for the entries fails the swap. The pins change atomically with the programs: on failure the old programs and
// pins stay.
SwapResult swap_policy(const std::string& name, const std::filesystem::path& object,
                       const Paths& paths = {});

// The name of the policy `object` defines (its struct ufq_ops), without loading it. Throws
// ufq::Error if the file is missing, not a BPF object, has no (or several) struct ufq_ops, or
// one that is not in a .struct_ops.link section.
[[nodiscard]] std::string policy_name_of(const std::filesystem::path& object);

// Names of the policies ufqctl has pinned.
[[nodiscard]] std::vector<std::string> loaded_policies(const Paths& paths = {});

// Names of the ufq policies registered in the kernel, by ufqctl or anyone else: the ufq_ops
// struct_ops maps attached through a link (paths.registry if set).
[[nodiscard]] std::vector<std::string> registered_policies(const Paths& paths = {});

// What `ufqctl bind` does: checks that `name` is registered, switches `dev` to the ufq elevator
// if needed and binds it, and records the device so that unloading `name` gives it back what it
// had. On failure `dev` keeps its elevator and policy. Name "none" unbinds.
void bind_policy(const BlockDevice& dev, const std::string& name, const Paths& paths = {});

// Leaves `dev` on the ufq elevator without a policy (FIFO order). Throws if it is not on ufq.
void unbind_device(const BlockDevice& dev, const Paths& paths = {});

// /sys/block/<dev>/queue/iosched/policy: "none fifo [deadline]".
struct PolicyAttr {
    std::vector<std::string> registered; // policies registered in the kernel, "none" excluded
    std::string active = "none";
};
[[nodiscard]] PolicyAttr parse_policy_attr(std::string_view text);

} // namespace ufq
