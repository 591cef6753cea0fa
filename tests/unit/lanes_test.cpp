// The lanes policy's decision core (policies/lanes.h), on the host.
#include "lanes.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

constexpr u64 kMs = 1000000;

// A window in which every dispatched read also completed.
lanes_window window(u64 reads, u64 writes, u64 wait_us, u64 service_us) {
    lanes_window w{};
    w.reads = reads;
    w.writes = writes;
    w.reads_completed = reads;
    w.read_wait_ns = reads * wait_us * 1000;
    w.read_service_ns = reads * service_us * 1000;
    return w;
}

struct LanesTest : testing::Test {
    lanes_tunables t{};
    lanes_dev d{};
    lanes_view v{};

    void SetUp() override {
        lanes_tunables_default(&t);
        lanes_dev_init(&d, &t, 0);
    }

    // One dispatch as lanes.bpf.c makes it; returns the lane, -1 for none. Like the kernel's
    // queues, a lane gives up a request whenever it holds one; `drain` takes it off the view.
    int dispatch(bool drain = false) {
        lanes_choice p{};
        lanes_pick(&d, &t, &v, &p);
        if (p.lane < 0)
            return -1;
        lanes_dispatched(&d, &p, &v);
        if (drain)
            --v.nr[p.lane];
        last = p;
        return p.lane;
    }

    // The lanes of the next n dispatches, as a string of 'R' and 'W'.
    std::string run(int n) {
        std::string out;
        for (int i = 0; i < n; ++i) {
            const int lane = dispatch();
            out += lane == LANE_READ ? 'R' : lane == LANE_WRITE ? 'W' : '-';
        }
        return out;
    }

    lanes_choice last{};
};

// ---- classification ----------------------------------------------------------------------

TEST(LanesClassify, EveryFlagCombination) {
    const u64 flags[] = {UFQ_RQ_WRITE, UFQ_RQ_SYNC, UFQ_RQ_META, UFQ_RQ_PRIO,
                         UFQ_RQ_FUA,   UFQ_RQ_DISCARD, UFQ_RQ_READAHEAD};
    for (unsigned mask = 0; mask < (1u << std::size(flags)); ++mask) {
        u64 f = 0;
        for (unsigned i = 0; i < std::size(flags); ++i)
            if (mask & (1u << i))
                f |= flags[i];
        for (const u32 bytes : {512u, 4096u, 4097u, 65536u}) {
            u32 want;
            if (f & UFQ_RQ_DISCARD)
                want = LANES_CLASS_WRITE;
            else if (!(f & UFQ_RQ_WRITE) || (f & (UFQ_RQ_META | UFQ_RQ_PRIO)))
                want = LANES_CLASS_READ;
            else if (bytes <= 4096)
                want = LANES_CLASS_SMALL_WRITE;
            else
                want = LANES_CLASS_WRITE;
            EXPECT_EQ(lanes_classify(f, bytes), want) << "flags " << f << " bytes " << bytes;
        }
    }
}

TEST(LanesClassify, LanesAndDelaysFollowTheClass) {
    EXPECT_EQ(lanes_lane_of(LANES_CLASS_READ), LANE_READ);
    EXPECT_EQ(lanes_lane_of(LANES_CLASS_SMALL_WRITE), LANE_READ);
    EXPECT_EQ(lanes_lane_of(LANES_CLASS_WRITE), LANE_WRITE);
    EXPECT_EQ(lanes_delay_ns(LANES_CLASS_READ), 0u);
    EXPECT_EQ(lanes_delay_ns(LANES_CLASS_SMALL_WRITE), 2 * kMs);
    EXPECT_EQ(lanes_delay_ns(LANES_CLASS_WRITE), 2000 * kMs);
}

// ---- keys --------------------------------------------------------------------------------

TEST(LanesKey, GroupsByQuantisedDeadlineThenSector) {
    const u32 window = 8 * kMs;
    // Same window: ordered by sector, whatever the arrival order.
    EXPECT_LT(lanes_key(1 * kMs, 0, window, 800), lanes_key(7 * kMs, 0, window, 900));
    EXPECT_LT(lanes_key(7 * kMs, 0, window, 800), lanes_key(1 * kMs, 0, window, 900));
    // A later window goes after, whatever its sector.
    EXPECT_LT(lanes_key(7 * kMs, 0, window, 1 << 30), lanes_key(9 * kMs, 0, window, 0));
    // Sectors within 4 KiB share a key: FIFO among them (the kernel queue's tie rule).
    EXPECT_EQ(lanes_key(0, 0, window, 8), lanes_key(0, 0, window, 15));
}

TEST(LanesKey, SaturatesInsteadOfWrapping) {
    const u64 far = ~0ULL / 2;
    EXPECT_EQ(lanes_key(far, 0, 100000, 0) >> LANES_POS_BITS, LANES_GROUP_MAX);
    EXPECT_EQ(lanes_key(0, 0, 100000, ~0ULL) & LANES_POS_MAX, LANES_POS_MAX);
    // Deadlines before the epoch are group 0; a zero window is not a division by zero.
    EXPECT_EQ(lanes_key(5, 10, 8 * kMs, 0), 0u);
    EXPECT_EQ(lanes_key(3, 0, 0, 0) >> LANES_POS_BITS, 3u);
    // Monotonic in the deadline up to saturation.
    u64 prev = 0;
    for (u64 dl = 0; dl < 64 * 8 * kMs; dl += kMs) {
        const u64 k = lanes_key(dl, 0, 8 * kMs, 0);
        EXPECT_GE(k, prev);
        prev = k;
    }
}

TEST_F(LanesTest, AnEmptyLaneStartsItsGroupsAnew) {
    const u64 now = 5000 * kMs;
    // Empty read lane: epoch moves to now, a read arriving now is group 0.
    EXPECT_EQ(lanes_insert_key(&d, &t, LANES_CLASS_READ, 16, now, 0, now), 2u);
    EXPECT_EQ(d.epoch_ns[LANE_READ], now);
    // Not empty: the epoch stays; a small write 1 ms later is due at +3 ms: same group.
    EXPECT_EQ(lanes_insert_key(&d, &t, LANES_CLASS_SMALL_WRITE, 8, now + kMs, 1, now + kMs),
              1u);
    // A write lands in the write lane, 2 s later: group 250 of its own epoch.
    const u64 k = lanes_insert_key(&d, &t, LANES_CLASS_WRITE, 0, now, 0, now);
    EXPECT_EQ(k >> LANES_POS_BITS, 2000 / 8);
    EXPECT_EQ(d.epoch_ns[LANE_WRITE], now);
    EXPECT_EQ(d.epoch_ns[LANE_READ], now);
}

// ---- dispatch ----------------------------------------------------------------------------

TEST_F(LanesTest, NothingWaitingDispatchesNothing) { EXPECT_EQ(dispatch(), -1); }

TEST_F(LanesTest, OneLaneAloneRunsWithoutEnd) {
    v.nr[LANE_WRITE] = 1000;
    EXPECT_EQ(run(100), std::string(100, 'W'));
    v = {};
    v.nr[LANE_READ] = 1000;
    EXPECT_EQ(run(100), std::string(100, 'R'));
}

TEST_F(LanesTest, ReadsFirstThenWritesAfterTheStarvationBound) {
    v.nr[LANE_READ] = 1000;
    v.nr[LANE_WRITE] = 1000;
    // Read batch of 16, a second one cut at 20 reads over waiting writes, then writes until 5
    // went while reads waited: 20 reads, 5 writes, and again.
    const std::string cycle = std::string(20, 'R') + std::string(5, 'W');
    EXPECT_EQ(run(75), cycle + cycle + cycle);
}

TEST_F(LanesTest, WritesStarvedCountsReadBatches) {
    // With a starvation bound out of the way, writes_starved = 2 read batches of 16 go before
    // a write batch (cut after 5 writes by the waiting reads).
    d.starvation_max_write = 1000;
    v.nr[LANE_READ] = 1000;
    v.nr[LANE_WRITE] = 1000;
    const std::string cycle = std::string(32, 'R') + std::string(5, 'W');
    EXPECT_EQ(run(74), cycle + cycle);
}

TEST_F(LanesTest, AReadArrivingInAWriteBatchWaitsForStarvationMaxReadWrites) {
    v.nr[LANE_READ] = 1;
    v.nr[LANE_WRITE] = 1000;
    EXPECT_EQ(dispatch(true), LANE_READ);
    EXPECT_EQ(dispatch(true), LANE_WRITE); // the read lane is empty: writes run
    v.nr[LANE_READ] = 1;
    EXPECT_EQ(run(6), "WWWWWR");
}

TEST_F(LanesTest, ZeroWritesStarvedStartsWithWrites) {
    // As in mq-deadline, a new batch goes to waiting writes; waiting reads cut it after 5.
    t.writes_starved = 0;
    v.nr[LANE_READ] = 1000;
    v.nr[LANE_WRITE] = 1000;
    const std::string cycle = std::string(5, 'W') + std::string(16, 'R');
    EXPECT_EQ(run(42), cycle + cycle);
}

TEST_F(LanesTest, BatchSizesAreKept) {
    t.starvation_max_read = 1000;
    d.starvation_max_write = 1000;
    t.batch_max_write = 3;
    d.batch_max_read = 4;
    t.writes_starved = 1;
    v.nr[LANE_READ] = 1000;
    v.nr[LANE_WRITE] = 1000;
    EXPECT_EQ(run(14), "RRRRWWWRRRRWWW");
}

TEST_F(LanesTest, AnExpiredWriteGoesFirstFromTheOldest) {
    v.nr[LANE_READ] = 1000;
    v.nr[LANE_WRITE] = 10;
    EXPECT_EQ(dispatch(), LANE_READ);
    v.oldest_wait_ns[LANE_WRITE] = 2000 * kMs;
    EXPECT_EQ(dispatch(), LANE_WRITE);
    EXPECT_EQ(last.from, LANES_FROM_OLDEST);
    EXPECT_TRUE(last.new_batch);
    EXPECT_EQ(d.expired_writes, 1u);
    v.oldest_wait_ns[LANE_WRITE] = 0;
    EXPECT_EQ(dispatch(), LANE_WRITE); // the batch goes on by key
    EXPECT_EQ(last.from, LANES_FROM_KEY);
}

TEST_F(LanesTest, ExpiredWritesDoNotStarveReads) {
    // A write backlog that stays older than 2 s: writes go first, but waiting reads still get
    // a turn after starvation_max_read writes.
    v.nr[LANE_READ] = 100;
    v.nr[LANE_WRITE] = 1000;
    v.oldest_wait_ns[LANE_WRITE] = 3000 * kMs;
    EXPECT_EQ(run(18), "WWWWWRWWWWWRWWWWWR");
    EXPECT_EQ(last.from, LANES_FROM_KEY); // the read
    dispatch();
    EXPECT_EQ(last.from, LANES_FROM_OLDEST);
    EXPECT_TRUE(last.new_batch);
    dispatch();
    EXPECT_EQ(last.from, LANES_FROM_OLDEST);
    EXPECT_FALSE(last.new_batch) << "an expired write after an expired write goes on the batch";
}

TEST_F(LanesTest, AReadWaiting500msEndsAWriteBatch) {
    v.nr[LANE_WRITE] = 1000;
    EXPECT_EQ(run(3), "WWW");
    v.nr[LANE_READ] = 1;
    v.oldest_wait_ns[LANE_READ] = 500 * kMs;
    EXPECT_EQ(run(1), "R");
}

TEST_F(LanesTest, OnlyWaitingWritesCountReadsAgainstThem) {
    // Reads alone for three batches, then writes arrive: the counts start then.
    v.nr[LANE_READ] = 1000;
    EXPECT_EQ(run(48), std::string(48, 'R'));
    v.nr[LANE_WRITE] = 1000;
    EXPECT_EQ(run(25), std::string(20, 'R') + std::string(5, 'W'));
}

TEST_F(LanesTest, ADirectDispatchCountsAsThePickWouldHave) {
    lanes_dispatched_alone(&d, &t, LANE_READ);
    EXPECT_EQ(d.lane, (u32)LANE_READ);
    EXPECT_EQ(d.batch, 1u);
    EXPECT_EQ(d.dispatched[LANE_READ], 1u);
    v.nr[LANE_READ] = 10;
    EXPECT_EQ(dispatch(), LANE_READ);
    EXPECT_FALSE(last.new_batch) << "the batch the direct dispatch began goes on";
    EXPECT_EQ(d.batch, 2u);
    lanes_dispatched_alone(&d, &t, LANE_WRITE);
    EXPECT_EQ(d.lane, (u32)LANE_WRITE);
    EXPECT_EQ(d.batch, 1u);
}

// ---- the read reserve ---------------------------------------------------------------------

// A device with 4 hardware tags, 3 in flight, and a read that arrived 1 ms ago: a write that
// did not expire would take the last tag.
struct LanesReserveTest : LanesTest {
    void SetUp() override {
        LanesTest::SetUp();
        t.read_reserve = 1;
        v.slots = 4;
        v.nr_in_flight = 3;
        v.now_ns = 1000 * kMs;
        lanes_arrived(&d, &t, true, v.now_ns - kMs);
    }
};

TEST_F(LanesReserveTest, AReadArrivalKeepsTheReserveUpForReadReserveUs) {
    EXPECT_EQ(d.reads_until_ns, v.now_ns - kMs + 10 * kMs);
    lanes_arrived(&d, &t, false, v.now_ns);
    EXPECT_EQ(d.reads_until_ns, v.now_ns + 9 * kMs) << "a write does not move it";
    lanes_arrived(&d, &t, true, v.now_ns - 5 * kMs);
    EXPECT_EQ(d.reads_until_ns, v.now_ns + 9 * kMs) << "a read offered again does not move it back";
    t.read_reserve_us = 1000000;
    lanes_arrived(&d, &t, true, ~0ULL - 5);
    EXPECT_EQ(d.reads_until_ns, ~0ULL) << "saturates";
}

TEST_F(LanesReserveTest, HoldsAWriteThatWouldTakeTheLastTag) {
    v.nr[LANE_WRITE] = 10;
    EXPECT_EQ(dispatch(), -1);
    lanes_choice p{};
    lanes_pick(&d, &t, &v, &p);
    EXPECT_TRUE(p.held);
    EXPECT_EQ(p.retry_ns, 9 * kMs) << "kicked again when the reserve lapses";
    // One tag more free: the write goes.
    v.nr_in_flight = 2;
    EXPECT_EQ(dispatch(), LANE_WRITE);
    EXPECT_FALSE(last.held);
}

TEST_F(LanesReserveTest, AWaitingReadGoesInsteadOfTheHeldWrite) {
    v.nr[LANE_WRITE] = 10;
    v.nr[LANE_READ] = 1;
    d.reads_over_writes = 1000; // writes starving: their turn by the bounds
    EXPECT_EQ(dispatch(true), LANE_READ);
    EXPECT_EQ(dispatch(), -1) << "no read left: the write waits";
    v.nr_in_flight = 2;
    EXPECT_EQ(dispatch(), LANE_WRITE);
}

TEST_F(LanesReserveTest, NeverHoldsAnExpiredWrite) {
    v.nr[LANE_WRITE] = 10;
    v.oldest_wait_ns[LANE_WRITE] = LANES_WRITE_DELAY_NS;
    EXPECT_EQ(dispatch(), LANE_WRITE);
    EXPECT_EQ(last.from, LANES_FROM_OLDEST);
}

TEST_F(LanesReserveTest, LapsesWithoutRecentReadsAndIsOffAtZero) {
    v.nr[LANE_WRITE] = 10;
    v.now_ns += 9 * kMs; // the last read 10 ms ago
    EXPECT_EQ(dispatch(), LANE_WRITE);
    v.now_ns -= 9 * kMs;
    t.read_reserve = 0;
    EXPECT_EQ(dispatch(), LANE_WRITE);
}

TEST_F(LanesReserveTest, NeverTakesADevicesOnlyTagsFromWrites) {
    v.nr[LANE_WRITE] = 10;
    v.slots = 1; // reserve >= slots: no reserve
    EXPECT_EQ(dispatch(), LANE_WRITE);
    v.slots = 0; // depth unknown
    EXPECT_EQ(dispatch(), LANE_WRITE);
    v.slots = 4;
    t.read_reserve = 3;
    v.nr_in_flight = 0;
    EXPECT_EQ(dispatch(), LANE_WRITE) << "a reserve of 3 of 4 leaves writes one tag";
    v.nr_in_flight = 1;
    EXPECT_EQ(dispatch(), -1);
    v.nr_in_flight = ~0U;
    EXPECT_EQ(dispatch(), -1) << "no overflow";
}

TEST_F(LanesReserveTest, ARebindKeepsTheHoldCount) {
    d.reserve_holds = 7;
    lanes_dev_rebind(&d, &t, 5);
    EXPECT_EQ(d.reserve_holds, 7u);
    EXPECT_EQ(d.reads_until_ns, 0u) << "reads are recent again only once one arrives";
}

TEST_F(LanesTest, ANewWindowAppliesOnceTheLaneDrains) {
    const u64 now = 1000 * kMs;
    t.completion_window_ns = 100000; // 100 us
    lanes_insert_key(&d, &t, LANES_CLASS_READ, 0, now, 0, now);
    const u64 k1 = lanes_insert_key(&d, &t, LANES_CLASS_READ, 0, now + 500 * kMs, 1,
                                    now + 500 * kMs);
    t.completion_window_ns = 1000000000; // 1 s, while reads wait
    const u64 k2 = lanes_insert_key(&d, &t, LANES_CLASS_READ, 0, now + 501 * kMs, 2,
                                    now + 501 * kMs);
    EXPECT_GT(k2, k1) << "a later read keyed with the new window went ahead";
    EXPECT_EQ(k2 >> LANES_POS_BITS, 5010u);
    // Drained: the new window from here on.
    lanes_insert_key(&d, &t, LANES_CLASS_READ, 0, now + 600 * kMs, 0, now + 600 * kMs);
    EXPECT_EQ(d.window_ns[LANE_READ], 1000000000u);
}

TEST_F(LanesTest, ARebindKeepsWhatTheTunerLearntOnly) {
    const auto latency = window(100, 100, 900, 500);
    lanes_tune(&d, &t, &latency);
    lanes_tune(&d, &t, &latency);
    d.dev = 42;
    d.read_batches = 3;
    d.lane = LANE_WRITE;
    d.epoch_ns[LANE_READ] = 7;
    lanes_dev_rebind(&d, &t, 99);
    EXPECT_EQ(d.dev, 42u);
    EXPECT_EQ(d.mode, LANES_MODE_LATENCY);
    EXPECT_EQ(d.batch_max_read, 24u);
    EXPECT_EQ(d.windows, 2u);
    EXPECT_EQ(d.read_batches, 0u);
    EXPECT_EQ(d.lane, LANES_NO_BATCH);
    EXPECT_EQ(d.epoch_ns[LANE_READ], 99u);
}

TEST(LanesPriority, ReadPriorityWeighsLikeNice) {
    EXPECT_EQ(lanes_read_weight(0), 1024u);
    EXPECT_EQ(lanes_read_weight(-1), 1280u);
    EXPECT_EQ(lanes_read_weight(1), 819u);
    for (int p = -20; p < 19; ++p)
        EXPECT_GT(lanes_read_weight(p), lanes_read_weight(p + 1)) << p;
    EXPECT_EQ(lanes_read_weight(-100), lanes_read_weight(-20));
    EXPECT_EQ(lanes_read_weight(100), lanes_read_weight(19));
}

TEST_F(LanesTest, ReadPriorityMovesTheBounds) {
    t.read_priority = -5;
    EXPECT_GT(lanes_reads_bound(&d, &t), 20u);
    EXPECT_EQ(lanes_writes_bound(&t), 1u);
    t.read_priority = 10;
    EXPECT_LT(lanes_reads_bound(&d, &t), 20u);
    EXPECT_GT(lanes_writes_bound(&t), 5u);
    t.read_priority = 19;
    d.starvation_max_write = 1;
    EXPECT_EQ(lanes_reads_bound(&d, &t), 1u); // never 0: a read still goes
}

// Random queue states and tunables: with both lanes busy, a lane never waits longer than its
// bound, and with either busy, dispatch never stops.
TEST_F(LanesTest, NoLaneStarves) {
    std::mt19937 rng(42);
    for (int round = 0; round < 200; ++round) {
        lanes_tunables_default(&t);
        t.read_priority = static_cast<s32>(rng() % 40) - 20;
        t.batch_max_write = 1 + rng() % 64;
        t.starvation_max_read = 1 + rng() % 64;
        t.writes_starved = rng() % 5;
        lanes_dev_init(&d, &t, 0);
        d.batch_max_read = 1 + rng() % 64;
        d.starvation_max_write = 1 + rng() % 64;
        v = {};
        const u32 read_bound = lanes_reads_bound(&d, &t);
        const u32 write_bound = lanes_writes_bound(&t);
        u32 reads_in_row = 0, writes_in_row = 0;
        for (int i = 0; i < 2000; ++i) {
            // Each lane busy most of the time, sometimes empty.
            v.nr[LANE_READ] = rng() % 8 ? 1 + rng() % 50 : 0;
            v.nr[LANE_WRITE] = rng() % 8 ? 1 + rng() % 50 : 0;
            // Expired requests now and then, in long stretches too.
            v.oldest_wait_ns[LANE_READ] = (round % 3 == 0 || rng() % 4 == 0) ? 600 * kMs : 0;
            v.oldest_wait_ns[LANE_WRITE] = (round % 2 == 0 || rng() % 4 == 0) ? 2500 * kMs : 0;
            const bool both = v.nr[LANE_READ] && v.nr[LANE_WRITE];
            if (!v.nr[LANE_READ] && !v.nr[LANE_WRITE]) {
                ASSERT_EQ(dispatch(), -1);
                continue;
            }
            const int lane = dispatch();
            ASSERT_NE(lane, -1) << "dispatched nothing with requests waiting";
            if (!both) {
                reads_in_row = writes_in_row = 0;
                continue;
            }
            if (lane == LANE_READ) {
                writes_in_row = 0;
                ASSERT_LE(++reads_in_row, read_bound)
                    << "round " << round << ": waiting writes overtaken by too many reads";
            } else {
                reads_in_row = 0;
                ASSERT_LE(++writes_in_row, write_bound)
                    << "round " << round << ": waiting reads overtaken by too many writes";
            }
        }
    }
}

// With the read reserve on: a write goes only when it leaves the reserve free or has expired;
// dispatch stops only to hold a write back; the bound on writes between reads stands; reads go
// past their bound only in place of a write the reserve held.
TEST_F(LanesTest, WithTheReserveOnWritesWaitOnlyForIt) {
    std::mt19937 rng(7);
    for (int round = 0; round < 100; ++round) {
        lanes_tunables_default(&t);
        t.read_reserve = 1 + rng() % 3;
        t.starvation_max_read = 1 + rng() % 16;
        lanes_dev_init(&d, &t, 0);
        d.starvation_max_write = 1 + rng() % 16;
        v = {};
        v.slots = 4;
        const u32 read_bound = lanes_reads_bound(&d, &t);
        const u32 write_bound = lanes_writes_bound(&t);
        u32 reads_in_row = 0, writes_in_row = 0;
        for (int i = 0; i < 2000; ++i) {
            v.now_ns = (1000 + i) * kMs;
            if (rng() % 3 == 0)
                lanes_arrived(&d, &t, rng() % 2, v.now_ns);
            v.nr_in_flight = rng() % 6;
            v.nr[LANE_READ] = rng() % 4 ? rng() % 20 : 0;
            v.nr[LANE_WRITE] = rng() % 8 ? 1 + rng() % 50 : 0;
            v.oldest_wait_ns[LANE_WRITE] = rng() % 10 == 0 ? 2500 * kMs : 0;
            const bool holds = lanes_reserve_holds(&d, &t, &v);
            const bool expired = v.oldest_wait_ns[LANE_WRITE] >= LANES_WRITE_DELAY_NS;
            const bool both = v.nr[LANE_READ] && v.nr[LANE_WRITE];
            const int lane = dispatch();
            if (!v.nr[LANE_READ] && !v.nr[LANE_WRITE]) {
                ASSERT_EQ(lane, -1);
                continue;
            }
            if (lane == -1) {
                ASSERT_TRUE(holds && !expired && !v.nr[LANE_READ])
                    << "round " << round << ": dispatched nothing without a write held back";
                lanes_choice p{};
                lanes_pick(&d, &t, &v, &p);
                ASSERT_TRUE(p.held);
                ASSERT_GT(p.retry_ns, 0u);
                continue;
            }
            if (lane == LANE_WRITE) {
                ASSERT_TRUE(!holds || expired) << "round " << round << ": a write took the reserve";
            }
            if (!both) {
                reads_in_row = writes_in_row = 0;
                continue;
            }
            if (lane == LANE_READ) {
                writes_in_row = 0;
                if (++reads_in_row > read_bound) {
                    ASSERT_TRUE(holds) << "round " << round << ": reads past their bound, no hold";
                }
            } else {
                reads_in_row = 0;
                ASSERT_LE(++writes_in_row, write_bound) << "round " << round;
            }
        }
    }
}

// ---- scheduler tags ----------------------------------------------------------------------

TEST(LanesDepth, ThreeQuartersOrAThirdInWholeBitmapWordsNeverZero) {
    EXPECT_EQ(lanes_write_depth(LANES_MODE_BALANCED, 8), 4u); // 6 would be no limit on 8 tags
    EXPECT_EQ(lanes_write_depth(LANES_MODE_BALANCED, 16), 12u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_THROUGHPUT, 64), 48u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_BALANCED, 256), 192u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_LATENCY, 64), 20u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_LATENCY, 8), 2u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_LATENCY, 2), 1u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_BALANCED, 1), 1u);
    EXPECT_EQ(lanes_write_depth(LANES_MODE_BALANCED, 0xffffffffu), 3221225468u)
        << "no overflow for huge nr_requests";
}

// ---- autotuner ---------------------------------------------------------------------------


TEST(LanesModeFor, ChoosesFromRatioAndReadLatency) {
    // Reads wait longer than they are served, with writes around: latency.
    auto w = window(100, 100, 900, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_BALANCED, &w), LANES_MODE_LATENCY);
    // Writes dominate, reads barely wait: throughput.
    w = window(10, 100, 100, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_BALANCED, &w), LANES_MODE_THROUGHPUT);
    // In between: balanced.
    w = window(100, 100, 300, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_BALANCED, &w), LANES_MODE_BALANCED);
    // One direction only: nothing to arbitrate.
    w = window(100, 0, 900, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_LATENCY, &w), LANES_MODE_BALANCED);
    // Idle, or no read completed: keep the mode.
    w = window(0, 0, 0, 0);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_THROUGHPUT, &w), LANES_MODE_THROUGHPUT);
    w = window(5, 50, 0, 0);
    w.reads_completed = 0;
    EXPECT_EQ(lanes_mode_for(LANES_MODE_LATENCY, &w), LANES_MODE_LATENCY);
}

TEST(LanesModeFor, LeavingNeedsMoreThanEntering) {
    // wait 300 us vs service 500 us: not enough to enter latency mode, not enough to leave it.
    auto w = window(100, 100, 300, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_BALANCED, &w), LANES_MODE_BALANCED);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_LATENCY, &w), LANES_MODE_LATENCY);
    // Writes dominate but reads wait more than half their service time: not throughput.
    w = window(20, 100, 300, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_BALANCED, &w), LANES_MODE_BALANCED);
    // Writes at 3 of 4 dispatches: not enough to enter throughput mode, not enough to leave.
    w = window(30, 90, 100, 500);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_BALANCED, &w), LANES_MODE_BALANCED);
    EXPECT_EQ(lanes_mode_for(LANES_MODE_THROUGHPUT, &w), LANES_MODE_THROUGHPUT);
}

TEST_F(LanesTest, AModeChangeNeedsTwoWindowsThenValuesStepToTheTargets) {
    const auto latency = window(100, 100, 900, 500);
    EXPECT_FALSE(lanes_tune(&d, &t, &latency));
    EXPECT_EQ(d.mode, LANES_MODE_BALANCED);
    EXPECT_TRUE(lanes_tune(&d, &t, &latency));
    EXPECT_EQ(d.mode, LANES_MODE_LATENCY);
    // Targets: batch_max_read 32, starvation_max_write 80; halfway each window.
    std::vector<u32> bmr{d.batch_max_read}, smw{d.starvation_max_write};
    for (int i = 0; i < 8; ++i) {
        lanes_tune(&d, &t, &latency);
        bmr.push_back(d.batch_max_read);
        smw.push_back(d.starvation_max_write);
    }
    EXPECT_EQ(bmr, (std::vector<u32>{24, 28, 30, 31, 32, 32, 32, 32, 32}));
    EXPECT_EQ(smw.back(), 80u);
    for (size_t i = 1; i < smw.size(); ++i)
        EXPECT_GE(smw[i], smw[i - 1]) << "moves one way only";
    EXPECT_EQ(d.mode_changes, 1u);
}

TEST_F(LanesTest, OneOddWindowDoesNotChangeTheMode) {
    const auto latency = window(100, 100, 900, 500);
    const auto balanced = window(100, 100, 100, 500);
    for (int i = 0; i < 10; ++i) {
        lanes_tune(&d, &t, i % 2 ? &latency : &balanced);
        EXPECT_EQ(d.mode, LANES_MODE_BALANCED) << "window " << i;
    }
}

TEST_F(LanesTest, APinnedModeTakesEffectAtOnce) {
    const auto latency = window(100, 100, 900, 500);
    lanes_tune(&d, &t, &latency); // a latency candidate, then the pin
    t.mode = LANES_MODE_THROUGHPUT;
    EXPECT_TRUE(lanes_tune(&d, &t, &latency));
    EXPECT_EQ(d.mode, LANES_MODE_THROUGHPUT);
    for (int i = 0; i < 10; ++i)
        lanes_tune(&d, &t, &latency);
    EXPECT_EQ(d.batch_max_read, 8u);
    EXPECT_EQ(d.starvation_max_write, 5u);
    // Back to auto: the window decides again (two in a row, not counting what it saw before
    // the pin).
    t.mode = LANES_MODE_AUTO;
    lanes_tune(&d, &t, &latency);
    EXPECT_EQ(d.mode, LANES_MODE_THROUGHPUT);
    lanes_tune(&d, &t, &latency);
    EXPECT_EQ(d.mode, LANES_MODE_LATENCY);
}

// Simulated time: a read-heavy phase under a write flood, then the flood stops, then writes
// alone dominate. The tuner settles in each phase within a few windows and never flaps.
TEST_F(LanesTest, TunerSettlesOnSimulatedPhases) {
    struct Phase {
        lanes_window w;
        lanes_mode mode;
    };
    const Phase phases[] = {
        {window(200, 800, 2000, 400), LANES_MODE_LATENCY},
        {window(500, 0, 50, 400), LANES_MODE_BALANCED},
        {window(20, 900, 30, 400), LANES_MODE_THROUGHPUT},
        {window(0, 0, 0, 0), LANES_MODE_THROUGHPUT}, // idle keeps it
    };
    for (const auto& ph : phases) {
        u32 changes_before = static_cast<u32>(d.mode_changes);
        for (int i = 0; i < 10; ++i)
            lanes_tune(&d, &t, &ph.w);
        EXPECT_EQ(d.mode, ph.mode);
        EXPECT_LE(d.mode_changes - changes_before, 1u) << "flapped";
        u32 bmr, smw;
        lanes_mode_targets(d.mode, &t, &bmr, &smw);
        EXPECT_EQ(d.batch_max_read, bmr);
        EXPECT_EQ(d.starvation_max_write, smw);
    }
}

TEST_F(LanesTest, AWindowIsTheDifferenceOfTheTotalsEvenAcrossAWrap) {
    d.dispatched[LANE_READ] = 7;
    d.dispatched[LANE_WRITE] = 3;
    d.reads_at_start = {~0ULL - 9, 100, 5}; // wait_ns about to wrap
    const lanes_reads now{20, 400, 9};
    lanes_window w{};
    lanes_close_window(&d, &now, 123, &w);
    EXPECT_EQ(w.reads, 7u);
    EXPECT_EQ(w.writes, 3u);
    EXPECT_EQ(w.read_wait_ns, 30u);
    EXPECT_EQ(w.read_service_ns, 300u);
    EXPECT_EQ(w.reads_completed, 4u);
    EXPECT_EQ(d.dispatched[LANE_READ], 0u);
    EXPECT_EQ(d.reads_at_start.completed, 9u);
    EXPECT_EQ(d.window_start_ns, 123u);
}

TEST(LanesTargets, StayInRange) {
    lanes_tunables t{};
    lanes_tunables_default(&t);
    t.batch_max_read = 1024;
    t.starvation_max_write = 1024;
    u32 bmr, smw;
    lanes_mode_targets(LANES_MODE_LATENCY, &t, &bmr, &smw);
    EXPECT_EQ(bmr, 1024u);
    EXPECT_EQ(smw, 1024u);
    t.batch_max_read = 1;
    t.starvation_max_write = 1;
    lanes_mode_targets(LANES_MODE_THROUGHPUT, &t, &bmr, &smw);
    EXPECT_EQ(bmr, 1u);
    EXPECT_EQ(smw, 1u);
    EXPECT_EQ(lanes_step(1, 1024), 513u);
    EXPECT_EQ(lanes_step(1024, 1), 512u);
    EXPECT_EQ(lanes_step(5, 4), 4u);
    EXPECT_EQ(lanes_step(4, 5), 5u);
}

} // namespace
