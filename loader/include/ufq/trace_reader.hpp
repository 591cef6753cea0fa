#pragma once

#include <filesystem>
#include <istream>
#include <string_view>
#include <vector>

#include "ufq/trace.h"

namespace ufq {

// Reading back what `ufqctl trace record` writes (docs/ufq-formats.md, "Completion traces"):
// the header line, then one completed request per line. Columns are found by the names in the
// header, so a trace with columns added or reordered still reads; the ones the readers need
// must be there. Every error is one line naming the file and the line, e.g.
//   t.csv:17: expected 14 columns, got 3
// Columns that only ufqctl computes from the others (write, latency_ns) are checked for
// presence, not read back.
[[nodiscard]] std::vector<ufq_trace_event> parse_trace_csv(std::istream& in,
                                                           std::string_view name);
// The same from a file; an unreadable or empty file is an error that says so.
[[nodiscard]] std::vector<ufq_trace_event> read_trace_csv(const std::filesystem::path& file);

} // namespace ufq
