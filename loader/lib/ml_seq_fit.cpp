// The ml policy's sequential classifier, fitted offline: its starting weights for a push.
#include "ufq/ml_train.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ml.h"

namespace ufq::ml {
namespace {

// Share (%) of the labelled `samples` the classifier `c` gets wrong, its weights fixed.
double mistakes_pct(const ml_seq_clf& c, std::span<const Sample> samples, std::size_t& labelled) {
    std::size_t wrong = 0;
    labelled = 0;
    for (const auto& s : samples) {
        if (s.continued < 0)
            continue;
        s32 in[ML_SEQ_INPUTS];
        ml_seq_inputs(s.x.data(), in);
        wrong += (ml_seq_score(&c, in) > 0) != (s.continued == 1);
        ++labelled;
    }
    return labelled ? static_cast<double>(wrong) * 100 / static_cast<double>(labelled) : 0;
}

} // namespace

ClassifierFit fit_classifier(std::span<const Sample> train, std::span<const Sample> held_out,
                             unsigned epochs) {
    static_assert(ML_SEQ_INPUTS == 4, "ClassifierFit::w has four inputs");
    ClassifierFit fit;
    ml_seq_clf builtin{};
    ml_seq_init(&builtin, nullptr);

    // The labelled training requests' inputs, as the policy computes them, in real units.
    std::vector<std::array<double, ML_SEQ_INPUTS>> in;
    std::vector<double> label;
    for (const auto& s : train) {
        if (s.continued < 0)
            continue;
        s32 q[ML_SEQ_INPUTS];
        ml_seq_inputs(s.x.data(), q);
        std::array<double, ML_SEQ_INPUTS> x{};
        for (int i = 0; i < ML_SEQ_INPUTS; ++i)
            x[i] = static_cast<double>(q[i]) / ML_ONE;
        in.push_back(x);
        label.push_back(s.continued);
    }
    fit.trained_on = in.size();

    // Logistic regression by full-batch gradient descent from the built-in weights (the
    // inputs are about 0..1, so a step of 1 is stable), with a little L2 so that runs the
    // inputs separate completely still give finite weights. score > 0 is probability > 1/2.
    constexpr double kStep = 1.0, kL2 = 1e-4;
    std::array<double, ML_SEQ_INPUTS + 1> w{};
    for (int i = 0; i < ML_SEQ_INPUTS; ++i)
        w[i] = static_cast<double>(builtin.w[i]) / ML_ONE;
    w[ML_SEQ_INPUTS] = static_cast<double>(builtin.b) / ML_ONE;
    const unsigned iterations = in.empty() ? 0 : 20 * epochs;
    for (unsigned it = 0; it < iterations; ++it) {
        std::array<double, ML_SEQ_INPUTS + 1> grad{};
        for (std::size_t k = 0; k < in.size(); ++k) {
            double z = w[ML_SEQ_INPUTS];
            for (int i = 0; i < ML_SEQ_INPUTS; ++i)
                z += w[i] * in[k][i];
            const double err = 1 / (1 + std::exp(-z)) - label[k];
            for (int i = 0; i < ML_SEQ_INPUTS; ++i)
                grad[i] += err * in[k][i];
            grad[ML_SEQ_INPUTS] += err;
        }
        const double n = static_cast<double>(in.size());
        for (int i = 0; i <= ML_SEQ_INPUTS; ++i)
            w[i] -= kStep * (grad[i] / n + (i < ML_SEQ_INPUTS ? kL2 * w[i] : 0));
    }

    ml_seq_clf fitted = builtin;
    auto q16 = [](double v) {
        const double limit = static_cast<double>(ML_SEQ_W_MAX);
        return static_cast<s32>(std::round(std::clamp(v, -limit, limit) * ML_ONE));
    };
    if (iterations) {
        for (int i = 0; i < ML_SEQ_INPUTS; ++i)
            fitted.w[i] = q16(w[i]);
        fitted.b = q16(w[ML_SEQ_INPUTS]);
        // All 0 in the weights means "the built-in ones" to the policy (ml_seq_init()); a
        // bias of -2^-16 makes the same decisions as 0 does (sequential when above 0).
        if (std::all_of(fitted.w, fitted.w + ML_SEQ_INPUTS, [](s32 v) { return v == 0; }) &&
            fitted.b == 0)
            fitted.b = -1;
    }
    std::copy(fitted.w, fitted.w + ML_SEQ_INPUTS, fit.w.begin());
    fit.b = fitted.b;
    fit.mistakes_pct = mistakes_pct(fitted, held_out, fit.held_out);
    fit.builtin_mistakes_pct = mistakes_pct(builtin, held_out, fit.held_out);
    return fit;
}

} // namespace ufq::ml
