#pragma once

#include <bpf/btf.h>

#include <memory>

namespace ufq::test {

// BTF built in memory, as clang would emit it for a policy, so schema code is tested without
// compiling BPF.
struct BtfDeleter {
    void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

inline BtfPtr new_btf() { return BtfPtr(btf__new_empty()); }

} // namespace ufq::test
