#include "ufq/tenants.hpp"

#include <bpf/btf.h>

#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "btf_fixture.hpp"
#include "error_message.hpp"
#include "skip.hpp"

namespace ufq::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// BTF as clang emits it for
//   enum qos_class { QOS_CLASS_BE = 0, QOS_CLASS_LC = 1 };
//   struct qos_tenant {
//       enum qos_class class UFQ_TUNABLE(0, 0, 1);
//       u32 weight UFQ_TUNABLE(100, 1, 10000);
//       u32 slo_p99_us UFQ_TUNABLE(2000, 50, 10000000);
//       u32 iops UFQ_TUNABLE(0, 0, 10000000);
//   };
// and a status value with live figures per tenant:
//   struct qos_live { u64 cgroup; u64 tokens; u32 p99_us; enum qos_class class; };
//   struct qos_status { u32 dev; u32 nr; struct qos_live tenants[3]; };
class TenantsTest : public ::testing::Test {
protected:
    void SetUp() override {
        b = new_btf();
        u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
        u64 = btf__add_int(b.get(), "unsigned long long", 8, 0);
        cls = btf__add_enum(b.get(), "qos_class", 4);
        btf__add_enum_value(b.get(), "QOS_CLASS_BE", 0);
        btf__add_enum_value(b.get(), "QOS_CLASS_LC", 1);
        const int t = btf__add_struct(b.get(), "qos_tenant", 16);
        btf__add_field(b.get(), "class", cls, 0, 0);
        btf__add_field(b.get(), "weight", u32, 32, 0);
        btf__add_field(b.get(), "slo_p99_us", u32, 64, 0);
        btf__add_field(b.get(), "iops", u32, 96, 0);
        tag(t, 0, 0, 0, 1);
        tag(t, 1, 100, 1, 10000);
        tag(t, 2, 2000, 50, 10000000);
        tag(t, 3, 0, 0, 10000000);
        schema = describe_btf_type(b.get(), t, "map qos_tenants");

        const int live = btf__add_struct(b.get(), "qos_live", 24);
        btf__add_field(b.get(), "cgroup", u64, 0, 0);
        btf__add_field(b.get(), "tokens", u64, 64, 0);
        btf__add_field(b.get(), "p99_us", u32, 128, 0);
        btf__add_field(b.get(), "class", cls, 160, 0);
        const int arr = btf__add_array(b.get(), u32, live, 3);
        const int st = btf__add_struct(b.get(), "qos_status", 8 + 3 * 24);
        btf__add_field(b.get(), "dev", u32, 0, 0);
        btf__add_field(b.get(), "nr", u32, 32, 0);
        btf__add_field(b.get(), "tenants", arr, 64, 0);
        status = describe_btf_type(b.get(), st, "map qos_status");
    }

    void tag(int type, int member, int def, int min, int max) {
        btf__add_decl_tag(b.get(), fmt("ufq:default=", def).c_str(), type, member);
        btf__add_decl_tag(b.get(), fmt("ufq:min=", min).c_str(), type, member);
        btf__add_decl_tag(b.get(), fmt("ufq:max=", max).c_str(), type, member);
    }
    static std::string fmt(const char* key, int v) { return key + std::to_string(v); }

    Int get(const std::vector<std::uint8_t>& v, const char* name) {
        return read_integer(*schema.member(name), v);
    }

    std::vector<std::uint8_t> value(const std::vector<std::string>& assignments,
                                    const std::optional<std::vector<std::uint8_t>>& existing = {}) {
        return tenant_value(schema, 16, existing, assignments, "qos");
    }

    // A status value for device `dev` with live elements (cgroup, tokens, p99_us, class).
    std::vector<std::uint8_t> status_value(
        std::uint32_t dev, const std::vector<std::tuple<std::uint64_t, std::uint64_t, std::uint32_t,
                                                        std::uint32_t>>& elements) {
        std::vector<std::uint8_t> v(status.size);
        std::memcpy(v.data(), &dev, 4);
        for (std::size_t i = 0; i < elements.size(); ++i) {
            const auto [cgroup, tokens, p99, klass] = elements[i];
            std::uint8_t* e = v.data() + 8 + i * 24;
            std::memcpy(e, &cgroup, 8);
            std::memcpy(e + 8, &tokens, 8);
            std::memcpy(e + 16, &p99, 4);
            std::memcpy(e + 20, &klass, 4);
        }
        return v;
    }

    BtfPtr b;
    int u32 = 0, u64 = 0, cls = 0;
    Schema schema;
    Schema status;
};

TEST_F(TenantsTest, ANewTenantStartsAtTheDefaults) {
    check_tenants_schema(schema, "qos_tenants");
    const auto v = value({});
    EXPECT_EQ(get(v, "class"), 0);
    EXPECT_EQ(get(v, "weight"), 100);
    EXPECT_EQ(get(v, "slo_p99_us"), 2000);
    EXPECT_EQ(get(v, "iops"), 0);
}

TEST_F(TenantsTest, EnumSettingsByName) {
    auto v = value({"class=lc", "slo_p99_us=500"});
    EXPECT_EQ(get(v, "class"), 1);
    EXPECT_EQ(get(v, "slo_p99_us"), 500);
    EXPECT_EQ(get(v, "weight"), 100);
    v = value({"class=BE"});
    EXPECT_EQ(get(v, "class"), 0);
    const auto settings = list_tunables(schema, value({"class=1"}));
    ASSERT_EQ(settings.size(), 4u);
    EXPECT_EQ(settings[0].text(settings[0].value), "lc");
}

TEST_F(TenantsTest, AnExistingTenantKeepsWhatIsNotAssigned) {
    const auto before = value({"weight=7", "iops=300"});
    const auto v = value({"class=lc"}, before);
    EXPECT_EQ(get(v, "class"), 1);
    EXPECT_EQ(get(v, "weight"), 7);   // not back at the default 100
    EXPECT_EQ(get(v, "iops"), 300);
}

TEST_F(TenantsTest, AssignmentErrorsNameTheSettings) {
    EXPECT_THAT(error_message([&] { (void)value({"klass=lc"}); }),
                HasSubstr("a tenant of qos has no setting 'klass'; its settings: class, weight, "
                          "slo_p99_us, iops"));
    EXPECT_THAT(error_message([&] { (void)value({"weight=0"}); }),
                HasSubstr("weight: 0 is out of range 1..10000"));
    EXPECT_THAT(error_message([&] { (void)value({"slo_p99_us=10000001"}); }),
                HasSubstr("out of range 50..10000000"));
    EXPECT_THAT(error_message([&] { (void)value({"slo_p99_us=fast"}); }),
                HasSubstr("slo_p99_us: 'fast' is not an integer"));
    EXPECT_THAT(error_message([&] { (void)value({"class=gold"}); }),
                HasSubstr("class: 'gold' is not one of be, lc (or a number)"));
    EXPECT_THAT(error_message([&] { (void)value({"class=2"}); }),
                HasSubstr("class: 2 is out of range 0..1"));
    EXPECT_THAT(error_message([&] { (void)value({"weight"}); }),
                HasSubstr("'weight' is not KEY=VALUE"));
}

TEST_F(TenantsTest, OnlyIntegerSettings) {
    EXPECT_THAT(error_message([&] { check_tenants_schema(status, "x_tenants"); }),
                HasSubstr("tenant setting tenants in map x_tenants is not an integer"));
}

TEST_F(TenantsTest, LiveFiguresByCgroupId) {
    const auto v = status_value(0x800010, {{0, 9, 9, 0}, {42, 5, 1800, 1}, {7, 0, 300, 0}});
    const auto figures = tenant_figures(status, v, 0x800010, false);
    ASSERT_TRUE(figures);
    ASSERT_EQ(figures->size(), 2u); // the element with cgroup 0 is unused
    EXPECT_EQ(figures->at(42), (nlohmann::json{{"tokens", 5}, {"p99_us", 1800}, {"class", 1}}));
    EXPECT_EQ(figures->at(7), (nlohmann::json{{"tokens", 0}, {"p99_us", 300}, {"class", 0}}));
    EXPECT_EQ(tenant_figures(status, v, 0x800010, true)->at(42)["class"], "lc");
}

TEST_F(TenantsTest, NoFiguresFromAnotherDevicesEntryOrWithoutATenantsArray) {
    const auto v = status_value(0x800010, {{42, 5, 1800, 1}});
    EXPECT_FALSE(tenant_figures(status, v, 0x800020, false));
    EXPECT_FALSE(tenant_figures(schema, value({}), 0, false)); // no member "tenants"
}

// A swap to a layout with a narrower weight range and a new member: what each tenant set
// carries over by name, what the new range refuses goes back to the new default.
TEST_F(TenantsTest, CarryOverIntoANewLayout) {
    auto b2 = new_btf();
    const int n32 = btf__add_int(b2.get(), "unsigned int", 4, 0);
    const int t = btf__add_struct(b2.get(), "qos_tenant", 12);
    btf__add_field(b2.get(), "burst", n32, 0, 0);
    btf__add_field(b2.get(), "weight", n32, 32, 0);
    btf__add_field(b2.get(), "slo_p99_us", n32, 64, 0);
    btf__add_decl_tag(b2.get(), "ufq:default=4", t, 0);
    btf__add_decl_tag(b2.get(), "ufq:default=100", t, 1);
    btf__add_decl_tag(b2.get(), "ufq:max=200", t, 1);
    btf__add_decl_tag(b2.get(), "ufq:default=1000", t, 2);
    const Schema next = describe_btf_type(b2.get(), t, "map qos_tenants");
    const std::vector<TenantEntry> old{{5, value({"weight=300", "slo_p99_us=800"})},
                                       {9, value({"weight=150"})}};
    const auto r = carry_over_tenants(schema, old, next, 12);
    EXPECT_THAT(r.reset, ElementsAre("5.weight"));
    ASSERT_EQ(r.entries.size(), 2u);
    auto nget = [&](std::size_t i, const char* name) {
        return read_integer(*next.member(name), r.entries[i].second);
    };
    EXPECT_EQ(r.entries[0].first, 5u);
    EXPECT_EQ(nget(0, "weight"), 100);      // 300 is beyond the new 0..200
    EXPECT_EQ(nget(0, "slo_p99_us"), 800);  // carried
    EXPECT_EQ(nget(0, "burst"), 4);         // new: its default
    EXPECT_EQ(r.entries[1].first, 9u);
    EXPECT_EQ(nget(1, "weight"), 150);
    EXPECT_EQ(nget(1, "slo_p99_us"), 1000); // never set: the new default
}

TEST_F(TenantsTest, ListAsJson) {
    TenantList list{"qos", "qos_tenants", 31, {}};
    list.tenants.push_back(Tenant{42, std::filesystem::path("/sys/fs/cgroup/lc"),
                                  list_tunables(schema, value({"class=lc"})),
                                  {{"nullb0", {{"tokens", 5}}}, {"nullb1", nullptr}}});
    list.tenants.push_back(Tenant{99, std::nullopt, list_tunables(schema, value({})), {}});
    const auto expected = nlohmann::json::parse(R"({
        "policy": "qos", "map": "qos_tenants", "max_entries": 31,
        "tenants": [
            {"id": 42, "path": "/sys/fs/cgroup/lc",
             "settings": {"class": 1, "weight": 100, "slo_p99_us": 2000, "iops": 0},
             "devices": {"nullb0": {"tokens": 5}, "nullb1": null}},
            {"id": 99, "path": null,
             "settings": {"class": 0, "weight": 100, "slo_p99_us": 2000, "iops": 0},
             "devices": {}}
        ]})");
    EXPECT_EQ(to_json(list), expected);
    EXPECT_EQ(tenant_name(list.tenants[0]), "/sys/fs/cgroup/lc");
    EXPECT_EQ(tenant_name(list.tenants[1]), "(deleted, id 99)");
}

// The test policy as clang compiled it: settings and live figures read from its own BTF.
TEST(TenantsFromPolicyObjectTest, TenantsCfg) {
    const std::filesystem::path object = UFQ_POLICY_DIR "/tenants_cfg.bpf.o";
    UFQ_SKIP_UNLESS_POLICIES_BUILT(object);
    BtfPtr b(btf__parse_elf(object.c_str(), nullptr));
    ASSERT_TRUE(b);
    const int tenant = btf__find_by_name_kind(b.get(), "tc_tenant", BTF_KIND_STRUCT);
    const int dev = btf__find_by_name_kind(b.get(), "tc_dev", BTF_KIND_STRUCT);
    ASSERT_GT(tenant, 0);
    ASSERT_GT(dev, 0);
    const Schema s = describe_btf_type(b.get(), tenant, "map tc_tenants");
    check_tenants_schema(s, "tc_tenants");
    const auto v = tenant_value(s, s.size, std::nullopt, {"class=lc"}, "tenants_cfg");
    const auto settings = list_tunables(s, v);
    ASSERT_EQ(settings.size(), 3u);
    EXPECT_EQ(settings[0].text(settings[0].value), "lc");
    EXPECT_EQ(settings[1].value, 100);
    EXPECT_EQ(settings[2].value, 2000);

    const Schema status = describe_btf_type(b.get(), dev, "map tc_status");
    std::vector<std::uint8_t> bytes(status.size);
    const std::uint32_t kdev = (7u << 20) | 3;
    const std::uint64_t cgroup = 4242, requests = 9;
    std::memcpy(bytes.data(), &kdev, 4);
    const Schema& tenants = *status.member("tenants");
    const Schema& elem = tenants.children.front();
    std::memcpy(bytes.data() + tenants.offset + elem.size + elem.member("cgroup")->offset, &cgroup,
                8);
    std::memcpy(bytes.data() + tenants.offset + elem.size + elem.member("requests")->offset,
                &requests, 8);
    const auto figures = tenant_figures(status, bytes, kdev, true);
    ASSERT_TRUE(figures);
    ASSERT_EQ(figures->size(), 1u);
    EXPECT_EQ(figures->at(4242)["requests"], 9);
    EXPECT_EQ(figures->at(4242)["class"], "be");
}

} // namespace
} // namespace ufq::test
