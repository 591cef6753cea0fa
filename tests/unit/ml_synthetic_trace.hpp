#pragma once

// Synthetic traces for the ml trainer's tests: an open-loop workload (busy and quiet phases,
// reads and writes of several sizes, some sequential) in front of a device that works on up to
// `device_depth` requests at once and queues the rest in arrival order, written as the events
// `ufqctl trace record` would have recorded. What a request costs is up to the caller:
//   - make_synthetic_trace(): a known function of what the policy sees when the request
//     arrives (direction, size, requests in flight), times seeded log-normal noise, so the
//     tests know what the trainer should find;
//   - the ssdsim test: ssdsim's SSD model (tools/ssdsim/model.hpp).

#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <random>
#include <vector>

#include "ufq/trace.h"

namespace ufq::test {

struct WorkloadOptions {
    std::size_t requests = 20000;
    std::uint64_t seed = 42;
    unsigned device_depth = 16;   // requests the device works on at once
    double write_fraction = 0.3;
    double busy_gap_us = 25;      // mean time between arrivals, alternating every 1000 requests
    double quiet_gap_us = 400;
    std::uint64_t sectors = 1ULL << 31; // the device's size
};

// Uniform and normal numbers from mt19937_64's raw bits: the same everywhere.
class TestRandom {
public:
    explicit TestRandom(std::uint64_t seed) : rng_(seed) {}
    double uniform() { return (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53; } // (0, 1)
    double gauss() { return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform()); }
    std::uint64_t next() { return rng_(); }

private:
    std::mt19937_64 rng_;
};

// Runs the workload; `service_ns(ev, in_flight_at_arrival, dispatch_ns)` gives each request's
// service time when it goes to the device (in nondecreasing dispatch_ns). Returns the events in
// completion order.
template <typename ServiceNs>
std::vector<ufq_trace_event> simulate_trace(const WorkloadOptions& o, ServiceNs service_ns) {
    TestRandom rng(o.seed);
    constexpr std::uint32_t kSizes[] = {4096, 8192, 16384, 65536, 131072};

    struct AtDevice {
        std::uint64_t complete_ns;
        std::size_t index;
        bool operator>(const AtDevice& other) const { return complete_ns > other.complete_ns; }
    };
    std::vector<ufq_trace_event> all(o.requests);
    std::vector<std::uint32_t> in_flight_at_arrival(o.requests);
    std::priority_queue<AtDevice, std::vector<AtDevice>, std::greater<>> at_device;
    std::deque<std::size_t> waiting;
    std::vector<std::size_t> completion_order;

    auto dispatch = [&](std::size_t i, std::uint64_t now) {
        ufq_trace_event& ev = all[i];
        ev.wait_ns = now - ev.insert_ns;
        ev.service_ns = service_ns(ev, in_flight_at_arrival[i], now);
        ev.complete_ns = now + ev.service_ns;
        at_device.push({ev.complete_ns, i});
    };
    // Returns how many requests went to the device at exactly `now`: the replay (and the
    // policy) takes an arrival before a dispatch of the same nanosecond, so they do not count
    // as in flight for a request arriving then.
    auto complete_until = [&](std::uint64_t now) {
        std::uint32_t dispatched_now = 0;
        while (!at_device.empty() && at_device.top().complete_ns <= now) {
            const AtDevice done = at_device.top();
            at_device.pop();
            completion_order.push_back(done.index);
            if (!waiting.empty()) {
                const std::size_t next = waiting.front();
                waiting.pop_front();
                dispatch(next, done.complete_ns);
                dispatched_now += done.complete_ns == now;
            }
        }
        return dispatched_now;
    };

    std::uint64_t now = 1000000;
    std::uint64_t next_sector = 0;
    for (std::size_t i = 0; i < o.requests; ++i) {
        const double gap_us = (i / 1000) % 2 ? o.busy_gap_us : o.quiet_gap_us;
        now += static_cast<std::uint64_t>(-std::log(rng.uniform()) * gap_us * 1000) + 1;
        const std::uint32_t dispatched_now = complete_until(now);

        ufq_trace_event& ev = all[i];
        ev.dev = (259u << 20) | 1;
        ev.insert_ns = now;
        ev.alloc_ns = now;
        ev.flags = rng.uniform() < o.write_fraction ? 0x1 : 0x2; // a write, or a sync read
        ev.bytes = kSizes[rng.next() % 5];
        const std::uint64_t slots = o.sectors / 256 - 1; // 128 KiB-aligned starts
        ev.sector = rng.uniform() < 0.3 ? next_sector : (rng.next() % slots) * 256;
        if (ev.sector + ev.bytes / 512 > o.sectors)
            ev.sector = 0;
        next_sector = ev.sector + ev.bytes / 512;
        ev.cgroup_id = 1;
        in_flight_at_arrival[i] = static_cast<std::uint32_t>(at_device.size()) - dispatched_now;
        if (at_device.size() < o.device_depth)
            dispatch(i, now);
        else
            waiting.push_back(i);
        ev.nr_waiting = static_cast<std::uint32_t>(waiting.size());
    }
    complete_until(UINT64_MAX);
    std::vector<ufq_trace_event> events;
    for (const auto i : completion_order)
        events.push_back(all[i]);
    return events;
}

struct SyntheticTrace {
    std::vector<ufq_trace_event> events; // in completion order, as trace record writes them
    std::map<std::uint64_t, double> true_service_us; // by insert_ns: the function, no noise
};

// The known device: reads 60 µs + 4 µs per KiB, writes 20 µs + 2 µs per KiB, each 12% slower
// per request already in flight when the request arrives.
inline double synthetic_service_us(bool write, std::uint32_t bytes, std::uint32_t in_flight) {
    const double kib = bytes / 1024.0;
    const double base = write ? 20 + 2 * kib : 60 + 4 * kib;
    return base * (1 + 0.12 * in_flight);
}

// The known device with log-normal noise of `noise_sigma` (of the natural log).
inline SyntheticTrace make_synthetic_trace(const WorkloadOptions& o = {},
                                           double noise_sigma = 0.1) {
    SyntheticTrace out;
    TestRandom noise(o.seed + 1);
    out.events = simulate_trace(o, [&](const ufq_trace_event& ev, std::uint32_t in_flight,
                                       std::uint64_t) {
        const double truth = synthetic_service_us(ev.flags & 1, ev.bytes, in_flight);
        out.true_service_us[ev.insert_ns] = truth;
        return static_cast<std::uint64_t>(truth * 1000 * std::exp(noise_sigma * noise.gauss()));
    });
    return out;
}

} // namespace ufq::test
