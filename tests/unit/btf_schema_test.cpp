#include "ufq/btf_schema.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "error_message.hpp"

namespace ufq::test {
namespace {

using ::testing::HasSubstr;

// struct tun { u32 a [default 5, 1..10]; s16 b; u8 flag; s64 c [-5..5]; u64 big; }
class BtfSchemaTest : public ::testing::Test {
protected:
    void SetUp() override {
        b = new_btf();
        u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
        s16 = btf__add_int(b.get(), "short", 2, BTF_INT_SIGNED);
        u8 = btf__add_int(b.get(), "unsigned char", 1, 0);
        s64 = btf__add_int(b.get(), "long long", 8, BTF_INT_SIGNED);
        u64 = btf__add_int(b.get(), "unsigned long long", 8, 0);
        const int u32_t = btf__add_typedef(b.get(), "u32", u32);
        tun = btf__add_struct(b.get(), "tun", 24);
        btf__add_field(b.get(), "a", u32_t, 0, 0);
        btf__add_field(b.get(), "b", s16, 32, 0);
        btf__add_field(b.get(), "flag", u8, 48, 0);
        btf__add_field(b.get(), "c", s64, 64, 0);
        btf__add_field(b.get(), "big", u64, 128, 0);
        btf__add_decl_tag(b.get(), "ufq:default=5", tun, 0);
        btf__add_decl_tag(b.get(), "ufq:min=1", tun, 0);
        btf__add_decl_tag(b.get(), "ufq:max=10", tun, 0);
        btf__add_decl_tag(b.get(), "ufq:min=-5", tun, 3);
        btf__add_decl_tag(b.get(), "ufq:max=5", tun, 3);
        btf__add_decl_tag(b.get(), "other:thing", tun, 1); // not ours: ignored
    }

    BtfPtr b;
    int u32 = 0, s16 = 0, u8 = 0, s64 = 0, u64 = 0, tun = 0;
};

TEST_F(BtfSchemaTest, MembersWithTypeLimitsAndTags) {
    const Schema s = describe_btf_type(b.get(), tun, "map t");
    ASSERT_EQ(s.kind, Schema::Kind::Struct);
    ASSERT_EQ(s.children.size(), 5u);
    const Schema& a = *s.member("a");
    EXPECT_EQ(a.size, 4u);
    EXPECT_FALSE(a.is_signed);
    EXPECT_EQ(int_to_string(a.min), "1");
    EXPECT_EQ(int_to_string(a.max), "10");
    ASSERT_TRUE(a.def);
    EXPECT_EQ(int_to_string(*a.def), "5");
    const Schema& bm = *s.member("b");
    EXPECT_EQ(bm.offset, 4u);
    EXPECT_TRUE(bm.is_signed);
    EXPECT_EQ(int_to_string(bm.min), "-32768");
    EXPECT_EQ(int_to_string(bm.max), "32767");
    EXPECT_FALSE(bm.def);
    EXPECT_EQ(int_to_string(s.member("c")->min), "-5");
    EXPECT_EQ(int_to_string(s.member("big")->max), "18446744073709551615");
}

TEST_F(BtfSchemaTest, ParseIntegerChecksRangeAndSyntax) {
    const Schema s = describe_btf_type(b.get(), tun, "map t");
    EXPECT_EQ(int_to_string(parse_integer(*s.member("a"), "7", "a")), "7");
    EXPECT_EQ(int_to_string(parse_integer(*s.member("a"), "0xa", "a")), "10");
    EXPECT_EQ(int_to_string(parse_integer(*s.member("c"), "-5", "c")), "-5");
    EXPECT_EQ(int_to_string(parse_integer(*s.member("big"), "18446744073709551615", "big")),
              "18446744073709551615");
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("a"), "11", "a"); }),
                HasSubstr("a: 11 is out of range 1..10"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("a"), "0", "a"); }),
                HasSubstr("out of range 1..10"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("flag"), "256", "flag"); }),
                HasSubstr("out of range 0..255"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("b"), "-32769", "b"); }),
                HasSubstr("out of range -32768..32767"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("a"), "5ms", "a"); }),
                HasSubstr("a: '5ms' is not an integer"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("a"), "", "a"); }),
                HasSubstr("is not an integer"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(*s.member("big"), "18446744073709551616", "big"); }),
                HasSubstr("is not an integer"));
}

// enum lanes_mode { LANES_MODE_AUTO, LANES_MODE_BALANCED, LANES_MODE_LATENCY = 2 } mode [0..1]
TEST_F(BtfSchemaTest, EnumValuesGoByTheirShortNames) {
    const int e = btf__add_enum(b.get(), "lanes_mode", 4);
    btf__add_enum_value(b.get(), "LANES_MODE_AUTO", 0);
    btf__add_enum_value(b.get(), "LANES_MODE_BALANCED", 1);
    btf__add_enum_value(b.get(), "LANES_MODE_LATENCY", 2);
    const int st = btf__add_struct(b.get(), "with_enum", 4);
    btf__add_field(b.get(), "mode", e, 0, 0);
    btf__add_decl_tag(b.get(), "ufq:max=1", st, 0);
    const Schema s = describe_btf_type(b.get(), st, "map t");
    const Schema& mode = *s.member("mode");
    ASSERT_EQ(mode.enumerators.size(), 3u);
    EXPECT_EQ(mode.enumerators[1].first, "balanced");
    EXPECT_EQ(int_to_string(parse_integer(mode, "balanced", "mode")), "1");
    EXPECT_EQ(int_to_string(parse_integer(mode, "AUTO", "mode")), "0");
    EXPECT_EQ(int_to_string(parse_integer(mode, "1", "mode")), "1");
    // Named, but outside the tagged range; and a name it does not have.
    EXPECT_THAT(error_message([&] { (void)parse_integer(mode, "latency", "mode"); }),
                HasSubstr("mode: latency is out of range 0..1"));
    EXPECT_THAT(error_message([&] { (void)parse_integer(mode, "fast", "mode"); }),
                HasSubstr("mode: 'fast' is not one of auto, balanced (or a number)"));
    std::vector<std::uint8_t> v(s.size);
    write_integer(mode, v, 1);
    EXPECT_EQ(value_to_json(s, v, true).dump(), R"({"mode":"balanced"})");
    EXPECT_EQ(value_to_json(s, v).dump(), R"({"mode":1})");
    EXPECT_EQ(integer_text(mode.enumerators, 2), "latency");
    EXPECT_EQ(integer_text(mode.enumerators, 7), "7");
}

TEST_F(BtfSchemaTest, ReadWriteIntegersOfEveryWidthAndSign) {
    const Schema s = describe_btf_type(b.get(), tun, "map t");
    std::vector<std::uint8_t> v(s.size);
    write_integer(*s.member("b"), v, -2);
    write_integer(*s.member("c"), v, -3);
    write_integer(*s.member("flag"), v, 200);
    write_integer(*s.member("big"), v, static_cast<Int>(~0ULL));
    EXPECT_EQ(int_to_string(read_integer(*s.member("b"), v)), "-2");
    EXPECT_EQ(int_to_string(read_integer(*s.member("c"), v)), "-3");
    EXPECT_EQ(int_to_string(read_integer(*s.member("flag"), v)), "200");
    EXPECT_EQ(int_to_string(read_integer(*s.member("a"), v)), "0");
    EXPECT_EQ(v[4], 0xfe);
    EXPECT_EQ(v[5], 0xff);
    EXPECT_EQ(value_to_json(s, v).dump(),
              R"({"a":0,"b":-2,"big":18446744073709551615,"c":-3,"flag":200})");
}

TEST_F(BtfSchemaTest, MalformedTagIsAnError) {
    btf__add_decl_tag(b.get(), "ufq:max=(1<<3)", tun, 1);
    EXPECT_THAT(error_message([&] { (void)describe_btf_type(b.get(), tun, "map t"); }),
                HasSubstr("map t: member b has a malformed tag 'ufq:max=(1<<3)'"));
}

TEST_F(BtfSchemaTest, TagOutsideTheTypeIsAnError) {
    btf__add_decl_tag(b.get(), "ufq:max=300", tun, 2);
    EXPECT_THAT(error_message([&] { (void)describe_btf_type(b.get(), tun, "map t"); }),
                HasSubstr("outside its type's range 0..255"));
}

TEST_F(BtfSchemaTest, DefaultOutsideTheRangeIsAnError) {
    btf__add_decl_tag(b.get(), "ufq:default=9", tun, 3);
    EXPECT_THAT(error_message([&] { (void)describe_btf_type(b.get(), tun, "map t"); }),
                HasSubstr("member c has default 9 outside its range -5..5"));
}

TEST_F(BtfSchemaTest, UnsupportedTypesAreNamed) {
    const int ptr = btf__add_ptr(b.get(), u32);
    const int st = btf__add_struct(b.get(), "withptr", 8);
    btf__add_field(b.get(), "p", ptr, 0, 0);
    EXPECT_THAT(error_message([&] { (void)describe_btf_type(b.get(), st, "map x"); }),
                HasSubstr("map x: pointer"));
    const int bits = btf__add_struct(b.get(), "bits", 4);
    btf__add_field(b.get(), "x", u32, 0, 3);
    EXPECT_THAT(error_message([&] { (void)describe_btf_type(b.get(), bits, "map x"); }),
                HasSubstr("bitfield"));
}

// struct w { s32 coef[2][3] [-100..100]; struct { u16 k; } inner; bool on; }
class BtfJsonTest : public ::testing::Test {
protected:
    void SetUp() override {
        b = new_btf();
        const int s32 = btf__add_int(b.get(), "int", 4, BTF_INT_SIGNED);
        const int u16 = btf__add_int(b.get(), "unsigned short", 2, 0);
        const int boolean = btf__add_int(b.get(), "_Bool", 1, BTF_INT_BOOL);
        const int idx = btf__add_int(b.get(), "unsigned int", 4, 0);
        const int row = btf__add_array(b.get(), idx, s32, 3);
        const int matrix = btf__add_array(b.get(), idx, row, 2);
        const int inner = btf__add_struct(b.get(), "inner", 2);
        btf__add_field(b.get(), "k", u16, 0, 0);
        w = btf__add_struct(b.get(), "w", 28);
        btf__add_field(b.get(), "coef", matrix, 0, 0);
        btf__add_field(b.get(), "inner", inner, 192, 0);
        btf__add_field(b.get(), "on", boolean, 208, 0);
        btf__add_decl_tag(b.get(), "ufq:min=-100", w, 0);
        btf__add_decl_tag(b.get(), "ufq:max=100", w, 0);
        schema = describe_btf_type(b.get(), w, "model");
    }

    std::string error_for(const std::string& text) {
        std::vector<std::uint8_t> v(schema.size);
        return error_message([&] { json_to_value(schema, nlohmann::json::parse(text), v); });
    }

    BtfPtr b;
    int w = 0;
    Schema schema;
};

TEST_F(BtfJsonTest, RoundTrip) {
    const auto in = nlohmann::json::parse(
        R"({"coef": [[1, -2, 3], [100, -100, 0]], "inner": {"k": 65535}, "on": 1})");
    std::vector<std::uint8_t> v(schema.size);
    json_to_value(schema, in, v);
    EXPECT_EQ(value_to_json(schema, v), in);
}

TEST_F(BtfJsonTest, ShapeErrorsNameThePath) {
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5]], "inner": {"k": 1}, "on": 0})"),
                HasSubstr("coef[1]: expected 3 elements, got 2"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3]], "inner": {"k": 1}, "on": 0})"),
                HasSubstr("coef: expected 2 elements, got 1"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5,101]], "inner": {"k": 1}, "on": 0})"),
                HasSubstr("coef[1][2]: 101 is out of range -100..100"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5,1.5]], "inner": {"k": 1}, "on": 0})"),
                HasSubstr("coef[1][2]: 1.5 is not an integer"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5,6]], "inner": {"k": -1}, "on": 0})"),
                HasSubstr("inner.k: -1 is out of range 0..65535"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5,6]], "inner": {"k": 1}})"),
                HasSubstr("on: missing"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5,6]], "inner": {"k": 1}, "on": 0, "x": 1})"),
                HasSubstr("unknown member 'x'"));
    EXPECT_THAT(error_for(R"({"coef": 3, "inner": {"k": 1}, "on": 0})"),
                HasSubstr("coef: expected an array of 2, got number"));
    EXPECT_THAT(error_for(R"([1, 2])"), HasSubstr("expected an object, got array"));
    EXPECT_THAT(error_for(R"({"coef": [[1,2,3],[4,5,6]], "inner": {"k": 1}, "on": 2})"),
                HasSubstr("on: 2 is out of range 0..1"));
}

} // namespace
} // namespace ufq::test
