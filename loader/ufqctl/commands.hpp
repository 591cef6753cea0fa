#pragma once

#include "cli.hpp"
#include "ufq/policy.hpp"

namespace ufqctl {

// Runs the parsed command against the system `paths` describes (tests use fakes); returns the
// exit status. Failures throw ufq::Error.
int run(const Options& opts, const ufq::Paths& paths = {});

} // namespace ufqctl
