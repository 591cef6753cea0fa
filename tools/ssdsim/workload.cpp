#include "workload.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <queue>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

namespace ssdsim {

namespace {

[[noreturn]] void bad(const std::string& spec, const std::string& what) {
    throw std::invalid_argument(fmt::format("job '{}': {}", spec, what));
}

// "4k", "64k", "1m", "512": bytes.
std::uint64_t parse_size(const std::string& spec, const std::string& v) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    std::string unit(end, v.data() + v.size());
    if (ec != std::errc() || end == v.data())
        bad(spec, fmt::format("'{}' is not a size", v));
    if (unit == "k" || unit == "K")
        return n << 10;
    if (unit == "m" || unit == "M")
        return n << 20;
    if (!unit.empty())
        bad(spec, fmt::format("'{}' is not a size (suffix k or m)", v));
    return n;
}

// "5s", "500ms", "2": nanoseconds (seconds without a suffix).
Nanos parse_time(const std::string& spec, const std::string& v) {
    double x = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    std::string unit(end, v.data() + v.size());
    if (ec != std::errc() || end == v.data() || x < 0)
        bad(spec, fmt::format("'{}' is not a time", v));
    if (unit.empty() || unit == "s")
        return static_cast<Nanos>(x * 1e9);
    if (unit == "ms")
        return static_cast<Nanos>(x * 1e6);
    bad(spec, fmt::format("'{}' is not a time (suffix s or ms)", v));
}

double percentile(const std::vector<Nanos>& sorted, double pct) {
    // Nearest rank, as fio's completion latency percentiles.
    if (sorted.empty())
        return 0;
    auto rank = static_cast<std::size_t>(std::ceil(pct / 100.0 * static_cast<double>(sorted.size())));
    return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]);
}

} // namespace

Job parse_job(const std::string& spec) {
    Job job;
    const auto colon = spec.find(':');
    if (colon == std::string::npos || colon == 0)
        bad(spec, "expected NAME:KEY=VALUE,...");
    job.name = spec.substr(0, colon);
    bool have_rw = false, have_end = false;
    std::string rest = spec.substr(colon + 1);
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string kv = rest.substr(0, comma);
        rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
        const auto eq = kv.find('=');
        if (eq == std::string::npos)
            bad(spec, fmt::format("'{}' is not KEY=VALUE", kv));
        const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
        if (key == "rw") {
            if (value == "randread")
                job.op = Op::read;
            else if (value == "randwrite")
                job.op = Op::write;
            else
                bad(spec, fmt::format("rw '{}' is not randread or randwrite", value));
            have_rw = true;
        } else if (key == "bs") {
            const auto bs = parse_size(spec, value);
            if (bs == 0 || bs % 4096 != 0 || bs > (32u << 20))
                bad(spec, fmt::format("bs '{}' is not a multiple of 4k up to 32m", value));
            job.block = static_cast<std::uint32_t>(bs);
        } else if (key == "qd") {
            const auto qd = parse_size(spec, value);
            if (qd == 0 || qd > 4096)
                bad(spec, fmt::format("qd '{}' is out of range [1, 4096]", value));
            job.depth = static_cast<unsigned>(qd);
        } else if (key == "ramp") {
            job.ramp = parse_time(spec, value);
        } else if (key == "runtime") {
            job.runtime = parse_time(spec, value);
            have_end = have_end || job.runtime > 0;
        } else if (key == "ios") {
            job.ios = parse_size(spec, value);
            have_end = have_end || job.ios > 0;
        } else {
            bad(spec, fmt::format("unknown key '{}' (rw, bs, qd, ramp, runtime, ios)", key));
        }
    }
    if (!have_rw)
        bad(spec, "rw is missing");
    if (!have_end)
        bad(spec, "give runtime or ios");
    return job;
}

std::vector<JobResult> simulate(const Profile& p, const std::vector<Job>& jobs,
                                std::uint64_t seed) {
    // The model has no queue for tags: with more requests in flight than the device has
    // tags, the host would hold the rest back, which it does not simulate.
    unsigned depth = 0;
    for (const Job& j : jobs)
        depth += j.depth;
    if (depth > p.queue_depth)
        throw std::invalid_argument(fmt::format(
            "the jobs keep {} requests in flight, more than the device's {} tags", depth,
            p.queue_depth));

    Model model(p);
    std::mt19937_64 rng(seed);

    struct State {
        std::uint64_t submitted = 0;
        std::vector<Nanos> lat;
    };
    std::vector<State> state(jobs.size());

    // In flight: (completion, submission, job), earliest completion first.
    struct Io {
        Nanos done, start;
        std::size_t job;
        bool operator>(const Io& o) const { return done > o.done; }
    };
    std::priority_queue<Io, std::vector<Io>, std::greater<>> inflight;

    auto submit = [&](std::size_t j, Nanos now) {
        const Job& job = jobs[j];
        State& s = state[j];
        const bool timed_out = job.runtime > 0 && now >= job.ramp + job.runtime;
        if (timed_out || (job.ios > 0 && s.submitted >= job.ios))
            return;
        const std::uint64_t blocks = p.capacity_bytes / job.block;
        const std::uint64_t offset =
            std::uniform_int_distribution<std::uint64_t>(0, blocks - 1)(rng) * job.block;
        ++s.submitted;
        inflight.push({model.submit(now, job.op, offset, job.block), now, j});
    };

    for (std::size_t j = 0; j < jobs.size(); ++j)
        for (unsigned i = 0; i < jobs[j].depth; ++i)
            submit(j, 0);
    while (!inflight.empty()) {
        const Io io = inflight.top();
        inflight.pop();
        if (io.start >= jobs[io.job].ramp)
            state[io.job].lat.push_back(io.done - io.start);
        submit(io.job, io.done);
    }

    std::vector<JobResult> out;
    for (std::size_t j = 0; j < jobs.size(); ++j) {
        auto& lat = state[j].lat;
        std::sort(lat.begin(), lat.end());
        JobResult r;
        r.name = jobs[j].name;
        r.ios = lat.size();
        if (!lat.empty()) {
            double sum = 0;
            for (Nanos l : lat)
                sum += static_cast<double>(l);
            r.mean_ns = sum / static_cast<double>(lat.size());
            r.min_ns = static_cast<double>(lat.front());
            r.p10_ns = percentile(lat, 10);
            r.p50_ns = percentile(lat, 50);
            r.p99_ns = percentile(lat, 99);
            r.max_ns = static_cast<double>(lat.back());
        }
        out.push_back(r);
    }
    return out;
}

} // namespace ssdsim
