#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/btf_schema.hpp"
#include "ufq/device.hpp"
#include "ufq/policy.hpp"
#include "ufq/tunables.hpp"

namespace ufq {

class PinnedMap;

// Per-cgroup settings ("tenants", UFQ_TENANTS_MAP in bpf/ufq.bpf.h): a policy's one hash map
// whose name ends in "_tenants", keyed by cgroup v2 id (u64, see ufq/cgroup.hpp), whose value is
// a struct of integers tagged like the tunables (UFQ_TUNABLE: default and range). Its
// max_entries is the number of tenants the policy supports. Live figures per tenant come from
// the policy's "_status" map (ufq/device_state.hpp): an array member "tenants" of structs whose
// u64 member "cgroup" names the tenant (0: an unused element).
inline constexpr std::string_view kTenantsSuffix = "_tenants";

// One tenant entry: cgroup id and value bytes.
using TenantEntry = std::pair<std::uint64_t, std::vector<std::uint8_t>>;

// ---- values, without a kernel ----------------------------------------------------------------

// Throws ufq::Error unless `schema`, the value of tenants map `map_name`, is a struct of
// integers.
void check_tenants_schema(const Schema& schema, std::string_view map_name);

// The value `ufqctl tenant set` writes: `existing` (the tenant's entry) or, for a new tenant,
// the defaults, with "KEY=VAL" `assignments` applied, all checked before any is (errors name
// `policy`, e.g. "a tenant of qos has no setting 'klass'; its settings: class, weight").
[[nodiscard]] std::vector<std::uint8_t> tenant_value(
    const Schema& schema, std::size_t value_size,
    const std::optional<std::vector<std::uint8_t>>& existing,
    const std::vector<std::string>& assignments, std::string_view policy);

// The live figures of each tenant in one device's "_status" value: the members of each used
// element of its array member "tenants" but "cgroup", by cgroup id (enum values by name with
// `enum_names`). nullopt if the value has no such array, or if it has a member "dev" that is
// not `kernel_dev` (the entry is left from an earlier device with the same ufq id).
using TenantFigures = std::map<std::uint64_t, nlohmann::json>;
[[nodiscard]] std::optional<TenantFigures> tenant_figures(const Schema& status,
                                                          std::span<const std::uint8_t> value,
                                                          std::uint32_t kernel_dev,
                                                          bool enum_names);

// For a swap to a policy version whose tenants map changed (layout or size): each entry in the
// new layout, starting from the new defaults with what was set carried over by name as
// carry_over_tunables does. `reset` names "ID.member" settings the new ranges refuse.
struct TenantsCarryOver {
    std::vector<TenantEntry> entries;
    std::vector<std::string> reset;
};
[[nodiscard]] TenantsCarryOver carry_over_tenants(const Schema& old_schema,
                                                  const std::vector<TenantEntry>& old_entries,
                                                  const Schema& new_schema,
                                                  std::size_t new_value_size);

// ---- what `ufqctl tenant list` shows ---------------------------------------------------------

struct Tenant {
    std::uint64_t id = 0;
    std::optional<std::filesystem::path> path; // nullopt: no such group (deleted)
    std::vector<Tunable> settings;
    // For each device the policy serves, the tenant's live figures (null when the policy shows
    // none for it there).
    std::vector<std::pair<std::string, nlohmann::json>> devices;
};

struct TenantList {
    std::string policy;
    std::string map;
    std::uint32_t max_entries = 0;
    std::vector<Tenant> tenants; // by id
};

// {"policy": P, "map": M, "max_entries": N, "tenants": [{"id": ID, "path": PATH or null,
//   "settings": {NAME: number...}, "devices": {DEV: {FIGURE: number...} or null}}]}
[[nodiscard]] nlohmann::json to_json(const TenantList& list);

// How a tenant's cgroup reads in text: its path, or "(deleted, id N)".
[[nodiscard]] std::string tenant_name(const Tenant& tenant);

// ---- a loaded policy's tenants ---------------------------------------------------------------

// Every entry of a tenants map.
[[nodiscard]] std::vector<TenantEntry> read_tenant_entries(const PinnedMap& map);

// Sets the tenant of the cgroup at `cgroup_path` (resolve_io_cgroup) in one map update; returns
// its settings as written. Throws ufq::Error, leaving the map as it was, if the policy is not
// loaded or has no tenants map, the path is no cgroup with the io controller, an assignment is
// wrong, or the map is full.
std::vector<Tunable> set_tenant(const std::string& policy, const std::filesystem::path& cgroup_path,
                                const std::vector<std::string>& assignments,
                                const Paths& paths = {});

// The cgroup id of `cgroup_path` for `ufqctl tenant del`: any directory on cgroup2.
[[nodiscard]] std::uint64_t tenant_id_of(const std::filesystem::path& cgroup_path);

// Removes the tenant `id`; throws ufq::Error if the policy has none by that id.
void delete_tenant(const std::string& policy, std::uint64_t id, const Paths& paths = {});

// The policy's tenants with their paths (found under `cgroup_root`, or the cgroup2 mount when
// unset) and, for each device it serves, their live figures (enum values by name with
// `enum_names`).
[[nodiscard]] TenantList list_tenants(const std::string& policy, bool enum_names,
                                      const Paths& paths = {},
                                      std::optional<std::filesystem::path> cgroup_root = {});

// The live figures of every tenant of the policy serving `dev`, by cgroup id; nullopt if the
// policy shows none.
[[nodiscard]] std::optional<TenantFigures> device_tenant_figures(const std::string& policy,
                                                                 const BlockDevice& dev,
                                                                 bool enum_names,
                                                                 const Paths& paths = {});

} // namespace ufq
