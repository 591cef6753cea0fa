// The float network -> struct ml_weights (Q16.16, saturating) -> JSON for `model push`.
#include "ufq/ml_weights.hpp"

#include <cstring>

namespace ufq::ml {

// 4-byte members: in_mean, in_scale and the ML_HIDDEN rows of w1 per feature, and 25 others
// (b1 8, w2 8, b2, seq_w 4, seq_b, trained_on, baseline_err_pct 2). A member added to the
// struct must be added below too, or `model push` refuses the file as incomplete
// (ufq_unit_tests checks the JSON against ml.bpf.o).
static_assert(sizeof(ml_weights) == ((2 + ML_HIDDEN) * ML_NR_FEATURES + 25) * 4,
              "struct ml_weights changed: update ml_quantise.cpp");

ml_weights quantise(const Network& net, std::uint32_t trained_on,
                    const std::array<std::uint32_t, 2>& baseline_err_pct) {
    ml_weights w;
    std::memset(&w, 0, sizeof(w));
    for (std::size_t i = 0; i < kFeatures; ++i) {
        w.in_mean[i] = to_q16(net.in_mean[i], -kMeanMax, kMeanMax);
        w.in_scale[i] = to_q16(net.in_scale[i], 0, kScaleMax);
    }
    for (std::size_t j = 0; j < kHidden; ++j) {
        for (std::size_t i = 0; i < kFeatures; ++i)
            w.w1[j][i] = to_q16(net.w1[j][i], -kWeightMax, kWeightMax);
        w.b1[j] = to_q16(net.b1[j], -kWeightMax, kWeightMax);
        w.w2[j] = to_q16(net.w2[j], -kWeightMax, kWeightMax);
    }
    w.b2 = to_q16(net.b2, -kWeightMax, kWeightMax);
    w.trained_on = trained_on;
    w.baseline_err_pct[0] = baseline_err_pct[0];
    w.baseline_err_pct[1] = baseline_err_pct[1];
    return w;
}

nlohmann::ordered_json to_json(const ml_weights& w) {
    auto array = [](const auto& values) {
        auto a = nlohmann::ordered_json::array();
        for (const auto v : values)
            a.push_back(v);
        return a;
    };
    auto w1 = nlohmann::ordered_json::array();
    for (const auto& row : w.w1)
        w1.push_back(array(row));
    nlohmann::ordered_json j;
    j["in_mean"] = array(w.in_mean);
    j["in_scale"] = array(w.in_scale);
    j["w1"] = w1;
    j["b1"] = array(w.b1);
    j["w2"] = array(w.w2);
    j["b2"] = w.b2;
    j["seq_w"] = array(w.seq_w);
    j["seq_b"] = w.seq_b;
    j["trained_on"] = w.trained_on;
    j["baseline_err_pct"] = array(w.baseline_err_pct);
    return j;
}

} // namespace ufq::ml
