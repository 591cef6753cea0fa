// The SDK's plain-C headers on the host: the I/O priority helpers against the kernel's uapi
// <linux/ioprio.h>, and the request flags as host code (ufqctl, decision cores) sees them.
// tests/sdk/check-kernel-constants.sh checks the flags against the kernel source itself.
#include "ufq/ioprio.h"
#include "ufq/rq_flags.h"

#include <linux/ioprio.h>

#include <gtest/gtest.h>

namespace {

TEST(SdkIoprio, ConstantsAreTheKernels) {
    EXPECT_EQ(UFQ_IOPRIO_CLASS_SHIFT, IOPRIO_CLASS_SHIFT);
    EXPECT_EQ(UFQ_IOPRIO_CLASS_NONE, IOPRIO_CLASS_NONE);
    EXPECT_EQ(UFQ_IOPRIO_CLASS_RT, IOPRIO_CLASS_RT);
    EXPECT_EQ(UFQ_IOPRIO_CLASS_BE, IOPRIO_CLASS_BE);
    EXPECT_EQ(UFQ_IOPRIO_CLASS_IDLE, IOPRIO_CLASS_IDLE);
    EXPECT_EQ(UFQ_IOPRIO_NR_LEVELS, IOPRIO_NR_LEVELS);
    EXPECT_EQ(UFQ_IOPRIO_LEVEL_MASK, IOPRIO_LEVEL_MASK);
    EXPECT_EQ(UFQ_IOPRIO_HINT_SHIFT, IOPRIO_HINT_SHIFT);
    EXPECT_EQ(UFQ_IOPRIO_HINT_MASK, IOPRIO_HINT_MASK);
}

TEST(SdkIoprio, TakesTheKernelsEncodingApart) {
    for (unsigned cls = 0; cls < 8; ++cls) {
        for (unsigned level = 0; level < 8; ++level) {
            const u16 prio = static_cast<u16>(IOPRIO_PRIO_VALUE(cls, level));
            EXPECT_EQ(ufq_ioprio_class(prio), IOPRIO_PRIO_CLASS(prio));
            EXPECT_EQ(ufq_ioprio_level(prio), IOPRIO_PRIO_LEVEL(prio));
            EXPECT_EQ(ufq_ioprio_value(cls, level), prio);
        }
    }
    const u16 hinted = static_cast<u16>(
        IOPRIO_PRIO_VALUE_HINT(IOPRIO_CLASS_RT, 2, IOPRIO_HINT_DEV_DURATION_LIMIT_3));
    EXPECT_EQ(ufq_ioprio_class(hinted), static_cast<u32>(IOPRIO_CLASS_RT));
    EXPECT_EQ(ufq_ioprio_level(hinted), 2u);
    EXPECT_EQ(ufq_ioprio_hint(hinted), static_cast<u32>(IOPRIO_HINT_DEV_DURATION_LIMIT_3));
}

TEST(SdkIoprio, NoneAndInvalidClassesCountAsBestEffort) {
    EXPECT_EQ(ufq_ioprio_class_or_be(0), static_cast<u32>(UFQ_IOPRIO_CLASS_BE));
    EXPECT_EQ(ufq_ioprio_class_or_be(ufq_ioprio_value(IOPRIO_CLASS_INVALID, 0)),
              static_cast<u32>(UFQ_IOPRIO_CLASS_BE));
    EXPECT_EQ(ufq_ioprio_class_or_be(ufq_ioprio_value(UFQ_IOPRIO_CLASS_RT, 0)),
              static_cast<u32>(UFQ_IOPRIO_CLASS_RT));
    EXPECT_EQ(ufq_ioprio_class_or_be(ufq_ioprio_value(UFQ_IOPRIO_CLASS_IDLE, 7)),
              static_cast<u32>(UFQ_IOPRIO_CLASS_IDLE));
}

TEST(SdkRqFlags, HostEnumHasTheDocumentedBits) {
    // The values of docs/ufq-formats.md (trace column flags); 0x20 is not used.
    EXPECT_EQ(UFQ_RQ_WRITE, 0x01);
    EXPECT_EQ(UFQ_RQ_SYNC, 0x02);
    EXPECT_EQ(UFQ_RQ_META, 0x04);
    EXPECT_EQ(UFQ_RQ_PRIO, 0x08);
    EXPECT_EQ(UFQ_RQ_FUA, 0x10);
    EXPECT_EQ(UFQ_RQ_DISCARD, 0x20);
    EXPECT_EQ(UFQ_RQ_READAHEAD, 0x40);
}

} // namespace
