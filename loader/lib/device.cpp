#include "ufq/device.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/sysfs.hpp"

namespace ufq {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSpecHelp = "give a disk name like nvme0n1, a /dev path, or MAJ:MIN";

struct DevNumber {
    unsigned major;
    unsigned minor;
};

std::optional<unsigned> parse_unsigned(std::string_view text) {
    unsigned value = 0;
    const char* const end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc{} || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// "259:0" as typed by a user or found in a sysfs `dev` attribute.
std::optional<DevNumber> parse_dev_number(std::string_view text) {
    const auto colon = text.find(':');
    if (colon == std::string_view::npos) {
        return std::nullopt;
    }
    const auto major = parse_unsigned(text.substr(0, colon));
    const auto minor = parse_unsigned(text.substr(colon + 1));
    if (!major || !minor) {
        return std::nullopt;
    }
    return DevNumber{*major, *minor};
}

[[noreturn]] void throw_no_device(std::string_view spec) {
    throw Error(fmt::format("no block device '{}' (see lsblk for device names)", spec));
}

// Each block device, disk or partition, is a directory /sys/class/block/<name> (a symlink into
// /sys/devices) holding its `dev` number; a partition's directory also has `partition`, and
// sits inside its disk's directory.
fs::path class_block_dir(const SysfsRoot& sys, std::string_view name) {
    return sys.sys / "class" / "block" / name;
}

DevNumber read_dev_number(const fs::path& device_dir) {
    const fs::path attr = device_dir / "dev";
    const std::string text = read_sysfs(attr);
    const auto number = parse_dev_number(text);
    if (!number) {
        throw Error(fmt::format("unexpected content '{}' in {} (expected MAJ:MIN, e.g. 259:0)",
                                text, attr.string()));
    }
    return *number;
}

fs::path canonical_or_throw(const fs::path& path, std::string_view spec) {
    std::error_code ec;
    fs::path result = fs::canonical(path, ec);
    if (ec) {
        throw Error(
            fmt::format("cannot resolve '{}' via {}: {}", spec, path.string(), ec.message()),
            ec.value());
    }
    return result;
}

BlockDevice whole_disk(std::string name, const fs::path& dir) {
    const DevNumber number = read_dev_number(dir);
    return BlockDevice{std::move(name), number.major, number.minor, {}};
}

// The disk called `name`, or the disk holding partition `name`. `spec` is what the user typed,
// for error messages.
BlockDevice by_name(std::string_view name, const SysfsRoot& sys, std::string_view spec) {
    // "." and ".." would walk out of /sys/class/block rather than name a device in it.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
        throw_no_device(spec);
    }
    const fs::path dir = class_block_dir(sys, name);
    std::error_code ec;
    if (!fs::exists(dir / "dev", ec)) {
        throw_no_device(spec);
    }
    if (!fs::exists(dir / "partition", ec)) {
        return whole_disk(std::string(name), dir);
    }

    const fs::path disk_dir = canonical_or_throw(dir, spec).parent_path();
    const std::string disk = disk_dir.filename().string();
    if (!fs::exists(class_block_dir(sys, disk) / "dev", ec)) {
        throw Error(fmt::format("cannot find the disk of partition {} (expected {} to be a "
                                "block device in sysfs)",
                                name, disk_dir.string()));
    }
    BlockDevice device = whole_disk(disk, disk_dir);
    device.note = fmt::format("{} is a partition; using its disk {}", name, disk);
    return device;
}

// /sys/dev/block/<MAJ:MIN> links to the device's directory, whose name is the kernel name.
BlockDevice by_number(DevNumber number, const SysfsRoot& sys, std::string_view spec) {
    const fs::path link =
        sys.sys / "dev" / "block" / fmt::format("{}:{}", number.major, number.minor);
    std::error_code ec;
    if (!fs::exists(link, ec)) {
        throw Error(fmt::format("no block device with number {}:{} (see lsblk for MAJ:MIN "
                                "numbers)",
                                number.major, number.minor));
    }
    return by_name(canonical_or_throw(link, spec).filename().string(), sys, spec);
}

// "/dev/..." is read relative to SysfsRoot::dev, so a fake tree can stand in for /dev. Any
// other path is taken as it is.
fs::path rebase_dev_path(std::string_view spec, const SysfsRoot& sys) {
    constexpr std::string_view kDev = "/dev/";
    if (spec.starts_with(kDev)) {
        return sys.dev / spec.substr(kDev.size());
    }
    return fs::path(spec);
}

BlockDevice by_path(std::string_view spec, const SysfsRoot& sys) {
    const fs::path path = rebase_dev_path(spec, sys);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        throw_no_device(spec);
    }
    const fs::path target = canonical_or_throw(path, spec);

    struct stat st {};
    if (::stat(target.c_str(), &st) != 0) {
        const int err = errno;
        throw Error(fmt::format("cannot stat '{}': {}", target.string(), errno_text(err)), err);
    }
    // The normal case: a device node, whose number sysfs maps to a name.
    if (S_ISBLK(st.st_mode)) {
        return by_number(DevNumber{::major(st.st_rdev), ::minor(st.st_rdev)}, sys, spec);
    }
    // Not a node, but an entry directly in the /dev root named like a block device: go by the
    // name. Real /dev has nodes; this is what fake trees without mknod rights look like.
    const fs::path dev_root = fs::canonical(sys.dev, ec);
    if (!ec && target.parent_path() == dev_root) {
        const std::string name = target.filename().string();
        if (fs::exists(class_block_dir(sys, name) / "dev", ec)) {
            return by_name(name, sys, spec);
        }
    }
    throw Error(fmt::format("'{}' is not a block device ({})", spec, kSpecHelp));
}

} // namespace

BlockDevice resolve_device(std::string_view spec, const SysfsRoot& sys) {
    const std::string_view text = trim(spec);
    if (text.empty()) {
        throw Error(fmt::format("empty device name ({})", kSpecHelp));
    }
    // Kernel names never contain '/', and paths may contain ':' (/dev/disk/by-path/pci-0000:...),
    // so check for a path first.
    if (text.find('/') != std::string_view::npos) {
        return by_path(text, sys);
    }
    if (text.find(':') != std::string_view::npos) {
        const auto number = parse_dev_number(text);
        if (!number) {
            throw Error(
                fmt::format("malformed device number '{}' (expected MAJ:MIN, e.g. 259:0)", text));
        }
        return by_number(*number, sys, text);
    }
    return by_name(text, sys, text);
}

} // namespace ufq
