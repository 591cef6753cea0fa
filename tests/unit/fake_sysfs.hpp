#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "ufq/sysfs_root.hpp"

namespace ufq::test {

// A throwaway sysfs + /dev tree in a temporary directory, laid out like the real one:
//   sys/devices/.../block/<disk>[/<partition>]   with dev, partition, queue/{scheduler,...}
//   sys/class/block/<name>, sys/block/<disk>, sys/dev/block/<MAJ:MIN>   relative symlinks
//   dev/<name>                                    a regular file (no mknod needed)
// The directory is removed when the object goes away.
class FakeSysfs {
public:
    FakeSysfs();
    ~FakeSysfs();
    FakeSysfs(const FakeSysfs&) = delete;
    FakeSysfs& operator=(const FakeSysfs&) = delete;

    [[nodiscard]] const SysfsRoot& root() const { return root_; }
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

    // A disk with a request queue whose queue/scheduler reads `scheduler`.
    void add_disk(std::string_view name, unsigned major, unsigned minor,
                  std::string_view scheduler = "none [mq-deadline] kyber");
    // A bio-based disk as recent kernels show it: a queue directory without queue/scheduler.
    void add_bio_disk(std::string_view name, unsigned major, unsigned minor);
    void add_partition(std::string_view disk, std::string_view name, unsigned major,
                       unsigned minor);
    // A symlink at dev/<link> pointing to `target` (as given, usually relative).
    void add_dev_symlink(const std::filesystem::path& link, const std::filesystem::path& target);

    [[nodiscard]] std::filesystem::path scheduler_file(std::string_view disk) const;

private:
    std::filesystem::path device_dir(std::string_view disk) const;
    void add_device(const std::filesystem::path& dir, std::string_view name, unsigned major,
                    unsigned minor);
    void add_disk_with_queue(std::string_view name, unsigned major, unsigned minor);
    void link(const std::filesystem::path& at, const std::filesystem::path& to) const;

    std::filesystem::path dir_;
    SysfsRoot root_;
};

void write_file(const std::filesystem::path& path, std::string_view content);
[[nodiscard]] std::string read_file(const std::filesystem::path& path);

} // namespace ufq::test
