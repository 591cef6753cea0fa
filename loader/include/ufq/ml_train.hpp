#pragma once

// The offline trainer of the ml policy's latency model (`ufqctl model train ml`).
//
// A trace from `ufqctl trace record` is replayed, in time order, through the policy's own
// feature code (policies/ml_model.h compiled natively), which gives each request the fourteen
// features the policy computed when it arrived. A 14-8-1 ReLU network is fitted in double on
// y = log2(1 + service µs), the log scale the policy predicts in, then quantised to the
// policy's Q16.16 struct ml_weights (ufq/ml_weights.hpp). Held-out requests measure the
// relative error of service time of the float network, of the quantised one (through the
// policy's integer ml_predict_log()) and of two baselines. Everything is deterministic for a
// given seed.

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/trace.h"

namespace ufq::ml {

inline constexpr std::size_t kFeatures = 14; // ML_NR_FEATURES
inline constexpr std::size_t kHidden = 8;    // ML_HIDDEN
// Fewer usable requests than this are refused: the network has 129 weights, and the median of
// a held-out set of a few dozen requests says little.
inline constexpr std::size_t kMinRequests = 1000;

using Features = std::array<std::int32_t, kFeatures>; // Q16.16, as ml_features() gives them

// One request as the policy saw it when it arrived (insert), and what it cost.
struct Sample {
    Features x{};
    std::uint64_t arrival_ns = 0; // insert_ns
    std::uint64_t service_ns = 0; // measured: dispatch to completion
    bool write = false;
    // The policy's prediction before any push: its running mean of the direction at this
    // arrival (struct ml_mean), Q16.16 log2(1 + µs).
    std::int32_t running_mean = 0;
    // The sequential classifier's label (ml_seq_learn()): 1 if the device's next arrival
    // started where this request ended, 0 if not, -1 for the last arrival (no label).
    std::int8_t continued = -1;
};

struct Replay {
    std::vector<Sample> samples; // in arrival order
    std::size_t events = 0;
    std::size_t unusable = 0; // no insert time, or completed before it was inserted
    std::size_t unmeasured = 0; // service_ns 0: dispatched by other programs, not measured
    // Replayed but not sampled: requests that arrived before the recording started (their
    // history is incomplete) or in its last p99 latency (requests in flight then may have
    // completed after the recording stopped, so in-flight counts would be short).
    std::size_t edge = 0;
};

// Replays the events of a trace (each device separately, each from a fresh state) through
// ml_replay_*() in the order ml_model.h prescribes: by time, and at equal times completions,
// then arrivals, then dispatches.
[[nodiscard]] Replay replay_trace(std::span<const ufq_trace_event> events);

// The policy's log scale in double: ml_measured_log(service_ns) / 2^16, the fitted target.
[[nodiscard]] double measured_log(std::uint64_t service_ns);
// µs predicted for a log prediction `y`: ml_pred_us() in double (2^y - 1 with ml_exp2_q16()'s
// interpolation, within [1, 2^32 - 1]).
[[nodiscard]] double predicted_us(double y);
// |pred - meas| * 100 / meas, as ufq_pred_err_pct() counts it in the policy (unrounded).
[[nodiscard]] double relative_error_pct(double pred_us, std::uint64_t service_ns);

// The network in double: ml_predict_log() without rounding or saturation.
struct Network {
    // Standardisation z = (x - in_mean) * in_scale, in real units, already on the Q16.16 grid
    // so that quantising leaves them exact.
    std::array<double, kFeatures> in_mean{};
    std::array<double, kFeatures> in_scale{};
    std::array<std::array<double, kFeatures>, kHidden> w1{};
    std::array<double, kHidden> b1{};
    std::array<double, kHidden> w2{};
    double b2 = 0;

    [[nodiscard]] double predict(const Features& x) const; // log2(1 + µs)
};

// round(v * 2^16), saturated to [lo, hi].
[[nodiscard]] std::int32_t to_q16(double v, std::int32_t lo, std::int32_t hi);

struct FitOptions {
    std::uint64_t seed = 1;
    unsigned epochs = 40;
};

// Standardises the features on `train` and fits the network by mini-batch Adam on the Huber
// loss of y (robust to the rare very slow request). Deterministic for options and input.
[[nodiscard]] Network fit_network(std::span<const Sample> train, const FitOptions& options);

// The sequential classifier's starting weights (struct ml_weights seq_w, seq_b): a logistic
// regression on the classifier's inputs (ml_seq_inputs()) for its label, started from the
// built-in weights, 20 full-batch steps per epoch, saturated to the policy's range; and the
// share of held-out decisions each set of weights gets wrong, unchanged by what it meets. Not
// the policy's own perceptron rule: where the label is noisy, that rule balances the two kinds
// of mistake instead of making few (on the synthetic trace of the unit tests, where 30% of
// arrivals continue at random, its averaged weights got 47% wrong, the built-in ones 36%).
struct ClassifierFit {
    std::array<std::int32_t, 4> w{}; // Q16.16, within ±8 (ML_SEQ_W_MAX)
    std::int32_t b = 0;
    std::size_t trained_on = 0;      // labelled training requests
    std::size_t held_out = 0;        // labelled held-out requests
    double mistakes_pct = 0;         // of the fitted weights
    double builtin_mistakes_pct = 0; // of the built-in ones (what the policy starts from)
};
[[nodiscard]] ClassifierFit fit_classifier(std::span<const Sample> train,
                                           std::span<const Sample> held_out, unsigned epochs);

// Median and 90th percentile of relative errors.
struct ErrorFigures {
    std::size_t count = 0;
    double median_pct = 0;
    double p90_pct = 0;
};
[[nodiscard]] ErrorFigures error_figures(std::vector<double> errors_pct);

struct TrainOptions {
    std::uint64_t seed = 1;
    unsigned epochs = 40;
    unsigned holdout_pct = 20; // 1..90: the share of requests held out (seeded draw)
};

// Held-out errors of each predictor, for one direction or both.
struct PredictorErrors {
    ErrorFigures network;       // the float network
    ErrorFigures quantised;     // the pushed weights through ml_predict_log() and ml_pred_us()
    ErrorFigures running_mean;  // the policy before a push: its running mean per direction
    ErrorFigures training_mean; // the training set's mean of y per direction
};

enum Direction { kRead = 0, kWrite = 1, kBoth = 2 };

struct TrainReport {
    TrainOptions options;
    std::size_t traces = 0;
    std::size_t events = 0;
    std::size_t unusable = 0;
    std::size_t unmeasured = 0;
    std::size_t edge = 0;
    std::size_t train = 0;
    std::size_t held_out = 0;
    std::array<PredictorErrors, 3> error; // by Direction
    // Largest |quantised y - float y| over the held-out requests, log2 units: the quantisation
    // error (2^d - 1 is the largest relative difference it makes in a prediction).
    double max_quantisation_diff = 0;
    // What goes into the weights: held-out median error of the running mean, per direction
    // (0 without held-out requests of that direction).
    std::array<std::uint32_t, 2> baseline_err_pct{};
    ClassifierFit classifier;
};

// One held-out request, as the predictors saw it: what a chart of predicted against measured
// service time plots (ufqctl model train --predictions).
struct HeldOutPrediction {
    std::uint64_t arrival_ns = 0;
    bool write = false;
    std::uint64_t service_ns = 0;
    double network_us = 0;      // the pushed weights through ml_predict_log() and ml_pred_us()
    double running_mean_us = 0; // the policy before a push
};

struct TrainResult {
    TrainReport report;
    std::vector<HeldOutPrediction> predictions; // in arrival order
    // What `ufqctl model push ml FILE` accepts: an object shaped like struct ml_weights.
    nlohmann::ordered_json weights;
};

// Splits `samples` into training and held-out requests, fits, quantises and measures.
// Throws ufq::Error for fewer than kMinRequests samples or a bad holdout share.
[[nodiscard]] TrainResult train(std::span<const Sample> samples, const TrainOptions& options);

// Reads and replays every trace, then trains on all their requests.
[[nodiscard]] TrainResult train_on_traces(std::span<const std::filesystem::path> traces,
                                          const TrainOptions& options);

// train_on_traces(), writing the weights to `output` atomically: a new file beside it is
// created first (so that an unwritable place fails before the work), filled and renamed over
// `output`; on any failure nothing is left behind. With a `predictions` path, the held-out
// requests' predictions go there too, as predictions_csv() writes them, the same way and
// first, so that new weights never stand beside stale predictions.
TrainReport train_to_file(std::span<const std::filesystem::path> traces,
                          const std::filesystem::path& output, const TrainOptions& options,
                          const std::filesystem::path& predictions = {});

// The held-out predictions as CSV: a header line, then one line per request:
// arrival_ns,write,measured_us,predicted_us,running_mean_us (µs with 3 decimals).
[[nodiscard]] std::string predictions_csv(std::span<const HeldOutPrediction> predictions);

// The weights file's text: one member per line, w1 one row per line.
[[nodiscard]] std::string weights_text(const nlohmann::ordered_json& weights);

[[nodiscard]] nlohmann::json to_json(const TrainReport& report);

} // namespace ufq::ml
