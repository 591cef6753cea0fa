// swap_loop: stress live policy changes for the VM tests.
//
//   swap_loop LINK_PIN OBJECT DEV POLICY_A POLICY_B INTERVAL_MS DURATION_S
//
// Loads OBJECT twice (two struct_ops maps of the same policy) and, every INTERVAL_MS for
// DURATION_S, replaces the programs behind the pinned struct_ops link LINK_PIN with the other
// copy (bpf_link_update on maps libufq filled) and moves DEV between POLICY_A and POLICY_B
// through its iosched/policy attribute. Prints "swaps N rebinds M"; exits non-zero on the first failure.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <ufq/error.hpp>
#include <ufq/struct_ops.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace {

struct PolicyCopy {
    bpf_object* obj; // stays open for the life of the process
    bpf_map* ops;
};

PolicyCopy load_policy(const char* path) {
    bpf_object* obj = bpf_object__open_file(path, nullptr);
    if (!obj || bpf_object__load(obj) != 0) {
        std::fprintf(stderr, "swap_loop: cannot load %s: %s\n", path, std::strerror(errno));
        std::exit(1);
    }
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
            return {obj, map};
    }
    std::fprintf(stderr, "swap_loop: %s has no struct_ops map\n", path);
    std::exit(1);
}

bool write_policy(const std::string& attr, const char* name) {
    std::ofstream out(attr);
    out << name;
    out.flush();
    return static_cast<bool>(out);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: swap_loop LINK_PIN OBJECT DEV POLICY_A POLICY_B "
                             "INTERVAL_MS DURATION_S\n");
        return 2;
    }
    const char* policies[2] = {argv[4], argv[5]};
    const auto interval = std::chrono::milliseconds(std::atoi(argv[6]));
    const auto duration = std::chrono::seconds(std::atoi(argv[7]));
    const std::string attr = std::string("/sys/block/") + argv[3] + "/queue/iosched/policy";

    const PolicyCopy copies[2] = {load_policy(argv[2]), load_policy(argv[2])};
    const int link_fd = bpf_obj_get(argv[1]);
    if (link_fd < 0) {
        std::fprintf(stderr, "swap_loop: cannot open link %s: %s\n", argv[1],
                     std::strerror(errno));
        return 1;
    }
    // The policy's name, for messages: the pin lives in /sys/fs/bpf/ufq/<policy>/.
    const std::string policy = std::filesystem::path(argv[1]).parent_path().filename();

    // Fill both maps once (reading the kernel's BTF is slow on a debug kernel); each swap is
    // then one bpf_link_update().
    try {
        for (const PolicyCopy& copy : copies)
            ufq::fill_struct_ops_map(copy.obj, copy.ops, policy);
    } catch (const ufq::Error& e) {
        std::fprintf(stderr, "swap_loop: %s\n", e.what());
        return 1;
    }

    long swaps = 0, rebinds = 0;
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
        const int rc = bpf_link_update(link_fd, bpf_map__fd(copies[swaps % 2].ops), nullptr);
        if (rc < 0) {
            std::fprintf(stderr, "swap_loop: swap %ld: the kernel refused it: %s\n", swaps,
                         std::strerror(-rc));
            return 1;
        }
        ++swaps;
        if (!write_policy(attr, policies[rebinds % 2])) {
            std::fprintf(stderr, "swap_loop: cannot bind %s to %s\n", argv[3],
                         policies[rebinds % 2]);
            return 1;
        }
        ++rebinds;
        std::this_thread::sleep_for(interval);
    }
    close(link_fd);
    std::printf("swaps %ld rebinds %ld\n", swaps, rebinds);
    return 0;
}
