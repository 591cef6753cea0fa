#include "ufq/sysfs.hpp"

#include <cerrno>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "fake_sysfs.hpp"

namespace ufq::test {
namespace {

using ::testing::HasSubstr;

TEST(TrimTest, RemovesSurroundingWhitespaceOnly) {
    EXPECT_EQ(trim("  a b\t\n"), "a b");
    EXPECT_EQ(trim("ab"), "ab");
    EXPECT_EQ(trim(" \n\t "), "");
    EXPECT_EQ(trim(""), "");
}

class SysfsTest : public ::testing::Test {
protected:
    FakeSysfs fake;
};

TEST_F(SysfsTest, ReadReturnsTrimmedContent) {
    const auto file = fake.dir() / "attr";
    write_file(file, "  259:0\n");
    EXPECT_EQ(read_sysfs(file), "259:0");
}

TEST_F(SysfsTest, ReadMissingFileKeepsErrno) {
    const auto file = fake.dir() / "missing";
    try {
        (void)read_sysfs(file);
        FAIL() << "did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.sys_errno(), ENOENT);
        EXPECT_THAT(e.what(), HasSubstr(file.string()));
        EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
    }
}

TEST_F(SysfsTest, ReadRefusesHugeFiles) {
    const auto file = fake.dir() / "huge";
    write_file(file, std::string(100 * 1024, 'x'));
    EXPECT_THAT(error_message([&] { (void)read_sysfs(file); }), HasSubstr("not a sysfs attribute"));
}

TEST_F(SysfsTest, WriteReplacesContent) {
    const auto file = fake.dir() / "attr";
    write_file(file, "none [mq-deadline] kyber\n");
    write_sysfs(file, "kyber");
    EXPECT_EQ(read_file(file), "kyber");
}

TEST_F(SysfsTest, WriteFailureKeepsErrno) {
    const auto dir = fake.dir() / "a-directory";
    std::filesystem::create_directory(dir);
    try {
        write_sysfs(dir, "x");
        FAIL() << "did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.sys_errno(), EISDIR);
        EXPECT_THAT(e.what(), HasSubstr("cannot write " + dir.string()));
    }
    try {
        write_sysfs(fake.dir() / "missing" / "attr", "x");
        FAIL() << "did not throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.sys_errno(), ENOENT);
    }
}

} // namespace
} // namespace ufq::test
