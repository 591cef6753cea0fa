#pragma once

#include <string>
#include <system_error>

namespace ufq {

// strerror() text for `err`, without strerror's thread-safety problems.
[[nodiscard]] inline std::string errno_text(int err) {
    return std::generic_category().message(err);
}

} // namespace ufq
