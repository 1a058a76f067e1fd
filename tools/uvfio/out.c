// SPDX-License-Identifier: BSD-3-Clause
/*
 * The text/JSON emitter behind out.h. JSON values are collected into one
 * json-c document and printed whole at the end, so a command that fails
 * half-way still prints a well-formed object (with what it found and an
 * "error" key) rather than a truncated one. Allocation failures and
 * unbalanced nesting don't crash: they mark the output as failed and the
 * command reports it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "out.h"

int out_init(struct out *o, bool json, FILE *f)
{
	*o = (struct out){ .json = json, .f = f };
	if (!json)
		return 0;
	o->stack[0] = json_object_new_object();
	return o->stack[0] ? 0 : -ENOMEM;
}

int out_finish(struct out *o)
{
	int ret = o->failed ? -ENOMEM : 0;

	if (o->json && o->stack[0]) {
		int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			    JSON_C_TO_STRING_NOSLASHESCAPE;

		fprintf(o->f, "%s\n", json_object_to_json_string_ext(o->stack[0], flags));
		json_object_put(o->stack[0]);
		o->stack[0] = NULL;
	}
	if (fflush(o->f))
		ret = -errno;
	return ret;
}

/* Attach @v to the innermost container; takes @v in every case. */
static void add(struct out *o, const char *key, struct json_object *v)
{
	struct json_object *top = o->stack[o->depth];

	if (!v || !top) {
		o->failed = true;
		json_object_put(v);
		return;
	}
	if (json_object_is_type(top, json_type_array)) {
		if (json_object_array_add(top, v))
			goto fail;
	} else if (!key || json_object_object_add(top, key, v)) {
		goto fail;
	}
	return;
fail:
	o->failed = true;
	json_object_put(v);
}

static void push(struct out *o, const char *key, struct json_object *v)
{
	if (!o->json)
		return;
	if (o->depth + 1 >= OUT_MAX_DEPTH) {
		o->failed = true;
		json_object_put(v);
		return;
	}
	/* The container keeps a reference while we fill it through the stack. */
	add(o, key, json_object_get(v));
	o->stack[++o->depth] = v;
}

void out_obj(struct out *o, const char *key)
{
	if (o->json)
		push(o, key, json_object_new_object());
}

void out_arr(struct out *o, const char *key)
{
	if (o->json)
		push(o, key, json_object_new_array());
}

void out_end(struct out *o)
{
	if (!o->json)
		return;
	if (o->depth <= 0) {
		o->failed = true;
		return;
	}
	json_object_put(o->stack[o->depth]);
	o->stack[o->depth--] = NULL;
}

void out_text(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->json)
		return;
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
}

void out_jnum(struct out *o, const char *key, uint64_t v)
{
	if (o->json)
		add(o, key, json_object_new_uint64(v));
}

void out_jdouble(struct out *o, const char *key, double v)
{
	if (o->json)
		add(o, key, json_object_new_double(v));
}

void out_jstr(struct out *o, const char *key, const char *s)
{
	if (o->json)
		add(o, key, json_object_new_string(s ? s : ""));
}

void out_jbool(struct out *o, const char *key, bool v)
{
	if (o->json)
		add(o, key, json_object_new_boolean(v));
}

void out_jnull(struct out *o, const char *key)
{
	struct json_object *top = o->stack[o->depth];

	/* json-c represents null as a NULL value; add() would take it for a failure. */
	if (!o->json || !top)
		return;
	if (json_object_is_type(top, json_type_array))
		json_object_array_add(top, NULL);
	else if (key)
		json_object_object_add(top, key, NULL);
}

void out_flags(struct out *o, const char *key, const struct out_flag *tbl, size_t n,
	       uint64_t v, const char *none)
{
	uint64_t rest = v;
	bool first = true;
	char hex[24];

	out_arr(o, key);
	for (size_t i = 0; i < n; i++) {
		if (!(v & tbl[i].bit))
			continue;
		rest &= ~tbl[i].bit;
		out_jstr(o, NULL, tbl[i].name);
		out_text(o, "%s%s", first ? "" : " ", tbl[i].name);
		first = false;
	}
	if (rest) {
		snprintf(hex, sizeof(hex), "0x%" PRIx64, rest);
		out_jstr(o, NULL, hex);
		out_text(o, "%s%s", first ? "" : " ", hex);
		first = false;
	}
	if (first)
		out_text(o, "%s", none);
	out_end(o);
}

const char *out_size(char buf[32], uint64_t v)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;

	if (v < 1024 || v % 1024) {
		snprintf(buf, 32, "%" PRIu64 " bytes", v);
		return buf;
	}
	v /= 1024;
	while (v >= 1024 && !(v % 1024) && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, 32, "%" PRIu64 " %s", v, units[u]);
	return buf;
}
