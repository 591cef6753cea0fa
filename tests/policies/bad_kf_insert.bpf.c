// SPDX-License-Identifier: GPL-2.0
/* See bad_kf.h: insert() calls a kfunc it may not call. */
#define BAD_KFUNC_CASE 1
#include "bad_kf.h"
