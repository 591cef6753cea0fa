#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <bpf/bpf.h>

#include "ufq/btf_schema.hpp"
#include "ufq/policy.hpp"

struct btf;

namespace ufq {

// A map of a loaded policy, opened from its pin under <bpffs>/ufq/<policy>/maps/<name>, with
// the kernel's description of it and the BTF it was created with. Closes both when destroyed.
class PinnedMap {
public:
    // Throws ufq::Error if the pin does not exist or is not a map.
    explicit PinnedMap(const std::filesystem::path& pin);
    ~PinnedMap();
    PinnedMap(const PinnedMap&) = delete;
    PinnedMap& operator=(const PinnedMap&) = delete;
    PinnedMap(PinnedMap&& other) noexcept;
    PinnedMap& operator=(PinnedMap&&) = delete;

    [[nodiscard]] int fd() const { return fd_; }
    [[nodiscard]] const bpf_map_info& info() const { return info_; }
    [[nodiscard]] const std::string& name() const { return name_; } // full name, from the pin
    // The map's BTF from the kernel; throws if the map was created without one.
    [[nodiscard]] const btf* btf_data() const;
    // The schema of the value type, from that BTF.
    [[nodiscard]] Schema value_schema() const;

    // One element; throws with the map's name on failure.
    [[nodiscard]] std::vector<std::uint8_t> lookup(std::uint32_t key) const;
    void update(std::uint32_t key, const std::vector<std::uint8_t>& value) const;

private:
    int fd_ = -1;
    std::string name_;
    bpf_map_info info_{};
    mutable struct btf* btf_ = nullptr;
};

// The pinned maps of `policy` whose names end in `suffix` (e.g. "_tunables").
[[nodiscard]] std::vector<std::string> policy_maps_with_suffix(const Paths& paths,
                                                               const std::string& policy,
                                                               std::string_view suffix);

// The pin of `policy`'s map `name`; throws ufq::Error saying the policy is not loaded, or does
// not have that map (`purpose` tells the user what the map is for).
[[nodiscard]] std::filesystem::path policy_map_pin(const Paths& paths, const std::string& policy,
                                                   const std::string& name,
                                                   std::string_view purpose);

// Throws ufq::Error unless `policy` is a policy name (check_policy_name) loaded by ufqctl.
void require_loaded(const Paths& paths, const std::string& policy);

} // namespace ufq
