#pragma once

#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

// Skips that say why, loudly: gtest prints the message, ctest lists the test under "The
// following tests did not run". Use only for what the machine cannot provide; everything
// else must run.

// The ufqctl commands check for root before anything else; as another user they would only
// test that check (NotRootTest does).
#define UFQ_SKIP_UNLESS_ROOT()                                                                   \
    do {                                                                                         \
        if (::geteuid() != 0)                                                                    \
            GTEST_SKIP() << "SKIPPED: needs root (ufqctl's commands refuse anyone else first); " \
                            "run the unit tests as root to cover this";                          \
    } while (0)

// Tests that read the BPF objects built from policies/ and tests/policies/.
#define UFQ_SKIP_UNLESS_POLICIES_BUILT(object)                                                   \
    do {                                                                                         \
        if (!std::filesystem::exists(object))                                                    \
            GTEST_SKIP() << "SKIPPED: " << (object)                                             \
                         << " is not built (configure with a vmlinux.h, as make build does)";    \
    } while (0)
