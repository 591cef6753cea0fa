/* SPDX-License-Identifier: GPL-2.0 */
/*
 * I/O priority class and level of ufq_bpf_rq_ioprio(), without the uapi header
 * <linux/ioprio.h> (vmlinux.h has its enum of classes, IOPRIO_CLASS_RT...,
 * but not the macros that take a priority value apart). Plain C, for
 * decision cores that run in BPF and in host unit tests.
 *
 * ufq_bpf_rq_ioprio() returns the request's priority in the kernel's encoding:
 * class << 13 | hint << 3 | level. The block layer gives every bio that
 * has none (class NONE) the priority of the submitting task, which for a
 * task that never called ioprio_set() is best effort at level
 * (nice + 20) / 5 (4 for nice 0), so NONE is rare in policies; treat it as
 * best effort, as the kernel's other schedulers do (ufq_ioprio_class_or_be).
 * tests/sdk/ioprio_test.cpp checks these values against <linux/ioprio.h>.
 */
#ifndef UFQ_IOPRIO_H
#define UFQ_IOPRIO_H

#include "ufq/types.h"

#define UFQ_IOPRIO_CLASS_SHIFT 13
#define UFQ_IOPRIO_CLASS_MASK 0x7
#define UFQ_IOPRIO_LEVEL_MASK 0x7	/* IOPRIO_LEVEL_NR_BITS 3 */
#define UFQ_IOPRIO_NR_LEVELS 8
#define UFQ_IOPRIO_HINT_SHIFT 3
#define UFQ_IOPRIO_HINT_MASK 0x3ff

/* The classes, as in <linux/ioprio.h>: a lower number is more urgent. */
enum ufq_ioprio_class {
	UFQ_IOPRIO_CLASS_NONE = 0,	/* none set (see above) */
	UFQ_IOPRIO_CLASS_RT = 1,	/* real time */
	UFQ_IOPRIO_CLASS_BE = 2,	/* best effort */
	UFQ_IOPRIO_CLASS_IDLE = 3,	/* only when nothing else waits */
	UFQ_IOPRIO_NR_CLASSES = 4,
};

/* The class of an ufq_bpf_rq_ioprio() value: UFQ_IOPRIO_CLASS_*, or 4..7 for invalid ones. */
static inline u32 ufq_ioprio_class(u16 ioprio)
{
	return (ioprio >> UFQ_IOPRIO_CLASS_SHIFT) & UFQ_IOPRIO_CLASS_MASK;
}

/* The level within the class, 0 (most urgent) to 7. */
static inline u32 ufq_ioprio_level(u16 ioprio)
{
	return ioprio & UFQ_IOPRIO_LEVEL_MASK;
}

/* The hint (e.g. a command duration limit), 0 for none. */
static inline u32 ufq_ioprio_hint(u16 ioprio)
{
	return (ioprio >> UFQ_IOPRIO_HINT_SHIFT) & UFQ_IOPRIO_HINT_MASK;
}

/* RT, BE or IDLE: NONE and invalid classes count as best effort. */
static inline u32 ufq_ioprio_class_or_be(u16 ioprio)
{
	u32 cls = ufq_ioprio_class(ioprio);

	return cls >= UFQ_IOPRIO_CLASS_RT && cls <= UFQ_IOPRIO_CLASS_IDLE ?
		       cls : (u32)UFQ_IOPRIO_CLASS_BE;
}

/* An ufq_bpf_rq_ioprio() value: the inverse of the three functions above. */
static inline u16 ufq_ioprio_value(u32 cls, u32 level)
{
	return (u16)(((cls & UFQ_IOPRIO_CLASS_MASK) << UFQ_IOPRIO_CLASS_SHIFT) |
		     (level & UFQ_IOPRIO_LEVEL_MASK));
}

#endif /* UFQ_IOPRIO_H */
