#include "ufq/tunables.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "error_message.hpp"
#include "skip.hpp"

namespace ufq::test {
namespace {

using ::testing::HasSubstr;

class TunablesTest : public ::testing::Test {
protected:
    void SetUp() override {
        b = new_btf();
        const int u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
        const int s32 = btf__add_int(b.get(), "int", 4, BTF_INT_SIGNED);
        const int t = btf__add_struct(b.get(), "t", 12);
        btf__add_field(b.get(), "batch", u32, 0, 0);
        btf__add_field(b.get(), "expire_ms", u32, 32, 0);
        btf__add_field(b.get(), "bias", s32, 64, 0);
        btf__add_decl_tag(b.get(), "ufq:default=16", t, 0);
        btf__add_decl_tag(b.get(), "ufq:min=1", t, 0);
        btf__add_decl_tag(b.get(), "ufq:max=64", t, 0);
        btf__add_decl_tag(b.get(), "ufq:default=500", t, 1);
        schema = describe_btf_type(b.get(), t, "map x_tunables");
        value.assign(schema.size, 0);
    }

    Int get(const char* name) { return read_integer(*schema.member(name), value); }

    BtfPtr b;
    Schema schema;
    std::vector<std::uint8_t> value;
};

TEST_F(TunablesTest, DefaultsThenAssignments) {
    check_tunables_schema(schema, "x_tunables");
    apply_defaults(schema, value);
    EXPECT_EQ(get("batch"), 16);
    EXPECT_EQ(get("expire_ms"), 500);
    EXPECT_EQ(get("bias"), 0); // no default: left alone
    apply_assignments(schema, value, {"batch=8", "bias=-3"}, "x");
    EXPECT_EQ(get("batch"), 8);
    EXPECT_EQ(get("bias"), -3);
    const auto list = list_tunables(schema, value);
    ASSERT_EQ(list.size(), 3u);
    EXPECT_EQ(list[0].name, "batch");
    EXPECT_EQ(list[0].value, 8);
    EXPECT_EQ(list[0].min, 1);
    EXPECT_EQ(list[0].max, 64);
    EXPECT_EQ(list[0].def, Int{16});
    EXPECT_TRUE(list[2].is_signed);
}

TEST_F(TunablesTest, UnknownKeyListsTheChoices) {
    EXPECT_THAT(error_message([&] { apply_assignments(schema, value, {"fifo=1"}, "x"); }),
                HasSubstr("x has no tunable 'fifo'; its tunables: batch, expire_ms, bias"));
}

TEST_F(TunablesTest, OutOfRangeAndMalformed) {
    EXPECT_THAT(error_message([&] { apply_assignments(schema, value, {"batch=65"}, "x"); }),
                HasSubstr("batch: 65 is out of range 1..64"));
    EXPECT_THAT(error_message([&] { apply_assignments(schema, value, {"expire_ms=-1"}, "x"); }),
                HasSubstr("out of range 0..4294967295"));
    EXPECT_THAT(error_message([&] { apply_assignments(schema, value, {"batch"}, "x"); }),
                HasSubstr("'batch' is not KEY=VALUE"));
    EXPECT_THAT(error_message([&] { apply_assignments(schema, value, {"=3"}, "x"); }),
                HasSubstr("is not KEY=VALUE"));
    EXPECT_THAT(error_message([&] { apply_assignments(schema, value, {"batch=x"}, "x"); }),
                HasSubstr("batch: 'x' is not an integer"));
}

// One bad assignment and nothing is applied, not even the good ones before it.
TEST_F(TunablesTest, AllOrNothing) {
    apply_defaults(schema, value);
    const auto before = value;
    (void)error_message([&] { apply_assignments(schema, value, {"bias=5", "batch=0"}, "x"); });
    EXPECT_EQ(value, before);
}

// A swap to a new tunables layout (fixture: batch 16 in 1..64, expire_ms 500, bias): what the
// user changed carries over by name if the new range takes it; the rest gets new defaults.
TEST_F(TunablesTest, CarryOverByNameIntoANewLayout) {
    auto b2 = new_btf();
    const int u32 = btf__add_int(b2.get(), "unsigned int", 4, 0);
    const int t = btf__add_struct(b2.get(), "t2", 12);
    btf__add_field(b2.get(), "extra", u32, 0, 0);
    btf__add_field(b2.get(), "batch", u32, 32, 0);
    btf__add_field(b2.get(), "expire_ms", u32, 64, 0);
    btf__add_decl_tag(b2.get(), "ufq:default=3", t, 0);
    btf__add_decl_tag(b2.get(), "ufq:default=16", t, 1);
    btf__add_decl_tag(b2.get(), "ufq:max=32", t, 1);
    btf__add_decl_tag(b2.get(), "ufq:default=400", t, 2);
    const Schema next = describe_btf_type(b2.get(), t, "map x_tunables");
    auto fresh = [&] {
        std::vector<std::uint8_t> v(next.size);
        apply_defaults(next, v);
        return v;
    };
    auto nget = [&](const std::vector<std::uint8_t>& v, const char* name) {
        return read_integer(*next.member(name), v);
    };

    apply_defaults(schema, value);
    apply_assignments(schema, value, {"batch=8", "bias=-1"}, "x");
    auto v = fresh();
    auto r = carry_over_tunables(schema, value, next, v);
    EXPECT_THAT(r.carried, ::testing::ElementsAre("batch"));
    EXPECT_TRUE(r.reset.empty());
    EXPECT_EQ(nget(v, "batch"), 8);
    EXPECT_EQ(nget(v, "expire_ms"), 400); // never changed: the new default
    EXPECT_EQ(nget(v, "extra"), 3);

    apply_assignments(schema, value, {"batch=50", "expire_ms=700"}, "x");
    v = fresh();
    r = carry_over_tunables(schema, value, next, v);
    EXPECT_THAT(r.carried, ::testing::ElementsAre("expire_ms"));
    EXPECT_THAT(r.reset, ::testing::ElementsAre("batch")); // 50 is beyond the new 1..32
    EXPECT_EQ(nget(v, "batch"), 16);
    EXPECT_EQ(nget(v, "expire_ms"), 700);
}

TEST(TunablesMapNameTest, ExactlyOne) {
    EXPECT_EQ(tunables_map_name({"dl_tunables"}, "deadline"), "dl_tunables");
    EXPECT_THAT(error_message([] { (void)tunables_map_name({}, "fifo"); }),
                HasSubstr("policy fifo has no tunables"));
    EXPECT_THAT(error_message([] { (void)tunables_map_name({"a_tunables", "b_tunables"}, "p"); }),
                HasSubstr("several maps ending in '_tunables' (a_tunables, b_tunables)"));
}

TEST(TunablesSchemaTest, OnlyIntegers) {
    auto b = new_btf();
    const int u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
    const int arr = btf__add_array(b.get(), u32, u32, 2);
    const int t = btf__add_struct(b.get(), "t", 8);
    btf__add_field(b.get(), "pair", arr, 0, 0);
    const Schema s = describe_btf_type(b.get(), t, "map t");
    EXPECT_THAT(error_message([&] { check_tunables_schema(s, "t_tunables"); }),
                HasSubstr("tunable pair in map t_tunables is not an integer"));
    EXPECT_THAT(error_message([&] { check_tunables_schema(*s.member("pair"), "t_tunables"); }),
                HasSubstr("is not a struct"));
}

// The real deadline policy, as clang compiled it: its tags reach the BTF ufqctl reads.
TEST(TunablesFromPolicyObjectTest, DeadlineRangesAndDefaults) {
    const std::filesystem::path object = UFQ_POLICY_DIR "/deadline.bpf.o";
    UFQ_SKIP_UNLESS_POLICIES_BUILT(object);
    BtfPtr b(btf__parse_elf(object.c_str(), nullptr));
    ASSERT_TRUE(b);
    const int id = btf__find_by_name_kind(b.get(), "deadline_tunables", BTF_KIND_STRUCT);
    ASSERT_GT(id, 0);
    const Schema s = describe_btf_type(b.get(), id, "map dl_tunables");
    check_tunables_schema(s, "dl_tunables");
    std::vector<std::uint8_t> v(s.size);
    apply_defaults(s, v);
    const auto list = list_tunables(s, v);
    ASSERT_EQ(list.size(), 4u);
    EXPECT_EQ(list[0].name, "read_expire_ms");
    EXPECT_EQ(list[0].value, 500);
    EXPECT_EQ(list[1].value, 5000);
    EXPECT_EQ(list[2].value, 2);
    EXPECT_EQ(list[3].name, "fifo_batch");
    EXPECT_EQ(list[3].value, 16);
    EXPECT_EQ(list[3].min, 1);
    EXPECT_EQ(list[3].max, 1024);
    EXPECT_THAT(error_message([&] { apply_assignments(s, v, {"fifo_batch=0"}, "deadline"); }),
                HasSubstr("fifo_batch: 0 is out of range 1..1024"));
}

} // namespace
} // namespace ufq::test
