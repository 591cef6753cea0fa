// ufqctl: load, bind, swap and unload ufq I/O scheduling policies.
#include "ufq/device.hpp"
#include "ufq/error.hpp"
#include "ufq/policy.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr const char* kDescription =
    "ufqctl manages ufq I/O scheduling policies: BPF programs (struct ufq_ops) that decide the\n"
    "order in which a block device serves requests. A loaded policy stays attached after ufqctl\n"
    "exits (its link and maps are pinned under /sys/fs/bpf/ufq/POLICY/) until it is unloaded.\n"
    "Devices may be given as nvme0n1, /dev/nvme0n1 or MAJ:MIN; a partition means its disk.";

int run(int argc, char** argv) {
    CLI::App app{kDescription, "ufqctl"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every command");

    std::string object;
    std::vector<std::string> devices;
    auto* load = app.add_subcommand(
        "load", "Load a policy object, attach it and bind it to devices.\n"
                "Each DEV is switched to the ufq elevator (its previous elevator is restored\n"
                "by unload) and bound to the policy.");
    load->add_option("OBJ", object, "Policy object, e.g. build/host/policies/deadline.bpf.o")
        ->required();
    load->add_option("--dev,-d", devices, "Device to bind (repeatable)");

    std::string name;
    bool keep_ufq = false;
    auto* unload = app.add_subcommand(
        "unload", "Unbind a policy from its devices, restore their previous elevator and "
                  "detach it.");
    unload->add_option("NAME", name, "Policy name")->required();
    unload->add_flag("--keep-ufq", keep_ufq,
                     "Leave the devices on the ufq elevator (served in FIFO order)");

    auto* swap = app.add_subcommand(
        "swap", "Replace a running policy's programs in place, without unbinding devices.\n"
                "Requests waiting under the old programs are offered to the new ones.");
    swap->add_option("NAME", name, "Policy name")->required();
    swap->add_option("OBJ", object, "Object with the new version of the policy")->required();

    std::string device;
    auto* bind = app.add_subcommand(
        "bind", "Bind a device to a loaded policy (switching it to the ufq elevator).");
    bind->add_option("NAME", name, "Policy name, or none to unbind")->required();
    bind->add_option("--dev,-d", device, "Device")->required();

    auto* list = app.add_subcommand("list", "List the policies ufqctl has loaded.");

    CLI11_PARSE(app, argc, argv);

    if (*load) {
        const auto loaded = ufq::load_policy(object, devices);
        std::printf("loaded policy %s", loaded.name.c_str());
        for (const auto& bound : loaded.devices)
            std::printf("%s %s", &bound == &loaded.devices.front() ? " on" : ",",
                        bound.device.name.c_str());
        std::printf("\n");
        for (const auto& bound : loaded.devices)
            if (!bound.device.note.empty())
                std::printf("note: %s\n", bound.device.note.c_str());
    } else if (*unload) {
        ufq::unload_policy(name, keep_ufq);
        std::printf("unloaded policy %s\n", name.c_str());
    } else if (*swap) {
        ufq::swap_policy(name, object);
        std::printf("swapped policy %s to %s\n", name.c_str(), object.c_str());
    } else if (*bind) {
        const auto dev = ufq::resolve_device(device);
        ufq::bind_device(dev, name);
        std::printf("%s: policy %s\n", dev.name.c_str(), name.c_str());
    } else if (*list) {
        for (const auto& policy : ufq::loaded_policies())
            std::printf("%s\n", policy.c_str());
    }
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const ufq::Error& e) {
        std::fprintf(stderr, "ufqctl: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ufqctl: unexpected error: %s\n", e.what());
        return 1;
    }
}
