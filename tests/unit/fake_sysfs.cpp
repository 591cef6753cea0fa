#include "fake_sysfs.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace ufq::test {

namespace fs = std::filesystem;

namespace {

fs::path make_temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "ufq-unit-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::system_error(errno, std::generic_category(), "mkdtemp");
    }
    // Canonical, so comparisons with resolved paths hold even if TMPDIR is a symlink.
    return fs::canonical(pattern);
}

} // namespace

void write_file(const fs::path& path, std::string_view content) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
        throw std::runtime_error("cannot write " + path.string());
    }
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read " + path.string());
    }
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

FakeSysfs::FakeSysfs() : dir_(make_temp_dir()), root_{dir_ / "sys", dir_ / "dev"} {
    fs::create_directories(root_.sys / "class" / "block");
    fs::create_directories(root_.sys / "block");
    fs::create_directories(root_.sys / "dev" / "block");
    fs::create_directories(root_.dev);
}

FakeSysfs::~FakeSysfs() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

fs::path FakeSysfs::device_dir(std::string_view disk) const {
    return root_.sys / "devices" / "pci0000:00" / "0000:00:05.0" / "virtio2" / "block" / disk;
}

void FakeSysfs::link(const fs::path& at, const fs::path& to) const {
    fs::create_directories(at.parent_path());
    fs::create_symlink(fs::relative(to, at.parent_path()), at);
}

void FakeSysfs::add_device(const fs::path& dir, std::string_view name, unsigned major,
                           unsigned minor) {
    const std::string number = fmt::format("{}:{}", major, minor);
    write_file(dir / "dev", number + "\n");
    link(root_.sys / "class" / "block" / name, dir);
    link(root_.sys / "dev" / "block" / number, dir);
    write_file(root_.dev / name, "");
}

void FakeSysfs::add_disk_with_queue(std::string_view name, unsigned major, unsigned minor) {
    const fs::path dir = device_dir(name);
    add_device(dir, name, major, minor);
    write_file(dir / "queue" / "rotational", "0\n");
    link(root_.sys / "block" / name, dir);
}

void FakeSysfs::add_disk(std::string_view name, unsigned major, unsigned minor,
                         std::string_view scheduler) {
    add_disk_with_queue(name, major, minor);
    write_file(device_dir(name) / "queue" / "scheduler", std::string(scheduler) + "\n");
}

void FakeSysfs::add_bio_disk(std::string_view name, unsigned major, unsigned minor) {
    add_disk_with_queue(name, major, minor);
}

void FakeSysfs::add_partition(std::string_view disk, std::string_view name, unsigned major,
                              unsigned minor) {
    const fs::path dir = device_dir(disk) / name;
    add_device(dir, name, major, minor);
    write_file(dir / "partition", "1\n");
}

void FakeSysfs::add_dev_symlink(const fs::path& link, const fs::path& target) {
    const fs::path at = root_.dev / link;
    fs::create_directories(at.parent_path());
    fs::create_symlink(target, at);
}

fs::path FakeSysfs::scheduler_file(std::string_view disk) const {
    return root_.sys / "block" / disk / "queue" / "scheduler";
}

} // namespace ufq::test
