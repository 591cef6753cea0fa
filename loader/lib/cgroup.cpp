#include "ufq/cgroup.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "errno_text.hpp"
#include "ufq/error.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

// include/linux/exportfs.h: the handle kernfs gives, the node's 64-bit id.
constexpr int kFileidKernfs = 0xfe;

// A mount point as /proc/self/mounts writes it: space, tab, newline and backslash as \ooo.
std::string unescape_mount_field(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            const std::string_view digits = text.substr(i + 1, 3);
            if (digits.find_first_not_of("01234567") == std::string::npos) {
                out.push_back(static_cast<char>(std::stoi(std::string(digits), nullptr, 8)));
                i += 3;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

} // namespace

std::uint64_t cgroup_id(const fs::path& dir) {
    struct {
        struct file_handle handle;
        unsigned char bytes[MAX_HANDLE_SZ];
    } fh{};
    fh.handle.handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    if (name_to_handle_at(AT_FDCWD, dir.c_str(), &fh.handle, &mount_id, 0) == 0 &&
        fh.handle.handle_type == kFileidKernfs && fh.handle.handle_bytes == sizeof(std::uint64_t)) {
        std::uint64_t id = 0;
        std::memcpy(&id, fh.handle.f_handle, sizeof(id));
        return id;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        throw Error(fmt::format("cannot read cgroup {}: {}", dir.string(), errno_text(errno)),
                    errno);
    return st.st_ino;
}

void check_cgroup2_filesystem(const fs::path& path) {
    struct statfs st {};
    if (::statfs(path.c_str(), &st) != 0)
        throw Error(fmt::format("cannot read {}: {}", path.string(), errno_text(errno)), errno);
    if (st.f_type == CGROUP2_SUPER_MAGIC)
        return;
    if (st.f_type == CGROUP_SUPER_MAGIC)
        throw Error(fmt::format("{} is on a cgroup v1 hierarchy; ufq tenants are cgroup v2 groups "
                                "(see where cgroup2 is mounted: findmnt -t cgroup2)",
                                path.string()));
    throw Error(fmt::format("{} is not on a cgroup2 filesystem, so it is not a cgroup (cgroup2 "
                            "is usually mounted at /sys/fs/cgroup: findmnt -t cgroup2)",
                            path.string()));
}

void check_io_controller(const fs::path& dir) {
    const fs::path controllers = dir / "cgroup.controllers";
    std::ifstream in(controllers);
    if (!in)
        throw Error(fmt::format("{} is not a cgroup directory (it has no cgroup.controllers)",
                                dir.string()));
    for (std::string word; in >> word;)
        if (word == "io")
            return;
    const fs::path parent = dir.parent_path();
    throw Error(fmt::format("cgroup {} does not have the io controller, so its I/O is charged to "
                            "an ancestor and a tenant entry for it would never match: echo +io "
                            "> {}/cgroup.subtree_control",
                            dir.string(), parent.string()));
}

std::uint64_t resolve_io_cgroup(const fs::path& path) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (!fs::exists(status))
        throw Error(fmt::format("no such cgroup: {} does not exist", path.string()));
    check_cgroup2_filesystem(path);
    if (!fs::is_directory(status))
        throw Error(fmt::format("{} is a file in a cgroup, not a cgroup (give its directory)",
                                path.string()));
    check_io_controller(path);
    return cgroup_id(path);
}

std::optional<fs::path> cgroup2_mount(std::istream& mounts) {
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream fields(line);
        std::string device, mount_point, type;
        if (fields >> device >> mount_point >> type && type == "cgroup2")
            return fs::path(unescape_mount_field(mount_point));
    }
    return std::nullopt;
}

std::optional<fs::path> cgroup2_mount() {
    std::ifstream mounts("/proc/self/mounts");
    return cgroup2_mount(mounts);
}

std::map<std::uint64_t, fs::path> cgroup_paths(const fs::path& root) {
    std::map<std::uint64_t, fs::path> out;
    auto add = [&out](const fs::path& dir) {
        try {
            out.emplace(cgroup_id(dir), dir);
        } catch (const Error&) { // removed while we walked
        }
    };
    add(root);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(
             root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec))
            add(it->path());
        else
            it.disable_recursion_pending();
    }
    return out;
}

} // namespace ufq
