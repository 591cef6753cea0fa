#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/btf_schema.hpp"
#include "ufq/device.hpp"
#include "ufq/policy.hpp"

namespace ufq {

// What a policy keeps for each device it serves, for users to read: the one map whose name
// ends in "_status", an array indexed by the device's ufq id (iosched/id) whose value is a
// BTF-typed struct (lanes: the mode and values its autotuner chose). `ufqctl get` prints it.
inline constexpr std::string_view kDeviceStateSuffix = "_status";

struct DeviceState {
    std::string map;      // the map's name
    std::uint32_t id = 0; // the device's ufq id, the entry's index
    // The entry by member name (enum values by name); null when the id is beyond the map.
    nlohmann::json value;
};

// The same entry as bytes with their schema (a struct), for readers that pick members out
// (tenants' live figures); `bytes` is empty when the id is beyond the map.
struct DeviceStateValue {
    std::string map;
    std::uint32_t id = 0;
    Schema schema;
    std::vector<std::uint8_t> bytes;
};

[[nodiscard]] std::optional<DeviceStateValue> read_device_state_value(const std::string& policy,
                                                                      const BlockDevice& dev,
                                                                      const Paths& paths = {});

// `policy`'s state for `dev`, or nullopt if the policy keeps none (no map, several, or one that
// is not an array of a BTF struct). Throws ufq::Error if the map is unreadable.
[[nodiscard]] std::optional<DeviceState> read_device_state(const std::string& policy,
                                                           const BlockDevice& dev,
                                                           const Paths& paths = {});

} // namespace ufq
