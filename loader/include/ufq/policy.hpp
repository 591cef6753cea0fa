#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ufq/device.hpp"
#include "ufq/sysfs_root.hpp"

namespace ufq {

// Where ufqctl keeps a loaded policy: its struct_ops link and maps are pinned under
// <bpffs>/ufq/<policy>/ so the policy outlives the command; what the devices used before is
// remembered under <state>/<policy>.json so unload can restore it.
struct Paths {
    std::filesystem::path bpffs{"/sys/fs/bpf"};
    std::filesystem::path state{"/run/ufq"};
    SysfsRoot sys{};

    [[nodiscard]] std::filesystem::path policy_dir(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path link_pin(const std::string& policy) const;
    [[nodiscard]] std::filesystem::path state_file(const std::string& policy) const;
};

// A device bound to a policy and the elevator it had before ufqctl switched it to ufq.
struct BoundDevice {
    BlockDevice device;
    std::string previous_scheduler;
};

struct LoadedPolicy {
    std::string name;
    std::vector<BoundDevice> devices;
};

// Loads the BPF object at `object`, attaches its struct ufq_ops, pins link and maps, switches
// each device to the ufq elevator and binds it. On any failure everything done so far is
// undone and ufq::Error is thrown; returns the policy as loaded.
// `assignments` ("KEY=VAL") set tunables (see ufq/tunables.hpp) before the policy is attached;
// the others start at their defaults.
LoadedPolicy load_policy(const std::filesystem::path& object,
                         const std::vector<std::string>& device_specs,
                         const std::vector<std::string>& assignments = {},
                         const Paths& paths = {});

// Unbinds every device ufqctl bound to `name` (restoring its previous elevator unless
// `keep_ufq`), and removes the pins, which detaches the policy. A device that was moved to
// another policy since is left alone.
void unload_policy(const std::string& name, bool keep_ufq, const Paths& paths = {});

// Replaces the programs of the running policy `name` with those of `object` in place
// (bpf_link_update), without unbinding any device. The object's policy must have the same name.
// Maps whose definition did not change (tunables, model, statistics, state) are kept.
void swap_policy(const std::string& name, const std::filesystem::path& object,
                 const Paths& paths = {});

// The name of the policy `object` defines (its struct ufq_ops), without loading it. Throws
// ufq::Error if the file is missing, not a BPF object, or has no (or several) struct ufq_ops.
[[nodiscard]] std::string policy_name_of(const std::filesystem::path& object);

// Names of the policies ufqctl has pinned.
[[nodiscard]] std::vector<std::string> loaded_policies(const Paths& paths = {});

// Binds `dev` (already on the ufq elevator or switched to it) to the registered policy `name`,
// or unbinds it with name "none".
void bind_device(const BlockDevice& dev, const std::string& name, const SysfsRoot& sys = {});

// What `ufqctl bind` does: bind_device, and remember the device's previous elevator with the
// policy (if no loaded policy remembers it yet) so that unloading it restores that elevator.
void bind_policy(const BlockDevice& dev, const std::string& name, const Paths& paths = {});

// Leaves `dev` on the ufq elevator without a policy (FIFO order). Throws if it is not on ufq.
void unbind_device(const BlockDevice& dev, const SysfsRoot& sys = {});

// /sys/block/<dev>/queue/iosched/policy: "none fifo [deadline]".
struct PolicyAttr {
    std::vector<std::string> registered; // policies registered in the kernel, "none" excluded
    std::string active = "none";
};
[[nodiscard]] PolicyAttr parse_policy_attr(std::string_view text);

} // namespace ufq
