#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace ufqctl {

// Everything the command line can say; which fields matter depends on `command`.
struct Options {
    std::string command; // "load", "model push", "trace record", ...
    std::string object;
    std::string name;
    std::vector<std::string> devices;
    std::vector<std::string> assignments; // KEY=VAL
    std::string key;
    std::string file;
    bool keep_ufq = false;
    bool json = false;
    double interval = 1.0;
    unsigned count = 0; // 0: until interrupted
    double duration = 0;
    std::string cgroup;           // tenant set/del: a cgroup directory
    std::uint64_t tenant_id = 0;  // tenant del --id
    bool by_id = false;           // tenant del: --id given instead of CGROUP_PATH
    bool tenants = false;         // stats --tenants
    // model train
    std::vector<std::string> traces;
    std::uint64_t seed = 1;
    unsigned epochs = 40;
    unsigned holdout_pct = 20;
    std::string predictions; // --predictions FILE.csv
};

// Defines every command and its help on `app`; parsing fills `opts` (command included).
void add_commands(CLI::App& app, Options& opts);

// Parses argv into Options; throws CLI::ParseError (including for --help, CLI11's way).
Options parse(CLI::App& app, int argc, const char* const* argv);

} // namespace ufqctl
