/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Model weights as a versioned double buffer, shared by policies (BPF),
 * their plain-C decision cores (unit tests) and ufqctl (`model push`,
 * `model show`).
 *
 * A policy declares its weights as a struct of integers, arrays of integers
 * and nested structs (fixed point: no floats in BPF), wraps it with
 * UFQ_MODEL_STRUCT and keeps it in a map whose name ends in "_model" (see
 * UFQ_MODEL_MAP in bpf/ufq.bpf.h): a one-entry, mmap-able array.
 *
 *	struct my_weights { s32 w[4] UFQ_RANGE(-4096, 4096); s32 bias; };
 *	UFQ_MODEL_STRUCT(my_model, struct my_weights);
 *
 * ufqctl writes a push into the slot policies are not reading (through an
 * mmap of the map), sets slot_gen of that slot, and only then makes it the
 * active one with a release store; the next push goes to the other slot.
 * A reader picks the active slot once per decision and so always sees one
 * complete model, never a mix of two. ufqctl waits UFQ_MODEL_GRACE_MS after
 * a flip before it overwrites the previous slot: callbacks run with
 * preemption disabled and for microseconds, so no reader can still be on
 * it (the time-based equivalent of an RCU grace period, which user space
 * cannot wait for directly).
 */
#ifndef UFQ_MODEL_H
#define UFQ_MODEL_H

#include "ufq/types.h"

#define UFQ_MODEL_GRACE_MS 100

#define UFQ_MODEL_STRUCT(name, weights_type)					\
	struct name {								\
		u32 active;		/* slot readers use: 0 or 1 */		\
		u32 reserved;							\
		u64 generation;		/* pushes so far */			\
		u64 pushed_ns;		/* CLOCK_MONOTONIC of the last flip */	\
		u64 slot_gen[2];	/* push a slot holds; 0: never written */ \
		weights_type slot[2];						\
	}

/*
 * The live weights of model value *m and their generation (in *gen), or
 * NULL before the first push. Reads `active` once, so the pointer stays on
 * one consistent slot for the whole decision.
 */
#define ufq_model_live(m, gen)							\
	({									\
		u32 __slot = *(volatile u32 *)&(m)->active & 1;			\
		*(gen) = (m)->slot_gen[__slot];					\
		*(gen) ? &(m)->slot[__slot] : (__typeof__(&(m)->slot[0]))0;	\
	})

#endif /* UFQ_MODEL_H */
