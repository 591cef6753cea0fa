#include "ufq/device_state.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>

#include "ufq/error.hpp"
#include "ufq/latency.hpp"
#include "ufq/pinned_map.hpp"

namespace ufq {

std::optional<DeviceStateValue> read_device_state_value(const std::string& policy,
                                                        const BlockDevice& dev,
                                                        const Paths& paths) {
    // A map that merely ends in "_status" (a hash, several of them) is not the convention's.
    const auto names = policy_maps_with_suffix(paths, policy, kDeviceStateSuffix);
    if (names.size() != 1)
        return std::nullopt;
    const PinnedMap map(paths.policy_dir(policy) / "maps" / names.front());
    if (map.info().type != BPF_MAP_TYPE_ARRAY)
        return std::nullopt;
    Schema schema = map.value_schema();
    if (schema.kind != Schema::Kind::Struct)
        return std::nullopt;
    DeviceStateValue state{map.name(), ufq_id(dev, paths.sys), std::move(schema), {}};
    if (state.id < map.info().max_entries)
        state.bytes = map.lookup(state.id);
    return state;
}

std::optional<DeviceState> read_device_state(const std::string& policy, const BlockDevice& dev,
                                             const Paths& paths) {
    const auto state = read_device_state_value(policy, dev, paths);
    if (!state)
        return std::nullopt;
    return DeviceState{state->map, state->id,
                       state->bytes.empty() ? nlohmann::json(nullptr)
                                            : value_to_json(state->schema, state->bytes, true)};
}

} // namespace ufq
