#pragma once

#include <stdexcept>
#include <string>

namespace ufq {

// The one exception libufq throws. Its message is a single line that says what was wrong and
// what to do about it, so a tool can print it as is, e.g.
//   no block device 'nvme9n1' (see lsblk for device names)
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, int sys_errno = 0)
        : std::runtime_error(message), sys_errno_(sys_errno) {}

    // errno of the system call that failed, or 0. Kept so that a caller with more context can
    // turn a generic failure (a sysfs write, say) into advice that fits.
    [[nodiscard]] int sys_errno() const noexcept { return sys_errno_; }

private:
    int sys_errno_;
};

} // namespace ufq
