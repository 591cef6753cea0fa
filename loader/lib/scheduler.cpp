#include "ufq/scheduler.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/sysfs.hpp"

namespace ufq {
namespace {

std::filesystem::path scheduler_path(const BlockDevice& dev, const SysfsRoot& sys) {
    return sys.sys / "block" / dev.name / "queue" / "scheduler";
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
    constexpr std::string_view kSpace = " \t\n\r\f\v";
    std::vector<std::string_view> words;
    std::size_t pos = text.find_first_not_of(kSpace);
    while (pos != std::string_view::npos) {
        const std::size_t end = text.find_first_of(kSpace, pos);
        words.push_back(text.substr(pos, end == std::string_view::npos ? end : end - pos));
        pos = text.find_first_not_of(kSpace, end);
    }
    return words;
}

bool is_bracketed(std::string_view word) {
    return word.size() >= 2 && word.front() == '[' && word.back() == ']';
}

// Whether `name` could appear in the list at all: one non-empty word without brackets.
bool is_plain_name(std::string_view name) {
    return !name.empty() && name.find_first_of(" \t\n\r\f\v[]") == std::string_view::npos;
}

// How a queue that can never have an elevator is described (see elevator_capable).
SchedulerState bio_based_state() {
    return SchedulerState{{"none"}, "none", false};
}

std::string list_available(const SchedulerState& state) {
    return fmt::format("{}", fmt::join(state.available, ", "));
}

[[noreturn]] void throw_not_offered(const BlockDevice& dev, std::string_view name,
                                    const SchedulerState& state) {
    if (!state.elevator_capable) {
        throw Error(fmt::format("{} is a bio-based device and cannot use an I/O scheduler "
                                "(choose a disk that has /sys/block/<name>/queue/scheduler)",
                                dev.name));
    }
    if (name == "ufq") {
        throw Error(fmt::format("the running kernel has no ufq elevator ({} offers: {}); boot a "
                                "kernel built with CONFIG_IOSCHED_UFQ (if it is a module, "
                                "modprobe ufq-iosched)",
                                dev.name, list_available(state)));
    }
    throw Error(fmt::format("'{}' is not an I/O scheduler of {} (available: {})", name, dev.name,
                            list_available(state)));
}

} // namespace

bool SchedulerState::offers(std::string_view name) const {
    return std::find(available.begin(), available.end(), name) != available.end();
}

std::optional<SchedulerState> parse_scheduler(std::string_view text) {
    SchedulerState state;
    for (const std::string_view word : split_whitespace(text)) {
        std::string_view name = word;
        if (is_bracketed(word)) {
            name = word.substr(1, word.size() - 2);
            if (!state.active.empty()) {
                return std::nullopt; // two active elevators
            }
            state.active = name;
        }
        if (!is_plain_name(name)) {
            return std::nullopt;
        }
        state.available.emplace_back(name);
    }
    if (state.active.empty() && state.available == std::vector<std::string>{"none"}) {
        return bio_based_state();
    }
    if (state.active.empty()) {
        return std::nullopt;
    }
    return state;
}

SchedulerState read_scheduler(const BlockDevice& dev, const SysfsRoot& sys) {
    const auto path = scheduler_path(dev, sys);
    std::string text;
    try {
        text = read_sysfs(path);
    } catch (const Error& e) {
        if (e.sys_errno() != ENOENT) {
            throw;
        }
        // Recent kernels (the 6.12 VM kernel included) hide queue/scheduler of bio-based
        // devices; their queue directory is still there.
        std::error_code ec;
        if (std::filesystem::is_directory(path.parent_path(), ec)) {
            return bio_based_state();
        }
        throw Error(fmt::format("no disk '{}' in {} (see lsblk for disk names)", dev.name,
                                (sys.sys / "block").string()),
                    ENOENT);
    }
    auto state = parse_scheduler(text);
    if (!state) {
        throw Error(fmt::format("unexpected content '{}' in {} (expected a list like "
                                "'none [mq-deadline] kyber')",
                                text, path.string()));
    }
    return std::move(*state);
}

std::string describe_scheduler_write_error(const BlockDevice& dev, std::string_view name, int err) {
    switch (err) {
    case EACCES:
    case EPERM:
        return fmt::format("setting the I/O scheduler of {} needs root (run as root or with "
                           "sudo)",
                           dev.name);
    case EINVAL:
        return fmt::format("the kernel refused I/O scheduler '{}' for {} (EINVAL; see dmesg "
                           "for why)",
                           name, dev.name);
    case EBUSY:
        return fmt::format("{} is busy and cannot switch I/O scheduler to '{}' now (EBUSY; try "
                           "again in a moment)",
                           dev.name, name);
    case EROFS:
        return fmt::format("cannot set the I/O scheduler of {}: sysfs is mounted read-only "
                           "(in a container? run on the host or VM)",
                           dev.name);
    default:
        return fmt::format("cannot set I/O scheduler '{}' for {}: {}", name, dev.name,
                           errno_text(err));
    }
}

void check_scheduler_offered(const BlockDevice& dev, std::string_view name, const SysfsRoot& sys) {
    const SchedulerState state = read_scheduler(dev, sys);
    if (!is_plain_name(name) || !state.offers(name)) {
        throw_not_offered(dev, name, state);
    }
}

void set_scheduler(const BlockDevice& dev, std::string_view name, const SysfsRoot& sys) {
    const SchedulerState state = read_scheduler(dev, sys);
    if (!is_plain_name(name)) {
        throw Error(fmt::format("invalid I/O scheduler name '{}' (available for {}: {})", name,
                                dev.name, list_available(state)));
    }
    if (!state.offers(name)) {
        throw_not_offered(dev, name, state);
    }
    if (state.active == name) {
        spdlog::debug("{}: I/O scheduler is already {}", dev.name, name);
        return;
    }
    try {
        write_sysfs(scheduler_path(dev, sys), name);
    } catch (const Error& e) {
        if (e.sys_errno() == 0) {
            throw;
        }
        throw Error(describe_scheduler_write_error(dev, name, e.sys_errno()), e.sys_errno());
    }
    spdlog::debug("{}: I/O scheduler {} -> {}", dev.name, state.active, name);
}

} // namespace ufq
