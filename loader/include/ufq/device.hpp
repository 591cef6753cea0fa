#pragma once

#include <string>
#include <string_view>

#include "ufq/sysfs_root.hpp"

namespace ufq {

// A whole disk, the unit an I/O scheduler is attached to.
struct BlockDevice {
    std::string name; // kernel name, as in /sys/block (e.g. "nvme0n1")
    unsigned major = 0;
    unsigned minor = 0;
    // Empty, or one line telling the user the spec was taken to mean something else, e.g.
    // "nvme0n1p1 is a partition; using its disk nvme0n1".
    std::string note;
};

// Finds the disk a user means by `spec`, which is one of
//   - a kernel name:   nvme0n1
//   - a path:          /dev/nvme0n1, /dev/disk/by-id/... (symlinks are followed)
//   - a device number: 259:0
// A partition resolves to the disk holding it (with a note), since elevators belong to disks.
// Throws ufq::Error for an empty spec, a device that does not exist, a path that is not a block
// device, and a malformed MAJ:MIN.
[[nodiscard]] BlockDevice resolve_device(std::string_view spec, const SysfsRoot& sys = {});

} // namespace ufq
