#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/device.hpp"
#include "ufq/policy.hpp"

namespace ufq {

// The ufq elevator's request counters, in the kernel's order (iosched/stats).
using Counters = std::vector<std::pair<std::string, std::uint64_t>>;

// Parses "inserted 12\ndispatched 12\n..."; throws ufq::Error on a malformed line.
[[nodiscard]] Counters parse_counters(std::string_view text);
[[nodiscard]] std::uint64_t counter(const Counters& counters, std::string_view name);

// One disk as ufq sees it.
struct DeviceStatus {
    BlockDevice device;
    std::string scheduler;   // active elevator
    bool on_ufq = false;     // the rest is only filled in when on_ufq
    std::string policy = "none";
    std::vector<std::string> registered;
    std::string state;       // active, none or fallback
    std::string last_error;  // empty if never
    Counters counters;
};

[[nodiscard]] DeviceStatus read_device_status(const BlockDevice& dev, const SysfsRoot& sys = {});

// Every disk currently on the ufq elevator, by name.
[[nodiscard]] std::vector<BlockDevice> ufq_devices(const SysfsRoot& sys = {});

// A policy ufqctl loaded, its maps, and the devices ufqctl bound to it last (from the device
// records, see ufq/state.hpp).
struct PolicyStatus {
    std::string name;
    std::vector<std::string> maps;       // pinned map names
    std::vector<std::string> devices;    // devices ufqctl bound to it
};

// Throws ufq::Error if the device records are unreadable or corrupt.
[[nodiscard]] std::vector<PolicyStatus> loaded_policy_status(const Paths& paths = {});

[[nodiscard]] nlohmann::json to_json(const DeviceStatus& status);
[[nodiscard]] nlohmann::json to_json(const PolicyStatus& status);

// The kernel's device number as the ufq elevator reports it (struct ufq_sched.dev, MKDEV).
[[nodiscard]] constexpr std::uint32_t kernel_dev(const BlockDevice& dev) {
    return (dev.major << 20) | dev.minor;
}

} // namespace ufq
