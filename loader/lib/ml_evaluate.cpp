// How wrong a prediction of service time is, measured as the policy measures it.
#include "ufq/ml_train.hpp"

#include <algorithm>
#include <cmath>

namespace ufq::ml {

double predicted_us(double y) {
    // ml_exp2_q16(): 2^k * (1 + f) for y = k + f, the inverse of ml_log2_q16()'s interpolation;
    // negative y is a value below 1. Then ml_pred_us(): minus 1, within [1, 2^32 - 1].
    if (y < 0)
        return 1;
    const double k = std::floor(std::min(y, 40.0));
    const double v = std::ldexp(1 + (std::min(y, 40.0) - k), static_cast<int>(k)) - 1;
    return std::clamp(v, 1.0, 4294967295.0);
}

double relative_error_pct(double pred_us, std::uint64_t service_ns) {
    const double meas = service_ns ? static_cast<double>(service_ns) : 1.0;
    return std::abs(pred_us * 1000 - meas) * 100 / meas;
}

ErrorFigures error_figures(std::vector<double> errors_pct) {
    ErrorFigures f;
    f.count = errors_pct.size();
    if (errors_pct.empty())
        return f;
    // The q-th value counting from the smallest, as a percentile of a histogram is read.
    auto quantile = [&](double q) {
        const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(f.count)));
        const auto k = std::max<std::size_t>(rank, 1) - 1;
        std::nth_element(errors_pct.begin(), errors_pct.begin() + static_cast<std::ptrdiff_t>(k),
                         errors_pct.end());
        return errors_pct[k];
    };
    f.median_pct = quantile(0.5);
    f.p90_pct = quantile(0.9);
    return f;
}

} // namespace ufq::ml
