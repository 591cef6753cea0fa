// What each ufqctl command does with libufq, and how it prints the result.
#include "commands.hpp"
#include "model_train_command.hpp"
#include "tenant_commands.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <thread>

#include "ufq/device.hpp"
#include "ufq/device_state.hpp"
#include "ufq/error.hpp"
#include "ufq/latency.hpp"
#include "ufq/model.hpp"
#include "ufq/policy.hpp"
#include "ufq/pred_error.hpp"
#include "ufq/require.hpp"
#include "ufq/status.hpp"
#include "ufq/trace.hpp"
#include "ufq/tunables.hpp"

namespace ufqctl {
namespace {

using ufq::Error;

// Set by SIGINT/SIGTERM: stats and trace record stop at the next check and clean up.
std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

void catch_interrupts() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking poll returns at once
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

void print_notes(const std::vector<ufq::BlockDevice>& devices) {
    for (const auto& dev : devices)
        if (!dev.note.empty())
            std::fprintf(stderr, "note: %s\n", dev.note.c_str());
}

std::vector<ufq::BlockDevice> resolve_all(const std::vector<std::string>& specs,
                                          const ufq::Paths& p) {
    std::vector<ufq::BlockDevice> devices;
    for (const auto& spec : specs)
        devices.push_back(ufq::resolve_device(spec, p.sys));
    print_notes(devices);
    return devices;
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// ---- load, unload, swap, bind, unbind, list --------------------------------------------------

int cmd_load(const Options& o, const ufq::Paths& p) {
    const auto loaded = ufq::load_policy(o.object, o.devices, o.assignments, p);
    std::string where;
    for (const auto& dev : loaded.devices)
        where += (where.empty() ? " on " : ", ") + dev.name;
    std::printf("loaded policy %s%s\n", loaded.name.c_str(), where.c_str());
    for (const auto& dev : loaded.devices)
        if (!dev.note.empty())
            std::printf("note: %s\n", dev.note.c_str());
    return 0;
}

int cmd_swap(const Options& o, const ufq::Paths& p) {
    const auto r = ufq::swap_policy(o.name, o.object, p);
    std::printf("swapped policy %s to %s\n", o.name.c_str(), o.object.c_str());
    auto list = [](const std::vector<std::string>& names) {
        return names.empty() ? std::string("-") : fmt::format("{}", fmt::join(names, ", "));
    };
    std::printf("  maps kept: %s\n", list(r.kept).c_str());
    if (!r.fresh.empty())
        std::printf("  maps new or changed (start afresh): %s\n", list(r.fresh).c_str());
    if (!r.dropped.empty())
        std::printf("  maps dropped: %s\n", list(r.dropped).c_str());
    if (!r.tunables_carried.empty())
        std::printf("  tunables carried over into the new layout: %s\n",
                    list(r.tunables_carried).c_str());
    if (!r.tunables_reset.empty())
        std::printf("  tunables back at their default (the old value is out of the new range): "
                    "%s\n",
                    list(r.tunables_reset).c_str());
    if (r.tenants_copied)
        std::printf("  tenants copied into the new tenants map: %zu\n", r.tenants_copied);
    if (!r.tenant_settings_reset.empty())
        std::printf("  tenant settings back at their default (out of the new range): %s\n",
                    list(r.tenant_settings_reset).c_str());
    return 0;
}

int cmd_bind(const Options& o, const ufq::Paths& p) {
    ufq::require_root();
    const auto dev = resolve_all(o.devices, p).front();
    ufq::bind_policy(dev, o.name, p);
    std::printf("%s: policy %s\n", dev.name.c_str(), o.name.c_str());
    return 0;
}

int cmd_unbind(const Options& o, const ufq::Paths& p) {
    ufq::require_root();
    const auto dev = resolve_all(o.devices, p).front();
    ufq::unbind_device(dev, p);
    std::printf("%s: no policy (ufq elevator, FIFO order)\n", dev.name.c_str());
    return 0;
}

// ---- status ----------------------------------------------------------------------------------

std::vector<ufq::BlockDevice> chosen_or_ufq_devices(const Options& o, const ufq::Paths& p) {
    if (!o.devices.empty())
        return resolve_all(o.devices, p);
    return ufq::ufq_devices(p.sys);
}

int cmd_status(const Options& o, const ufq::Paths& p) {
    ufq::require_root();
    const auto devices = chosen_or_ufq_devices(o, p);
    const auto policies = ufq::loaded_policy_status(p);
    std::vector<ufq::DeviceStatus> statuses;
    for (const auto& dev : devices)
        statuses.push_back(ufq::read_device_status(dev, p.sys));

    if (o.json) {
        nlohmann::json j{{"policies", nlohmann::json::array()},
                         {"devices", nlohmann::json::array()}};
        for (const auto& policy : policies)
            j["policies"].push_back(ufq::to_json(policy));
        for (const auto& s : statuses)
            j["devices"].push_back(ufq::to_json(s));
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }

    if (o.devices.empty()) {
        std::printf("policies loaded by ufqctl:%s\n", policies.empty() ? " none" : "");
        auto list = [](const std::vector<std::string>& names) {
            return names.empty() ? std::string("-") : fmt::format("{}", fmt::join(names, ", "));
        };
        for (const auto& policy : policies)
            std::printf("  %-15s devices: %s; maps: %s\n", policy.name.c_str(),
                        list(policy.devices).c_str(), list(policy.maps).c_str());
        std::printf("devices on the ufq elevator:%s\n", statuses.empty() ? " none" : "");
    }
    for (const auto& s : statuses) {
        std::printf("%s (%u:%u)\n", s.device.name.c_str(), s.device.major, s.device.minor);
        if (!s.on_ufq) {
            std::printf("  elevator    %s (not ufq)\n", s.scheduler.c_str());
            continue;
        }
        std::printf("  policy      %s (registered: %s)\n", s.policy.c_str(),
                    s.registered.empty() ? "none" : fmt::format("{}", fmt::join(s.registered, " ")).c_str());
        std::printf("  state       %s\n", s.state.c_str());
        std::printf("  last error  %s\n", or_dash(s.last_error).c_str());
        std::string counters;
        for (const auto& [key, value] : s.counters)
            counters += fmt::format(" {}={}", key, value);
        std::printf("  stats      %s\n", counters.c_str());
    }
    return 0;
}

// ---- set, get --------------------------------------------------------------------------------

std::string describe(const ufq::Tunable& t) {
    std::string text = fmt::format("range {}..{}", ufq::int_to_string(t.min),
                                   ufq::int_to_string(t.max));
    if (!t.enumerators.empty()) {
        std::vector<std::string> names;
        for (const auto& [name, value] : t.enumerators)
            if (value >= t.min && value <= t.max)
                names.push_back(name);
        text = fmt::format("one of {}", fmt::join(names, ", "));
    }
    if (t.def)
        text = fmt::format("default {}, ", t.text(*t.def)) + text;
    return text;
}

// What a policy keeps per device in its "_status" map, for each device it serves now. Only
// an addition to the tunables: trouble reading it is a note, not a failure of `get`.
void print_device_states(const std::string& policy, const ufq::Paths& p) try {
    for (const auto& dev : ufq::ufq_devices(p.sys)) {
        if (ufq::read_device_status(dev, p.sys).policy != policy)
            continue;
        const auto state = ufq::read_device_state(policy, dev, p);
        if (!state)
            return; // the policy keeps none
        std::printf("\n%s on %s (%s):\n", state->map.c_str(), dev.name.c_str(),
                    fmt::format("id {}", state->id).c_str());
        for (const auto& [key, value] : state->value.items())
            std::printf("  %-22s %s\n", key.c_str(),
                        value.is_string() ? value.get<std::string>().c_str()
                                          : value.dump().c_str());
    }
} catch (const Error& e) {
    std::fprintf(stderr, "note: per-device state of %s not shown: %s\n", policy.c_str(), e.what());
}

int cmd_get(const Options& o, const ufq::Paths& p) {
    const auto tunables = ufq::get_tunables(o.name, p);
    if (!o.key.empty()) {
        for (const auto& t : tunables)
            if (t.name == o.key) {
                std::printf("%s\n", t.text(t.value).c_str());
                return 0;
            }
        std::vector<std::string> names;
        for (const auto& t : tunables)
            names.push_back(t.name);
        throw Error(fmt::format("{} has no tunable '{}'; its tunables: {}", o.name, o.key,
                                fmt::join(names, ", ")));
    }
    if (o.json) {
        auto j = nlohmann::json::object();
        // Numbers, enums too: one type per member whatever its value.
        for (const auto& t : tunables)
            j[t.name] = t.value < 0 ? nlohmann::json(static_cast<std::int64_t>(t.value))
                                    : nlohmann::json(static_cast<std::uint64_t>(t.value));
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }
    for (const auto& t : tunables)
        std::printf("%-20s %-12s (%s)\n", t.name.c_str(), t.text(t.value).c_str(),
                    describe(t).c_str());
    print_device_states(o.name, p);
    return 0;
}

int cmd_set(const Options& o, const ufq::Paths& p) {
    const auto tunables = ufq::set_tunables(o.name, o.assignments, p);
    std::vector<std::string> changed;
    for (const auto& a : o.assignments) {
        const std::string key = a.substr(0, a.find('='));
        for (const auto& t : tunables)
            if (t.name == key)
                changed.push_back(fmt::format("{}={}", key, t.text(t.value)));
    }
    std::printf("%s: %s\n", o.name.c_str(), fmt::format("{}", fmt::join(changed, " ")).c_str());
    return 0;
}

// ---- model -----------------------------------------------------------------------------------

int cmd_model_push(const Options& o, const ufq::Paths& p) {
    const std::uint64_t gen = ufq::push_model(o.name, o.file, p);
    std::printf("%s: model generation %llu is live\n", o.name.c_str(),
                static_cast<unsigned long long>(gen));
    return 0;
}

// "reads 1520, median 12%, p90 40%; writes none"
std::string pred_error_text(const ufq::PredError& e) {
    std::string text;
    for (int dir = 0; dir < 2; ++dir) {
        const auto s = ufq::summarize(e, dir);
        text += dir ? "; writes " : "reads ";
        text += s.count ? fmt::format("{}, median {}%, p90 {}%", s.count, s.median_pct, s.p90_pct)
                        : "none";
    }
    return text;
}

// The prediction error of `policy` for `generation`, added up over the devices it serves now,
// and their names; nullopt if the policy keeps none. Only an addition to the model: trouble
// reading it is a note, not a failure of `model show`.
std::optional<std::pair<ufq::PredError, std::vector<std::string>>>
policy_pred_error(const std::string& policy, std::uint64_t generation, const ufq::Paths& p) try {
    std::optional<std::pair<ufq::PredError, std::vector<std::string>>> total;
    for (const auto& dev : ufq::ufq_devices(p.sys)) {
        if (ufq::read_device_status(dev, p.sys).policy != policy)
            continue;
        const auto e = ufq::read_pred_error(policy, dev, generation, p);
        if (!e)
            continue;
        if (!total)
            total.emplace(ufq::PredError{}, std::vector<std::string>{});
        total->first.model_gen = generation;
        total->first.add(*e);
        total->second.push_back(dev.name);
    }
    return total;
} catch (const Error& e) {
    std::fprintf(stderr, "note: prediction error of %s not shown: %s\n", policy.c_str(), e.what());
    return std::nullopt;
}

int cmd_model_show(const Options& o, const ufq::Paths& p) {
    const auto m = ufq::show_model(o.name, p);
    const auto error = policy_pred_error(o.name, m.generation, p);
    if (o.json) {
        nlohmann::json j{{"policy", o.name}, {"map", m.map}, {"generation", m.generation},
                         {"weights", m.generation ? m.weights : nlohmann::json(nullptr)}};
        if (error) {
            j["pred_error"] = ufq::to_json(error->first);
            j["pred_error"]["devices"] = error->second;
        } else {
            j["pred_error"] = nullptr;
        }
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }
    if (!m.generation)
        std::printf("%s: no model pushed yet (map %s)\n", o.name.c_str(), m.map.c_str());
    else
        std::printf("%s: model generation %llu (map %s, slot %u)\n", o.name.c_str(),
                    static_cast<unsigned long long>(m.generation), m.map.c_str(), m.active);
    if (error)
        std::printf("  prediction error %s (%s): %s\n",
                    m.generation ? "since the push" : "of the built-in predictor",
                    fmt::format("{}", fmt::join(error->second, ", ")).c_str(),
                    pred_error_text(error->first).c_str());
    if (!m.generation)
        return 0;
    for (const auto& [key, value] : m.weights.items())
        std::printf("  %s = %s\n", key.c_str(), value.dump().c_str());
    return 0;
}

// ---- stats -----------------------------------------------------------------------------------

struct Sample {
    ufq::DeviceStatus status;
    std::optional<ufq::LatencyHistogram> latency;
    std::chrono::steady_clock::time_point at;
    std::optional<ufq::ClassLatency> classes; // policies with ufq_sdk_completed_class()
    std::optional<ufq::TenantFigures> tenants; // with --tenants, policies that show them
    std::optional<ufq::PredError> pred_error;  // policies with ufq_sdk_pred_error()
};

Sample take_sample(const ufq::BlockDevice& dev, const Options& o, const ufq::Paths& p) {
    Sample s{ufq::read_device_status(dev, p.sys), std::nullopt, std::chrono::steady_clock::now(),
             std::nullopt, std::nullopt, std::nullopt};
    if (s.status.on_ufq && s.status.policy != "none") {
        s.latency = ufq::read_latency(s.status.policy, dev, p);
        s.classes = ufq::read_class_latency(s.status.policy, dev, p);
        s.pred_error = ufq::read_pred_error(
            s.status.policy, dev, ufq::live_model_generation(s.status.policy, p), p);
        if (o.tenants)
            s.tenants = ufq::device_tenant_figures(s.status.policy, dev, !o.json, p);
    }
    return s;
}

std::string fmt_us(double us, std::uint64_t count) {
    if (!count)
        return "-";
    if (us < 1000)
        return fmt::format("{:.0f}us", us);
    if (us < 1e6)
        return fmt::format("{:.2f}ms", us / 1000);
    return fmt::format("{:.2f}s", us / 1e6);
}

// The latency window of a histogram: since load in the first sample, the interval afterwards
// (`earlier` is the histogram of the sample before, when it had one of the same policy).
std::array<ufq::LatencySummary, 2> window(const ufq::LatencyHistogram& now,
                                          const ufq::LatencyHistogram* earlier) {
    std::array<ufq::LatencySummary, 2> out{};
    const auto h = earlier ? now.since(*earlier) : now;
    for (std::size_t dir = 0; dir < 2; ++dir)
        out[dir] = ufq::summarize(h.count[dir], h.sum_ns[dir]);
    return out;
}

std::array<ufq::LatencySummary, 2> window(const Sample& now, const Sample* before) {
    if (!now.latency)
        return {};
    const bool same = before && before->latency && before->status.policy == now.status.policy;
    return window(*now.latency, same ? &*before->latency : nullptr);
}

// Each class of the sample (those with completions since load), in its window.
std::map<std::uint32_t, std::array<ufq::LatencySummary, 2>> class_windows(const Sample& now,
                                                                          const Sample* before) {
    std::map<std::uint32_t, std::array<ufq::LatencySummary, 2>> out;
    if (!now.classes)
        return out;
    const bool same = before && before->classes && before->status.policy == now.status.policy;
    for (const auto& [cls, h] : *now.classes) {
        const ufq::LatencyHistogram* earlier = nullptr;
        if (same) {
            const auto it = before->classes->find(cls);
            static const ufq::LatencyHistogram empty;
            earlier = it != before->classes->end() ? &it->second : &empty;
        }
        out[cls] = window(h, earlier);
    }
    return out;
}

double iops(const Sample& now, const Sample* before) {
    if (!before)
        return NAN;
    const double secs = std::chrono::duration<double>(now.at - before->at).count();
    const auto c = ufq::counter(now.status.counters, "completed");
    const auto b = ufq::counter(before->status.counters, "completed");
    return secs > 0 && c >= b ? static_cast<double>(c - b) / secs : NAN;
}

// The cgroup paths of tenants, by id, for the samples of --tenants.
using CgroupPaths = std::map<std::uint64_t, std::filesystem::path>;

void print_json_sample(const Sample& s, const Sample* before, const Options& o,
                       const CgroupPaths& cgroups) {
    auto j = ufq::to_json(s.status);
    j.erase("registered");
    j["time"] = std::chrono::duration<double>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    const double rate = iops(s, before);
    j["iops"] = std::isnan(rate) ? nlohmann::json(nullptr) : nlohmann::json(std::round(rate));
    j["latency_window"] = before ? "interval" : "since_load";
    if (s.latency) {
        const auto w = window(s, before);
        j["latency"] = {{"read", ufq::to_json(w[0])}, {"write", ufq::to_json(w[1])}};
    } else {
        j["latency"] = nullptr;
    }
    if (s.classes) {
        j["classes"] = nlohmann::json::object();
        for (const auto& [cls, w] : class_windows(s, before))
            j["classes"][std::to_string(cls)] = {{"read", ufq::to_json(w[0])},
                                                 {"write", ufq::to_json(w[1])}};
    } else {
        j["classes"] = nullptr;
    }
    if (o.tenants)
        j["tenants"] = s.tenants ? tenant_figures_json(*s.tenants, cgroups) : nlohmann::json();
    // Since the live model was pushed, not per interval: the figure a push is judged by.
    j["pred_error"] = s.pred_error ? ufq::to_json(*s.pred_error) : nlohmann::json(nullptr);
    std::printf("%s\n", j.dump().c_str());
}

void print_table(const std::vector<Sample>& now, const std::vector<Sample>& before, double interval,
                 const CgroupPaths& cgroups) {
    if (isatty(STDOUT_FILENO))
        std::printf("\033[H\033[2J"); // a refreshing view on a terminal, a log otherwise
    const std::time_t t = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof(stamp), "%H:%M:%S", std::localtime(&t));
    std::printf("ufqctl stats %s, %s (latency: insertion to completion)\n", stamp,
                before.empty() ? "latency since load" : fmt::format("every {:g} s", interval).c_str());
    std::printf("%-10s %-12s %-8s %7s %7s %6s | %7s %8s %8s %8s | %7s %8s %8s %8s\n", "DEVICE",
                "POLICY", "STATE", "IOPS", "WAITING", "ERRORS", "READS", "P50", "P99", "P99.9",
                "WRITES", "P50", "P99", "P99.9");
    for (std::size_t i = 0; i < now.size(); ++i) {
        const Sample& s = now[i];
        const Sample* b = before.empty() ? nullptr : &before[i];
        const auto w = window(s, b);
        const double rate = iops(s, b);
        std::printf("%-10s %-12s %-8s %7s %7llu %6llu | %7llu %8s %8s %8s | %7llu %8s %8s %8s\n",
                    s.status.device.name.c_str(), s.status.on_ufq ? s.status.policy.c_str() : "(not ufq)",
                    s.status.on_ufq ? s.status.state.c_str() : "-",
                    std::isnan(rate) ? "-" : fmt::format("{:.0f}", rate).c_str(),
                    static_cast<unsigned long long>(ufq::counter(s.status.counters, "waiting")),
                    static_cast<unsigned long long>(ufq::counter(s.status.counters, "policy_errors")),
                    static_cast<unsigned long long>(w[0].count),
                    fmt_us(w[0].p50_us, w[0].count).c_str(), fmt_us(w[0].p99_us, w[0].count).c_str(),
                    fmt_us(w[0].p999_us, w[0].count).c_str(),
                    static_cast<unsigned long long>(w[1].count),
                    fmt_us(w[1].p50_us, w[1].count).c_str(), fmt_us(w[1].p99_us, w[1].count).c_str(),
                    fmt_us(w[1].p999_us, w[1].count).c_str());
        for (const auto& [cls, cw] : class_windows(s, b))
            std::printf("%-10s %-44s | %7llu %8s %8s %8s | %7llu %8s %8s %8s\n", "",
                        fmt::format("  class {}", cls).c_str(),
                        static_cast<unsigned long long>(cw[0].count),
                        fmt_us(cw[0].p50_us, cw[0].count).c_str(),
                        fmt_us(cw[0].p99_us, cw[0].count).c_str(),
                        fmt_us(cw[0].p999_us, cw[0].count).c_str(),
                        static_cast<unsigned long long>(cw[1].count),
                        fmt_us(cw[1].p50_us, cw[1].count).c_str(),
                        fmt_us(cw[1].p99_us, cw[1].count).c_str(),
                        fmt_us(cw[1].p999_us, cw[1].count).c_str());
        if (s.pred_error)
            std::printf("%-10s   prediction error %s: %s\n", "",
                        s.pred_error->model_gen
                            ? fmt::format("since model generation {} was pushed",
                                          s.pred_error->model_gen)
                                  .c_str()
                            : "before any model was pushed",
                        pred_error_text(*s.pred_error).c_str());
        if (!s.tenants)
            continue;
        for (const auto& [id, figures] : *s.tenants) {
            const auto it = cgroups.find(id);
            const std::string name = it != cgroups.end() ? it->second.string()
                                                         : fmt::format("(deleted, id {})", id);
            std::printf("%-10s   tenant %s: %s\n", "", name.c_str(),
                        figures_text(figures).c_str());
        }
    }
    std::fflush(stdout);
}

// Sleeps `secs`, waking early when interrupted; false if interrupted.
bool pause(double secs) {
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(secs));
    while (!g_stop.load()) {
        const auto left = until - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero())
            return true;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            left, std::chrono::milliseconds(100)));
    }
    return false;
}

int cmd_stats(const Options& o, const ufq::Paths& p) {
    ufq::require_root();
    const auto devices = chosen_or_ufq_devices(o, p);
    if (devices.empty())
        throw Error("no device uses the ufq elevator (ufqctl load POLICY.bpf.o --dev DEV)");
    catch_interrupts();
    std::vector<Sample> before;
    for (unsigned n = 0; !g_stop.load() && (o.count == 0 || n < o.count); ++n) {
        if (n > 0 && !pause(o.interval))
            break;
        std::vector<Sample> now;
        for (const auto& dev : devices)
            now.push_back(take_sample(dev, o, p));
        // Groups come and go while stats runs: their paths are looked up afresh each sample.
        const CgroupPaths cgroups = o.tenants ? mounted_cgroup_paths() : CgroupPaths{};
        if (o.json) {
            for (std::size_t i = 0; i < now.size(); ++i)
                print_json_sample(now[i], before.empty() ? nullptr : &before[i], o, cgroups);
            std::fflush(stdout);
        } else {
            print_table(now, before, o.interval, cgroups);
        }
        before = std::move(now);
    }
    return 0;
}

// ---- trace -----------------------------------------------------------------------------------

int cmd_trace_record(const Options& o, const ufq::Paths& p) {
    ufq::require_root();
    const auto dev = resolve_all(o.devices, p).front();
    catch_interrupts();
    const auto result = ufq::record_trace(dev, o.duration, o.file, g_stop, p);
    std::printf("%s: %llu events from policy %s in %s", dev.name.c_str(),
                static_cast<unsigned long long>(result.events), result.policy.c_str(),
                o.file.c_str());
    if (result.dropped)
        std::printf(" (%llu dropped: the ring buffer was full)",
                    static_cast<unsigned long long>(result.dropped));
    std::printf("\n");
    return 0;
}

} // namespace

int run(const Options& o, const ufq::Paths& p) {
    const std::string& c = o.command;
    if (c == "load")
        return cmd_load(o, p);
    if (c == "unload") {
        ufq::unload_policy(o.name, o.keep_ufq, p);
        std::printf("unloaded policy %s\n", o.name.c_str());
        return 0;
    }
    if (c == "swap")
        return cmd_swap(o, p);
    if (c == "bind")
        return cmd_bind(o, p);
    if (c == "unbind")
        return cmd_unbind(o, p);
    if (c == "list") {
        ufq::require_root();
        for (const auto& policy : ufq::loaded_policies(p))
            std::printf("%s\n", policy.c_str());
        return 0;
    }
    if (c == "status")
        return cmd_status(o, p);
    if (c == "get")
        return cmd_get(o, p);
    if (c == "set")
        return cmd_set(o, p);
    if (c == "tenant set")
        return cmd_tenant_set(o, p);
    if (c == "tenant del")
        return cmd_tenant_del(o, p);
    if (c == "tenant list")
        return cmd_tenant_list(o, p);
    if (c == "model push")
        return cmd_model_push(o, p);
    if (c == "model show")
        return cmd_model_show(o, p);
    if (c == "model train")
        return cmd_model_train(o);
    if (c == "stats")
        return cmd_stats(o, p);
    if (c == "trace record")
        return cmd_trace_record(o, p);
    throw Error(fmt::format("unknown command '{}'", c));
}

} // namespace ufqctl
