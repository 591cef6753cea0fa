#include "ufq/cgroup.hpp"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "fake_sysfs.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A throwaway directory tree standing in for a cgroup hierarchy (on the temp filesystem, not
// cgroup2): ids there are inode numbers, as on cgroupfs.
class FakeCgroupTree : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ufq-cgroup-XXXXXX";
        ASSERT_TRUE(mkdtemp(tmpl));
        root = tmpl;
    }
    void TearDown() override { fs::remove_all(root); }

    fs::path group(const fs::path& rel, std::string_view controllers) {
        fs::create_directories(root / rel);
        write_file(root / rel / "cgroup.controllers", controllers);
        return root / rel;
    }
    static std::uint64_t inode(const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0);
        return st.st_ino;
    }

    fs::path root;
};

TEST_F(FakeCgroupTree, ANonCgroupDirectoryIsRefused) {
    EXPECT_THAT(error_message([&] { (void)resolve_io_cgroup(group("lc", "io")); }),
                HasSubstr("is not on a cgroup2 filesystem, so it is not a cgroup"));
}

TEST_F(FakeCgroupTree, AMissingPathIsRefused) {
    EXPECT_THAT(error_message([&] { (void)resolve_io_cgroup(root / "nope"); }),
                HasSubstr("no such cgroup: " + (root / "nope").string() + " does not exist"));
}

TEST_F(FakeCgroupTree, TheIoControllerIsRequired) {
    check_io_controller(group("lc", "cpu io memory\n"));
    const auto be = group("parent/be", "cpu memory\n");
    EXPECT_THAT(error_message([&] { check_io_controller(be); }),
                HasSubstr("does not have the io controller, so its I/O is charged to an "
                          "ancestor"));
    EXPECT_THAT(error_message([&] { check_io_controller(be); }),
                HasSubstr("echo +io > " + (root / "parent").string() + "/cgroup.subtree_control"));
    // "iosched" or "io.max" are not "io".
    EXPECT_THAT(error_message([&] { check_io_controller(group("x", "iox")); }),
                HasSubstr("does not have the io controller"));
    fs::create_directories(root / "plain");
    EXPECT_THAT(error_message([&] { check_io_controller(root / "plain"); }),
                HasSubstr("is not a cgroup directory"));
}

TEST_F(FakeCgroupTree, PathsById) {
    const auto a = group("a", "io");
    const auto ab = group("a/b", "io");
    write_file(root / "a" / "io.max", "");
    const auto paths = cgroup_paths(root);
    EXPECT_EQ(paths.size(), 3u); // root, a, a/b; no files
    EXPECT_EQ(paths.at(inode(root)), root);
    EXPECT_EQ(paths.at(inode(a)), a);
    EXPECT_EQ(paths.at(inode(ab)), ab);
    EXPECT_EQ(cgroup_id(ab), inode(ab));
}

TEST(Cgroup2MountTest, FromProcMounts) {
    std::istringstream mounts("sysfs /sys sysfs rw 0 0\n"
                              "cgroup /sys/fs/cgroup/blkio cgroup rw,blkio 0 0\n"
                              "cgroup2 /sys/fs/cgroup/my\\040groups cgroup2 rw 0 0\n");
    EXPECT_EQ(cgroup2_mount(mounts), fs::path("/sys/fs/cgroup/my groups"));
    std::istringstream none("sysfs /sys sysfs rw 0 0\n");
    EXPECT_FALSE(cgroup2_mount(none));
}

// The mount point of a filesystem of `type` on this machine, if any.
std::optional<fs::path> mounted(const std::string& type) {
    std::ifstream mounts("/proc/self/mounts");
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream fields(line);
        std::string device, point, t;
        if (fields >> device >> point >> t && t == type)
            return fs::path(point);
    }
    return std::nullopt;
}

TEST(RealCgroupTest, CgroupV1IsNamed) {
    const auto v1 = mounted("cgroup");
    if (!v1)
        GTEST_SKIP() << "SKIPPED: no cgroup v1 hierarchy is mounted on this machine";
    EXPECT_THAT(error_message([&] { (void)resolve_io_cgroup(*v1); }),
                HasSubstr("is on a cgroup v1 hierarchy; ufq tenants are cgroup v2 groups"));
}

// On cgroupfs the id is the kernfs node id from name_to_handle_at, which equals st_ino on
// 64-bit machines.
TEST(RealCgroupTest, IdOfACgroup2Directory) {
    const auto v2 = mounted("cgroup2");
    if (!v2)
        GTEST_SKIP() << "SKIPPED: cgroup2 is not mounted on this machine";
    check_cgroup2_filesystem(*v2);
    struct stat st {};
    ASSERT_EQ(::stat(v2->c_str(), &st), 0);
    EXPECT_EQ(cgroup_id(*v2), st.st_ino);
    EXPECT_TRUE(cgroup_paths(*v2).contains(st.st_ino));
}

} // namespace
} // namespace ufq::test
