#pragma once

#include <string>

#include <gtest/gtest.h>

#include "ufq/error.hpp"

namespace ufq::test {

// Runs `f`, which must throw ufq::Error, and returns the message. Fails the test (and returns
// "") if it does not throw, or throws something else. Also checks the one-line rule.
template <typename F>
std::string error_message(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
        EXPECT_FALSE(message.empty());
        return message;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw something other than ufq::Error: " << e.what();
        return {};
    }
    ADD_FAILURE() << "did not throw";
    return {};
}

} // namespace ufq::test
