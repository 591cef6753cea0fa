#include "ufq/scheduler.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "fake_sysfs.hpp"

namespace ufq::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// --- parse_scheduler -------------------------------------------------------------------------

TEST(ParseSchedulerTest, ActiveIsTheBracketedOne) {
    const auto state = parse_scheduler("none [mq-deadline] kyber bfq ufq");
    ASSERT_TRUE(state);
    EXPECT_THAT(state->available, ElementsAre("none", "mq-deadline", "kyber", "bfq", "ufq"));
    EXPECT_EQ(state->active, "mq-deadline");
    EXPECT_TRUE(state->offers("ufq"));
    EXPECT_FALSE(state->offers("cfq"));
    EXPECT_TRUE(state->elevator_capable);
}

TEST(ParseSchedulerTest, BracketedFirstAndLast) {
    EXPECT_EQ(parse_scheduler("[none] mq-deadline")->active, "none");
    EXPECT_EQ(parse_scheduler("none mq-deadline [ufq]")->active, "ufq");
}

TEST(ParseSchedulerTest, BareNoneMeansNoElevatorPossible) {
    const auto state = parse_scheduler("none\n");
    ASSERT_TRUE(state);
    EXPECT_THAT(state->available, ElementsAre("none"));
    EXPECT_EQ(state->active, "none");
    EXPECT_FALSE(state->elevator_capable);
}

// A request queue on a kernel built without any elevator: it could have one.
TEST(ParseSchedulerTest, BracketedNoneAloneIsElevatorCapable) {
    const auto state = parse_scheduler("[none]");
    ASSERT_TRUE(state);
    EXPECT_THAT(state->available, ElementsAre("none"));
    EXPECT_EQ(state->active, "none");
    EXPECT_TRUE(state->elevator_capable);
}

TEST(ParseSchedulerTest, ToleratesWhitespace) {
    const auto state = parse_scheduler("  none \t [kyber]\tbfq  \n");
    ASSERT_TRUE(state);
    EXPECT_THAT(state->available, ElementsAre("none", "kyber", "bfq"));
    EXPECT_EQ(state->active, "kyber");
}

TEST(ParseSchedulerTest, RejectsWhatIsNoSchedulerList) {
    for (const std::string_view text : {"", "   \n", "mq-deadline kyber", "[none] [kyber]", "[]",
                                        "none [kyber", "[[none]]", "none [ kyber ]"}) {
        EXPECT_FALSE(parse_scheduler(text)) << "'" << text << "'";
    }
}

// --- read_scheduler / set_scheduler ----------------------------------------------------------

class SchedulerTest : public ::testing::Test {
protected:
    const BlockDevice vda{"vda", 254, 0, {}};
    FakeSysfs fake;
};

TEST_F(SchedulerTest, ReadsTheDisksAttribute) {
    fake.add_disk("vda", 254, 0, "none [mq-deadline] kyber ufq");
    const SchedulerState state = read_scheduler(vda, fake.root());
    EXPECT_THAT(state.available, ElementsAre("none", "mq-deadline", "kyber", "ufq"));
    EXPECT_EQ(state.active, "mq-deadline");
}

TEST_F(SchedulerTest, ReadingBioBasedDiskWithoutAttribute) {
    fake.add_bio_disk("zram0", 252, 0);
    const SchedulerState state = read_scheduler({"zram0", 252, 0, {}}, fake.root());
    EXPECT_THAT(state.available, ElementsAre("none"));
    EXPECT_EQ(state.active, "none");
    EXPECT_FALSE(state.elevator_capable);
}

TEST_F(SchedulerTest, ReadingUnknownDiskIsAnError) {
    EXPECT_EQ(error_message([&] { (void)read_scheduler(vda, fake.root()); }),
              "no disk 'vda' in " + (fake.root().sys / "block").string() +
                  " (see lsblk for disk names)");
}

TEST_F(SchedulerTest, ReadingGarbageIsAnError) {
    fake.add_disk("vda", 254, 0, "mq-deadline kyber");
    EXPECT_THAT(error_message([&] { (void)read_scheduler(vda, fake.root()); }),
                HasSubstr("unexpected content 'mq-deadline kyber'"));
}

TEST_F(SchedulerTest, SetWritesTheName) {
    fake.add_disk("vda", 254, 0, "none [mq-deadline] kyber ufq");
    set_scheduler(vda, "ufq", fake.root());
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "ufq");
}

TEST_F(SchedulerTest, SetLeavesAnActiveSchedulerAlone) {
    fake.add_disk("vda", 254, 0, "none [ufq] kyber");
    set_scheduler(vda, "ufq", fake.root());
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [ufq] kyber\n");
}

TEST_F(SchedulerTest, SetUnknownNameListsTheAvailableOnes) {
    fake.add_disk("vda", 254, 0, "none [mq-deadline] kyber");
    EXPECT_EQ(error_message([&] { set_scheduler(vda, "cfq", fake.root()); }),
              "'cfq' is not an I/O scheduler of vda (available: none, mq-deadline, kyber)");
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] kyber\n");
}

TEST_F(SchedulerTest, SetInvalidNameIsAnError) {
    fake.add_disk("vda", 254, 0, "none [mq-deadline] kyber");
    for (const std::string_view name : {"", "kyber bfq", "[kyber]"}) {
        EXPECT_THAT(error_message([&] { set_scheduler(vda, name, fake.root()); }),
                    HasSubstr("invalid I/O scheduler name"))
            << name;
    }
}

TEST_F(SchedulerTest, SetUfqOnKernelWithoutUfqSaysWhatToBoot) {
    fake.add_disk("vda", 254, 0, "none [mq-deadline] kyber bfq");
    const std::string message = error_message([&] { set_scheduler(vda, "ufq", fake.root()); });
    EXPECT_THAT(message, HasSubstr("the running kernel has no ufq elevator"));
    EXPECT_THAT(message, HasSubstr("none, mq-deadline, kyber, bfq"));
    EXPECT_THAT(message, HasSubstr("CONFIG_IOSCHED_UFQ"));
}

TEST_F(SchedulerTest, SetOnBioBasedDeviceSaysItCannotHaveOne) {
    fake.add_disk("dm-0", 253, 0, "none");
    fake.add_bio_disk("zram0", 252, 0);
    for (const BlockDevice& dev :
         {BlockDevice{"dm-0", 253, 0, {}}, BlockDevice{"zram0", 252, 0, {}}}) {
        EXPECT_EQ(error_message([&] { set_scheduler(dev, "ufq", fake.root()); }),
                  dev.name + " is a bio-based device and cannot use an I/O scheduler (choose a "
                             "disk that has /sys/block/<name>/queue/scheduler)");
        set_scheduler(dev, "none", fake.root()); // already so: fine
    }
}

// A real failed write: the attribute is readable but not writable by the caller. Root may write
// anything, so as root the attempt runs in a child that has dropped to nobody.
TEST_F(SchedulerTest, SetWithoutPermissionNeedsRoot) {
    fake.add_disk("vda", 254, 0, "none [mq-deadline] kyber");
    const auto file = fake.scheduler_file("vda");
    std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::group_read |
                                           std::filesystem::perms::others_read);
    const std::string expected =
        "setting the I/O scheduler of vda needs root (run as root or with sudo)";
    if (::geteuid() != 0) {
        EXPECT_EQ(error_message([&] { set_scheduler(vda, "kyber", fake.root()); }), expected);
        return;
    }
    // mkdtemp made the tree's top directory private; nobody must be able to reach the file.
    std::filesystem::permissions(
        fake.dir(), std::filesystem::perms::others_read | std::filesystem::perms::others_exec,
        std::filesystem::perm_options::add);
    const auto attempt = [&] {
        constexpr uid_t kNobody = 65534;
        if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
            std::cerr << "cannot drop privileges";
            std::_Exit(2);
        }
        try {
            set_scheduler(vda, "kyber", fake.root());
        } catch (const Error& e) {
            std::cerr << e.what();
            std::_Exit(0);
        }
        std::_Exit(1);
    };
    EXPECT_EXIT(attempt(), ::testing::ExitedWithCode(0),
                "^setting the I/O scheduler of vda needs root \\(run as root or with sudo\\)$");
    EXPECT_EQ(read_file(file), "none [mq-deadline] kyber\n");
}

// --- describe_scheduler_write_error ----------------------------------------------------------

TEST(SchedulerWriteErrorTest, PermissionErrorsNeedRoot) {
    const BlockDevice vda{"vda", 254, 0, {}};
    for (const int err : {EACCES, EPERM}) {
        EXPECT_EQ(describe_scheduler_write_error(vda, "ufq", err),
                  "setting the I/O scheduler of vda needs root (run as root or with sudo)");
    }
}

TEST(SchedulerWriteErrorTest, EachErrnoGetsItsOwnAdvice) {
    const BlockDevice vda{"vda", 254, 0, {}};
    EXPECT_THAT(describe_scheduler_write_error(vda, "ufq", EINVAL),
                HasSubstr("the kernel refused I/O scheduler 'ufq' for vda"));
    EXPECT_THAT(describe_scheduler_write_error(vda, "ufq", EBUSY), HasSubstr("try again"));
    EXPECT_THAT(describe_scheduler_write_error(vda, "ufq", EROFS), HasSubstr("read-only"));
    EXPECT_THAT(describe_scheduler_write_error(vda, "ufq", ENOMEM),
                HasSubstr("cannot set I/O scheduler 'ufq' for vda: Cannot allocate memory"));
}

} // namespace
} // namespace ufq::test
