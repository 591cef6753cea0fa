#include "ufq/pinned_map.hpp"

#include <bpf/btf.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "errno_text.hpp"
#include "ufq/error.hpp"

namespace fs = std::filesystem;

namespace ufq {

PinnedMap::PinnedMap(const fs::path& pin) : name_(pin.filename().string()) {
    fd_ = bpf_obj_get(pin.c_str());
    if (fd_ < 0)
        throw Error(fmt::format("cannot open pinned map {}: {}", pin.string(), errno_text(errno)),
                    errno);
    std::uint32_t len = sizeof(info_);
    if (bpf_map_get_info_by_fd(fd_, &info_, &len) != 0) {
        const int err = errno;
        ::close(fd_);
        throw Error(fmt::format("{} is not a BPF map: {}", pin.string(), errno_text(err)), err);
    }
}

PinnedMap::~PinnedMap() {
    btf__free(btf_);
    if (fd_ >= 0)
        ::close(fd_);
}

PinnedMap::PinnedMap(PinnedMap&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), name_(std::move(other.name_)), info_(other.info_),
      btf_(std::exchange(other.btf_, nullptr)) {}

const btf* PinnedMap::btf_data() const {
    if (!btf_) {
        if (info_.btf_id == 0 || info_.btf_value_type_id == 0)
            throw Error(fmt::format("map {} has no BTF type information (declare it with "
                                    "__type(value, ...) in the policy)",
                                    name_));
        btf_ = btf__load_from_kernel_by_id(info_.btf_id);
        if (!btf_)
            throw Error(fmt::format("cannot read the BTF of map {}: {}", name_,
                                    errno_text(errno)));
    }
    return btf_;
}

Schema PinnedMap::value_schema() const {
    return describe_btf_type(btf_data(), info_.btf_value_type_id, "map " + name_);
}

std::vector<std::uint8_t> PinnedMap::lookup(std::uint32_t key) const {
    std::vector<std::uint8_t> value(info_.value_size);
    if (bpf_map_lookup_elem(fd_, &key, value.data()) != 0)
        throw Error(fmt::format("cannot read element {} of map {}: {}", key, name_,
                                errno_text(errno)));
    return value;
}

void PinnedMap::update(std::uint32_t key, const std::vector<std::uint8_t>& value) const {
    if (value.size() != info_.value_size)
        throw Error(fmt::format("value of {} bytes for map {} of {}-byte values", value.size(),
                                name_, info_.value_size));
    if (bpf_map_update_elem(fd_, &key, value.data(), BPF_ANY) != 0)
        throw Error(fmt::format("cannot write element {} of map {}: {}", key, name_,
                                errno_text(errno)));
}

void require_loaded(const Paths& paths, const std::string& policy) {
    check_policy_name(policy);
    std::error_code ec;
    if (!fs::exists(paths.link_pin(policy), ec))
        throw Error(fmt::format("no policy named {} is loaded (ufqctl list shows them)", policy));
}

std::vector<std::string> policy_maps_with_suffix(const Paths& paths, const std::string& policy,
                                                 std::string_view suffix) {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(paths.policy_dir(policy) / "maps", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > suffix.size() && name.ends_with(suffix))
            names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

fs::path policy_map_pin(const Paths& paths, const std::string& policy, const std::string& name,
                        std::string_view purpose) {
    require_loaded(paths, policy);
    const fs::path pin = paths.policy_dir(policy) / "maps" / name;
    std::error_code ec;
    if (!fs::exists(pin, ec))
        throw Error(fmt::format("policy {} has no map {}: {}", policy, name, purpose));
    return pin;
}

} // namespace ufq
