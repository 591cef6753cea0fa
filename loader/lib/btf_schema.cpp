#include "ufq/btf_schema.hpp"

#include <bpf/btf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

#include "ufq/error.hpp"

namespace ufq {
namespace {

constexpr std::string_view kTagPrefix = "ufq:";

std::string type_name(const btf* btf, const btf_type* t) {
    const char* name = btf__name_by_offset(btf, t->name_off);
    return name && *name ? name : "(anonymous)";
}

// The decl tags on members of each struct: (struct id, member index) -> "key=value" texts.
using MemberTags = std::map<std::pair<std::uint32_t, int>, std::vector<std::string>>;

MemberTags collect_member_tags(const btf* btf) {
    MemberTags tags;
    const std::uint32_t n = btf__type_cnt(btf);
    for (std::uint32_t id = 1; id < n; ++id) {
        const btf_type* t = btf__type_by_id(btf, id);
        if (!btf_is_decl_tag(t) || btf_decl_tag(t)->component_idx < 0)
            continue;
        const std::string_view text = btf__name_by_offset(btf, t->name_off);
        if (text.starts_with(kTagPrefix))
            tags[{t->type, btf_decl_tag(t)->component_idx}].emplace_back(
                text.substr(kTagPrefix.size()));
    }
    return tags;
}

std::optional<Int> parse_int_text(std::string_view text) {
    bool negative = false;
    if (text.starts_with('-')) {
        negative = true;
        text.remove_prefix(1);
    } else if (text.starts_with('+')) {
        text.remove_prefix(1);
    }
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        text.remove_prefix(2);
    }
    std::uint64_t magnitude = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), magnitude, base);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size())
        return std::nullopt;
    return negative ? -static_cast<Int>(magnitude) : static_cast<Int>(magnitude);
}

// Enumerator names without the prefix all of them share up to an underscore, in lower case.
std::vector<std::pair<std::string, Int>> enumerators(const btf* btf, const btf_type* t) {
    std::vector<std::pair<std::string, Int>> out;
    for (int i = 0; i < btf_vlen(t); ++i) {
        const char* name;
        Int value;
        if (btf_is_enum(t)) {
            const struct btf_enum* e = btf_enum(t) + i;
            name = btf__name_by_offset(btf, e->name_off);
            value = btf_kflag(t) ? static_cast<Int>(e->val)
                                 : static_cast<Int>(static_cast<std::uint32_t>(e->val));
        } else {
            const struct btf_enum64* e = btf_enum64(t) + i;
            name = btf__name_by_offset(btf, e->name_off);
            value = btf_kflag(t) ? static_cast<Int>(static_cast<std::int64_t>(btf_enum64_value(e)))
                                 : static_cast<Int>(btf_enum64_value(e));
        }
        out.emplace_back(name ? name : "", value);
    }
    if (out.size() > 1) {
        std::string_view prefix = out.front().first;
        for (const auto& [name, value] : out) {
            std::size_t n = 0;
            while (n < prefix.size() && n < name.size() && prefix[n] == name[n])
                ++n;
            prefix = prefix.substr(0, n);
        }
        const std::size_t cut = prefix.rfind('_');
        if (cut != std::string_view::npos)
            for (auto& entry : out)
                entry.first.erase(0, cut + 1);
    }
    for (auto& entry : out)
        std::transform(entry.first.begin(), entry.first.end(), entry.first.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::erase_if(out, [](const auto& entry) { return entry.first.empty(); });
    return out;
}

bool same_name(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

std::string range_text(const Schema& s) {
    return fmt::format("{}..{}", int_to_string(s.min), int_to_string(s.max));
}

void apply_tags(Schema& field, const std::vector<std::string>& tags, std::string_view what) {
    const Schema type_limits = field; // tags must stay within the integer type itself
    for (const auto& tag : tags) {
        const auto eq = tag.find('=');
        const std::string key = tag.substr(0, eq);
        if (key != "min" && key != "max" && key != "default")
            continue; // tags for other tools
        const std::optional<Int> parsed =
            eq == std::string::npos ? std::nullopt
                                    : parse_int_text(std::string_view(tag).substr(eq + 1));
        if (!parsed)
            throw Error(fmt::format("{}: member {} has a malformed tag 'ufq:{}' (expected an "
                                    "integer literal, see include/ufq/btf_tags.h)",
                                    what, field.name, tag));
        if (field.kind == Schema::Kind::Array) {
            // A range on an array member applies to every element, however nested.
            Schema* elem = &field;
            while (elem->kind == Schema::Kind::Array)
                elem = &elem->children.front();
            apply_tags(*elem, {tag}, what);
            continue;
        }
        const Int value = *parsed;
        if (field.kind != Schema::Kind::Integer)
            throw Error(fmt::format("{}: tag 'ufq:{}' on member {}, which is not an integer",
                                    what, tag, field.name));
        if (value < type_limits.min || value > type_limits.max)
            throw Error(fmt::format("{}: tag 'ufq:{}' on member {} is outside its type's range {}",
                                    what, tag, field.name, range_text(type_limits)));
        if (key == "min")
            field.min = value;
        else if (key == "max")
            field.max = value;
        else
            field.def = value;
    }
    if (field.kind == Schema::Kind::Integer && field.min > field.max)
        throw Error(fmt::format("{}: member {} has min {} above max {}", what, field.name,
                                int_to_string(field.min), int_to_string(field.max)));
    if (field.kind == Schema::Kind::Integer && field.def &&
        (*field.def < field.min || *field.def > field.max))
        throw Error(fmt::format("{}: member {} has default {} outside its range {}", what,
                                field.name, int_to_string(*field.def), range_text(field)));
}

Schema describe(const btf* btf, std::uint32_t type_id, const MemberTags& tags,
                std::string_view what, int depth) {
    if (depth > 16)
        throw Error(fmt::format("{}: type nests too deeply", what));
    const std::uint32_t id = btf__resolve_type(btf, type_id) >= 0
                                 ? static_cast<std::uint32_t>(btf__resolve_type(btf, type_id))
                                 : type_id;
    const btf_type* t = btf__type_by_id(btf, id);
    if (!t)
        throw Error(fmt::format("{}: BTF type {} does not exist", what, type_id));

    Schema s;
    if (btf_is_int(t)) {
        const std::uint8_t encoding = btf_int_encoding(t);
        const unsigned bits = btf_int_bits(t);
        if (btf_int_offset(t) != 0 || bits != t->size * 8 || bits > 64)
            throw Error(fmt::format("{}: integer type {} of {} bits is not supported", what,
                                    type_name(btf, t), bits));
        s.size = t->size;
        s.is_signed = encoding & BTF_INT_SIGNED;
        if (encoding & BTF_INT_BOOL) {
            s.min = 0;
            s.max = 1;
        } else if (s.is_signed) {
            s.min = -(static_cast<Int>(1) << (bits - 1));
            s.max = (static_cast<Int>(1) << (bits - 1)) - 1;
        } else {
            s.min = 0;
            s.max = (static_cast<Int>(1) << bits) - 1;
        }
        return s;
    }
    if (btf_is_enum(t) || btf_is_enum64(t)) {
        s.size = t->size;
        s.is_signed = btf_kflag(t);
        const unsigned bits = t->size * 8;
        s.min = s.is_signed ? -(static_cast<Int>(1) << (bits - 1)) : 0;
        s.max = s.is_signed ? (static_cast<Int>(1) << (bits - 1)) - 1
                            : (static_cast<Int>(1) << bits) - 1;
        s.enumerators = enumerators(btf, t);
        return s;
    }
    if (btf_is_array(t)) {
        const struct btf_array* a = btf_array(t);
        s.kind = Schema::Kind::Array;
        s.count = a->nelems;
        s.children.push_back(describe(btf, a->type, tags, what, depth + 1));
        s.size = s.count * s.children.front().size;
        return s;
    }
    if (btf_is_struct(t)) {
        s.kind = Schema::Kind::Struct;
        s.size = t->size;
        const btf_member* m = btf_members(t);
        for (int i = 0; i < btf_vlen(t); ++i, ++m) {
            if (btf_member_bitfield_size(t, i) != 0 || btf_member_bit_offset(t, i) % 8 != 0)
                throw Error(fmt::format("{}: member {} of {} is a bitfield, which ufqctl cannot "
                                        "edit",
                                        what, btf__name_by_offset(btf, m->name_off),
                                        type_name(btf, t)));
            Schema member = describe(btf, m->type, tags, what, depth + 1);
            member.name = btf__name_by_offset(btf, m->name_off);
            member.offset = btf_member_bit_offset(t, i) / 8;
            if (member.name.empty())
                throw Error(fmt::format("{}: {} has an anonymous member, which ufqctl cannot "
                                        "name",
                                        what, type_name(btf, t)));
            if (const auto it = tags.find({id, i}); it != tags.end())
                apply_tags(member, it->second, what);
            s.children.push_back(std::move(member));
        }
        return s;
    }
    const char* kinds[] = {"unknown", "int",   "pointer", "array",  "struct", "union",
                           "enum",    "fwd",   "typedef", "volatile", "const", "restrict",
                           "func",    "func_proto", "var", "datasec", "float", "decl_tag",
                           "type_tag", "enum64"};
    const unsigned kind = btf_kind(t);
    throw Error(fmt::format("{}: {} {} is not supported (only integers, arrays and structs)",
                            what, kind < std::size(kinds) ? kinds[kind] : "type",
                            type_name(btf, t)));
}

void check_fits(const Schema& schema, std::size_t available) {
    if (schema.size > available)
        throw Error(fmt::format("value of {} bytes does not fit in {} bytes", schema.size,
                                available));
}

// The integer `field` describes, in exactly its bytes (its offset already applied).
Int read_raw(const Schema& field, std::span<const std::uint8_t> bytes) {
    std::uint64_t raw = 0;
    switch (field.size) {
    case 1: raw = bytes[0]; break;
    case 2: { std::uint16_t v; std::memcpy(&v, bytes.data(), 2); raw = v; break; }
    case 4: { std::uint32_t v; std::memcpy(&v, bytes.data(), 4); raw = v; break; }
    case 8: std::memcpy(&raw, bytes.data(), 8); break;
    default: throw Error(fmt::format("integer of {} bytes is not supported", field.size));
    }
    if (field.is_signed && field.size < 8 && ((raw >> (field.size * 8 - 1)) & 1))
        return static_cast<Int>(raw) - (static_cast<Int>(1) << (field.size * 8));
    if (field.is_signed && field.size == 8)
        return static_cast<std::int64_t>(raw);
    return raw;
}

void write_raw(const Schema& field, std::span<std::uint8_t> bytes, Int value) {
    const auto raw = static_cast<std::uint64_t>(value); // two's complement truncation
    switch (field.size) {
    case 1: bytes[0] = static_cast<std::uint8_t>(raw); break;
    case 2: { const auto v = static_cast<std::uint16_t>(raw); std::memcpy(bytes.data(), &v, 2); break; }
    case 4: { const auto v = static_cast<std::uint32_t>(raw); std::memcpy(bytes.data(), &v, 4); break; }
    case 8: std::memcpy(bytes.data(), &raw, 8); break;
    default: throw Error(fmt::format("integer of {} bytes is not supported", field.size));
    }
}

void from_json(const Schema& s, const nlohmann::json& j, std::span<std::uint8_t> bytes,
               const std::string& path) {
    // "coef[1]: expected ..."; problems with the whole value have no path.
    const std::string where = path.empty() ? "" : path + ": ";
    switch (s.kind) {
    case Schema::Kind::Integer: {
        if (j.is_boolean() && s.max == 1 && s.min == 0) {
            write_raw(s, bytes, j.get<bool>() ? 1 : 0);
            return;
        }
        if (!j.is_number_integer())
            throw Error(fmt::format("{}{} is not an integer", where, j.dump()));
        const Int v = j.is_number_unsigned() ? static_cast<Int>(j.get<std::uint64_t>())
                                             : static_cast<Int>(j.get<std::int64_t>());
        if (v < s.min || v > s.max)
            throw Error(fmt::format("{}{} is out of range {}", where, int_to_string(v),
                                    range_text(s)));
        write_raw(s, bytes, v);
        return;
    }
    case Schema::Kind::Array: {
        if (!j.is_array())
            throw Error(fmt::format("{}expected an array of {}, got {}", where, s.count,
                                    j.type_name()));
        if (j.size() != s.count)
            throw Error(fmt::format("{}expected {} elements, got {}", where, s.count,
                                    j.size()));
        const Schema& elem = s.children.front();
        for (std::size_t i = 0; i < s.count; ++i)
            from_json(elem, j[i], bytes.subspan(i * elem.size, elem.size),
                      fmt::format("{}[{}]", path, i));
        return;
    }
    case Schema::Kind::Struct: {
        if (!j.is_object())
            throw Error(fmt::format("{}expected an object, got {}", where, j.type_name()));
        for (const auto& [key, value] : j.items())
            if (!s.member(key))
                throw Error(fmt::format("{}unknown member '{}'", where, key));
        for (const Schema& m : s.children) {
            const std::string member_path = path.empty() ? m.name : path + "." + m.name;
            if (!j.contains(m.name))
                throw Error(fmt::format("{}: missing", member_path));
            from_json(m, j.at(m.name), bytes.subspan(m.offset, m.size), member_path);
        }
        return;
    }
    }
}

} // namespace

std::string int_to_string(Int value) {
    if (value == 0)
        return "0";
    const bool negative = value < 0;
    unsigned __int128 magnitude = negative ? -static_cast<unsigned __int128>(value)
                                           : static_cast<unsigned __int128>(value);
    std::string digits;
    while (magnitude) {
        digits.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
        magnitude /= 10;
    }
    if (negative)
        digits.push_back('-');
    std::reverse(digits.begin(), digits.end());
    return digits;
}

const Schema* Schema::member(std::string_view member_name) const {
    for (const auto& child : children)
        if (child.name == member_name)
            return &child;
    return nullptr;
}

std::optional<std::string> Schema::enumerator_name(Int value) const {
    for (const auto& [name, v] : enumerators)
        if (v == value)
            return name;
    return std::nullopt;
}

std::string integer_text(const Enumerators& enumerators, Int value) {
    for (const auto& [name, v] : enumerators)
        if (v == value)
            return name;
    return int_to_string(value);
}

Schema describe_btf_type(const btf* btf, std::uint32_t type_id, std::string_view what) {
    return describe(btf, type_id, collect_member_tags(btf), what, 0);
}

Int read_integer(const Schema& field, std::span<const std::uint8_t> base) {
    if (field.offset + field.size > base.size())
        throw Error(fmt::format("{} at byte {} lies outside a value of {} bytes", field.name,
                                field.offset, base.size()));
    return read_raw(field, base.subspan(field.offset, field.size));
}

void write_integer(const Schema& field, std::span<std::uint8_t> base, Int value) {
    if (field.offset + field.size > base.size())
        throw Error(fmt::format("{} at byte {} lies outside a value of {} bytes", field.name,
                                field.offset, base.size()));
    write_raw(field, base.subspan(field.offset, field.size), value);
}

Int parse_integer(const Schema& field, std::string_view text, std::string_view what) {
    if (field.kind != Schema::Kind::Integer)
        throw Error(fmt::format("{} is not a single integer and cannot be set from text", what));
    std::optional<Int> value;
    if (field.min == 0 && field.max == 1 && (text == "true" || text == "false"))
        value = text == "true" ? 1 : 0;
    else
        value = parse_int_text(text);
    // An enumerator by its short name, in any case.
    for (const auto& [name, v] : field.enumerators)
        if (!value && same_name(text, name))
            value = v;
    if (!value && !field.enumerators.empty()) {
        std::vector<std::string> names;
        for (const auto& [name, v] : field.enumerators)
            if (v >= field.min && v <= field.max)
                names.push_back(name);
        throw Error(fmt::format("{}: '{}' is not one of {} (or a number)", what, text,
                                fmt::join(names, ", ")));
    }
    if (!value)
        throw Error(fmt::format("{}: '{}' is not an integer", what, text));
    if (*value < field.min || *value > field.max)
        throw Error(fmt::format("{}: {} is out of range {}", what, text, range_text(field)));
    return *value;
}

nlohmann::json value_to_json(const Schema& s, std::span<const std::uint8_t> bytes,
                             bool enum_names) {
    check_fits(s, bytes.size());
    switch (s.kind) {
    case Schema::Kind::Integer: {
        const Int v = read_raw(s, bytes);
        if (enum_names)
            if (const auto name = s.enumerator_name(v))
                return *name;
        if (v < 0)
            return static_cast<std::int64_t>(v);
        return static_cast<std::uint64_t>(v);
    }
    case Schema::Kind::Array: {
        auto out = nlohmann::json::array();
        const Schema& elem = s.children.front();
        for (std::size_t i = 0; i < s.count; ++i)
            out.push_back(
                value_to_json(elem, bytes.subspan(i * elem.size, elem.size), enum_names));
        return out;
    }
    case Schema::Kind::Struct: {
        auto out = nlohmann::json::object();
        for (const Schema& m : s.children)
            out[m.name] = value_to_json(m, bytes.subspan(m.offset, m.size), enum_names);
        return out;
    }
    }
    return nullptr;
}

void json_to_value(const Schema& schema, const nlohmann::json& json,
                   std::span<std::uint8_t> bytes) {
    check_fits(schema, bytes.size());
    from_json(schema, json, bytes.first(schema.size), "");
}

} // namespace ufq
