#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace ufq {

// Small-file I/O for sysfs attributes. Failures throw ufq::Error carrying errno, because what
// an errno means (EINVAL from queue/scheduler, say) depends on the attribute, and only the
// caller knows which one it wrote.

// The whole file with surrounding whitespace (the kernel's trailing newline) removed.
// Refuses files larger than any sysfs attribute can be.
[[nodiscard]] std::string read_sysfs(const std::filesystem::path& path);

// Writes `value` with a single write(2): sysfs handles each write as one complete store, so a
// value split over several writes would be applied piecemeal.
void write_sysfs(const std::filesystem::path& path, std::string_view value);

// `text` without leading and trailing ASCII whitespace.
[[nodiscard]] std::string_view trim(std::string_view text) noexcept;

} // namespace ufq
