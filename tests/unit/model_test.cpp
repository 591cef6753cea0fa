#include "ufq/model.hpp"

#include <bpf/btf.h>

#include <cstring>
#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "error_message.hpp"
#include "skip.hpp"
#include "ufq/model.h"

namespace ufq::test {
namespace {

using ::testing::HasSubstr;

// The shape the SDK macro produces, compiled natively: the layout ufqctl checks is the one
// policies get.
struct weights {
    s32 coef[2][2];
    u16 scale;
};
UFQ_MODEL_STRUCT(native_model, struct weights);

// The same as BTF (clang's output for UFQ_MODEL_STRUCT in a policy).
class ModelTest : public ::testing::Test {
protected:
    void SetUp() override {
        b = new_btf();
        const int u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
        const int u64 = btf__add_int(b.get(), "unsigned long long", 8, 0);
        const int s32 = btf__add_int(b.get(), "int", 4, BTF_INT_SIGNED);
        const int u16 = btf__add_int(b.get(), "unsigned short", 2, 0);
        const int row = btf__add_array(b.get(), u32, s32, 2);
        const int matrix = btf__add_array(b.get(), u32, row, 2);
        const int w = btf__add_struct(b.get(), "weights", sizeof(weights));
        btf__add_field(b.get(), "coef", matrix, 0, 0);
        btf__add_field(b.get(), "scale", u16, 8 * offsetof(weights, scale), 0);
        btf__add_decl_tag(b.get(), "ufq:min=-1000", w, 0);
        btf__add_decl_tag(b.get(), "ufq:max=1000", w, 0);
        const int gens = btf__add_array(b.get(), u32, u64, 2);
        const int slots = btf__add_array(b.get(), u32, w, 2);
        value_id = btf__add_struct(b.get(), "native_model", sizeof(native_model));
        btf__add_field(b.get(), "active", u32, 8 * offsetof(native_model, active), 0);
        btf__add_field(b.get(), "reserved", u32, 8 * offsetof(native_model, reserved), 0);
        btf__add_field(b.get(), "generation", u64, 8 * offsetof(native_model, generation), 0);
        btf__add_field(b.get(), "pushed_ns", u64, 8 * offsetof(native_model, pushed_ns), 0);
        btf__add_field(b.get(), "slot_gen", gens, 8 * offsetof(native_model, slot_gen), 0);
        btf__add_field(b.get(), "slot", slots, 8 * offsetof(native_model, slot), 0);
        layout = model_layout(describe_btf_type(b.get(), value_id, "map m_model"), "m_model");
    }

    std::string error_for(std::string_view text) {
        return error_message([&] { (void)parse_weights(layout, text, "w.json"); });
    }

    BtfPtr b;
    int value_id = 0;
    ModelLayout layout;
};

TEST_F(ModelTest, LayoutMatchesTheNativeStruct) {
    EXPECT_EQ(layout.active, offsetof(native_model, active));
    EXPECT_EQ(layout.generation, offsetof(native_model, generation));
    EXPECT_EQ(layout.slot_gen, offsetof(native_model, slot_gen));
    EXPECT_EQ(layout.slot, offsetof(native_model, slot));
    EXPECT_EQ(layout.weights.size, sizeof(weights));
}

// Weights parsed from JSON land where the policy's C code reads them.
TEST_F(ModelTest, ParsedWeightsAreTheCStruct) {
    const auto bytes = parse_weights(layout, R"({"coef": [[1, -2], [3, 1000]], "scale": 7})",
                                     "w.json");
    ASSERT_EQ(bytes.size(), sizeof(weights));
    weights w;
    std::memcpy(&w, bytes.data(), sizeof(w));
    EXPECT_EQ(w.coef[0][1], -2);
    EXPECT_EQ(w.coef[1][1], 1000);
    EXPECT_EQ(w.scale, 7);
}

// read_model follows `active` and slot_gen, as ufq_model_live() does in a policy.
TEST_F(ModelTest, ReadModelFollowsTheActiveSlot) {
    native_model m{};
    EXPECT_EQ(read_model(layout, {reinterpret_cast<const std::uint8_t*>(&m), sizeof(m)}).generation,
              0u);
    u64 gen = 1;
    EXPECT_EQ(ufq_model_live(&m, &gen), nullptr);
    EXPECT_EQ(gen, 0u);

    m.slot[1].coef[0][0] = 42;
    m.slot_gen[1] = 3;
    m.active = 1;
    const ModelState s =
        read_model(layout, {reinterpret_cast<const std::uint8_t*>(&m), sizeof(m)});
    EXPECT_EQ(s.generation, 3u);
    EXPECT_EQ(s.active, 1u);
    EXPECT_EQ(s.weights["coef"][0][0], 42);
    const weights* live = ufq_model_live(&m, &gen);
    ASSERT_EQ(live, &m.slot[1]);
    EXPECT_EQ(gen, 3u);
}

TEST_F(ModelTest, MalformedJsonIsOneLine) {
    EXPECT_THAT(error_for("{\"coef\": [[1, 2],\n [3"), HasSubstr("w.json: not valid JSON: parse error at line 2"));
    EXPECT_THAT(error_for(""), HasSubstr("w.json: not valid JSON"));
}

TEST_F(ModelTest, MisShapedJsonNamesThePath) {
    EXPECT_THAT(error_for(R"({"coef": [[1, 2], [3]], "scale": 1})"),
                HasSubstr("w.json: coef[1]: expected 2 elements, got 1"));
    EXPECT_THAT(error_for(R"({"coef": [[1, 2], [3, 1001]], "scale": 1})"),
                HasSubstr("w.json: coef[1][1]: 1001 is out of range -1000..1000"));
    EXPECT_THAT(error_for(R"({"coef": [[1, 2], [3, 4]]})"), HasSubstr("w.json: scale: missing"));
    EXPECT_THAT(error_for(R"({"coef": [[1, 2], [3, 4]], "scale": 1, "bias": 0})"),
                HasSubstr("w.json: unknown member 'bias'"));
    EXPECT_THAT(error_for(R"({"coef": [[1, 2], [3, 4]], "scale": "7"})"),
                HasSubstr("w.json: scale: \"7\" is not an integer"));
}

TEST_F(ModelTest, NotAModelStruct) {
    const int u32 = btf__find_by_name_kind(b.get(), "unsigned int", BTF_KIND_INT);
    const int bad = btf__add_struct(b.get(), "bad", 4);
    btf__add_field(b.get(), "active", u32, 0, 0);
    EXPECT_THAT(error_message([&] {
                    (void)model_layout(describe_btf_type(b.get(), bad, "m"), "x_model");
                }),
                HasSubstr("map x_model is not a ufq model: its value needs member generation"));
}

// The test policy's model as clang compiled it.
TEST(ModelFromPolicyObjectTest, ModelPrio) {
    const std::filesystem::path object = UFQ_POLICY_DIR "/model_prio.bpf.o";
    UFQ_SKIP_UNLESS_POLICIES_BUILT(object);
    BtfPtr b(btf__parse_elf(object.c_str(), nullptr));
    ASSERT_TRUE(b);
    const int id = btf__find_by_name_kind(b.get(), "mp_model_value", BTF_KIND_STRUCT);
    ASSERT_GT(id, 0);
    const ModelLayout l = model_layout(describe_btf_type(b.get(), id, "map mp_model"), "mp_model");
    EXPECT_EQ(l.weights.size, 16u);
    (void)parse_weights(l, R"({"coef": [[1, 0], [-1, 0]]})", "w.json");
    EXPECT_THAT(error_message([&] {
                    (void)parse_weights(l, R"({"coef": [[1, 0], [-1, 2000000]]})", "w.json");
                }),
                HasSubstr("coef[1][1]: 2000000 is out of range -1000000..1000000"));
}

} // namespace
} // namespace ufq::test
