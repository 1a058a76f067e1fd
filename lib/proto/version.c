// SPDX-License-Identifier: BSD-3-Clause
/*
 * VERSION payloads: major, minor and an optional NUL-terminated JSON object
 * {"capabilities": {...}} parsed with json-c.
 *
 * The JSON comes from the peer before anything else is agreed, so it is the
 * first thing a hostile peer can aim at: its length is capped before json-c
 * sees it, nesting depth is limited, an embedded NUL or trailing garbage is
 * refused, and every known key must have the JSON type the specification
 * gives it. Unknown keys are ignored, as QEMU does.
 */
#include <ctype.h>
#include <json-c/json.h>

#include "uvfio/proto.h"
#include "util/util.h"

#define JSON_MAX_DEPTH 8

void uvfio_proto_caps_default(struct uvfio_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->max_msg_fds = UVFIO_DEFAULT_MAX_MSG_FDS;
	caps->max_data_xfer_size = UVFIO_DEFAULT_MAX_DATA_XFER_SIZE;
	caps->max_dma_maps = UVFIO_DEFAULT_MAX_DMA_MAPS;
	caps->pgsizes = UVFIO_DEFAULT_PGSIZES;
}

/* A non-negative JSON integer no larger than @max. */
static int get_uint(struct json_object *o, uint64_t max, uint64_t *out)
{
	if (!json_object_is_type(o, json_type_int))
		return -EINVAL;
	if (json_object_get_int64(o) < 0)
		return -EINVAL;
	*out = json_object_get_uint64(o);
	if (*out > max)
		return -EINVAL;
	return 0;
}

static int parse_twin(struct json_object *o, struct uvfio_caps *caps)
{
	struct json_object *v;
	uint64_t idx;

	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	if (json_object_object_get_ex(o, "supported", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return -EINVAL;
		caps->twin_socket = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(o, "fd_index", &v)) {
		if (get_uint(v, UINT32_MAX, &idx))
			return -EINVAL;
		caps->twin_fd_index = (uint32_t)idx;
	}
	return 0;
}

static int parse_migration(struct json_object *o, struct uvfio_caps *caps)
{
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	if (json_object_object_get_ex(o, "pgsize", &v) &&
	    get_uint(v, UINT64_MAX, &caps->migration_pgsize))
		return -EINVAL;
	if (json_object_object_get_ex(o, "max_bitmap_size", &v) &&
	    get_uint(v, UINT64_MAX, &caps->migration_max_bitmap))
		return -EINVAL;
	return 0;
}

static int parse_caps(struct json_object *c, struct uvfio_caps *caps)
{
	uint64_t v;

	if (!json_object_is_type(c, json_type_object))
		return -EINVAL;
	json_object_object_foreach(c, key, val)
	{
		if (!strcmp(key, "max_msg_fds")) {
			if (get_uint(val, UINT32_MAX, &v))
				return -EINVAL;
			caps->max_msg_fds = (uint32_t)v;
			caps->present |= UVFIO_CAP_MAX_MSG_FDS;
		} else if (!strcmp(key, "max_data_xfer_size")) {
			if (get_uint(val, UINT64_MAX, &caps->max_data_xfer_size))
				return -EINVAL;
			caps->present |= UVFIO_CAP_MAX_DATA_XFER_SIZE;
		} else if (!strcmp(key, "max_dma_maps")) {
			if (get_uint(val, UINT64_MAX, &caps->max_dma_maps))
				return -EINVAL;
			caps->present |= UVFIO_CAP_MAX_DMA_MAPS;
		} else if (!strcmp(key, "pgsizes")) {
			if (get_uint(val, UINT64_MAX, &caps->pgsizes))
				return -EINVAL;
			caps->present |= UVFIO_CAP_PGSIZES;
		} else if (!strcmp(key, "twin_socket")) {
			if (parse_twin(val, caps))
				return -EINVAL;
			caps->present |= UVFIO_CAP_TWIN_SOCKET;
		} else if (!strcmp(key, "write_multiple")) {
			if (!json_object_is_type(val, json_type_boolean))
				return -EINVAL;
			caps->write_multiple = json_object_get_boolean(val);
			caps->present |= UVFIO_CAP_WRITE_MULTIPLE;
		} else if (!strcmp(key, "migration")) {
			if (parse_migration(val, caps))
				return -EINVAL;
			caps->present |= UVFIO_CAP_MIGRATION;
		}
	}
	return 0;
}

static bool only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

static int parse_json(const char *s, size_t n, struct uvfio_caps *caps)
{
	struct json_tokener *tok;
	struct json_object *root, *c;
	int ret = -EINVAL;
	size_t end;

	if (only_space(s, n))
		return 0; /* an empty string: no capabilities */
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	/* No trailing commas, leading zeros or other json-c leniencies. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = json_tokener_parse_ex(tok, s, (int)n);
	if (!root || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	end = json_tokener_get_parse_end(tok);
	if (end > n || !only_space(s + end, n - end))
		goto out;
	if (!json_object_is_type(root, json_type_object))
		goto out;
	if (json_object_object_get_ex(root, "capabilities", &c)) {
		ret = parse_caps(c, caps);
		goto out;
	}
	ret = 0;
out:
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}

int uvfio_proto_version_decode(const void *p, size_t len, uint16_t *major, uint16_t *minor,
			       struct uvfio_caps *caps)
{
	const char *json;
	size_t jlen;

	uvfio_proto_caps_default(caps);
	if (len < 4)
		return -EINVAL;
	*major = get_le16(p);
	*minor = get_le16((const uint8_t *)p + 2);
	if (len == 4)
		return 0;
	json = (const char *)p + 4;
	jlen = len - 4;
	if (jlen > UVFIO_PROTO_JSON_MAX)
		return -EMSGSIZE;
	if (json[jlen - 1] != '\0' || memchr(json, '\0', jlen - 1))
		return -EINVAL;
	return parse_json(json, jlen - 1, caps);
}

static struct json_object *build_caps(const struct uvfio_caps *caps)
{
	struct json_object *c = json_object_new_object();
	struct json_object *o;

	if (!c)
		return NULL;
	if (caps->present & UVFIO_CAP_MAX_MSG_FDS)
		json_object_object_add(c, "max_msg_fds", json_object_new_uint64(caps->max_msg_fds));
	if (caps->present & UVFIO_CAP_MAX_DATA_XFER_SIZE)
		json_object_object_add(c, "max_data_xfer_size",
				       json_object_new_uint64(caps->max_data_xfer_size));
	if (caps->present & UVFIO_CAP_PGSIZES)
		json_object_object_add(c, "pgsizes", json_object_new_uint64(caps->pgsizes));
	if (caps->present & UVFIO_CAP_MAX_DMA_MAPS)
		json_object_object_add(c, "max_dma_maps",
				       json_object_new_uint64(caps->max_dma_maps));
	if (caps->present & UVFIO_CAP_WRITE_MULTIPLE)
		json_object_object_add(c, "write_multiple",
				       json_object_new_boolean(caps->write_multiple));
	if (caps->present & UVFIO_CAP_TWIN_SOCKET) {
		o = json_object_new_object();
		json_object_object_add(o, "supported", json_object_new_boolean(caps->twin_socket));
		if (caps->twin_socket)
			json_object_object_add(o, "fd_index",
					       json_object_new_uint64(caps->twin_fd_index));
		json_object_object_add(c, "twin_socket", o);
	}
	if (caps->present & UVFIO_CAP_MIGRATION) {
		o = json_object_new_object();
		json_object_object_add(o, "pgsize", json_object_new_uint64(caps->migration_pgsize));
		if (caps->migration_max_bitmap)
			json_object_object_add(o, "max_bitmap_size",
					       json_object_new_uint64(caps->migration_max_bitmap));
		json_object_object_add(c, "migration", o);
	}
	return c;
}

ssize_t uvfio_proto_version_encode(void *buf, size_t cap, uint16_t major, uint16_t minor,
				   const struct uvfio_caps *caps)
{
	struct json_object *root, *c;
	uint8_t *b = buf;
	const char *s;
	ssize_t ret;
	size_t n;

	if (cap < 4)
		return -ENOSPC;
	put_le16(b, major);
	put_le16(b + 2, minor);
	if (!caps || !caps->present)
		return 4;
	root = json_object_new_object();
	c = build_caps(caps);
	if (!root || !c) {
		json_object_put(root);
		json_object_put(c);
		return -ENOMEM;
	}
	json_object_object_add(root, "capabilities", c);
	s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	n = s ? strlen(s) + 1 : 0;
	if (!s) {
		ret = -ENOMEM;
	} else if (n > UVFIO_PROTO_JSON_MAX || cap - 4 < n) {
		ret = -ENOSPC;
	} else {
		memcpy(b + 4, s, n);
		ret = (ssize_t)(4 + n);
	}
	json_object_put(root);
	return ret;
}
