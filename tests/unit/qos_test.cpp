// The qos policy's decision core (policies/qos.h), on the host: the cost model, the buckets,
// dispatch order, the feedback loop on simulated time, and slots for tenants.
#include "qos.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace {

constexpr u64 kMs = 1000000;

struct QosTest : testing::Test {
    qos_weights w{};
    qos_tunables t{};
    qos_dev d{};
    qos_view v{};
    u64 now = 1000 * kMs;

    void SetUp() override {
        qos_weights_default(&w);
        qos_tunables_default(&t);
        qos_dev_init(&d, &w, &t, 42, now);
    }

    // A slot claimed, with an empty bucket and no rate until allocate().
    int tenant(int slot, u64 cgroup, u32 cls, u32 weight, u32 slo = 0, u32 iops = 0) {
        qos_slot_claim(&d.tenants[slot], cgroup, cls, weight, slo, iops, 0, d.vclock, now);
        d.tenants[slot].tokens = 0;
        return slot;
    }

    void allocate() {
        u32 busy = 0;
        for (int i = 0; i < QOS_NR_SLOTS; i++)
            if (v.nr[i] > 0)
                busy |= 1U << i;
        qos_allocate(&d, &t, busy, t.window_ms * kMs);
    }

    // One dispatch of a 4k read as qos.bpf.c makes it: the slot, or -1.
    int dispatch(u32 bytes = 4096, bool write = false) {
        qos_choice c{};
        qos_pick(&d, &t, &v, now, &c);
        if (c.slot < 0)
            return -1;
        qos_charge(&d, &t, &c, qos_cost(&w, write, false, bytes, d.write_weight), write, bytes,
                   now);
        return c.slot;
    }
};

// ---- cost model ----------------------------------------------------------------------

TEST_F(QosTest, CostFollowsTheSizeBuckets) {
    EXPECT_EQ(qos_cost(&w, false, false, 512, 1024), 1024u);
    EXPECT_EQ(qos_cost(&w, false, false, 4096, 1024), 1024u);
    EXPECT_EQ(qos_cost(&w, false, false, 4097, 1024), w.read_cost[1]);
    EXPECT_EQ(qos_cost(&w, false, false, 65536, 1024), w.read_cost[4]);
    EXPECT_EQ(qos_cost(&w, false, false, 128 << 10, 1024), w.read_cost[5]);
    EXPECT_EQ(qos_cost(&w, false, false, (128 << 10) + 1, 1024), 2ull * w.read_cost[5]);
    EXPECT_EQ(qos_cost(&w, false, false, 1u << 20, 1024), 8ull * w.read_cost[5]);
    for (u32 b = 4096; b < (1u << 20); b *= 2)
        EXPECT_LE(qos_cost(&w, false, false, b, 1024), qos_cost(&w, false, false, 2 * b, 1024));
}

TEST_F(QosTest, WritesCarryTheSustainedWriteWeight) {
    EXPECT_EQ(qos_cost(&w, true, false, 4096, 1024), w.write_cost[0]);
    EXPECT_EQ(qos_cost(&w, true, false, 4096, 2048), 2ull * w.write_cost[0]);
    // Reads do not.
    EXPECT_EQ(qos_cost(&w, false, false, 4096, 4096), 1024u);
    // A discard of a gigabyte costs a 4k write.
    EXPECT_EQ(qos_cost(&w, false, true, 1u << 30, 1024), w.write_cost[0]);
}

TEST_F(QosTest, DiscardsCarryTheWriteWeightToo) {
    EXPECT_EQ(qos_cost(&w, false, true, 4096, 2048), 2ull * w.write_cost[0]);
}

TEST_F(QosTest, WriteWeightRampsWithTheWriteRate) {
    const u64 window = 100 * kMs;
    EXPECT_EQ(qos_write_weight(&w, 0, window), 1024u);
    // 256 MiB/s is the ramp: 25.6 MiB in 100 ms reaches the maximum.
    EXPECT_EQ(qos_write_weight(&w, 256ull << 20, window), w.write_weight_max);
    const u32 half = qos_write_weight(&w, 128ull * (1 << 20) / 10, window);
    EXPECT_GT(half, 1024u);
    EXPECT_LT(half, w.write_weight_max);
    EXPECT_NEAR(half, (1024 + w.write_weight_max) / 2, 16);
    // Absurd volumes saturate instead of overflowing.
    EXPECT_EQ(qos_write_weight(&w, ~0ull, 1), w.write_weight_max);
}

TEST_F(QosTest, CostSaturatesOnExtremeWeights) {
    for (auto& c : w.write_cost)
        c = 16777216;
    w.write_weight_max = 16384;
    const u64 c = qos_cost(&w, true, false, 0xffffffffu, 16384);
    EXPECT_EQ(c, QOS_MAX_COST);
}

TEST_F(QosTest, SafePointIsTheHighestLoadWithinTheTarget) {
    EXPECT_EQ(qos_safe_point(&w, 1000), 0u);  // no curve in the defaults
    const u32 load[] = {10000, 20000, 40000, 60000, 80000, 100000};
    const u32 p99[] = {100, 120, 200, 400, 900, 3000};
    for (int i = 0; i < 6; i++) {
        w.curve_viops[i] = load[i];
        w.curve_p99_us[i] = p99[i];
    }
    EXPECT_EQ(qos_safe_point(&w, 500), 60000 * QOS_VIO);
    EXPECT_EQ(qos_safe_point(&w, 100), 10000 * QOS_VIO);
    EXPECT_EQ(qos_safe_point(&w, 50), 0u);
}

// ---- buckets ---------------------------------------------------------------------------

TEST_F(QosTest, BucketsRefillAtTheirRateUpToTheBurst) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    d.tenants[1].rate = 10000 * QOS_VIO;  // 10k VIO/s: 10 per ms
    qos_refill(&d, &d.tenants[1], &t, now + 1 * kMs);
    EXPECT_EQ(d.tenants[1].tokens, static_cast<s64>(10 * QOS_VIO));
    // burst_ms 10: at most 100 VIO, the overflow's 90% donated.
    qos_refill(&d, &d.tenants[1], &t, now + 51 * kMs);
    EXPECT_EQ(d.tenants[1].tokens, static_cast<s64>(100 * QOS_VIO));
    EXPECT_EQ(d.spare, (500 - 90) * QOS_VIO / 100 * 90);
}

TEST_F(QosTest, DonationRespectsDonatePctAndTheSpareCap) {
    t.donate_pct = 0;
    tenant(1, 100, QOS_CLASS_BE, 100);
    d.tenants[1].rate = 10000 * QOS_VIO;
    qos_refill(&d, &d.tenants[1], &t, now + 100 * kMs);
    EXPECT_EQ(d.spare, 0u);
    t.donate_pct = 100;
    d.tenants[1].rate = d.budget;
    qos_refill(&d, &d.tenants[1], &t, now + 200 * kMs);
    EXPECT_EQ(d.spare, d.budget / 1000 * t.burst_ms);
}

TEST_F(QosTest, RefillOfALongIdleTenantIsBounded) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    d.tenants[1].rate = QOS_MAX_RATE;
    qos_refill(&d, &d.tenants[1], &t, ~0ull);
    EXPECT_EQ(d.tenants[1].tokens, static_cast<s64>(qos_bucket_cap(&d.tenants[1], &t)));
    // Time that runs backwards (a slot claimed by a later clock read) adds nothing.
    const s64 before = d.tenants[1].tokens;
    d.tenants[1].last_refill_ns = now + 10 * kMs;
    qos_refill(&d, &d.tenants[1], &t, now);
    EXPECT_EQ(d.tenants[1].tokens, before);
}

TEST_F(QosTest, AllocationReservesLcRatesAndSharesTheRestByWeight) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000, 10000);
    tenant(2, 200, QOS_CLASS_BE, 100);
    tenant(3, 300, QOS_CLASS_BE, 300);
    v.nr[1] = v.nr[2] = v.nr[3] = 1;
    d.tenants[1].window_charged = 1000 * QOS_VIO;  // all of its reservation, 100 ms of it
    allocate();
    const u64 rest = d.budget - 10000 * QOS_VIO;
    EXPECT_EQ(d.tenants[1].rate, 10000 * QOS_VIO);
    EXPECT_EQ(d.tenants[2].rate, rest * 100 / 400);
    EXPECT_EQ(d.tenants[3].rate, rest * 300 / 400);
    // The idle default tenant is offered what it would get if it joined.
    EXPECT_EQ(d.tenants[0].rate, rest * 100 / 500);
}

TEST_F(QosTest, ReservationsAboveTheBudgetLeaveBeItsMinimum) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000, 10000000);
    tenant(2, 200, QOS_CLASS_BE, 100);
    v.nr[1] = v.nr[2] = 1;
    d.tenants[1].window_charged = d.budget;  // used all of it
    allocate();
    EXPECT_EQ(d.tenants[1].rate, 10000000 * QOS_VIO) << "a reservation is not capped by the budget";
    EXPECT_EQ(d.tenants[2].rate, d.budget / 100 * t.be_min_pct);
    t.be_min_pct = 0;
    allocate();
    EXPECT_EQ(d.tenants[2].rate, 0u);
}

TEST_F(QosTest, AnUnusedReservationIsLentToBe) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000, 50000);
    tenant(2, 200, QOS_CLASS_BE, 100);
    v.nr[1] = v.nr[2] = 1;
    // The LC tenant used 8000 VIO/s of its 50000 in the last window (800 in 100 ms).
    d.tenants[1].window_charged = 800 * QOS_VIO;
    allocate();
    EXPECT_EQ(d.tenants[1].rate, 50000 * QOS_VIO);  // its bucket still fills at the reservation
    EXPECT_EQ(d.tenants[2].rate, d.budget - 10000 * QOS_VIO);
}

TEST_F(QosTest, ATenantWithoutARateRetriesWithinABurst) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    qos_touch(&d, &d.tenants[2], now);
    v.nr[1] = 3;
    d.tenants[1].rate = 0;
    qos_choice c{};
    qos_pick(&d, &t, &v, now, &c);
    EXPECT_EQ(c.slot, -1);
    EXPECT_EQ(c.retry_ns, t.burst_ms * kMs);
}

// ---- dispatch order ------------------------------------------------------------------

TEST_F(QosTest, LcWithTokensGoesFirstOldestFirst) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 10000);
    tenant(3, 300, QOS_CLASS_LC, 100, 2000, 10000);
    v.nr[1] = v.nr[2] = v.nr[3] = 4;
    v.oldest_wait_ns[2] = 1 * kMs;
    v.oldest_wait_ns[3] = 2 * kMs;
    allocate();
    now += 5 * kMs;
    EXPECT_EQ(dispatch(), 3);
    v.oldest_wait_ns[3] = 0;
    EXPECT_EQ(dispatch(), 2);
}

TEST_F(QosTest, BeTenantsShareByWeight) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_BE, 300);
    tenant(3, 300, QOS_CLASS_LC, 100, 2000, 1000);  // running: BE is metered
    v.nr[1] = v.nr[2] = 1000;
    qos_touch(&d, &d.tenants[3], now);
    allocate();
    std::map<int, int> served;
    for (int ms = 0; ms < 2000; ms++) {
        now += kMs / 10;
        for (int k = 0; k < 64; k++) {
            const int s = dispatch();
            if (s < 0)
                break;
            served[s]++;
        }
        qos_touch(&d, &d.tenants[3], now);
    }
    ASSERT_GT(served[1], 100);
    const double ratio = static_cast<double>(served[2]) / served[1];
    EXPECT_NEAR(ratio, 3.0, 0.3);
    // And together they got about the budget less the LC reservation, plus the LC's donation.
    const double seconds = 0.2;
    const double expected = static_cast<double>(d.budget) / QOS_VIO * seconds;
    EXPECT_LE(served[1] + served[2], expected * 1.15);
    EXPECT_GE(served[1] + served[2], expected * 0.8);
}

TEST_F(QosTest, OutOfTokensHoldsBackAndSaysWhenToRetry) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    qos_touch(&d, &d.tenants[2], now);
    v.nr[1] = 10;
    allocate();
    d.tenants[1].tokens = -5 * static_cast<s64>(QOS_VIO);
    qos_choice c{};
    qos_pick(&d, &t, &v, now, &c);
    EXPECT_EQ(c.slot, -1);
    ASSERT_GT(c.retry_ns, 0u);
    EXPECT_LE(c.retry_ns, t.window_ms * kMs);
    // At the retry time the bucket is positive and the tenant dispatches.
    now += c.retry_ns;
    EXPECT_EQ(dispatch(), 1);
    EXPECT_EQ(d.tenants[1].throttled_ms, c.retry_ns / kMs);
}

TEST_F(QosTest, WithoutARunningLcTenantBeIsNotHeldBack) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    qos_touch(&d, &d.tenants[2], now - 10 * t.window_ms * kMs);  // long idle
    v.nr[1] = 10;
    allocate();
    d.tenants[1].tokens = -5 * static_cast<s64>(QOS_VIO);
    for (int i = 0; i < 1000; i++)
        ASSERT_EQ(dispatch(), 1) << "request " << i;
    // Debt stays bounded, so the tenant is not locked out once LC I/O returns.
    EXPECT_GE(d.tenants[1].tokens, -static_cast<s64>(qos_bucket_cap(&d.tenants[1], &t)));
}

TEST_F(QosTest, ARequestPastMaxWaitGoesFirstWhateverItsTokens) {
    tenant(1, 100, QOS_CLASS_BE, 1);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 0);  // unmetered LC, always ready
    qos_touch(&d, &d.tenants[2], now);
    v.nr[1] = v.nr[2] = 4;
    allocate();
    d.tenants[1].tokens = -static_cast<s64>(qos_bucket_cap(&d.tenants[1], &t));
    v.oldest_wait_ns[1] = t.max_wait_ms * kMs - 1;
    EXPECT_EQ(dispatch(), 2);
    v.oldest_wait_ns[1] = t.max_wait_ms * kMs;
    qos_choice c{};
    qos_pick(&d, &t, &v, now, &c);
    EXPECT_EQ(c.slot, 1);
    EXPECT_EQ(c.pay, QOS_PAY_FREE);
    // One aged request per burst_ms: the next one waits its turn behind the LC tenant.
    EXPECT_EQ(dispatch(), 1);
    EXPECT_EQ(d.aged, 1u);
    EXPECT_EQ(dispatch(), 2);
    now += t.burst_ms * kMs;
    EXPECT_EQ(dispatch(), 1);
    EXPECT_EQ(d.aged, 2u);
}

TEST_F(QosTest, AHeldBackRequestIsKickedBeforeItAges) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    qos_touch(&d, &d.tenants[0], now);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    qos_touch(&d, &d.tenants[2], now);
    v.nr[1] = 1;
    d.tenants[1].rate = 1;  // its bucket would take ages
    d.tenants[1].tokens = -1000000;
    v.oldest_wait_ns[1] = t.max_wait_ms * kMs - 3 * kMs;
    qos_choice c{};
    qos_pick(&d, &t, &v, now, &c);
    EXPECT_EQ(c.slot, -1);
    EXPECT_EQ(c.retry_ns, 3 * kMs);
}

// Whatever the state, a waiting request is dispatched or a kick is armed within a window.
TEST_F(QosTest, SomethingWaitingIsPickedOrKicked) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 20000; round++) {
        qos_dev_init(&d, &w, &t, 42, now);
        for (int i = 1; i < 8; i++)
            tenant(i, 100 + i, rng() % 2, 1 + rng() % 10000, 2000, rng() % 3 ? 0 : rng() % 5000);
        v = qos_view{};
        for (int i = 0; i < 8; i++) {
            v.nr[i] = rng() % 3 ? 0 : 1 + rng() % 8;
            v.oldest_wait_ns[i] = v.nr[i] ? rng() % (2 * t.max_wait_ms * kMs) : 0;
            d.tenants[i].tokens = static_cast<s64>(rng() % 20000) - 15000;
            d.tenants[i].rate = rng() % 4 ? rng() % (10000 * QOS_VIO) : 0;
        }
        d.spare = rng() % 2 ? rng() % 3000 : 0;
        d.lc_last_active_ns = rng() % 2 ? now - rng() % (2 * t.window_ms * kMs) : 0;
        bool waiting = false;
        for (int i = 0; i < 8; i++)
            waiting |= v.nr[i] > 0;
        qos_choice c{};
        qos_pick(&d, &t, &v, now, &c);
        if (!waiting) {
            EXPECT_EQ(c.slot, -1);
            continue;
        }
        if (c.slot < 0) {
            ASSERT_GT(c.retry_ns, 0u) << "round " << round;
            ASSERT_LE(c.retry_ns, t.window_ms * kMs) << "round " << round;
        } else {
            ASSERT_GT(v.nr[c.slot], 0u) << "round " << round;
        }
    }
}

TEST_F(QosTest, ACompletionClockReadAfterNowStillCountsAsRecent) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    qos_touch(&d, &d.tenants[2], now + 5000);  // another CPU, a moment later
    v.nr[1] = 1;
    d.tenants[1].tokens = -5 * static_cast<s64>(QOS_VIO);
    d.tenants[1].rate = QOS_VIO;
    qos_choice c{};
    qos_pick(&d, &t, &v, now, &c);
    EXPECT_EQ(c.slot, -1) << "LC is running: BE stays metered";
}

TEST_F(QosTest, SpareTokensServeATenantOutOfItsOwn) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    qos_touch(&d, &d.tenants[2], now);
    v.nr[1] = 10;
    allocate();
    d.tenants[1].tokens = 0;
    d.spare = 3 * QOS_VIO;
    const u64 vtime = d.tenants[1].vtime;
    EXPECT_EQ(dispatch(), 1);
    EXPECT_EQ(d.spare, 2 * QOS_VIO);
    EXPECT_EQ(d.tenants[1].tokens, 0);
    // Paid by the spare bucket, it is the tenant's service all the same.
    EXPECT_EQ(d.tenants[1].vtime, vtime + QOS_VIO);
    EXPECT_EQ(d.window_used, QOS_VIO);
    EXPECT_EQ(d.tenants[1].charged_vio, 1u);
    // Less than a 4k read in the spare bucket releases nothing.
    d.spare = QOS_VIO - 1;
    EXPECT_EQ(dispatch(), -1);
}

TEST_F(QosTest, DebtNeverExceedsTheBucketDepth) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    v.nr[1] = 1;
    allocate();
    d.tenants[1].tokens = 1;
    EXPECT_EQ(dispatch(64u << 20, true), 1);  // 64 MiB at once
    EXPECT_EQ(d.tenants[1].tokens, -static_cast<s64>(qos_bucket_cap(&d.tenants[1], &t)));
}

TEST_F(QosTest, AClaimedSlotStartsWithARateAndOneRead) {
    qos_slot_claim(&d.tenants[5], 500, QOS_CLASS_BE, 100, 0, 0, 12345, d.vclock, now);
    EXPECT_EQ(d.tenants[5].rate, 12345u);
    EXPECT_EQ(d.tenants[5].tokens, static_cast<s64>(QOS_VIO));
    qos_slot_claim(&d.tenants[6], 600, QOS_CLASS_BE, 1u << 30, 0, 0, 0, d.vclock, now);
    EXPECT_EQ(d.tenants[6].weight, static_cast<u32>(QOS_MAX_WEIGHT));
}

// insert's shortcut for a request alone on the device decides as dispatch would.
TEST_F(QosTest, PickAloneAgreesWithPick) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_LC, 100, 2000, 1000);
    tenant(3, 300, QOS_CLASS_LC, 100, 2000, 0);
    allocate();
    const s64 tokens[] = {-4096, 0, 1, 4096};
    const u64 spare[] = {0, 1024};
    const u64 lc_age[] = {0, 1000 * kMs};
    for (int slot = 0; slot < 4; slot++)
        for (s64 tk : tokens)
            for (u64 sp : spare)
                for (u64 age : lc_age) {
                    qos_dev a = d;
                    a.tenants[slot].tokens = tk;
                    a.tenants[slot].last_refill_ns = now;
                    a.spare = sp;
                    a.lc_last_active_ns = now - age;
                    qos_dev b = a;
                    qos_view one{};
                    one.nr[slot] = 1;
                    qos_choice ca{}, cb{};
                    qos_pick(&a, &t, &one, now, &ca);
                    qos_pick_alone(&b, &t, slot, now, &cb);
                    EXPECT_EQ(ca.slot, cb.slot) << slot << " " << tk << " " << sp << " " << age;
                    EXPECT_EQ(ca.pay, cb.pay);
                    EXPECT_EQ(ca.retry_ns, cb.retry_ns);
                }
}

TEST_F(QosTest, ANewlyBusyTenantStartsAtTheVirtualClock) {
    tenant(1, 100, QOS_CLASS_BE, 100);
    tenant(2, 200, QOS_CLASS_BE, 100);
    v.nr[1] = 100;
    for (int i = 0; i < 50; i++)
        ASSERT_EQ(dispatch(), 1);
    qos_wake(&d, 2, now);
    EXPECT_EQ(d.tenants[2].vtime, d.vclock);
    v.nr[2] = 100;
    // Now they alternate instead of tenant 2 catching up on 50 requests.
    int second = 0;
    for (int i = 0; i < 10; i++)
        second += dispatch() == 2;
    EXPECT_GE(second, 4);
    EXPECT_LE(second, 6);
}

// ---- feedback ---------------------------------------------------------------------------

TEST_F(QosTest, P99FromTheHistogram) {
    u32 count[QOS_LAT_BUCKETS] = {};
    EXPECT_EQ(qos_p99_us(count), 0u);
    count[qos_lat_bucket(100 * 1000)] = 990;
    count[qos_lat_bucket(5000 * 1000)] = 10;
    const u32 p99 = qos_p99_us(count);
    EXPECT_GE(p99, 100u);
    EXPECT_LE(p99, 113u);
    count[qos_lat_bucket(5000 * 1000)] = 11;
    EXPECT_GE(qos_p99_us(count), 5000u);
    EXPECT_LE(qos_p99_us(count), 5000u * 9 / 8 + 1);
    // Beyond the range: the last bucket.
    u32 far[QOS_LAT_BUCKETS] = {};
    far[qos_lat_bucket(100ull * 1000 * 1000 * 1000)] = 1;
    EXPECT_GE(qos_p99_us(far), 1u << 20);
}

// A device whose 4k p99 grows with the load: flat to 60% of the model's capacity, then steep.
u32 simulated_p99_us(u64 budget_viops, u32 capacity) {
    const double load = static_cast<double>(budget_viops) / capacity;
    if (load <= 0.6)
        return 200;
    return static_cast<u32>(200 + (load - 0.6) * 20000);
}

TEST_F(QosTest, FeedbackConvergesBelowTheTargetAndStaysInABand) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    std::vector<u64> budgets;
    for (int win = 0; win < 400; win++) {
        const u64 viops = d.budget / QOS_VIO;
        d.tenants[1].p99_us = simulated_p99_us(viops, w.device_viops);
        d.window_used = d.budget / 10;  // BE keeps the device busy: all of the budget
        qos_window(&d, &w, &t, t.window_ms * kMs);
        budgets.push_back(d.budget / QOS_VIO);
    }
    // Over the target above 69% of capacity (p99 2000 us at load 0.69).
    const auto tail = std::vector<u64>(budgets.end() - 200, budgets.end());
    const u64 lo = *std::min_element(tail.begin(), tail.end());
    const u64 hi = *std::max_element(tail.begin(), tail.end());
    EXPECT_LE(hi, 69000u * 105 / 100) << "never far past the point where the target is missed";
    EXPECT_GE(lo, 69000u * 70 / 100) << "never cut far below it";
    // p99 within target most of the time.
    int within = 0;
    for (u64 b : tail)
        within += simulated_p99_us(b, w.device_viops) <= 2000;
    EXPECT_GE(within, 150);
}

TEST_F(QosTest, FeedbackRecoversAfterTheLoadDrops) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    for (int win = 0; win < 40; win++) {
        // Overload: the device serves a twentieth of the model's rate. Each cut helps, but
        // not enough: the budget reaches the floor, and nothing undoes those cuts.
        d.tenants[1].p99_us = simulated_p99_us(d.budget / QOS_VIO, w.device_viops / 20);
        d.window_used = d.budget / 10;
        qos_window(&d, &w, &t, t.window_ms * kMs);
    }
    EXPECT_EQ(d.budget, qos_budget_floor(&w, &t));
    for (int win = 0; win < 200; win++) {
        d.tenants[1].p99_us = 300;
        d.window_used = d.budget / 10;
        qos_window(&d, &w, &t, t.window_ms * kMs);
    }
    EXPECT_EQ(d.budget, qos_budget_ceiling(&w));
}

// A miss the BE tenants do not cause (the LC tenant's own load, requests waiting for a tag
// before qos sees them): cuts are tried, undone, and tried again after a growing backoff.
TEST_F(QosTest, FutileCutsAreUndoneAndRetriedAfterABackoff) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    const u64 start = d.budget;
    int below = 0, streaks_seen = 0;
    for (int win = 0; win < 400; win++) {
        d.tenants[1].p99_us = 10000;  // whatever the budget
        d.window_used = d.budget / 10;
        const u64 futile_before = d.futile;
        qos_window(&d, &w, &t, t.window_ms * kMs);
        below += d.budget < start;
        if (d.futile != futile_before) {
            streaks_seen++;
            EXPECT_EQ(d.budget, start) << "window " << win << ": the futile cuts are undone";
        }
    }
    EXPECT_EQ(static_cast<u64>(streaks_seen), d.futile);
    // Backoffs of 10, 20, 40, 80 and 160 windows after streaks of 3 cuts and a checkpoint.
    EXPECT_EQ(d.futile, 6u);
    EXPECT_EQ(d.futile_backoff, static_cast<u32>(QOS_FUTILE_BACKOFF_MAX));
    EXPECT_EQ(d.cuts, 3 * d.futile);
    EXPECT_LE(below, 3 * static_cast<int>(d.futile) + 3) << "below the start only while trying";
    EXPECT_GT(d.budget, qos_budget_floor(&w, &t));
}

TEST_F(QosTest, CutsThatHelpAreNotUndone) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    for (int win = 0; win < 400; win++) {
        d.tenants[1].p99_us = simulated_p99_us(d.budget / QOS_VIO, w.device_viops);
        d.window_used = d.budget / 10;
        qos_window(&d, &w, &t, t.window_ms * kMs);
    }
    EXPECT_GT(d.cuts, 0u);
    EXPECT_EQ(d.futile, 0u);
}

TEST_F(QosTest, WithoutTheFutilityCheckEveryMissCuts) {
    t.futile_cuts = 0;
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    for (int win = 0; win < 20; win++) {
        d.tenants[1].p99_us = 10000;
        d.window_used = d.budget / 10;
        EXPECT_EQ(qos_window(&d, &w, &t, t.window_ms * kMs), QOS_CUT);
    }
    EXPECT_EQ(d.budget, qos_budget_floor(&w, &t));
    EXPECT_EQ(d.futile, 0u);
}

TEST_F(QosTest, AMetTargetEndsTheStreakAndAComfortableOneTheBackoff) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    auto window = [&](u32 p99) {
        d.tenants[1].p99_us = p99;
        d.window_used = d.budget / 10 / 2;  // half used: no raise
        return qos_window(&d, &w, &t, t.window_ms * kMs);
    };
    // Two cuts, a window within the target: the next misses start a new streak.
    EXPECT_EQ(window(10000), QOS_CUT);
    EXPECT_EQ(window(10000), QOS_CUT);
    const u64 after_two = d.budget;
    EXPECT_EQ(window(1900), QOS_HOLD);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(window(10000), QOS_CUT);
    EXPECT_EQ(window(10000), QOS_HOLD);  // futile: back to where this streak began
    EXPECT_EQ(d.budget, after_two);
    EXPECT_EQ(d.futile_left, static_cast<u32>(QOS_FUTILE_BACKOFF_MIN));
    // Misses in the backoff cut nothing; a window without a p99 neither ends it nor counts as met.
    EXPECT_EQ(window(10000), QOS_HOLD);
    d.tenants[1].p99_us = 0;
    qos_window(&d, &w, &t, t.window_ms * kMs);
    EXPECT_EQ(d.futile_left, static_cast<u32>(QOS_FUTILE_BACKOFF_MIN) - 2);
    EXPECT_EQ(d.futile_backoff, static_cast<u32>(QOS_FUTILE_BACKOFF_MIN));
    // Comfortable: the next futile streak backs off from the minimum again, not twice it.
    EXPECT_EQ(window(300), QOS_HOLD);
    EXPECT_EQ(d.futile_backoff, 0u);
    while (d.futile_left)
        window(300);
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(window(10000), QOS_CUT);
    EXPECT_EQ(window(10000), QOS_HOLD);
    EXPECT_EQ(d.futile_backoff, static_cast<u32>(QOS_FUTILE_BACKOFF_MIN));
}

TEST_F(QosTest, TheLcReserveHoldsBeRequestsOnlyWhileAnLcTenantRuns) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    tenant(2, 200, QOS_CLASS_BE, 100);
    qos_choice be{2, -1, QOS_PAY_OWN, 0}, lc{1, -1, QOS_PAY_OWN, 0};
    // No LC I/O yet: a full device takes BE requests.
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 4, 4, now));
    d.lc_last_active_ns = now - 10 * kMs;
    // 4 tags, reserve 1: BE may hold 3 of them, never the last.
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 4, 2, now));
    EXPECT_TRUE(qos_reserve_holds(&d, &t, &be, 4, 3, now));
    EXPECT_TRUE(qos_reserve_holds(&d, &t, &be, 4, 9, now));
    // LC requests and the default tenant's (BE) alike: only the LC ones pass.
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &lc, 4, 3, now));
    qos_choice def{QOS_DEFAULT_SLOT, -1, QOS_PAY_OWN, 0};
    EXPECT_TRUE(qos_reserve_holds(&d, &t, &def, 4, 3, now));
    // A request past max_wait_ms goes whatever the reserve.
    qos_choice aged{2, 2, QOS_PAY_FREE, 0};
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &aged, 4, 3, now));
    // A reserve that would leave BE no tag, or none at all: never held.
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 1, 1, now));
    t.lc_reserve = 4;
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 4, 0, now));
    t.lc_reserve = 0;
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 4, 4, now));
    t.lc_reserve = 2;
    EXPECT_TRUE(qos_reserve_holds(&d, &t, &be, 4, 2, now));
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 4, 1, now));
    // The LC tenant's last I/O a window ago: the device is BE's again.
    d.lc_last_active_ns = now - t.window_ms * kMs;
    EXPECT_FALSE(qos_reserve_holds(&d, &t, &be, 4, 4, now));
}

TEST_F(QosTest, ADeviceBoundAfreshStartsItsFeedbackOver) {
    d.futile = 5;
    d.futile_left = 7;
    d.streak_cuts = 2;
    d.reserve_holds = 9;
    qos_dev_init(&d, &w, &t, 42, now);
    EXPECT_EQ(d.futile, 0u);
    EXPECT_EQ(d.futile_left, 0u);
    EXPECT_EQ(d.streak_cuts, 0u);
    EXPECT_EQ(d.reserve_holds, 0u);
}

TEST_F(QosTest, AnIdleDeviceIsNotRaisedNorAMissCutTwiceAsHard) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000);
    const u64 start = d.budget;
    d.tenants[1].p99_us = 300;
    d.window_used = d.budget / 10 / 2;  // half used
    EXPECT_EQ(qos_window(&d, &w, &t, t.window_ms * kMs), QOS_HOLD);
    EXPECT_EQ(d.budget, start);
    // Between 3/4 of the target and the target: hold too.
    d.tenants[1].p99_us = 1800;
    d.window_used = d.budget / 10;
    EXPECT_EQ(qos_window(&d, &w, &t, t.window_ms * kMs), QOS_HOLD);
    d.tenants[1].p99_us = 2100;
    EXPECT_EQ(qos_window(&d, &w, &t, t.window_ms * kMs), QOS_CUT);
    EXPECT_EQ(d.budget, start - start / 4);
}

TEST_F(QosTest, ATenantHeldByItsOwnReservationDoesNotCutTheBudget) {
    tenant(1, 100, QOS_CLASS_LC, 100, 2000, 500);
    v.nr[1] = 4;
    allocate();
    d.tenants[1].tokens = -static_cast<s64>(QOS_VIO);
    qos_choice c{};
    qos_pick(&d, &t, &v, now, &c);  // waits on its own bucket
    const u64 start = d.budget;
    d.tenants[1].p99_us = 9000;
    d.window_used = d.budget / 10;
    // Not a miss; and, the tenant's p99 saying nothing of the device, like no LC tenant at all.
    EXPECT_NE(qos_window(&d, &w, &t, t.window_ms * kMs), QOS_CUT);
    EXPECT_GE(d.budget, start);
    // Judged once; next time it was not held back, and the same p99 is a miss.
    EXPECT_EQ(qos_window(&d, &w, &t, t.window_ms * kMs), QOS_CUT);
}

TEST_F(QosTest, ACutGoesToTheSafePointButNotBelowHalf) {
    tenant(1, 100, QOS_CLASS_LC, 100, 500);
    w.curve_viops[0] = 60000;
    w.curve_p99_us[0] = 400;
    const u64 start = d.budget;
    d.tenants[1].p99_us = 900;
    qos_window(&d, &w, &t, t.window_ms * kMs);
    EXPECT_EQ(d.budget, 60000 * QOS_VIO);
    w.curve_viops[0] = 1000;
    d.budget = start;
    qos_window(&d, &w, &t, t.window_ms * kMs);
    EXPECT_EQ(d.budget, start / 2);
}

TEST_F(QosTest, BeOnlyDeviceHoldsNoMissAndSustainedWritesRaiseTheirCost) {
    d.window_write_bytes = 64ull << 20;  // 640 MiB/s
    qos_window(&d, &w, &t, t.window_ms * kMs);
    EXPECT_EQ(d.write_weight, w.write_weight_max);
    qos_window(&d, &w, &t, t.window_ms * kMs);
    EXPECT_EQ(d.write_weight, 1024u);
}

// ---- slots ------------------------------------------------------------------------------

TEST_F(QosTest, SlotsFindClaimAndRunOut) {
    EXPECT_EQ(qos_find_slot(&d, 0), QOS_DEFAULT_SLOT);
    EXPECT_EQ(qos_find_slot(&d, 100), -1);
    for (int i = 1; i < QOS_NR_SLOTS; i++) {
        const int s = qos_free_slot(&d);
        ASSERT_EQ(s, i);
        tenant(s, 1000 + i, QOS_CLASS_BE, 100);
    }
    EXPECT_EQ(qos_free_slot(&d), -1);
    EXPECT_EQ(qos_find_slot(&d, 1000 + 17), 17);
    // A slot given to another tenant starts over with a new generation.
    const u32 gen = d.tenants[17].gen;
    d.tenants[17].dispatched = 5;
    tenant(17, 77, QOS_CLASS_LC, 1, 100, 0);
    EXPECT_EQ(d.tenants[17].gen, gen + 1);
    EXPECT_EQ(d.tenants[17].dispatched, 0u);
    EXPECT_EQ(d.tenants[17].cls, static_cast<u32>(QOS_CLASS_LC));
}

TEST_F(QosTest, BeSlotsIgnoreAReservation) {
    tenant(1, 100, QOS_CLASS_BE, 100, 2000, 5000);
    EXPECT_EQ(d.tenants[1].iops, 0u);
    tenant(2, 100, 7, 0);  // unknown class: BE, weight at least 1
    EXPECT_EQ(d.tenants[2].cls, static_cast<u32>(QOS_CLASS_BE));
    EXPECT_EQ(d.tenants[2].weight, 1u);
}

TEST(QosCookie, CarriesSlotAndGeneration) {
    const u64 c = QOS_COOKIE(31, 0x1ff);
    EXPECT_TRUE(QOS_COOKIE_VALID(c));
    EXPECT_EQ(QOS_COOKIE_SLOT(c), 31);
    EXPECT_EQ(QOS_COOKIE_GEN(c), 0xffu);
    EXPECT_FALSE(QOS_COOKIE_VALID(0));
    EXPECT_FALSE(QOS_COOKIE_VALID(0x4c414e4500000001ULL));  // a lanes cookie
    EXPECT_FALSE(QOS_COOKIE_VALID(QOS_COOKIE_TAG | 32));
}

} // namespace
