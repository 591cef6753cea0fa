// The one exception type of the ssdsim server: what() is a single line for the user.
#pragma once

#include <cstring>
#include <stdexcept>
#include <string>

namespace ssdsim {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// `what`: strerror(err), for a negative or positive errno value.
[[noreturn]] inline void fail_errno(const std::string& what, int err) {
    throw Error(what + ": " + std::strerror(err < 0 ? -err : err));
}

} // namespace ssdsim
