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
 * tests) the macros are empty.
 *
 * The arguments are stringified, not evaluated, so each must be an integer
 * literal, or a macro that expands to one: decimal or 0x hex, optionally
 * negative, no suffix (16, -5, 0x10; not (16), 16U, +16 or 8 + 8), with
 * min <= default <= max. The BPF build checks this with static assertions
 * (the macros end the member's declaration and add them after it), so a
 * malformed tag fails the build instead of making ufqctl refuse the policy.
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
/*
 * Checks that an argument is written as ufqctl reads it (parse_int_text()
 * in loader/lib/btf_schema.cpp). The preprocessor cannot look into a token
 * and C cannot index a string in a constant expression, but the length of
 * the stringified argument is a constant: it must be the length of the
 * value's own decimal or 0x hex spelling, optionally after a '-'. That
 * refuses parentheses, suffixes and expressions: (2000), 5000U, 1 + 1.
 * Leading zeros (octal in C, decimal for ufqctl) are refused unless the
 * octal spelling is as long as a hex one (010 to 017, 0100 to 0377): do
 * not write them. (__builtin_choose_expr keeps clang from printing the
 * whole expansion when an assertion fails.)
 */
#define __UFQ_MAG(v) ((v) < 0 ? -(unsigned __int128)(v) : (unsigned __int128)(v))
/* Digits of m in base b, for m below b^20: 1 plus one for each power of b up to m. */
#define __UFQ_D4(m, b) ((m) / (b) / (b) / (b) / (b))
#define __UFQ_N4(m, b)							\
	(!!((m) / (b)) + !!((m) / (b) / (b)) + !!((m) / (b) / (b) / (b)) + !!__UFQ_D4(m, b))
#define __UFQ_NDIGITS(m, b)						\
	(1 + __UFQ_N4(m, b) + __UFQ_N4(__UFQ_D4(m, b), b) +		\
	 __UFQ_N4(__UFQ_D4(__UFQ_D4(m, b), b), b) +			\
	 __UFQ_N4(__UFQ_D4(__UFQ_D4(__UFQ_D4(m, b), b), b), b) +		\
	 __UFQ_N4(__UFQ_D4(__UFQ_D4(__UFQ_D4(__UFQ_D4(m, b), b), b), b), b))
#define __UFQ_LITERAL_OK(x)						\
	(sizeof(UFQ_STR(x)) - 1 ==						\
		 ((__int128)(x) < 0) + __UFQ_NDIGITS(__UFQ_MAG((__int128)(x)), 10) ||	\
	 sizeof(UFQ_STR(x)) - 1 ==						\
		 ((__int128)(x) < 0) + 2 + __UFQ_NDIGITS(__UFQ_MAG((__int128)(x)), 16))
#define __UFQ_CHECK_LITERAL(macro, x)					\
	_Static_assert(__builtin_choose_expr(__UFQ_LITERAL_OK(x), 1, 0),	\
		       macro ": '" UFQ_STR(x) "' is not an integer literal as ufqctl "	\
		       "reads it (decimal or 0x hex, optional '-', no suffix, "	\
		       "parentheses, expression or leading zero)")
#define __UFQ_CHECK_RANGE(macro, min, max)				\
	__UFQ_CHECK_LITERAL(macro, min);					\
	__UFQ_CHECK_LITERAL(macro, max);					\
	_Static_assert(__builtin_choose_expr((__int128)(min) <= (__int128)(max), 1, 0), \
		       macro ": min " UFQ_STR(min) " is above max " UFQ_STR(max))

/* Each ends the member's declaration and adds static assertions after it. */
#define UFQ_RANGE(min, max)						\
	__UFQ_TAG("min", min) __UFQ_TAG("max", max);			\
	__UFQ_CHECK_RANGE("UFQ_RANGE", min, max)
#define UFQ_TUNABLE(def, min, max)					\
	__UFQ_TAG("default", def) __UFQ_TAG("min", min) __UFQ_TAG("max", max);	\
	__UFQ_CHECK_LITERAL("UFQ_TUNABLE", def);				\
	__UFQ_CHECK_RANGE("UFQ_TUNABLE", min, max);			\
	_Static_assert(__builtin_choose_expr((__int128)(min) <= (__int128)(def) &&	\
					     (__int128)(def) <= (__int128)(max), 1, 0),		\
		       "UFQ_TUNABLE: default " UFQ_STR(def) " is outside " UFQ_STR(min) ".." UFQ_STR(max))
#else
#define UFQ_RANGE(min, max)
#define UFQ_TUNABLE(def, min, max)
#endif

#endif /* UFQ_BTF_TAGS_H */
