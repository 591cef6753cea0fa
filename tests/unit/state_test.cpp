// ufqctl's state under /run/ufq: the directory's safety checks, files written there, lock
// files that exclude each other and disappear, and the device records.
#include "ufq/state.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "error_message.hpp"
#include "fake_sysfs.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class StateTest : public ::testing::Test {
protected:
    // The state directory and everything in it, to check nothing stray is left.
    std::vector<std::string> files() const {
        std::vector<std::string> out;
        if (fs::exists(dir()))
            out.push_back("run");
        std::error_code ec;
        for (const auto& e : fs::recursive_directory_iterator(dir(), ec))
            out.push_back(fs::relative(e.path(), fake.dir()).string());
        std::sort(out.begin(), out.end());
        return out;
    }
    FakeSysfs fake; // for its temporary directory
    fs::path dir() const { return fake.dir() / "run"; }
};

TEST_F(StateTest, StateDirIsCreatedPrivate) {
    const fs::path d = fake.dir() / "a" / "run";
    ensure_state_dir(d);
    struct stat st {};
    ASSERT_EQ(::lstat(d.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ensure_state_dir(d); // again: fine
}

TEST_F(StateTest, StateDirRefusesSymlinkFileAndSharedDir) {
    fs::create_directory(fake.dir() / "elsewhere");
    fs::create_directory_symlink(fake.dir() / "elsewhere", dir());
    EXPECT_THAT(error_message([&] { ensure_state_dir(dir()); }),
                HasSubstr("it is a symbolic link, not a directory"));
    fs::remove(dir());
    write_file(dir(), "");
    EXPECT_THAT(error_message([&] { ensure_state_dir(dir()); }),
                HasSubstr("it is a regular file, not a directory"));
    fs::remove(dir());
    fs::create_directory(dir());
    fs::permissions(dir(), fs::perms::all); // 0777: anyone could plant files
    EXPECT_THAT(error_message([&] { ensure_state_dir(dir()); }),
                HasSubstr("writable by its owner only"));
}

TEST_F(StateTest, PrivateFileRefusesSymlinks) {
    ensure_state_dir(dir());
    const fs::path target = fake.dir() / "precious";
    write_file(target, "keep me");
    fs::create_symlink(target, dir() / "x.verifier.log");
    EXPECT_THAT(error_message([&] { write_private_file(dir() / "x.verifier.log", "log"); }),
                HasSubstr("it is a symbolic link"));
    EXPECT_EQ(read_file(target), "keep me");

    const fs::path f = dir() / "y.verifier.log";
    write_file(f, "a much longer previous log");
    write_private_file(f, "log");
    EXPECT_EQ(read_file(f), "log");
    write_private_file(dir() / "z.verifier.log", "new");
    struct stat st {};
    ASSERT_EQ(::stat((dir() / "z.verifier.log").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
}

// A second taker waits until the first releases; the file is gone afterwards, also for the
// waiter, which had to notice that the file it waited on was removed and lock the new one.
TEST_F(StateTest, LockFilesExcludeEachOtherAndLeaveNothing) {
    ensure_state_dir(dir());
    const fs::path path = dir() / "deadline.lock";
    int go[2];
    int got[2];
    ASSERT_EQ(pipe(go), 0);
    ASSERT_EQ(pipe(got), 0);
    // Forked before the lock is taken: a child sharing the parent's lock file description
    // would hold the lock too.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(go[1]);
        close(got[0]);
        char c = 0;
        if (read(go[0], &c, 1) != 1)
            _exit(3);
        try {
            const LockFile mine(path);
            (void)!write(got[1], "x", 1);
        } catch (...) {
            _exit(2);
        }
        _exit(0);
    }
    close(go[0]);
    close(got[1]);
    std::optional<LockFile> held(std::in_place, path);
    EXPECT_TRUE(fs::exists(path));
    ASSERT_EQ(write(go[1], "g", 1), 1);
    pollfd p{got[0], POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 300), 0) << "the second LockFile did not wait";
    held.reset(); // removes the file the child waits on: it must lock the next one
    char c = 0;
    EXPECT_EQ(read(got[0], &c, 1), 1) << "the second LockFile never got the lock";
    int status = 0;
    waitpid(child, &status, 0);
    close(go[1]);
    close(got[0]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_THAT(files(), ElementsAre("run"));
}

TEST_F(StateTest, LockPathsDoNotCollideWithPolicies) {
    Paths paths;
    paths.state = dir();
    EXPECT_EQ(paths.policy_lock("devices"), dir() / "devices.lock");
    EXPECT_NE(paths.policy_lock("devices"), paths.devices_lock());
    EXPECT_NE(paths.policy_lock("devices"), paths.device_records());
    { const LockFile a = lock_policy(paths, "deadline"); const LockFile b = lock_devices(paths); }
    EXPECT_THAT(files(), ElementsAre("run"));
}

// ---- device records ------------------------------------------------------------------------

TEST_F(StateTest, RecordsRoundTripAndEmptyRemovesTheFile) {
    ensure_state_dir(dir());
    const fs::path f = dir() / "devices.json";
    EXPECT_THAT(read_device_records(f), IsEmpty());
    const std::vector<DeviceRecord> records{
        {"nullb0", "251:0", "mq-deadline", {"fifo", "deadline"}},
        {"vda", "254:0", "ufq", {}},
    };
    write_device_records(f, records);
    EXPECT_EQ(read_device_records(f), records);
    EXPECT_THAT(files(), ElementsAre("run", "run/devices.json")); // no temporary file left
    write_device_records(f, {});
    EXPECT_FALSE(fs::exists(f));
    write_device_records(f, {}); // nothing to remove: fine
}

TEST_F(StateTest, CorruptRecordsAreAnError) {
    ensure_state_dir(dir());
    const fs::path f = dir() / "devices.json";
    for (const char* text :
         {"", "{", "[]", R"({"devices": []})", R"({"version": 2, "devices": []})",
          R"({"version": 1, "devices": [{"name": "a", "dev": "1:0", "elevator": "none"}]})",
          R"({"version": 1, "devices": [{"name": "a", "dev": "1:0", "policies": []}]})",
          R"({"version": 1, "devices": [{"name": "a", "dev": "1:0", "elevator": "none",
              "policies": [3]}]})",
          R"({"version": 1, "devices": [
              {"name": "a", "dev": "1:0", "elevator": "none", "policies": []},
              {"name": "a", "dev": "1:0", "elevator": "none", "policies": []}]})"}) {
        write_file(f, text);
        EXPECT_THAT(error_message([&] { (void)read_device_records(f); }), HasSubstr("is corrupt"))
            << text;
    }
}

TEST_F(StateTest, FailedRecordsWriteKeepsTheOldFileAndNoTemporary) {
    ensure_state_dir(dir());
    const fs::path f = dir() / "devices.json";
    fs::create_directory(f); // rename() onto a directory fails
    EXPECT_THAT(error_message([&] {
                    write_device_records(f, {{"vda", "254:0", "none", {"fifo"}}});
                }),
                HasSubstr("cannot replace"));
    EXPECT_THAT(files(), ElementsAre("run", "run/devices.json"));
}

} // namespace
} // namespace ufq::test
