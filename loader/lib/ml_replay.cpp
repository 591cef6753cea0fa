// Trace events -> the features the ml policy computed for each request, by replaying the
// policy's feature code (policies/ml_model.h) over the trace in time order.
#include "ufq/ml_train.hpp"

#include <algorithm>
#include <map>

#include "ml_model.h"
#include "ufq/ioprio.h"

namespace ufq::ml {

static_assert(kFeatures == ML_NR_FEATURES && kHidden == ML_HIDDEN,
              "ufq/ml_train.hpp does not match policies/ml_model.h");

namespace {

// One step of one request: events become an arrival, a dispatch and a completion.
struct Step {
    std::uint64_t time_ns;
    ml_replay_step kind;
    std::uint32_t event; // index into the trace
};

bool usable(const ufq_trace_event& ev) {
    return ev.insert_ns != 0 && ev.insert_ns <= ev.complete_ns;
}

std::uint64_t dispatch_ns(const ufq_trace_event& ev) {
    return ev.insert_ns + ev.wait_ns;
}

// The two clocks of an event (insert + wait, and completion) may disagree by a little; a
// request never completes before it was dispatched.
std::uint64_t completion_ns(const ufq_trace_event& ev) {
    return std::max(ev.complete_ns, dispatch_ns(ev));
}

// The 99th percentile of insertion-to-completion latency of `events`.
std::uint64_t p99_latency_ns(std::span<const ufq_trace_event> events,
                             std::span<const std::uint32_t> indices) {
    std::vector<std::uint64_t> lat;
    lat.reserve(indices.size());
    for (const auto i : indices)
        lat.push_back(completion_ns(events[i]) - events[i].insert_ns);
    if (lat.empty())
        return 0;
    const auto k = lat.size() * 99 / 100;
    std::nth_element(lat.begin(), lat.begin() + static_cast<std::ptrdiff_t>(k), lat.end());
    return lat[k];
}

// The request of `ev` as ml_insert() describes it.
ml_req request_of(const ufq_trace_event& ev) {
    ml_req req{};
    req.sector = ev.sector;
    req.bytes = ev.bytes;
    req.write = ev.flags & 1; // UFQ_RQ_WRITE
    req.prio_class = static_cast<u8>(ufq_ioprio_class(ev.ioprio));
    req.now_ns = ev.insert_ns;
    return req;
}

// Replays the usable events of one device (`indices`, in trace order) into `out`.
void replay_device(std::span<const ufq_trace_event> events, std::span<const std::uint32_t> indices,
                   Replay& out) {
    std::vector<Step> steps;
    steps.reserve(3 * indices.size());
    std::uint64_t first_completion = UINT64_MAX, last_completion = 0;
    for (const auto i : indices) {
        const auto& ev = events[i];
        steps.push_back({ev.insert_ns, ML_REPLAY_ARRIVAL, i});
        steps.push_back({dispatch_ns(ev), ML_REPLAY_DISPATCH, i});
        steps.push_back({completion_ns(ev), ML_REPLAY_COMPLETE, i});
        first_completion = std::min(first_completion, completion_ns(ev));
        last_completion = std::max(last_completion, completion_ns(ev));
    }
    // Ties: by step kind as ml_model.h orders them, then in trace order (stable, deterministic).
    std::sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
        if (a.time_ns != b.time_ns)
            return a.time_ns < b.time_ns;
        if (a.kind != b.kind)
            return a.kind < b.kind;
        return a.event < b.event;
    });
    // The recording started about when the first completion came: a request that arrived
    // before that met requests the trace does not have.
    const std::uint64_t p99 = p99_latency_ns(events, indices);
    const std::uint64_t tail_from = last_completion > p99 ? last_completion - p99 : 0;

    ml_replay rp;
    ml_replay_init(&rp);
    // The previous arrival, for its classifier label: its sample (or none) and where it ended.
    std::size_t previous_sample = SIZE_MAX;
    std::uint64_t previous_end = 0;
    std::array<ml_mean, 2> mean{};
    for (const Step& step : steps) {
        const ufq_trace_event& ev = events[step.event];
        const ml_req req = request_of(ev);
        const bool write = req.write;
        switch (step.kind) {
        case ML_REPLAY_COMPLETE:
            // As ml_completion(): a completion without a measured service time teaches nothing
            // (neither the service ring nor the mean), but it leaves the device.
            ml_replay_complete(&rp, write, ev.service_ns);
            if (ev.service_ns)
                ml_mean_update(&mean[write], ml_measured_log(ev.service_ns));
            break;
        case ML_REPLAY_ARRIVAL: {
            Sample s;
            if (previous_sample != SIZE_MAX)
                out.samples[previous_sample].continued = req.sector == previous_end ? 1 : 0;
            previous_sample = SIZE_MAX;
            previous_end = ml_end_sector(req.sector, req.bytes);
            ml_replay_arrival(&rp, &req, s.x.data());
            if (ev.insert_ns < first_completion || ev.insert_ns >= tail_from) {
                ++out.edge;
            } else if (!ev.service_ns) {
                ++out.unmeasured;
            } else {
                s.arrival_ns = ev.insert_ns;
                s.service_ns = ev.service_ns;
                s.write = write;
                s.running_mean = mean[write].mean;
                previous_sample = out.samples.size();
                out.samples.push_back(s);
            }
            break;
        }
        case ML_REPLAY_DISPATCH:
            ml_replay_dispatch(&rp, &req, dispatch_ns(ev));
            break;
        }
    }
}

} // namespace

Replay replay_trace(std::span<const ufq_trace_event> events) {
    Replay out;
    out.events = events.size();
    // A trace is of one device, but nothing stops a user from concatenating two.
    std::map<std::uint32_t, std::vector<std::uint32_t>> by_device;
    for (std::uint32_t i = 0; i < events.size(); ++i) {
        if (usable(events[i]))
            by_device[events[i].dev].push_back(i);
        else
            ++out.unusable;
    }
    for (const auto& [dev, indices] : by_device)
        replay_device(events, indices, out);
    return out;
}

double measured_log(std::uint64_t service_ns) {
    return static_cast<double>(ml_measured_log(service_ns)) / ML_ONE;
}

} // namespace ufq::ml
