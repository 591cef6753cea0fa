#include "ufq/latency.hpp"

#include <algorithm>
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "fake_sysfs.hpp"
#include "ufq/error.hpp"
#include "ufq/latency.h"

namespace ufq::test {
namespace {

// Every value lands in a bucket whose bounds hold it, buckets never go down as values grow,
// and a bucket is at most 1/8 of its lower bound wide (the accuracy the docs promise).
TEST(LatencyBucketTest, BoundsHoldTheValue) {
    std::vector<u64> values;
    for (u64 v = 0; v < 5000; ++v)
        values.push_back(v);
    for (u32 shift = 12; shift < 40; ++shift)
        for (u64 d : {0ULL, 1ULL, 3ULL, 1000ULL})
            values.push_back((1ULL << shift) + d * (1ULL << (shift - 12)));
    std::sort(values.begin(), values.end());
    u32 previous = 0;
    for (const u64 v : values) {
        const u32 b = ufq_lat_bucket(v);
        ASSERT_LT(b, UFQ_LAT_BUCKETS) << v;
        ASSERT_GE(b, previous) << v;
        previous = b;
        if (b + 1 < UFQ_LAT_BUCKETS) {
            ASSERT_LE(ufq_lat_bucket_low(b), v) << v;
            ASSERT_LT(v, ufq_lat_bucket_high(b)) << v;
            if (v >= UFQ_LAT_SUB) {
                ASSERT_LE((ufq_lat_bucket_high(b) - ufq_lat_bucket_low(b)) * 8,
                          ufq_lat_bucket_low(b)) << v;
            }
        }
    }
}

TEST(LatencyBucketTest, HugeValuesShareTheLastBucket) {
    EXPECT_EQ(ufq_lat_bucket(1ULL << UFQ_LAT_MAX_BITS), UFQ_LAT_BUCKETS - 1);
    EXPECT_EQ(ufq_lat_bucket(~0ULL), UFQ_LAT_BUCKETS - 1);
    EXPECT_EQ(ufq_lat_bucket((1ULL << UFQ_LAT_MAX_BITS) - 1), UFQ_LAT_BUCKETS - 1);
    EXPECT_EQ(ufq_lat_msb(1), 0u);
    EXPECT_EQ(ufq_lat_msb(~0ULL), 63u);
}

std::vector<std::uint64_t> histogram_of(const std::vector<u64>& values) {
    std::vector<std::uint64_t> buckets(UFQ_LAT_BUCKETS);
    for (const u64 v : values)
        ++buckets[ufq_lat_bucket(v)];
    return buckets;
}

// Percentiles from the histogram are within the bucket width of the exact ones.
TEST(LatencyPercentileTest, CloseToExact) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> dist(11.0, 1.2); // median ~60 us, long tail
    std::vector<u64> values;
    for (int i = 0; i < 100000; ++i)
        values.push_back(static_cast<u64>(dist(rng)));
    const auto buckets = histogram_of(values);
    std::sort(values.begin(), values.end());
    for (const double q : {0.5, 0.99, 0.999}) {
        const double exact = static_cast<double>(values[static_cast<std::size_t>(q * 100000) - 1]);
        EXPECT_NEAR(percentile_ns(buckets, q), exact, exact * 0.0625 + 1) << q;
    }
}

TEST(LatencyPercentileTest, SmallCounts) {
    EXPECT_EQ(percentile_ns(histogram_of({}), 0.5), 0);
    EXPECT_EQ(percentile_ns(histogram_of({5}), 0.999), 5);
    // 100 samples: 99 at 1 us, one at 1 ms; p99 is the 99th smallest, p99.9 the largest.
    std::vector<u64> v(99, 1000);
    v.push_back(1000000);
    const auto b = histogram_of(v);
    EXPECT_NEAR(percentile_ns(b, 0.99), 1000, 63);
    EXPECT_NEAR(percentile_ns(b, 0.999), 1000000, 62500);
    const auto s = summarize(b, 99 * 1000 + 1000000);
    EXPECT_EQ(s.count, 100u);
    EXPECT_NEAR(s.mean_us, 10.99, 0.01);
}

TEST(LatencyHistogramTest, SumsCpusAndDiffs) {
    const int cpus = 4;
    const std::uint32_t dev = (259u << 20) | 3u;
    const std::size_t stride = (sizeof(ufq_latency) + 7) / 8 * 8;
    std::vector<std::uint8_t> raw(stride * cpus);
    for (int cpu = 0; cpu < cpus; ++cpu) {
        ufq_latency v{};
        v.count[UFQ_LAT_IDX(UFQ_DIR_READ, 10)] = 1 + cpu;
        v.count[UFQ_LAT_IDX(UFQ_DIR_WRITE, 20)] = 10;
        v.sum_ns[UFQ_DIR_WRITE] = 100;
        // The last CPU has not seen a completion of `dev` since another device had the id.
        v.dev = cpu == cpus - 1 ? dev + 1 : dev;
        std::memcpy(raw.data() + stride * cpu, &v, sizeof(v));
    }
    const LatencyHistogram h = sum_cpus(raw, cpus, dev);
    EXPECT_EQ(h.count[0][10], 6u);
    EXPECT_EQ(h.count[1][20], 30u);
    EXPECT_EQ(h.sum_ns[1], 300u);

    LatencyHistogram later = h;
    later.count[0][10] += 4;
    later.sum_ns[0] += 40;
    const LatencyHistogram d = later.since(h);
    EXPECT_EQ(d.count[0][10], 4u);
    EXPECT_EQ(d.count[1][20], 0u);
    EXPECT_EQ(d.sum_ns[0], 40u);
    // A histogram that went backwards (the map was recreated) counts from zero.
    EXPECT_EQ(h.since(later).count[0][10], 6u);
}

// ufqctl finds a device's histogram at the id the kernel shows in iosched/id.
TEST(LatencyHistogramTest, ReadsTheDeviceIdFromSysfs) {
    FakeSysfs fake;
    fake.add_disk("nullb3", 252, 3, "none mq-deadline [ufq]");
    const BlockDevice dev = resolve_device("nullb3", fake.root());
    const auto attr = fake.root().sys / "block" / "nullb3" / "queue" / "iosched" / "id";
    write_file(attr, "17\n");
    EXPECT_EQ(ufq_id(dev, fake.root()), 17u);
    write_file(attr, "seventeen\n");
    EXPECT_THROW((void)ufq_id(dev, fake.root()), Error);
}

} // namespace
} // namespace ufq::test
