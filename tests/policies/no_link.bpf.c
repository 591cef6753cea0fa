// SPDX-License-Identifier: GPL-2.0
/*
 * A policy in a plain ".struct_ops" section instead of ".struct_ops.link":
 * it would stay registered until someone deletes its map element, and the
 * kernel takes ufq policies only through a link. `ufqctl load` and
 * `ufqctl swap` must refuse it with one line saying so, before loading
 * anything (tests/unit/error_paths_test.cpp, tests/vm/110-ufqctl-errors.sh).
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

s32 UFQ_OP(no_link_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(no_link_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

SEC(".struct_ops") struct ufq_ops no_link = {
	.name = "no_link",
	.insert = (void *)no_link_insert,
	.dispatch = (void *)no_link_dispatch,
};
