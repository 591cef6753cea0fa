// ssdsim: a ublk block device that behaves like an SSD (see docs/ssdsim.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "profile.hpp"
#include "server.hpp"
#include "workload.hpp"

namespace {

namespace fs = std::filesystem;

// The driver numbers ublk devices below UBLK_MAX_UBLKS, 1 << MINORBITS (ublk_drv.c).
constexpr unsigned kMaxDeviceId = (1u << 20) - 1;

constexpr const char* kDescription =
    "ssdsim serves a ublk block device (/dev/ublkbN) whose requests complete after the\n"
    "latency of a modelled SSD: dies, page read and program times, transfers, a write-back\n"
    "buffer and a garbage-collection factor, from a profile (docs/ssdsim.md).";

// A profile given by name is one of the shipped ones; anything with a '/' or ending in
// .json is a file.
fs::path profile_path(const std::string& arg) {
    if (arg.find('/') != std::string::npos || arg.ends_with(".json"))
        return arg;
    return fs::path(SSDSIM_PROFILE_DIR) / (arg + ".json");
}

ssdsim::Profile load(const std::string& arg, double time_scale) {
    ssdsim::Profile p = ssdsim::load_profile(profile_path(arg));
    if (time_scale > 0) {
        p.time_scale = time_scale;
        ssdsim::validate(p);
    }
    return p;
}

int predict(const ssdsim::Profile& p, const std::vector<std::string>& specs,
            std::uint64_t seed) {
    std::vector<ssdsim::Job> jobs;
    for (const auto& s : specs) {
        try {
            jobs.push_back(ssdsim::parse_job(s));
        } catch (const std::invalid_argument& e) {
            throw ssdsim::Error(e.what());
        }
    }
    std::vector<ssdsim::JobResult> results;
    try {
        results = ssdsim::simulate(p, jobs, seed);
    } catch (const std::invalid_argument& e) {
        throw ssdsim::Error(e.what());
    }
    nlohmann::json out;
    out["profile"] = p.name;
    out["time_scale"] = p.time_scale;
    out["jobs"] = nlohmann::json::array();
    for (const auto& r : results)
        out["jobs"].push_back({{"name", r.name},
                               {"ios", r.ios},
                               {"mean_us", r.mean_ns / 1e3},
                               {"min_us", r.min_ns / 1e3},
                               {"p10_us", r.p10_ns / 1e3},
                               {"p50_us", r.p50_ns / 1e3},
                               {"p99_us", r.p99_ns / 1e3},
                               {"max_us", r.max_ns / 1e3}});
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{kDescription, "ssdsim"};
    app.require_subcommand(1);

    std::string profile;
    double time_scale = 0;
    ssdsim::ServeOptions serve_opts;
    auto* serve = app.add_subcommand(
        "serve", "Create /dev/ublkbN, print its path, serve it until SIGTERM/SIGINT, remove it");
    serve->add_option("profile", profile, "profile name (tools/ssdsim/profiles/) or JSON file")
        ->required();
    serve->add_option("--time-scale", time_scale, "override the profile's time scale")
        ->check(CLI::Range(1.0, 10000.0));
    serve->add_option("--id", serve_opts.dev_id, "ublk device number (default: the first free)")
        ->check(CLI::Range(0u, kMaxDeviceId));

    std::vector<std::string> jobs;
    std::uint64_t seed = 1;
    auto* pred = app.add_subcommand(
        "predict", "Run fio-like jobs against the model alone and print their latencies (JSON)");
    pred->add_option("profile", profile, "profile name or JSON file")->required();
    pred->add_option("--time-scale", time_scale, "override the profile's time scale")
        ->check(CLI::Range(1.0, 10000.0));
    pred->add_option("--job", jobs,
                     "NAME:rw=randread|randwrite,bs=4k,qd=1[,ramp=1s][,runtime=5s][,ios=N]; "
                     "jobs given together run at the same time")
        ->required();
    pred->add_option("--seed", seed, "seed of the random offsets");

    unsigned remove_id = 0;
    auto* rm = app.add_subcommand(
        "remove", "Stop and delete a ublk device left by a killed server (refused while its server runs)");
    rm->add_option("id", remove_id, "ublk device number (N of /dev/ublkcN)")
        ->required()
        ->check(CLI::Range(0u, kMaxDeviceId));

    auto* check = app.add_subcommand("check", "Load a profile and report whether it is valid");
    check->add_option("profile", profile, "profile name or JSON file")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help prints through CLI11; a usage error is one line, like every other error.
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success))
            return app.exit(e);
        std::fprintf(stderr, "ssdsim: %s (see ssdsim --help)\n", e.what());
        return 2;
    }
    try {
        if (*serve)
            return ssdsim::serve(load(profile, time_scale), serve_opts);
        if (*pred)
            return predict(load(profile, time_scale), jobs, seed);
        if (*rm) {
            ssdsim::remove_device(remove_id);
            return 0;
        }
        const auto p = load(profile, 0);
        std::printf("profile %s: valid (%s)\n", p.name.c_str(), p.description.c_str());
        return 0;
    } catch (const ssdsim::ProfileError& e) {
        std::fprintf(stderr, "ssdsim: %s\n", e.what());
        return 1;
    } catch (const ssdsim::Error& e) {
        std::fprintf(stderr, "ssdsim: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ssdsim: unexpected error: %s\n", e.what());
        return 1;
    }
}
