// SPDX-License-Identifier: GPL-2.0
/*
 * Test policies whose callbacks call kfuncs they may not call: each must
 * fail to load, with the verifier naming the kfunc
 * (tests/vm/066-kfunc-load-checks.sh). bad_kf_{insert,dispatch,complete}.bpf.c
 * each define BAD_KFUNC_CASE and include this file:
 *
 *   1  insert() dispatches (ufq_bpf_dispatch() is for dispatch() only)
 *   2  dispatch() inserts directly (ufq_bpf_direct_dispatch() needs insert()),
 *      with a request it gets from nowhere: the kfunc check comes first
 *   3  completed() looks at a queue (the queue kfuncs need the device lock)
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#if BAD_KFUNC_CASE == 1
#define BK_NAME bad_kf_insert
#elif BAD_KFUNC_CASE == 2
#define BK_NAME bad_kf_dispatch
#else
#define BK_NAME bad_kf_complete
#endif

u64 bk_len;

s32 UFQ_OP(bk_insert, struct ufq_sched *sched, struct request *rq, u64 flags)
{
#if BAD_KFUNC_CASE == 1
	ufq_bpf_dispatch(sched, 0);
#endif
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(bk_dispatch, struct ufq_sched *sched)
{
#if BAD_KFUNC_CASE == 2
	ufq_bpf_direct_dispatch(sched, (struct request *)sched);
#endif
	ufq_bpf_dispatch(sched, 0);
}

void UFQ_OP(bk_completed, struct ufq_sched *sched, struct request *rq,
	    u64 wait_ns, u64 service_ns)
{
#if BAD_KFUNC_CASE == 3
	bk_len = ufq_bpf_queue_nr(sched, 0);
#endif
}

/* Expands BK_NAME before UFQ_POLICY stringifies it. */
#define BK_POLICY(name, ...) UFQ_POLICY(name, __VA_ARGS__)

BK_POLICY(BK_NAME,
	.insert = (void *)bk_insert,
	.dispatch = (void *)bk_dispatch,
	.completed = (void *)bk_completed,
);
