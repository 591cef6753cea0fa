#include "ufq/tenants.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>

#include "errno_text.hpp"
#include "ufq/cgroup.hpp"
#include "ufq/device_state.hpp"
#include "ufq/error.hpp"
#include "ufq/pinned_map.hpp"
#include "ufq/require.hpp"
#include "ufq/state.hpp"
#include "ufq/status.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

constexpr std::string_view kSettingNoun = "tenant setting";

std::string owner(std::string_view policy) { return fmt::format("a tenant of {}", policy); }

// The policy's tenants map, checked against the convention.
PinnedMap open_tenants(const std::string& policy, const Paths& paths) {
    require_loaded(paths, policy);
    const auto names = policy_maps_with_suffix(paths, policy, kTenantsSuffix);
    if (names.empty())
        throw Error(fmt::format("policy {} has no tenants (no map whose name ends in '_tenants', "
                                "see UFQ_TENANTS_MAP in bpf/ufq.bpf.h)",
                                policy));
    if (names.size() > 1)
        throw Error(fmt::format("policy {} has several maps ending in '_tenants' ({}); a policy "
                                "must have one",
                                policy, fmt::join(names, ", ")));
    PinnedMap map(paths.maps_dir(policy) / names.front());
    if (map.info().type != BPF_MAP_TYPE_HASH || map.info().key_size != sizeof(std::uint64_t))
        throw Error(fmt::format("map {} of policy {} is not a hash map keyed by a u64 cgroup id, "
                                "so not a tenants map (see UFQ_TENANTS_MAP in bpf/ufq.bpf.h)",
                                map.name(), policy));
    return map;
}

Schema tenants_schema(const PinnedMap& map) {
    Schema schema = map.value_schema();
    check_tenants_schema(schema, map.name());
    return schema;
}

std::optional<std::vector<std::uint8_t>> lookup(const PinnedMap& map, std::uint64_t id) {
    std::vector<std::uint8_t> value(map.info().value_size);
    if (bpf_map_lookup_elem(map.fd(), &id, value.data()) == 0)
        return value;
    if (errno == ENOENT)
        return std::nullopt;
    throw Error(fmt::format("cannot read tenant {} from map {}: {}", id, map.name(),
                            errno_text(errno)));
}

} // namespace

void check_tenants_schema(const Schema& schema, std::string_view map_name) {
    check_tunables_schema(schema, map_name, kSettingNoun);
}

std::vector<std::uint8_t> tenant_value(const Schema& schema, std::size_t value_size,
                                       const std::optional<std::vector<std::uint8_t>>& existing,
                                       const std::vector<std::string>& assignments,
                                       std::string_view policy) {
    std::vector<std::uint8_t> value = existing.value_or(std::vector<std::uint8_t>(value_size));
    if (value.size() != value_size || schema.size > value_size)
        throw Error(fmt::format("a tenant of {} has {} bytes, its type {}", policy, value.size(),
                                schema.size));
    if (!existing)
        apply_defaults(schema, value);
    apply_assignments(schema, value, assignments, owner(policy), "setting");
    return value;
}

std::optional<TenantFigures> tenant_figures(const Schema& status,
                                            std::span<const std::uint8_t> value,
                                            std::uint32_t kernel_dev, bool enum_names) {
    const Schema* tenants = status.member("tenants");
    if (!tenants || tenants->kind != Schema::Kind::Array ||
        tenants->children.front().kind != Schema::Kind::Struct || value.size() < status.size)
        return std::nullopt;
    const Schema& element = tenants->children.front();
    const Schema* cgroup = element.member("cgroup");
    if (!cgroup || cgroup->kind != Schema::Kind::Integer || cgroup->size != 8)
        return std::nullopt;
    if (const Schema* dev = status.member("dev");
        dev && dev->kind == Schema::Kind::Integer && read_integer(*dev, value) != kernel_dev)
        return std::nullopt;
    TenantFigures out;
    const auto array = value.subspan(tenants->offset, tenants->size);
    for (std::size_t i = 0; i < tenants->count; ++i) {
        const auto bytes = array.subspan(i * element.size, element.size);
        const auto id = static_cast<std::uint64_t>(read_integer(*cgroup, bytes));
        if (id == 0)
            continue;
        nlohmann::json figures = value_to_json(element, bytes, enum_names);
        figures.erase("cgroup");
        out.emplace(id, std::move(figures));
    }
    return out;
}

TenantsCarryOver carry_over_tenants(const Schema& old_schema,
                                    const std::vector<TenantEntry>& old_entries,
                                    const Schema& new_schema, std::size_t new_value_size) {
    TenantsCarryOver out;
    for (const auto& [id, old_value] : old_entries) {
        std::vector<std::uint8_t> value(new_value_size);
        apply_defaults(new_schema, value);
        const auto carried = carry_over_tunables(old_schema, old_value, new_schema, value);
        for (const auto& name : carried.reset)
            out.reset.push_back(fmt::format("{}.{}", id, name));
        out.entries.emplace_back(id, std::move(value));
    }
    return out;
}

nlohmann::json to_json(const TenantList& list) {
    nlohmann::json tenants = nlohmann::json::array();
    for (const Tenant& t : list.tenants) {
        nlohmann::json settings = nlohmann::json::object();
        // Numbers, enums too, as `ufqctl get --json`: one type per member whatever its value.
        for (const Tunable& s : t.settings)
            settings[s.name] = s.value < 0 ? nlohmann::json(static_cast<std::int64_t>(s.value))
                                           : nlohmann::json(static_cast<std::uint64_t>(s.value));
        nlohmann::json devices = nlohmann::json::object();
        for (const auto& [dev, figures] : t.devices)
            devices[dev] = figures;
        tenants.push_back({{"id", t.id},
                           {"path", t.path ? nlohmann::json(t.path->string()) : nullptr},
                           {"settings", std::move(settings)},
                           {"devices", std::move(devices)}});
    }
    return {{"policy", list.policy},
            {"map", list.map},
            {"max_entries", list.max_entries},
            {"tenants", std::move(tenants)}};
}

std::string tenant_name(const Tenant& tenant) {
    return tenant.path ? tenant.path->string() : fmt::format("(deleted, id {})", tenant.id);
}

std::vector<TenantEntry> read_tenant_entries(const PinnedMap& map) {
    std::vector<TenantEntry> entries;
    std::uint64_t key = 0;
    const void* previous = nullptr; // the first key
    while (bpf_map_get_next_key(map.fd(), previous, &key) == 0) {
        // An entry deleted between the two calls is simply not listed.
        if (auto value = lookup(map, key))
            entries.emplace_back(key, std::move(*value));
        previous = &key;
    }
    if (errno != ENOENT)
        throw Error(fmt::format("cannot list the tenants in map {}: {}", map.name(),
                                errno_text(errno)));
    std::sort(entries.begin(), entries.end());
    return entries;
}

std::vector<Tunable> set_tenant(const std::string& policy, const fs::path& cgroup_path,
                                const std::vector<std::string>& assignments, const Paths& paths) {
    require_root();
    require_loaded(paths, policy);
    // Read-modify-write: two sets at once must not lose one, nor a swap replace the map between.
    const LockFile lock = lock_policy(paths, policy);
    const PinnedMap map = open_tenants(policy, paths);
    const Schema schema = tenants_schema(map);
    const std::uint64_t id = resolve_io_cgroup(cgroup_path);
    const auto value =
        tenant_value(schema, map.info().value_size, lookup(map, id), assignments, policy);
    if (bpf_map_update_elem(map.fd(), &id, value.data(), BPF_ANY) != 0) {
        if (errno == E2BIG)
            throw Error(fmt::format("policy {} supports at most {} tenants; remove one with "
                                    "ufqctl tenant del",
                                    policy, map.info().max_entries));
        throw Error(fmt::format("cannot write the tenant of {} to map {}: {}",
                                cgroup_path.string(), map.name(), errno_text(errno)));
    }
    return list_tunables(schema, value);
}

std::uint64_t tenant_id_of(const fs::path& cgroup_path) {
    std::error_code ec;
    if (!fs::is_directory(cgroup_path, ec))
        throw Error(fmt::format("no such cgroup: {} is not a directory (for a cgroup deleted "
                                "while configured: ufqctl tenant del POLICY --id ID)",
                                cgroup_path.string()));
    check_cgroup2_filesystem(cgroup_path);
    return cgroup_id(cgroup_path);
}

void delete_tenant(const std::string& policy, std::uint64_t id, const Paths& paths) {
    require_root();
    require_loaded(paths, policy);
    const LockFile lock = lock_policy(paths, policy);
    const PinnedMap map = open_tenants(policy, paths);
    if (bpf_map_delete_elem(map.fd(), &id) == 0)
        return;
    if (errno == ENOENT)
        throw Error(fmt::format("policy {} has no tenant with cgroup id {} (ufqctl tenant list {} "
                                "shows them)",
                                policy, id, policy));
    throw Error(fmt::format("cannot delete tenant {} from map {}: {}", id, map.name(),
                            errno_text(errno)));
}

std::optional<TenantFigures> device_tenant_figures(const std::string& policy,
                                                   const BlockDevice& dev, bool enum_names,
                                                   const Paths& paths) {
    const auto state = read_device_state_value(policy, dev, paths);
    if (!state || state->bytes.empty())
        return std::nullopt;
    return tenant_figures(state->schema, state->bytes, kernel_dev(dev), enum_names);
}

TenantList list_tenants(const std::string& policy, bool enum_names, const Paths& paths,
                        std::optional<fs::path> cgroup_root) {
    require_root();
    const PinnedMap map = open_tenants(policy, paths);
    const Schema schema = tenants_schema(map);
    TenantList list{policy, map.name(), map.info().max_entries, {}};

    if (!cgroup_root)
        cgroup_root = cgroup2_mount();
    const auto paths_by_id = cgroup_root ? cgroup_paths(*cgroup_root)
                                         : std::map<std::uint64_t, fs::path>{};

    std::vector<std::pair<std::string, std::optional<TenantFigures>>> devices;
    for (const auto& dev : ufq_devices(paths.sys))
        if (read_device_status(dev, paths.sys).policy == policy)
            devices.emplace_back(dev.name, device_tenant_figures(policy, dev, enum_names, paths));

    for (const auto& [id, value] : read_tenant_entries(map)) {
        Tenant t{id, std::nullopt, list_tunables(schema, value), {}};
        if (const auto it = paths_by_id.find(id); it != paths_by_id.end())
            t.path = it->second;
        for (const auto& [name, figures] : devices) {
            const auto it = figures ? figures->find(id) : TenantFigures::const_iterator{};
            t.devices.emplace_back(name, figures && it != figures->end() ? it->second
                                                                          : nlohmann::json());
        }
        list.tenants.push_back(std::move(t));
    }
    return list;
}

} // namespace ufq
