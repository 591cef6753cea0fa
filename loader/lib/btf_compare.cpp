#include "ufq/btf_compare.hpp"

#include <bpf/btf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ufq {
namespace {

// Decl tags by the type they annotate: (component index or -1, text), sorted.
using Tags = std::map<std::uint32_t, std::vector<std::pair<int, std::string>>>;

Tags collect_tags(const btf* b) {
    Tags tags;
    const std::uint32_t n = btf__type_cnt(b);
    for (std::uint32_t id = 1; id < n; ++id) {
        const btf_type* t = btf__type_by_id(b, id);
        if (btf_is_decl_tag(t))
            tags[t->type].emplace_back(btf_decl_tag(t)->component_idx,
                                       btf__name_by_offset(b, t->name_off));
    }
    for (auto& [id, list] : tags)
        std::sort(list.begin(), list.end());
    return tags;
}

class Comparer {
public:
    Comparer(const btf* a, const btf* b) : a_(a), b_(b), tags_a_(collect_tags(a)),
                                           tags_b_(collect_tags(b)) {}

    bool equal(std::uint32_t ia, std::uint32_t ib) {
        if (ia == 0 || ib == 0)
            return ia == ib;
        // Assumed equal while being compared: a cycle (a struct pointing to itself) then
        // compares equal exactly when everything else about it does.
        if (!seen_.insert({ia, ib}).second)
            return true;
        const btf_type* ta = btf__type_by_id(a_, ia);
        const btf_type* tb = btf__type_by_id(b_, ib);
        if (!ta || !tb)
            return false;
        if (btf_kind(ta) != btf_kind(tb) || btf_vlen(ta) != btf_vlen(tb) ||
            btf_kflag(ta) != btf_kflag(tb) || !same_name(ta->name_off, tb->name_off) ||
            tags_of(tags_a_, ia) != tags_of(tags_b_, ib))
            return false;

        switch (btf_kind(ta)) {
        case BTF_KIND_INT:
            return ta->size == tb->size && btf_int_encoding(ta) == btf_int_encoding(tb) &&
                   btf_int_offset(ta) == btf_int_offset(tb) &&
                   btf_int_bits(ta) == btf_int_bits(tb);
        case BTF_KIND_FLOAT:
            return ta->size == tb->size;
        case BTF_KIND_PTR:
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG:
        case BTF_KIND_FUNC:
        case BTF_KIND_VAR:
            if (btf_is_var(ta) && btf_var(ta)->linkage != btf_var(tb)->linkage)
                return false;
            return equal(ta->type, tb->type);
        case BTF_KIND_FWD:
            return true;
        case BTF_KIND_ARRAY: {
            const struct btf_array* x = btf_array(ta);
            const struct btf_array* y = btf_array(tb);
            return x->nelems == y->nelems && equal(x->type, y->type) &&
                   equal(x->index_type, y->index_type);
        }
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION: {
            if (ta->size != tb->size)
                return false;
            const btf_member* x = btf_members(ta);
            const btf_member* y = btf_members(tb);
            for (int i = 0; i < btf_vlen(ta); ++i)
                // offset holds the bitfield size too when kflag is set
                if (x[i].offset != y[i].offset || !same_name(x[i].name_off, y[i].name_off) ||
                    !equal(x[i].type, y[i].type))
                    return false;
            return true;
        }
        case BTF_KIND_ENUM: {
            if (ta->size != tb->size)
                return false;
            const struct btf_enum* x = btf_enum(ta);
            const struct btf_enum* y = btf_enum(tb);
            for (int i = 0; i < btf_vlen(ta); ++i)
                if (x[i].val != y[i].val || !same_name(x[i].name_off, y[i].name_off))
                    return false;
            return true;
        }
        case BTF_KIND_ENUM64: {
            if (ta->size != tb->size)
                return false;
            const struct btf_enum64* x = btf_enum64(ta);
            const struct btf_enum64* y = btf_enum64(tb);
            for (int i = 0; i < btf_vlen(ta); ++i)
                if (x[i].val_lo32 != y[i].val_lo32 || x[i].val_hi32 != y[i].val_hi32 ||
                    !same_name(x[i].name_off, y[i].name_off))
                    return false;
            return true;
        }
        case BTF_KIND_FUNC_PROTO: {
            if (!equal(ta->type, tb->type))
                return false;
            const btf_param* x = btf_params(ta);
            const btf_param* y = btf_params(tb);
            for (int i = 0; i < btf_vlen(ta); ++i)
                if (!same_name(x[i].name_off, y[i].name_off) || !equal(x[i].type, y[i].type))
                    return false;
            return true;
        }
        case BTF_KIND_DATASEC: {
            if (ta->size != tb->size)
                return false;
            const btf_var_secinfo* x = btf_var_secinfos(ta);
            const btf_var_secinfo* y = btf_var_secinfos(tb);
            for (int i = 0; i < btf_vlen(ta); ++i)
                if (x[i].offset != y[i].offset || x[i].size != y[i].size ||
                    !equal(x[i].type, y[i].type))
                    return false;
            return true;
        }
        default: // decl tags are compared with what they annotate; anything newer: not sure
            return false;
        }
    }

private:
    bool same_name(std::uint32_t off_a, std::uint32_t off_b) const {
        const char* x = btf__name_by_offset(a_, off_a);
        const char* y = btf__name_by_offset(b_, off_b);
        return std::strcmp(x ? x : "", y ? y : "") == 0;
    }
    static const std::vector<std::pair<int, std::string>>& tags_of(const Tags& tags,
                                                                   std::uint32_t id) {
        static const std::vector<std::pair<int, std::string>> none;
        const auto it = tags.find(id);
        return it == tags.end() ? none : it->second;
    }

    const btf* a_;
    const btf* b_;
    Tags tags_a_;
    Tags tags_b_;
    std::set<std::pair<std::uint32_t, std::uint32_t>> seen_;
};

} // namespace

bool btf_types_equal(const btf* a, std::uint32_t a_id, const btf* b, std::uint32_t b_id) {
    if (!a || !b)
        return false;
    return Comparer(a, b).equal(a_id, b_id);
}

} // namespace ufq
