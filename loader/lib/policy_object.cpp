#include "policy_object.hpp"

#include <bpf/btf.h>
#include <fmt/format.h>
#include <stdio.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <sstream>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/state.hpp"
#include "ufq/tunables.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

// ---- libbpf output: kept, so a verifier rejection can be shown in a few lines ---------------

std::string& libbpf_log() {
    static std::string log;
    return log;
}

int capture_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
    if (level == LIBBPF_DEBUG)
        return 0;
    va_list copy;
    va_copy(copy, args);
    const int n = vsnprintf(nullptr, 0, fmt, copy);
    va_end(copy);
    if (n <= 0)
        return n;
    std::string text(static_cast<size_t>(n) + 1, '\0');
    vsnprintf(text.data(), text.size(), fmt, args);
    text.resize(static_cast<size_t>(n));
    libbpf_log() += text;
    return n;
}


std::string last_lines(const std::string& text, size_t count) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!line.empty())
            lines.push_back(line);
    std::string out;
    for (size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
        out += "  " + lines[i] + "\n";
    return out;
}

std::string struct_ops_name(const bpf_object* obj, const bpf_map* map) {
    const btf* btf = bpf_object__btf(obj);
    const btf_type* type = btf__type_by_id(btf, bpf_map__btf_value_type_id(map));
    size_t size = 0;
    const auto* data = static_cast<const char*>(bpf_map__initial_value(map, &size));
    if (!type || !data)
        return {};
    const btf_member* member = btf_members(type);
    for (int i = 0; i < btf_vlen(type); ++i, ++member) {
        if (std::strcmp(btf__name_by_offset(btf, member->name_off), "name") != 0)
            continue;
        const size_t offset = btf_member_bit_offset(type, i) / 8;
        if (offset >= size)
            return {};
        return std::string(data + offset, strnlen(data + offset, size - offset));
    }
    return {};
}

} // namespace

LibbpfLogCapture::LibbpfLogCapture() : previous_(libbpf_set_print(capture_libbpf)) {
    libbpf_log().clear();
}

LibbpfLogCapture::~LibbpfLogCapture() { libbpf_set_print(previous_); }

PolicyMap find_policy_map(const bpf_object* obj, const fs::path& object) {
    PolicyMap found;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__type(map) != BPF_MAP_TYPE_STRUCT_OPS)
            continue;
        const btf_type* type =
            btf__type_by_id(bpf_object__btf(obj), bpf_map__btf_value_type_id(map));
        if (!type || std::strcmp(btf__name_by_offset(bpf_object__btf(obj), type->name_off),
                                 "ufq_ops") != 0)
            continue;
        if (found.map)
            throw Error(fmt::format("{} defines more than one struct ufq_ops; a policy object "
                                    "must define exactly one",
                                    object.string()));
        found.map = map;
        found.name = struct_ops_name(obj, map);
    }
    if (!found.map)
        throw Error(fmt::format("{} is not a ufq policy: it has no struct ufq_ops in a "
                                ".struct_ops.link section (see bpf/ufq.bpf.h)",
                                object.string()));
    // A plain struct_ops map registers the policy until someone deletes its element; only a
    // link detaches it when its pin goes. The kernel refuses it too (EOPNOTSUPP), but without a
    // word of why.
    if (!(bpf_map__map_flags(found.map) & BPF_F_LINK))
        throw Error(fmt::format("{}: its struct ufq_ops {} is in section .struct_ops; ufq policies "
                                "are attached through a link, so it must be in "
                                "SEC(\".struct_ops.link\") (UFQ_POLICY in bpf/ufq.bpf.h does that)",
                                object.string(), bpf_map__name(found.map)));
    if (found.name.empty())
        throw Error(fmt::format("the struct ufq_ops in {} has no name", object.string()));
    try {
        check_policy_name(found.name);
    } catch (const Error& e) {
        throw Error(fmt::format("the struct ufq_ops in {}: {}", object.string(), e.what()));
    }
    return found;
}

ObjectPtr open_object(const fs::path& object) {
    if (!fs::is_regular_file(object))
        throw Error(fmt::format("no policy object at {} (build it with make build)",
                                object.string()));
    bpf_object* obj = bpf_object__open_file(object.c_str(), nullptr);
    if (!obj) {
        char text[128];
        libbpf_strerror(errno, text, sizeof(text)); // libbpf's own codes (4000 and up) too
        throw Error(fmt::format("{} is not a BPF object libbpf can open: {}", object.string(),
                                text));
    }
    return ObjectPtr(obj);
}

void load_object(bpf_object* obj, const std::string& policy, const Paths& paths) {
    const int rc = bpf_object__load(obj);
    if (rc == 0)
        return;
    const fs::path log_path = paths.verifier_log(policy);
    std::string saved;
    try {
        ensure_state_dir(paths.state);
        write_private_file(log_path, libbpf_log());
        saved = "  full log: " + log_path.string();
    } catch (const Error& e) {
        saved = fmt::format("  (the full log could not be saved: {})", e.what());
    }
    // One line saying what happened, then the indented end of the verifier log.
    throw Error(fmt::format("the kernel refused policy {}: {}; last lines of the log:\n{}{}",
                            policy, errno_text(-rc), last_lines(libbpf_log(), 12), saved));
}

void forget_verifier_log(const Paths& paths, const std::string& policy) {
    std::error_code ec;
    fs::remove(paths.verifier_log(policy), ec); // from an earlier, failed attempt
}

void pin_maps(bpf_object* obj, const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS || bpf_map__is_internal(map))
            continue;
        const fs::path pin = dir / bpf_map__name(map);
        const int rc = bpf_map__pin(map, pin.c_str());
        if (rc != 0)
            throw Error(fmt::format("cannot pin map {} at {}: {}", bpf_map__name(map),
                                    pin.string(), errno_text(-rc)));
    }
}

void remove_pins(const fs::path& dir) {
    std::error_code ec;
    fs::remove_all(dir, ec);
}

ObjectTunables prepare_tunables(bpf_object* obj, const std::string& policy,
                                const std::vector<std::string>& assignments) {
    std::vector<bpf_map*> found;
    std::vector<std::string> names;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        const std::string_view name = bpf_map__name(map);
        if (!bpf_map__is_internal(map) && name.size() > kTunablesSuffix.size() &&
            name.ends_with(kTunablesSuffix)) {
            found.push_back(map);
            names.emplace_back(name);
        }
    }
    if (found.empty()) {
        if (!assignments.empty())
            (void)tunables_map_name(names, policy); // throws: the policy has no tunables
        return {};
    }
    const std::string name = tunables_map_name(names, policy);
    bpf_map* tmap = found.front();
    if (bpf_map__type(tmap) != BPF_MAP_TYPE_ARRAY || bpf_map__max_entries(tmap) != 1)
        throw Error(fmt::format("map {} of policy {} is not a one-element array, so not a "
                                "tunables map (see UFQ_TUNABLES_MAP in bpf/ufq.bpf.h)",
                                name, policy));
    ObjectTunables t;
    t.map = tmap;
    t.schema = describe_btf_type(bpf_object__btf(obj), bpf_map__btf_value_type_id(tmap),
                                 "map " + name);
    check_tunables_schema(t.schema, name);
    t.value.assign(bpf_map__value_size(tmap), 0);
    apply_defaults(t.schema, t.value);
    apply_assignments(t.schema, t.value, assignments, policy);
    return t;
}

void write_tunables(const ObjectTunables& t) {
    if (!t.map)
        return;
    const std::uint32_t zero = 0;
    const int rc = bpf_map__update_elem(t.map, &zero, sizeof(zero), t.value.data(),
                                        t.value.size(), BPF_ANY);
    if (rc != 0)
        throw Error(fmt::format("cannot initialise tunables map {}: {}", bpf_map__name(t.map),
                                errno_text(-rc)));
}

} // namespace ufq
