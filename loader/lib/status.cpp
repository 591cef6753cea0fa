#include "ufq/status.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "ufq/error.hpp"
#include "ufq/scheduler.hpp"
#include "ufq/state.hpp"
#include "ufq/sysfs.hpp"

namespace fs = std::filesystem;

namespace ufq {

Counters parse_counters(std::string_view text) {
    Counters counters;
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);) {
        const std::string_view l = trim(line);
        if (l.empty())
            continue;
        const auto space = l.find(' ');
        std::uint64_t value = 0;
        const std::string_view number = space == std::string_view::npos ? "" : trim(l.substr(space));
        const auto [ptr, ec] =
            std::from_chars(number.data(), number.data() + number.size(), value);
        if (number.empty() || ec != std::errc{} || ptr != number.data() + number.size())
            throw Error(fmt::format("unexpected line '{}' in the ufq stats attribute (expected "
                                    "NAME COUNT)",
                                    l));
        counters.emplace_back(std::string(l.substr(0, space)), value);
    }
    return counters;
}

std::uint64_t counter(const Counters& counters, std::string_view name) {
    for (const auto& [key, value] : counters)
        if (key == name)
            return value;
    return 0;
}

DeviceStatus read_device_status(const BlockDevice& dev, const SysfsRoot& sys) {
    DeviceStatus st;
    st.device = dev;
    st.scheduler = read_scheduler(dev, sys).active;
    st.on_ufq = st.scheduler == "ufq";
    if (!st.on_ufq)
        return st;
    const fs::path dir = sys.sys / "block" / dev.name / "queue" / "iosched";
    const PolicyAttr policy = parse_policy_attr(read_sysfs(dir / "policy"));
    st.policy = policy.active;
    st.registered = policy.registered;
    st.state = read_sysfs(dir / "state");
    st.last_error = read_sysfs(dir / "last_error");
    st.counters = parse_counters(read_sysfs(dir / "stats"));
    return st;
}

std::vector<BlockDevice> ufq_devices(const SysfsRoot& sys) {
    std::vector<BlockDevice> devices;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(sys.sys / "block", ec)) {
        const std::string name = entry.path().filename().string();
        try {
            const BlockDevice dev = resolve_device(name, sys);
            if (read_scheduler(dev, sys).active == "ufq")
                devices.push_back(dev);
        } catch (const Error&) {
            continue; // vanished while we looked, or not a disk with a queue
        }
    }
    std::sort(devices.begin(), devices.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return devices;
}

std::vector<PolicyStatus> loaded_policy_status(const Paths& paths) {
    std::vector<PolicyStatus> out;
    const auto names = loaded_policies(paths);
    if (names.empty())
        return out;
    const auto records = read_device_records(paths.device_records());
    for (const auto& name : names) {
        PolicyStatus p{name, {}, {}};
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(paths.maps_dir(name), ec))
            p.maps.push_back(entry.path().filename().string());
        std::sort(p.maps.begin(), p.maps.end());
        for (const auto& r : records)
            if (!r.policies.empty() && r.policies.back() == name)
                p.devices.push_back(r.name);
        out.push_back(std::move(p));
    }
    return out;
}

nlohmann::json to_json(const DeviceStatus& st) {
    nlohmann::json j{{"device", st.device.name},
                     {"dev", fmt::format("{}:{}", st.device.major, st.device.minor)},
                     {"scheduler", st.scheduler}};
    if (!st.on_ufq)
        return j;
    j["policy"] = st.policy;
    j["registered"] = st.registered;
    j["state"] = st.state;
    j["last_error"] = st.last_error;
    auto counters = nlohmann::json::object();
    for (const auto& [key, value] : st.counters)
        counters[key] = value;
    j["stats"] = counters;
    return j;
}

nlohmann::json to_json(const PolicyStatus& p) {
    return {{"name", p.name}, {"devices", p.devices}, {"maps", p.maps}};
}

} // namespace ufq
