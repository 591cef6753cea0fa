// Fitting the ml policy's 14-8-1 network in double: standardisation, then mini-batch Adam.
// Hand-written: the network is tiny, and the trainer must be deterministic bit for bit, which
// rules out library code with unspecified distributions or thread-dependent sums.
#include "ufq/ml_train.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "ufq/ml_weights.hpp" // the ranges to saturate to

namespace ufq::ml {
namespace {

constexpr double kOne = 65536.0; // ML_ONE

// A feature whose spread is below this (log2 units) is scaled as if it were this: a rare
// value of an almost constant feature (a few RT requests among thousands) would otherwise be
// standardised to hundreds and throw the network far outside what it was fitted on.
constexpr double kMinSpread = 1.0 / 16;

constexpr std::size_t kBatch = 32;
constexpr double kLearningRate = 0.01;
constexpr double kFinalLearningRate = 0.0005;
// The Huber loss's threshold, log2 units: errors beyond 2^0.25 (19%) count linearly. What the
// policy is judged on is the median relative error, and a loss linear in log space fits the
// conditional median, while a squared one fits the mean, which a device's slow tail (a read
// behind a programming die on an SSD) pulls up. With 1.0 (2x) the fit was nearly a log-space
// mean: on ssdsim traces from the VM the held-out median error of reads was 26-27%; with 0.25
// it is about 21%, and the writes' about 15% in both.
constexpr double kHuberDelta = 0.25;

// Every weight stays inside what the policy's struct accepts (±128), with room for rounding.
constexpr double kWeightLimit = 127.0;

// Uniform numbers from the raw bits of mt19937_64, whose output the standard fixes, unlike
// that of std::uniform_real_distribution and std::shuffle.
class Random {
public:
    explicit Random(std::uint64_t seed) : engine_(seed) {}
    double uniform(double lo, double hi) {
        const double u = static_cast<double>(engine_() >> 11) * 0x1.0p-53; // [0, 1)
        return lo + (hi - lo) * u;
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(engine_() % n); }
    template <typename T>
    void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i)
            std::swap(v[i - 1], v[below(i)]);
    }

private:
    std::mt19937_64 engine_;
};

// Every parameter of the network in one flat vector, so that Adam is a loop.
constexpr std::size_t kW1 = 0;
constexpr std::size_t kB1 = kW1 + kHidden * kFeatures;
constexpr std::size_t kW2 = kB1 + kHidden;
constexpr std::size_t kB2 = kW2 + kHidden;
constexpr std::size_t kParams = kB2 + 1;
using Params = std::array<double, kParams>;
using Inputs = std::array<double, kFeatures>;

double forward(const Params& p, const Inputs& z, std::array<double, kHidden>& h) {
    double y = p[kB2];
    for (std::size_t j = 0; j < kHidden; ++j) {
        double a = p[kB1 + j];
        for (std::size_t i = 0; i < kFeatures; ++i)
            a += p[kW1 + j * kFeatures + i] * z[i];
        h[j] = a > 0 ? a : 0;
        y += p[kW2 + j] * h[j];
    }
    return y;
}

// Adds the gradient of the Huber loss of one sample to `g`.
void backward(const Params& p, const Inputs& z, double target, Params& g) {
    std::array<double, kHidden> h{};
    const double err = std::clamp(forward(p, z, h) - target, -kHuberDelta, kHuberDelta);
    g[kB2] += err;
    for (std::size_t j = 0; j < kHidden; ++j) {
        g[kW2 + j] += err * h[j];
        if (h[j] <= 0)
            continue; // ReLU: no gradient through an inactive unit
        const double d = err * p[kW2 + j];
        g[kB1 + j] += d;
        for (std::size_t i = 0; i < kFeatures; ++i)
            g[kW1 + j * kFeatures + i] += d * z[i];
    }
}

// Standardisation from the training samples, rounded to Q16.16 as the policy will use it.
void standardise(std::span<const Sample> train, Network& net) {
    for (std::size_t i = 0; i < kFeatures; ++i) {
        double sum = 0, sq = 0;
        for (const auto& s : train)
            sum += s.x[i] / kOne;
        const double mean = sum / static_cast<double>(train.size());
        for (const auto& s : train)
            sq += (s.x[i] / kOne - mean) * (s.x[i] / kOne - mean);
        const double spread = std::sqrt(sq / static_cast<double>(train.size()));
        net.in_mean[i] = to_q16(mean, -kMeanMax, kMeanMax) / kOne;
        // A constant feature carries nothing: scale 0 leaves it out.
        net.in_scale[i] =
            spread == 0 ? 0 : to_q16(1 / std::max(spread, kMinSpread), 0, kScaleMax) / kOne;
    }
}

Inputs inputs(const Network& net, const Features& x) {
    Inputs z{};
    for (std::size_t i = 0; i < kFeatures; ++i)
        z[i] = (x[i] / kOne - net.in_mean[i]) * net.in_scale[i];
    return z;
}

} // namespace

std::int32_t to_q16(double v, std::int32_t lo, std::int32_t hi) {
    const double q = std::round(v * kOne);
    if (!(q > lo)) // NaN too
        return std::isnan(q) ? std::clamp<std::int32_t>(0, lo, hi) : lo;
    return q >= hi ? hi : static_cast<std::int32_t>(q);
}

double Network::predict(const Features& x) const {
    const Inputs z = inputs(*this, x);
    double y = b2;
    for (std::size_t j = 0; j < kHidden; ++j) {
        double a = b1[j];
        for (std::size_t i = 0; i < kFeatures; ++i)
            a += w1[j][i] * z[i];
        y += w2[j] * (a > 0 ? a : 0);
    }
    return y;
}

Network fit_network(std::span<const Sample> train, const FitOptions& options) {
    Network net;
    if (train.empty())
        return net;
    standardise(train, net);
    std::vector<Inputs> z;
    std::vector<double> target;
    z.reserve(train.size());
    target.reserve(train.size());
    double mean_target = 0;
    for (const auto& s : train) {
        z.push_back(inputs(net, s.x));
        target.push_back(measured_log(s.service_ns));
        mean_target += target.back();
    }
    mean_target /= static_cast<double>(train.size());

    // He-style uniform start; hidden biases slightly positive so no unit starts dead; the
    // output starts at the mean, so the first steps learn the shape, not the level.
    Random rng(options.seed);
    Params p{};
    for (std::size_t k = kW1; k < kB1; ++k)
        p[k] = rng.uniform(-1, 1) * std::sqrt(6.0 / kFeatures);
    for (std::size_t k = kB1; k < kW2; ++k)
        p[k] = 0.1;
    for (std::size_t k = kW2; k < kB2; ++k)
        p[k] = rng.uniform(-1, 1) * std::sqrt(6.0 / kHidden) / 4;
    p[kB2] = mean_target;

    Params m{}, v{}; // Adam's moments
    constexpr double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    std::uint64_t t = 0;
    std::vector<std::size_t> order(train.size());
    for (std::size_t k = 0; k < order.size(); ++k)
        order[k] = k;
    for (unsigned epoch = 0; epoch < options.epochs; ++epoch) {
        // Cosine decay: large steps first, fine ones at the end so the last weights settle.
        const double progress = static_cast<double>(epoch) / options.epochs;
        const double lr = kFinalLearningRate + (kLearningRate - kFinalLearningRate) * 0.5 *
                                                   (1 + std::cos(M_PI * progress));
        rng.shuffle(order);
        for (std::size_t start = 0; start < order.size(); start += kBatch) {
            const std::size_t end = std::min(order.size(), start + kBatch);
            Params g{};
            for (std::size_t k = start; k < end; ++k)
                backward(p, z[order[k]], target[order[k]], g);
            ++t;
            const double n = static_cast<double>(end - start);
            const double c1 = 1 - std::pow(beta1, static_cast<double>(t));
            const double c2 = 1 - std::pow(beta2, static_cast<double>(t));
            for (std::size_t k = 0; k < kParams; ++k) {
                const double gk = g[k] / n;
                m[k] = beta1 * m[k] + (1 - beta1) * gk;
                v[k] = beta2 * v[k] + (1 - beta2) * gk * gk;
                p[k] -= lr * (m[k] / c1) / (std::sqrt(v[k] / c2) + eps);
                p[k] = std::clamp(p[k], -kWeightLimit, kWeightLimit);
            }
        }
    }

    for (std::size_t j = 0; j < kHidden; ++j) {
        for (std::size_t i = 0; i < kFeatures; ++i)
            net.w1[j][i] = p[kW1 + j * kFeatures + i];
        net.b1[j] = p[kB1 + j];
        net.w2[j] = p[kW2 + j];
    }
    net.b2 = p[kB2];
    return net;
}

} // namespace ufq::ml
