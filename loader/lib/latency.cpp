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

std::optional<LatencyHistogram> read_latency(const std::string& policy, const BlockDevice& dev,
                                             const Paths& paths) {
    const fs::path pin = paths.policy_dir(policy) / "maps" / "ufq_latency";
    const int fd = bpf_obj_get(pin.c_str());
    if (fd < 0)
        return std::nullopt; // not loaded by ufqctl, or no ufq_sdk_completed() in it
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_map_get_info_by_fd(fd, &info, &len) != 0 || info.value_size != sizeof(ufq_latency) ||
        info.type != BPF_MAP_TYPE_PERCPU_ARRAY) {
        close(fd);
        throw Error(fmt::format("map ufq_latency of policy {} is not the SDK's latency "
                                "histogram (rebuild the policy against this ufqctl's SDK)",
                                policy));
    }
    std::uint32_t id = 0;
    try {
        id = ufq_id(dev, paths.sys);
    } catch (...) {
        close(fd);
        throw;
    }
    if (id >= info.max_entries) {
        close(fd);
        return std::nullopt; // the SDK keeps no histogram for this many devices
    }
    const int cpus = libbpf_num_possible_cpus();
    std::vector<std::uint8_t> values((sizeof(ufq_latency) + 7) / 8 * 8 *
                                     static_cast<std::size_t>(std::max(cpus, 1)));
    const int rc = bpf_map_lookup_elem(fd, &id, values.data());
    const int err = errno;
    close(fd);
    if (rc != 0)
        throw Error(fmt::format("cannot read the latency histogram of {} from policy {}: {}",
                                dev.name, policy, errno_text(err)));
    return sum_cpus(values, cpus, kernel_dev(dev));
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
