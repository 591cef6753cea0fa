// Failures that need no ufq kernel: each is one line, and leaves nothing behind.
#include <bpf/btf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "commands.hpp"
#include "error_message.hpp"
#include "fake_sysfs.hpp"
#include "ufq/model.hpp"
#include "ufq/policy.hpp"
#include "ufq/tunables.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Runs `f` as user nobody in a child process and returns the ufq::Error message it threw.
std::string message_as_nobody(const std::function<void()>& f) {
    int fds[2];
    if (pipe(fds) != 0)
        return "pipe failed";
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        std::string msg = "did not throw";
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) {
            msg = "cannot drop root";
        } else {
            try {
                f();
            } catch (const Error& e) {
                msg = e.what();
            } catch (const std::exception& e) {
                msg = std::string("other exception: ") + e.what();
            }
        }
        (void)!write(fds[1], msg.data(), msg.size());
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[512];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
        out.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    waitpid(pid, nullptr, 0);
    return out;
}

TEST(NotRootTest, EveryCommandSaysSo) {
    for (const char* command : {"load", "unload", "swap", "bind", "unbind", "list", "status",
                                "set", "get", "model push", "model show", "stats",
                                "trace record"}) {
        ufqctl::Options o;
        o.command = command;
        o.name = "deadline";
        o.object = "/nonexistent.bpf.o";
        o.devices = {"vda"};
        o.assignments = {"fifo_batch=8"};
        o.file = "/nonexistent.json";
        o.duration = 1;
        EXPECT_THAT(message_as_nobody([&] { ufqctl::run(o); }),
                    HasSubstr("ufqctl needs root"))
            << command;
    }
}

bool kernel_has_ufq() {
    btf* vmlinux = btf__load_vmlinux_btf();
    const bool found = vmlinux && btf__find_by_name_kind(vmlinux, "ufq_ops", BTF_KIND_STRUCT) >= 0;
    btf__free(vmlinux);
    return found;
}

// A temporary bpffs and state directory standing in for /sys/fs/bpf and /run/ufq.
class TempPaths : public ::testing::Test {
protected:
    void SetUp() override {
        if (geteuid() != 0)
            GTEST_SKIP() << "needs root (the commands check for it first)";
        paths.bpffs = fake.dir() / "bpffs";
        paths.state = fake.dir() / "run";
        paths.sys = fake.root();
        fs::create_directories(paths.bpffs / "ufq");
    }
    // Everything in the temporary bpffs and state directory, to check nothing was added.
    std::vector<std::string> contents() const {
        std::vector<std::string> out;
        for (const auto& dir : {paths.bpffs, paths.state}) {
            std::error_code ec;
            for (const auto& e : fs::recursive_directory_iterator(dir, ec))
                out.push_back(e.path().string());
        }
        std::sort(out.begin(), out.end());
        return out;
    }
    FakeSysfs fake;
    Paths paths;
};

TEST_F(TempPaths, KernelWithoutUfq) {
    if (kernel_has_ufq())
        GTEST_SKIP() << "the running kernel has ufq";
    fake.add_disk("vda", 254, 0);
    const auto before = contents();
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(UFQ_POLICY_DIR "/fifo.bpf.o", {"vda"}, {}, paths);
                }),
                HasSubstr("the running kernel has no ufq scheduler"));
    EXPECT_EQ(contents(), before);
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] kyber\n");
}

TEST_F(TempPaths, PolicyNotLoaded) {
    EXPECT_THAT(error_message([&] { unload_policy("deadline", false, paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { swap_policy("deadline", "/x.bpf.o", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)get_tunables("deadline", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)set_tunables("deadline", {"a=1"}, paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)push_model("deadline", "/x.json", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)show_model("deadline", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_EQ(contents(), std::vector<std::string>{(paths.bpffs / "ufq").string()});
}

// A loaded policy (as far as pins go) without the maps a command needs.
TEST_F(TempPaths, PolicyWithoutTunablesOrModel) {
    fs::create_directories(paths.policy_dir("fifo") / "maps");
    write_file(paths.link_pin("fifo"), "");
    write_file(paths.policy_dir("fifo") / "maps" / "ufq_latency", "");
    EXPECT_THAT(error_message([&] { (void)get_tunables("fifo", paths); }),
                HasSubstr("policy fifo has no tunables"));
    EXPECT_THAT(error_message([&] { (void)show_model("fifo", paths); }),
                HasSubstr("policy fifo has no model"));
    const fs::path weights = fake.dir() / "w.json";
    write_file(weights, "{}");
    EXPECT_THAT(error_message([&] { (void)push_model("fifo", weights, paths); }),
                HasSubstr("policy fifo has no model"));
}

TEST_F(TempPaths, BindToUnknownDevice) {
    EXPECT_THAT(error_message([&] { (void)resolve_device("nvme9n1", paths.sys); }),
                HasSubstr("no block device 'nvme9n1'"));
}

TEST_F(TempPaths, ObjectThatIsNotAPolicy) {
    const fs::path text = fake.dir() / "not-elf.bpf.o";
    write_file(text, "hello");
    EXPECT_THAT(error_message([&] { (void)policy_name_of(text); }),
                HasSubstr("is not a BPF object libbpf can open"));
    EXPECT_THAT(error_message([&] { (void)policy_name_of(fake.dir() / "missing.bpf.o"); }),
                HasSubstr("no policy object at"));
    const fs::path no_ops = UFQ_POLICY_DIR "/not_a_policy.bpf.o";
    if (!fs::exists(no_ops))
        GTEST_SKIP() << "BPF policies not built (no vmlinux.h)";
    EXPECT_THAT(error_message([&] { (void)policy_name_of(no_ops); }),
                HasSubstr("is not a ufq policy: it has no struct ufq_ops"));
    EXPECT_EQ(policy_name_of(UFQ_POLICY_DIR "/deadline.bpf.o"), "deadline");
}

} // namespace
} // namespace ufq::test
