#pragma once

#include <cstdint>
#include <filesystem>
#include <istream>
#include <map>
#include <optional>

namespace ufq {

// Cgroup v2 groups as ufq policies see them: by id (what ufq_bpf_rq_cgroup_id() returns for a
// request), which is the id of the group's directory on the cgroup2 filesystem.

// The id of cgroup directory `dir`: the kernfs node id that name_to_handle_at(2) returns on
// cgroupfs, else (on other filesystems, e.g. a test's fake tree) the inode number, which is
// the same number on cgroupfs on 64-bit machines. Throws ufq::Error if `dir` cannot be read.
[[nodiscard]] std::uint64_t cgroup_id(const std::filesystem::path& dir);

// Throws ufq::Error unless `path` is on a cgroup2 filesystem (statfs(2) magic), saying whether
// it is on a cgroup v1 hierarchy instead.
void check_cgroup2_filesystem(const std::filesystem::path& path);

// Throws ufq::Error unless the cgroup directory `dir` has the io controller (its own
// cgroup.controllers lists "io"). Without it the group's I/O is charged to the nearest ancestor
// that has it, so requests never carry this group's id; the error says how to enable it.
void check_io_controller(const std::filesystem::path& dir);

// What `ufqctl tenant set` accepts as a cgroup: an existing directory on a cgroup2 filesystem
// with the io controller. Returns its id; throws ufq::Error (one line) otherwise.
[[nodiscard]] std::uint64_t resolve_io_cgroup(const std::filesystem::path& path);

// Where cgroup2 is mounted, from /proc/self/mounts (`mounts` in its format); nullopt if it is
// not mounted.
[[nodiscard]] std::optional<std::filesystem::path> cgroup2_mount(std::istream& mounts);
[[nodiscard]] std::optional<std::filesystem::path> cgroup2_mount();

// The paths of the groups in the tree under `root` (a cgroup2 mount, or a fake tree) by id,
// `root` included. Directories that cannot be read are left out.
[[nodiscard]] std::map<std::uint64_t, std::filesystem::path> cgroup_paths(
    const std::filesystem::path& root);

} // namespace ufq
