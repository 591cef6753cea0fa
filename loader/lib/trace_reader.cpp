#include "ufq/trace_reader.hpp"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <optional>
#include <string>

#include "errno_text.hpp"
#include "ufq/error.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

// The columns read into struct ufq_trace_event, in the order of `Column`.
enum Column {
    kCompleteNs,
    kDev,
    kSector,
    kBytes,
    kFlags,
    kIoprio,
    kCgroupId,
    kNrWaiting,
    kAllocNs,
    kInsertNs,
    kWaitNs,
    kServiceNs,
    kNrColumns
};
constexpr std::array<std::string_view, kNrColumns> kColumnNames = {
    "complete_ns", "dev",       "sector",    "bytes",   "flags",   "ioprio",
    "cgroup_id",   "nr_waiting", "alloc_ns", "insert_ns", "wait_ns", "service_ns"};

std::vector<std::string_view> split(std::string_view line) {
    std::vector<std::string_view> fields;
    for (;;) {
        const auto comma = line.find(',');
        fields.push_back(line.substr(0, comma));
        if (comma == std::string_view::npos)
            return fields;
        line.remove_prefix(comma + 1);
    }
}

// Decimal, or hex with 0x (the flags column); nothing else, no sign, no spaces.
std::optional<std::uint64_t> parse_u64(std::string_view text) {
    int base = 10;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        text.remove_prefix(2);
        base = 16;
    }
    std::uint64_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
    if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size())
        return std::nullopt;
    return v;
}

// The largest value of a column: the width of its member in struct ufq_trace_event.
std::uint64_t max_of(Column c) {
    switch (c) {
    case kBytes:
    case kNrWaiting:
        return UINT32_MAX;
    case kIoprio:
        return UINT16_MAX;
    default:
        return UINT64_MAX;
    }
}

// "MAJ:MIN" as the kernel's dev_t (MKDEV: major << 20 | minor), as struct ufq_sched.dev.
std::optional<std::uint64_t> parse_dev(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    const auto major = parse_u64(text.substr(0, colon));
    const auto minor = parse_u64(text.substr(colon + 1));
    if (!major || !minor || *major >= (1u << 12) || *minor >= (1u << 20))
        return std::nullopt;
    return *major << 20 | *minor;
}

} // namespace

std::vector<ufq_trace_event> parse_trace_csv(std::istream& in, std::string_view name) {
    std::string line;
    if (!std::getline(in, line))
        throw Error(fmt::format("{} is empty: a trace from ufqctl trace record starts with a "
                                "header line",
                                name));
    const auto header = split(line);
    std::array<std::size_t, kNrColumns> index{};
    for (std::size_t c = 0; c < kNrColumns; ++c) {
        std::size_t i = 0;
        while (i < header.size() && header[i] != kColumnNames[c])
            ++i;
        if (i == header.size())
            throw Error(fmt::format("{}:1: not a ufqctl trace: the header has no column '{}' "
                                    "(record one with ufqctl trace record)",
                                    name, kColumnNames[c]));
        index[c] = i;
    }

    std::vector<ufq_trace_event> events;
    for (std::size_t lineno = 2; std::getline(in, line); ++lineno) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.empty())
            continue;
        const auto fields = split(line);
        if (fields.size() != header.size())
            throw Error(fmt::format("{}:{}: expected {} columns, got {} (a truncated or edited "
                                    "trace?)",
                                    name, lineno, header.size(), fields.size()));
        std::array<std::uint64_t, kNrColumns> v{};
        for (std::size_t c = 0; c < kNrColumns; ++c) {
            const std::string_view text = fields[index[c]];
            const auto value = c == kDev ? parse_dev(text) : parse_u64(text);
            if (!value || *value > max_of(static_cast<Column>(c)))
                throw Error(fmt::format("{}:{}: column {}: '{}' is not {}", name, lineno,
                                        kColumnNames[c], text,
                                        c == kDev ? "a device number MAJ:MIN"
                                                  : fmt::format("an integer in 0..{}",
                                                                max_of(static_cast<Column>(c)))));
            v[c] = *value;
        }
        ufq_trace_event ev{};
        ev.complete_ns = v[kCompleteNs];
        ev.dev = static_cast<std::uint32_t>(v[kDev]);
        ev.sector = v[kSector];
        ev.bytes = static_cast<std::uint32_t>(v[kBytes]);
        ev.flags = v[kFlags];
        ev.ioprio = static_cast<std::uint16_t>(v[kIoprio]);
        ev.cgroup_id = v[kCgroupId];
        ev.nr_waiting = static_cast<std::uint32_t>(v[kNrWaiting]);
        ev.alloc_ns = v[kAllocNs];
        ev.insert_ns = v[kInsertNs];
        ev.wait_ns = v[kWaitNs];
        ev.service_ns = v[kServiceNs];
        events.push_back(ev);
    }
    if (in.bad())
        throw Error(fmt::format("cannot read {}: {}", name, errno_text(EIO)));
    return events;
}

std::vector<ufq_trace_event> read_trace_csv(const fs::path& file) {
    std::ifstream in(file);
    if (!in)
        throw Error(fmt::format("cannot read trace {}: {}", file.string(), errno_text(errno)));
    return parse_trace_csv(in, file.string());
}

} // namespace ufq
