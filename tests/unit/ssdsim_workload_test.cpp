// ssdsim predictions (tools/ssdsim/workload.hpp): closed-loop jobs on the model alone.
#include "workload.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "ssdsim_fixture.hpp"

namespace ssdsim {
namespace {

// Room for 40 requests in flight and a buffer of 64 pages; no GC.
Profile quiet() {
    Profile p = test::round_profile();
    p.queue_depth = 40;
    p.buffer_bytes = 64 * 4096;
    return p;
}

TEST(SsdsimWorkload, ParsesJobs) {
    const Job j = parse_job("flood:rw=randwrite,bs=64k,qd=32,ramp=500ms,runtime=2s");
    EXPECT_EQ(j.name, "flood");
    EXPECT_EQ(j.op, Op::write);
    EXPECT_EQ(j.block, 65536u);
    EXPECT_EQ(j.depth, 32u);
    EXPECT_EQ(j.ramp, 500'000'000u);
    EXPECT_EQ(j.runtime, 2'000'000'000u);
    EXPECT_EQ(parse_job("r:rw=randread,bs=4k,ios=100").ios, 100u);
}

TEST(SsdsimWorkload, RefusesBadJobs) {
    for (const char* bad : {"rw=randread,bs=4k,ios=1", "r:bs=4k,ios=1", "r:rw=read,ios=1",
                            "r:rw=randread,bs=3k,ios=1", "r:rw=randread,qd=0,ios=1",
                            "r:rw=randread,bs=4k", "r:rw=randread,runtime=5x",
                            "r:rw=randread,ios=1,colour=blue"})
        EXPECT_THROW(parse_job(bad), std::invalid_argument) << bad;
}

TEST(SsdsimWorkload, IsolatedReadsTakeTheModelledTime) {
    const auto r = simulate(quiet(), {parse_job("r:rw=randread,bs=4k,qd=1,ios=200")});
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].ios, 200u);
    EXPECT_DOUBLE_EQ(r[0].min_ns, 61'000);
    EXPECT_DOUBLE_EQ(r[0].p10_ns, 61'000);
    EXPECT_DOUBLE_EQ(r[0].p50_ns, 61'000);
    EXPECT_DOUBLE_EQ(r[0].p99_ns, 61'000);
}

TEST(SsdsimWorkload, RampedRequestsAreNotCounted) {
    // 61 us per read at depth 1: about 16 reads in the first ms, which the ramp drops.
    const auto r = simulate(quiet(), {parse_job("r:rw=randread,bs=4k,qd=1,ramp=1ms,runtime=1ms")});
    EXPECT_NEAR(static_cast<double>(r[0].ios), 1e6 / 61e3, 1.0);
}

TEST(SsdsimWorkload, WriteFloodRaisesReadTailsByTheProgramTime) {
    const Profile p = quiet();
    const auto alone = simulate(p, {parse_job("r:rw=randread,bs=4k,qd=1,ramp=50ms,runtime=200ms")});
    const auto flood = simulate(p, {parse_job("r:rw=randread,bs=4k,qd=1,ramp=50ms,runtime=200ms"),
                                    parse_job("w:rw=randwrite,bs=64k,qd=32,ramp=50ms,runtime=200ms")});
    // Under the flood the buffer is full and the dies program 40% of the time (one page per
    // 100 us over 4 dies, 200 us each... 4096 B / 100 us drained, 4 dies x 200 us): a read
    // that meets a program waits up to 200 us.
    EXPECT_GT(flood[0].p99_ns, alone[0].p99_ns + 150'000);
    EXPECT_LE(flood[0].p99_ns, alone[0].p99_ns + 200'000 + 1'000);
    // The writes complete at the drain rate: 16 pages per 64k write, one page per 100 us.
    EXPECT_NEAR(static_cast<double>(flood[1].ios), 200e3 / (16 * 100.0), 2);
}

TEST(SsdsimWorkload, RefusesMoreInFlightThanTheDeviceHasTags) {
    Profile p = quiet();
    p.queue_depth = 8;
    EXPECT_THROW(simulate(p, {parse_job("r:rw=randread,bs=4k,qd=4,ios=10"),
                              parse_job("w:rw=randwrite,bs=4k,qd=5,ios=10")}),
                 std::invalid_argument);
}

TEST(SsdsimWorkload, SameSeedSameResult) {
    Profile p = quiet();
    p.noise = 0.1;
    const std::vector<Job> jobs = {parse_job("r:rw=randread,bs=4k,qd=4,ios=500"),
                                   parse_job("w:rw=randwrite,bs=16k,qd=4,ios=500")};
    const auto a = simulate(p, jobs, 7), b = simulate(p, jobs, 7);
    EXPECT_EQ(a[0].p99_ns, b[0].p99_ns);
    EXPECT_EQ(a[1].mean_ns, b[1].mean_ns);
}

} // namespace
} // namespace ssdsim
