// ssdsim profiles: the shipped ones load, and every kind of bad input is refused in one line.
#include "profile.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

namespace ssdsim {
namespace {

nlohmann::json good() {
    return nlohmann::json::parse(R"({
      "description": "test", "time_scale": 10, "capacity_mib": 64, "queue_depth": 8,
      "max_io_kib": 256, "dies": 4, "page_kib": 4, "read_us": 50, "program_us": 200,
      "command_us": 10, "transfer_mb_s": 400, "buffer_mib": 1, "drain_mb_s": 50,
      "gc": { "window_mib": 64, "recover_mb_s": 10, "max_factor": 2 }, "noise": 0.05
    })");
}

std::string refusal(const nlohmann::json& j) {
    try {
        parse_profile(j.dump(), "t");
    } catch (const ProfileError& e) {
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "accepted: " << j.dump();
    return "";
}

TEST(SsdsimProfile, ShippedProfilesLoad) {
    for (const char* name : {"nvme", "sata"}) {
        const Profile p = load_profile(std::string(SSDSIM_PROFILE_DIR) + "/" + name + ".json");
        EXPECT_EQ(p.name, name);
        EXPECT_GE(p.time_scale, 1);
        EXPECT_GT(p.dies, 0u);
    }
}

TEST(SsdsimProfile, ParsesUnitsAndDefaults) {
    const Profile p = parse_profile(good().dump(), "t");
    EXPECT_EQ(p.capacity_bytes, 64ull << 20);
    EXPECT_EQ(p.page_bytes, 4096u);
    EXPECT_EQ(p.max_io_bytes, 256u << 10);
    EXPECT_EQ(p.buffer_bytes, 1ull << 20);
    EXPECT_DOUBLE_EQ(p.gc_max_factor, 2);
    EXPECT_EQ(p.seed, 1u); // optional
}

TEST(SsdsimProfile, RefusesMalformedJson) {
    try {
        parse_profile("{ \"dies\": ", "t");
        FAIL() << "accepted";
    } catch (const ProfileError& e) {
        EXPECT_THAT(e.what(), ::testing::StartsWith("profile t: not valid JSON: "));
    }
}

TEST(SsdsimProfile, RefusesMissingUnknownAndMistypedFields) {
    auto j = good();
    j.erase("dies");
    EXPECT_EQ(refusal(j), "profile t: 'dies' is missing");
    j = good();
    j["die"] = 4;
    EXPECT_EQ(refusal(j), "profile t: 'die' is not a profile field");
    j = good();
    j["read_us"] = "fast";
    EXPECT_EQ(refusal(j), "profile t: 'read_us' must be a number");
    j = good();
    j["gc"].erase("max_factor");
    EXPECT_EQ(refusal(j), "profile t: gc: 'max_factor' is missing");
}

TEST(SsdsimProfile, RefusesOutOfRangeValues) {
    auto j = good();
    j["dies"] = 0;
    EXPECT_EQ(refusal(j), "profile t: 'dies' 0 is out of range [1, 1024]");
    j = good();
    j["noise"] = 0.9;
    EXPECT_EQ(refusal(j), "profile t: 'noise' 0.9 is out of range [0, 0.5]");
    j = good();
    j["page_kib"] = 12;
    EXPECT_EQ(refusal(j), "profile t: page_kib 12 is not a power of two");
    j = good();
    j["dies"] = -1;
    EXPECT_EQ(refusal(j), "profile t: 'dies' must be a whole number >= 0");
}

TEST(SsdsimProfile, RefusesADrainTheDiesCannotKeepUpWith) {
    auto j = good();
    j["drain_mb_s"] = 100; // 4 dies x 4096 B / 200 us = 81.9 MB/s
    EXPECT_THAT(refusal(j), ::testing::HasSubstr("drain_mb_s 100 exceeds what the dies can program (81.9 MB/s"));
}

TEST(SsdsimProfile, RefusesAMissingFile) {
    try {
        load_profile("/nonexistent/x.json");
        FAIL() << "accepted";
    } catch (const ProfileError& e) {
        EXPECT_EQ(std::string(e.what()), "profile x: cannot read /nonexistent/x.json");
    }
}

} // namespace
} // namespace ssdsim
