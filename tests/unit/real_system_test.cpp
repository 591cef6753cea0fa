// The same code against the host's real /sys and /dev, to catch layouts the fake tree gets
// wrong. Skipped where the host shows no block devices (some containers).
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ufq/device.hpp"
#include "ufq/scheduler.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;

// Disks in /sys/block that also have a device node in /dev.
std::vector<std::string> host_disks() {
    std::vector<std::string> disks;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/sys/block", ec)) {
        const std::string name = entry.path().filename().string();
        struct stat st {};
        if (::stat(("/dev/" + name).c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
            disks.push_back(name);
        }
    }
    return disks;
}

TEST(RealSystemTest, NamePathAndNumberAgree) {
    const auto disks = host_disks();
    if (disks.empty()) {
        GTEST_SKIP() << "no block devices visible on this host";
    }
    for (const std::string& name : disks) {
        const BlockDevice by_name = resolve_device(name);
        EXPECT_EQ(by_name.name, name);
        EXPECT_TRUE(by_name.note.empty()) << by_name.note;

        const BlockDevice by_path = resolve_device("/dev/" + name);
        EXPECT_EQ(by_path.name, name);
        EXPECT_EQ(by_path.major, by_name.major);
        EXPECT_EQ(by_path.minor, by_name.minor);

        const BlockDevice by_number =
            resolve_device(std::to_string(by_name.major) + ":" + std::to_string(by_name.minor));
        EXPECT_EQ(by_number.name, name);
    }
}

TEST(RealSystemTest, SchedulerOfEveryDiskParses) {
    const auto disks = host_disks();
    if (disks.empty()) {
        GTEST_SKIP() << "no block devices visible on this host";
    }
    for (const std::string& name : disks) {
        const SchedulerState state = read_scheduler(resolve_device(name));
        EXPECT_FALSE(state.available.empty()) << name;
        EXPECT_TRUE(state.offers(state.active)) << name << " active " << state.active;
    }
}

} // namespace
} // namespace ufq::test
