/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Integer types for headers compiled both into BPF policies (where
 * vmlinux.h provides them) and into host code and unit tests.
 */
#ifndef UFQ_TYPES_H
#define UFQ_TYPES_H

#ifdef __bpf__
/* vmlinux.h, included by bpf/ufq.bpf.h, defines u8..u64 and s32/s64. */
#else
#include <stdbool.h>
#include <stdint.h>
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int32_t s32;
typedef int64_t s64;
#endif

#endif /* UFQ_TYPES_H */
