// When ufqctl swap may keep a map: its BTF key and value types must be the same in the new
// object, not merely of the same size.
#include "ufq/btf_compare.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "skip.hpp"

namespace ufq::test {
namespace {

namespace fs = std::filesystem;

// struct tun { u32 a UFQ_TUNABLE(16, 1, max_a); u32 b; } in `b`, after `padding` unrelated
// types (so that ids differ between two BTFs); returns the struct's id.
int add_tunables(btf* b, int padding, const char* second = "b", std::uint32_t b_offset = 32,
                 const char* max_a = "ufq:max=64") {
    for (int i = 0; i < padding; ++i)
        btf__add_int(b, ("pad" + std::to_string(i)).c_str(), 8, 0);
    const int u32 = btf__add_int(b, "unsigned int", 4, 0);
    const int t = btf__add_struct(b, "tun", 8);
    btf__add_field(b, "a", u32, 0, 0);
    btf__add_field(b, second, u32, b_offset, 0);
    btf__add_decl_tag(b, "ufq:default=16", t, 0);
    btf__add_decl_tag(b, max_a, t, 0);
    return t;
}

TEST(BtfCompareTest, SameShapeUnderOtherIds) {
    const BtfPtr x = new_btf();
    const BtfPtr y = new_btf();
    const int tx = add_tunables(x.get(), 0);
    const int ty = add_tunables(y.get(), 5);
    ASSERT_NE(tx, ty);
    EXPECT_TRUE(btf_types_equal(x.get(), tx, y.get(), ty));
    EXPECT_TRUE(btf_types_equal(x.get(), 0, y.get(), 0));
    EXPECT_FALSE(btf_types_equal(x.get(), tx, y.get(), 0));
}

TEST(BtfCompareTest, AnyDifferenceCounts) {
    const BtfPtr x = new_btf();
    const int tx = add_tunables(x.get(), 0);
    const BtfPtr renamed = new_btf();
    EXPECT_FALSE(btf_types_equal(x.get(), tx, renamed.get(), add_tunables(renamed.get(), 0, "c")));
    const BtfPtr moved = new_btf();
    const int tm = add_tunables(moved.get(), 0, "b", 0); // same size, b now overlaps a
    EXPECT_FALSE(btf_types_equal(x.get(), tx, moved.get(), tm));
    const BtfPtr retagged = new_btf();
    const int tr = add_tunables(retagged.get(), 0, "b", 32, "ufq:max=128"); // another range
    EXPECT_FALSE(btf_types_equal(x.get(), tx, retagged.get(), tr));
    const BtfPtr signedness = new_btf();
    const int s32 = btf__add_int(signedness.get(), "unsigned int", 4, BTF_INT_SIGNED);
    const int ts = btf__add_struct(signedness.get(), "tun", 8);
    btf__add_field(signedness.get(), "a", s32, 0, 0);
    btf__add_field(signedness.get(), "b", s32, 32, 0);
    btf__add_decl_tag(signedness.get(), "ufq:default=16", ts, 0);
    btf__add_decl_tag(signedness.get(), "ufq:max=64", ts, 0);
    EXPECT_FALSE(btf_types_equal(x.get(), tx, signedness.get(), ts));
}

// struct node { struct node *next; u64 v[n]; }: cycles end, array lengths count.
int add_list(btf* b, std::uint32_t n) {
    const int u64 = btf__add_int(b, "unsigned long long", 8, 0);
    const int u32 = btf__add_int(b, "unsigned int", 4, 0);
    const int node = btf__add_struct(b, "node", 8 + 8 * n);
    const int ptr = btf__add_ptr(b, node);
    const int arr = btf__add_array(b, u32, u64, n);
    btf__add_field(b, "next", ptr, 0, 0);
    btf__add_field(b, "v", arr, 64, 0);
    return node;
}

TEST(BtfCompareTest, RecursiveTypesAndArrays) {
    const BtfPtr x = new_btf();
    const BtfPtr y = new_btf();
    const BtfPtr z = new_btf();
    const int nx = add_list(x.get(), 4);
    const int ny = add_list(y.get(), 4);
    const int nz = add_list(z.get(), 5);
    EXPECT_TRUE(btf_types_equal(x.get(), nx, y.get(), ny));
    EXPECT_FALSE(btf_types_equal(x.get(), nx, z.get(), nz));
}

// The policy objects: deadline_v2 (tests/policies) changes the tunables' layout and adds a map
// before them, and keeps everything else.
TEST(BtfCompareTest, DeadlineAndItsV2) {
    const fs::path v1 = UFQ_POLICY_DIR "/deadline.bpf.o";
    const fs::path v2 = UFQ_POLICY_DIR "/deadline_v2.bpf.o";
    UFQ_SKIP_UNLESS_POLICIES_BUILT(v1);
    UFQ_SKIP_UNLESS_POLICIES_BUILT(v2);
    struct Closer {
        void operator()(bpf_object* o) const { bpf_object__close(o); }
    };
    const std::unique_ptr<bpf_object, Closer> a(bpf_object__open_file(v1.c_str(), nullptr));
    const std::unique_ptr<bpf_object, Closer> b(bpf_object__open_file(v2.c_str(), nullptr));
    ASSERT_TRUE(a && b);
    auto value_types = [](const bpf_object* obj) {
        std::map<std::string, std::uint32_t> out;
        bpf_map* map = nullptr;
        bpf_object__for_each_map(map, obj) {
            if (!bpf_map__is_internal(map))
                out[bpf_map__name(map)] = bpf_map__btf_value_type_id(map);
        }
        return out;
    };
    auto ta = value_types(a.get());
    auto tb = value_types(b.get());
    ASSERT_TRUE(ta.contains("dl_tunables") && tb.contains("dl_tunables"));
    EXPECT_FALSE(ta.contains("dl_v2_seen"));
    for (const char* same : {"dl_devices", "ufq_latency", "ufq_trace_ctl"})
        EXPECT_TRUE(btf_types_equal(bpf_object__btf(a.get()), ta.at(same),
                                    bpf_object__btf(b.get()), tb.at(same)))
            << same;
    EXPECT_FALSE(btf_types_equal(bpf_object__btf(a.get()), ta.at("dl_tunables"),
                                 bpf_object__btf(b.get()), tb.at("dl_tunables")));
    // The type ids differ (a map came first), which is what used to confuse swap.
    EXPECT_NE(ta.at("dl_devices"), tb.at("dl_devices"));
}

} // namespace
} // namespace ufq::test
