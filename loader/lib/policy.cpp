#include "ufq/policy.hpp"

#include "ufq/error.hpp"
#include "ufq/require.hpp"
#include "ufq/scheduler.hpp"
#include "ufq/sysfs.hpp"
#include "ufq/tunables.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace fs = std::filesystem;

namespace ufq {

fs::path Paths::policy_dir(const std::string& policy) const { return bpffs / "ufq" / policy; }
fs::path Paths::link_pin(const std::string& policy) const { return policy_dir(policy) / "link"; }
fs::path Paths::state_file(const std::string& policy) const { return state / (policy + ".json"); }

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

struct LibbpfLogCapture {
    libbpf_print_fn_t previous;
    LibbpfLogCapture() : previous(libbpf_set_print(capture_libbpf)) { libbpf_log().clear(); }
    ~LibbpfLogCapture() { libbpf_set_print(previous); }
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;
};

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

// ---- RAII owners of libbpf objects ---------------------------------------------------------

struct ObjectCloser {
    void operator()(bpf_object* obj) const { bpf_object__close(obj); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectCloser>;

struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkCloser>;

// Undo actions run in reverse unless dismissed: what makes every failure leave nothing behind.
class Rollback {
public:
    Rollback() = default;
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;
    ~Rollback() {
        for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
            try {
                (*it)();
            } catch (const std::exception&) { // best effort: the original error matters more
            }
        }
    }
    void add(std::function<void()> fn) { undo_.push_back(std::move(fn)); }
    void dismiss() { undo_.clear(); }

private:
    std::vector<std::function<void()>> undo_;
};

// A policy's ufq_ops struct_ops map and the name in it.
struct PolicyMap {
    bpf_map* map = nullptr;
    std::string name;
};

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
    if (found.name.empty())
        throw Error(fmt::format("the struct ufq_ops in {} has no name", object.string()));
    return found;
}

ObjectPtr open_object(const fs::path& object) {
    if (!fs::is_regular_file(object))
        throw Error(fmt::format("no policy object at {} (build it with make build)",
                                object.string()));
    bpf_object* obj = bpf_object__open_file(object.c_str(), nullptr);
    if (!obj)
        throw Error(fmt::format("{} is not a BPF object libbpf can open: {}", object.string(),
                                std::strerror(errno)));
    return ObjectPtr(obj);
}

void load_object(bpf_object* obj, const std::string& policy) {
    if (bpf_object__load(obj) == 0)
        return;
    const int err = errno;
    const fs::path log_path = fs::temp_directory_path() / fmt::format("ufqctl-{}.log", policy);
    std::ofstream(log_path) << libbpf_log();
    // One line saying what happened, then the indented end of the verifier log.
    throw Error(fmt::format("the kernel refused policy {}: {}; last lines of the log:\n{}"
                            "  full log: {}",
                            policy, std::strerror(err), last_lines(libbpf_log(), 12),
                            log_path.string()));
}

// The struct_ops link, attached. A policy that was just unloaded may still be registered
// for a moment (the kernel releases links asynchronously): retry briefly on EEXIST.
LinkPtr attach_policy(bpf_map* map, const std::string& policy) {
    for (int attempt = 0;; ++attempt) {
        bpf_link* link = bpf_map__attach_struct_ops(map);
        if (link)
            return LinkPtr(link);
        const int err = errno;
        if (err == EEXIST && attempt < 40) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        if (err == EEXIST)
            throw Error(fmt::format("a policy named {} is already registered in the kernel "
                                    "(ufqctl unload {} first)",
                                    policy, policy));
        throw Error(fmt::format("cannot attach policy {}: {}", policy, std::strerror(err)));
    }
}

void pin_maps(bpf_object* obj, const fs::path& dir) {
    fs::create_directories(dir / "maps");
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS || bpf_map__is_internal(map))
            continue;
        const fs::path pin = dir / "maps" / bpf_map__name(map);
        if (bpf_map__pin(map, pin.c_str()) != 0)
            throw Error(fmt::format("cannot pin map {} at {}: {}", bpf_map__name(map),
                                    pin.string(), std::strerror(errno)));
    }
}

void remove_pins(const fs::path& dir) {
    std::error_code ec;
    fs::remove_all(dir, ec); // unlinking a pin drops its reference; the last one detaches
}

nlohmann::json read_state(const Paths& paths, const std::string& policy) {
    std::ifstream in(paths.state_file(policy));
    if (!in)
        return nlohmann::json::object();
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        return nlohmann::json::object();
    }
}

void write_state(const Paths& paths, const LoadedPolicy& loaded) {
    nlohmann::json state;
    state["policy"] = loaded.name;
    state["devices"] = nlohmann::json::array();
    for (const auto& bound : loaded.devices)
        state["devices"].push_back({{"name", bound.device.name},
                                    {"previous_scheduler", bound.previous_scheduler}});
    fs::create_directories(paths.state);
    const fs::path tmp = paths.state_file(loaded.name).string() + ".tmp";
    std::ofstream(tmp) << state.dump(2) << '\n';
    fs::rename(tmp, paths.state_file(loaded.name));
}

// ---- tunables and map reuse -----------------------------------------------------------------

// The object's tunables map (name ending in _tunables) and the value ufqctl starts it with:
// the defaults from its BTF, then the user's KEY=VAL assignments. Computed before the object is
// loaded, so that a typo costs no verifier run and leaves nothing behind.
struct ObjectTunables {
    bpf_map* map = nullptr;
    std::vector<std::uint8_t> value;
};

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
    const Schema schema = describe_btf_type(bpf_object__btf(obj),
                                            bpf_map__btf_value_type_id(tmap), "map " + name);
    check_tunables_schema(schema, name);
    ObjectTunables t{tmap, std::vector<std::uint8_t>(bpf_map__value_size(tmap))};
    apply_defaults(schema, t.value);
    apply_assignments(schema, t.value, assignments, policy);
    return t;
}

void write_tunables(const ObjectTunables& t) {
    if (!t.map)
        return;
    const std::uint32_t zero = 0;
    if (bpf_map__update_elem(t.map, &zero, sizeof(zero), t.value.data(), t.value.size(),
                             BPF_ANY) != 0)
        throw Error(fmt::format("cannot initialise tunables map {}: {}", bpf_map__name(t.map),
                                std::strerror(errno)));
}

// Swap keeps the running policy's state: each map of the new object that has a pinned
// counterpart of the same name and definition reuses it, so tunables, models, statistics and
// per-device state carry over. A map whose definition changed starts afresh.
std::vector<std::string> reuse_pinned_maps(bpf_object* obj, const fs::path& dir) {
    std::vector<std::string> reused;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS || bpf_map__is_internal(map))
            continue;
        const fs::path pin = dir / "maps" / bpf_map__name(map);
        const int fd = bpf_obj_get(pin.c_str());
        if (fd < 0)
            continue;
        bpf_map_info info{};
        std::uint32_t len = sizeof(info);
        const bool same = bpf_map_get_info_by_fd(fd, &info, &len) == 0 &&
                          info.type == bpf_map__type(map) &&
                          info.key_size == bpf_map__key_size(map) &&
                          info.value_size == bpf_map__value_size(map) &&
                          info.max_entries == bpf_map__max_entries(map) &&
                          info.map_flags == bpf_map__map_flags(map);
        if (same && bpf_map__reuse_fd(map, fd) == 0)
            reused.emplace_back(bpf_map__name(map));
        close(fd); // reuse_fd keeps its own duplicate
    }
    return reused;
}

fs::path policy_attr(const BlockDevice& dev, const SysfsRoot& sys) {
    return sys.sys / "block" / dev.name / "queue" / "iosched" / "policy";
}

} // namespace

PolicyAttr parse_policy_attr(std::string_view text) {
    PolicyAttr attr;
    std::istringstream in{std::string(text)};
    for (std::string word; in >> word;) {
        if (word.size() >= 2 && word.front() == '[' && word.back() == ']') {
            word = word.substr(1, word.size() - 2);
            attr.active = word;
        }
        if (word != "none")
            attr.registered.push_back(word);
    }
    return attr;
}

void bind_device(const BlockDevice& dev, const std::string& name, const SysfsRoot& sys) {
    set_scheduler(dev, "ufq", sys);
    try {
        write_sysfs(policy_attr(dev, sys), name);
    } catch (const Error& e) {
        if (e.sys_errno() == ENOENT)
            throw Error(fmt::format("no policy named {} is loaded (ufqctl load POLICY.bpf.o)",
                                    name));
        throw Error(fmt::format("{}: cannot bind policy {}: {}", dev.name, name,
                                std::strerror(e.sys_errno())));
    }
}

LoadedPolicy load_policy(const fs::path& object, const std::vector<std::string>& device_specs,
                         const std::vector<std::string>& assignments, const Paths& paths) {
    require_root();
    require_ufq_kernel();

    // Resolve every device first: a typo must not leave a policy half-attached.
    std::vector<BlockDevice> devices;
    for (const auto& spec : device_specs)
        devices.push_back(resolve_device(spec, paths.sys));

    LibbpfLogCapture capture;
    ObjectPtr obj = open_object(object);
    const PolicyMap policy = find_policy_map(obj.get(), object);
    const fs::path dir = paths.policy_dir(policy.name);
    if (fs::exists(dir))
        throw Error(fmt::format("policy {} is already loaded (ufqctl swap {} {} replaces it, "
                                "ufqctl unload {} removes it)",
                                policy.name, policy.name, object.string(), policy.name));
    const ObjectTunables tunables = prepare_tunables(obj.get(), policy.name, assignments);

    load_object(obj.get(), policy.name);
    write_tunables(tunables); // before the first callback can read them
    Rollback rollback;
    LinkPtr link = attach_policy(policy.map, policy.name);

    fs::create_directories(dir);
    rollback.add([dir] { remove_pins(dir); });
    if (bpf_link__pin(link.get(), paths.link_pin(policy.name).c_str()) != 0)
        throw Error(fmt::format("cannot pin the policy link at {}: {}",
                                paths.link_pin(policy.name).string(), std::strerror(errno)));
    pin_maps(obj.get(), dir);

    LoadedPolicy loaded{policy.name, {}};
    for (const auto& dev : devices) {
        const SchedulerState before = read_scheduler(dev, paths.sys);
        rollback.add([dev, before, sys = paths.sys] {
            if (before.active != "ufq")
                set_scheduler(dev, before.active, sys);
            else
                write_sysfs(policy_attr(dev, sys), "none");
        });
        bind_device(dev, policy.name, paths.sys);
        loaded.devices.push_back({dev, before.active});
    }
    write_state(paths, loaded);

    // The pin keeps the policy attached after this process exits.
    bpf_link__disconnect(link.get());
    rollback.dismiss();
    return loaded;
}

void unload_policy(const std::string& name, bool keep_ufq, const Paths& paths) {
    require_root();
    const fs::path dir = paths.policy_dir(name);
    if (!fs::exists(dir))
        throw Error(fmt::format("no policy named {} is loaded (ufqctl list shows them)", name));

    const nlohmann::json state = read_state(paths, name);
    for (const auto& entry : state.value("devices", nlohmann::json::array())) {
        BlockDevice dev;
        try {
            dev = resolve_device(entry.at("name").get<std::string>(), paths.sys);
        } catch (const Error&) {
            continue; // the device went away; nothing to restore
        }
        const fs::path attr = policy_attr(dev, paths.sys);
        if (!fs::exists(attr))
            continue; // no longer on ufq: someone chose another elevator since
        const PolicyAttr bound = parse_policy_attr(read_sysfs(attr));
        if (bound.active != name && bound.active != "none")
            continue; // moved to another policy since: that one serves it now
        if (bound.active == name)
            write_sysfs(attr, "none");
        const std::string previous = entry.value("previous_scheduler", "");
        if (!keep_ufq && !previous.empty() && previous != "ufq")
            set_scheduler(dev, previous, paths.sys);
    }
    remove_pins(dir);
    std::error_code ec;
    fs::remove(paths.state_file(name), ec);
}

void unbind_device(const BlockDevice& dev, const SysfsRoot& sys) {
    require_root();
    const SchedulerState sched = read_scheduler(dev, sys);
    if (sched.active != "ufq")
        throw Error(fmt::format("{} does not use the ufq elevator (its scheduler is {}), so it "
                                "has no policy to unbind",
                                dev.name, sched.active));
    write_sysfs(policy_attr(dev, sys), "none");
}

void bind_policy(const BlockDevice& dev, const std::string& name, const Paths& paths) {
    require_root();
    if (name == "none") {
        unbind_device(dev, paths.sys);
        return;
    }
    const SchedulerState before = read_scheduler(dev, paths.sys);
    bind_device(dev, name, paths.sys);

    // Remember the device with the policy ufqctl loaded, so that unload restores its elevator.
    // A device another loaded policy already remembers keeps that record (and its elevator).
    for (const auto& other : loaded_policies(paths))
        for (const auto& entry : read_state(paths, other).value("devices", nlohmann::json::array()))
            if (entry.value("name", "") == dev.name)
                return;
    if (!fs::exists(paths.link_pin(name)))
        return; // a policy loaded by another tool: nothing of ours to restore
    nlohmann::json state = read_state(paths, name);
    LoadedPolicy loaded{name, {}};
    for (const auto& entry : state.value("devices", nlohmann::json::array()))
        loaded.devices.push_back({BlockDevice{entry.value("name", ""), 0, 0, {}},
                                  entry.value("previous_scheduler", "")});
    loaded.devices.push_back({dev, before.active});
    write_state(paths, loaded);
}

void swap_policy(const std::string& name, const fs::path& object, const Paths& paths) {
    require_root();
    const fs::path dir = paths.policy_dir(name);
    if (!fs::exists(paths.link_pin(name)))
        throw Error(fmt::format("no policy named {} is loaded (ufqctl load {} first)", name,
                                object.string()));

    LibbpfLogCapture capture;
    ObjectPtr obj = open_object(object);
    const PolicyMap policy = find_policy_map(obj.get(), object);
    if (policy.name != name)
        throw Error(fmt::format("{} defines policy {}, not {}; swap replaces a policy with a new "
                                "version of itself",
                                object.string(), policy.name, name));
    const std::vector<std::string> reused = reuse_pinned_maps(obj.get(), dir);
    ObjectTunables tunables = prepare_tunables(obj.get(), name, {});
    load_object(obj.get(), name);
    if (tunables.map &&
        std::find(reused.begin(), reused.end(), bpf_map__name(tunables.map)) == reused.end())
        write_tunables(tunables); // a new tunables layout starts from its defaults

    LinkPtr link(bpf_link__open(paths.link_pin(name).c_str()));
    if (!link)
        throw Error(fmt::format("cannot open the link of policy {} at {}: {}", name,
                                paths.link_pin(name).string(), std::strerror(errno)));
    // The pinned link stays attached whatever happens to this handle.
    bpf_link__disconnect(link.get());
    if (bpf_link__update_map(link.get(), policy.map) != 0)
        throw Error(fmt::format("the kernel refused to swap policy {}: {}", name,
                                std::strerror(errno)));

    // The running programs now use the new object's maps: pin those instead.
    std::error_code ec;
    fs::remove_all(dir / "maps", ec);
    pin_maps(obj.get(), dir);
}

std::string policy_name_of(const fs::path& object) {
    LibbpfLogCapture capture;
    ObjectPtr obj = open_object(object);
    return find_policy_map(obj.get(), object).name;
}

std::vector<std::string> loaded_policies(const Paths& paths) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(paths.bpffs / "ufq", ec))
        if (fs::exists(entry.path() / "link"))
            names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace ufq
