// Reading the SDK's prediction-error histograms (map ufq_pred_error) for ufqctl stats and
// ufqctl model show.
#include "ufq/pred_error.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/latency.hpp"
#include "ufq/model.hpp"
#include "ufq/pinned_map.hpp"
#include "ufq/status.hpp"
#include "unique_fd.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

constexpr const char* kMap = "ufq_pred_error";

PredError from_value(const ufq_pred_error& v) {
    PredError e;
    e.model_gen = v.model_gen;
    for (std::size_t d = 0; d < 2; ++d) {
        e.count[d] = v.count[d];
        e.sum_pct[d] = v.sum_pct[d];
        std::copy(std::begin(v.bucket[d]), std::end(v.bucket[d]), e.bucket[d].begin());
    }
    return e;
}

} // namespace

void PredError::add(const PredError& other) {
    for (std::size_t d = 0; d < 2; ++d) {
        count[d] += other.count[d];
        sum_pct[d] += other.sum_pct[d];
        for (std::size_t b = 0; b < UFQ_PRED_ERR_BUCKETS; ++b)
            bucket[d][b] += other.bucket[d][b];
    }
}

PredErrorSummary summarize(const PredError& e, int dir) {
    PredErrorSummary s;
    const std::size_t d = dir ? 1 : 0;
    s.count = e.count[d];
    if (!s.count)
        return s;
    s.mean_pct = static_cast<double>(e.sum_pct[d]) / static_cast<double>(s.count);
    s.median_pct = ufq_pred_err_percentile(e.bucket[d].data(), 50);
    s.p90_pct = ufq_pred_err_percentile(e.bucket[d].data(), 90);
    return s;
}

PredError sum_pred_error_cpus(std::span<const std::uint8_t> percpu_values, int cpus,
                              std::uint32_t dev, std::optional<std::uint64_t> generation) {
    // Per-CPU values come back one after another, each rounded up to 8 bytes.
    const std::size_t stride = (sizeof(ufq_pred_error) + 7) / 8 * 8;
    if (cpus <= 0 || percpu_values.size() < stride * static_cast<std::size_t>(cpus))
        throw Error(fmt::format("prediction-error map value of {} bytes is too small for {} CPUs",
                                percpu_values.size(), cpus));
    std::vector<ufq_pred_error> copies;
    for (int cpu = 0; cpu < cpus; ++cpu) {
        ufq_pred_error v;
        std::memcpy(&v, percpu_values.data() + stride * static_cast<std::size_t>(cpu), sizeof(v));
        if (v.dev == dev)
            copies.push_back(v);
    }
    PredError sum;
    if (generation) {
        sum.model_gen = *generation;
    } else {
        for (const auto& v : copies)
            sum.model_gen = std::max<std::uint64_t>(sum.model_gen, v.model_gen);
    }
    for (const auto& v : copies)
        if (v.model_gen == sum.model_gen)
            sum.add(from_value(v));
    return sum;
}

std::optional<std::uint64_t> live_model_generation(const std::string& policy,
                                                   const Paths& paths) {
    const auto names = policy_maps_with_suffix(paths, policy, kModelSuffix);
    if (names.size() != 1)
        return std::nullopt;
    try {
        const PinnedMap map(paths.maps_dir(policy) / names.front());
        const ModelLayout layout = model_layout(map.value_schema(), map.name());
        return read_model(layout, map.lookup(0)).generation;
    } catch (const Error&) {
        return std::nullopt; // not a model ufqctl can read: fall back to the newest generation
    }
}

std::optional<PredError> read_pred_error(const std::string& policy, const BlockDevice& dev,
                                         std::optional<std::uint64_t> generation,
                                         const Paths& paths) {
    // Not loaded by ufqctl, or a policy that does not report predictions: nothing to show.
    const fs::path pin = paths.maps_dir(policy) / kMap;
    const UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (!fd.valid())
        return std::nullopt;
    bpf_map_info info{};
    std::uint32_t len = sizeof(info);
    if (bpf_map_get_info_by_fd(fd.get(), &info, &len) != 0 ||
        info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != sizeof(ufq_pred_error))
        throw Error(fmt::format("map {} of policy {} is not the SDK's prediction-error histogram "
                                "(rebuild the policy against this ufqctl's SDK)",
                                kMap, policy));
    const std::uint32_t id = ufq_id(dev, paths.sys);
    if (id >= info.max_entries)
        return std::nullopt; // the SDK keeps no histogram for this many devices
    const int cpus = libbpf_num_possible_cpus();
    std::vector<std::uint8_t> values((sizeof(ufq_pred_error) + 7) / 8 * 8 *
                                     static_cast<std::size_t>(std::max(cpus, 1)));
    if (bpf_map_lookup_elem(fd.get(), &id, values.data()) != 0)
        throw Error(fmt::format("cannot read the prediction error of {} from policy {}: {}",
                                dev.name, policy, errno_text(errno)));
    return sum_pred_error_cpus(values, cpus, kernel_dev(dev), generation);
}

nlohmann::json to_json(const PredError& e) {
    nlohmann::json j{{"model_generation", e.model_gen}};
    for (int d = 0; d < 2; ++d) {
        const auto s = summarize(e, d);
        j[d ? "write" : "read"] =
            s.count ? nlohmann::json{{"count", s.count},
                                     {"mean_pct", std::round(s.mean_pct * 10) / 10},
                                     {"median_pct", s.median_pct},
                                     {"p90_pct", s.p90_pct}}
                    : nlohmann::json(nullptr);
    }
    return j;
}

} // namespace ufq
