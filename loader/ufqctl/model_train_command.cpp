// ufqctl model train: the ml policy's offline trainer (libufq's ufq/ml_train.hpp).
#include "model_train_command.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "ufq/error.hpp"

namespace ufqctl {
namespace {

std::string figures(const ufq::ml::ErrorFigures& f) {
    if (!f.count)
        return "-";
    return fmt::format("{:.1f}% / {:.1f}%", f.median_pct, f.p90_pct);
}

} // namespace

std::string train_report_text(const ufq::ml::TrainReport& r) {
    using ufq::ml::kBoth;
    using ufq::ml::kRead;
    using ufq::ml::kWrite;
    std::string out = fmt::format(
        "ml: trained on {} requests, tested on {} held out, from {} events in {} trace{} "
        "(seed {}, {} epochs, {}% held out)\n",
        r.train, r.held_out, r.events, r.traces, r.traces == 1 ? "" : "s", r.options.seed,
        r.options.epochs, r.options.holdout_pct);
    if (r.edge || r.unmeasured || r.unusable)
        out += fmt::format("left out: {} at the edges of the recording, {} without a measured "
                           "service time, {} malformed\n",
                           r.edge, r.unmeasured, r.unusable);
    out += "held-out relative error of service time, median / p90:\n";
    const auto& e = r.error;
    out += fmt::format("  {:<30} {:>17} {:>17} {:>17}\n", "",
                       fmt::format("reads ({})", e[kRead].network.count),
                       fmt::format("writes ({})", e[kWrite].network.count),
                       fmt::format("all ({})", e[kBoth].network.count));
    auto row = [&](const char* name, auto member) {
        out += fmt::format("  {:<30} {:>17} {:>17} {:>17}\n", name, figures(e[kRead].*member),
                           figures(e[kWrite].*member), figures(e[kBoth].*member));
    };
    using P = ufq::ml::PredictorErrors;
    row("network (float)", &P::network);
    row("network as pushed (Q16.16)", &P::quantised);
    row("running mean (before a push)", &P::running_mean);
    row("training-set mean", &P::training_mean);
    out += fmt::format("quantisation: predictions within {:.5f} log2 units ({:.3f}%) of the "
                       "float network's\n",
                       r.max_quantisation_diff, (std::exp2(r.max_quantisation_diff) - 1) * 100);
    const auto& c = r.classifier;
    out += fmt::format("sequential classifier: {:.1f}% of {} held-out decisions wrong with the "
                       "fitted weights, {:.1f}% with the built-in ones\n",
                       c.mistakes_pct, c.held_out, c.builtin_mistakes_pct);
    return out;
}

int cmd_model_train(const Options& o) {
    if (o.name != "ml")
        throw ufq::Error(fmt::format("no trainer for policy '{}': ufqctl model train knows the ml "
                                     "policy's model only",
                                     o.name));
    const std::vector<std::filesystem::path> traces(o.traces.begin(), o.traces.end());
    const ufq::ml::TrainOptions options{o.seed, o.epochs, o.holdout_pct};
    const auto report = ufq::ml::train_to_file(traces, o.file, options, o.predictions);
    if (o.json) {
        std::printf("%s\n", ufq::ml::to_json(report).dump().c_str());
        return 0;
    }
    std::printf("%s", train_report_text(report).c_str());
    if (!o.predictions.empty())
        std::printf("wrote %s: the held-out requests' predictions\n", o.predictions.c_str());
    std::printf("wrote %s: ufqctl model push ml %s\n", o.file.c_str(), o.file.c_str());
    return 0;
}

} // namespace ufqctl
