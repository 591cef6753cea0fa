// ufqctl swap: a running policy's programs replaced in place, its state carried over.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <stdio.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>

#include "errno_text.hpp"
#include "policy_object.hpp"
#include "rollback.hpp"
#include "ufq/btf_compare.hpp"
#include "ufq/error.hpp"
#include "ufq/pinned_map.hpp"
#include "ufq/policy.hpp"
#include "ufq/require.hpp"
#include "ufq/state.hpp"
#include "ufq/struct_ops.hpp"
#include "ufq/tenants.hpp"
#include "ufq/tunables.hpp"
#include "unique_fd.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

struct BtfCloser {
    void operator()(btf* b) const { btf__free(b); }
};

// The kernel's BTF objects of pinned maps, loaded once each.
class KernelBtfs {
public:
    const btf* get(std::uint32_t id) {
        auto& slot = cache_[id];
        if (!slot) {
            slot.reset(btf__load_from_kernel_by_id(id));
            if (!slot)
                throw Error(fmt::format("cannot read BTF object {} from the kernel: {}", id,
                                        errno_text(errno)));
        }
        return slot.get();
    }

private:
    std::map<std::uint32_t, std::unique_ptr<btf, BtfCloser>> cache_;
};

// Whether the pinned map (as the kernel describes it) can serve as `map` of the new object:
// the same definition, and key and value types that are the same in BTF (members, offsets,
// sizes, decl tags), not merely of the same size.
bool same_map(const bpf_map_info& info, const bpf_object* obj, const bpf_map* map,
              KernelBtfs& btfs) {
    if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
        info.value_size != bpf_map__value_size(map) ||
        info.max_entries != bpf_map__max_entries(map) ||
        info.map_flags != bpf_map__map_flags(map))
        return false;
    const std::uint32_t key = bpf_map__btf_key_type_id(map);
    const std::uint32_t value = bpf_map__btf_value_type_id(map);
    if (!info.btf_id || (!info.btf_key_type_id && !info.btf_value_type_id))
        return !key && !value; // untyped on both sides: the definition is all there is
    const btf* old = btfs.get(info.btf_id);
    const btf* now = bpf_object__btf(obj);
    return btf_types_equal(old, info.btf_key_type_id, now, key) &&
           btf_types_equal(old, info.btf_value_type_id, now, value);
}

// Swap keeps the running policy's state: each map of the new object whose pinned counterpart of
// the same name is the same map (same_map) reuses it, so tunables, models, statistics and
// per-device state carry over. Any other map starts afresh.
SwapResult reuse_pinned_maps(bpf_object* obj, const fs::path& maps_dir) {
    SwapResult result;
    KernelBtfs btfs;
    std::set<std::string> in_object;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS || bpf_map__is_internal(map))
            continue;
        const std::string name = bpf_map__name(map);
        in_object.insert(name);
        const fs::path pin = maps_dir / name;
        const UniqueFd fd(bpf_obj_get(pin.c_str()));
        if (!fd.valid()) {
            if (errno != ENOENT)
                throw Error(fmt::format("cannot open pinned map {}: {}", pin.string(),
                                        errno_text(errno)));
            result.fresh.push_back(name);
            continue;
        }
        bpf_map_info info{};
        std::uint32_t len = sizeof(info);
        if (bpf_map_get_info_by_fd(fd.get(), &info, &len) != 0)
            throw Error(fmt::format("{} is not a BPF map: {}", pin.string(), errno_text(errno)));
        if (!same_map(info, obj, map, btfs)) {
            result.fresh.push_back(name);
            continue;
        }
        const int rc = bpf_map__reuse_fd(map, fd.get()); // takes a duplicate of fd
        if (rc != 0)
            throw Error(fmt::format("cannot reuse map {}: {}", pin.string(), errno_text(-rc)));
        result.kept.push_back(name);
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(maps_dir, ec))
        if (!in_object.contains(entry.path().filename().string()))
            result.dropped.push_back(entry.path().filename().string());
    std::sort(result.dropped.begin(), result.dropped.end());
    return result;
}

// A new tunables layout: the values the user set in the running version carry over by name.
void carry_over_running_tunables(const std::string& policy, const Paths& paths,
                                 ObjectTunables& tunables, SwapResult& result) {
    const auto names = policy_maps_with_suffix(paths, policy, kTunablesSuffix);
    if (names.size() != 1)
        return;
    const PinnedMap old(paths.maps_dir(policy) / names.front());
    if (old.info().type != BPF_MAP_TYPE_ARRAY || old.info().max_entries != 1)
        return;
    const Schema schema = old.value_schema();
    check_tunables_schema(schema, old.name());
    const auto value = old.lookup(0);
    auto carried = carry_over_tunables(schema, value, tunables.schema, tunables.value);
    result.tunables_carried = std::move(carried.carried);
    result.tunables_reset = std::move(carried.reset);
}

bool kept(const SwapResult& result, const bpf_map* map) {
    return std::find(result.kept.begin(), result.kept.end(), bpf_map__name(map)) !=
           result.kept.end();
}

// ---- tenants ---------------------------------------------------------------------------------

// The new object's tenants map (UFQ_TENANTS_MAP) with its value type, and the entries it is to
// start with: those of the running version, carried over into its layout.
struct ObjectTenants {
    bpf_map* map = nullptr;
    std::string name;
    Schema schema;
    std::vector<TenantEntry> entries;
};

bool is_tenants_map(const bpf_map* map) {
    const std::string_view name = bpf_map__name(map);
    return !bpf_map__is_internal(map) && name.size() > kTenantsSuffix.size() &&
           name.ends_with(kTenantsSuffix) && bpf_map__type(map) == BPF_MAP_TYPE_HASH &&
           bpf_map__key_size(map) == sizeof(std::uint64_t);
}

// The object's one tenants map, if it has exactly one (`ufqctl tenant` refuses several).
ObjectTenants object_tenants(bpf_object* obj, const std::string& policy) {
    ObjectTenants t;
    int count = 0;
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, obj) {
        if (is_tenants_map(map) && count++ == 0)
            t.map = map;
    }
    if (count != 1)
        return {};
    t.name = bpf_map__name(t.map);
    t.schema = describe_btf_type(bpf_object__btf(obj), bpf_map__btf_value_type_id(t.map),
                                 "map " + t.name);
    try {
        check_tenants_schema(t.schema, t.name);
    } catch (const Error& e) {
        throw Error(fmt::format("the new version of policy {}: {}", policy, e.what()));
    }
    return t;
}

// The running version's tenant entries, in the new layout (carry_over_tenants).
void carry_over_running_tenants(const std::string& policy, const Paths& paths,
                                ObjectTenants& tenants, SwapResult& result) {
    const auto names = policy_maps_with_suffix(paths, policy, kTenantsSuffix);
    if (names.size() != 1)
        return;
    const PinnedMap old(paths.maps_dir(policy) / names.front());
    if (old.info().type != BPF_MAP_TYPE_HASH || old.info().key_size != sizeof(std::uint64_t))
        return;
    const auto entries = read_tenant_entries(old);
    if (entries.empty())
        return;
    const Schema schema = old.value_schema();
    check_tenants_schema(schema, old.name());
    auto carried = carry_over_tenants(schema, entries, tenants.schema,
                                      bpf_map__value_size(tenants.map));
    tenants.entries = std::move(carried.entries);
    result.tenants_copied = tenants.entries.size();
    result.tenant_settings_reset = std::move(carried.reset);
}

void write_tenants(const ObjectTenants& t, const std::string& policy) {
    for (const auto& [id, value] : t.entries) {
        const int rc = bpf_map__update_elem(t.map, &id, sizeof(id), value.data(), value.size(),
                                            BPF_NOEXIST);
        if (rc == -E2BIG)
            throw Error(fmt::format("the new version of policy {} supports at most {} tenants, "
                                    "fewer than the {} configured; remove some with ufqctl "
                                    "tenant del, then swap again",
                                    policy, bpf_map__max_entries(t.map), t.entries.size()));
        if (rc != 0)
            throw Error(fmt::format("cannot copy tenant {} into map {}: {}", id, t.name,
                                    errno_text(-rc)));
    }
}

} // namespace

SwapResult swap_policy(const std::string& name, const fs::path& object, const Paths& paths) {
    require_root();
    check_policy_name(name);
    const LockFile lock = lock_policy(paths, name);
    if (!fs::exists(paths.link_pin(name)))
        throw Error(fmt::format("no policy named {} is loaded (ufqctl load {} first)", name,
                                object.string()));

    LibbpfLogCapture capture;
    ObjectPtr obj = open_object(object);
    const PolicyMap policy = find_policy_map(obj.get(), object);
    if (policy.name != name)
        throw Error(fmt::format("{} defines policy {}, not {}; swap replaces a policy with a new "
                                "version of itself",
                                object.string(), policy.name, name));
    // Read the object's own types before reusing maps makes libbpf forget them.
    ObjectTunables tunables = prepare_tunables(obj.get(), name, {});
    SwapResult result = reuse_pinned_maps(obj.get(), paths.maps_dir(name));
    const bool new_tunables = tunables.map && !kept(result, tunables.map);
    if (new_tunables)
        carry_over_running_tunables(name, paths, tunables, result);
    ObjectTenants tenants = object_tenants(obj.get(), name); // before libbpf forgets the types
    const bool new_tenants = tenants.map && !kept(result, tenants.map);
    if (new_tenants)
        carry_over_running_tenants(name, paths, tenants, result);

    load_object(obj.get(), name, paths);
    if (new_tunables)
        write_tunables(tunables); // before the new programs run
    if (new_tenants)
        write_tenants(tenants, name); // a map too small fails here, before anything changed

    // The new maps are pinned beside the running ones first, so that once the programs are
    // replaced only a rename is left to do, and nothing is lost if the update fails.
    const fs::path maps = paths.maps_dir(name);
    const fs::path staged = paths.policy_dir(name) / "maps_staged"; // bpffs refuses '.' in names
    remove_pins(staged); // from a swap that died half-way
    Rollback rollback;
    rollback.add([staged] { remove_pins(staged); });
    pin_maps(obj.get(), staged);

    const UniqueFd link(bpf_obj_get(paths.link_pin(name).c_str()));
    if (!link.valid())
        throw Error(fmt::format("cannot open the link of policy {} at {}: {}", name,
                                paths.link_pin(name).string(), errno_text(errno)));
    update_policy_link(link.get(), obj.get(), policy.map, name, paths.vmlinux_btf);
    rollback.dismiss();

    // One atomic step: maps_staged becomes maps, the old pins go to maps_staged.
    if (renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, maps.c_str(), RENAME_EXCHANGE) != 0) {
        const int err = errno;
        if (err != ENOENT || ::rename(staged.c_str(), maps.c_str()) != 0)
            throw Error(fmt::format("policy {} now runs {}, but its map pins could not be "
                                    "switched ({}): the maps it uses are pinned in {}",
                                    name, object.string(), errno_text(err), staged.string()));
    }
    std::error_code ec;
    fs::remove_all(staged, ec);
    if (ec)
        throw Error(fmt::format("policy {} now runs {}, but the old map pins in {} could not be "
                                "removed: {}",
                                name, object.string(), staged.string(), ec.message()));
    forget_verifier_log(paths, name);
    return result;
}

} // namespace ufq
