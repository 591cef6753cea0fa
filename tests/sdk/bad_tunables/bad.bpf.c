// SPDX-License-Identifier: GPL-2.0
/* Must not compile with -DUFQ_BAD_CASE=n (1..6): tunables ufqctl could not read. */
#include "ufq.bpf.h"

struct bad_tunables {
	u32 good UFQ_TUNABLE(16, 1, 0x400);
	s32 negative UFQ_TUNABLE(-5, -10, 10);
#if UFQ_BAD_CASE == 1
	u32 x UFQ_TUNABLE((2000), 0, 5000);
#elif UFQ_BAD_CASE == 2
	u32 x UFQ_TUNABLE(2000, 0, 5000U);
#elif UFQ_BAD_CASE == 3
	u32 x UFQ_TUNABLE(1 + 1, 0, 5);
#elif UFQ_BAD_CASE == 4
	u32 x UFQ_TUNABLE(0777, 0, 1000);
#elif UFQ_BAD_CASE == 5
	u32 x UFQ_TUNABLE(7, 0, 5);
#elif UFQ_BAD_CASE == 6
	s32 w[2] UFQ_RANGE(10, -10);
#endif
};

UFQ_TUNABLES_MAP(bad_tunables_map, struct bad_tunables);
UFQ_LICENSE;
