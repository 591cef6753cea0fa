// The deadline policy's decision core (policies/deadline.h), on the host.
#include "deadline.h"

#include <gtest/gtest.h>

namespace {

constexpr u64 kMs = 1000000;

struct DeadlineTest : testing::Test {
    deadline_tunables t{};
    dl_state s{};
    dl_view v{};

    void SetUp() override {
        dl_tunables_default(&t);
        dl_state_init(&s);
    }

    // Dispatch one request the way deadline.bpf.c does, given whether a request lies at or
    // after the batch position; returns the direction dispatched, -1 for none.
    int dispatch(bool request_at_pos = true) {
        if (dl_batch_continues(&s, &t, &v) && request_at_pos) {
            const int dir = static_cast<int>(s.last_dir);
            dl_dispatched(&s, dir, s.next_pos[dir] + 8, false);
            return dir;
        }
        const dl_batch b = dl_new_batch(&s, &t, &v);
        if (b.dir >= 0)
            dl_dispatched(&s, b.dir, s.next_pos[b.dir] + 8, true);
        last_start = b.start;
        return b.dir;
    }

    dl_start last_start = DL_START_AT_POS;
};

TEST_F(DeadlineTest, NothingWaitingDispatchesNothing) { EXPECT_EQ(dispatch(), -1); }

TEST_F(DeadlineTest, ReadsArePreferredOverWrites) {
    v.nr[DL_READ] = 100;
    v.nr[DL_WRITE] = 100;
    EXPECT_EQ(dispatch(), DL_READ);
}

TEST_F(DeadlineTest, ABatchRunsFifoBatchRequestsInOneDirection) {
    v.nr[DL_READ] = 100;
    v.nr[DL_WRITE] = 100;
    for (u32 i = 0; i < t.fifo_batch; ++i)
        EXPECT_EQ(dispatch(), DL_READ) << "request " << i;
    EXPECT_EQ(s.batching, t.fifo_batch);
}

TEST_F(DeadlineTest, WritesGetABatchAfterWritesStarvedReadBatches) {
    v.nr[DL_READ] = 1000;
    v.nr[DL_WRITE] = 1000;
    t.fifo_batch = 1;
    // writes_starved = 2: reads win while the counter is 0 and 1, writes on the third batch.
    EXPECT_EQ(dispatch(), DL_READ);
    EXPECT_EQ(dispatch(), DL_READ);
    EXPECT_EQ(dispatch(), DL_WRITE);
    EXPECT_EQ(s.starved, 0u);
    EXPECT_EQ(dispatch(), DL_READ);
}

TEST_F(DeadlineTest, WritesStarvedZeroAlternatesBatches) {
    v.nr[DL_READ] = 1000;
    v.nr[DL_WRITE] = 1000;
    t.fifo_batch = 1;
    t.writes_starved = 0;
    EXPECT_EQ(dispatch(), DL_WRITE);
    EXPECT_EQ(dispatch(), DL_WRITE);
}

TEST_F(DeadlineTest, WritesAloneAreDispatched) {
    v.nr[DL_WRITE] = 3;
    EXPECT_EQ(dispatch(), DL_WRITE);
    EXPECT_EQ(last_start, DL_START_AT_POS);
}

TEST_F(DeadlineTest, ABatchEndsWhenNothingLiesAhead) {
    v.nr[DL_READ] = 10;
    EXPECT_EQ(dispatch(), DL_READ);
    EXPECT_EQ(s.batching, 1u);
    // No request at or after the position: a new batch starts and counts from one.
    EXPECT_EQ(dispatch(false), DL_READ);
    EXPECT_EQ(s.batching, 1u);
}

TEST_F(DeadlineTest, AnExpiredDirectionStartsFromItsOldestRequest) {
    v.nr[DL_READ] = 5;
    v.oldest_wait_ns[DL_READ] = 499 * kMs;
    dispatch();
    EXPECT_EQ(last_start, DL_START_AT_POS);
    s.batching = t.fifo_batch; // force a new batch
    v.oldest_wait_ns[DL_READ] = 500 * kMs;
    dispatch();
    EXPECT_EQ(last_start, DL_START_OLDEST);
}

TEST_F(DeadlineTest, WriteExpiryUsesTheWriteDeadline) {
    v.nr[DL_WRITE] = 5;
    v.oldest_wait_ns[DL_WRITE] = 4999 * kMs;
    dispatch();
    EXPECT_EQ(last_start, DL_START_AT_POS);
    s.batching = t.fifo_batch;
    v.oldest_wait_ns[DL_WRITE] = 5000 * kMs;
    dispatch();
    EXPECT_EQ(last_start, DL_START_OLDEST);
}

TEST_F(DeadlineTest, ThePositionFollowsTheLastDispatch) {
    dl_dispatched(&s, DL_WRITE, 4096, true);
    EXPECT_EQ(s.next_pos[DL_WRITE], 4096u);
    EXPECT_EQ(s.next_pos[DL_READ], 0u);
    EXPECT_EQ(s.last_dir, static_cast<u32>(DL_WRITE));
}

// A request dispatched directly from insert (nothing else waiting) leaves the state exactly as
// dispatch() with that request alone in its queue would: same batch count, direction,
// position and starvation count, whether it continues the batch or starts a new one.
TEST_F(DeadlineTest, DirectDispatchAccountsLikeDispatchOfTheOnlyRequest) {
    const u32 batchings[] = {DL_NO_BATCH, 0, 1, 15, 16, 17};
    const u64 positions[] = {0, 100, 1000};
    const u64 sectors[] = {0, 99, 100, 101, 5000};
    int cases = 0, continued = 0;

    for (const u32 batching : batchings)
        for (const u32 last_dir : {0u, 1u})
            for (const u64 pos : positions)
                for (const int dir : {int{DL_READ}, int{DL_WRITE}})
                    for (const u64 sector : sectors)
                        for (const u32 starved : {0u, 1u, 5u}) {
                            dl_state general{};
                            general.next_pos[DL_READ] = pos;
                            general.next_pos[DL_WRITE] = pos + 7;
                            general.batching = batching;
                            general.last_dir = last_dir;
                            general.starved = starved;
                            dl_state direct = general;

                            // deadline.bpf.c's dispatch() with one request of dir in its queue.
                            dl_view one{};
                            one.nr[dir] = 1;
                            const u64 end = sector + 8;
                            const bool at_pos = sector >= general.next_pos[dir];
                            bool cont = false;
                            if (dl_batch_continues(&general, &t, &one) && at_pos) {
                                dl_dispatched(&general, dir, end, false);
                                cont = true;
                            } else {
                                const dl_batch b = dl_new_batch(&general, &t, &one);
                                ASSERT_EQ(b.dir, dir);
                                dl_dispatched(&general, b.dir, end, true);
                            }

                            dl_dispatched_alone(&direct, &t, dir, sector, end);
                            SCOPED_TRACE(testing::Message()
                                         << "batching " << batching << " last_dir " << last_dir
                                         << " pos " << pos << " dir " << dir << " sector "
                                         << sector << " starved " << starved);
                            EXPECT_EQ(direct.batching, general.batching);
                            EXPECT_EQ(direct.last_dir, general.last_dir);
                            EXPECT_EQ(direct.starved, general.starved);
                            EXPECT_EQ(direct.next_pos[DL_READ], general.next_pos[DL_READ]);
                            EXPECT_EQ(direct.next_pos[DL_WRITE], general.next_pos[DL_WRITE]);
                            ++cases;
                            continued += cont;
                        }
    // Both branches were exercised.
    EXPECT_GT(continued, 0);
    EXPECT_LT(continued, cases);
}

} // namespace
