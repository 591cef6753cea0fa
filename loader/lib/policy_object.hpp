#pragma once

// A policy's BPF object through its life in ufqctl: opened, checked to be a ufq policy, loaded
// (with the verifier's log kept on failure), its tunables prepared and written, its maps pinned.
// Shared by load (policy.cpp) and swap (policy_swap.cpp).

#include <bpf/libbpf.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "ufq/btf_schema.hpp"
#include "ufq/policy.hpp"

namespace ufq {

// libbpf's output while this lives is kept, so a verifier rejection can be shown in a few lines.
class LibbpfLogCapture {
public:
    LibbpfLogCapture();
    ~LibbpfLogCapture();
    LibbpfLogCapture(const LibbpfLogCapture&) = delete;
    LibbpfLogCapture& operator=(const LibbpfLogCapture&) = delete;

private:
    libbpf_print_fn_t previous_;
};

struct ObjectCloser {
    void operator()(bpf_object* obj) const { bpf_object__close(obj); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectCloser>;

// Opens the object file; throws ufq::Error if it is missing or not a BPF object.
[[nodiscard]] ObjectPtr open_object(const std::filesystem::path& object);

// A policy's ufq_ops struct_ops map and the name in it.
struct PolicyMap {
    bpf_map* map = nullptr;
    std::string name;
};

// The object's one struct ufq_ops, in a .struct_ops.link section, with a valid policy name;
// throws ufq::Error saying what is wrong otherwise.
[[nodiscard]] PolicyMap find_policy_map(const bpf_object* obj,
                                        const std::filesystem::path& object);

// Loads the object into the kernel. On failure the whole libbpf log (with the verifier's) goes
// to <state>/<policy>.verifier.log, and the error shows its last lines.
void load_object(bpf_object* obj, const std::string& policy, const Paths& paths);

// Removes the verifier log of an earlier, failed attempt.
void forget_verifier_log(const Paths& paths, const std::string& policy);

// Pins every map of the object but struct_ops and internal ones under `dir`.
void pin_maps(bpf_object* obj, const std::filesystem::path& dir);

// Removes `dir` and the pins in it; unlinking a pin drops its reference, the last one detaches.
void remove_pins(const std::filesystem::path& dir);

// The object's tunables map (name ending in _tunables), its schema, and the value ufqctl starts
// it with: the defaults from its BTF, then the user's KEY=VAL assignments. Computed before the
// object is loaded (and before any map is reused, which makes libbpf forget the object's own
// type of the map), so that a typo costs no verifier run and leaves nothing behind.
struct ObjectTunables {
    bpf_map* map = nullptr;
    Schema schema;
    std::vector<std::uint8_t> value;
};

[[nodiscard]] ObjectTunables prepare_tunables(bpf_object* obj, const std::string& policy,
                                              const std::vector<std::string>& assignments);

// Writes the prepared value into the loaded object's tunables map (nothing without one).
void write_tunables(const ObjectTunables& t);

} // namespace ufq
