#include "cli.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ufqctl {
namespace {

using ::testing::ElementsAre;

Options parse_args(std::vector<const char*> args) {
    args.insert(args.begin(), "ufqctl");
    CLI::App app{"test", "ufqctl"};
    return parse(app, static_cast<int>(args.size()), args.data());
}

// Parsing fails the way `ufqctl` would report it (CLI11's ParseError, exit status non-zero).
bool rejects(std::vector<const char*> args) {
    try {
        (void)parse_args(std::move(args));
    } catch (const CLI::ParseError& e) {
        return e.get_exit_code() != 0;
    }
    return false;
}

TEST(CliTest, Load) {
    const auto o = parse_args({"load", "p.bpf.o", "--dev", "nvme0n1", "-d", "8:0", "--set",
                               "fifo_batch=8", "-s", "read_expire_ms=100"});
    EXPECT_EQ(o.command, "load");
    EXPECT_EQ(o.object, "p.bpf.o");
    EXPECT_THAT(o.devices, ElementsAre("nvme0n1", "8:0"));
    EXPECT_THAT(o.assignments, ElementsAre("fifo_batch=8", "read_expire_ms=100"));
    EXPECT_TRUE(rejects({"load"}));
}

TEST(CliTest, UnloadSwapBindUnbindList) {
    auto o = parse_args({"unload", "deadline", "--keep-ufq"});
    EXPECT_EQ(o.command, "unload");
    EXPECT_EQ(o.name, "deadline");
    EXPECT_TRUE(o.keep_ufq);
    EXPECT_FALSE(parse_args({"unload", "deadline"}).keep_ufq);
    o = parse_args({"swap", "deadline", "new.bpf.o"});
    EXPECT_EQ(o.command, "swap");
    EXPECT_EQ(o.object, "new.bpf.o");
    EXPECT_TRUE(rejects({"swap", "deadline"}));
    o = parse_args({"bind", "fifo", "--dev", "/dev/vda"});
    EXPECT_EQ(o.command, "bind");
    EXPECT_THAT(o.devices, ElementsAre("/dev/vda"));
    EXPECT_TRUE(rejects({"bind", "fifo"}));
    EXPECT_TRUE(rejects({"bind", "fifo", "--dev", "a", "--dev", "b"}));
    o = parse_args({"unbind", "--dev", "vda"});
    EXPECT_EQ(o.command, "unbind");
    EXPECT_TRUE(rejects({"unbind"}));
    EXPECT_EQ(parse_args({"list"}).command, "list");
}

TEST(CliTest, StatusSetGet) {
    auto o = parse_args({"status", "--json", "--dev", "vda"});
    EXPECT_EQ(o.command, "status");
    EXPECT_TRUE(o.json);
    EXPECT_THAT(o.devices, ElementsAre("vda"));
    o = parse_args({"set", "deadline", "a=1", "b=2"});
    EXPECT_EQ(o.command, "set");
    EXPECT_THAT(o.assignments, ElementsAre("a=1", "b=2"));
    EXPECT_TRUE(rejects({"set", "deadline"}));
    o = parse_args({"get", "deadline", "fifo_batch"});
    EXPECT_EQ(o.command, "get");
    EXPECT_EQ(o.key, "fifo_batch");
    EXPECT_EQ(parse_args({"get", "deadline"}).key, "");
}

TEST(CliTest, Model) {
    auto o = parse_args({"model", "push", "mlp", "w.json"});
    EXPECT_EQ(o.command, "model push");
    EXPECT_EQ(o.name, "mlp");
    EXPECT_EQ(o.file, "w.json");
    o = parse_args({"model", "show", "mlp", "--json"});
    EXPECT_EQ(o.command, "model show");
    EXPECT_TRUE(o.json);
    EXPECT_TRUE(rejects({"model"}));
    EXPECT_TRUE(rejects({"model", "push", "mlp"}));
}

TEST(CliTest, ModelTrain) {
    auto o = parse_args({"model", "train", "ml", "--trace", "a.csv", "-t", "b.csv", "c.csv", "-o",
                         "w.json"});
    EXPECT_EQ(o.command, "model train");
    EXPECT_EQ(o.name, "ml");
    EXPECT_THAT(o.traces, ElementsAre("a.csv", "b.csv", "c.csv"));
    EXPECT_EQ(o.file, "w.json");
    EXPECT_EQ(o.seed, 1u);
    EXPECT_EQ(o.epochs, 40u);
    EXPECT_EQ(o.holdout_pct, 20u);
    EXPECT_FALSE(o.json);
    o = parse_args({"model", "train", "ml", "--trace", "a.csv", "--output", "w.json", "--seed",
                    "7", "--epochs", "3", "--holdout-pct", "10", "--json"});
    EXPECT_EQ(o.seed, 7u);
    EXPECT_EQ(o.epochs, 3u);
    EXPECT_EQ(o.holdout_pct, 10u);
    EXPECT_TRUE(o.json);
    EXPECT_TRUE(rejects({"model", "train", "ml", "-o", "w.json"}));
    EXPECT_TRUE(rejects({"model", "train", "ml", "--trace", "a.csv"}));
    EXPECT_TRUE(rejects({"model", "train", "ml", "--trace", "a.csv", "-o", "w", "--seed", "x"}));
}

TEST(CliTest, Stats) {
    auto o = parse_args({"stats"});
    EXPECT_EQ(o.command, "stats");
    EXPECT_EQ(o.interval, 1.0);
    EXPECT_EQ(o.count, 0u);
    o = parse_args({"stats", "-d", "vda", "--interval", "0.5", "--count", "3", "--json"});
    EXPECT_EQ(o.interval, 0.5);
    EXPECT_EQ(o.count, 3u);
    EXPECT_TRUE(o.json);
    EXPECT_TRUE(rejects({"stats", "--interval", "0"}));
    EXPECT_TRUE(rejects({"stats", "--interval", "-1"}));
    EXPECT_TRUE(rejects({"stats", "--count", "x"}));
    EXPECT_FALSE(o.tenants);
    EXPECT_TRUE(parse_args({"stats", "--dev", "vda", "--tenants"}).tenants);
}

TEST(CliTest, Tenant) {
    auto o = parse_args({"tenant", "set", "qos", "/sys/fs/cgroup/lc", "class=lc", "iops=100"});
    EXPECT_EQ(o.command, "tenant set");
    EXPECT_EQ(o.name, "qos");
    EXPECT_EQ(o.cgroup, "/sys/fs/cgroup/lc");
    EXPECT_THAT(o.assignments, ElementsAre("class=lc", "iops=100"));
    EXPECT_TRUE(rejects({"tenant", "set", "qos", "/sys/fs/cgroup/lc"}));
    EXPECT_TRUE(rejects({"tenant"}));

    o = parse_args({"tenant", "del", "qos", "/sys/fs/cgroup/lc"});
    EXPECT_EQ(o.command, "tenant del");
    EXPECT_EQ(o.cgroup, "/sys/fs/cgroup/lc");
    EXPECT_FALSE(o.by_id);
    o = parse_args({"tenant", "del", "qos", "--id", "4242"});
    EXPECT_EQ(o.command, "tenant del");
    EXPECT_TRUE(o.by_id);
    EXPECT_EQ(o.tenant_id, 4242u);
    EXPECT_TRUE(rejects({"tenant", "del", "qos"}));                           // neither
    EXPECT_TRUE(rejects({"tenant", "del", "qos", "/sys/fs/cgroup/lc", "--id", "1"})); // both
    EXPECT_TRUE(rejects({"tenant", "del", "qos", "--id", "x"}));

    o = parse_args({"tenant", "list", "qos", "--json"});
    EXPECT_EQ(o.command, "tenant list");
    EXPECT_TRUE(o.json);
    EXPECT_TRUE(rejects({"tenant", "list"}));
}

TEST(CliTest, TraceRecord) {
    const auto o = parse_args({"trace", "record", "--dev", "vda", "--duration", "5", "-o", "t.csv"});
    EXPECT_EQ(o.command, "trace record");
    EXPECT_EQ(o.duration, 5.0);
    EXPECT_EQ(o.file, "t.csv");
    EXPECT_TRUE(rejects({"trace", "record", "--dev", "vda", "-o", "t.csv"}));
    EXPECT_TRUE(rejects({"trace", "record", "--dev", "vda", "--duration", "0", "-o", "t.csv"}));
    EXPECT_TRUE(rejects({"trace", "record", "--duration", "1", "-o", "t.csv"}));
}

TEST(CliTest, UnknownOrMissingCommand) {
    EXPECT_TRUE(rejects({}));
    EXPECT_TRUE(rejects({"frobnicate"}));
    EXPECT_TRUE(rejects({"load", "x.o", "--bogus"}));
}

// Every command has help that names what it does (CLI11 answers --help with a "success"
// ParseError carrying exit code 0).
TEST(CliTest, HelpForEveryCommand) {
    for (const auto& args : std::vector<std::vector<const char*>>{
             {"--help"}, {"load", "--help"}, {"unload", "--help"}, {"swap", "--help"},
             {"bind", "--help"}, {"unbind", "--help"}, {"list", "--help"}, {"status", "--help"},
             {"set", "--help"}, {"get", "--help"}, {"model", "--help"},
             {"model", "push", "--help"}, {"model", "show", "--help"},
             {"model", "train", "--help"}, {"stats", "--help"},
             {"trace", "--help"}, {"trace", "record", "--help"}, {"tenant", "--help"},
             {"tenant", "set", "--help"}, {"tenant", "del", "--help"},
             {"tenant", "list", "--help"}}) {
        std::vector<const char*> argv{"ufqctl"};
        argv.insert(argv.end(), args.begin(), args.end());
        CLI::App app{"test", "ufqctl"};
        Options opts;
        add_commands(app, opts);
        try {
            app.parse(static_cast<int>(argv.size()), argv.data());
            ADD_FAILURE() << args.front() << ": no help";
        } catch (const CLI::CallForHelp& e) {
            EXPECT_EQ(e.get_exit_code(), 0);
            CLI::App* shown = &app;
            for (const char* a : args)
                if (std::string(a) != "--help")
                    shown = shown->get_subcommand(a);
            EXPECT_GT(shown->help().size(), 100u) << args.front();
        }
    }
}

} // namespace
} // namespace ufqctl
