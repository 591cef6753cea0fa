#include "ufq/device_state.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ufq/error.hpp"
#include "ufq/latency.hpp"
#include "ufq/pinned_map.hpp"

namespace ufq {

std::optional<DeviceState> read_device_state(const std::string& policy, const BlockDevice& dev,
                                             const Paths& paths) {
    const auto names = policy_maps_with_suffix(paths, policy, kDeviceStateSuffix);
    if (names.empty())
        return std::nullopt;
    if (names.size() > 1)
        throw Error(fmt::format("policy {} has several maps ending in '{}' ({}); a policy "
                                "keeps its per-device state in one",
                                policy, kDeviceStateSuffix, fmt::join(names, ", ")));
    const PinnedMap map(paths.policy_dir(policy) / "maps" / names.front());
    if (map.info().type != BPF_MAP_TYPE_ARRAY)
        throw Error(fmt::format("map {} of policy {} is not an array indexed by device id, so "
                                "not a per-device state map",
                                map.name(), policy));
    const Schema schema = map.value_schema();
    if (schema.kind != Schema::Kind::Struct)
        throw Error(fmt::format("the value of map {} of policy {} is not a struct", map.name(),
                                policy));
    DeviceState state{map.name(), ufq_id(dev, paths.sys), nullptr};
    if (state.id < map.info().max_entries)
        state.value = value_to_json(schema, map.lookup(state.id), true);
    return state;
}

} // namespace ufq
