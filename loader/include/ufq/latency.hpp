#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/device.hpp"
#include "ufq/policy.hpp"

namespace ufq {

// The SDK's latency histogram of one device (include/ufq/latency.h), summed over CPUs.
struct LatencyHistogram {
    std::array<std::vector<std::uint64_t>, 2> count; // [read, write][bucket]
    std::array<std::uint64_t, 2> sum_ns{};

    LatencyHistogram();
    [[nodiscard]] std::uint64_t total() const; // samples in both directions
    // What was added since `earlier` (counters only grow; a reset reads as the whole value).
    [[nodiscard]] LatencyHistogram since(const LatencyHistogram& earlier) const;
};

// Percentiles of one direction, in microseconds (bucket midpoints: within 6.25%).
struct LatencySummary {
    std::uint64_t count = 0;
    double mean_us = 0;
    double p50_us = 0;
    double p99_us = 0;
    double p999_us = 0;
};

[[nodiscard]] LatencySummary summarize(std::span<const std::uint64_t> buckets,
                                       std::uint64_t sum_ns);
// The value below which a fraction `q` (0..1] of the samples lie, in ns; 0 when empty.
[[nodiscard]] double percentile_ns(std::span<const std::uint64_t> buckets, double q);

// Adds up the per-CPU values of the map as bpf_map_lookup_elem returns them, those that count
// for device `dev` (struct ufq_latency.dev, the kernel's device number).
[[nodiscard]] LatencyHistogram sum_cpus(std::span<const std::uint8_t> percpu_values, int cpus,
                                        std::uint32_t dev);

// The device's ufq id (/sys/block/<dev>/queue/iosched/id), its index in the SDK's latency map.
[[nodiscard]] std::uint32_t ufq_id(const BlockDevice& dev, const SysfsRoot& sys = {});

// The histogram of `dev` kept by `policy` (its pinned map ufq_latency; empty before the first
// completion on the device), or nullopt if the policy does not keep one.
[[nodiscard]] std::optional<LatencyHistogram> read_latency(const std::string& policy,
                                                           const BlockDevice& dev,
                                                           const Paths& paths = {});

// Histograms by a class the policy chose (bpf/ufq_class_stats.bpf.h, map ufq_class_latency):
// the classes that counted anything for `dev`, by number; nullopt if the policy keeps none.
using ClassLatency = std::map<std::uint32_t, LatencyHistogram>;
[[nodiscard]] std::optional<ClassLatency> read_class_latency(const std::string& policy,
                                                             const BlockDevice& dev,
                                                             const Paths& paths = {});

[[nodiscard]] nlohmann::json to_json(const LatencySummary& s);

} // namespace ufq
