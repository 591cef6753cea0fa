// Reading the SDK's prediction-error histograms: which per-CPU copies count, and the
// figures ufqctl stats and ufqctl model show print from them.
#include "ufq/pred_error.hpp"

#include <cstring>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "ufq/pred_error.h"

namespace ufq::test {
namespace {

constexpr std::uint32_t kDev = (259u << 20) | 1;
constexpr std::uint32_t kOtherDev = (8u << 20) | 16;

// A CPU's copy that counted `errors` (percent) for `dir` as ufq_sdk_pred_error() does.
ufq_pred_error copy_of(std::uint64_t dev, std::uint64_t gen, int dir,
                       const std::vector<std::uint32_t>& errors) {
    ufq_pred_error v;
    std::memset(&v, 0, sizeof(v));
    v.dev = dev;
    v.model_gen = gen;
    for (const auto pct : errors) {
        v.bucket[dir][ufq_pred_err_bucket(pct)]++;
        v.count[dir]++;
        v.sum_pct[dir] += pct;
    }
    return v;
}

// The per-CPU layout bpf_map_lookup_elem returns: each copy rounded up to 8 bytes.
std::vector<std::uint8_t> percpu(const std::vector<ufq_pred_error>& copies) {
    const std::size_t stride = (sizeof(ufq_pred_error) + 7) / 8 * 8;
    std::vector<std::uint8_t> bytes(stride * copies.size());
    for (std::size_t i = 0; i < copies.size(); ++i)
        std::memcpy(bytes.data() + i * stride, &copies[i], sizeof(copies[i]));
    return bytes;
}

TEST(PredErrorTest, SumsOnlyCopiesOfTheDeviceAndGeneration) {
    const auto values = percpu({
        copy_of(kDev, 3, 0, {10, 12, 14}),       // counts
        copy_of(kDev, 3, 1, {50}),               // counts (writes)
        copy_of(kDev, 2, 0, {900, 900, 900}),    // before the push: not this model's
        copy_of(kOtherDev, 3, 0, {700, 700}),    // an earlier device of the same id
        copy_of(kDev, 3, 0, {16}),               // counts
    });
    const PredError e = sum_pred_error_cpus(values, 5, kDev, 3);
    EXPECT_EQ(e.model_gen, 3u);
    EXPECT_EQ(e.count[0], 4u);
    EXPECT_EQ(e.count[1], 1u);
    EXPECT_EQ(e.sum_pct[0], 10u + 12 + 14 + 16);
    const auto reads = summarize(e, 0);
    EXPECT_EQ(reads.count, 4u);
    EXPECT_DOUBLE_EQ(reads.mean_pct, 13.0);
    EXPECT_EQ(reads.median_pct, ufq_pred_err_percentile(e.bucket[0].data(), 50));
    EXPECT_GE(reads.median_pct, 10u);
    EXPECT_LT(reads.median_pct, 15u);
    EXPECT_EQ(summarize(e, 1).median_pct, 50u);

    // The generation asked for, even when no copy has it yet: nothing since the push.
    const PredError fresh = sum_pred_error_cpus(values, 5, kDev, 4);
    EXPECT_EQ(fresh.model_gen, 4u);
    EXPECT_EQ(fresh.count[0] + fresh.count[1], 0u);
    EXPECT_EQ(summarize(fresh, 0).count, 0u);
}

// A policy without a model map: the newest generation among the device's copies counts.
TEST(PredErrorTest, WithoutAGenerationTheNewestCounts) {
    const auto values = percpu({copy_of(kDev, 1, 0, {5}), copy_of(kDev, 2, 0, {20, 30}),
                                copy_of(kOtherDev, 9, 0, {1})});
    const PredError e = sum_pred_error_cpus(values, 3, kDev, std::nullopt);
    EXPECT_EQ(e.model_gen, 2u);
    EXPECT_EQ(e.count[0], 2u);
    EXPECT_EQ(sum_pred_error_cpus(values, 3, (1u << 20), std::nullopt).count[0], 0u);
}

// Percentiles over many requests are within a bucket (5 points) of the exact ones, p90 of a
// long tail in the open-ended buckets gives their lower bound.
TEST(PredErrorTest, PercentilesFromBuckets) {
    std::vector<std::uint32_t> errors;
    for (std::uint32_t i = 0; i < 1000; ++i)
        errors.push_back(i / 10); // 0..99%: median 49-50, p90 89-90
    const PredError e = sum_pred_error_cpus(percpu({copy_of(kDev, 1, 0, errors)}), 1, kDev, 1);
    const auto s = summarize(e, 0);
    EXPECT_NEAR(s.median_pct, 49.5, 5);
    EXPECT_NEAR(s.p90_pct, 89.5, 5);

    std::vector<std::uint32_t> tail(80, 10);
    tail.insert(tail.end(), 20, 5000);
    const auto t =
        summarize(sum_pred_error_cpus(percpu({copy_of(kDev, 1, 1, tail)}), 1, kDev, 1), 1);
    EXPECT_EQ(t.p90_pct, static_cast<std::uint32_t>(UFQ_PRED_ERR_HIGH_PCT));
}

// Devices add up (ufqctl model show sums the devices a policy serves).
TEST(PredErrorTest, DevicesAddUp) {
    PredError a = sum_pred_error_cpus(percpu({copy_of(kDev, 1, 0, {10, 20})}), 1, kDev, 1);
    const PredError b =
        sum_pred_error_cpus(percpu({copy_of(kOtherDev, 1, 0, {30})}), 1, kOtherDev, 1);
    a.add(b);
    EXPECT_EQ(a.count[0], 3u);
    EXPECT_EQ(a.sum_pct[0], 60u);
    const auto j = to_json(a);
    EXPECT_EQ(j["model_generation"], 1);
    EXPECT_EQ(j["read"]["count"], 3);
    EXPECT_EQ(j["read"]["mean_pct"], 20.0);
    EXPECT_TRUE(j["write"].is_null());
}

TEST(PredErrorTest, ShortValueIsAnError) {
    const std::vector<std::uint8_t> bytes(100);
    EXPECT_THAT(error_message([&] { (void)sum_pred_error_cpus(bytes, 2, kDev, 1); }),
                ::testing::HasSubstr("too small for 2 CPUs"));
}

} // namespace
} // namespace ufq::test
