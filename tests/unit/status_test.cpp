#include "ufq/status.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "skip.hpp"
#include "fake_sysfs.hpp"
#include "ufq/policy.hpp"

namespace ufq::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr const char* kStats =
    "inserted 10\ndispatched 9\nbio_merged 0\nrq_merged 1\nrequeued 0\ncompleted 9\n"
    "fallback 2\npolicy_errors 1\nwaiting 0\n";

TEST(CountersTest, ParsesTheKernelsFormat) {
    const Counters c = parse_counters(kStats);
    ASSERT_EQ(c.size(), 9u);
    EXPECT_THAT(c[0], Pair("inserted", 10u));
    EXPECT_EQ(counter(c, "fallback"), 2u);
    EXPECT_EQ(counter(c, "nonexistent"), 0u);
    EXPECT_THAT(error_message([] { (void)parse_counters("inserted ten\n"); }),
                HasSubstr("unexpected line 'inserted ten'"));
    EXPECT_THAT(error_message([] { (void)parse_counters("inserted\n"); }),
                HasSubstr("unexpected line"));
}

TEST(PolicyAttrTest, BracketedIsActive) {
    auto p = parse_policy_attr("none fifo [deadline]\n");
    EXPECT_EQ(p.active, "deadline");
    EXPECT_THAT(p.registered, ElementsAre("fifo", "deadline"));
    p = parse_policy_attr("[none] fifo");
    EXPECT_EQ(p.active, "none");
    EXPECT_THAT(p.registered, ElementsAre("fifo"));
    EXPECT_EQ(parse_policy_attr("[none]").registered.size(), 0u);
}

class StatusTest : public ::testing::Test {
protected:
    void SetUp() override {
        fake.add_disk("nullb0", 251, 0, "none mq-deadline [ufq]");
        fake.add_disk("vda", 254, 0, "[none] mq-deadline ufq");
        const auto dir = fake.root().sys / "block" / "nullb0" / "queue" / "iosched";
        write_file(dir / "policy", "none fifo [deadline]\n");
        write_file(dir / "state", "fallback\n");
        write_file(dir / "last_error", "watchdog: policy deadline: a request waited 1034 ms\n");
        write_file(dir / "stats", kStats);
    }
    FakeSysfs fake;
};

TEST_F(StatusTest, DeviceOnUfq) {
    const auto st = read_device_status(resolve_device("nullb0", fake.root()), fake.root());
    EXPECT_TRUE(st.on_ufq);
    EXPECT_EQ(st.policy, "deadline");
    EXPECT_EQ(st.state, "fallback");
    EXPECT_THAT(st.last_error, HasSubstr("watchdog: policy deadline"));
    EXPECT_EQ(counter(st.counters, "policy_errors"), 1u);
    const auto j = to_json(st);
    EXPECT_EQ(j["dev"], "251:0");
    EXPECT_EQ(j["stats"]["inserted"], 10);
    EXPECT_EQ(j["state"], "fallback");
}

TEST_F(StatusTest, DeviceNotOnUfq) {
    const auto st = read_device_status(resolve_device("vda", fake.root()), fake.root());
    EXPECT_FALSE(st.on_ufq);
    EXPECT_EQ(st.scheduler, "none");
    EXPECT_FALSE(to_json(st).contains("policy"));
}

TEST_F(StatusTest, ListsOnlyUfqDevices) {
    const auto devs = ufq_devices(fake.root());
    ASSERT_EQ(devs.size(), 1u);
    EXPECT_EQ(devs[0].name, "nullb0");
    EXPECT_EQ(kernel_dev(devs[0]), (251u << 20) | 0u);
}

// unbind on a device that is not on ufq says so and writes nothing.
TEST_F(StatusTest, UnbindNeedsUfq) {
    UFQ_SKIP_UNLESS_ROOT();
    Paths paths;
    paths.sys = fake.root();
    paths.state = fake.dir() / "run";
    EXPECT_THAT(error_message([&] { unbind_device(resolve_device("vda", fake.root()), paths); }),
                HasSubstr("vda does not use the ufq elevator (its scheduler is none)"));
    unbind_device(resolve_device("nullb0", fake.root()), paths);
    EXPECT_EQ(read_file(fake.root().sys / "block" / "nullb0" / "queue" / "iosched" / "policy"),
              "none");
}

} // namespace
} // namespace ufq::test
