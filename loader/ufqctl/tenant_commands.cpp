#include "tenant_commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>
#include <vector>

#include "ufq/cgroup.hpp"

namespace ufqctl {

std::string figures_text(const nlohmann::json& figures) {
    if (!figures.is_object() || figures.empty())
        return "-";
    std::vector<std::string> parts;
    for (const auto& [key, value] : figures.items())
        parts.push_back(fmt::format("{}={}", key,
                                    value.is_string() ? value.get<std::string>() : value.dump()));
    return fmt::format("{}", fmt::join(parts, " "));
}

nlohmann::json tenant_figures_json(const ufq::TenantFigures& figures,
                                   const std::map<std::uint64_t, std::filesystem::path>& paths_by_id) {
    auto out = nlohmann::json::array();
    for (const auto& [id, values] : figures) {
        const auto it = paths_by_id.find(id);
        out.push_back({{"id", id},
                       {"path", it != paths_by_id.end() ? nlohmann::json(it->second.string())
                                                        : nlohmann::json(nullptr)},
                       {"figures", values}});
    }
    return out;
}

std::map<std::uint64_t, std::filesystem::path> mounted_cgroup_paths() {
    const auto root = ufq::cgroup2_mount();
    return root ? ufq::cgroup_paths(*root) : std::map<std::uint64_t, std::filesystem::path>{};
}

int cmd_tenant_set(const Options& o, const ufq::Paths& p) {
    const auto settings = ufq::set_tenant(o.name, o.cgroup, o.assignments, p);
    std::vector<std::string> parts;
    for (const auto& s : settings)
        parts.push_back(fmt::format("{}={}", s.name, s.text(s.value)));
    std::printf("%s: tenant %s: %s\n", o.name.c_str(), o.cgroup.c_str(),
                fmt::format("{}", fmt::join(parts, " ")).c_str());
    return 0;
}

int cmd_tenant_del(const Options& o, const ufq::Paths& p) {
    const std::uint64_t id = o.by_id ? o.tenant_id : ufq::tenant_id_of(o.cgroup);
    ufq::delete_tenant(o.name, id, p);
    std::printf("%s: tenant %s removed\n", o.name.c_str(),
                o.by_id ? fmt::format("with cgroup id {}", id).c_str() : o.cgroup.c_str());
    return 0;
}

int cmd_tenant_list(const Options& o, const ufq::Paths& p) {
    const auto list = ufq::list_tenants(o.name, !o.json, p);
    if (o.json) {
        std::printf("%s\n", ufq::to_json(list).dump().c_str());
        return 0;
    }
    std::printf("%s: %zu of %u tenants (map %s)\n", list.policy.c_str(), list.tenants.size(),
                list.max_entries, list.map.c_str());
    for (const auto& t : list.tenants) {
        std::vector<std::string> settings;
        for (const auto& s : t.settings)
            settings.push_back(fmt::format("{}={}", s.name, s.text(s.value)));
        std::printf("%s%s\n", ufq::tenant_name(t).c_str(),
                    t.path ? fmt::format(" (id {})", t.id).c_str() : "");
        std::printf("  %s\n", fmt::format("{}", fmt::join(settings, " ")).c_str());
        for (const auto& [dev, figures] : t.devices)
            std::printf("  %s: %s\n", dev.c_str(), figures_text(figures).c_str());
    }
    return 0;
}

} // namespace ufqctl
