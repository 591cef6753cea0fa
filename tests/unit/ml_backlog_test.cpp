// The ml policy's write-backlog features (policies/ml_model.h: x12 writes in flight, x13 the
// decaying write volume) and how the policy's completion and requeue paths (policies/ml.h)
// keep their state, against values worked out by hand.
#include "ml.h"
#include "ml_model.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

constexpr s32 kOne = ML_ONE;
constexpr u64 kHalf = 1ULL << ML_WVOL_SHIFT; // one half-life of x13, ns
constexpr u64 kMiB = 1ULL << 20;

ml_req request(bool write, u32 nr_in_flight, u64 now_ns) {
    ml_req r{};
    r.sector = 0;
    r.bytes = 4096;
    r.write = write;
    r.prio_class = ML_PRIO_BE;
    r.nr_in_flight = nr_in_flight;
    r.now_ns = now_ns;
    return r;
}

// The features of an arrival now, with `nr_in_flight` at the device.
struct Arrival {
    s32 x[ML_NR_FEATURES];
    Arrival(ml_feat_state* st, u32 nr_in_flight, u64 now_ns) {
        ml_req r = request(false, nr_in_flight, now_ns);
        ml_features(st, &r, x);
    }
};

// ---- ml_decay() ------------------------------------------------------------------------------

TEST(MlDecay, WholeHalfLivesAreExactShifts) {
    EXPECT_EQ(ml_decay(kMiB, 0, ML_WVOL_SHIFT), kMiB);
    EXPECT_EQ(ml_decay(kMiB, kHalf, ML_WVOL_SHIFT), kMiB / 2);
    EXPECT_EQ(ml_decay(kMiB, 3 * kHalf, ML_WVOL_SHIFT), kMiB / 8);
    // 1/16 of a half-life of 2^28 ns: 1 - 1/32.
    EXPECT_EQ(ml_decay(kMiB, 1ULL << 24, 28), kMiB - kMiB / 32);
    // 1.5 half-lives: 2^20 / 2 * (1 - 1/4) = 393216 (2^-1.5 would be 370727: 6% less).
    EXPECT_EQ(ml_decay(kMiB, 3 * kHalf / 2, ML_WVOL_SHIFT), 393216u);
}

// Between whole half-lives, 1 - f/2 stands for 2^-f: never below it, at most 0.0433 above.
TEST(MlDecay, FractionWithinTheDocumentedBound) {
    const u64 v = ML_WVOL_MAX;
    for (u64 dt = 0; dt < kHalf; dt += kHalf / 997) {
        const double want = std::ldexp(std::exp2(-static_cast<double>(dt) / kHalf), 40);
        const double got = static_cast<double>(ml_decay(v, dt, ML_WVOL_SHIFT));
        ASSERT_GE(got, want - 1) << dt;
        ASSERT_LE(got, want + 0.0433 * static_cast<double>(v)) << dt;
    }
}

TEST(MlDecay, SaturatesToZeroAtTheExtremes) {
    EXPECT_EQ(ml_decay(ML_WVOL_MAX, 0, ML_WVOL_SHIFT), ML_WVOL_MAX);
    EXPECT_EQ(ml_decay(ML_WVOL_MAX, 41 * kHalf, ML_WVOL_SHIFT), 0u);
    EXPECT_EQ(ml_decay(ML_WVOL_MAX, 64 * kHalf, ML_WVOL_SHIFT), 0u);
    EXPECT_EQ(ml_decay(ML_WVOL_MAX, ~0ULL, ML_WVOL_SHIFT), 0u);
    // The longest half-life, 2^63 ns: ~0 ns is one of them and 65535/65536 of another,
    // 2^40 / 2 * (1 - 65535 / 131072) = 2^38 + 2^22.
    EXPECT_EQ(ml_decay(ML_WVOL_MAX, ~0ULL, 63), (1ULL << 38) + (1ULL << 22));
}

// ---- x12: writes in flight --------------------------------------------------------------------

TEST(MlBacklog, WritesInFlightCountsWritesOnly) {
    ml_feat_state st;
    ml_feat_init(&st);
    for (int i = 0; i < 3; ++i)
        ml_feat_dispatched(&st, 8, true, 4096, 1000);
    ml_feat_dispatched(&st, 8, false, 4096, 1000);
    EXPECT_EQ(Arrival(&st, 4, 2000).x[ML_F_WRITES_IN_FLIGHT], 2 * kOne); // log2(1 + 3)
    EXPECT_EQ(Arrival(&st, 4, 2000).x[ML_F_IN_FLIGHT], ml_log2_q16(5));
    // Never more than the kernel's count of requests at the device: log2(1 + 2).
    EXPECT_EQ(Arrival(&st, 2, 2000).x[ML_F_WRITES_IN_FLIGHT], 98304);
    ml_feat_left(&st, false);
    EXPECT_EQ(st.writes_in_flight, 3);
    for (int i = 0; i < 3; ++i)
        ml_feat_left(&st, true);
    EXPECT_EQ(Arrival(&st, 1, 2000).x[ML_F_WRITES_IN_FLIGHT], 0);
}

// Completions of writes it never counted take the count below 0: read as 0, and set back to
// 0 the next time nothing is at the device.
TEST(MlBacklog, WritesInFlightBelowZeroReadsAsZeroAndSettles) {
    ml_feat_state st;
    ml_feat_init(&st);
    ml_feat_left(&st, true);
    ml_feat_left(&st, true);
    EXPECT_EQ(st.writes_in_flight, -2);
    EXPECT_EQ(Arrival(&st, 5, 1000).x[ML_F_WRITES_IN_FLIGHT], 0);
    EXPECT_EQ(st.writes_in_flight, -2);          // busy: left alone
    EXPECT_EQ(Arrival(&st, 0, 2000).x[ML_F_WRITES_IN_FLIGHT], 0);
    EXPECT_EQ(st.writes_in_flight, 0);
    // And a count left high (a completion lost) is settled the same way.
    st.writes_in_flight = 7;
    EXPECT_EQ(Arrival(&st, 0, 3000).x[ML_F_WRITES_IN_FLIGHT], 0);
    EXPECT_EQ(st.writes_in_flight, 0);
    // The largest count against the largest kernel count: log2(2^31), no overflow.
    st.writes_in_flight = ML_S32_MAX;
    EXPECT_EQ(Arrival(&st, ML_U32_MAX, 4000).x[ML_F_WRITES_IN_FLIGHT], 31 * kOne);
}

// ---- x13, x14: write volume -------------------------------------------------------------------

TEST(MlBacklog, WriteVolumeDecaysWithTime) {
    ml_feat_state st;
    ml_feat_init(&st);
    const u64 t0 = 1ULL << 30;
    ml_feat_dispatched(&st, 2048, true, kMiB, t0);
    ml_feat_dispatched(&st, 2048, false, kMiB, t0);             // reads add nothing
    EXPECT_EQ(Arrival(&st, 1, t0).x[ML_F_WRITE_VOLUME], 655424); // 1024 KiB: log2(1025)
    EXPECT_EQ(Arrival(&st, 1, t0 + kHalf).x[ML_F_WRITE_VOLUME], 589952); // halved: log2(513)
    // 1.5 half-lives: 384 KiB, log2(385) = 8 + 129/256.
    EXPECT_EQ(Arrival(&st, 1, t0 + 3 * kHalf / 2).x[ML_F_WRITE_VOLUME], 557312);
    // A write one half-life after the first adds to what is left of it.
    ml_feat_dispatched(&st, 2048, true, kMiB, t0 + kHalf);
    EXPECT_EQ(st.write_vol, kMiB / 2 + kMiB);
    EXPECT_EQ(st.write_vol_ns, t0 + kHalf);
    EXPECT_EQ(Arrival(&st, 1, t0 + kHalf).x[ML_F_WRITE_VOLUME], 688192); // 1536 KiB: log2(1537)
    // An arrival (or a dispatch) whose clock reads before the last dispatch decays nothing.
    EXPECT_EQ(Arrival(&st, 1, t0).x[ML_F_WRITE_VOLUME], 688192);
    ml_feat_dispatched(&st, 2048, true, 1024, t0);
    EXPECT_EQ(st.write_vol, kMiB / 2 + kMiB + 1024);
    EXPECT_EQ(st.write_vol_ns, t0 + kHalf);
    // Quiet for 64 half-lives: 0 again.
    EXPECT_EQ(Arrival(&st, 1, t0 + 65 * kHalf).x[ML_F_WRITE_VOLUME], 0);
}

TEST(MlBacklog, WriteVolumeSaturates) {
    ml_feat_state st;
    ml_feat_init(&st);
    for (int i = 0; i < 300; ++i)                                // 300 x 4 GiB at once
        ml_feat_dispatched(&st, 0, true, ML_U32_MAX, 1000);
    EXPECT_EQ(st.write_vol, ML_WVOL_MAX);
    EXPECT_EQ(Arrival(&st, 300, 1000).x[ML_F_WRITE_VOLUME], 30 * kOne); // 2^30 KiB
    // A clock near its end neither overflows nor wraps: everything before has decayed.
    ml_feat_dispatched(&st, 0, true, ML_U32_MAX, ~0ULL);
    EXPECT_EQ(st.write_vol, ML_U32_MAX);
    EXPECT_EQ(Arrival(&st, 300, ~0ULL).x[ML_F_WRITE_VOLUME], ml_log1p_q16(ML_U32_MAX >> 10));
}

// ---- the policy's completion and requeue paths (ml.h) ----------------------------------------

struct MlBacklogDev : testing::Test {
    ml_tunables t;
    ml_dev d;
    void SetUp() override {
        ml_tunables_default(&t);
        ml_dev_init(&d, 1, nullptr, 0);
    }
    u64 write_cookie(u32 pred_us = 100) { return ml_cookie(true, false, 0, pred_us); }
};

TEST_F(MlBacklogDev, CompletionTakesTheWriteOffOnce) {
    ml_req r = request(true, 0, 1000);
    r.bytes = 8192;
    ml_dispatched_direct(&d, &r, 100);
    ml_dispatched_direct(&d, &r, 100);
    EXPECT_EQ(d.feat.writes_in_flight, 2);
    EXPECT_EQ(d.feat.write_vol, 16384u);
    EXPECT_EQ(d.write_pred_ns, 200000);
    // Requeued: it leaves now, and its completion does not take it off again.
    const u64 requeued = ml_requeued(&d, write_cookie());
    EXPECT_TRUE(ml_cookie_requeued(requeued));
    EXPECT_EQ(d.feat.writes_in_flight, 1);
    ml_completion(&d, &t, requeued, 500000, true);
    EXPECT_EQ(d.feat.writes_in_flight, 1);
    EXPECT_EQ(d.write_pred_ns, 100000);
    EXPECT_EQ(d.requeued, 1u);
    // Not measured (0): it leaves the device, but neither the ring nor the mean learn.
    ml_completion(&d, &t, write_cookie(), 0, true);
    EXPECT_EQ(d.feat.writes_in_flight, 0);
    EXPECT_EQ(d.write_pred_ns, 0);
    EXPECT_EQ(d.completed, 2u);
    EXPECT_EQ(d.mean[ML_WRITE].samples, 1u);     // the requeued one's 500 us only
    EXPECT_EQ(d.feat.service_head, 1u);
    EXPECT_EQ(d.feat.last_service_us[0], 500u);
    // Reads never touch the write count.
    ml_completion(&d, &t, ml_cookie(false, false, 0, 1), 1000, true);
    EXPECT_EQ(d.feat.writes_in_flight, 0);
}

// Bound again after exit_dev: nothing of the old binding is in flight, writes included.
TEST_F(MlBacklogDev, RebindForgetsWritesInFlight) {
    ml_req r = request(true, 0, 1000);
    ml_dispatched_direct(&d, &r, 100);
    ml_dev_rebind(&d);
    EXPECT_EQ(d.feat.writes_in_flight, 0);
    EXPECT_EQ(d.feat.write_vol, 4096u);          // what was written recently stays
}

} // namespace
