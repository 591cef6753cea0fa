// The trainer's steps in order: traces -> samples -> training and held-out requests -> the
// float network -> the policy's weights -> held-out errors of both and of the baselines.
#include "ufq/ml_train.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "ufq/error.hpp"
#include "ufq/ml_weights.hpp"
#include "ufq/trace_reader.hpp"

namespace ufq::ml {
namespace {

// The split draws from its own stream, so that the epochs asked for do not change which
// requests are held out.
constexpr std::uint64_t kSplitStream = 0x9e3779b97f4a7c15ULL;

void check(const TrainOptions& o) {
    if (o.holdout_pct < 1 || o.holdout_pct > 90)
        throw Error(fmt::format("--holdout-pct {} is out of range: hold out 1 to 90 percent of "
                                "the requests to measure the error on",
                                o.holdout_pct));
    if (o.epochs < 1 || o.epochs > 10000)
        throw Error(fmt::format("--epochs {} is out of range: give 1 to 10000 passes over the "
                                "training requests",
                                o.epochs));
}

// Geometric mean of service time per direction, as log2(1 + µs); the other direction's (or 0)
// when the training set has none of one.
std::array<double, 2> training_means(std::span<const Sample> train) {
    std::array<double, 2> sum{}, n{};
    for (const auto& s : train) {
        sum[s.write] += measured_log(s.service_ns);
        n[s.write] += 1;
    }
    std::array<double, 2> mean{};
    for (int d = 0; d < 2; ++d)
        mean[d] = n[d] ? sum[d] / n[d] : n[!d] ? sum[!d] / n[!d] : 0;
    return mean;
}

// Training and held-out samples: each sample is held out with probability holdout_pct, by a
// seeded draw (not every n-th, which a periodic workload could line up with).
std::pair<std::vector<Sample>, std::vector<Sample>> split(std::span<const Sample> samples,
                                                          const TrainOptions& options) {
    std::pair<std::vector<Sample>, std::vector<Sample>> out;
    auto& [train_set, held_out] = out;
    std::mt19937_64 draw(options.seed ^ kSplitStream);
    for (const auto& s : samples)
        (draw() % 100 < options.holdout_pct ? held_out : train_set).push_back(s);
    if (held_out.empty() || train_set.size() < kMinRequests / 2)
        throw Error(fmt::format("the split left {} requests to train on and {} to test on: "
                                "choose another --holdout-pct",
                                train_set.size(), held_out.size()));
    return out;
}

// Relative errors of one predictor, by Direction.
struct Errors {
    std::array<std::vector<double>, 3> pct;
    void add(bool write, double e) {
        pct[write].push_back(e);
        pct[kBoth].push_back(e);
    }
    [[nodiscard]] ErrorFigures figures(Direction d) const { return error_figures(pct[d]); }
};

} // namespace

TrainResult train(std::span<const Sample> samples, const TrainOptions& options) {
    check(options);
    if (samples.size() < kMinRequests)
        throw Error(fmt::format("{} usable requests; training needs at least {}: record a "
                                "longer trace, or while the device is busier",
                                samples.size(), kMinRequests));
    TrainResult result;
    TrainReport& r = result.report;
    r.options = options;

    const auto [train_set, held_out] = split(samples, options);
    r.train = train_set.size();
    r.held_out = held_out.size();

    const Network net = fit_network(train_set, {options.seed, options.epochs});
    const auto train_mean = training_means(train_set);

    Errors running_mean, training_mean, network, quantised;
    for (const auto& s : held_out) {
        running_mean.add(s.write, relative_error_pct(ml_pred_us(s.running_mean), s.service_ns));
        training_mean.add(s.write,
                          relative_error_pct(predicted_us(train_mean[s.write]), s.service_ns));
    }
    for (int d = 0; d < 2; ++d) {
        const auto f = running_mean.figures(static_cast<Direction>(d));
        r.baseline_err_pct[d] = static_cast<std::uint32_t>(std::min(std::round(f.median_pct),
                                                                    4294967295.0));
    }

    ml_weights w = quantise(net, static_cast<std::uint32_t>(r.train), r.baseline_err_pct);
    r.classifier = fit_classifier(train_set, held_out, options.epochs);
    std::copy(r.classifier.w.begin(), r.classifier.w.end(), w.seq_w);
    w.seq_b = r.classifier.b;
    result.predictions.reserve(held_out.size());
    for (const auto& s : held_out) {
        const double y = net.predict(s.x);
        const s32 yq = ml_predict_log(&w, s.x.data());
        network.add(s.write, relative_error_pct(predicted_us(y), s.service_ns));
        quantised.add(s.write, relative_error_pct(ml_pred_us(yq), s.service_ns));
        result.predictions.push_back({s.arrival_ns, s.write, s.service_ns,
                                      static_cast<double>(ml_pred_us(yq)),
                                      static_cast<double>(ml_pred_us(s.running_mean))});
        r.max_quantisation_diff =
            std::max(r.max_quantisation_diff, std::abs(static_cast<double>(yq) / ML_ONE - y));
    }
    for (int d = 0; d < 3; ++d) {
        const auto dir = static_cast<Direction>(d);
        r.error[d] = {network.figures(dir), quantised.figures(dir), running_mean.figures(dir),
                      training_mean.figures(dir)};
    }
    result.weights = to_json(w);
    return result;
}

TrainResult train_on_traces(std::span<const std::filesystem::path> traces,
                            const TrainOptions& options) {
    check(options);
    if (traces.empty())
        throw Error("no trace to train on: give one or more with --trace FILE (from ufqctl "
                    "trace record)");
    std::vector<Sample> samples;
    TrainReport counts;
    for (const auto& path : traces) {
        const auto events = read_trace_csv(path);
        if (events.empty())
            throw Error(fmt::format("{} has no requests, only the header: record while the "
                                    "device serves I/O",
                                    path.string()));
        Replay replay = replay_trace(events);
        counts.events += replay.events;
        counts.unusable += replay.unusable;
        counts.unmeasured += replay.unmeasured;
        counts.edge += replay.edge;
        samples.insert(samples.end(), replay.samples.begin(), replay.samples.end());
    }
    if (samples.size() < kMinRequests)
        throw Error(fmt::format("{} usable requests in {} events of {} trace{} (at least {} "
                                "needed; {} left out at the edges of the recording, {} without "
                                "a measured service time, {} malformed): record a longer trace, "
                                "or while the device is busier",
                                samples.size(), counts.events, traces.size(),
                                traces.size() == 1 ? "" : "s", kMinRequests, counts.edge,
                                counts.unmeasured, counts.unusable));
    TrainResult result = train(samples, options);
    result.report.traces = traces.size();
    result.report.events = counts.events;
    result.report.unusable = counts.unusable;
    result.report.unmeasured = counts.unmeasured;
    result.report.edge = counts.edge;
    return result;
}

nlohmann::json to_json(const TrainReport& r) {
    auto figures = [](const ErrorFigures& f) -> nlohmann::json {
        if (!f.count)
            return nullptr;
        auto round = [](double v) { return std::round(v * 10) / 10; };
        return {{"count", f.count},
                {"median_pct", round(f.median_pct)},
                {"p90_pct", round(f.p90_pct)}};
    };
    auto predictors = [&](const PredictorErrors& e) -> nlohmann::json {
        return {{"network", figures(e.network)},
                {"quantised", figures(e.quantised)},
                {"running_mean", figures(e.running_mean)},
                {"training_mean", figures(e.training_mean)}};
    };
    return {{"seed", r.options.seed},
            {"epochs", r.options.epochs},
            {"holdout_pct", r.options.holdout_pct},
            {"traces", r.traces},
            {"events", r.events},
            {"left_out",
             {{"edge", r.edge}, {"unmeasured", r.unmeasured}, {"malformed", r.unusable}}},
            {"train", r.train},
            {"held_out", r.held_out},
            {"held_out_error",
             {{"read", predictors(r.error[kRead])},
              {"write", predictors(r.error[kWrite])},
              {"all", predictors(r.error[kBoth])}}},
            {"max_quantisation_diff_log2", std::round(r.max_quantisation_diff * 1e5) / 1e5},
            {"classifier",
             {{"trained_on", r.classifier.trained_on},
              {"held_out", r.classifier.held_out},
              {"mistakes_pct", std::round(r.classifier.mistakes_pct * 10) / 10},
              {"builtin_mistakes_pct", std::round(r.classifier.builtin_mistakes_pct * 10) / 10}}},
            {"baseline_err_pct", r.baseline_err_pct}};
}

} // namespace ufq::ml
