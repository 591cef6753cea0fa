// ufqctl load, unload, bind and unbind: a policy attached and pinned, devices bound to it and
// given back what they had.
#include "ufq/policy.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "errno_text.hpp"
#include "policy_object.hpp"
#include "rollback.hpp"
#include "ufq/error.hpp"
#include "ufq/require.hpp"
#include "ufq/scheduler.hpp"
#include "ufq/state.hpp"
#include "ufq/status.hpp"
#include "ufq/struct_ops.hpp"
#include "ufq/sysfs.hpp"
#include "ufq/tunables.hpp"

namespace fs = std::filesystem;

namespace ufq {

fs::path Paths::policy_dir(const std::string& policy) const { return bpffs / "ufq" / policy; }
fs::path Paths::link_pin(const std::string& policy) const { return policy_dir(policy) / "link"; }
fs::path Paths::maps_dir(const std::string& policy) const { return policy_dir(policy) / "maps"; }
fs::path Paths::policy_lock(const std::string& policy) const {
    return state / (policy + ".lock");
}
fs::path Paths::verifier_log(const std::string& policy) const {
    return state / (policy + ".verifier.log");
}
// Policy names have no '.', so these cannot be mistaken for a policy's files.
fs::path Paths::devices_lock() const { return state / ".devices.lock"; }
fs::path Paths::device_records() const { return state / "devices.json"; }

namespace {

constexpr std::string_view kUfq = "ufq";
constexpr std::string_view kNone = "none";
constexpr std::size_t kMaxPolicyName = 15; // UFQ_NAME_LEN - 1 in the kernel

// `text` with anything that is not printable ASCII shown as '?', for messages.
std::string printable(std::string_view text) {
    std::string out(text.substr(0, 64));
    for (char& c : out)
        if (c < 0x20 || c > 0x7e)
            c = '?';
    return out;
}

// Destroying a struct_ops link closes its fd: that detaches the policy unless the link is
// pinned, in which case the pin keeps it (so no bpf_link__disconnect, which would leak the fd).
struct LinkCloser {
    void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using LinkPtr = std::unique_ptr<bpf_link, LinkCloser>;

bool contains(const std::vector<std::string>& list, std::string_view item) {
    return std::find(list.begin(), list.end(), item) != list.end();
}

std::string foreign_policy_advice(const std::string& policy, const Paths& paths) {
    return fmt::format("a policy named {} is already registered in the kernel by another program "
                       "(ufqctl has no pins for it under {}): remove it with the tool that "
                       "loaded it, or give this policy another name",
                       policy, paths.policy_dir(policy).string());
}

// Whether `policy` is registered, waiting up to 2 s for it to go: the kernel releases a link
// whose last pin was just removed asynchronously, so a policy unloaded a moment ago may still
// be listed.
bool still_registered(const Paths& paths, const std::string& policy) {
    for (int attempt = 0;; ++attempt) {
        if (!contains(registered_policies(paths), policy))
            return false;
        if (attempt == 40)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

// The struct_ops link, attached (retrying briefly on EEXIST, see still_registered).
LinkPtr attach_policy(bpf_map* map, const std::string& policy, const Paths& paths) {
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
            throw Error(foreign_policy_advice(policy, paths));
        if (err == EOPNOTSUPP)
            throw Error(fmt::format("the kernel refused to register policy {}: it takes ufq "
                                    "policies only through a struct_ops link "
                                    "(SEC(\".struct_ops.link\"))",
                                    policy));
        throw Error(fmt::format("cannot attach policy {}: {} (see dmesg)", policy,
                                errno_text(err)));
    }
}


// ---- devices -----------------------------------------------------------------------------------

fs::path policy_attr(const BlockDevice& dev, const SysfsRoot& sys) {
    return sys.sys / "block" / dev.name / "queue" / "iosched" / "policy";
}

std::string dev_number(const BlockDevice& dev) {
    return fmt::format("{}:{}", dev.major, dev.minor);
}

// A device's elevator and, on ufq, the policy serving it ("none" if none).
struct Binding {
    std::string scheduler;
    std::string policy{kNone};
};

Binding read_binding(const BlockDevice& dev, const SysfsRoot& sys) {
    Binding b;
    b.scheduler = read_scheduler(dev, sys).active;
    if (b.scheduler == kUfq)
        b.policy = parse_policy_attr(read_sysfs(policy_attr(dev, sys))).active;
    return b;
}

std::string describe(const Binding& b) {
    return b.scheduler == kUfq ? fmt::format("policy {}", b.policy)
                               : fmt::format("elevator {}", b.scheduler);
}

// Puts `dev` back as it was: its elevator, or on ufq the policy that served it.
void restore_binding(const BlockDevice& dev, const Binding& before, const SysfsRoot& sys) {
    if (before.scheduler != kUfq) {
        set_scheduler(dev, before.scheduler, sys);
        return;
    }
    set_scheduler(dev, kUfq, sys);
    write_sysfs(policy_attr(dev, sys), before.policy);
}

// Switches `dev` (which had `before`) to ufq and binds `policy`; on failure restores `before`.
void bind_one(const BlockDevice& dev, const std::string& policy, const Binding& before,
              const SysfsRoot& sys) {
    set_scheduler(dev, kUfq, sys);
    try {
        write_sysfs(policy_attr(dev, sys), policy);
    } catch (const Error& e) {
        std::string undo;
        try {
            restore_binding(dev, before, sys);
        } catch (const Error& r) {
            undo = fmt::format("; restoring its {} failed too: {}", describe(before), r.what());
        }
        if (e.sys_errno() == ENOENT)
            throw Error(fmt::format("{}: no policy named {} is registered any more{}", dev.name,
                                    policy, undo));
        throw Error(fmt::format("{}: cannot bind policy {}: {} (its init_dev may have refused the "
                                "device; see dmesg){}",
                                dev.name, policy,
                                e.sys_errno() ? errno_text(e.sys_errno()) : e.what(), undo),
                    e.sys_errno());
    }
}

std::vector<DeviceRecord>::iterator find_record(std::vector<DeviceRecord>& records,
                                                std::string_view name) {
    return std::find_if(records.begin(), records.end(),
                        [&](const DeviceRecord& r) { return r.name == name; });
}

void move_to_top(std::vector<std::string>& policies, const std::string& policy) {
    std::erase(policies, policy);
    policies.push_back(policy);
}

// Notes in `records` that ufqctl bound `dev`, which had `before`, to `policy`: a device seen for
// the first time remembers its elevator (and the policy it had, if on ufq); a device moved from
// another policy keeps its record, with `policy` now last.
void record_binding(std::vector<DeviceRecord>& records, const BlockDevice& dev,
                    const Binding& before, const std::string& policy) {
    auto it = find_record(records, dev.name);
    // Another disk under the same name, or the device left ufq since: start over.
    if (it != records.end() && (it->dev != dev_number(dev) || before.scheduler != kUfq)) {
        records.erase(it);
        it = records.end();
    }
    if (it == records.end()) {
        records.push_back({dev.name, dev_number(dev), before.scheduler, {}});
        it = std::prev(records.end());
    }
    // Bound some other way since ufqctl last bound it: that policy comes before this one.
    if (before.scheduler == kUfq && before.policy != kNone &&
        (it->policies.empty() || it->policies.back() != before.policy))
        move_to_top(it->policies, before.policy);
    move_to_top(it->policies, policy);
}

// Gives device `name` back what it had before ufqctl bound it to `policy`, which is going away
// (see unload_policy). Updates `records`; throws ufq::Error for what could not be done, with
// `elevator_failed` set if that was restoring the elevator.
void give_back(const std::string& name, const std::string& policy, bool keep_ufq,
               const std::vector<std::string>& registered, std::vector<DeviceRecord>& records,
               const SysfsRoot& sys, bool& elevator_failed) {
    auto it = find_record(records, name);
    BlockDevice dev;
    try {
        dev = resolve_device(name, sys);
    } catch (const Error&) {
        if (it != records.end())
            records.erase(it); // the device went away: nothing to restore
        return;
    }
    if (it != records.end() && it->dev != dev_number(dev)) {
        records.erase(it); // another disk by that name now
        it = records.end();
    }
    const Binding now = read_binding(dev, sys);
    if (now.scheduler != kUfq) {
        if (it != records.end())
            records.erase(it); // someone chose another elevator since: theirs to keep
        return;
    }
    const fs::path attr = policy_attr(dev, sys);
    const bool had_it_last =
        it != records.end() && !it->policies.empty() && it->policies.back() == policy;
    if (it != records.end())
        std::erase(it->policies, policy);
    // Served by `policy`, or unbound since ufqctl bound it to `policy`.
    const bool ours = now.policy == policy || (now.policy == kNone && had_it_last);
    if (!ours) {
        // Another policy serves it now: it stays. If that one was bound some other way, it is
        // what unloading gives back to first from now on.
        if (it != records.end() && now.policy != kNone)
            move_to_top(it->policies, now.policy);
        return;
    }
    if (it == records.end()) {
        // Not bound through ufqctl: nothing known to give back; FIFO order on ufq.
        write_sysfs(attr, kNone);
        return;
    }
    if (!keep_ufq) {
        // The newest earlier policy that is still there and takes the device.
        while (!it->policies.empty()) {
            if (contains(registered, it->policies.back())) {
                try {
                    write_sysfs(attr, it->policies.back());
                    return;
                } catch (const Error&) { // refused it: further back
                }
            }
            it->policies.pop_back();
        }
    }
    const std::string elevator = it->elevator;
    records.erase(it);
    if (keep_ufq || elevator == kUfq) {
        write_sysfs(attr, kNone);
        return;
    }
    try {
        write_sysfs(attr, kNone); // leaving ufq unbinds it anyway; this keeps the order clean
    } catch (const Error&) {
    }
    try {
        set_scheduler(dev, elevator, sys);
    } catch (const Error& e) {
        elevator_failed = true;
        throw Error(fmt::format("cannot restore elevator {}: {}", elevator, e.what()));
    }
}

} // namespace

// ---- public API ----------------------------------------------------------------------------------

void check_policy_name(std::string_view name) {
    // The kernel also allows '.', which bpffs refuses in the names of pins.
    const bool ok = !name.empty() && name.size() <= kMaxPolicyName && name != kNone &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '_';
                    });
    if (!ok)
        throw Error(fmt::format("'{}' is not a policy name ufqctl can manage (1 to {} letters, "
                                "digits or '_', and not 'none')",
                                printable(name), kMaxPolicyName));
}

PolicyAttr parse_policy_attr(std::string_view text) {
    PolicyAttr attr;
    std::istringstream in{std::string(text)};
    for (std::string word; in >> word;) {
        if (word.size() >= 2 && word.front() == '[' && word.back() == ']') {
            word = word.substr(1, word.size() - 2);
            attr.active = word;
        }
        if (word != kNone)
            attr.registered.push_back(word);
    }
    return attr;
}

std::vector<std::string> registered_policies(const Paths& paths) {
    if (paths.registry)
        return paths.registry();
    return kernel_registered_policies(paths.vmlinux_btf);
}

LoadedPolicy load_policy(const fs::path& object, const std::vector<std::string>& device_specs,
                         const std::vector<std::string>& assignments, const Paths& paths) {
    require_root();
    require_ufq_kernel(paths.vmlinux_btf);

    // Every device first: a typo, or a device that cannot take ufq, must not cost a verifier
    // run or leave a policy half-attached.
    std::vector<BlockDevice> devices;
    for (const auto& spec : device_specs) {
        BlockDevice dev = resolve_device(spec, paths.sys);
        if (std::none_of(devices.begin(), devices.end(),
                         [&](const BlockDevice& d) { return d.name == dev.name; }))
            devices.push_back(std::move(dev));
    }
    for (const auto& dev : devices)
        check_scheduler_offered(dev, kUfq, paths.sys);

    LibbpfLogCapture capture;
    ObjectPtr obj = open_object(object);
    const PolicyMap policy = find_policy_map(obj.get(), object);
    const LockFile lock = lock_policy(paths, policy.name);
    const fs::path dir = paths.policy_dir(policy.name);
    if (fs::exists(paths.link_pin(policy.name)))
        throw Error(fmt::format("policy {} is already loaded (ufqctl swap {} {} replaces it, "
                                "ufqctl unload {} removes it)",
                                policy.name, policy.name, object.string(), policy.name));
    remove_pins(dir); // what a ufqctl that died half-way may have left; we hold the lock
    if (still_registered(paths, policy.name))
        throw Error(foreign_policy_advice(policy.name, paths));
    const ObjectTunables tunables = prepare_tunables(obj.get(), policy.name, assignments);

    load_object(obj.get(), policy.name, paths);
    write_tunables(tunables); // before the first callback can read them

    std::optional<LockFile> devices_lock; // outlives the rollback, which may restore devices
    Rollback rollback;
    const LinkPtr link = attach_policy(policy.map, policy.name, paths);
    rollback.add([dir] { remove_pins(dir); });
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    const int rc = bpf_link__pin(link.get(), paths.link_pin(policy.name).c_str());
    if (rc != 0)
        throw Error(fmt::format("cannot pin the policy link at {}: {}",
                                paths.link_pin(policy.name).string(), errno_text(-rc)));
    pin_maps(obj.get(), paths.maps_dir(policy.name));

    LoadedPolicy loaded{policy.name, {}};
    if (!devices.empty()) {
        devices_lock.emplace(lock_devices(paths));
        auto records = read_device_records(paths.device_records());
        for (const auto& dev : devices) {
            const Binding before = read_binding(dev, paths.sys);
            rollback.add([dev, before, sys = paths.sys] { restore_binding(dev, before, sys); });
            bind_one(dev, policy.name, before, paths.sys);
            record_binding(records, dev, before, policy.name);
            loaded.devices.push_back(dev);
        }
        write_device_records(paths.device_records(), records);
    }
    forget_verifier_log(paths, policy.name);
    rollback.dismiss();
    return loaded; // the link's fd is closed; its pin keeps the policy attached
}

void unload_policy(const std::string& name, bool keep_ufq, const Paths& paths) {
    require_root();
    check_policy_name(name);
    const LockFile lock = lock_policy(paths, name);
    const fs::path dir = paths.policy_dir(name);
    std::error_code ec;
    if (!fs::exists(dir, ec)) {
        if (contains(registered_policies(paths), name))
            throw Error(fmt::format("policy {} was not loaded by ufqctl (it has no pins under "
                                    "{}): remove it with the tool that registered it",
                                    name, (paths.bpffs / "ufq").string()));
        throw Error(fmt::format("no policy named {} is loaded (ufqctl list shows them)", name));
    }
    const LockFile devices_lock = lock_devices(paths);
    auto records = read_device_records(paths.device_records());
    std::vector<std::string> registered = registered_policies(paths);
    std::erase(registered, name);

    // The devices ufqctl bound to it, and every device it serves however it got there.
    std::set<std::string> names;
    for (const auto& r : records)
        if (contains(r.policies, name))
            names.insert(r.name);
    for (const auto& dev : ufq_devices(paths.sys)) {
        try {
            if (read_binding(dev, paths.sys).policy == name)
                names.insert(dev.name);
        } catch (const Error&) { // gone while we looked
        }
    }

    std::vector<std::string> errors;
    bool elevator_failed = false;
    for (const auto& device : names) {
        try {
            give_back(device, name, keep_ufq, registered, records, paths.sys, elevator_failed);
        } catch (const Error& e) {
            errors.push_back(fmt::format("{}: {}", device, e.what()));
        }
    }
    fs::remove_all(dir, ec); // the last reference to the link goes: the policy is detached
    const bool detached = !ec;
    if (ec)
        errors.push_back(fmt::format("cannot remove the pins in {}: {}", dir.string(),
                                     ec.message()));
    try {
        write_device_records(paths.device_records(), records);
    } catch (const Error& e) {
        errors.emplace_back(e.what());
    }
    fs::remove(paths.state / (name + ".model.lock"), ec); // left by ufqctl 0.1's model push
    forget_verifier_log(paths, name);
    if (errors.empty())
        return;
    throw Error(fmt::format(
        "{}: {}{}",
        detached ? fmt::format("policy {} is unloaded, but", name)
                 : fmt::format("policy {} could not be unloaded completely", name),
        fmt::join(errors, "; "),
        elevator_failed ? " (those devices stay on the ufq elevator without a policy, in FIFO "
                          "order; ufqctl unload --keep-ufq leaves devices there on purpose, or "
                          "set their elevator by hand)"
                        : ""));
}

void unbind_device(const BlockDevice& dev, const Paths& paths) {
    require_root();
    const LockFile devices_lock = lock_devices(paths);
    const SchedulerState sched = read_scheduler(dev, paths.sys);
    if (sched.active != kUfq)
        throw Error(fmt::format("{} does not use the ufq elevator (its scheduler is {}), so it "
                                "has no policy to unbind",
                                dev.name, sched.active));
    write_sysfs(policy_attr(dev, paths.sys), kNone);
}

void bind_policy(const BlockDevice& dev, const std::string& name, const Paths& paths) {
    require_root();
    if (name == kNone) {
        unbind_device(dev, paths);
        return;
    }
    check_policy_name(name);
    const LockFile lock = lock_policy(paths, name); // so that it is not unloaded meanwhile
    const LockFile devices_lock = lock_devices(paths);
    // Everything that can fail without changing anything, first.
    if (!contains(registered_policies(paths), name))
        throw Error(fmt::format("no policy named {} is registered in the kernel (ufqctl load "
                                "POLICY.bpf.o loads one; ufqctl list shows those ufqctl loaded)",
                                name));
    check_scheduler_offered(dev, kUfq, paths.sys);
    auto records = read_device_records(paths.device_records());
    const Binding before = read_binding(dev, paths.sys);

    bind_one(dev, name, before, paths.sys);
    record_binding(records, dev, before, name);
    try {
        write_device_records(paths.device_records(), records);
    } catch (const Error&) {
        try {
            restore_binding(dev, before, paths.sys);
        } catch (const Error&) { // the first error says what matters
        }
        throw;
    }
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
