// The decision core of the example policy examples/ioprio (ioprio.h), on the host: the way
// docs/writing-a-policy.md says to test a policy before it meets the verifier.
#include "ioprio.h"

#include <gtest/gtest.h>

namespace {

constexpr u64 kMs = 1000000;

struct IoprioExampleTest : testing::Test {
    iop_tunables t{};
    iop_view v{};

    void SetUp() override { iop_tunables_default(&t); }

    void wait(u32 q, u32 nr, u64 oldest_ns) {
        v.nr[q] = nr;
        v.oldest_wait_ns[q] = oldest_ns;
    }
};

TEST_F(IoprioExampleTest, ClassesMapToQueuesAndLevelsToKeys) {
    EXPECT_EQ(iop_queue(ufq_ioprio_value(UFQ_IOPRIO_CLASS_RT, 3)), IOP_RT);
    EXPECT_EQ(iop_queue(ufq_ioprio_value(UFQ_IOPRIO_CLASS_BE, 4)), IOP_BE);
    EXPECT_EQ(iop_queue(ufq_ioprio_value(UFQ_IOPRIO_CLASS_IDLE, 0)), IOP_IDLE);
    // No class set, or an invalid one: best effort, as the block layer treats it.
    EXPECT_EQ(iop_queue(0), IOP_BE);
    EXPECT_EQ(iop_queue(ufq_ioprio_value(7, 0)), IOP_BE);
    EXPECT_EQ(iop_key(ufq_ioprio_value(UFQ_IOPRIO_CLASS_RT, 3)), 3u);
    EXPECT_EQ(iop_key(ufq_ioprio_value(UFQ_IOPRIO_CLASS_BE, 7)), 7u);
}

TEST_F(IoprioExampleTest, NothingWaitingDispatchesNothing) {
    EXPECT_EQ(iop_choose(&t, &v).queue, -1);
}

TEST_F(IoprioExampleTest, RealTimeBeforeBestEffortBeforeIdle) {
    wait(IOP_RT, 1, 1 * kMs);
    wait(IOP_BE, 5, 100 * kMs);
    wait(IOP_IDLE, 5, 100 * kMs);
    iop_choice c = iop_choose(&t, &v);
    EXPECT_EQ(c.queue, IOP_RT);
    EXPECT_FALSE(c.oldest);
    v.nr[IOP_RT] = 0;
    EXPECT_EQ(iop_choose(&t, &v).queue, IOP_BE);
    v.nr[IOP_BE] = 0;
    EXPECT_EQ(iop_choose(&t, &v).queue, IOP_IDLE);
}

TEST_F(IoprioExampleTest, AnExpiredBestEffortRequestGoesBeforeRealTime) {
    wait(IOP_RT, 8, 1 * kMs);
    wait(IOP_BE, 1, (IOP_DEFAULT_BE_EXPIRE_MS + 1) * kMs);
    const iop_choice c = iop_choose(&t, &v);
    EXPECT_EQ(c.queue, IOP_BE);
    EXPECT_TRUE(c.oldest);
    // Exactly at the expiry time it still waits.
    v.oldest_wait_ns[IOP_BE] = IOP_DEFAULT_BE_EXPIRE_MS * kMs;
    EXPECT_EQ(iop_choose(&t, &v).queue, IOP_RT);
}

TEST_F(IoprioExampleTest, AnExpiredIdleRequestGoesFirstToo) {
    wait(IOP_RT, 8, 1 * kMs);
    wait(IOP_BE, 8, 10 * kMs);
    wait(IOP_IDLE, 1, (IOP_DEFAULT_IDLE_EXPIRE_MS + 1) * kMs);
    const iop_choice c = iop_choose(&t, &v);
    EXPECT_EQ(c.queue, IOP_IDLE);
    EXPECT_TRUE(c.oldest);
}

TEST_F(IoprioExampleTest, WhenBothExpiredTheLongerStarvedGoesFirst) {
    t.be_expire_ms = 100;
    t.idle_expire_ms = 100;
    wait(IOP_BE, 1, 300 * kMs);
    wait(IOP_IDLE, 1, 200 * kMs);
    EXPECT_EQ(iop_choose(&t, &v).queue, IOP_BE);
    v.oldest_wait_ns[IOP_IDLE] = 400 * kMs;
    EXPECT_EQ(iop_choose(&t, &v).queue, IOP_IDLE);
}

TEST_F(IoprioExampleTest, AnEmptyQueueNeverExpires) {
    // ufq_bpf_queue_oldest_wait_ns() is 0 for an empty queue, but the core checks nr as well.
    wait(IOP_BE, 0, 10000 * kMs);
    wait(IOP_IDLE, 1, 1 * kMs);
    EXPECT_EQ(iop_choose(&t, &v).queue, IOP_IDLE);
    EXPECT_FALSE(iop_choose(&t, &v).oldest);
}

} // namespace
