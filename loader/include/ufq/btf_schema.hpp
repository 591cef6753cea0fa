#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

struct btf;

namespace ufq {

// Integers wide enough for every value of every BTF integer up to 64 bits, signed or not.
using Int = __int128;

[[nodiscard]] std::string int_to_string(Int value);

// The shape of a map value as BTF describes it, as far as ufqctl edits values: integers
// (including bool and enums), fixed-size arrays and structs of those. Ranges and defaults come
// from the type's limits narrowed by "ufq:min=", "ufq:max=" and "ufq:default=" decl tags on
// struct members (see include/ufq/btf_tags.h).
struct Schema {
    enum class Kind { Integer, Array, Struct };
    Kind kind = Kind::Integer;
    std::string name;   // member name; empty for the root and array elements
    std::size_t offset = 0; // bytes from the start of the parent
    std::size_t size = 0;   // bytes

    // Integer
    bool is_signed = false;
    Int min = 0;
    Int max = 0;
    std::optional<Int> def;
    // For an enum: its enumerators by their short names, lower case, without the prefix they
    // all share up to an underscore (enum lanes_mode { LANES_MODE_AUTO, ... }: "auto", ...).
    std::vector<std::pair<std::string, Int>> enumerators;

    // Array: `count` elements of children[0]; Struct: the members in order.
    std::size_t count = 0;
    std::vector<Schema> children;

    [[nodiscard]] const Schema* member(std::string_view member_name) const;
    // The short name of `value` if this is an enum that has one.
    [[nodiscard]] std::optional<std::string> enumerator_name(Int value) const;
};

using Enumerators = std::vector<std::pair<std::string, Int>>;

// The name `enumerators` give `value` ("auto"), or the number for a value without one.
[[nodiscard]] std::string integer_text(const Enumerators& enumerators, Int value);

// Describes BTF type `type_id` (typedefs and qualifiers are looked through). Throws ufq::Error
// naming the part ufqctl cannot handle (floats, pointers, bitfields, unions, malformed tags);
// `what` names the value in messages, e.g. "map dl_tunables".
[[nodiscard]] Schema describe_btf_type(const btf* btf, std::uint32_t type_id,
                                       std::string_view what);

// Reading and writing one integer of `field` at `base + field.offset` (little or big endian
// as the host, like the kernel the map lives in).
[[nodiscard]] Int read_integer(const Schema& field, std::span<const std::uint8_t> base);
void write_integer(const Schema& field, std::span<std::uint8_t> base, Int value);

// Parses a user's text for `field` (decimal, 0x hex, a leading '-'; "true"/"false" for bool;
// an enumerator's short name, in any case, for an enum) and checks it against the
// field's range. `what` names it in errors, e.g. "fifo_batch".
[[nodiscard]] Int parse_integer(const Schema& field, std::string_view text, std::string_view what);

// A value as JSON: integers as numbers (enum values as their short names with `enum_names`),
// arrays as arrays, structs as objects.
[[nodiscard]] nlohmann::json value_to_json(const Schema& schema,
                                           std::span<const std::uint8_t> bytes,
                                           bool enum_names = false);

// The inverse, strict: every struct member must be present and nothing else, arrays must have
// exactly the right length, numbers must be integers within range. Throws ufq::Error naming
// the JSON path of the first problem, e.g. "coef[1][0]: 3.5 is not an integer".
void json_to_value(const Schema& schema, const nlohmann::json& json,
                   std::span<std::uint8_t> bytes);

} // namespace ufq
