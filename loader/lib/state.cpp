#include "ufq/state.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "unique_fd.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

void write_all(int fd, std::string_view text, const fs::path& path) {
    while (!text.empty()) {
        const ssize_t n = ::write(fd, text.data(), text.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw Error(fmt::format("cannot write {}: {}", path.string(),
                                    errno_text(n < 0 ? errno : EIO)));
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Closes `fd` and reports a failure: on some file systems that is where write errors show.
void close_checked(UniqueFd& fd, const fs::path& path) {
    if (::close(fd.release()) != 0)
        throw Error(fmt::format("cannot write {}: {}", path.string(), errno_text(errno)));
}

const char* kind_of(mode_t mode) {
    if (S_ISLNK(mode))
        return "a symbolic link";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISREG(mode))
        return "a regular file";
    return "a special file";
}

} // namespace

// ---- the state directory and files in it -------------------------------------------------------

void ensure_state_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw Error(fmt::format("cannot create {}: {}", dir.string(), errno_text(errno)));
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0)
        throw Error(fmt::format("cannot use {}: {}", dir.string(), errno_text(errno)));
    if (!S_ISDIR(st.st_mode))
        throw Error(fmt::format("refusing to use {}: it is {}, not a directory (remove it; "
                                "ufqctl creates it)",
                                dir.string(), kind_of(st.st_mode)));
    if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
        throw Error(fmt::format("refusing to use {}: it must be owned by uid {} and writable by "
                                "its owner only (it is uid {}, mode {:o})",
                                dir.string(), ::geteuid(), st.st_uid, st.st_mode & 07777));
}

void write_private_file(const fs::path& path, std::string_view text) {
    // O_NONBLOCK: a FIFO planted at the path must not hang us; it is refused below.
    UniqueFd fd(::open(path.c_str(),
                       O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (!fd.valid())
        throw Error(fmt::format("cannot write {}: {}", path.string(),
                                errno == ELOOP ? "it is a symbolic link" : errno_text(errno)));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(fmt::format("cannot write {}: it is not a regular file", path.string()));
    if (::ftruncate(fd.get(), 0) != 0)
        throw Error(fmt::format("cannot write {}: {}", path.string(), errno_text(errno)));
    write_all(fd.get(), text, path);
    close_checked(fd, path);
}

// ---- locks ---------------------------------------------------------------------------------------

LockFile::LockFile(fs::path path) : path_(std::move(path)) {
    for (;;) {
        UniqueFd fd(::open(path_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd.valid())
            throw Error(fmt::format("cannot open lock file {}: {}", path_.string(),
                                    errno_text(errno)));
        int rc = 0;
        do {
            rc = ::flock(fd.get(), LOCK_EX);
        } while (rc != 0 && errno == EINTR);
        if (rc != 0)
            throw Error(fmt::format("cannot lock {}: {}", path_.string(), errno_text(errno)));
        // The holder before us may have removed the file while we waited: then the lock we got
        // protects nothing, and the path names a new file (or none).
        struct stat held {};
        struct stat now {};
        if (::fstat(fd.get(), &held) != 0)
            throw Error(fmt::format("cannot lock {}: {}", path_.string(), errno_text(errno)));
        if (::lstat(path_.c_str(), &now) == 0 && now.st_dev == held.st_dev &&
            now.st_ino == held.st_ino) {
            fd_ = fd.release();
            return;
        }
    }
}

LockFile::~LockFile() {
    if (fd_ < 0)
        return;
    // Removed while still locked, so nobody can lock this file again after us.
    ::unlink(path_.c_str());
    ::close(fd_);
}

LockFile::LockFile(LockFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

LockFile lock_policy(const Paths& paths, const std::string& policy) {
    ensure_state_dir(paths.state);
    return LockFile(paths.policy_lock(policy));
}

LockFile lock_devices(const Paths& paths) {
    ensure_state_dir(paths.state);
    return LockFile(paths.devices_lock());
}

// ---- device records --------------------------------------------------------------------------------

namespace {

constexpr int kRecordsVersion = 1;

[[noreturn]] void corrupt(const fs::path& file, std::string_view why) {
    throw Error(fmt::format("{} is corrupt ({}); it records the elevators ufqctl must restore: "
                            "fix it by hand, or remove it to forget them",
                            file.string(), why));
}

} // namespace

std::vector<DeviceRecord> read_device_records(const fs::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT)
            return {};
        throw Error(fmt::format("cannot read {}: {}", file.string(), errno_text(errno)));
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw Error(fmt::format("cannot read {}: {}", file.string(), errno_text(errno)));
        if (n == 0)
            break;
        text.append(buf, static_cast<std::size_t>(n));
    }

    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        corrupt(file, "not JSON");
    }
    if (!j.is_object() || j.value("version", 0) != kRecordsVersion ||
        !j.contains("devices") || !j["devices"].is_array())
        corrupt(file, fmt::format("expected {{\"version\": {}, \"devices\": [...]}}",
                                  kRecordsVersion));
    std::vector<DeviceRecord> records;
    for (const auto& d : j["devices"]) {
        auto str = [&](const char* key) -> std::string {
            if (!d.is_object() || !d.contains(key) || !d[key].is_string() ||
                d[key].get<std::string>().empty())
                corrupt(file, fmt::format("a device without \"{}\"", key));
            return d[key].get<std::string>();
        };
        DeviceRecord r{str("name"), str("dev"), str("elevator"), {}};
        if (!d.contains("policies") || !d["policies"].is_array())
            corrupt(file, fmt::format("device {} has no \"policies\" list", r.name));
        for (const auto& p : d["policies"]) {
            if (!p.is_string() || p.get<std::string>().empty())
                corrupt(file, fmt::format("device {} has a policy that is not a name", r.name));
            r.policies.push_back(p.get<std::string>());
        }
        for (const auto& other : records)
            if (other.name == r.name)
                corrupt(file, fmt::format("device {} is recorded twice", r.name));
        records.push_back(std::move(r));
    }
    return records;
}

void write_device_records(const fs::path& file, const std::vector<DeviceRecord>& records) {
    if (records.empty()) {
        if (::unlink(file.c_str()) != 0 && errno != ENOENT)
            throw Error(fmt::format("cannot remove {}: {}", file.string(), errno_text(errno)));
        return;
    }
    nlohmann::json j{{"version", kRecordsVersion}, {"devices", nlohmann::json::array()}};
    for (const auto& r : records)
        j["devices"].push_back({{"name", r.name},
                                {"dev", r.dev},
                                {"elevator", r.elevator},
                                {"policies", r.policies}});
    const std::string text = j.dump(2) + "\n";

    // A unique name in the same directory (policy names have no '.'), then rename:
    // readers see the old file or the new one, never a part.
    std::string tmp = file.parent_path().string();
    tmp.append("/.").append(file.filename().string()).append(".XXXXXX");
    UniqueFd fd(::mkstemp(tmp.data()));
    if (!fd.valid())
        throw Error(fmt::format("cannot write {}: {}", file.string(), errno_text(errno)));
    try {
        write_all(fd.get(), text, file);
        if (::fsync(fd.get()) != 0)
            throw Error(fmt::format("cannot write {}: {}", file.string(), errno_text(errno)));
        close_checked(fd, file);
        if (::rename(tmp.c_str(), file.c_str()) != 0)
            throw Error(fmt::format("cannot replace {}: {}", file.string(), errno_text(errno)));
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
}

} // namespace ufq
