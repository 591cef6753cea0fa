/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ranges and defaults of tunables and model weights, carried in BTF.
 *
 * A policy marks the members of its tunables struct (the value of the one
 * map whose name ends in "_tunables") and of its model weights with
 *
 *	u32 fifo_batch UFQ_TUNABLE(16, 1, 1024);	default 16, range 1..1024
 *	s32 w[4] UFQ_RANGE(-1024, 1024);		range only
 *
 * In a BPF object these become BTF decl tags ("ufq:default=16",
 * "ufq:min=1", "ufq:max=1024") on the member, which the kernel keeps with
 * the map's BTF; ufqctl reads them back from the pinned map, so
 * `ufqctl set` checks ranges and `ufqctl load` starts from the defaults
 * without knowing anything about the policy. Compiled natively (unit
 * tests) the macros are empty. Arguments must be integer literals
 * (optionally negative): they are stringified, not evaluated.
 */
#ifndef UFQ_BTF_TAGS_H
#define UFQ_BTF_TAGS_H

#define __UFQ_STR(x) #x
#define UFQ_STR(x) __UFQ_STR(x)

#if defined(__bpf__) && defined(__has_attribute)
#if __has_attribute(btf_decl_tag)
#define __UFQ_TAG(key, value) __attribute__((btf_decl_tag("ufq:" key "=" UFQ_STR(value))))
#endif
#endif

#ifdef __UFQ_TAG
#define UFQ_RANGE(min, max) __UFQ_TAG("min", min) __UFQ_TAG("max", max)
#define UFQ_TUNABLE(def, min, max) __UFQ_TAG("default", def) UFQ_RANGE(min, max)
#else
#define UFQ_RANGE(min, max)
#define UFQ_TUNABLE(def, min, max)
#endif

#endif /* UFQ_BTF_TAGS_H */
