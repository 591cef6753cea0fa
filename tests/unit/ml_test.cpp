// The ml policy's plain-C core on the host: the latency model (policies/ml_model.h), the
// prediction-error histogram (include/ufq/pred_error.h) and the scheduling decisions
// (policies/ml.h).
#include "ml_model.h"
#include "ufq/pred_error.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

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
    ml_feat_dispatched(&st, 1000);
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
    ml_replay_dispatch(&rp, 100, 4096);
    r = request(108, 4096, false, 2000);
    ml_replay_arrival(&rp, &r, x);
    EXPECT_EQ(x[ML_F_IN_FLIGHT], kOne);         // log2(1 + 1)
    EXPECT_EQ(x[ML_F_WAITING], 0);
    EXPECT_EQ(x[ML_F_SEEK], 0);                 // continues the dispatched one
    r = request(5000, 4096, true, 3000);
    ml_replay_arrival(&rp, &r, x);
    EXPECT_EQ(x[ML_F_WAITING], kOne);
    EXPECT_EQ(rp.nr_waiting, 2u);
    ml_replay_complete(&rp, 63000);
    EXPECT_EQ(rp.nr_in_flight, 0u);
    ml_replay_complete(&rp, 63000);             // more completions than dispatches: stays 0
    EXPECT_EQ(rp.nr_in_flight, 0u);
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

} // namespace
