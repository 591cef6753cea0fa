#pragma once

#include "cli.hpp"

namespace ufqctl {

// Runs the parsed command; returns the exit status. Failures throw ufq::Error.
int run(const Options& opts);

} // namespace ufqctl
