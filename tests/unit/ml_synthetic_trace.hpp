#pragma once

// A synthetic trace for the ml trainer's tests: a device whose service time is a known
// function of what the policy sees when a request arrives (direction, size, requests in
// flight), times seeded log-normal noise, so that the tests know what the trainer should find.

#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <queue>
#include <random>
#include <vector>

#include "ufq/trace.h"

namespace ufq::test {

struct SyntheticTrace {
    std::vector<ufq_trace_event> events; // in completion order, as trace record writes them
    std::map<std::uint64_t, double> true_service_us; // by insert_ns: the function, no noise
};

struct SyntheticOptions {
    std::size_t requests = 20000;
    std::uint64_t seed = 42;
    double noise_sigma = 0.1;  // of the natural log of the service time
    unsigned device_depth = 16; // requests the device works on at once
};

// The device: reads 60 µs + 4 µs per KiB, writes 20 µs + 2 µs per KiB, each 12% slower per
// request already in flight when the request arrives.
inline double synthetic_service_us(bool write, std::uint32_t bytes, std::uint32_t in_flight) {
    const double kib = bytes / 1024.0;
    const double base = write ? 20 + 2 * kib : 60 + 4 * kib;
    return base * (1 + 0.12 * in_flight);
}

inline SyntheticTrace make_synthetic_trace(const SyntheticOptions& o = {}) {
    std::mt19937_64 rng(o.seed);
    auto uniform = [&] { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; };
    auto gauss = [&] { // Box-Muller on the raw bits: the same numbers everywhere
        return std::sqrt(-2 * std::log(uniform())) * std::cos(2 * M_PI * uniform());
    };
    constexpr std::uint32_t kSizes[] = {4096, 8192, 16384, 65536, 131072};

    struct Pending {
        std::uint64_t complete_ns;
        std::size_t index;
        bool operator>(const Pending& o) const { return complete_ns > o.complete_ns; }
    };
    std::vector<ufq_trace_event> all(o.requests);
    std::priority_queue<Pending, std::vector<Pending>, std::greater<>> at_device;
    std::deque<std::size_t> waiting;
    SyntheticTrace out;
    std::vector<std::size_t> completion_order;

    auto dispatch = [&](std::size_t i, std::uint64_t now) {
        ufq_trace_event& ev = all[i];
        ev.wait_ns = now - ev.insert_ns;
        ev.complete_ns = now + ev.service_ns;
        at_device.push({ev.complete_ns, i});
    };
    auto complete_until = [&](std::uint64_t now) {
        while (!at_device.empty() && at_device.top().complete_ns <= now) {
            const Pending p = at_device.top();
            at_device.pop();
            completion_order.push_back(p.index);
            if (!waiting.empty()) {
                const std::size_t next = waiting.front();
                waiting.pop_front();
                dispatch(next, p.complete_ns);
            }
        }
    };

    std::uint64_t now = 1000000;
    std::uint64_t next_sector = 0;
    for (std::size_t i = 0; i < o.requests; ++i) {
        // Busy and quiet phases of 1000 requests, so in-flight counts cover 0 to the depth.
        const double mean_gap_us = (i / 1000) % 2 ? 25 : 400;
        now += static_cast<std::uint64_t>(-std::log(uniform()) * mean_gap_us * 1000) + 1;
        complete_until(now);

        ufq_trace_event& ev = all[i];
        ev.dev = (259u << 20) | 1;
        ev.insert_ns = now;
        ev.alloc_ns = now;
        const bool write = uniform() < 0.3;
        ev.flags = write ? 0x1 : 0x2; // write, or a sync read
        ev.bytes = kSizes[rng() % 5];
        ev.sector = uniform() < 0.3 ? next_sector : (rng() % (1ULL << 28)) * 8;
        next_sector = ev.sector + ev.bytes / 512;
        ev.cgroup_id = 1;
        const auto in_flight = static_cast<std::uint32_t>(at_device.size());
        const double truth = synthetic_service_us(write, ev.bytes, in_flight);
        out.true_service_us[ev.insert_ns] = truth;
        ev.service_ns = static_cast<std::uint64_t>(truth * 1000 * std::exp(o.noise_sigma * gauss()));
        if (at_device.size() < o.device_depth)
            dispatch(i, now);
        else
            waiting.push_back(i);
        ev.nr_waiting = static_cast<std::uint32_t>(waiting.size());
    }
    complete_until(UINT64_MAX);
    for (const auto i : completion_order)
        out.events.push_back(all[i]);
    return out;
}

} // namespace ufq::test
