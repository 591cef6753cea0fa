#include "ufq/model.hpp"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "errno_text.hpp"
#include "ufq/error.hpp"
#include "ufq/model.h"
#include "ufq/pinned_map.hpp"
#include "ufq/require.hpp"
#include "ufq/state.hpp"
#include "ufq/tunables.hpp"

namespace fs = std::filesystem;

namespace ufq {
namespace {

const Schema& expect_member(const Schema& value, std::string_view name, Schema::Kind kind,
                            std::size_t size, std::string_view map_name) {
    const Schema* m = value.member(name);
    if (!m || m->kind != kind || (size && m->size != size))
        throw Error(fmt::format("map {} is not a ufq model: its value needs member {} as made by "
                                "UFQ_MODEL_STRUCT (include/ufq/model.h)",
                                map_name, name));
    return *m;
}

std::uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

// The model map of a loaded policy, mapped into memory (how the idle slot is written in place).
class MappedModel {
public:
    MappedModel(const std::string& policy, const Paths& paths) {
        require_loaded(paths, policy);
        const auto names = policy_maps_with_suffix(paths, policy, kModelSuffix);
        if (names.empty())
            throw Error(fmt::format("policy {} has no model (no map whose name ends in "
                                    "'_model', see UFQ_MODEL_MAP in bpf/ufq.bpf.h)",
                                    policy));
        if (names.size() > 1)
            throw Error(fmt::format("policy {} has several maps ending in '_model'; a policy "
                                    "must have one",
                                    policy));
        map_ = std::make_unique<PinnedMap>(paths.policy_dir(policy) / "maps" / names.front());
        const auto& info = map_->info();
        if (info.type != BPF_MAP_TYPE_ARRAY || info.max_entries != 1 ||
            !(info.map_flags & BPF_F_MMAPABLE))
            throw Error(fmt::format("map {} of policy {} is not a one-element mmap-able array "
                                    "(declare it with UFQ_MODEL_MAP)",
                                    names.front(), policy));
        layout_ = model_layout(map_->value_schema(), names.front());
        size_ = (info.value_size + 7) / 8 * 8;
        void* mem = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, map_->fd(), 0);
        if (mem == MAP_FAILED)
            throw Error(fmt::format("cannot map {} into memory: {}", names.front(),
                                    errno_text(errno)));
        mem_ = static_cast<std::uint8_t*>(mem);
    }
    ~MappedModel() { munmap(mem_, size_); }
    MappedModel(const MappedModel&) = delete;
    MappedModel& operator=(const MappedModel&) = delete;

    [[nodiscard]] const ModelLayout& layout() const { return layout_; }
    [[nodiscard]] const std::string& name() const { return map_->name(); }
    [[nodiscard]] std::span<std::uint8_t> bytes() const { return {mem_, map_->info().value_size}; }

    template <typename T>
    std::atomic_ref<T> at(std::size_t offset) const {
        return std::atomic_ref<T>(*reinterpret_cast<T*>(mem_ + offset));
    }

private:
    std::unique_ptr<PinnedMap> map_;
    ModelLayout layout_;
    std::uint8_t* mem_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace

ModelLayout model_layout(const Schema& value, std::string_view map_name) {
    if (value.kind != Schema::Kind::Struct)
        throw Error(fmt::format("map {} is not a ufq model: its value is not a struct", map_name));
    ModelLayout l;
    l.value = value;
    l.active = expect_member(value, "active", Schema::Kind::Integer, 4, map_name).offset;
    l.generation = expect_member(value, "generation", Schema::Kind::Integer, 8, map_name).offset;
    l.pushed_ns = expect_member(value, "pushed_ns", Schema::Kind::Integer, 8, map_name).offset;
    const Schema& gens = expect_member(value, "slot_gen", Schema::Kind::Array, 16, map_name);
    const Schema& slots = expect_member(value, "slot", Schema::Kind::Array, 0, map_name);
    if (gens.count != 2 || slots.count != 2 ||
        slots.children.front().kind != Schema::Kind::Struct)
        throw Error(fmt::format("map {} is not a ufq model: slot and slot_gen must have two "
                                "elements and slots must be structs (UFQ_MODEL_STRUCT)",
                                map_name));
    l.slot_gen = gens.offset;
    l.slot = slots.offset;
    l.weights = slots.children.front();
    l.weights.offset = 0;
    return l;
}

std::vector<std::uint8_t> parse_weights(const ModelLayout& layout, std::string_view text,
                                        std::string_view file) {
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // "[json.exception.parse_error.101] parse error at line 1, column 3: ..." -> from "parse"
        std::string what = e.what();
        if (const auto pos = what.find("] "); pos != std::string::npos)
            what = what.substr(pos + 2);
        throw Error(fmt::format("{}: not valid JSON: {}", file, what));
    }
    std::vector<std::uint8_t> bytes(layout.weights.size);
    try {
        json_to_value(layout.weights, json, bytes);
    } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", file, e.what()));
    }
    return bytes;
}

ModelState read_model(const ModelLayout& l, std::span<const std::uint8_t> value) {
    Schema u32;
    u32.size = 4;
    Schema u64;
    u64.size = 8;
    ModelState m;
    u32.offset = l.active;
    m.active = static_cast<std::uint32_t>(read_integer(u32, value)) & 1;
    u64.offset = l.slot_gen + 8 * m.active;
    m.generation = static_cast<std::uint64_t>(read_integer(u64, value));
    m.weights = value_to_json(l.weights, value.subspan(l.slot + m.active * l.weights.size,
                                                       l.weights.size));
    return m;
}

std::uint64_t push_model(const std::string& policy, const fs::path& file, const Paths& paths) {
    require_root();
    require_loaded(paths, policy);
    std::ifstream in(file);
    if (!in)
        throw Error(fmt::format("cannot read {}: {}", file.string(), errno_text(errno)));
    std::ostringstream text;
    text << in.rdbuf();

    // Two pushes at once would write the same idle slot; a swap must not replace the map
    // between opening it and flipping.
    const LockFile lock = lock_policy(paths, policy);
    MappedModel model(policy, paths);
    const ModelLayout& l = model.layout();
    // Validate before touching anything: a bad file changes nothing.
    const auto weights = parse_weights(l, text.str(), file.string());

    const std::uint32_t active = model.at<std::uint32_t>(l.active).load() & 1;
    const std::uint32_t idle = active ^ 1;
    const std::uint64_t generation = model.at<std::uint64_t>(l.generation).load() + 1;

    // Readers that picked the idle slot before the last flip must be done with it.
    const std::uint64_t flipped = model.at<std::uint64_t>(l.pushed_ns).load();
    const std::uint64_t grace = UFQ_MODEL_GRACE_MS * 1000000ULL;
    if (const std::uint64_t now = now_ns(); flipped && now < flipped + grace)
        std::this_thread::sleep_for(std::chrono::nanoseconds(flipped + grace - now));

    std::memcpy(model.bytes().data() + l.slot + idle * l.weights.size, weights.data(),
                weights.size());
    model.at<std::uint64_t>(l.slot_gen + 8 * idle).store(generation, std::memory_order_relaxed);
    // Release: a reader that sees the new `active` sees the whole slot written above.
    model.at<std::uint32_t>(l.active).store(idle, std::memory_order_release);
    model.at<std::uint64_t>(l.generation).store(generation, std::memory_order_relaxed);
    model.at<std::uint64_t>(l.pushed_ns).store(now_ns(), std::memory_order_relaxed);
    return generation;
}

ModelState show_model(const std::string& policy, const Paths& paths) {
    require_root();
    const MappedModel model(policy, paths);
    ModelState m = read_model(model.layout(), model.bytes());
    m.map = model.name();
    return m;
}

} // namespace ufq
