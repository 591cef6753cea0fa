// The ml policy's plain-C core on the host: the latency model (policies/ml_model.h), the
// prediction-error histogram (include/ufq/pred_error.h) and the scheduling decisions
// (policies/ml.h).
#include "ml.h"
#include "ml_model.h"
#include "ufq/pred_error.h"

#include "ufq/btf_schema.hpp"
#include "ufq/model.hpp"
#include "ufq/tunables.hpp"

#include <bpf/btf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "error_message.hpp"
#include "skip.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr s32 kOne = ML_ONE;

// ---- fixed point ---------------------------------------------------------------------------

TEST(MlFixed, SaturatesAtBothEnds) {
    EXPECT_EQ(ml_sat32(0), 0);
    EXPECT_EQ(ml_sat32(ML_S32_MAX), ML_S32_MAX);
    EXPECT_EQ(ml_sat32(static_cast<s64>(ML_S32_MAX) + 1), ML_S32_MAX);
    EXPECT_EQ(ml_sat32(std::numeric_limits<s64>::max()), ML_S32_MAX);
    EXPECT_EQ(ml_sat32(ML_S32_MIN), ML_S32_MIN);
    // S32_MIN itself is out of range, so that negating any result is safe.
    EXPECT_EQ(ml_sat32(std::numeric_limits<s32>::min()), ML_S32_MIN);
    EXPECT_EQ(ml_sat32(std::numeric_limits<s64>::min()), ML_S32_MIN);
    EXPECT_EQ(-ml_sat32(std::numeric_limits<s64>::min()), ML_S32_MAX);
}

TEST(MlFixed, AddAndMultiply) {
    EXPECT_EQ(ml_add(ML_S32_MAX, 1), ML_S32_MAX);
    EXPECT_EQ(ml_add(ML_S32_MIN, -1), ML_S32_MIN);
    EXPECT_EQ(ml_add(3 * kOne, -kOne), 2 * kOne);
    EXPECT_EQ(ml_mul(kOne, kOne), kOne);
    EXPECT_EQ(ml_mul(3 * kOne / 2, -2 * kOne), -3 * kOne);
    EXPECT_EQ(ml_mul(kOne / 2, kOne / 2), kOne / 4);
    // 32767 * 32767 overflows Q16.16 by far: saturated, not wrapped.
    EXPECT_EQ(ml_mul(ML_S32_MAX, ML_S32_MAX), ML_S32_MAX);
    EXPECT_EQ(ml_mul(ML_S32_MAX, ML_S32_MIN), ML_S32_MIN);
    EXPECT_EQ(ml_mul(ML_S32_MIN, ML_S32_MIN), ML_S32_MAX);
    // Right shifts floor: -1/65536 * 1/2 is -1 ulp, not 0.
    EXPECT_EQ(ml_mul(-1, kOne / 2), -1);
    EXPECT_EQ(ml_clamp(5, 0, 3), 3);
    EXPECT_EQ(ml_clamp(-5, 0, 3), 0);
}

// ---- log2 / exp2 ---------------------------------------------------------------------------

TEST(MlLog2, ExactAtPowersOfTwo) {
    EXPECT_EQ(ml_log2_q16(0), 0);
    for (u32 k = 0; k < 64; ++k)
        EXPECT_EQ(ml_log2_q16(1ULL << k), static_cast<s32>(k << 16)) << k;
    // The largest input: 63 and almost one more, never saturating.
    EXPECT_EQ(ml_log2_q16(~0ULL), (63 << 16) | 0xffff);
    // 3 = 2 * 1.5: 1 + 0.5 (true log2 1.585).
    EXPECT_EQ(ml_log2_q16(3), kOne + kOne / 2);
    EXPECT_EQ(ml_log1p_q16(0), 0);
    EXPECT_EQ(ml_log1p_q16(1), kOne);
    EXPECT_EQ(ml_log1p_q16(~0ULL), ml_log2_q16(~0ULL));
}

// Measured: at most 0.0861 below the true log2 (1/ln 2 - 1 - log2(1/ln 2) = 0.08607), never
// above it (beyond the truncation of the last fraction bit).
TEST(MlLog2, ErrorBound) {
    std::mt19937_64 rng(1);
    double worst_low = 0, worst_high = 0;
    auto check = [&](u64 x) {
        const double got = ml_log2_q16(x) / 65536.0, want = std::log2(static_cast<double>(x));
        worst_low = std::max(worst_low, want - got);
        worst_high = std::max(worst_high, got - want);
    };
    for (u64 x = 1; x < 100000; ++x)
        check(x);
    for (int i = 0; i < 200000; ++i)
        check(rng() >> (rng() % 64) | 1);
    EXPECT_LT(worst_low, 0.0861);
    EXPECT_GT(worst_low, 0.086);       // the bound is attained: the statement is tight
    EXPECT_LE(worst_high, 1e-9);
}

TEST(MlExp2, BoundsAndSaturation) {
    EXPECT_EQ(ml_exp2_q16(0), 1u);
    EXPECT_EQ(ml_exp2_q16(-1), 0u);
    EXPECT_EQ(ml_exp2_q16(ML_S32_MIN), 0u);
    EXPECT_EQ(ml_exp2_q16(kOne), 2u);
    EXPECT_EQ(ml_exp2_q16(kOne + kOne / 2), 3u);     // the same interpolation as log2
    EXPECT_EQ(ml_exp2_q16(10 * kOne), 1024u);
    EXPECT_EQ(ml_exp2_q16(39 * kOne), 1ULL << 39);
    EXPECT_EQ(ml_exp2_q16(40 * kOne - 1), (1ULL << 40) - (1ULL << 23)); // 2^39 * (2 - 2^-16)
    EXPECT_EQ(ml_exp2_q16(40 * kOne), 1ULL << 40);
    EXPECT_EQ(ml_exp2_q16(ML_S32_MAX), 1ULL << 40);
}

// The round trip: exact at powers of two; otherwise at most x / 2^16 + 1 below x, never above
// (far inside the design's 6%).
TEST(MlExp2, RoundTrip) {
    for (u32 k = 0; k < 40; ++k)
        EXPECT_EQ(ml_exp2_q16(ml_log2_q16(1ULL << k)), 1ULL << k);
    std::mt19937_64 rng(2);
    double worst = 0;
    auto check = [&](u64 x) {
        const u64 back = ml_exp2_q16(ml_log2_q16(x));
        ASSERT_LE(back, x);
        ASSERT_LE(x - back, x / 65536 + 1) << x;
        worst = std::max(worst, static_cast<double>(x - back) / static_cast<double>(x));
    };
    for (u64 x = 1; x < 100000; ++x)
        check(x);
    for (int i = 0; i < 200000; ++i)
        check((rng() >> 24) | 1);          // below 2^40
    EXPECT_LT(worst, 1.0 / 65536);
    EXPECT_EQ(ml_exp2_q16(ml_log2_q16(1ULL << 50)), 1ULL << 40);
}

// ---- features ------------------------------------------------------------------------------

ml_req request(u64 sector, u32 bytes, bool write, u64 now_ns) {
    ml_req r{};
    r.sector = sector;
    r.bytes = bytes;
    r.write = write;
    r.prio_class = ML_PRIO_BE;
    r.now_ns = now_ns;
    return r;
}

TEST(MlFeatures, FirstArrivalFromAnEmptyState) {
    ml_feat_state st;
    ml_feat_init(&st);
    s32 x[ML_NR_FEATURES];
    ml_req r = request(0, 4096, false, 5000);
    ml_features(&st, &r, x);
    EXPECT_EQ(x[ML_F_WRITE], 0);
    EXPECT_EQ(x[ML_F_SIZE], 3 * kOne);           // 8 sectors
    EXPECT_EQ(x[ML_F_SEEK], 0);                  // head at 0
    EXPECT_EQ(x[ML_F_SEQ], 0);                   // sector 0 == "end" 0, but no previous arrival
    EXPECT_EQ(x[ML_F_INTERARRIVAL], 0);
    EXPECT_EQ(x[ML_F_IN_FLIGHT], 0);
    EXPECT_EQ(x[ML_F_WAITING], 0);
    EXPECT_EQ(x[ML_F_PRIO], 0);
    for (int i = 0; i < ML_NR_SERVICE; ++i)
        EXPECT_EQ(x[ML_F_SERVICE0 + i], 0);
    EXPECT_EQ(x[ML_F_WRITES_IN_FLIGHT], 0);
    EXPECT_EQ(x[ML_F_WRITE_VOLUME], 0);
    EXPECT_EQ(st.last_arrival_ns, 5000u);
    EXPECT_EQ(st.last_arrival_end, 8u);
}

// Every feature against values worked out by hand (log2 by the header's interpolation:
// 2^k * (1 + f) -> k + f, f in 1/65536).
TEST(MlFeatures, HandComputed) {
    ml_feat_state st;
    ml_feat_init(&st);
    st.last_arrival_ns = 1000000;
    st.last_arrival_end = 2048;
    st.seq_avg = kOne / 2;
    ml_feat_dispatched(&st, 1000, false, 4096, 1);
    ml_feat_completed(&st, 100999);   // 100 us (rounded down)
    ml_feat_completed(&st, 200000);   // 200 us
    ml_feat_completed(&st, 300000);   // 300 us, the most recent

    ml_req r = request(2048, 8192, true, 1000000 + 15000);
    r.prio_class = ML_PRIO_RT;
    r.nr_in_flight = 3;
    r.nr_waiting = 0;
    s32 x[ML_NR_FEATURES];
    ml_features(&st, &r, x);

    EXPECT_EQ(x[0], 65536);                     // write
    EXPECT_EQ(x[1], 262144);                    // 16 sectors: 4
    EXPECT_EQ(x[2], 656960);                    // 1 + 1048 = 1049 = 1024 * (1 + 1600/65536)
    EXPECT_EQ(x[3], 36864);                     // 1/2 + (1 - 1/2) / 8, this arrival continued
    EXPECT_EQ(x[4], 262144);                    // 1 + 15 us = 16
    EXPECT_EQ(x[5], 131072);                    // 1 + 3 = 4
    EXPECT_EQ(x[6], 0);                         // 1 + 0
    EXPECT_EQ(x[7], 65536);                     // RT
    EXPECT_EQ(x[8], 535808);                    // 301 = 256 * (1 + 11520/65536)
    EXPECT_EQ(x[9], 496128);                    // 201 = 128 * (1 + 37376/65536)
    EXPECT_EQ(x[10], 431104);                   // 101 = 64 * (1 + 37888/65536)
    EXPECT_EQ(x[11], 0);                        // only three completions so far
    EXPECT_EQ(st.last_arrival_ns, 1015000u);
    EXPECT_EQ(st.last_arrival_end, 2064u);
    EXPECT_EQ(st.seq_avg, 36864);

    // IDLE is -1; a seek backwards counts like one forwards; a clock going back is a 0 gap.
    r = request(0, 512, false, 1000);
    r.prio_class = ML_PRIO_IDLE;
    ml_features(&st, &r, x);
    EXPECT_EQ(x[ML_F_PRIO], -65536);
    EXPECT_EQ(x[ML_F_SIZE], 0);                 // one sector
    EXPECT_EQ(x[ML_F_SEEK], ml_log2_q16(1001));
    EXPECT_EQ(x[ML_F_INTERARRIVAL], 0);
    EXPECT_EQ(x[ML_F_SEQ], 36864 + ((0 - 36864) >> 3));
}

TEST(MlFeatures, ServiceRingKeepsTheLastFourMostRecentFirst) {
    ml_feat_state st;
    ml_feat_init(&st);
    for (u64 us = 1; us <= 7; ++us)
        ml_feat_completed(&st, (1ULL << us) * 1000 - 1000);   // 2^us - 1 us: log1p = us
    ml_req r = request(0, 512, false, 1);
    s32 x[ML_NR_FEATURES];
    ml_features(&st, &r, x);
    EXPECT_EQ(x[8], 7 * kOne);
    EXPECT_EQ(x[9], 6 * kOne);
    EXPECT_EQ(x[10], 5 * kOne);
    EXPECT_EQ(x[11], 4 * kOne);
    // A service time beyond u32 microseconds saturates.
    ml_feat_completed(&st, ~0ULL);
    EXPECT_EQ(st.last_service_us[(st.service_head - 1) & 3], ML_U32_MAX);
}

TEST(MlFeatures, SequentialRatioConvergesAndDecays) {
    ml_feat_state st;
    ml_feat_init(&st);
    s32 x[ML_NR_FEATURES];
    u64 sector = 1000, now = 1;
    for (int i = 0; i < 200; ++i) {
        ml_req r = request(sector, 4096, false, now += 1000);
        ml_features(&st, &r, x);
        sector += 8;
    }
    EXPECT_GE(x[ML_F_SEQ], kOne - 8);           // floor keeps it 7 ulp short of 1
    EXPECT_LE(x[ML_F_SEQ], kOne);
    for (int i = 0; i < 200; ++i) {
        ml_req r = request(sector += 100000, 4096, false, now += 1000);
        ml_features(&st, &r, x);
    }
    EXPECT_EQ(x[ML_F_SEQ], 0);
}

TEST(MlFeatures, EndSectorSaturates) {
    EXPECT_EQ(ml_end_sector(10, 4096), 18u);
    EXPECT_EQ(ml_end_sector(~0ULL - 2, 4096), ~0ULL);
}

// ---- predictor -----------------------------------------------------------------------------

ml_weights zero_weights() {
    ml_weights w;
    std::memset(&w, 0, sizeof(w));
    return w;
}

// Two inputs and two hidden units, worked out by hand.
TEST(MlPredict, TinyNetworkByHand) {
    ml_weights w = zero_weights();
    w.in_scale[0] = kOne;                       // z0 = x0
    w.in_mean[1] = 2 * kOne;                    // z1 = (x1 - 2) * 1/2
    w.in_scale[1] = kOne / 2;
    w.w1[0][0] = kOne;                          // h0 = relu(1/4 + z0 - z1 / 2)
    w.w1[0][1] = -kOne / 2;
    w.b1[0] = kOne / 4;
    w.w1[1][1] = 2 * kOne;                      // h1 = relu(-10 + 2 z1)
    w.b1[1] = -10 * kOne;
    w.w2[0] = 2 * kOne;                         // y = 1 + 2 h0 + h1
    w.w2[1] = kOne;
    w.b2 = kOne;

    s32 x[ML_NR_FEATURES] = {};
    x[0] = kOne;
    x[1] = 4 * kOne;                            // z1 = 1: h0 = 0.75, h1 = 0 (-8)
    EXPECT_EQ(ml_predict_log(&w, x), kOne + 2 * (3 * kOne / 4));
    x[1] = 26 * kOne;                           // z1 = 12: h0 = 0 (-4.75), h1 = 14
    EXPECT_EQ(ml_predict_log(&w, x), 15 * kOne);
    x[0] = 0;
    x[1] = 0;                                   // z1 = -1: h0 = 0.75, h1 = 0
    EXPECT_EQ(ml_predict_log(&w, x), kOne + 3 * kOne / 2);
    // Inputs the scale ignores (scale 0) do not matter.
    x[5] = 1 << 30;
    EXPECT_EQ(ml_predict_log(&w, x), kOne + 3 * kOne / 2);
}

// Weights at the ends of their ranges and inputs at the ends of s32: saturated, never wrapped.
TEST(MlPredict, SaturatesWithExtremeWeights) {
    ml_weights w = zero_weights();
    for (int i = 0; i < ML_NR_FEATURES; ++i) {
        w.in_mean[i] = -4194304;
        w.in_scale[i] = 16777216;
        for (int j = 0; j < ML_HIDDEN; ++j)
            w.w1[j][i] = 8388608;
    }
    for (int j = 0; j < ML_HIDDEN; ++j) {
        w.b1[j] = 8388608;
        w.w2[j] = 8388608;
    }
    w.b2 = 8388608;
    s32 x[ML_NR_FEATURES];
    for (s32& v : x)
        v = ML_S32_MAX;
    EXPECT_EQ(ml_predict_log(&w, x), ML_S32_MAX);
    for (int j = 0; j < ML_HIDDEN; ++j)
        w.w2[j] = -8388608;
    EXPECT_EQ(ml_predict_log(&w, x), ML_S32_MIN);
    // Negative hidden sums are cut at 0: only b2 is left.
    for (s32& v : x)
        v = ML_S32_MIN;
    w.in_mean[0] = 4194304;
    for (int j = 0; j < ML_HIDDEN; ++j)
        w.b1[j] = -8388608;
    EXPECT_EQ(ml_predict_log(&w, x), 8388608);
}

// One inference natively: the design says well under a microsecond.
TEST(MlPredict, CostsWellUnderAMicrosecond) {
    ml_weights w = zero_weights();
    std::mt19937 rng(3);
    for (int i = 0; i < ML_NR_FEATURES; ++i) {
        w.in_scale[i] = static_cast<s32>(rng() % (2 * kOne));
        for (int j = 0; j < ML_HIDDEN; ++j)
            w.w1[j][i] = static_cast<s32>(rng() % (4 * kOne)) - 2 * kOne;
    }
    for (int j = 0; j < ML_HIDDEN; ++j)
        w.w2[j] = static_cast<s32>(rng() % (4 * kOne)) - 2 * kOne;
    s32 x[ML_NR_FEATURES];
    for (s32& v : x)
        v = static_cast<s32>(rng() % (16 * kOne));
    constexpr int kRuns = 200000;
    volatile s32 sink = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int n = 0; n < kRuns; ++n) {
        x[n % ML_NR_FEATURES] ^= 1;
        sink = sink + ml_predict_log(&w, x);
    }
    const double ns = std::chrono::duration<double, std::nano>(
                          std::chrono::steady_clock::now() - start).count() / kRuns;
    RecordProperty("ns_per_inference", std::to_string(ns));
    EXPECT_LT(ns, 1000.0);
}

// ---- measurement, mean, correction ---------------------------------------------------------

TEST(MlPredUs, RangeAndRounding) {
    EXPECT_EQ(ml_pred_us(ML_S32_MIN), 1u);
    EXPECT_EQ(ml_pred_us(0), 1u);               // 2^0 - 1 = 0, at least 1
    EXPECT_EQ(ml_pred_us(10 * kOne), 1023u);
    EXPECT_EQ(ml_pred_us(ML_S32_MAX), ML_U32_MAX);
    EXPECT_EQ(ml_measured_log(0), 0);
    EXPECT_EQ(ml_measured_log(1023999), 10 * kOne); // 1023 us
    // m and pred_us are inverses on whole microseconds of the form 2^k - 1.
    EXPECT_EQ(ml_pred_us(ml_measured_log(255000)), 255u);
}

TEST(MlMean, FirstSampleSetsThenEwma) {
    ml_mean mm{};
    ml_mean_update(&mm, 10 * kOne);
    EXPECT_EQ(mm.mean, 10 * kOne);
    ml_mean_update(&mm, 26 * kOne);
    EXPECT_EQ(mm.mean, 11 * kOne);              // + (26 - 10) / 16
    for (int i = 0; i < 1000; ++i)
        ml_mean_update(&mm, 4 * kOne);
    EXPECT_NEAR(mm.mean, 4 * kOne, 16);
    mm.samples = ML_U32_MAX;
    ml_mean_update(&mm, 4 * kOne);
    EXPECT_EQ(mm.samples, ML_U32_MAX);
}

TEST(MlCorrection, LearnsAShiftAndAScale) {
    ml_correction c;
    ml_correction_init(&c);
    EXPECT_EQ(ml_correct(&c, 7 * kOne), 7 * kOne);
    // The device got 2^1.5 slower than the model: m = y + 1.5.
    for (int i = 0; i < 20000; ++i) {
        const s32 y = (6 + i % 5) * kOne;
        ml_correction_update(&c, y, y + 3 * kOne / 2, 6);
    }
    for (s32 y = 6 * kOne; y <= 10 * kOne; y += kOne)
        EXPECT_NEAR(ml_correct(&c, y), y + 3 * kOne / 2, kOne / 20);
    // Now m = 1.25 y.
    for (int i = 0; i < 20000; ++i) {
        const s32 y = (6 + i % 5) * kOne;
        ml_correction_update(&c, y, y + y / 4, 6);
    }
    for (s32 y = 6 * kOne; y <= 10 * kOne; y += kOne)
        EXPECT_NEAR(ml_correct(&c, y), y + y / 4, kOne / 10);
}

// Skewed errors: 80% of the requests as predicted, 20% 16 times slower (a read behind a
// programming die). The median is the prediction; the log-mean is 0.8 above it. The Huber step
// settles where 0.8 * b = 0.2 * 0.25, at b = 1/16: within 5% of the median, where a squared
// step would sit at 2^0.8 = 1.74 times it.
TEST(MlCorrection, FollowsTheMedianOfSkewedErrors) {
    ml_correction c;
    ml_correction_init(&c);
    for (int i = 0; i < 40000; ++i) {
        const s32 y = 8 * kOne;
        ml_correction_update(&c, y, i % 5 == 4 ? y + 4 * kOne : y, 6);
    }
    EXPECT_NEAR(ml_correct(&c, 8 * kOne), 8 * kOne + kOne / 16, kOne / 32);
}

// Whatever it is fed, the correction stays within its bounds and never wraps.
TEST(MlCorrection, StaysBounded) {
    std::mt19937 rng(4);
    const s32 extremes[] = {ML_S32_MIN, -kOne, 0, kOne, ML_S32_MAX};
    for (u32 lr : {0u, 1u, 6u, 30u, ~0u}) {
        ml_correction c;
        ml_correction_init(&c);
        for (int i = 0; i < 5000; ++i) {
            const s32 y = i % 2 ? extremes[rng() % 5] : static_cast<s32>(rng());
            const s32 m = i % 3 ? extremes[rng() % 5] : static_cast<s32>(rng());
            ml_correction_update(&c, y, m, lr);
            ASSERT_GE(c.gain, ML_GAIN_MIN);
            ASSERT_LE(c.gain, ML_GAIN_MAX);
            ASSERT_GE(c.bias, -ML_BIAS_MAX);
            ASSERT_LE(c.bias, ML_BIAS_MAX);
        }
        // All-high and all-low runs drive it to the bounds, not past them.
        for (int i = 0; i < 5000; ++i)
            ml_correction_update(&c, ML_S32_MAX, ML_S32_MAX, lr);
        EXPECT_LE(c.bias, ML_BIAS_MAX);
        EXPECT_LE(c.gain, ML_GAIN_MAX);
        for (int i = 0; i < 5000; ++i)
            ml_correction_update(&c, kOne, ML_S32_MIN, lr);
        EXPECT_GE(c.bias, -ML_BIAS_MAX);
        EXPECT_GE(c.gain, ML_GAIN_MIN);
    }
}

// ---- replay --------------------------------------------------------------------------------

// The replay counts the queues itself and sees what the policy would: one request dispatched
// at once, then two waiting behind one in flight.
TEST(MlReplay, CountsQueuesAndFeedsTheState) {
    ml_replay rp;
    ml_replay_init(&rp);
    s32 x[ML_NR_FEATURES];
    ml_req r = request(100, 4096, false, 1000);
    r.nr_in_flight = 99;                        // ignored: the replay counts
    ml_replay_arrival(&rp, &r, x);
    EXPECT_EQ(x[ML_F_IN_FLIGHT], 0);
    ml_replay_dispatch(&rp, &r, 1500);
    r = request(108, 4096, false, 2000);
    ml_replay_arrival(&rp, &r, x);
    EXPECT_EQ(x[ML_F_IN_FLIGHT], kOne);         // log2(1 + 1)
    EXPECT_EQ(x[ML_F_WAITING], 0);
    EXPECT_EQ(x[ML_F_SEEK], 0);                 // continues the dispatched one
    r = request(5000, 4096, true, 3000);
    ml_replay_arrival(&rp, &r, x);
    EXPECT_EQ(x[ML_F_WAITING], kOne);
    EXPECT_EQ(rp.nr_waiting, 2u);
    ml_replay_complete(&rp, false, 63000);
    EXPECT_EQ(rp.nr_in_flight, 0u);
    ml_replay_complete(&rp, false, 63000);      // more completions than dispatches: stays 0
    EXPECT_EQ(rp.nr_in_flight, 0u);
    ml_replay_complete(&rp, false, 0);          // not measured: as the policy, not in the ring
    EXPECT_EQ(rp.st.service_head, 2u);
    r = request(5008, 4096, true, 4000);
    ml_replay_arrival(&rp, &r, x);
    EXPECT_EQ(x[ML_F_SERVICE0], 6 * kOne);      // log2(1 + 63)
}

// ---- prediction error (include/ufq/pred_error.h) ------------------------------------------

TEST(MlPredError, Percent) {
    EXPECT_EQ(ufq_pred_err_pct(100, 100), 0u);
    EXPECT_EQ(ufq_pred_err_pct(110, 100), 10u);
    EXPECT_EQ(ufq_pred_err_pct(90, 100), 10u);
    EXPECT_EQ(ufq_pred_err_pct(0, 100), 100u);
    EXPECT_EQ(ufq_pred_err_pct(300, 100), 200u);
    EXPECT_EQ(ufq_pred_err_pct(1099, 1000), 9u);         // rounded down
    EXPECT_EQ(ufq_pred_err_pct(5, 0), 500u);             // 0 ns counts as 1
    EXPECT_EQ(ufq_pred_err_pct(~0ULL, 1), UFQ_PRED_ERR_PCT_MAX);
    EXPECT_EQ(ufq_pred_err_pct(1ULL << 56, 1ULL << 40), UFQ_PRED_ERR_PCT_MAX);
    EXPECT_EQ(ufq_pred_err_pct(0, ~0ULL), 100u);
}

TEST(MlPredError, Buckets) {
    EXPECT_EQ(ufq_pred_err_bucket(0), 0u);
    EXPECT_EQ(ufq_pred_err_bucket(4), 0u);
    EXPECT_EQ(ufq_pred_err_bucket(5), 1u);
    EXPECT_EQ(ufq_pred_err_bucket(199), 39u);
    EXPECT_EQ(ufq_pred_err_bucket(200), 40u);
    EXPECT_EQ(ufq_pred_err_bucket(999), 40u);
    EXPECT_EQ(ufq_pred_err_bucket(1000), 41u);
    EXPECT_EQ(ufq_pred_err_bucket(~0u), 41u);
    // Every value falls in [low, high) of its bucket, and the buckets tile 0 .. PCT_MAX.
    for (u32 pct = 0; pct <= UFQ_PRED_ERR_PCT_MAX; pct += pct < 2000 ? 1 : 997) {
        const u32 b = ufq_pred_err_bucket(pct);
        ASSERT_LT(b, static_cast<u32>(UFQ_PRED_ERR_BUCKETS));
        ASSERT_GE(pct, ufq_pred_err_bucket_low(b));
        ASSERT_LT(pct, ufq_pred_err_bucket_high(b));
    }
    for (u32 b = 0; b + 1 < UFQ_PRED_ERR_BUCKETS; ++b)
        EXPECT_EQ(ufq_pred_err_bucket_high(b), ufq_pred_err_bucket_low(b + 1));
}

TEST(MlPredError, Percentiles) {
    u64 h[UFQ_PRED_ERR_BUCKETS] = {};
    EXPECT_EQ(ufq_pred_err_percentile(h, 50), 0u);
    // 100 errors, 0 .. 99 percent, 5 per bucket of 5 points: the histogram gives them back.
    for (u32 pct = 0; pct < 100; ++pct)
        ++h[ufq_pred_err_bucket(pct)];
    EXPECT_EQ(ufq_pred_err_percentile(h, 50), 49u);
    EXPECT_EQ(ufq_pred_err_percentile(h, 90), 89u);
    EXPECT_EQ(ufq_pred_err_percentile(h, 0), 0u);
    EXPECT_EQ(ufq_pred_err_percentile(h, 100), 99u);
    // The open-ended bucket answers with its lower bound.
    h[UFQ_PRED_ERR_BUCKETS - 1] = 1000;
    EXPECT_EQ(ufq_pred_err_percentile(h, 90), UFQ_PRED_ERR_HIGH_PCT);
    EXPECT_EQ(ufq_pred_err_percentile(h, 5), 54u);       // rank 55 of 1100
}

// ---- keys and cookies (policies/ml.h) -----------------------------------------------------

TEST(MlKey, PredCodeRoundTrip) {
    for (u32 us = 0; us < 256; ++us)
        EXPECT_EQ(ml_pred_decode(ml_pred_code(us)), us);
    std::mt19937 rng(5);
    for (int i = 0; i < 100000; ++i) {
        const u32 us = (rng() >> (rng() % 32)) % 8372224 + 1;
        const u32 back = ml_pred_decode(ml_pred_code(us));
        ASSERT_LE(back, us);
        ASSERT_LT(us - back, std::max(1u, us / 256 + 1)) << us;  // within 1/256, rounded down
        ASSERT_EQ(ml_pred_quantise(back), back);                  // idempotent
    }
    // Monotonic, so keys order by prediction.
    for (u32 us = 1; us < 100000; ++us)
        ASSERT_LE(ml_pred_code(us - 1), ml_pred_code(us));
    EXPECT_EQ(ml_pred_code(8372224), static_cast<u32>(ML_PRED_CODE_MAX));
    EXPECT_EQ(ml_pred_code(ML_U32_MAX), static_cast<u32>(ML_PRED_CODE_MAX));
    EXPECT_EQ(ml_pred_decode(ML_PRED_CODE_MAX), 8372224u);
}

TEST(MlKey, EdfAndSeqRoundTrips) {
    const u64 deadline = 123456789012345ULL;
    const u64 k = ml_key_edf(deadline, 300);
    EXPECT_EQ(ml_key_deadline_ns(k), deadline & ~1023ULL);
    EXPECT_EQ(ml_key_pred_us(k), 300u);
    // Earlier deadline first; within 1024 ns, shorter prediction first.
    EXPECT_LT(ml_key_edf(deadline, 5000), ml_key_edf(deadline + 1024, 10));
    EXPECT_LT(ml_key_edf(deadline, 10), ml_key_edf(deadline + 1, 5000));
    const u64 s = ml_key_seq(987654321, 70000);
    EXPECT_EQ(ml_key_sector(s), 987654321u);
    EXPECT_EQ(ml_key_pred_us(s), ml_pred_quantise(70000));
    EXPECT_LT(ml_key_seq(10, 8000000), ml_key_seq(11, 0));
    // Saturation: the primary part never wraps into the prediction.
    EXPECT_EQ(ml_key(~0ULL, 7), (ML_KEY_PRIMARY_MAX << 12) | 7);
    EXPECT_EQ(ml_key_sector(ml_key_seq(~0ULL, 7)), ML_KEY_PRIMARY_MAX);
    EXPECT_EQ(ml_key_pred_us(ml_key_seq(~0ULL, 7)), 7u);
    // The batch key finds the first request at or after a sector, whatever its prediction.
    EXPECT_LE(ml_key_seq(500, 0), ml_key_seq(500, 1));
    EXPECT_LT(ml_key_seq(499, ML_U32_MAX), ml_key_seq(500, 0));
}

TEST(MlCookie, RoundTrip) {
    const u64 c = ml_cookie(true, true, 9 * kOne + 256 * 5, 12345);
    EXPECT_TRUE(ml_cookie_valid(c));
    EXPECT_TRUE(ml_cookie_write(c));
    EXPECT_TRUE(ml_cookie_model(c));
    EXPECT_FALSE(ml_cookie_requeued(c));
    EXPECT_EQ(ml_cookie_pred_us(c), 12345u);
    EXPECT_EQ(ml_cookie_y(c), 9 * kOne + 256 * 5);       // Q5.8 keeps multiples of 256
    EXPECT_TRUE(ml_cookie_requeued(c | ML_COOKIE_REQUEUED));
    EXPECT_EQ(ml_cookie_pred_us(c | ML_COOKIE_REQUEUED), 12345u);
    const u64 r = ml_cookie(false, false, 0, ML_U32_MAX);
    EXPECT_FALSE(ml_cookie_write(r));
    EXPECT_FALSE(ml_cookie_model(r));
    EXPECT_EQ(ml_cookie_pred_us(r), ML_U32_MAX);
    EXPECT_EQ(ml_cookie_y(r), 0);
    // y saturates to 0 .. 32 - 1/256, and loses at most 1/256 below.
    EXPECT_EQ(ml_cookie_y(ml_cookie(false, true, -kOne, 1)), 0);
    EXPECT_EQ(ml_cookie_y(ml_cookie(false, true, ML_S32_MAX, 1)), 32 * kOne - 256);
    EXPECT_EQ(ml_cookie_y(ml_cookie(false, true, kOne + 255, 1)), kOne);
    // Not ours: 0, another policy's tag.
    EXPECT_FALSE(ml_cookie_valid(0));
    EXPECT_FALSE(ml_cookie_valid(0x4c414e4500000001ULL));     // lanes'
    EXPECT_FALSE(ml_cookie_valid(0x5153000000000000ULL));     // qos'
}

// ---- deadlines and batches -----------------------------------------------------------------

struct MlTunables : testing::Test {
    ml_tunables t{};
    void SetUp() override { ml_tunables_default(&t); }
};

TEST_F(MlTunables, DeadlinesPerClass) {
    EXPECT_EQ(ml_target_ns(&t, false, ML_PRIO_BE), 2000000u);
    EXPECT_EQ(ml_target_ns(&t, false, ML_PRIO_NONE), 2000000u);
    EXPECT_EQ(ml_target_ns(&t, false, ML_PRIO_RT), 1000000u);
    EXPECT_EQ(ml_target_ns(&t, false, ML_PRIO_IDLE), 8000000u);
    EXPECT_EQ(ml_target_ns(&t, true, ML_PRIO_BE), 20000000u);
    EXPECT_EQ(ml_target_ns(&t, true, ML_PRIO_RT), 10000000u);
    EXPECT_EQ(ml_target_ns(&t, true, ML_PRIO_IDLE), 80000000u);
    t.write_target_us = 10000000;       // the largest: no overflow
    EXPECT_EQ(ml_target_ns(&t, true, ML_PRIO_IDLE), 40000000000ULL);
}

TEST_F(MlTunables, BatchSizeRule) {
    EXPECT_EQ(ml_batch_size(&t, 1), 8u);
    EXPECT_EQ(ml_batch_size(&t, 15), 8u);
    EXPECT_EQ(ml_batch_size(&t, 16), 32u);
    EXPECT_EQ(ml_batch_size(&t, 63), 32u);
    EXPECT_EQ(ml_batch_size(&t, 64), 64u);
    EXPECT_EQ(ml_batch_size(&t, 100000), 64u);
    t.seq_batch_small = 0;              // written by bpftool past ufqctl's range: still 1
    EXPECT_EQ(ml_batch_size(&t, 1), 1u);
}

// ---- the classifier ------------------------------------------------------------------------

// Arrivals of one stream through the features and the classifier, as ml.bpf.c's insert makes
// them; returns how many of the last `tail` were classified sequential.
struct Stream {
    ml_feat_state st{};
    ml_seq_clf clf{};
    u64 now = 1000;
    bool learn = true;

    Stream() {
        ml_feat_init(&st);
        ml_seq_init(&clf, nullptr);
    }

    bool arrive(u64 sector, u32 bytes, u64 gap_ns) {
        const bool continued = st.last_arrival_ns && sector == st.last_arrival_end;
        ml_seq_learn(&clf, continued, learn);
        ml_req r = request(sector, bytes, false, now += gap_ns);
        s32 x[ML_NR_FEATURES];
        ml_features(&st, &r, x);
        const bool seq = ml_seq_classify(&clf, x);
        ml_feat_dispatched(&st, ml_end_sector(sector, bytes), false, bytes, now);
        return seq;
    }
};

TEST(MlClassifier, BuiltInWeightsTellStreamsApart) {
    Stream s;
    int seq = 0;
    for (u64 i = 0; i < 100; ++i)
        seq += s.arrive(1000 + 256 * i, 128 << 10, 50000);
    EXPECT_GE(seq, 95);
    std::mt19937_64 rng(6);
    int rnd = 0;
    for (int i = 0; i < 100; ++i)
        rnd += s.arrive(rng() % (1ULL << 31), 4096, 20000);
    EXPECT_LE(rnd, 5);
}

// From all-zero weights (everything "random"), a sequential stream is learnt within a few
// mistakes, and a random one afterwards too.
TEST(MlClassifier, LearnsASequentialStreamFromScratch) {
    Stream s;
    for (s32& w : s.clf.w)
        w = 0;
    s.clf.b = 0;
    std::string seen;
    for (u64 i = 0; i < 200; ++i)
        seen += s.arrive(1 << 20 | 8 * i, 4096, 10000) ? 'S' : 'r';
    EXPECT_EQ(seen.substr(100), std::string(100, 'S')) << seen;
    EXPECT_LE(s.clf.mistakes, 40u);
    const u64 mistakes = s.clf.mistakes;
    std::mt19937_64 rng(7);
    seen.clear();
    for (int i = 0; i < 200; ++i)
        seen += s.arrive(rng() % (1ULL << 31), 4096, 10000) ? 'S' : 'r';
    EXPECT_EQ(seen.substr(100), std::string(100, 'r')) << seen;
    EXPECT_LE(s.clf.mistakes - mistakes, 40u);
    // Without online learning, the decisions are counted but the weights stay.
    s.learn = false;
    const ml_seq_clf before = s.clf;
    for (u64 i = 0; i < 50; ++i)
        s.arrive(1 << 24 | 8 * i, 4096, 10000);
    EXPECT_EQ(std::memcmp(before.w, s.clf.w, sizeof(before.w)), 0);
    EXPECT_EQ(before.b, s.clf.b);
}

TEST(MlClassifier, WeightsSaturate) {
    ml_seq_clf c;
    ml_seq_init(&c, nullptr);
    s32 x[ML_NR_FEATURES] = {};
    x[ML_F_SEQ] = kOne;
    x[ML_F_SEEK] = ML_S32_MAX;
    for (int i = 0; i < 10000; ++i) {
        ml_seq_classify(&c, x);
        ml_seq_learn(&c, !c.out, true);      // always wrong
        for (s32 w : c.w) {
            ASSERT_LE(w, ML_SEQ_W_MAX);
            ASSERT_GE(w, -ML_SEQ_W_MAX);
        }
        ASSERT_LE(c.b, ML_SEQ_W_MAX);
        ASSERT_GE(c.b, -ML_SEQ_W_MAX);
    }
    // A model's starting weights are clamped too; all-zero ones mean the built-in ones.
    ml_weights w = zero_weights();
    ml_seq_init(&c, &w);
    EXPECT_EQ(c.w[0], ML_SEQ_DEFAULT_W0);
    w.seq_w[2] = ML_S32_MAX;
    w.seq_b = -kOne;
    ml_seq_init(&c, &w);
    EXPECT_EQ(c.w[0], 0);
    EXPECT_EQ(c.w[2], ML_SEQ_W_MAX);
    EXPECT_EQ(c.b, -kOne);
}

// ---- dispatch on scripted queues -----------------------------------------------------------

// The kernel's two queues, as far as ml.bpf.c sees them: by key (FIFO among equal keys), and
// each knowing its oldest.
struct Rq {
    int id;
    u64 key;
    u64 insert_ns;
    u64 sector;
    u32 bytes;
    bool write;
    u32 prio;
    u32 pred_us;
};

struct MlSched : testing::Test {
    ml_tunables t{};
    ml_dev d{};
    std::vector<Rq> q[ML_NR_QUEUES];
    std::vector<Rq> device;             // dispatched, not completed
    std::vector<int> order;             // ids in dispatch order
    std::vector<ml_choice> choices;
    u64 now = 1000000000;
    int next_id = 0;
    u32 kicks = 0;
    u32 slots = 0;                      // the device's hardware tags; 0: unknown, no reserve

    void SetUp() override {
        ml_tunables_default(&t);
        ml_dev_init(&d, 1, nullptr, 0);
    }

    int insert(u32 queue, u64 sector, u32 bytes, bool write, u32 pred_us,
               u32 prio = ML_PRIO_BE) {
        Rq r{next_id++, 0, now, sector, bytes, write, prio, pred_us};
        r.key = queue == ML_Q_SEQ ? ml_key_seq(sector, pred_us)
                                  : ml_key_edf(now + ml_target_ns(&t, write, prio), pred_us);
        q[queue].push_back(r);
        ml_arrived(&d, &t, write, now);
        return r.id;
    }

    // Index of the first request with key >= `key` (stable among equal keys), or -1.
    static int first_from(const std::vector<Rq>& v, u64 key) {
        int best = -1;
        for (int i = 0; i < static_cast<int>(v.size()); ++i)
            if (v[i].key >= key && (best < 0 || v[i].key < v[best].key))
                best = i;
        return best;
    }
    static int oldest(const std::vector<Rq>& v) {
        int best = -1;
        for (int i = 0; i < static_cast<int>(v.size()); ++i)
            if (best < 0 || v[i].insert_ns < v[best].insert_ns)
                best = i;
        return best;
    }
    ml_cand cand(const std::vector<Rq>& v, int i) const {
        ml_cand c{};
        if (i < 0)
            return c;
        c.valid = 1;
        c.key = v[i].key;
        c.wait_ns = now - v[i].insert_ns;
        c.end_sector = ml_end_sector(v[i].sector, v[i].bytes);
        c.write = v[i].write;
        c.prio_class = v[i].prio;
        c.bytes = v[i].bytes;
        return c;
    }

    // The view ml.bpf.c's dispatch builds.
    ml_view view() {
        ml_view v{};
        for (u32 i = 0; i < ML_NR_QUEUES; ++i) {
            v.nr[i] = static_cast<u32>(q[i].size());
            const int o = oldest(q[i]);
            v.oldest_wait_ns[i] = o < 0 ? 0 : now - q[i][o].insert_ns;
            if (v.oldest_wait_ns[i] >= static_cast<u64>(t.max_latency_target_us) * 1000)
                v.old[i] = cand(q[i], o);
        }
        v.head = cand(q[ML_Q_EDF], first_from(q[ML_Q_EDF], 0));
        v.seq_oldest = cand(q[ML_Q_SEQ], oldest(q[ML_Q_SEQ]));
        if (d.batch)
            v.seq_next = cand(q[ML_Q_SEQ], first_from(q[ML_Q_SEQ], ml_batch_key(&d)));
        v.nr_in_flight = static_cast<u32>(device.size());
        for (const Rq& r : device)
            v.nr_writes += r.write;
        v.write_pred_ns = ml_inflight_settle(&d, v.nr_in_flight, 0);
        v.slots = slots;
        v.now_ns = now;
        return v;
    }

    // One dispatch() call: the id dispatched, or -1.
    int dispatch() {
        ml_view v = view();
        ml_choice c;
        ml_pick(&d, &t, &v, &c);
        choices.push_back(c);
        if (c.queue < 0) {
            if (c.held)
                ++kicks;
            return -1;
        }
        std::vector<Rq>& from = q[c.queue];
        const int i = c.from == ML_FROM_OLDEST ? oldest(from)
                      : c.from == ML_FROM_KEY  ? first_from(from, c.key)
                                               : first_from(from, 0);
        EXPECT_GE(i, 0);
        if (i < 0)
            return -1;
        ml_dispatched(&d, &t, &c, &v);
        device.push_back(from[i]);
        order.push_back(from[i].id);
        from.erase(from.begin() + i);
        return order.back();
    }

    // The oldest request at the device completes, as completed() handles it.
    void complete() {
        ASSERT_FALSE(device.empty());
        ml_inflight_sub(&d, device.front().write, device.front().pred_us);
        device.erase(device.begin());
    }

    std::vector<int> drain(bool complete_each = true) {
        std::vector<int> out;
        for (int n = 0; n < 10000 && (!q[0].empty() || !q[1].empty()); ++n) {
            const int id = dispatch();
            if (id >= 0)
                out.push_back(id);
            if (complete_each && !device.empty())
                complete();
        }
        return out;
    }
};

TEST_F(MlSched, EmptyQueuesDispatchNothing) {
    EXPECT_EQ(dispatch(), -1);
    EXPECT_EQ(choices.back().why, ML_WHY_NONE);
    EXPECT_FALSE(choices.back().held);
}

// Reads (2 ms) go before writes (20 ms) that arrived earlier; RT before BE; equal deadlines by
// prediction.
TEST_F(MlSched, EarliestDeadlineFirst) {
    const int w1 = insert(ML_Q_EDF, 100, 4096, true, 50);
    now += 1000000;
    const int w2 = insert(ML_Q_EDF, 200, 4096, true, 50);
    const int r1 = insert(ML_Q_EDF, 300, 4096, false, 50);
    const int idle = insert(ML_Q_EDF, 900, 4096, false, 50, ML_PRIO_IDLE);
    now += 500000;
    const int rt = insert(ML_Q_EDF, 400, 4096, false, 50, ML_PRIO_RT);   // due 0.5 ms earlier
    const int slow = insert(ML_Q_EDF, 500, 4096, false, 900);
    const int fast = insert(ML_Q_EDF, 600, 4096, false, 90);
    t.latency_window_us = 0;
    EXPECT_EQ(drain(), (std::vector<int>{rt, r1, fast, slow, idle, w1, w2}));
}

// A batch starts at queue 1's oldest when its deadline is the earliest, goes on up to its size
// while a more urgent read waits, and ends there.
TEST_F(MlSched, SequentialBatchEndsAtItsSize) {
    t.latency_window_us = 0;
    std::vector<int> seq;
    for (u64 i = 0; i < 10; ++i) {
        if (i == 8)
            now += 1000000;                     // the last two 1 ms later: due at 3 ms
        seq.push_back(insert(ML_Q_SEQ, 1000 + 8 * i, 4096, false, 20));
    }
    now += 200000;
    const int rt = insert(ML_Q_EDF, 5, 4096, false, 20, ML_PRIO_RT);  // due at 2.2 ms
    const std::vector<int> got = drain();
    std::vector<int> want(seq.begin(), seq.begin() + 8);    // 10 waiting: a batch of 8
    want.push_back(rt);
    want.push_back(seq[8]);
    want.push_back(seq[9]);
    EXPECT_EQ(got, want);
    EXPECT_EQ(d.batches, 2u);
    EXPECT_EQ(d.dispatched[ML_Q_SEQ], 10u);
    EXPECT_EQ(d.dispatched[ML_Q_EDF], 1u);
}

TEST_F(MlSched, BatchSizeFollowsQueueDepth) {
    t.latency_window_us = 0;
    for (u64 i = 0; i < 70; ++i)
        insert(ML_Q_SEQ, 8 * i, 4096, false, 20);
    dispatch();
    EXPECT_EQ(d.batch_max, 64u);                // 70 waiting
    for (int i = 0; i < 63; ++i)
        dispatch();
    EXPECT_EQ(d.batch, 64u);
    dispatch();                                 // 6 left: a new batch of 8
    EXPECT_EQ(d.batch, 1u);
    EXPECT_EQ(d.batch_max, 8u);
    while (!q[ML_Q_SEQ].empty())
        dispatch();
    for (u64 i = 0; i < 20; ++i)
        insert(ML_Q_SEQ, 8 * i, 4096, false, 20);
    dispatch();
    EXPECT_EQ(d.batch_max, 32u);                // 20 waiting
}

// A batch walks up from where its last request ended and skips what lies below; when nothing
// is above, EDF picks queue 1's oldest again, which starts the next batch.
TEST_F(MlSched, BatchGoesUpInSectorOrder) {
    t.latency_window_us = 0;
    const int a = insert(ML_Q_SEQ, 5000, 4096, false, 20);
    now += 1000;
    const int low1 = insert(ML_Q_SEQ, 100, 4096, false, 20);
    const int b = insert(ML_Q_SEQ, 5008, 4096, false, 20);
    now += 1000;
    const int low2 = insert(ML_Q_SEQ, 200, 4096, false, 20);
    const int c = insert(ML_Q_SEQ, 5016, 4096, false, 20);
    EXPECT_EQ(drain(), (std::vector<int>{a, b, c, low1, low2}));
    EXPECT_EQ(d.batches, 2u);
    EXPECT_EQ(d.feat.last_dispatch_end, 208u);
}

// The window: with 1.5 ms of writes predicted in flight, an 800 us write waits; reads never
// wait for it; one write always goes when no write is in flight; completions open it again.
TEST_F(MlSched, AdmissionWindowHoldsWrites) {
    t.latency_window_us = 2000;
    const int r1 = insert(ML_Q_EDF, 8, 4096, false, 600);
    const int w1 = insert(ML_Q_EDF, 0, 4096, true, 1500);
    now += 2000;
    const int w2 = insert(ML_Q_EDF, 16, 4096, true, 800);
    EXPECT_EQ(dispatch(), r1);                  // reads first by deadline; not counted
    EXPECT_EQ(d.write_pred_ns, 0);
    EXPECT_EQ(dispatch(), w1);                  // 1500 us of writes in flight
    EXPECT_EQ(dispatch(), -1);                  // 1500 + 800 > 2000
    EXPECT_TRUE(choices.back().held);
    EXPECT_EQ(kicks, 1u);
    EXPECT_GE(choices.back().retry_ns, ML_KICK_MIN_NS);
    EXPECT_LE(choices.back().retry_ns, 2000000u);
    EXPECT_EQ(d.write_pred_ns, 1500000);
    // A read goes whatever the writes in flight: 5 ms predicted, far past the window.
    const int r2 = insert(ML_Q_EDF, 24, 4096, false, 5000);
    EXPECT_EQ(dispatch(), r2);
    EXPECT_EQ(d.write_pred_ns, 1500000);
    complete();                                 // r1: the writes' sum is unchanged
    EXPECT_EQ(d.write_pred_ns, 1500000);
    EXPECT_EQ(dispatch(), -1);
    complete();                                 // w1
    EXPECT_EQ(d.write_pred_ns, 0);
    EXPECT_EQ(dispatch(), w2);
    EXPECT_EQ(d.write_pred_ns, 800000);
    complete();
    complete();
    EXPECT_EQ(d.write_pred_ns, 0);
    // Alone, a write larger than the whole window still goes.
    const int huge = insert(ML_Q_EDF, 0, 4096, true, 50000);
    EXPECT_EQ(dispatch(), huge);
    const int next = insert(ML_Q_EDF, 0, 4096, true, 1);
    EXPECT_EQ(dispatch(), -1);
    complete();
    EXPECT_EQ(dispatch(), next);
    complete();
    // Window 0: no limit.
    t.latency_window_us = 0;
    for (int i = 0; i < 10; ++i)
        insert(ML_Q_EDF, 0, 4096, true, 100000);
    for (int i = 0; i < 10; ++i)
        EXPECT_GE(dispatch(), 0);
}

// Reads are never held: any number of them with any prediction go while writes fill the window.
TEST_F(MlSched, AdmissionNeverHoldsReads) {
    t.latency_window_us = 100;
    insert(ML_Q_EDF, 0, 4096, true, 90);
    EXPECT_GE(dispatch(), 0);
    for (int i = 0; i < 20; ++i)
        insert(ML_Q_SEQ, 8 * static_cast<u64>(i), 4096, false, 1000000);
    for (int i = 0; i < 20; ++i)
        EXPECT_GE(dispatch(), 0) << i;
    EXPECT_EQ(d.holds, 0u);
    EXPECT_EQ(kicks, 0u);
}

// A batch of writes is held by the window like any write, and goes on when it opens.
TEST_F(MlSched, AdmissionHoldsAWriteBatchToo) {
    t.latency_window_us = 100;
    for (u64 i = 0; i < 4; ++i)
        insert(ML_Q_SEQ, 8 * i, 4096, true, 60);
    EXPECT_GE(dispatch(), 0);
    EXPECT_EQ(dispatch(), -1);
    complete();
    EXPECT_GE(dispatch(), 0);
    EXPECT_EQ(choices.back().why, ML_WHY_BATCH);
    EXPECT_EQ(d.batch, 2u);
}

// Aging: behind an endless supply of urgent reads, a write still goes within
// max_latency_target_us of its arrival.
TEST_F(MlSched, AgingPreventsStarvation) {
    t.max_latency_target_us = 5000;             // 5 ms
    t.write_target_us = 10000000;               // its deadline: 10 s away
    const int w = insert(ML_Q_EDF, 0, 4096, true, 3000);
    u64 waited = 0;
    bool went = false;
    for (int step = 0; step < 1000 && !went; ++step) {
        insert(ML_Q_EDF, 1000 + step, 4096, false, 100);     // a read every 100 us
        const int id = dispatch();
        if (id == w) {
            went = true;
            waited = now - 1000000000;
            EXPECT_EQ(choices.back().why, ML_WHY_AGED);
        }
        if (!device.empty())
            complete();
        now += 100000;
    }
    ASSERT_TRUE(went);
    EXPECT_GE(waited, 5000000u);
    EXPECT_LE(waited, 5100000u);
    EXPECT_EQ(d.aged, 1u);
}

// Aging ignores the window: an aged write goes even with the window full.
TEST_F(MlSched, AgedRequestsSkipAdmission) {
    t.max_latency_target_us = 1000;
    t.latency_window_us = 100;
    insert(ML_Q_EDF, 0, 4096, true, 90);
    EXPECT_GE(dispatch(), 0);                   // alone: 90 us of writes in flight
    const int old = insert(ML_Q_SEQ, 50, 4096, true, 5000);
    EXPECT_EQ(dispatch(), -1);                  // held: 90 + 5000 > 100
    now += 1000000;
    EXPECT_EQ(dispatch(), old);
    EXPECT_EQ(choices.back().why, ML_WHY_AGED);
    EXPECT_TRUE(choices.back().new_batch);      // from queue 1: a batch starts there
}

// The writes' in-flight sum: reads never enter it; it settles at 0 when idle, and a negative
// sum (completions of requests whose prediction never entered it) reads as 0.
TEST_F(MlSched, InflightSumSaturatesAndSettles) {
    ml_inflight_add(&d, false, 100000);
    EXPECT_EQ(d.write_pred_ns, 0);
    ml_inflight_add(&d, true, 100);
    ml_inflight_add(&d, true, 300);
    EXPECT_EQ(ml_inflight_settle(&d, 2, 0), 400000u);
    ml_inflight_sub(&d, false, 400);
    EXPECT_EQ(ml_inflight_settle(&d, 2, 0), 400000u);
    ml_inflight_sub(&d, true, 100);
    ml_inflight_sub(&d, true, 300);
    ml_inflight_sub(&d, true, 700);             // dispatched by programs before these
    EXPECT_EQ(ml_inflight_settle(&d, 1, 0), 0u);
    EXPECT_EQ(d.write_pred_ns, 0);
    ml_inflight_add(&d, true, 500);             // e.g. merged away after dispatch: never completes
    EXPECT_EQ(ml_inflight_settle(&d, 1, 0), 500000u);
    EXPECT_EQ(ml_inflight_settle(&d, 0, 1), 500000u);   // one dispatched, not taken yet
    EXPECT_EQ(ml_inflight_settle(&d, 0, 0), 0u);        // idle: nothing can be in flight
    EXPECT_EQ(d.write_pred_ns, 0);
    // Add and subtract are quantised alike: nothing left over, whatever the value.
    for (u32 us : {1u, 255u, 256u, 257u, 12345u, 8372224u, ML_U32_MAX}) {
        ml_inflight_add(&d, true, ml_key_pred_us(ml_key_edf(0, us)));
        ml_inflight_sub(&d, true, us);
        EXPECT_EQ(d.write_pred_ns, 0) << us;
    }
}

// The read reserve: while reads arrive, writes leave one of the device's 4 tags free, so a read
// goes to the device at once; reads may take it; with no read for read_target_us, writes take
// every tag again.
TEST_F(MlSched, ReadReserveKeepsATagForReads) {
    t.latency_window_us = 0;
    t.read_reserve = 1; // off by default
    slots = 4;
    const int r0 = insert(ML_Q_EDF, 0, 4096, false, 100);
    std::vector<int> w;
    for (u64 i = 0; i < 4; ++i)
        w.push_back(insert(ML_Q_EDF, 1000 + 8 * i, 65536, true, 1000));
    EXPECT_EQ(dispatch(), r0);
    EXPECT_EQ(dispatch(), w[0]);
    EXPECT_EQ(dispatch(), w[1]);                // 3 in flight: one tag left, for reads
    EXPECT_EQ(dispatch(), -1);
    EXPECT_EQ(choices.back().held, 2u);
    EXPECT_EQ(kicks, 1u);
    EXPECT_GE(choices.back().retry_ns, ML_KICK_MIN_NS);
    EXPECT_LE(choices.back().retry_ns, 2000000u);
    now += 100000;
    const int r1 = insert(ML_Q_EDF, 8, 4096, false, 100);
    EXPECT_EQ(dispatch(), r1);                  // the reserved tag
    complete();                                 // r0: 3 in flight
    EXPECT_EQ(dispatch(), -1);
    complete();                                 // w[0]: 2 in flight
    EXPECT_EQ(dispatch(), w[2]);
    // No read for longer than read_target_us: writes may fill the device.
    now += 2100000;
    EXPECT_EQ(dispatch(), w[3]);
    EXPECT_EQ(device.size(), 4u);
}

// The reserve never takes a device's only tag from writes, and 0 turns it off.
TEST_F(MlSched, ReadReserveNeverTakesEveryTag) {
    t.latency_window_us = 0;
    t.read_reserve = 1; // off by default
    slots = 1;
    insert(ML_Q_EDF, 0, 4096, false, 100);
    insert(ML_Q_EDF, 8, 4096, true, 100);
    const int w = insert(ML_Q_EDF, 16, 4096, true, 100);
    EXPECT_GE(dispatch(), 0);
    EXPECT_GE(dispatch(), 0);                   // slots <= read_reserve: no reserve
    // 3 of 4 tags in flight and reads recent: a reserve of 1 holds the write, 0 does not.
    slots = 4;
    insert(ML_Q_EDF, 24, 4096, false, 100);
    EXPECT_GE(dispatch(), 0);
    EXPECT_EQ(device.size(), 3u);
    EXPECT_EQ(dispatch(), -1);
    EXPECT_EQ(choices.back().held, 2u);
    t.read_reserve = 0;
    EXPECT_EQ(dispatch(), w);
    ml_tunables def;
    ml_tunables_default(&def);
    EXPECT_EQ(def.read_reserve, 0u);
    // No read ever arrived: nothing to reserve for.
    ml_dev fresh{};
    ml_dev_init(&fresh, 1, nullptr, 0);
    EXPECT_FALSE(ml_reserve_holds(1, 4, 3, now, fresh.reads_until_ns));
    EXPECT_TRUE(ml_reserve_holds(1, 4, 3, now, now + 1));
    EXPECT_FALSE(ml_reserve_holds(1, 4, 2, now, now + 1));
    EXPECT_TRUE(ml_reserve_holds(1, 4, ML_U32_MAX, now, now + 1));     // no overflow
}

// Writes and async requests hold write_depth_pct of the scheduler tags, at least one, rounded
// down to a multiple of 4 where that leaves one (blk-mq rounds a limit up in each of its 4
// bitmap words); 100% is no limit, the default.
TEST(MlWriteDepth, ShareOfTheSchedulerTags) {
    EXPECT_EQ(ml_write_depth(75, 8), 4u);       // 6 of 8 would be no limit at all
    EXPECT_EQ(ml_write_depth(50, 8), 4u);
    EXPECT_EQ(ml_write_depth(40, 8), 3u);       // below 4: as it is
    EXPECT_EQ(ml_write_depth(75, 256), 192u);
    EXPECT_EQ(ml_write_depth(70, 64), 44u);     // 44.8 -> 44
    EXPECT_EQ(ml_write_depth(1, 8), 1u);        // never 0, which would remove the limit
    EXPECT_EQ(ml_write_depth(50, 1), 1u);
    EXPECT_EQ(ml_write_depth(100, 8), 0u);
    EXPECT_EQ(ml_write_depth(100, 0), 0u);
    EXPECT_EQ(ml_write_depth(99, ML_U32_MAX), static_cast<u32>(u64{ML_U32_MAX} * 99 / 100) & ~3u);
    ml_tunables t;
    ml_tunables_default(&t);
    EXPECT_EQ(ml_write_depth(t.write_depth_pct, 8), 0u);
    ml_dev d{};
    ml_dev_init(&d, 1, nullptr, 0);
    EXPECT_EQ(d.write_depth, ML_WRITE_DEPTH_UNSET);     // so "no limit" is applied too
}

// ---- prediction and learning in the device state -----------------------------------------

TEST(MlDev, MeanPredictorThenModelThenCorrection) {
    ml_tunables t;
    ml_tunables_default(&t);
    ml_dev d;
    ml_dev_init(&d, 7, nullptr, 0);
    s32 x[ML_NR_FEATURES] = {};
    ml_prediction p;
    ml_predict(&d, nullptr, ML_READ, x, &p);
    EXPECT_EQ(p.model, 0u);
    EXPECT_EQ(p.pred_us, 1u);                   // nothing learnt yet
    // Reads of 127 us: the mean predictor learns log2(128) = 7 at once.
    ml_learn_completion(&d, &t, ml_cookie(false, false, 0, 1), 127000, true);
    ml_predict(&d, nullptr, ML_READ, x, &p);
    EXPECT_EQ(p.y, 7 * kOne);
    EXPECT_EQ(p.pred_us, 127u);
    ml_predict(&d, nullptr, ML_WRITE, x, &p);
    EXPECT_EQ(p.pred_us, 1u);                   // per direction

    // A model that says 2^5 - 1 = 31 us for everything; the device takes 127 us.
    ml_weights w = zero_weights();
    w.b2 = 5 * kOne;
    ml_dev_new_model(&d, &w, 1);
    for (int i = 0; i < 3000; ++i) {
        ml_predict(&d, &w, ML_READ, x, &p);
        ASSERT_EQ(p.model, 1u);
        ml_learn_completion(&d, &t, ml_cookie(false, true, p.y, p.pred_us), 127000, true);
    }
    ml_predict(&d, &w, ML_READ, x, &p);
    EXPECT_NEAR(p.y_corr, 7 * kOne, kOne / 32);
    EXPECT_NEAR(p.pred_us, 127u, 4u);
    // Completions of another model's predictions, or with online_learning=0, teach nothing.
    const ml_correction c = d.corr[ML_READ];
    ml_learn_completion(&d, &t, ml_cookie(false, true, p.y, p.pred_us), 1000000, false);
    t.online_learning = 0;
    ml_learn_completion(&d, &t, ml_cookie(false, true, p.y, p.pred_us), 1000000, true);
    EXPECT_EQ(d.corr[ML_READ].gain, c.gain);
    EXPECT_EQ(d.corr[ML_READ].bias, c.bias);
    // A new model starts the correction over.
    ml_dev_new_model(&d, &w, 2);
    EXPECT_EQ(d.corr[ML_READ].gain, kOne);
    EXPECT_EQ(d.corr[ML_READ].bias, 0);
    EXPECT_EQ(d.model_gen, 2u);
}

// ---- the policy object as clang compiled it, as ufqctl reads it ---------------------------

using ufq::Schema;

struct MlObject : testing::Test {
    const std::filesystem::path object = UFQ_POLICY_DIR "/ml.bpf.o";
    ufq::test::BtfPtr b;

    void SetUp() override {
        UFQ_SKIP_UNLESS_POLICIES_BUILT(object);
        b.reset(btf__parse_elf(object.c_str(), nullptr));
        ASSERT_TRUE(b);
    }

    Schema describe(const char* type_name, const char* what) {
        const int id = btf__find_by_name_kind(b.get(), type_name, BTF_KIND_STRUCT);
        EXPECT_GT(id, 0) << type_name;
        return ufq::describe_btf_type(b.get(), static_cast<u32>(id), what);
    }
};

// The tunables: ufqctl accepts them, and the defaults in the BTF tags are ml_tunables_default().
TEST_F(MlObject, TunablesHaveTheDocumentedDefaults) {
    const Schema s = describe("ml_tunables", "map ml_tunables");
    ufq::check_tunables_schema(s, "ml_tunables");
    ASSERT_EQ(s.size, sizeof(ml_tunables));
    std::vector<std::uint8_t> v(s.size);
    ufq::apply_defaults(s, v);
    ml_tunables want;
    ml_tunables_default(&want);
    EXPECT_EQ(std::memcmp(v.data(), &want, sizeof(want)), 0);
    EXPECT_THAT(ufq::test::error_message([&] {
                    ufq::apply_assignments(s, v, {"online_learning=2"}, "ml");
                }),
                testing::HasSubstr("online_learning: 2 is out of range 0..1"));
}

// The model: laid out as natively (the trainer writes this struct), every weight named and
// range-checked as documented, the 2-D w1 included.
TEST_F(MlObject, ModelLayoutAndRanges) {
    const Schema value = describe("ml_model_value", "map ml_model");
    const ufq::ModelLayout l = ufq::model_layout(value, "ml_model");
    EXPECT_EQ(value.size, sizeof(ml_model_value));
    EXPECT_EQ(l.weights.size, sizeof(ml_weights));
    EXPECT_EQ(l.slot, offsetof(ml_model_value, slot));
    const char* names[] = {"in_mean", "in_scale", "w1",   "b1",         "w2",
                           "b2",      "seq_w",    "seq_b", "trained_on", "baseline_err_pct"};
    const size_t offsets[] = {offsetof(ml_weights, in_mean), offsetof(ml_weights, in_scale),
                              offsetof(ml_weights, w1),      offsetof(ml_weights, b1),
                              offsetof(ml_weights, w2),      offsetof(ml_weights, b2),
                              offsetof(ml_weights, seq_w),   offsetof(ml_weights, seq_b),
                              offsetof(ml_weights, trained_on),
                              offsetof(ml_weights, baseline_err_pct)};
    for (size_t i = 0; i < std::size(names); ++i) {
        const Schema* m = l.weights.member(names[i]);
        ASSERT_NE(m, nullptr) << names[i];
        EXPECT_EQ(m->offset, offsets[i]) << names[i];
    }
    // A weights file for a model of `n` features (the 12-wide one predates the write-backlog
    // features) with w1 having `row` elements in its fourth row.
    auto weights_json = [](int n, int row) {
        std::string j = R"({"in_mean": [)";
        for (int i = 0; i < n; ++i)
            j += i ? ",0" : "0";
        j += R"(], "in_scale": [)";
        for (int i = 0; i < n; ++i)
            j += i ? ",65536" : "65536";
        j += R"(], "w1": [)";
        for (int r = 0; r < ML_HIDDEN; ++r) {
            j += r ? ",[" : "[";
            for (int i = 0; i < (r == 3 ? row : n); ++i)
                j += std::string(i ? "," : "") + std::to_string(r * 100 + i);
            j += "]";
        }
        return j + R"(], "b1": [1,2,3,4,5,6,7,8], "w2": [1,1,1,1,1,1,1,1], "b2": 655360,
               "seq_w": [131072, -65536, 0, 0], "seq_b": -32768, "trained_on": 1000,
               "baseline_err_pct": [40, 60]})";
    };
    const std::string json = weights_json(ML_NR_FEATURES, ML_NR_FEATURES);
    const std::vector<std::uint8_t> bytes = ufq::parse_weights(l, json, "w.json");
    ASSERT_EQ(bytes.size(), sizeof(ml_weights));
    ml_weights w;
    std::memcpy(&w, bytes.data(), sizeof(w));
    EXPECT_EQ(w.w1[3][5], 305);                 // row-major: w1[j][i]
    EXPECT_EQ(w.b2, 655360);
    EXPECT_EQ(w.seq_b, -32768);
    EXPECT_EQ(w.baseline_err_pct[1], 60u);
    std::string bad = json;
    bad.replace(bad.find("655360"), 6, "9000000");
    EXPECT_THAT(ufq::test::error_message([&] { (void)ufq::parse_weights(l, bad, "w.json"); }),
                testing::HasSubstr("b2: 9000000 is out of range -8388608..8388608"));
    // The old 12-feature shape is refused by name, not read into the wrong places, and so is
    // one short row of w1.
    static_assert(ML_NR_FEATURES == 14);
    EXPECT_THAT(ufq::test::error_message([&] {
                    (void)ufq::parse_weights(l, weights_json(12, 12), "w.json");
                }),
                testing::HasSubstr("in_mean: expected 14 elements, got 12"));
    EXPECT_THAT(ufq::test::error_message([&] {
                    (void)ufq::parse_weights(l, weights_json(14, 13), "w.json");
                }),
                testing::HasSubstr("w1[3]: expected 14 elements, got 13"));
}

// The status map's value: what bpftool prints is laid out as the native struct.
TEST_F(MlObject, StatusLayoutIsTheNativeOne) {
    const Schema s = describe("ml_dev", "map ml_status");
    EXPECT_EQ(s.size, sizeof(ml_dev));
    ASSERT_NE(s.member("write_pred_ns"), nullptr);
    EXPECT_EQ(s.member("write_pred_ns")->offset, offsetof(ml_dev, write_pred_ns));
    ASSERT_NE(s.member("completed"), nullptr);
    EXPECT_EQ(s.member("completed")->offset, offsetof(ml_dev, completed));
    const Schema pe = describe("ufq_pred_error", "map ufq_pred_error");
    EXPECT_EQ(pe.size, sizeof(ufq_pred_error));
}

} // namespace
