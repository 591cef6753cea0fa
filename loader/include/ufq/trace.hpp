#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "ufq/device.hpp"
#include "ufq/policy.hpp"

struct ufq_trace_event;

namespace ufq {

// `ufqctl trace record` writes CSV: this header line, then one line per completed request
// (docs/ufq-formats.md describes the columns).
[[nodiscard]] std::string trace_csv_header();
[[nodiscard]] std::string trace_csv_line(const ufq_trace_event& ev);

struct TraceResult {
    std::string policy;
    std::uint64_t events = 0;
    std::uint64_t dropped = 0; // lost in the kernel because the ring buffer was full
};

// Records completions of `dev` (served by a policy ufqctl loaded that calls
// ufq_sdk_completed()) for `seconds` or until `stop` becomes true, into `out`. Recording is
// switched on in the policy only for that time; on any failure it is switched off again and
// `out` removed.
TraceResult record_trace(const BlockDevice& dev, double seconds, const std::filesystem::path& out,
                         const std::atomic<bool>& stop, const Paths& paths = {});

} // namespace ufq
