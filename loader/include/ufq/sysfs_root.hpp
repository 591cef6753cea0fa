#pragma once

#include <filesystem>

namespace ufq {

// Where sysfs and /dev are mounted. Everything in libufq that looks at the system takes one,
// so tests can point it at a fake tree in a temporary directory; real code uses the defaults.
struct SysfsRoot {
    std::filesystem::path sys{"/sys"};
    std::filesystem::path dev{"/dev"};
};

} // namespace ufq
