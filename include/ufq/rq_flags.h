/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bits of ufq_bpf_rq_flags() (the kernel's enum ufq_rq_flags in
 * include/uapi/linux/ufq.h), for plain-C decision cores that are compiled
 * both into a BPF policy and into host unit tests.
 *
 * In a BPF policy the enum comes from vmlinux.h, that is from the BTF of
 * the kernel the policy is built for; this header then only checks, at
 * build time, that the kernel's values are the ones below, which the host
 * build, ufqctl and docs/ufq-formats.md use. On the host it defines the
 * enum itself. tests/sdk/check-kernel-constants.sh compares the list with
 * the kernel source of kernel-patches/ so that the two cannot drift apart.
 */
#ifndef UFQ_RQ_FLAGS_H
#define UFQ_RQ_FLAGS_H

/* X(name, value): one line per flag, UFQ_RQ_<name> = value. */
#define UFQ_RQ_FLAG_LIST(X)						\
	X(WRITE, 0x01)		/* a write (also discards, write zeroes) */ \
	X(SYNC, 0x02)		/* synchronous: reads, O_DIRECT and fsync writes */ \
	X(META, 0x04)		/* file system metadata */		\
	X(PRIO, 0x08)		/* boosted by the file system (REQ_PRIO) */ \
	X(FUA, 0x10)		/* forced unit access write */		\
	X(DISCARD, 0x20)	/* discard */				\
	X(READAHEAD, 0x40)	/* readahead, may be failed */

#ifdef __bpf__
#define __UFQ_RQ_FLAG_CHECK(name, value)				\
	_Static_assert(UFQ_RQ_##name == (value), "UFQ_RQ_" #name " in vmlinux.h is not " \
		       #value ": the kernel and this SDK disagree (rebuild against the SDK of that kernel)");
UFQ_RQ_FLAG_LIST(__UFQ_RQ_FLAG_CHECK)
#undef __UFQ_RQ_FLAG_CHECK
#else
#define __UFQ_RQ_FLAG_ENUM(name, value) UFQ_RQ_##name = (value),
enum ufq_rq_flags { UFQ_RQ_FLAG_LIST(__UFQ_RQ_FLAG_ENUM) };
#undef __UFQ_RQ_FLAG_ENUM
#endif

#endif /* UFQ_RQ_FLAGS_H */
