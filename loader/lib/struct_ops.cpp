#include "ufq/struct_ops.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "unique_fd.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

struct BtfCloser {
    void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfCloser>;

// The type `id` stands for, without typedefs and qualifiers.
const btf_type* resolve(const btf* b, std::uint32_t id) {
    const btf_type* t = btf__type_by_id(b, id);
    while (t && (btf_is_mod(t) || btf_is_typedef(t)))
        t = btf__type_by_id(b, t->type);
    return t;
}

// The member of struct `t` called `name`, and its index; nullptr if there is none.
const btf_member* member_named(const btf* b, const btf_type* t, std::string_view name,
                               int* index = nullptr) {
    const btf_member* m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); ++i, ++m)
        if (name == btf__name_by_offset(b, m->name_off)) {
            if (index)
                *index = i;
            return m;
        }
    return nullptr;
}

// struct bpf_struct_ops_ufq_ops in the kernel's BTF: what a ufq_ops struct_ops map holds.
struct KernelOps {
    BtfPtr btf;
    std::uint32_t value_id = 0;
    const btf_type* value = nullptr;
    std::size_t data_offset = 0; // of its struct ufq_ops member "data"
    const btf_type* ops = nullptr;
};

std::optional<KernelOps> kernel_ops(const fs::path& vmlinux_btf) {
    BtfPtr b(btf__parse_raw(vmlinux_btf.c_str()));
    if (!b)
        throw Error(fmt::format("cannot read the kernel's BTF at {}: {}", vmlinux_btf.string(),
                                errno_text(errno)));
    const int id = btf__find_by_name_kind(b.get(), "bpf_struct_ops_ufq_ops", BTF_KIND_STRUCT);
    if (id < 0)
        return std::nullopt;
    KernelOps k;
    k.value_id = static_cast<std::uint32_t>(id);
    k.value = btf__type_by_id(b.get(), k.value_id);
    int index = 0;
    const btf_member* data = member_named(b.get(), k.value, "data", &index);
    if (!data)
        throw Error("the kernel's struct bpf_struct_ops_ufq_ops has no member data (a kernel "
                    "this ufqctl does not know)");
    k.data_offset = btf_member_bit_offset(k.value, static_cast<std::uint32_t>(index)) / 8;
    k.ops = resolve(b.get(), data->type);
    if (!k.ops || !btf_is_struct(k.ops))
        throw Error("the kernel's struct_ops value for ufq_ops does not hold a struct");
    k.btf = std::move(b);
    return k;
}

} // namespace

void fill_struct_ops_map(const bpf_object* obj, const bpf_map* map, const std::string& policy,
                         const fs::path& vmlinux_btf) {
    const auto k = kernel_ops(vmlinux_btf);
    if (!k)
        throw Error("the running kernel has no ufq scheduler (no struct ufq_ops in its BTF)");
    const btf* kb = k->btf.get();
    if (bpf_map__value_size(map) != k->value->size)
        throw Error(fmt::format("the struct_ops map of policy {} holds {} bytes, the kernel's "
                                "ufq_ops value {}",
                                policy, bpf_map__value_size(map), k->value->size));

    const btf* ob = bpf_object__btf(obj);
    const btf_type* ot = btf__type_by_id(ob, bpf_map__btf_value_type_id(map));
    // libbpf's shadow copy of the object's struct ufq_ops: plain members as the object
    // initialised them, callbacks as the struct bpf_program they point to.
    const auto* data = static_cast<const std::uint8_t*>(bpf_map__initial_value(map, nullptr));
    if (!ot || !btf_is_struct(ot) || !data)
        throw Error(fmt::format("policy {}: libbpf has no struct ufq_ops value for map {}",
                                policy, bpf_map__name(map)));

    std::vector<std::uint8_t> value(k->value->size, 0);
    std::uint8_t* kdata = value.data() + k->data_offset;
    const btf_member* m = btf_members(ot);
    for (std::uint32_t i = 0; i < btf_vlen(ot); ++i, ++m) {
        const std::string name = btf__name_by_offset(ob, m->name_off);
        const std::size_t off = btf_member_bit_offset(ot, i) / 8;
        const long long size = btf__resolve_size(ob, m->type);
        if (btf_member_bitfield_size(ot, i) || size < 0)
            throw Error(fmt::format("policy {}: member {} of struct ufq_ops is a bitfield or "
                                    "has no size",
                                    policy, name));
        const auto usize = static_cast<std::size_t>(size);
        int kindex = 0;
        const btf_member* km = member_named(kb, k->ops, name, &kindex);
        if (!km) {
            if (std::any_of(data + off, data + off + usize, [](std::uint8_t b) { return b; }))
                throw Error(fmt::format("policy {} sets {}, which the running kernel's struct "
                                        "ufq_ops does not have (built for another kernel?)",
                                        policy, name));
            continue;
        }
        std::uint8_t* dst =
            kdata + btf_member_bit_offset(k->ops, static_cast<std::uint32_t>(kindex)) / 8;
        const btf_type* mt = resolve(ob, m->type);
        const btf_type* kt = resolve(kb, km->type);
        if (!mt || !kt || btf_kind(mt) != btf_kind(kt))
            throw Error(fmt::format("policy {}: member {} of struct ufq_ops has another type in "
                                    "the running kernel (built for another kernel?)",
                                    policy, name));
        if (btf_is_ptr(mt)) {
            const bpf_program* prog = nullptr;
            std::memcpy(&prog, data + off, sizeof(prog));
            if (!prog)
                continue;
            const int fd = bpf_program__fd(prog);
            if (fd < 0)
                throw Error(fmt::format("policy {}: the program for {} was not loaded", policy,
                                        name));
            // The kernel reads a callback's program fd as an unsigned long.
            const unsigned long v = static_cast<unsigned long>(fd);
            std::memcpy(dst, &v, sizeof(v));
            continue;
        }
        if (btf__resolve_size(kb, km->type) != size)
            throw Error(fmt::format("policy {}: member {} of struct ufq_ops has another size in "
                                    "the running kernel (built for another kernel?)",
                                    policy, name));
        std::memcpy(dst, data + off, usize);
    }

    const std::uint32_t zero = 0;
    const int rc = bpf_map_update_elem(bpf_map__fd(map), &zero, value.data(), 0);
    if (rc < 0 && rc != -EBUSY) // EBUSY: filled before (a map's value is set once)
        throw Error(fmt::format("the kernel refused the struct ufq_ops of policy {}: {}", policy,
                                errno_text(-rc)));
}

void update_policy_link(int link_fd, const bpf_object* obj, const bpf_map* map,
                        const std::string& policy, const fs::path& vmlinux_btf) {
    fill_struct_ops_map(obj, map, policy, vmlinux_btf);
    const int rc = bpf_link_update(link_fd, bpf_map__fd(map), nullptr);
    if (rc < 0)
        throw Error(fmt::format("the kernel refused to swap policy {}: {} (the new programs' "
                                "init_dev may have refused a device; see dmesg)",
                                policy, errno_text(-rc)));
}

std::vector<std::string> kernel_registered_policies(const fs::path& vmlinux_btf) {
    const auto k = kernel_ops(vmlinux_btf);
    if (!k)
        return {};
    const btf* kb = k->btf.get();
    int index = 0;
    const btf_member* name_member = member_named(kb, k->ops, "name", &index);
    if (!name_member)
        throw Error("the kernel's struct ufq_ops has no member name (a kernel this ufqctl does "
                    "not know)");
    const std::size_t name_offset =
        k->data_offset + btf_member_bit_offset(k->ops, static_cast<std::uint32_t>(index)) / 8;

    std::vector<std::string> names;
    for (std::uint32_t id = 0;;) {
        const int rc = bpf_link_get_next_id(id, &id);
        if (rc == -ENOENT)
            break;
        if (rc < 0)
            throw Error(fmt::format("cannot list the kernel's BPF links: {}", errno_text(-rc)));
        const UniqueFd link(bpf_link_get_fd_by_id(id));
        if (!link.valid())
            continue; // gone since
        bpf_link_info li{};
        std::uint32_t len = sizeof(li);
        if (bpf_link_get_info_by_fd(link.get(), &li, &len) != 0 ||
            li.type != BPF_LINK_TYPE_STRUCT_OPS)
            continue;
        const UniqueFd map(bpf_map_get_fd_by_id(li.struct_ops.map_id));
        if (!map.valid())
            continue;
        bpf_map_info mi{};
        len = sizeof(mi);
        if (bpf_map_get_info_by_fd(map.get(), &mi, &len) != 0 ||
            mi.type != BPF_MAP_TYPE_STRUCT_OPS || mi.btf_vmlinux_value_type_id != k->value_id ||
            mi.value_size != k->value->size)
            continue;
        std::vector<char> value(mi.value_size);
        const std::uint32_t zero = 0;
        if (bpf_map_lookup_elem(map.get(), &zero, value.data()) != 0 ||
            name_offset >= value.size())
            continue;
        const char* name = value.data() + name_offset;
        names.emplace_back(name, strnlen(name, value.size() - name_offset));
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

} // namespace ufq
