#include "profile.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ssdsim {

namespace {

using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;

// Reads fields of one JSON object, each once, and refuses keys nobody asked for: a misspelt
// key must not silently leave a default in place.
class Fields {
public:
    Fields(const json& obj, std::string where) : obj_(obj), where_(std::move(where)) {
        if (!obj_.is_object())
            fail("", "must be a JSON object");
    }

    double number(const std::string& key, double lo, double hi) {
        const json& v = get(key);
        if (!v.is_number())
            fail(key, "must be a number");
        const double d = v.get<double>();
        if (!std::isfinite(d) || d < lo || d > hi)
            fail(key, fmt::format("{} is out of range [{}, {}]", d, lo, hi));
        return d;
    }

    std::uint64_t integer(const std::string& key, std::uint64_t lo, std::uint64_t hi) {
        const json& v = get(key);
        if (!v.is_number_unsigned())
            fail(key, "must be a whole number >= 0");
        const auto n = v.get<std::uint64_t>();
        if (n < lo || n > hi)
            fail(key, fmt::format("{} is out of range [{}, {}]", n, lo, hi));
        return n;
    }

    std::string string(const std::string& key) {
        const json& v = get(key);
        if (!v.is_string())
            fail(key, "must be a string");
        return v.get<std::string>();
    }

    const json& object(const std::string& key) { return get(key); }

    bool has(const std::string& key) const { return obj_.contains(key); }

    // After all fields are read: no key left over.
    void done() const {
        for (const auto& [key, _] : obj_.items())
            if (!seen_.contains(key))
                fail(key, "is not a profile field");
    }

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw ProfileError(key.empty() ? fmt::format("{}: {}", where_, what)
                                       : fmt::format("{}: '{}' {}", where_, key, what));
    }

private:
    const json& get(const std::string& key) {
        if (!obj_.contains(key))
            fail(key, "is missing");
        seen_.insert(key);
        return obj_.at(key);
    }

    const json& obj_;
    std::string where_;
    std::set<std::string> seen_;
};

[[noreturn]] void invalid(const Profile& p, const std::string& what) {
    throw ProfileError(fmt::format("profile {}: {}", p.name, what));
}

} // namespace

Profile parse_profile(const std::string& text, const std::string& name) {
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ...".
        std::string what = e.what();
        if (auto pos = what.find("] "); pos != std::string::npos)
            what = what.substr(pos + 2);
        throw ProfileError(fmt::format("profile {}: not valid JSON: {}", name, what));
    }

    Profile p;
    p.name = name;
    Fields f(doc, "profile " + name);
    p.description = f.string("description");
    p.time_scale = f.number("time_scale", 1, 10000);
    p.capacity_bytes = f.integer("capacity_mib", 1, 1 << 20) << 20;
    p.queue_depth = static_cast<unsigned>(f.integer("queue_depth", 1, 4096));
    p.max_io_bytes = static_cast<std::uint32_t>(f.integer("max_io_kib", 4, 32 * 1024) << 10);
    p.dies = static_cast<unsigned>(f.integer("dies", 1, 1024));
    p.page_bytes = static_cast<std::uint32_t>(f.integer("page_kib", 4, 1024) << 10);
    p.read_us = f.number("read_us", 0, 1e6);
    p.program_us = f.number("program_us", 0, 1e6);
    p.command_us = f.number("command_us", 0, 1e6);
    p.transfer_mb_s = f.number("transfer_mb_s", 1, 1e6);
    p.buffer_bytes = static_cast<std::uint64_t>(f.number("buffer_mib", 0, 1 << 20) * kMiB);
    p.drain_mb_s = f.number("drain_mb_s", 0.001, 1e6);

    Fields gc(f.object("gc"), "profile " + name + ": gc");
    p.gc_window_mib = gc.number("window_mib", 0.001, 1 << 30);
    p.gc_recover_mb_s = gc.number("recover_mb_s", 0, 1e6);
    p.gc_max_factor = gc.number("max_factor", 1, 100);
    gc.done();

    p.noise = f.number("noise", 0, 0.5);
    p.seed = f.has("seed") ? f.integer("seed", 0, UINT64_MAX) : 1;
    f.done();

    validate(p);
    return p;
}

void validate(const Profile& p) {
    if (p.time_scale < 1 || p.time_scale > 10000 || !std::isfinite(p.time_scale))
        invalid(p, fmt::format("time scale {} is out of range [1, 10000]", p.time_scale));
    if (p.page_bytes == 0 || (p.page_bytes & (p.page_bytes - 1)) != 0)
        invalid(p, fmt::format("page_kib {} is not a power of two", p.page_bytes >> 10));
    if (p.capacity_bytes % p.page_bytes != 0)
        invalid(p, "capacity_mib is not a whole number of pages");
    if (p.max_io_bytes % 4096 != 0)
        invalid(p, "max_io_kib is not a multiple of 4");
    // A buffer smaller than the largest write could never take it whole; one page is the
    // least that keeps the model's FIFO of buffered pages meaningful.
    if (p.buffer_bytes < p.page_bytes)
        invalid(p, "buffer_mib holds less than one page");
    // The dies must be able to program what the buffer drains, or their backlog (and every
    // read behind it) would grow without bound during a write flood.
    const double die_mb_s =
        p.program_us > 0 ? p.dies * static_cast<double>(p.page_bytes) / p.program_us : INFINITY;
    if (p.drain_mb_s > die_mb_s)
        invalid(p, fmt::format("drain_mb_s {} exceeds what the dies can program ({:.1f} MB/s = "
                               "dies x page / program_us)",
                               p.drain_mb_s, die_mb_s));
}

Profile load_profile(const std::filesystem::path& file) {
    const std::string name = file.stem().string();
    std::ifstream in(file);
    if (!in)
        throw ProfileError(fmt::format("profile {}: cannot read {}", name, file.string()));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad())
        throw ProfileError(fmt::format("profile {}: cannot read {}", name, file.string()));
    return parse_profile(text.str(), name);
}

} // namespace ssdsim
