#include "ufq/device.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "fake_sysfs.hpp"

namespace ufq::test {
namespace {

using ::testing::HasSubstr;

// vda (254:0) with partitions vda1 (254:1) and vda2 (254:2); dm-0 (253:0) is bio-based and
// shows a bare "none", zram0 (252:0) is bio-based with no queue/scheduler; nvme0n1 (259:0) is a
// second disk, so lookups must pick the right one.
class DeviceTest : public ::testing::Test {
protected:
    void SetUp() override {
        fake.add_disk("vda", 254, 0);
        fake.add_partition("vda", "vda1", 254, 1);
        fake.add_partition("vda", "vda2", 254, 2);
        fake.add_disk("nvme0n1", 259, 0, "[none] mq-deadline kyber ufq");
        fake.add_disk("dm-0", 253, 0, "none");
        fake.add_bio_disk("zram0", 252, 0);
    }

    BlockDevice resolve(std::string_view spec) const { return resolve_device(spec, fake.root()); }
    std::string error_for(std::string_view spec) const {
        return error_message([&] { (void)resolve(spec); });
    }

    FakeSysfs fake;
};

void expect_device(const BlockDevice& dev, std::string_view name, unsigned major, unsigned minor,
                   std::string_view note = "") {
    EXPECT_EQ(dev.name, name);
    EXPECT_EQ(dev.major, major);
    EXPECT_EQ(dev.minor, minor);
    EXPECT_EQ(dev.note, note);
}

TEST_F(DeviceTest, ResolvesKernelName) {
    expect_device(resolve("vda"), "vda", 254, 0);
    expect_device(resolve("nvme0n1"), "nvme0n1", 259, 0);
}

TEST_F(DeviceTest, IgnoresSurroundingWhitespace) {
    expect_device(resolve("  nvme0n1\n"), "nvme0n1", 259, 0);
}

TEST_F(DeviceTest, ResolvesBioBasedDeviceByName) {
    expect_device(resolve("dm-0"), "dm-0", 253, 0);
    expect_device(resolve("zram0"), "zram0", 252, 0);
    expect_device(resolve("/dev/zram0"), "zram0", 252, 0);
}

TEST_F(DeviceTest, ResolvesDevPathRelativeToDevRoot) {
    expect_device(resolve("/dev/nvme0n1"), "nvme0n1", 259, 0);
}

TEST_F(DeviceTest, ResolvesAbsolutePathInsideDevRoot) {
    expect_device(resolve((fake.root().dev / "vda").string()), "vda", 254, 0);
}

TEST_F(DeviceTest, FollowsByIdSymlink) {
    fake.add_dev_symlink("disk/by-id/virtio-serial0", "../../nvme0n1");
    expect_device(resolve("/dev/disk/by-id/virtio-serial0"), "nvme0n1", 259, 0);
}

TEST_F(DeviceTest, FollowsByPathSymlinkWithColons) {
    fake.add_dev_symlink("disk/by-path/pci-0000:00:05.0", "../../vda");
    expect_device(resolve("/dev/disk/by-path/pci-0000:00:05.0"), "vda", 254, 0);
}

TEST_F(DeviceTest, ResolvesMajMin) {
    expect_device(resolve("259:0"), "nvme0n1", 259, 0);
    expect_device(resolve("254:0"), "vda", 254, 0);
}

TEST_F(DeviceTest, PartitionNameResolvesToDiskWithNote) {
    expect_device(resolve("vda2"), "vda", 254, 0, "vda2 is a partition; using its disk vda");
}

TEST_F(DeviceTest, PartitionPathResolvesToDiskWithNote) {
    fake.add_dev_symlink("disk/by-id/virtio-serial1-part1", "../../vda1");
    expect_device(resolve("/dev/disk/by-id/virtio-serial1-part1"), "vda", 254, 0,
                  "vda1 is a partition; using its disk vda");
}

TEST_F(DeviceTest, PartitionNumberResolvesToDiskWithNote) {
    expect_device(resolve("254:1"), "vda", 254, 0, "vda1 is a partition; using its disk vda");
}

// A real device node goes by st_rdev, wherever it lives. Needs root for mknod.
TEST_F(DeviceTest, ResolvesBlockDeviceNodeByItsNumber) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "SKIPPED: mknod needs root; run the unit tests as root to cover this";
    }
    const auto node = fake.dir() / "elsewhere-node";
    ASSERT_EQ(::mknod(node.c_str(), S_IFBLK | 0600, ::makedev(254, 2)), 0);
    expect_device(resolve(node.string()), "vda", 254, 0, "vda2 is a partition; using its disk vda");
}

TEST_F(DeviceTest, EmptySpecIsAnError) {
    EXPECT_THAT(error_for(""), HasSubstr("empty device name"));
    EXPECT_THAT(error_for(" \t\n"), HasSubstr("empty device name"));
}

TEST_F(DeviceTest, UnknownNameIsAnError) {
    EXPECT_EQ(error_for("nvme9n1"), "no block device 'nvme9n1' (see lsblk for device names)");
}

TEST_F(DeviceTest, NamesThatWalkOutOfSysfsAreUnknown) {
    EXPECT_EQ(error_for(".."), "no block device '..' (see lsblk for device names)");
    EXPECT_EQ(error_for("."), "no block device '.' (see lsblk for device names)");
}

TEST_F(DeviceTest, UnknownDevPathIsAnError) {
    EXPECT_EQ(error_for("/dev/nvme9n1"),
              "no block device '/dev/nvme9n1' (see lsblk for device names)");
}

TEST_F(DeviceTest, DanglingSymlinkIsAnError) {
    fake.add_dev_symlink("disk/by-id/gone", "../../sdz");
    EXPECT_THAT(error_for("/dev/disk/by-id/gone"), HasSubstr("no block device"));
}

TEST_F(DeviceTest, UnknownMajMinIsAnError) {
    EXPECT_EQ(error_for("9:9"), "no block device with number 9:9 (see lsblk for MAJ:MIN numbers)");
}

TEST_F(DeviceTest, MalformedMajMinIsAnError) {
    for (const std::string_view spec :
         {"8:", ":0", "a:b", "8:0:1", "-1:0", "8:+1", "8 :0", "99999999999:0"}) {
        EXPECT_EQ(error_for(spec), "malformed device number '" + std::string(spec) +
                                       "' (expected MAJ:MIN, e.g. 259:0)")
            << spec;
    }
}

TEST_F(DeviceTest, FileThatIsNoDeviceIsAnError) {
    const auto file = fake.dir() / "not-a-device";
    write_file(file, "");
    EXPECT_THAT(error_for(file.string()), HasSubstr("is not a block device"));
}

TEST_F(DeviceTest, DevEntryNotNamedLikeADeviceIsAnError) {
    write_file(fake.root().dev / "stray", "");
    EXPECT_THAT(error_for("/dev/stray"), HasSubstr("'/dev/stray' is not a block device"));
}

// Against the real /dev: a character device is not a block device.
TEST(DeviceRealSystemTest, CharacterDeviceIsAnError) {
    const std::string message = error_message([] { (void)resolve_device("/dev/null"); });
    EXPECT_EQ(message, "'/dev/null' is not a block device (give a disk name like nvme0n1, a "
                       "/dev path, or MAJ:MIN)");
}

} // namespace
} // namespace ufq::test
