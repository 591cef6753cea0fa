#include "ufq/tunables.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ufq/error.hpp"
#include "ufq/pinned_map.hpp"
#include "ufq/require.hpp"
#include "ufq/state.hpp"

namespace ufq {
namespace {

std::string member_names(const Schema& schema) {
    std::vector<std::string> names;
    for (const auto& m : schema.children)
        names.push_back(m.name);
    return fmt::format("{}", fmt::join(names, ", "));
}

PinnedMap open_tunables(const std::string& policy, const Paths& paths) {
    require_loaded(paths, policy);
    const std::string name =
        tunables_map_name(policy_maps_with_suffix(paths, policy, kTunablesSuffix), policy);
    PinnedMap map(paths.policy_dir(policy) / "maps" / name);
    if (map.info().type != BPF_MAP_TYPE_ARRAY || map.info().max_entries != 1)
        throw Error(fmt::format("map {} of policy {} is not a one-element array, so not a "
                                "tunables map (see UFQ_TUNABLES_MAP in bpf/ufq.bpf.h)",
                                name, policy));
    return map;
}

} // namespace

std::string Tunable::text(Int v) const { return integer_text(enumerators, v); }

void check_tunables_schema(const Schema& schema, std::string_view map_name,
                           std::string_view noun) {
    if (schema.kind != Schema::Kind::Struct)
        throw Error(fmt::format("the value of {}s map {} is not a struct", noun, map_name));
    for (const auto& m : schema.children)
        if (m.kind != Schema::Kind::Integer)
            throw Error(fmt::format("{} {} in map {} is not an integer; {}s maps hold integers "
                                    "only",
                                    noun, m.name, map_name, noun));
}

void apply_defaults(const Schema& schema, std::span<std::uint8_t> value) {
    for (const auto& m : schema.children)
        if (m.kind == Schema::Kind::Integer && m.def)
            write_integer(m, value, *m.def);
}

void apply_assignments(const Schema& schema, std::span<std::uint8_t> value,
                       const std::vector<std::string>& assignments, std::string_view owner,
                       std::string_view noun) {
    std::vector<std::pair<const Schema*, Int>> parsed;
    for (const auto& text : assignments) {
        const auto eq = text.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(fmt::format("'{}' is not KEY=VALUE (e.g. {}=8)", text,
                                    schema.children.empty() ? "fifo_batch"
                                                            : schema.children.front().name));
        const std::string key = text.substr(0, eq);
        const Schema* member = schema.member(key);
        if (!member)
            throw Error(fmt::format("{} has no {} '{}'; its {}s: {}", owner, noun, key, noun,
                                    member_names(schema)));
        parsed.emplace_back(member,
                            parse_integer(*member, std::string_view(text).substr(eq + 1), key));
    }
    for (const auto& [member, v] : parsed)
        write_integer(*member, value, v);
}

TunablesCarryOver carry_over_tunables(const Schema& old_schema,
                                      std::span<const std::uint8_t> old_value,
                                      const Schema& new_schema, std::span<std::uint8_t> new_value) {
    TunablesCarryOver out;
    for (const auto& m : new_schema.children) {
        const Schema* old = old_schema.member(m.name);
        if (!old || old->kind != Schema::Kind::Integer || m.kind != Schema::Kind::Integer)
            continue;
        const Int v = read_integer(*old, old_value);
        if (v == old->def.value_or(0))
            continue; // never changed: the new version's default applies
        if (v < m.min || v > m.max) {
            out.reset.push_back(m.name);
            continue;
        }
        write_integer(m, new_value, v);
        out.carried.push_back(m.name);
    }
    return out;
}

std::vector<Tunable> list_tunables(const Schema& schema, std::span<const std::uint8_t> value) {
    std::vector<Tunable> out;
    for (const auto& m : schema.children)
        out.push_back({m.name, read_integer(m, value), m.min, m.max, m.def, m.is_signed, m.size,
                       m.enumerators});
    return out;
}

std::string tunables_map_name(const std::vector<std::string>& candidates,
                              std::string_view policy) {
    if (candidates.empty())
        throw Error(fmt::format("policy {} has no tunables (no map whose name ends in "
                                "'_tunables')",
                                policy));
    if (candidates.size() > 1)
        throw Error(fmt::format("policy {} has several maps ending in '_tunables' ({}); a "
                                "policy must have one",
                                policy, fmt::join(candidates, ", ")));
    return candidates.front();
}

std::vector<Tunable> get_tunables(const std::string& policy, const Paths& paths) {
    require_root();
    const PinnedMap map = open_tunables(policy, paths);
    const Schema schema = map.value_schema();
    check_tunables_schema(schema, map.name());
    const auto value = map.lookup(0);
    return list_tunables(schema, value);
}

std::vector<Tunable> set_tunables(const std::string& policy,
                                  const std::vector<std::string>& assignments,
                                  const Paths& paths) {
    require_root();
    require_loaded(paths, policy);
    // Read-modify-write: two sets at once must not lose one, nor a swap replace the map between.
    const LockFile lock = lock_policy(paths, policy);
    const PinnedMap map = open_tunables(policy, paths);
    const Schema schema = map.value_schema();
    check_tunables_schema(schema, map.name());
    auto value = map.lookup(0);
    apply_assignments(schema, value, assignments, policy);
    map.update(0, value);
    return list_tunables(schema, value);
}

} // namespace ufq
