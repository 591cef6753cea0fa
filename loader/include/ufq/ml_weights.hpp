#pragma once

// The trainer's float network as the ml policy's Q16.16 weights (struct ml_weights of
// policies/ml_model.h), and those weights as the JSON `ufqctl model push ml` accepts. Needs
// policies/ on the include path (libufq and the unit tests have it).

#include <array>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "ml_model.h"
#include "ufq/ml_train.hpp"

namespace ufq::ml {

// The ranges struct ml_weights declares with UFQ_RANGE (ml_model.h's ML_*_MIN/MAX), which
// ufq_unit_tests checks against the BTF of ml.bpf.o: what quantisation saturates to, and what
// `model push` accepts.
inline constexpr std::int32_t kMeanMax = ML_MEAN_MAX;
inline constexpr std::int32_t kScaleMax = ML_SCALE_MAX;
inline constexpr std::int32_t kWeightMax = ML_WEIGHT_MAX;
static_assert(ML_MEAN_MIN == -kMeanMax && ML_SCALE_MIN == 0 && ML_WEIGHT_MIN == -kWeightMax,
              "the trainer saturates symmetrically (scales at 0)");

// Rounds every weight to Q16.16, saturating to the ranges struct ml_weights declares
// (UFQ_RANGE). The sequential classifier's weights stay 0: the policy's built-in ones.
[[nodiscard]] ml_weights quantise(const Network& net, std::uint32_t trained_on,
                                  const std::array<std::uint32_t, 2>& baseline_err_pct);

// Members in the struct's order, named as in the struct (which is what the model map's BTF
// says and so what `model push` checks).
[[nodiscard]] nlohmann::ordered_json to_json(const ml_weights& w);

} // namespace ufq::ml
