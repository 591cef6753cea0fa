#include "ufq/trace.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ufq/trace.h"

namespace ufq::test {
namespace {

// The CSV is the documented format (docs/ufq-formats.md): one column per header name.
TEST(TraceCsvTest, LineMatchesHeader) {
    ufq_trace_event ev{};
    ev.complete_ns = 5000;
    ev.alloc_ns = 900;
    ev.insert_ns = 1000;
    ev.wait_ns = 1500;
    ev.service_ns = 500;
    ev.sector = 2048;
    ev.flags = 0x3; // write, sync
    ev.cgroup_id = 77;
    ev.dev = (251u << 20) | 3;
    ev.bytes = 4096;
    ev.nr_waiting = 9;
    ev.ioprio = 0x4004;
    const std::string header = trace_csv_header();
    const std::string line = trace_csv_line(ev);
    EXPECT_EQ(std::count(header.begin(), header.end(), ','),
              std::count(line.begin(), line.end(), ','));
    EXPECT_EQ(line, "5000,251:3,2048,4096,1,0x3,16388,77,9,900,1000,1500,500,4000\n");
}

// Latency is insertion to completion; wait + service when that is larger (clock skew).
TEST(TraceCsvTest, LatencyIsTheLargerMeasure) {
    ufq_trace_event ev{};
    ev.complete_ns = 1000;
    ev.insert_ns = 900;
    ev.wait_ns = 300;
    EXPECT_THAT(trace_csv_line(ev), ::testing::EndsWith(",300,0,300\n"));
}

} // namespace
} // namespace ufq::test
