#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ufq/btf_schema.hpp"
#include "ufq/policy.hpp"

namespace ufq {

// A policy's model lives in the one map whose name ends in "_model": a one-element, mmap-able
// array whose value is a UFQ_MODEL_STRUCT (include/ufq/model.h): two slots of the policy's
// weights struct and which one is live. `model push` writes a JSON object shaped like the
// weights struct into the idle slot and then flips; `model show` reads the live slot.
inline constexpr std::string_view kModelSuffix = "_model";

// Where the parts of a UFQ_MODEL_STRUCT value are, checked against its BTF.
struct ModelLayout {
    Schema value;
    std::size_t active = 0;     // u32
    std::size_t generation = 0; // u64
    std::size_t pushed_ns = 0;  // u64
    std::size_t slot_gen = 0;   // u64[2]
    std::size_t slot = 0;       // weights[2]
    Schema weights;             // one slot's type
};

// Throws ufq::Error naming what does not match UFQ_MODEL_STRUCT.
[[nodiscard]] ModelLayout model_layout(const Schema& value, std::string_view map_name);

// Parses the text of a weights file into one slot's bytes. Every error is one line naming
// `file` and, for shape errors, the JSON path: "w.json: coef[1]: expected 2 elements, got 3".
[[nodiscard]] std::vector<std::uint8_t> parse_weights(const ModelLayout& layout,
                                                      std::string_view text,
                                                      std::string_view file);

struct ModelState {
    std::string map;
    std::uint32_t active = 0;
    std::uint64_t generation = 0;   // of the live slot; 0: nothing pushed yet
    nlohmann::json weights;         // the live slot, shaped like the weights struct
};

// Reads the live model from a model map value.
[[nodiscard]] ModelState read_model(const ModelLayout& layout, std::span<const std::uint8_t> value);

// `ufqctl model push`: returns the new generation.
std::uint64_t push_model(const std::string& policy, const std::filesystem::path& file,
                         const Paths& paths = {});
// `ufqctl model show`.
[[nodiscard]] ModelState show_model(const std::string& policy, const Paths& paths = {});

} // namespace ufq
