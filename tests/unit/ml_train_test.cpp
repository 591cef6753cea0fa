// The ml policy's offline trainer (ufqctl model train ml): the replay through the policy's
// feature code, fitting, quantisation, the weights file, its refusals and the command.
#include "ufq/ml_train.hpp"

#include <bpf/btf.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "commands.hpp" // ufqctl
#include "error_message.hpp"
#include "ml.h" // ML_SEQ_W_MAX
#include "ml_synthetic_trace.hpp"
#include "model.hpp"   // ssdsim
#include "profile.hpp" // ssdsim
#include "skip.hpp"
#include "ufq/btf_schema.hpp"
#include "ufq/ml_weights.hpp"
#include "ufq/model.hpp"
#include "ufq/trace.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ---- helpers -------------------------------------------------------------------------------

// A directory of its own under the system's temporary directory, removed afterwards.
class TempDir {
public:
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "ml_train_test.XXXXXX").string();
        if (!::mkdtemp(tmpl.data()))
            throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    [[nodiscard]] const fs::path& path() const { return path_; }
    [[nodiscard]] std::vector<std::string> files() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(path_))
            names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

private:
    fs::path path_;
};

std::string csv_of(const std::vector<ufq_trace_event>& events) {
    std::string text = trace_csv_header();
    for (const auto& ev : events)
        text += trace_csv_line(ev);
    return text;
}

fs::path write_file(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
    return path;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// The synthetic trace of ml_synthetic_trace.hpp, generated once for all tests.
const SyntheticTrace& synthetic() {
    static const SyntheticTrace trace = make_synthetic_trace();
    return trace;
}

const ml::Replay& synthetic_replay() {
    static const ml::Replay replay = ml::replay_trace(synthetic().events);
    return replay;
}

// ---- replay --------------------------------------------------------------------------------

// The trace's own requests in flight (dispatched, not completed) reach the feature x5 exactly
// as the generator counted them when each request arrived.
TEST(MlReplayTest, InFlightCountsMatchTheGenerator) {
    const auto& replay = synthetic_replay();
    EXPECT_EQ(replay.events, synthetic().events.size());
    EXPECT_EQ(replay.unusable, 0u);
    EXPECT_EQ(replay.unmeasured, 0u);
    EXPECT_GT(replay.samples.size(), synthetic().events.size() * 9 / 10);
    std::size_t checked = 0;
    for (const auto& s : replay.samples) {
        const double truth = synthetic().true_service_us.at(s.arrival_ns);
        // Invert the generator's function for the in-flight count it used.
        const double kib = std::ldexp(1.0, s.x[ML_F_SIZE] >> 16) / 2;
        const double base = s.write ? 20 + 2 * kib : 60 + 4 * kib;
        const auto in_flight = static_cast<u32>(std::lround((truth / base - 1) / 0.12));
        ASSERT_EQ(s.x[ML_F_IN_FLIGHT], ml_log1p_q16(in_flight)) << s.arrival_ns;
        ASSERT_EQ(s.x[ML_F_WRITE], s.write ? ML_ONE : 0);
        ++checked;
    }
    EXPECT_EQ(checked, replay.samples.size());
}

// Every 5th sample held out, the rest to train on.
std::pair<std::vector<ml::Sample>, std::vector<ml::Sample>> every_fifth(
    const std::vector<ml::Sample>& samples) {
    std::pair<std::vector<ml::Sample>, std::vector<ml::Sample>> split;
    for (std::size_t i = 0; i < samples.size(); ++i)
        (i % 5 == 4 ? split.second : split.first).push_back(samples[i]);
    return split;
}

// Reads arriving every 100 µs, each served at once for 50 µs: `blocks` runs of `run` requests,
// alternately sequential (each starts where the one before ended) and random.
std::vector<ufq_trace_event> stream_trace(std::size_t blocks, std::size_t run) {
    TestRandom rng(7);
    std::vector<ufq_trace_event> events;
    std::uint64_t next = 0, now = 1000000;
    for (std::size_t b = 0; b < blocks; ++b) {
        for (std::size_t i = 0; i < run; ++i, now += 100000) {
            ufq_trace_event ev{};
            ev.dev = 1;
            ev.bytes = 4096;
            ev.sector = b % 2 == 0 ? next : (rng.next() % (1ULL << 20)) * 8;
            next = ev.sector + 8;
            ev.insert_ns = now;
            ev.alloc_ns = now;
            ev.service_ns = 50000;
            ev.complete_ns = now + ev.service_ns;
            events.push_back(ev);
        }
    }
    return events;
}

// Each sample's classifier label says whether the device's next arrival started where it
// ended: in a trace of sequential and random runs, the labels are what the sectors say.
TEST(MlReplayTest, ClassifierLabelsFollowTheNextArrival) {
    const auto events = stream_trace(4, 50);
    const auto replay = ml::replay_trace(events);
    ASSERT_GT(replay.samples.size(), 150u);
    std::map<std::uint64_t, std::size_t> index_of; // insert_ns -> event
    for (std::size_t i = 0; i < events.size(); ++i)
        index_of[events[i].insert_ns] = i;
    for (const auto& s : replay.samples) {
        const std::size_t i = index_of.at(s.arrival_ns);
        if (i + 1 == events.size()) {
            EXPECT_EQ(s.continued, -1);
            continue;
        }
        EXPECT_EQ(s.continued, events[i + 1].sector == events[i].sector + 8 ? 1 : 0) << i;
    }
}

// The classifier's fit on runs the sequential ratio (x3) tells apart: the fitted weights get
// fewer held-out decisions wrong than the built-in ones (which need several arrivals of a run
// to change their mind), stay within the policy's range, and are the same for the same input.
TEST(MlClassifierFitTest, LearnsSequentialRuns) {
    const auto replay = ml::replay_trace(stream_trace(40, 40));
    const auto [train, held_out] = every_fifth(replay.samples);
    const auto fit = ml::fit_classifier(train, held_out, 10);
    EXPECT_EQ(fit.held_out, held_out.size());
    EXPECT_GT(fit.trained_on, train.size() - 2);
    // measured: 0% fitted, 12% built-in
    EXPECT_LT(fit.mistakes_pct, 5.0);
    EXPECT_LT(fit.mistakes_pct, fit.builtin_mistakes_pct);
    for (const s32 w : fit.w)
        EXPECT_LE(std::abs(w), ML_SEQ_W_MAX);
    EXPECT_LE(std::abs(fit.b), ML_SEQ_W_MAX);
    const auto again = ml::fit_classifier(train, held_out, 10);
    EXPECT_EQ(again.w, fit.w);
    EXPECT_EQ(again.b, fit.b);
}

// Where nothing tells whether the next arrival continues (the synthetic workload continues 30%
// of arrivals at random), the fit is no worse than the built-in weights, and it is what the
// weights file carries.
TEST(MlClassifierFitTest, NoWorseThanTheBuiltInAndInTheWeights) {
    const auto result = ml::train(synthetic_replay().samples, {1, 5, 20});
    const auto& c = result.report.classifier;
    EXPECT_GT(c.held_out, 1000u);
    EXPECT_LE(c.mistakes_pct, c.builtin_mistakes_pct); // measured: 30% (the base rate), 35%
    EXPECT_EQ(result.weights["seq_w"], nlohmann::json(c.w));
    EXPECT_EQ(result.weights["seq_b"], c.b);
    // All zero would mean "the built-in ones" to the policy.
    EXPECT_TRUE(c.b != 0 || c.w != (std::array<std::int32_t, 4>{}));
}

// ---- training ------------------------------------------------------------------------------

// The network finds the generator's function (service time from direction, size and requests
// in flight) on requests it did not see: against the noise-free truth, the median deviation
// is within 3% and the 90th percentile within 8%, though every training target carries 10%
// log-normal noise (measured with 14 features: 1.2% and 2.7% for the float network, 1.1% and
// 2.7% quantised, which adds ml_pred_us()'s rounding down to whole µs; with 12, 1.1-1.7% and
// 2.9-5.1% over 12 seeds of generator and fit). A network's weights are not unique (hidden units can be permuted and
// rescaled), so the function is what can be recovered, not weights.
TEST(MlTrainTest, RecoversTheKnownFunction) {
    const auto [train, held_out] = every_fifth(synthetic_replay().samples);
    const ml::Network net = ml::fit_network(train, {});
    const ml_weights w = ml::quantise(net, 0, {0, 0});
    std::vector<double> float_dev, quantised_dev;
    for (const auto& s : held_out) {
        const auto truth_ns =
            static_cast<std::uint64_t>(synthetic().true_service_us.at(s.arrival_ns) * 1000);
        float_dev.push_back(ml::relative_error_pct(ml::predicted_us(net.predict(s.x)), truth_ns));
        quantised_dev.push_back(
            ml::relative_error_pct(ml_pred_us(ml_predict_log(&w, s.x.data())), truth_ns));
    }
    const auto f = ml::error_figures(float_dev);
    const auto q = ml::error_figures(quantised_dev);
    RecordProperty("float_median_dev_pct", std::to_string(f.median_pct));
    RecordProperty("float_p90_dev_pct", std::to_string(f.p90_pct));
    std::printf("deviation from the true function on %zu held-out requests, median / p90: "
                "float %.2f%% / %.2f%%, quantised %.2f%% / %.2f%%\n",
                f.count, f.median_pct, f.p90_pct, q.median_pct, q.p90_pct);
    EXPECT_LT(f.median_pct, 3.0);
    EXPECT_LT(f.p90_pct, 8.0);
    EXPECT_LT(q.median_pct, 3.0);
    EXPECT_LT(q.p90_pct, 8.0);
}

// Against the measured (noisy) service times the trainer's report is at the noise floor: with
// log-normal noise of sigma 0.1 the best possible median relative error is about 6.7% and the
// p90 about 17%; the mean predictors, blind to size and load, are several times worse
// (measured: 6.8% / 16.6% quantised, 68% / 149% running mean, 65% / 252% training-set mean;
// 6.8-7.1% median over 12 seeds).
TEST(MlTrainTest, ReportBeatsTheMeanBaselines) {
    const auto result = ml::train(synthetic_replay().samples, {});
    const auto& r = result.report;
    std::printf("%s\n", ml::to_json(r).dump().c_str());
    EXPECT_EQ(r.train + r.held_out, synthetic_replay().samples.size());
    EXPECT_NEAR(static_cast<double>(r.held_out) / synthetic_replay().samples.size(), 0.2, 0.02);
    for (int d = 0; d < 3; ++d) {
        const auto& e = r.error[d];
        EXPECT_GT(e.quantised.count, 1000u) << d;
        EXPECT_LT(e.quantised.median_pct, 9.0) << d;
        EXPECT_LT(e.quantised.p90_pct, 22.0) << d;
        EXPECT_LT(e.quantised.median_pct * 4, e.running_mean.median_pct) << d;
        EXPECT_LT(e.quantised.median_pct * 4, e.training_mean.median_pct) << d;
        EXPECT_LT(e.quantised.p90_pct * 4, e.running_mean.p90_pct) << d;
    }
    // The weights say how good the baseline was, for the VM test's before/after comparison.
    EXPECT_EQ(result.weights["baseline_err_pct"][0],
              std::lround(r.error[ml::kRead].running_mean.median_pct));
    EXPECT_EQ(result.weights["baseline_err_pct"][1],
              std::lround(r.error[ml::kWrite].running_mean.median_pct));
    EXPECT_EQ(result.weights["trained_on"], r.train);
}

// Quantisation changes a prediction by at most 0.002 log2 units (0.14%; measured 0.00012 to
// 0.00023 over 12 seeds), and
// the error figures by less than half a point. The bound comes from the integer arithmetic:
// each of the 12 products per hidden unit is rounded down by less than 2^-16 and each weight
// by 2^-17 times an input of at most about 16, and 8 units add up.
TEST(MlTrainTest, QuantisedAgreesWithFloat) {
    const auto r = ml::train(synthetic_replay().samples, {}).report;
    EXPECT_LT(r.max_quantisation_diff, 0.002);
    for (int d = 0; d < 3; ++d) {
        EXPECT_NEAR(r.error[d].quantised.median_pct, r.error[d].network.median_pct, 0.5) << d;
        EXPECT_NEAR(r.error[d].quantised.p90_pct, r.error[d].network.p90_pct, 0.5) << d;
    }
}

// The same samples and options give byte-identical weights; another seed another fit.
TEST(MlTrainTest, DeterministicForASeed) {
    const auto& samples = synthetic_replay().samples;
    const std::string a = ml::weights_text(ml::train(samples, {7, 10, 20}).weights);
    const std::string b = ml::weights_text(ml::train(samples, {7, 10, 20}).weights);
    const std::string c = ml::weights_text(ml::train(samples, {8, 10, 20}).weights);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

// A trace of reads only: the write figures are empty (and the write baseline 0), the constant
// feature x0 is left out (scale 0), and the fit is as good as with both directions.
TEST(MlTrainTest, OneDirectionOnly) {
    WorkloadOptions o;
    o.requests = 5000;
    o.write_fraction = 0;
    const auto replay = ml::replay_trace(make_synthetic_trace(o).events);
    const auto result = ml::train(replay.samples, {1, 40, 20});
    const auto& r = result.report;
    EXPECT_EQ(r.error[ml::kWrite].quantised.count, 0u);
    EXPECT_EQ(r.error[ml::kRead].quantised.count, r.held_out);
    EXPECT_LT(r.error[ml::kRead].quantised.median_pct, 9.0);
    EXPECT_EQ(result.weights["baseline_err_pct"][1], 0);
    EXPECT_GT(result.weights["baseline_err_pct"][0], 30);
    EXPECT_EQ(result.weights["in_scale"][ML_F_WRITE], 0);
    EXPECT_EQ(result.weights["in_scale"][ML_F_PRIO], 0);
}

// ssdsim's NVMe profile (tools/ssdsim/profiles/nvme.json) as the device, its model completing
// each request, under the same workload (busy phases at about 60% of its 4 KiB read rate).
// Writes complete when they are in the write-back buffer, so they are easy; a read waits for
// what its die is doing (other reads, programs of buffered writes), which the features see
// only through the last service times and the recent write volume (not which die is busy), so
// reads stay harder, and their p90 is no better than the running mean's. Measured, held-out
// median / p90 (running mean): reads 25% / 128% (57% / 97%), writes 4.3% / 9.6% (69% / 181%),
// all 15% / 71% (61% / 142%); with the 12 features before the write backlog, reads 26% / 119%
// and writes 3.6% / 6.8% (this workload writes at random times, far below the drain rate, so
// the volume tells little here; the VM's traces gain more). The bounds leave room:
// the model and the workload are not the subject here, the trainer's gain over the baseline
// is.
TEST(MlTrainOnSsdsimTest, BeatsTheRunningMeanOnTheNvmeModel) {
    const auto profile = ssdsim::load_profile(SSDSIM_PROFILE_DIR "/nvme.json");
    ssdsim::Model model(profile);
    WorkloadOptions o;
    o.requests = 30000;
    o.device_depth = profile.queue_depth;
    o.sectors = profile.capacity_bytes / 512;
    o.busy_gap_us = 0.1 * profile.time_scale;
    o.quiet_gap_us = 2 * profile.time_scale;
    const auto events = simulate_trace(o, [&](const ufq_trace_event& ev, std::uint32_t,
                                             std::uint64_t now) {
        const auto op = ev.flags & 1 ? ssdsim::Op::write : ssdsim::Op::read;
        return model.submit(now, op, ev.sector * 512, ev.bytes) - now;
    });
    const auto r = ml::train(ml::replay_trace(events).samples, {}).report;
    std::printf("ssdsim nvme model, held-out median / p90 relative error: reads %.1f%% / "
                "%.1f%% (running mean %.1f%% / %.1f%%), writes %.1f%% / %.1f%% (%.1f%% / "
                "%.1f%%), all %.1f%% / %.1f%% (%.1f%% / %.1f%%)\n",
                r.error[ml::kRead].quantised.median_pct, r.error[ml::kRead].quantised.p90_pct,
                r.error[ml::kRead].running_mean.median_pct,
                r.error[ml::kRead].running_mean.p90_pct,
                r.error[ml::kWrite].quantised.median_pct, r.error[ml::kWrite].quantised.p90_pct,
                r.error[ml::kWrite].running_mean.median_pct,
                r.error[ml::kWrite].running_mean.p90_pct,
                r.error[ml::kBoth].quantised.median_pct, r.error[ml::kBoth].quantised.p90_pct,
                r.error[ml::kBoth].running_mean.median_pct,
                r.error[ml::kBoth].running_mean.p90_pct);
    for (int d = 0; d < 3; ++d)
        EXPECT_LT(r.error[d].quantised.median_pct, 0.75 * r.error[d].running_mean.median_pct)
            << d;
    EXPECT_LT(r.error[ml::kWrite].quantised.median_pct, 10);
    EXPECT_LT(r.error[ml::kRead].quantised.median_pct, 35);
}

// Extreme float weights saturate to the struct's ranges instead of wrapping.
TEST(MlTrainTest, QuantisationSaturatesToTheRanges) {
    ml::Network net;
    net.in_mean.fill(1e9);
    net.in_scale.fill(-5);
    net.w1[0].fill(-1e12);
    net.b1.fill(std::nan(""));
    net.w2.fill(200);
    net.b2 = -129;
    const ml_weights w = ml::quantise(net, 5, {10, 20});
    EXPECT_EQ(w.in_mean[0], ml::kMeanMax);
    EXPECT_EQ(w.in_scale[0], 0);
    EXPECT_EQ(w.w1[0][0], -ml::kWeightMax);
    EXPECT_EQ(w.b1[0], 0);
    EXPECT_EQ(w.w2[0], ml::kWeightMax);
    EXPECT_EQ(w.b2, -ml::kWeightMax);
    EXPECT_EQ(ml::to_q16(1.5, -ml::kWeightMax, ml::kWeightMax), 98304);
    EXPECT_EQ(ml::to_q16(-1.0 / 65536 / 3, -10, 10), 0);
}

// predicted_us() is ml_pred_us() without the rounding down to whole µs.
TEST(MlTrainTest, PredictedUsIsThePolicysInDouble) {
    for (s32 y = -ML_ONE; y < 34 * ML_ONE; y += 997) {
        const double us = ml::predicted_us(static_cast<double>(y) / ML_ONE);
        ASSERT_NEAR(us, ml_pred_us(y), 1.0) << y;
    }
    EXPECT_EQ(ml::measured_log(1023999), 10.0); // 1023 µs: log2(1024)
}

// ---- the weights file ------------------------------------------------------------------------

// What the trainer writes is what `ufqctl model push ml` accepts: checked against the model
// map's BTF as clang compiled the policy, and back into the C struct byte for byte.
TEST(MlWeightsFileTest, AcceptedByThePolicysModelMap) {
    const fs::path object = UFQ_POLICY_DIR "/ml.bpf.o";
    UFQ_SKIP_UNLESS_POLICIES_BUILT(object);
    BtfPtr b(btf__parse_elf(object.c_str(), nullptr));
    ASSERT_TRUE(b);
    const int id = btf__find_by_name_kind(b.get(), "ml_model_value", BTF_KIND_STRUCT);
    ASSERT_GT(id, 0);
    const ModelLayout l =
        model_layout(describe_btf_type(b.get(), id, "map ml_model"), "ml_model");
    ASSERT_EQ(l.weights.size, sizeof(ml_weights));

    const auto result = ml::train(synthetic_replay().samples, {1, 5, 20});
    const auto bytes = parse_weights(l, ml::weights_text(result.weights), "w.json");
    ml_weights parsed;
    std::memcpy(&parsed, bytes.data(), sizeof(parsed));
    EXPECT_EQ(ml::to_json(parsed), result.weights);

    // The ranges quantisation saturates to are the ones the BTF declares.
    auto range = [&](const char* member) {
        const Schema* m = l.weights.member(member);
        EXPECT_NE(m, nullptr) << member;
        const Schema* e = m;
        while (e->kind == Schema::Kind::Array)
            e = &e->children.front();
        return std::pair<Int, Int>(e->min, e->max);
    };
    EXPECT_EQ(range("in_mean"), (std::pair<Int, Int>(-ml::kMeanMax, ml::kMeanMax)));
    EXPECT_EQ(range("in_scale"), (std::pair<Int, Int>(0, ml::kScaleMax)));
    for (const char* m : {"w1", "b1", "w2", "b2"})
        EXPECT_EQ(range(m), (std::pair<Int, Int>(-ml::kWeightMax, ml::kWeightMax))) << m;
}

TEST(MlWeightsFileTest, OneMemberPerLineInTheStructsOrder) {
    const auto result = ml::train(synthetic_replay().samples, {1, 2, 20});
    const std::string text = ml::weights_text(result.weights);
    EXPECT_EQ(nlohmann::ordered_json::parse(text), result.weights);
    EXPECT_THAT(text, ::testing::StartsWith("{\n  \"in_mean\": ["));
    EXPECT_THAT(text, HasSubstr("\n  \"w1\": [\n    ["));
    EXPECT_THAT(text, ::testing::EndsWith("\"baseline_err_pct\": [" +
                                          result.weights["baseline_err_pct"][0].dump() + "," +
                                          result.weights["baseline_err_pct"][1].dump() + "]\n}\n"));
}

// ---- refusals --------------------------------------------------------------------------------

// Each bad input is one line saying what is wrong and what to do, and leaves no file behind:
// neither the output nor the temporary file it is written through.
class MlTrainRefusalTest : public ::testing::Test {
protected:
    std::string refusal(const std::vector<fs::path>& traces, const fs::path& out,
                        ml::TrainOptions options = {1, 2, 20}) {
        const auto before = dir.files();
        const std::string message =
            error_message([&] { (void)ml::train_to_file(traces, out, options); });
        EXPECT_EQ(dir.files(), before) << "a file was left behind";
        return message;
    }
    fs::path trace_of(std::size_t requests, const std::string& name = "t.csv") {
        WorkloadOptions o;
        o.requests = requests;
        return write_file(dir.path() / name, csv_of(make_synthetic_trace(o).events));
    }
    TempDir dir;
};

TEST_F(MlTrainRefusalTest, MissingEmptyOrMalformedTrace) {
    const fs::path out = dir.path() / "w.json";
    EXPECT_THAT(refusal({dir.path() / "nope.csv"}, out),
                HasSubstr("cannot read trace " + (dir.path() / "nope.csv").string() +
                          ": No such file or directory"));
    const auto empty = write_file(dir.path() / "empty.csv", "");
    EXPECT_THAT(refusal({empty}, out), HasSubstr("empty.csv is empty: a trace from ufqctl trace "
                                                 "record starts with a header line"));
    const auto header = write_file(dir.path() / "header.csv", trace_csv_header());
    EXPECT_THAT(refusal({header}, out), HasSubstr("header.csv has no requests, only the header"));
    const auto bad = write_file(dir.path() / "bad.csv", trace_csv_header() + "1,2\n");
    EXPECT_THAT(refusal({bad}, out), HasSubstr("bad.csv:2: expected 14 columns, got 2"));
    EXPECT_THAT(refusal({}, out), HasSubstr("no trace to train on"));
}

TEST_F(MlTrainRefusalTest, TooFewRequests) {
    const auto small = trace_of(900);
    EXPECT_THAT(refusal({small}, dir.path() / "w.json"),
                ::testing::MatchesRegex("[0-9]+ usable requests in 900 events of 1 trace \\(at "
                                        "least 1000 needed; .*\\): record a longer trace, or "
                                        "while the device is busier"));
}

TEST_F(MlTrainRefusalTest, UnwritableOutputFailsBeforeTraining) {
    // Not even read: the output's directory is checked first.
    EXPECT_THAT(refusal({dir.path() / "nope.csv"}, dir.path() / "no" / "w.json"),
                HasSubstr("cannot write " + (dir.path() / "no" / "w.json").string() +
                          ": No such file or directory (choose a writable place)"));
    EXPECT_THAT(refusal({dir.path() / "nope.csv"}, dir.path()),
                HasSubstr("it is a directory; give a file name"));
}

TEST_F(MlTrainRefusalTest, OptionsOutOfRange) {
    const auto t = trace_of(1500);
    EXPECT_THAT(refusal({t}, dir.path() / "w.json", {1, 2, 0}),
                HasSubstr("--holdout-pct 0 is out of range: hold out 1 to 90 percent"));
    EXPECT_THAT(refusal({t}, dir.path() / "w.json", {1, 0, 20}),
                HasSubstr("--epochs 0 is out of range"));
}

// A failed training leaves an existing weights file as it was; a good one replaces it whole.
TEST_F(MlTrainRefusalTest, ExistingOutputReplacedOnlyWhole) {
    const fs::path out = write_file(dir.path() / "w.json", "old");
    const auto small = trace_of(900, "small.csv");
    (void)refusal({small}, out);
    EXPECT_EQ(read_file(out), "old");

    const auto t = trace_of(3000);
    const auto report = ml::train_to_file(std::vector<fs::path>{t, small}, out, {1, 5, 20});
    EXPECT_EQ(report.traces, 2u);
    EXPECT_EQ(report.events, 3900u);
    EXPECT_GT(report.edge, 0u);
    EXPECT_EQ(report.train + report.held_out + report.edge, 3900u);
    const auto weights = nlohmann::json::parse(read_file(out));
    EXPECT_EQ(weights["trained_on"], report.train);
    EXPECT_THAT(dir.files(), ::testing::ElementsAre("small.csv", "t.csv", "w.json"));
}

// ---- held-out predictions (--predictions) ---------------------------------------------------

// One CSV line per held-out request, each giving back the error the report states: the median
// relative error over the lines is the report's, for the pushed weights and the running mean.
TEST_F(MlTrainRefusalTest, PredictionsFileGivesTheReportsErrors) {
    const auto t = trace_of(3000);
    const fs::path out = dir.path() / "w.json", csv = dir.path() / "p.csv";
    const auto report = ml::train_to_file(std::vector<fs::path>{t}, out, {1, 5, 20}, csv);
    std::istringstream in(read_file(csv));
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "arrival_ns,write,measured_us,predicted_us,running_mean_us");
    std::array<std::vector<double>, 3> model, mean; // by ml::Direction
    std::uint64_t last_arrival = 0;
    while (std::getline(in, line)) {
        std::uint64_t arrival = 0;
        int write = -1;
        double meas = 0, pred = 0, rmean = 0;
        ASSERT_EQ(std::sscanf(line.c_str(), "%lu,%d,%lf,%lf,%lf", &arrival, &write, &meas, &pred,
                              &rmean),
                  5)
            << line;
        ASSERT_TRUE(write == 0 || write == 1) << line;
        EXPECT_GE(arrival, last_arrival) << "not in arrival order";
        last_arrival = arrival;
        const auto ns = static_cast<std::uint64_t>(std::llround(meas * 1000));
        for (int d : {write, static_cast<int>(ml::kBoth)}) {
            model[d].push_back(ml::relative_error_pct(pred, ns));
            mean[d].push_back(ml::relative_error_pct(rmean, ns));
        }
    }
    EXPECT_EQ(model[ml::kBoth].size(), report.held_out);
    for (int d = 0; d < 3; ++d) {
        EXPECT_EQ(model[d].size(), report.error[d].quantised.count) << d;
        EXPECT_DOUBLE_EQ(ml::error_figures(model[d]).median_pct,
                         report.error[d].quantised.median_pct)
            << d;
        EXPECT_DOUBLE_EQ(ml::error_figures(mean[d]).median_pct,
                         report.error[d].running_mean.median_pct)
            << d;
    }
}

TEST_F(MlTrainRefusalTest, PredictionsFileRefusals) {
    const auto t = trace_of(3000);
    const fs::path out = dir.path() / "w.json";
    const auto refused = [&](const fs::path& csv) {
        const auto before = dir.files();
        const std::string message = error_message(
            [&] { (void)ml::train_to_file(std::vector<fs::path>{t}, out, {1, 2, 20}, csv); });
        EXPECT_EQ(dir.files(), before) << "a file was left behind";
        return message;
    };
    EXPECT_THAT(refused(out), HasSubstr("the predictions and the weights would both go to " +
                                        out.string() + ": give --predictions another file"));
    EXPECT_THAT(refused(dir.path() / "." / "w.json"), HasSubstr("would both go to"));
    EXPECT_THAT(refused(dir.path() / "no" / "p.csv"),
                HasSubstr("cannot write " + (dir.path() / "no" / "p.csv").string() +
                          ": No such file or directory"));
}

// ---- ufqctl model train ------------------------------------------------------------------------

TEST_F(MlTrainRefusalTest, UfqctlModelTrain) {
    ufqctl::Options o;
    o.command = "model train";
    o.name = "ml";
    o.traces = {trace_of(3000).string()};
    o.file = (dir.path() / "w.json").string();
    o.epochs = 3;
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(ufqctl::run(o), 0);
    const std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_THAT(out, HasSubstr("ml: trained on "));
    EXPECT_THAT(out, ::testing::ContainsRegex("network as pushed \\(Q16.16\\) +[0-9.]+% / "
                                              "[0-9.]+% +[0-9.]+% / [0-9.]+% +[0-9.]+% / "
                                              "[0-9.]+%"));
    EXPECT_THAT(out, HasSubstr("wrote " + o.file + ": ufqctl model push ml " + o.file));
    EXPECT_TRUE(nlohmann::json::parse(read_file(o.file)).contains("w1"));

    o.predictions = (dir.path() / "p.csv").string();
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(ufqctl::run(o), 0);
    EXPECT_THAT(::testing::internal::GetCapturedStdout(),
                HasSubstr("wrote " + o.predictions + ": the held-out requests' predictions\n"));
    EXPECT_THAT(read_file(o.predictions), ::testing::StartsWith("arrival_ns,write,"));
    o.predictions.clear();

    o.json = true;
    ::testing::internal::CaptureStdout();
    EXPECT_EQ(ufqctl::run(o), 0);
    const auto report = nlohmann::json::parse(::testing::internal::GetCapturedStdout());
    EXPECT_EQ(report["traces"], 1);
    EXPECT_EQ(report["epochs"], 3);
    EXPECT_TRUE(report["held_out_error"]["all"]["quantised"]["median_pct"].is_number());

    o.name = "qos";
    EXPECT_THAT(error_message([&] { (void)ufqctl::run(o); }),
                HasSubstr("no trainer for policy 'qos'"));
}

} // namespace
} // namespace ufq::test
