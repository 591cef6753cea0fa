#include "ufq/latency.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <unistd.h>
#include <cstring>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/latency.h"
#include "ufq/status.hpp"
#include "ufq/sysfs.hpp"

namespace fs = std::filesystem;

namespace ufq {

LatencyHistogram::LatencyHistogram() {
    for (auto& c : count)
        c.assign(UFQ_LAT_BUCKETS, 0);
}

std::uint64_t LatencyHistogram::total() const {
    std::uint64_t n = 0;
    for (const auto& dir : count)
        for (const auto c : dir)
            n += c;
    return n;
}

LatencyHistogram LatencyHistogram::since(const LatencyHistogram& earlier) const {
    LatencyHistogram d;
    for (std::size_t dir = 0; dir < 2; ++dir) {
        bool reset = sum_ns[dir] < earlier.sum_ns[dir];
        for (std::size_t b = 0; b < UFQ_LAT_BUCKETS && !reset; ++b)
            reset = count[dir][b] < earlier.count[dir][b];
        for (std::size_t b = 0; b < UFQ_LAT_BUCKETS; ++b)
            d.count[dir][b] = reset ? count[dir][b] : count[dir][b] - earlier.count[dir][b];
        d.sum_ns[dir] = reset ? sum_ns[dir] : sum_ns[dir] - earlier.sum_ns[dir];
    }
    return d;
}

double percentile_ns(std::span<const std::uint64_t> buckets, double q) {
    std::uint64_t total = 0;
    for (const auto c : buckets)
        total += c;
    if (total == 0)
        return 0;
    // The rank of the sample at quantile q, 1-based: p99 of 100 samples is the 99th.
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total)));
    std::uint64_t seen = 0;
    for (std::uint32_t b = 0; b < buckets.size(); ++b) {
        seen += buckets[b];
        if (seen >= std::max<std::uint64_t>(rank, 1)) {
            const double low = static_cast<double>(ufq_lat_bucket_low(b));
            if (b + 1 >= UFQ_LAT_BUCKETS)
                return low; // open-ended: the lower bound is all we know
            const double high = static_cast<double>(ufq_lat_bucket_high(b));
            // Single-value buckets below 8 ns are exact.
            return high - low <= 1 ? low : (low + high) / 2;
        }
    }
    return 0;
}

LatencySummary summarize(std::span<const std::uint64_t> buckets, std::uint64_t sum_ns) {
    LatencySummary s;
    for (const auto c : buckets)
        s.count += c;
    if (s.count == 0)
        return s;
    s.mean_us = static_cast<double>(sum_ns) / static_cast<double>(s.count) / 1000.0;
    s.p50_us = percentile_ns(buckets, 0.50) / 1000.0;
    s.p99_us = percentile_ns(buckets, 0.99) / 1000.0;
    s.p999_us = percentile_ns(buckets, 0.999) / 1000.0;
    return s;
}

LatencyHistogram sum_cpus(std::span<const std::uint8_t> percpu_values, int cpus,
                          std::uint32_t dev) {
    // Per-CPU values come back one after another, each rounded up to 8 bytes.
    const std::size_t stride = (sizeof(ufq_latency) + 7) / 8 * 8;
    if (cpus <= 0 || percpu_values.size() < stride * static_cast<std::size_t>(cpus))
        throw Error(fmt::format("latency map value of {} bytes is too small for {} CPUs",
                                percpu_values.size(), cpus));
    LatencyHistogram h;
    for (int cpu = 0; cpu < cpus; ++cpu) {
        ufq_latency v;
        std::memcpy(&v, percpu_values.data() + stride * static_cast<std::size_t>(cpu), sizeof(v));
        if (v.dev != dev)
            continue; // this CPU still counts for an earlier device of the same id
        for (std::size_t dir = 0; dir < 2; ++dir) {
            for (std::size_t b = 0; b < UFQ_LAT_BUCKETS; ++b)
                h.count[dir][b] += v.count[UFQ_LAT_IDX(dir, b)];
            h.sum_ns[dir] += v.sum_ns[dir];
        }
    }
    return h;
}

std::uint32_t ufq_id(const BlockDevice& dev, const SysfsRoot& sys) {
    const fs::path attr = sys.sys / "block" / dev.name / "queue" / "iosched" / "id";
    std::string text = read_sysfs(attr);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.pop_back();
    std::uint32_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size())
        throw Error(fmt::format("{}: '{}' is not a ufq device id (is the ufq kernel the one "
                                "this ufqctl was built for?)",
                                attr.string(), text));
    return id;
}

namespace {

// The pinned per-CPU array `map` of `policy` whose values are struct ufq_latency, or -1 if the
// policy has no such map.
int open_latency_map(const std::string& policy, const char* map, const Paths& paths) {
    const fs::path pin = paths.policy_dir(policy) / "maps" / map;
    const int fd = bpf_obj_get(pin.c_str());
    if (fd < 0)
        return -1;
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_map_get_info_by_fd(fd, &info, &len) != 0 || info.value_size != sizeof(ufq_latency) ||
        info.type != BPF_MAP_TYPE_PERCPU_ARRAY) {
        close(fd);
        throw Error(fmt::format("map {} of policy {} is not the SDK's latency histogram "
                                "(rebuild the policy against this ufqctl's SDK)",
                                map, policy));
    }
    return fd;
}

std::uint32_t max_entries(int fd) {
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    return bpf_map_get_info_by_fd(fd, &info, &len) == 0 ? info.max_entries : 0;
}

LatencyHistogram lookup_latency(int fd, std::uint32_t idx, const BlockDevice& dev,
                                const std::string& policy) {
    const int cpus = libbpf_num_possible_cpus();
    std::vector<std::uint8_t> values((sizeof(ufq_latency) + 7) / 8 * 8 *
                                     static_cast<std::size_t>(std::max(cpus, 1)));
    if (bpf_map_lookup_elem(fd, &idx, values.data()) != 0)
        throw Error(fmt::format("cannot read the latency histogram of {} from policy {}: {}",
                                dev.name, policy, errno_text(errno)));
    return sum_cpus(values, cpus, kernel_dev(dev));
}

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0)
            close(fd);
    }
};

} // namespace

std::optional<LatencyHistogram> read_latency(const std::string& policy, const BlockDevice& dev,
                                             const Paths& paths) {
    // Not loaded by ufqctl, or no ufq_sdk_completed() in it: no histogram.
    const Fd map{open_latency_map(policy, "ufq_latency", paths)};
    if (map.fd < 0)
        return std::nullopt;
    const std::uint32_t id = ufq_id(dev, paths.sys);
    if (id >= max_entries(map.fd))
        return std::nullopt; // the SDK keeps no histogram for this many devices
    return lookup_latency(map.fd, id, dev, policy);
}

std::optional<ClassLatency> read_class_latency(const std::string& policy, const BlockDevice& dev,
                                               const Paths& paths) {
    const Fd map{open_latency_map(policy, "ufq_class_latency", paths)};
    if (map.fd < 0)
        return std::nullopt;
    const std::uint32_t id = ufq_id(dev, paths.sys);
    if (UFQ_LAT_CLASS_IDX(id + 1, 0) > max_entries(map.fd))
        return std::nullopt;
    ClassLatency classes;
    for (std::uint32_t c = 0; c < UFQ_LAT_MAX_CLASSES; ++c) {
        LatencyHistogram h = lookup_latency(map.fd, UFQ_LAT_CLASS_IDX(id, c), dev, policy);
        if (h.total() > 0)
            classes.emplace(c, std::move(h));
    }
    return classes;
}

nlohmann::json to_json(const LatencySummary& s) {
    auto round = [](double v) { return std::round(v * 10) / 10; };
    return {{"count", s.count},
            {"mean_us", round(s.mean_us)},
            {"p50_us", round(s.p50_us)},
            {"p99_us", round(s.p99_us)},
            {"p99_9_us", round(s.p999_us)}};
}

} // namespace ufq
