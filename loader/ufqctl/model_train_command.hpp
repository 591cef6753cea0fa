#pragma once

#include <string>

#include "cli.hpp"
#include "ufq/ml_train.hpp"

namespace ufqctl {

// ufqctl model train: runs the trainer and prints its report.
int cmd_model_train(const Options& o);

// The report as `model train` prints it: what was trained on, then a table of held-out
// median / p90 relative errors by predictor and direction.
[[nodiscard]] std::string train_report_text(const ufq::ml::TrainReport& report);

} // namespace ufqctl
