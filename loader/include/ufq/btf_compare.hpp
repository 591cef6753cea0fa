#pragma once

#include <cstdint>

struct btf;

namespace ufq {

// Whether type `a_id` of `a` and type `b_id` of `b` describe the same data in the same way:
// the same kinds, names, sizes, integer encodings, array lengths, enumerators, struct members
// (name, offset, bitfield size, type) and decl tags (so UFQ_TUNABLE defaults and ranges count),
// all the way down. Type ids may differ (another object, more types before it). Id 0 (void)
// equals only void. Recursive types compare equal when their shapes do.
[[nodiscard]] bool btf_types_equal(const btf* a, std::uint32_t a_id, const btf* b,
                                   std::uint32_t b_id);

} // namespace ufq
