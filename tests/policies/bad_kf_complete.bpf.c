// SPDX-License-Identifier: GPL-2.0
/* See bad_kf.h: completed() calls a kfunc it may not call. */
#define BAD_KFUNC_CASE 3
#include "bad_kf.h"
