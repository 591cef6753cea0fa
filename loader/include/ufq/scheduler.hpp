#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ufq/device.hpp"
#include "ufq/sysfs_root.hpp"

namespace ufq {

// A disk's /sys/block/<dev>/queue/scheduler, e.g. "none [mq-deadline] kyber bfq ufq".
struct SchedulerState {
    std::vector<std::string> available; // in the kernel's order
    std::string active;                 // the bracketed one; "none" when there is no elevator
    // False for bio-based devices (zram, most device-mapper targets), which have no request
    // queue and so can never use an elevator. Older kernels show them a bare "none"; recent
    // ones (6.12 included) have no queue/scheduler for them. Both read as {"none"}, "none".
    bool elevator_capable = true;

    [[nodiscard]] bool offers(std::string_view name) const;
};

// Parses the attribute's text; nullopt if it does not look like a scheduler list. A lone
// "none" without brackets (what bio-based queues show) is active "none", not elevator_capable.
[[nodiscard]] std::optional<SchedulerState> parse_scheduler(std::string_view text);

// Throws ufq::Error if `dev` is not a disk in sysfs or the attribute cannot be read or parsed.
[[nodiscard]] SchedulerState read_scheduler(const BlockDevice& dev, const SysfsRoot& sys = {});

// Switches `dev` to elevator `name`. Checks first that the kernel offers it, so that a typo or
// a kernel without ufq gets an error naming the choices rather than the kernel's bare EINVAL;
// a bio-based device gets an error saying it cannot have an elevator. Does nothing if `name` is
// already active.
void set_scheduler(const BlockDevice& dev, std::string_view name, const SysfsRoot& sys = {});

// Throws the error set_scheduler(dev, name) would for an elevator `dev` cannot take (a bio-based
// device, an elevator the kernel does not offer), without changing anything.
void check_scheduler_offered(const BlockDevice& dev, std::string_view name,
                             const SysfsRoot& sys = {});

// The message set_scheduler throws when writing queue/scheduler fails with errno `err`.
// Public so the mapping can be tested without a kernel that fails on demand.
[[nodiscard]] std::string describe_scheduler_write_error(const BlockDevice& dev,
                                                         std::string_view name, int err);

} // namespace ufq
