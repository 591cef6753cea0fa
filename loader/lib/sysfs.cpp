#include "ufq/sysfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "unique_fd.hpp"

namespace ufq {
namespace {

// A sysfs attribute is at most one page; anything much bigger is not one, and reading on
// (from /dev/zero, say) would never end.
constexpr std::size_t kMaxSysfsFileSize = 64 * 1024;

[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path, int err) {
    throw Error(fmt::format("cannot {} {}: {}", what, path.string(), errno_text(err)), err);
}

UniqueFd open_or_throw(const std::filesystem::path& path, int flags, std::string_view what) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd.valid()) {
        throw_errno(what, path, errno);
    }
    return fd;
}

} // namespace

std::string_view trim(std::string_view text) noexcept {
    constexpr std::string_view kSpace = " \t\n\r\f\v";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(kSpace);
    return text.substr(first, last - first + 1);
}

std::string read_sysfs(const std::filesystem::path& path) {
    const UniqueFd fd = open_or_throw(path, O_RDONLY, "read");
    std::string content;
    std::array<char, 4096> buffer{};
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("read", path, errno);
        }
        if (n == 0) {
            break;
        }
        content.append(buffer.data(), static_cast<std::size_t>(n));
        if (content.size() > kMaxSysfsFileSize) {
            throw Error(fmt::format("{} is larger than {} KiB, so not a sysfs attribute (check "
                                    "the path)",
                                    path.string(), kMaxSysfsFileSize / 1024));
        }
    }
    return std::string(trim(content));
}

void write_sysfs(const std::filesystem::path& path, std::string_view value) {
    // O_TRUNC is what a shell's `echo x > attr` does; sysfs ignores it, regular files (as in
    // tests) need it.
    const UniqueFd fd = open_or_throw(path, O_WRONLY | O_TRUNC, "write");
    ssize_t n = 0;
    do {
        n = ::write(fd.get(), value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        throw_errno("write", path, errno);
    }
    if (static_cast<std::size_t>(n) != value.size()) {
        throw Error(fmt::format("short write to {} ({} of {} bytes); the attribute took only "
                                "part of the value",
                                path.string(), n, value.size()),
                    EIO);
    }
}

} // namespace ufq
