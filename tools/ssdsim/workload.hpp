// Predictions: fio-like closed-loop jobs run against the model alone, on a simulated clock.
//
// Each job keeps `depth` requests of `block` bytes at random block-aligned offsets in flight,
// submitting the next one the moment one completes (no host time at all), from time 0 until
// ramp + runtime; latencies of requests submitted during the ramp are not counted. That is
// what the same fio job measures on the device, less the host's own time per request, so the
// VM test compares fio's numbers with these.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model.hpp"
#include "profile.hpp"

namespace ssdsim {

struct Job {
    std::string name;
    Op op = Op::read;
    std::uint32_t block = 4096;
    unsigned depth = 1;
    Nanos ramp = 0;
    Nanos runtime = 0;     // after the ramp
    std::uint64_t ios = 0; // stop after this many requests (counted or not); 0: no limit
};

struct JobResult {
    std::string name;
    std::uint64_t ios = 0; // requests counted (submitted after the ramp, completed)
    double mean_ns = 0, min_ns = 0, p10_ns = 0, p50_ns = 0, p99_ns = 0, max_ns = 0;
};

// Parses "NAME:rw=randread|randwrite,bs=4k,qd=1,runtime=5s,ramp=1s,ios=N"; throws
// std::invalid_argument with a one-line message.
Job parse_job(const std::string& spec);

// Runs the jobs together on a fresh model of the profile; offsets are drawn from `seed` over
// the profile's capacity. Throws std::invalid_argument when the jobs' depths add up to more
// than the profile's queue depth (the host would queue the excess for tags).
std::vector<JobResult> simulate(const Profile& p, const std::vector<Job>& jobs,
                                std::uint64_t seed = 1);

} // namespace ssdsim
