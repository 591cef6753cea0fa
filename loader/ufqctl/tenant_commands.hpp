#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "ufq/policy.hpp"
#include "ufq/tenants.hpp"

namespace ufqctl {

// ufqctl tenant set|del|list: what they do with libufq and how they print it.
int cmd_tenant_set(const Options& o, const ufq::Paths& p);
int cmd_tenant_del(const Options& o, const ufq::Paths& p);
int cmd_tenant_list(const Options& o, const ufq::Paths& p);

// The text of a tenant's live figures: "tokens=12 p99_us=1800", or "-" for none.
[[nodiscard]] std::string figures_text(const nlohmann::json& figures);

// For ufqctl stats --tenants: each tenant's figures as JSON ([{"id", "path", "figures"}]), with
// paths from `paths_by_id` (cgroup_paths of the cgroup2 mount).
[[nodiscard]] nlohmann::json tenant_figures_json(
    const ufq::TenantFigures& figures,
    const std::map<std::uint64_t, std::filesystem::path>& paths_by_id);

// The cgroup2 mount's groups by id, or none when cgroup2 is not mounted.
[[nodiscard]] std::map<std::uint64_t, std::filesystem::path> mounted_cgroup_paths();

} // namespace ufqctl
