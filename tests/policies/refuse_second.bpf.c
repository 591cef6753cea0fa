// SPDX-License-Identifier: GPL-2.0
/*
 * Test policy that serves one device only: its init_dev accepts the first
 * device it is bound to and refuses every other one. Binding it to a
 * second device fails in the kernel after ufqctl has switched that device
 * to ufq, which is what the rollback tests need
 * (tests/vm/112-ufqctl-rollback.sh).
 */
#include "ufq.bpf.h"

UFQ_LICENSE;

#define ENODEV 19 /* errno values are not in vmlinux.h */

u32 first_dev;

s32 UFQ_OP(refuse_second_init_dev, struct ufq_sched *sched)
{
	u32 dev = sched->dev;

	if (!__sync_val_compare_and_swap(&first_dev, 0, dev))
		return 0;
	return first_dev == dev ? 0 : -ENODEV;
}

s32 UFQ_OP(refuse_second_insert, struct ufq_sched *sched, struct request *rq,
	   u64 flags)
{
	return ufq_bpf_insert(sched, rq, 0, 0);
}

void UFQ_OP(refuse_second_dispatch, struct ufq_sched *sched)
{
	ufq_bpf_dispatch(sched, 0);
}

UFQ_POLICY(refuse_second,
	.init_dev = (void *)refuse_second_init_dev,
	.insert = (void *)refuse_second_insert,
	.dispatch = (void *)refuse_second_dispatch,
);
