/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One output path for two formats. A command describes what it found once,
 * as a sequence of calls: out_text() writes only in text mode, out_j*()
 * only in JSON mode, and out_num()/out_str()/out_flags() do both. Objects
 * and arrays (out_obj/out_arr ... out_end) shape the JSON document and are
 * invisible in text, whose layout comes from the format strings alone.
 * Keeping both renderings side by side in the same call is what keeps
 * "uvfio info" and "uvfio info --json" from drifting apart.
 */
#ifndef UVFIO_TOOLS_OUT_H
#define UVFIO_TOOLS_OUT_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

#define OUT_MAX_DEPTH 16

struct out {
	bool json;
	FILE *f;                                   /* text goes here; JSON too at out_finish() */
	struct json_object *stack[OUT_MAX_DEPTH];  /* [0] is the document */
	int depth;                                 /* index of the innermost open container */
	bool failed;                               /* out of memory or nesting: output incomplete */
};

/* A named bit, for out_flags(). */
struct out_flag {
	uint64_t bit;
	const char *name;
};

int out_init(struct out *o, bool json, FILE *f);
/* JSON: print the document; both: release it. Return: 0, or -ENOMEM if output was lost. */
int out_finish(struct out *o);

/* Open an object or array under @key (ignored inside an array); JSON only. */
void out_obj(struct out *o, const char *key);
void out_arr(struct out *o, const char *key);
void out_end(struct out *o);

/* Text mode only. */
void out_text(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* JSON mode only; @key is ignored inside an array. */
void out_jnum(struct out *o, const char *key, uint64_t v);
void out_jdouble(struct out *o, const char *key, double v);
void out_jstr(struct out *o, const char *key, const char *s);
void out_jbool(struct out *o, const char *key, bool v);
void out_jnull(struct out *o, const char *key);

/* @v as a JSON number under @key, and through @fmt (one uint64_t conversion) as text. */
#define out_num(o, key, fmt, v)                 \
	do {                                    \
		uint64_t v__ = (uint64_t)(v);   \
		out_jnum((o), (key), v__);      \
		out_text((o), (fmt), v__);      \
	} while (0)

/* @s as a JSON string under @key, and through @fmt (one %s) as text. */
#define out_str(o, key, fmt, s)                 \
	do {                                    \
		const char *s__ = (s);          \
		out_jstr((o), (key), s__);      \
		out_text((o), (fmt), s__);      \
	} while (0)

/*
 * The set bits of @v that @tbl names: a JSON array of names under @key;
 * in text the names separated by spaces, or @none when no bit is set.
 * Bits @tbl doesn't name show as "0x..." in both.
 */
void out_flags(struct out *o, const char *key, const struct out_flag *tbl, size_t n,
	       uint64_t v, const char *none);

/* "4 KiB", "64 KiB", "32 bytes": an exact power-of-1024 unit where there is one. */
const char *out_size(char buf[32], uint64_t v);

#endif /* UVFIO_TOOLS_OUT_H */
