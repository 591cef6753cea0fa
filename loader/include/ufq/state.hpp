#pragma once

// ufqctl's own state under /run/ufq: the locks that serialise commands across processes, the
// record of what each device used before ufqctl bound it to a policy, and files written there
// (verifier logs). Everything here runs as root in a directory only root may write.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "ufq/policy.hpp"

namespace ufq {

// Creates `dir` if needed (mode 0700) and checks that it is safe for root to create files in:
// a directory itself (not a symlink to one), owned by the calling user, writable by nobody
// else. Throws ufq::Error otherwise.
void ensure_state_dir(const std::filesystem::path& dir);

// Writes `text` to `path` (created 0600 or truncated) without following a symlink at `path`
// and refusing anything but a regular file there; every write is checked. Throws ufq::Error.
void write_private_file(const std::filesystem::path& path, std::string_view text);

// An exclusive flock(2) on a lock file, held while the object lives. The file is created when
// the lock is taken and removed when it is released, so that no lock file outlives a command;
// a process that was waiting on a file removed in the meantime notices (the path no longer
// names the inode it locked) and locks the new one instead.
class LockFile {
public:
    // Blocks until the lock is held; throws ufq::Error if the file cannot be opened or locked.
    explicit LockFile(std::filesystem::path path);
    ~LockFile();
    LockFile(LockFile&& other) noexcept;
    LockFile& operator=(LockFile&&) = delete;
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;

    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
    int fd_ = -1;
};

// The lock of one policy: taken by every command that changes it (load, unload, swap, set,
// model push, switching a trace recording). Ensures the state directory exists.
[[nodiscard]] LockFile lock_policy(const Paths& paths, const std::string& policy);

// The lock of the device records (and so of binding devices through ufqctl): taken after any
// policy lock, never before one.
[[nodiscard]] LockFile lock_devices(const Paths& paths);

// What ufqctl remembers about a device it bound to a policy, so that unloading the policy can
// give the device back what it had.
struct DeviceRecord {
    std::string name;     // kernel name (/sys/block/<name>)
    std::string dev;      // "MAJ:MIN" when recorded: a different disk may reuse the name later
    std::string elevator; // its elevator before ufqctl first bound it ("ufq" if already on ufq)
    // Policies it was bound to, oldest first; the last is the one ufqctl bound it to last.
    // Unloading a policy removes it from the list and, if it was serving the device, binds the
    // device to the newest earlier policy still registered, or restores `elevator`.
    std::vector<std::string> policies;

    friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

// Reads the device records file (no file: no records). Throws ufq::Error if it cannot be read
// or is not what write_device_records writes: a corrupt file is never taken for an empty one.
[[nodiscard]] std::vector<DeviceRecord> read_device_records(const std::filesystem::path& file);

// Replaces the file atomically (a new file under a unique name, then rename), or removes it
// when `records` is empty. Throws ufq::Error if anything fails; the old file is then intact.
void write_device_records(const std::filesystem::path& file,
                          const std::vector<DeviceRecord>& records);

} // namespace ufq
