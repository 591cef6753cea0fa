// The ssdsim latency model (tools/ssdsim/model.hpp) against its formulas (docs/ssdsim.md).
#include "model.hpp"

#include <gtest/gtest.h>

#include "profile.hpp"
#include "ssdsim_fixture.hpp"

namespace ssdsim {
namespace {

Profile simple() { return test::round_profile(); }

constexpr Nanos us = 1000;
constexpr std::uint64_t page = 4096;

TEST(SsdsimModel, IsolatedReadIsCommandArrayReadAndTransfer) {
    Model m(simple());
    EXPECT_EQ(m.submit(0, Op::read, 0, page), (10 + 50 + 1) * us);
}

TEST(SsdsimModel, ReadOfSeveralPagesUsesTheDiesInParallel) {
    Model m(simple());
    // Eight pages on four dies: two reads and transfers per die, one after the other.
    EXPECT_EQ(m.submit(0, Op::read, 0, 8 * page), (10 + 2 * (50 + 1)) * us);
}

TEST(SsdsimModel, ReadTransfersOnlyTheBytesAsked) {
    Model m(simple());
    // 2 KiB from the middle of a page: a whole array read, half a page's transfer.
    EXPECT_EQ(m.submit(0, Op::read, 1024, 2048), (10 + 50) * us + us / 2);
}

TEST(SsdsimModel, PagesAreStripedAcrossDies) {
    Model m(simple());
    EXPECT_EQ(m.die_of(0), 0u);
    EXPECT_EQ(m.die_of(page), 1u);
    EXPECT_EQ(m.die_of(4 * page), 0u);
    EXPECT_EQ(m.die_of(5 * page + 100), 1u);
}

TEST(SsdsimModel, ReadsOfOneDieSerialize) {
    Model m(simple());
    const Nanos first = m.submit(0, Op::read, 0, page);
    // Same die (page 4), arriving at once: waits for the first read and transfer.
    const Nanos second = m.submit(0, Op::read, 4 * page, page);
    EXPECT_EQ(first, 61 * us);
    EXPECT_EQ(second, (10 + 2 * (50 + 1)) * us);
    // Another die: no wait.
    EXPECT_EQ(m.submit(0, Op::read, page, page), (10 + 50 + 1) * us);
}

TEST(SsdsimModel, BufferedWriteCompletesAfterTheTransfer) {
    Model m(simple());
    EXPECT_EQ(m.submit(0, Op::write, 0, page), (10 + 1) * us);
    EXPECT_EQ(m.pending_pages(), 1u);
}

TEST(SsdsimModel, ReadWaitsBehindAProgramOnItsDie) {
    Model m(simple());
    // The page drains at once (the buffer was idle) and programs die 0 from 11 us to 211 us.
    m.submit(0, Op::write, 0, page);
    // A read of die 0 arriving at 20 us starts at 211 us.
    EXPECT_EQ(m.submit(10 * us, Op::read, 4 * page, page), (211 + 50 + 1) * us);
    // A read of die 1 does not wait.
    EXPECT_EQ(m.submit(10 * us, Op::read, page, page), (10 + 10 + 50 + 1) * us);
}

TEST(SsdsimModel, FullBufferMakesWritesWaitForTheDrain) {
    Model m(simple());
    // Four pages fill the buffer; they drain at 11, 111, 211, 311 us.
    EXPECT_EQ(m.submit(0, Op::write, 0, 4 * page), (10 + 4) * us);
    // Writes move into the buffer one after the other: the fifth page is in at 15 us, when
    // the first has already left (it drained at 14 us, on arrival).
    EXPECT_EQ(m.submit(0, Op::write, 4 * page, page), 15 * us);
    // The sixth needs the second page's slot, free when it drains at 114 us.
    EXPECT_EQ(m.submit(0, Op::write, 5 * page, page), 114 * us);
}

TEST(SsdsimModel, SustainedWritesCompleteAtTheDrainRate) {
    Profile p = simple();
    Model m(p);
    // Closed loop at depth 1: after the buffer fills, one page per drain interval.
    Nanos now = 0, prev = 0;
    for (int i = 0; i < 100; ++i) {
        prev = now;
        now = m.submit(now, Op::write, static_cast<std::uint64_t>(i) * page, page);
    }
    EXPECT_EQ(now - prev, 100 * us);
}

TEST(SsdsimModel, GcFactorRisesWithWriteVolumeAndRecovers) {
    Profile p = simple();
    p.gc_window_mib = 1.0 / 16; // 64 KiB: 16 pages
    p.gc_max_factor = 3;
    p.gc_recover_mb_s = 4096.0 / 1000; // 4 KiB per ms
    Model m(p);
    EXPECT_DOUBLE_EQ(m.gc_factor(), 1.0);
    m.submit(0, Op::write, 0, 8 * page); // half the window
    m.submit(0, Op::read, page, page);
    EXPECT_DOUBLE_EQ(m.gc_factor(), 2.0);
    m.submit(0, Op::write, 0, 16 * page); // more than the window: capped
    m.submit(0, Op::read, page, page);
    EXPECT_DOUBLE_EQ(m.gc_factor(), 3.0);
    // 96 KiB written by 10 us (the command time); 4 KiB forgotten per ms from then on.
    m.submit(8000 * us - 10 * us, Op::read, page, page); // 32 KiB forgotten: still capped
    EXPECT_NEAR(m.gc_factor(), 3.0, 1e-9);
    m.submit(16000 * us, Op::read, page, page); // 64 KiB forgotten: half the window left
    EXPECT_NEAR(m.gc_factor(), 2.0, 1e-9);
}

TEST(SsdsimModel, GcFactorStretchesProgramsAndDrain) {
    Profile p = simple();
    p.gc_window_mib = 1.0 / 256; // one page
    p.gc_max_factor = 2;
    Model m(p);
    m.submit(0, Op::write, 0, page); // factor 1 for this page: programs die 0 11..211 us
    // The second page pays factor 2: drains 200 us after the first (at 211 us), programs
    // die 0 (page 4) for 400 us after the first program: 211..611 us.
    m.submit(0, Op::write, 4 * page, page);
    EXPECT_EQ(m.submit(300 * us, Op::read, 0, page), (611 + 50 + 1) * us);
}

TEST(SsdsimModel, NoiseIsSeededAndBounded) {
    Profile p = simple();
    p.noise = 0.2;
    Model a(p), b(p);
    for (int i = 0; i < 50; ++i) {
        const Nanos now = static_cast<Nanos>(i) * 1000 * us;
        const Nanos ta = a.submit(now, Op::read, 0, page);
        EXPECT_EQ(ta, b.submit(now, Op::read, 0, page));
        // 10 us of command time, then 51 us x (1 +- 0.2).
        EXPECT_GE(ta - now, 10 * us + 40800);
        EXPECT_LE(ta - now, 10 * us + 61200);
    }
}

TEST(SsdsimModel, TimeScaleMultipliesEveryTime) {
    Profile p = simple();
    p.time_scale = 10;
    Model m(p);
    EXPECT_EQ(m.submit(0, Op::read, 0, page), 10 * (10 + 50 + 1) * us);
}

} // namespace
} // namespace ssdsim
