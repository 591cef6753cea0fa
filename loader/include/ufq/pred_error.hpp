#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/device.hpp"
#include "ufq/policy.hpp"
#include "ufq/pred_error.h"

namespace ufq {

// The SDK's prediction-error histogram (include/ufq/pred_error.h, map ufq_pred_error) of one
// device, or of several added up, for one model generation.
struct PredError {
    std::uint64_t model_gen = 0;
    std::array<std::uint64_t, 2> count{};   // read, write
    std::array<std::uint64_t, 2> sum_pct{};
    std::array<std::array<std::uint64_t, UFQ_PRED_ERR_BUCKETS>, 2> bucket{};

    // Adds `other` (of the same generation: another device, another CPU).
    void add(const PredError& other);
};

// One direction's figures, in whole percent (bucket interpolation: within 5 points below 200%).
struct PredErrorSummary {
    std::uint64_t count = 0;
    double mean_pct = 0;
    std::uint32_t median_pct = 0;
    std::uint32_t p90_pct = 0;
};
[[nodiscard]] PredErrorSummary summarize(const PredError& e, int dir);

// Adds up the per-CPU copies of one entry of the map, as bpf_map_lookup_elem returns them,
// that count for device `dev` (the kernel's device number) and generation `generation`. Each
// CPU's copy starts over when a completion of another device or generation meets it, so a
// copy naming another device is left from an earlier one of the same id, and one naming
// another generation from before a push (or one this CPU has not seen completions of yet).
// Without `generation`, the newest one among the copies naming `dev` counts.
[[nodiscard]] PredError sum_pred_error_cpus(std::span<const std::uint8_t> percpu_values,
                                            int cpus, std::uint32_t dev,
                                            std::optional<std::uint64_t> generation);

// The generation of `policy`'s live model (0 before the first push), or nullopt if it has no
// readable model map.
[[nodiscard]] std::optional<std::uint64_t> live_model_generation(const std::string& policy,
                                                                 const Paths& paths = {});

// The prediction error `policy` keeps for `dev`, for the live model's generation (or, for a
// policy without a model map, the newest the map holds); nullopt if the policy keeps none
// (no map ufq_pred_error, or a device id beyond it). Throws ufq::Error for a map that is not
// the SDK's or cannot be read.
[[nodiscard]] std::optional<PredError> read_pred_error(const std::string& policy,
                                                       const BlockDevice& dev,
                                                       std::optional<std::uint64_t> generation,
                                                       const Paths& paths = {});

// {"model_generation", "read": {"count", "mean_pct", "median_pct", "p90_pct"}, "write": ...};
// a direction without completions is null.
[[nodiscard]] nlohmann::json to_json(const PredError& e);

} // namespace ufq
