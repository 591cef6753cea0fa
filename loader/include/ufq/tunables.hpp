#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ufq/btf_schema.hpp"
#include "ufq/policy.hpp"

namespace ufq {

// A policy's tunables live in the one map whose name ends in "_tunables": an array with one
// element whose value is a struct (see UFQ_TUNABLES_MAP in bpf/ufq.bpf.h). Members are set by
// name, with type, width, signedness, range and default read from the map's BTF.
inline constexpr std::string_view kTunablesSuffix = "_tunables";

struct Tunable {
    std::string name;
    Int value = 0;
    Int min = 0;
    Int max = 0;
    std::optional<Int> def;
    bool is_signed = false;
    std::size_t size = 0; // bytes
    std::vector<std::pair<std::string, Int>> enumerators; // an enum's values by name

    // The value as the user reads and writes it: an enumerator's name, or the number.
    [[nodiscard]] std::string text(Int v) const;
};

// Checks that `schema` (the value type of map `map_name`) is a struct whose members are all
// integers; throws ufq::Error otherwise. `noun` names a member in errors ("tunable"; the
// tenants maps of ufq/tenants.hpp follow the same rules with "tenant setting").
void check_tunables_schema(const Schema& schema, std::string_view map_name,
                           std::string_view noun = "tunable");

// Sets every member that has a default (UFQ_TUNABLE) to it.
void apply_defaults(const Schema& schema, std::span<std::uint8_t> value);

// Applies "KEY=VAL" texts to `value`. All are checked before any is applied, so an error
// leaves `value` untouched. Errors name the `owner` (the policy), the `noun` and the choices,
// e.g.
//   deadline has no tunable 'fifo'; its tunables: read_expire_ms, ..., fifo_batch
void apply_assignments(const Schema& schema, std::span<std::uint8_t> value,
                       const std::vector<std::string>& assignments, std::string_view owner,
                       std::string_view noun = "tunable");

// For a swap to a policy version whose tunables map has another layout: `new_value` holds the
// new version's defaults; every tunable the user had changed (its old value is not the old
// default) and that the new version still has by name is carried over if it is within the new
// member's range. Returns the names carried over, and those whose value the new version does
// not accept (they keep the new default).
struct TunablesCarryOver {
    std::vector<std::string> carried;
    std::vector<std::string> reset;
};
[[nodiscard]] TunablesCarryOver carry_over_tunables(const Schema& old_schema,
                                                    std::span<const std::uint8_t> old_value,
                                                    const Schema& new_schema,
                                                    std::span<std::uint8_t> new_value);

[[nodiscard]] std::vector<Tunable> list_tunables(const Schema& schema,
                                                 std::span<const std::uint8_t> value);

// The name of `policy`'s pinned tunables map; throws if it has none or several.
[[nodiscard]] std::string tunables_map_name(const std::vector<std::string>& candidates,
                                            std::string_view policy);

// Reads the tunables of a loaded policy.
[[nodiscard]] std::vector<Tunable> get_tunables(const std::string& policy,
                                                const Paths& paths = {});
// Sets tunables of a loaded policy in one map update; returns them as set.
std::vector<Tunable> set_tunables(const std::string& policy,
                                  const std::vector<std::string>& assignments,
                                  const Paths& paths = {});

} // namespace ufq
