// ufqctl's commands against a fake system: a temporary bpffs and state directory, a fake sysfs,
// a fake kernel BTF and a fake list of registered policies. Failures are one line and leave
// nothing behind; the device records give each device back what it had.
#include <bpf/btf.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "commands.hpp"
#include "error_message.hpp"
#include "fake_sysfs.hpp"
#include "skip.hpp"
#include "ufq/model.hpp"
#include "ufq/policy.hpp"
#include "ufq/state.hpp"
#include "ufq/status.hpp"
#include "ufq/tunables.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

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

// Raw BTF like /sys/kernel/btf/vmlinux, with or without a struct ufq_ops.
void write_kernel_btf(const fs::path& path, bool with_ufq) {
    const BtfPtr b = new_btf();
    const int u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
    if (with_ufq) {
        btf__add_struct(b.get(), "ufq_ops", 4);
        btf__add_field(b.get(), "flags", u32, 0, 0);
    }
    std::uint32_t size = 0;
    const void* raw = btf__raw_data(b.get(), &size);
    write_file(path, std::string(static_cast<const char*>(raw), size));
}

const fs::path kPolicies = UFQ_POLICY_DIR;

// A temporary bpffs and state directory standing in for /sys/fs/bpf and /run/ufq, a fake sysfs,
// a kernel BTF with struct ufq_ops (the host's kernel has none) and `registered` as the
// kernel's registered policies.
class TempPaths : public ::testing::Test {
protected:
    void SetUp() override {
        UFQ_SKIP_UNLESS_ROOT();
        paths.bpffs = fake.dir() / "bpffs";
        paths.state = fake.dir() / "run";
        paths.sys = fake.root();
        paths.vmlinux_btf = fake.dir() / "vmlinux.btf";
        paths.registry = [this] { return registered; };
        write_kernel_btf(paths.vmlinux_btf, true);
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
    // What ufqctl shows of a loaded policy, as far as tests need: a link pin.
    void fake_pins(const std::string& policy) {
        write_file(paths.link_pin(policy), "");
        write_file(paths.maps_dir(policy) / "ufq_latency", "");
    }
    fs::path policy_attr(const std::string& disk) const {
        return fake.root().sys / "block" / disk / "queue" / "iosched" / "policy";
    }
    // A disk already on ufq, showing `attr` in iosched/policy as the kernel would.
    void add_ufq_disk(const std::string& name, unsigned minor, const std::string& attr,
                      const std::string& scheduler = "none mq-deadline [ufq]") {
        fake.add_disk(name, 254, minor, scheduler);
        write_file(policy_attr(name), attr + "\n");
    }
    int run(ufqctl::Options o) { return ufqctl::run(o, paths); }

    FakeSysfs fake;
    Paths paths;
    std::vector<std::string> registered;
};

TEST_F(TempPaths, KernelWithoutUfq) {
    write_kernel_btf(paths.vmlinux_btf, false);
    fake.add_disk("vda", 254, 0);
    const auto before = contents();
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "fifo.bpf.o", {"vda"}, {}, paths);
                }),
                HasSubstr("the running kernel has no ufq scheduler"));
    fs::remove(paths.vmlinux_btf);
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "fifo.bpf.o", {"vda"}, {}, paths);
                }),
                HasSubstr("cannot read the kernel's BTF"));
    EXPECT_EQ(contents(), before);
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] kyber\n");
}

// Everything load can find out without the kernel, it finds out before changing anything.
TEST_F(TempPaths, LoadRefusesBeforeTouchingAnything) {
    UFQ_SKIP_UNLESS_POLICIES_BUILT(kPolicies / "no_link.bpf.o");
    fake.add_disk("vda", 254, 0, "none [mq-deadline] ufq");
    fake.add_disk("vdb", 254, 16, "none [mq-deadline] kyber");
    fake.add_bio_disk("zram0", 252, 0);
    const auto before = contents();
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "fifo.bpf.o", {"vda", "zram0"}, {}, paths);
                }),
                HasSubstr("zram0 is a bio-based device and cannot use an I/O scheduler"));
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "fifo.bpf.o", {"vda", "vdb"}, {}, paths);
                }),
                HasSubstr("the running kernel has no ufq elevator (vdb offers"));
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "no_link.bpf.o", {"vda"}, {}, paths);
                }),
                HasSubstr("must be in SEC(\".struct_ops.link\")"));
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "deadline.bpf.o", {"vda"}, {"fifo=1"}, paths);
                }),
                HasSubstr("deadline has no tunable 'fifo'"));
    registered = {"deadline"}; // by another tool
    EXPECT_THAT(error_message([&] {
                    (void)load_policy(kPolicies / "deadline.bpf.o", {"vda"}, {}, paths);
                }),
                HasSubstr("a policy named deadline is already registered in the kernel by "
                          "another program"));
    EXPECT_EQ(contents(), before); // the lock files are gone too
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] ufq\n");
}

// A load the kernel refuses (here: the host's kernel, which has no ufq_ops) keeps the whole
// log in the state directory, never through a symlink planted there.
TEST_F(TempPaths, VerifierLogIsPrivateAndNotFollowed) {
    UFQ_SKIP_UNLESS_POLICIES_BUILT(kPolicies / "deadline.bpf.o");
    fake.add_disk("vda", 254, 0, "none [mq-deadline] ufq");
    auto load_error = [&] {
        try {
            (void)load_policy(kPolicies / "deadline.bpf.o", {"vda"}, {}, paths);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("did not throw");
    };
    std::string err = load_error();
    EXPECT_THAT(err, HasSubstr("the kernel refused policy deadline"));
    const fs::path log = paths.verifier_log("deadline");
    EXPECT_THAT(err, HasSubstr("full log: " + log.string()));
    EXPECT_THAT(read_file(log), HasSubstr("libbpf"));
    struct stat st {};
    ASSERT_EQ(::lstat(log.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_THAT(contents(), ElementsAre((paths.bpffs / "ufq").string(),
                                        (paths.state / "deadline.verifier.log").string()));

    fs::remove(log);
    const fs::path target = fake.dir() / "shadow";
    write_file(target, "root:x:0:0\n");
    fs::create_symlink(target, log);
    err = load_error();
    EXPECT_THAT(err, HasSubstr("the full log could not be saved"));
    EXPECT_THAT(err, HasSubstr("symbolic link"));
    EXPECT_EQ(read_file(target), "root:x:0:0\n");
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] ufq\n");
}

TEST_F(TempPaths, PolicyNotLoaded) {
    EXPECT_THAT(error_message([&] { unload_policy("deadline", false, paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)swap_policy("deadline", "/x.bpf.o", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)get_tunables("deadline", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)set_tunables("deadline", {"a=1"}, paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)push_model("deadline", "/x.json", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    EXPECT_THAT(error_message([&] { (void)show_model("deadline", paths); }),
                HasSubstr("no policy named deadline is loaded"));
    registered = {"deadline"}; // by another tool: unload says whose it is
    EXPECT_THAT(error_message([&] { unload_policy("deadline", false, paths); }),
                HasSubstr("policy deadline was not loaded by ufqctl"));
    EXPECT_EQ(contents(), std::vector<std::string>{(paths.bpffs / "ufq").string()});
}

// Names become paths: nothing that could leave <bpffs>/ufq/ or /run/ufq/ is taken.
TEST_F(TempPaths, PolicyNamesAreChecked) {
    fake_pins("deadline");
    const auto before = contents();
    for (const std::string name : {"..", ".", "../ufq", "a/b", "", "none", "x.y",
                                   "sixteen_chars_xx", "new\nline"}) {
        EXPECT_THAT(error_message([&] { unload_policy(name, false, paths); }),
                    HasSubstr("is not a policy name"))
            << name;
        EXPECT_THAT(error_message([&] { (void)swap_policy(name, "/x.bpf.o", paths); }),
                    HasSubstr("is not a policy name"))
            << name;
        EXPECT_THAT(error_message([&] { (void)get_tunables(name, paths); }),
                    HasSubstr("is not a policy name"))
            << name;
    }
    EXPECT_EQ(contents(), before);
}

// A loaded policy (as far as pins go) without the maps a command needs.
TEST_F(TempPaths, PolicyWithoutTunablesOrModel) {
    fake_pins("fifo");
    EXPECT_THAT(error_message([&] { (void)get_tunables("fifo", paths); }),
                HasSubstr("policy fifo has no tunables"));
    EXPECT_THAT(error_message([&] { (void)show_model("fifo", paths); }),
                HasSubstr("policy fifo has no model"));
    const fs::path weights = fake.dir() / "w.json";
    write_file(weights, "{}");
    const auto before = contents();
    EXPECT_THAT(error_message([&] { (void)push_model("fifo", weights, paths); }),
                HasSubstr("policy fifo has no model"));
    EXPECT_EQ(contents(), before); // its lock file is gone again
}

// `ufqctl bind` through the command layer, as the user types it.
TEST_F(TempPaths, BindToUnknownDevice) {
    registered = {"deadline"};
    fake.add_disk("vda", 254, 0, "none [mq-deadline] ufq");
    const auto before = contents();
    ufqctl::Options o;
    o.command = "bind";
    o.name = "deadline";
    o.devices = {"nvme9n1"};
    EXPECT_THAT(error_message([&] { run(o); }), HasSubstr("no block device 'nvme9n1'"));
    o.devices = {"254:7"};
    EXPECT_THAT(error_message([&] { run(o); }), HasSubstr("no block device with number 254:7"));
    EXPECT_EQ(contents(), before);
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] ufq\n");
}

// The policy is looked up before the device is switched to ufq: a device on mq-deadline stays.
TEST_F(TempPaths, BindToUnregisteredPolicyChangesNothing) {
    registered = {"fifo"};
    fake.add_disk("vda", 254, 0, "none [mq-deadline] ufq");
    fake.add_bio_disk("zram0", 252, 0);
    const auto before = contents();
    ufqctl::Options o;
    o.command = "bind";
    o.name = "nope";
    o.devices = {"vda"};
    EXPECT_THAT(error_message([&] { run(o); }),
                HasSubstr("no policy named nope is registered in the kernel"));
    o.name = "fifo";
    o.devices = {"zram0"};
    EXPECT_THAT(error_message([&] { run(o); }), HasSubstr("zram0 is a bio-based device"));
    EXPECT_EQ(contents(), before);
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none [mq-deadline] ufq\n");
}

// Moving a device between policies keeps one record, newest policy last; unloading the newest
// binds the one before; unloading that restores what the device had before ufqctl.
TEST_F(TempPaths, UnloadGivesBackThePreviousPolicyThenTheElevator) {
    registered = {"fifo", "deadline"};
    fake_pins("fifo");
    fake_pins("deadline");
    add_ufq_disk("vda", 0, "[none] fifo deadline");
    const BlockDevice vda = resolve_device("vda", paths.sys);

    bind_policy(vda, "fifo", paths);
    EXPECT_EQ(read_file(policy_attr("vda")), "fifo");
    write_file(policy_attr("vda"), "none [fifo] deadline\n"); // what the kernel shows then
    bind_policy(vda, "deadline", paths);
    write_file(policy_attr("vda"), "none fifo [deadline]\n");
    EXPECT_EQ(read_device_records(paths.device_records()),
              (std::vector<DeviceRecord>{{"vda", "254:0", "ufq", {"fifo", "deadline"}}}));
    auto status = loaded_policy_status(paths);
    ASSERT_EQ(status.size(), 2u);
    EXPECT_THAT(status[0].devices, ElementsAre("vda")); // deadline
    EXPECT_THAT(status[1].devices, ElementsAre());      // fifo

    registered = {"fifo", "deadline"};
    unload_policy("deadline", false, paths);
    EXPECT_EQ(read_file(policy_attr("vda")), "fifo");
    EXPECT_FALSE(fs::exists(paths.policy_dir("deadline")));
    EXPECT_EQ(read_device_records(paths.device_records()),
              (std::vector<DeviceRecord>{{"vda", "254:0", "ufq", {"fifo"}}}));

    write_file(policy_attr("vda"), "none [fifo]\n");
    registered = {"fifo"};
    unload_policy("fifo", false, paths);
    EXPECT_EQ(read_file(policy_attr("vda")), "none");
    EXPECT_EQ(contents(), std::vector<std::string>{(paths.bpffs / "ufq").string()});
}

// One device that cannot get its elevator back does not stop the others nor the detaching;
// the error names it and suggests --keep-ufq. A device bound to the policy some other way is
// unbound too.
TEST_F(TempPaths, UnloadIsBestEffortPerDevice) {
    registered = {"deadline"};
    fake_pins("deadline");
    add_ufq_disk("vda", 0, "none [deadline]", "none [ufq]"); // mq-deadline gone from the kernel
    add_ufq_disk("vdb", 16, "none [deadline]", "none kyber [ufq]");
    add_ufq_disk("vdc", 32, "none [deadline]");              // bound with echo, no record
    ensure_state_dir(paths.state);
    write_device_records(paths.device_records(), {{"vda", "254:0", "mq-deadline", {"deadline"}},
                                                  {"vdb", "254:16", "kyber", {"deadline"}}});
    const std::string err = error_message([&] { unload_policy("deadline", false, paths); });
    EXPECT_THAT(err, HasSubstr("policy deadline is unloaded, but: vda: cannot restore elevator "
                               "mq-deadline"));
    EXPECT_THAT(err, HasSubstr("--keep-ufq"));
    EXPECT_THAT(err, Not(HasSubstr("vdb")));
    EXPECT_EQ(read_file(fake.scheduler_file("vdb")), "kyber");
    EXPECT_EQ(read_file(policy_attr("vda")), "none");
    EXPECT_EQ(read_file(policy_attr("vdc")), "none");
    EXPECT_EQ(contents(), std::vector<std::string>{(paths.bpffs / "ufq").string()});
}

TEST_F(TempPaths, KeepUfqLeavesDevicesOnUfqWithoutPolicy) {
    registered = {"fifo", "deadline"};
    fake_pins("deadline");
    add_ufq_disk("vda", 0, "none fifo [deadline]");
    ensure_state_dir(paths.state);
    write_device_records(paths.device_records(),
                         {{"vda", "254:0", "mq-deadline", {"fifo", "deadline"}}});
    unload_policy("deadline", true, paths);
    EXPECT_EQ(read_file(policy_attr("vda")), "none");
    EXPECT_EQ(read_file(fake.scheduler_file("vda")), "none mq-deadline [ufq]\n");
    EXPECT_FALSE(fs::exists(paths.device_records()));
}

// A corrupt record file is an error, never taken for "no records": nothing changes.
TEST_F(TempPaths, CorruptRecordsChangeNothing) {
    registered = {"deadline"};
    fake_pins("deadline");
    add_ufq_disk("vda", 0, "none [deadline]");
    fake.add_disk("vdb", 254, 16, "none [mq-deadline] ufq");
    ensure_state_dir(paths.state);
    write_file(paths.device_records(), "{\"version\": 1, \"devices\": [");
    const auto before = contents();
    EXPECT_THAT(error_message([&] { unload_policy("deadline", false, paths); }),
                HasSubstr("devices.json is corrupt"));
    EXPECT_THAT(error_message([&] {
                    bind_policy(resolve_device("vdb", paths.sys), "deadline", paths);
                }),
                HasSubstr("devices.json is corrupt"));
    EXPECT_THAT(error_message([&] { (void)loaded_policy_status(paths); }),
                HasSubstr("devices.json is corrupt"));
    EXPECT_EQ(contents(), before);
    EXPECT_EQ(read_file(policy_attr("vda")), "none [deadline]\n");
    EXPECT_EQ(read_file(fake.scheduler_file("vdb")), "none [mq-deadline] ufq\n");
}

TEST_F(TempPaths, ObjectThatIsNotAPolicy) {
    const fs::path text = fake.dir() / "not-elf.bpf.o";
    write_file(text, "hello");
    EXPECT_THAT(error_message([&] { (void)policy_name_of(text); }),
                HasSubstr("is not a BPF object libbpf can open"));
    EXPECT_THAT(error_message([&] { (void)policy_name_of(fake.dir() / "missing.bpf.o"); }),
                HasSubstr("no policy object at"));
    UFQ_SKIP_UNLESS_POLICIES_BUILT(kPolicies / "not_a_policy.bpf.o");
    EXPECT_THAT(error_message([&] { (void)policy_name_of(kPolicies / "not_a_policy.bpf.o"); }),
                HasSubstr("is not a ufq policy: it has no struct ufq_ops"));
    EXPECT_THAT(error_message([&] { (void)policy_name_of(kPolicies / "no_link.bpf.o"); }),
                HasSubstr("its struct ufq_ops no_link is in section .struct_ops"));
    EXPECT_EQ(policy_name_of(kPolicies / "deadline.bpf.o"), "deadline");
    EXPECT_EQ(policy_name_of(kPolicies / "deadline_v2.bpf.o"), "deadline");
}

} // namespace
} // namespace ufq::test
