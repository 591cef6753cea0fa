#include "ufq/trace.hpp"

#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "ufq/trace.h"
#include "ufq/trace_reader.hpp"

namespace ufq::test {
namespace {

using ::testing::HasSubstr;

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

// Every field, at random values over its whole width, comes back as it was written.
TEST(TraceReaderTest, ReadsBackWhatTraceRecordWrites) {
    std::mt19937_64 rng(3);
    std::vector<ufq_trace_event> some(200);
    std::string csv = trace_csv_header();
    for (auto& ev : some) {
        ev.complete_ns = rng();
        ev.alloc_ns = rng();
        ev.insert_ns = rng();
        ev.wait_ns = rng();
        ev.service_ns = rng();
        ev.sector = rng();
        ev.flags = rng();
        ev.cgroup_id = rng();
        ev.dev = static_cast<u32>(rng());
        ev.bytes = static_cast<u32>(rng());
        ev.nr_waiting = static_cast<u32>(rng());
        ev.ioprio = static_cast<u16>(rng());
        csv += trace_csv_line(ev);
    }
    std::istringstream in(csv);
    const auto back = parse_trace_csv(in, "t.csv");
    ASSERT_EQ(back.size(), some.size());
    for (std::size_t i = 0; i < some.size(); ++i)
        EXPECT_EQ(trace_csv_line(back[i]), trace_csv_line(some[i])) << i;
}

TEST(TraceReaderTest, ColumnsByNameInAnyOrder) {
    std::istringstream in("service_ns,extra,dev,sector,bytes,flags,ioprio,cgroup_id,nr_waiting,"
                          "alloc_ns,insert_ns,wait_ns,complete_ns\n"
                          "500,x,8:16,2048,4096,0x1,16388,1,0,900,1000,20,1520\n");
    const auto ev = parse_trace_csv(in, "t.csv");
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].service_ns, 500u);
    EXPECT_EQ(ev[0].dev, (8u << 20) | 16);
    EXPECT_EQ(ev[0].flags, 1u);
    EXPECT_EQ(ev[0].ioprio, 16388);
    EXPECT_EQ(ev[0].complete_ns, 1520u);
}

std::string parse_error(const std::string& text) {
    return error_message([&] {
        std::istringstream in(text);
        (void)parse_trace_csv(in, "t.csv");
    });
}

TEST(TraceReaderTest, MalformedTracesAreOneLineNamingTheLine) {
    const std::string header = trace_csv_header();
    EXPECT_THAT(parse_error(""), HasSubstr("t.csv is empty"));
    EXPECT_THAT(parse_error("a,b,c\n1,2,3\n"),
                HasSubstr("t.csv:1: not a ufqctl trace: the header has no column 'complete_ns'"));
    EXPECT_THAT(parse_error(header + "1,2,3\n"), HasSubstr("t.csv:2: expected 14 columns, got 3"));
    EXPECT_THAT(parse_error(header + "5000,251:3,2048,4096,1,0x3,16388,77,9,900,1000,1500,"
                                     "-500,4000\n"),
                HasSubstr("t.csv:2: column service_ns: '-500' is not an integer in 0.."));
    EXPECT_THAT(parse_error(header + "5000,251,2048,4096,1,0x3,16388,77,9,900,1000,1500,500,"
                                     "4000\n"),
                HasSubstr("t.csv:2: column dev: '251' is not a device number MAJ:MIN"));
    EXPECT_THAT(parse_error(header + "5000,251:3,2048,4096,1,0x3,70000,77,9,900,1000,1500,500,"
                                     "4000\n"),
                HasSubstr("column ioprio: '70000' is not an integer in 0..65535"));
}

} // namespace
} // namespace ufq::test
