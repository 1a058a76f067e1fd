// SPDX-License-Identifier: BSD-3-Clause
/*
 * Reading and writing the bind record (see bindrec.h). The file is small
 * and root's, but it is still input: its size is bounded before parsing,
 * its addresses must be canonical PCI addresses and its names plain driver
 * names, because unbind writes them back into sysfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bindrec.h"

#define MAX_RECORD (256 * 1024) /* far more than any IOMMU group needs */

int bindrec_path(char *out, size_t size, const char *dir, long group)
{
	int n = snprintf(out, size, "%s/group-%ld.json", dir, group);

	return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

void bindrec_free(struct bindrec *r)
{
	free(r->m);
	r->m = NULL;
	r->n = 0;
}

const struct bindrec_member *bindrec_find(const struct bindrec *r, const char *addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->m[i].addr, addr))
			return &r->m[i];
	return NULL;
}

static int read_all(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_RECORD) {
		ret = -EFBIG;
		goto out_close;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
out_close:
	close(fd);
	return ret;
}

/* @key of @obj as a name: "" for null or absent; false when it isn't a plain name. */
static bool get_name(struct json_object *obj, const char *key, char out[PCISYS_NAME])
{
	struct json_object *v;
	const char *s;

	out[0] = '\0';
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	if (!pcisys_name_ok(s))
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static bool get_addr(struct json_object *obj, const char *key, char out[PCISYS_ADDR])
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	s = json_object_get_string(v);
	return !pcisys_addr(s, out) && !strcmp(out, s);
}

static const char *parse(struct json_object *doc, struct bindrec *r)
{
	struct json_object *v, *arr;
	size_t n;

	if (!json_object_is_type(doc, json_type_object))
		return "it is not a JSON object";
	if (!json_object_object_get_ex(doc, "version", &v) || json_object_get_int64(v) != BINDREC_VERSION)
		return "its version is not 1";
	if (!json_object_object_get_ex(doc, "group", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > INT32_MAX)
		return "it has no valid \"group\"";
	r->group = (long)json_object_get_int64(v);
	if (!json_object_object_get_ex(doc, "sysfs", &v) || !json_object_is_type(v, json_type_string) ||
	    strlen(json_object_get_string(v)) >= sizeof(r->sysfs))
		return "it has no valid \"sysfs\"";
	memcpy(r->sysfs, json_object_get_string(v), strlen(json_object_get_string(v)) + 1);
	if (!get_addr(doc, "device", r->device))
		return "it has no valid \"device\"";
	if (!json_object_object_get_ex(doc, "members", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return "it has no \"members\" array";
	n = json_object_array_length(arr);
	if (n > 4096)
		return "it lists too many members";
	r->m = calloc(n ? n : 1, sizeof(*r->m));
	if (!r->m)
		return "out of memory";
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i), *c;
		struct bindrec_member *m = &r->m[i];

		if (!o || !json_object_is_type(o, json_type_object) || !get_addr(o, "address", m->addr))
			return "a member has no valid \"address\"";
		if (!get_name(o, "driver", m->driver) ||
		    !get_name(o, "driver_override", m->override))
			return "a member's driver name is not a plain name";
		if (!json_object_object_get_ex(o, "changed", &c) ||
		    !json_object_is_type(c, json_type_boolean))
			return "a member has no \"changed\" flag";
		m->changed = json_object_get_boolean(c);
		r->n++;
	}
	return NULL;
}

int bindrec_load(const char *path, struct bindrec *r, char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *doc;
	const char *why;
	char *buf = NULL;
	size_t len = 0;
	int ret;

	*r = (struct bindrec){ .group = -1 };
	ret = read_all(path, &buf, &len);
	if (ret == -EFBIG) {
		snprintf(err, errlen, "%s is not a bind record (not a small regular file)", path);
		return -EINVAL;
	}
	if (ret)
		return ret;
	tok = json_tokener_new();
	if (!tok) {
		free(buf);
		return -ENOMEM;
	}
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(err, errlen, "%s is not a bind record: it is not valid JSON", path);
		ret = -EINVAL;
	} else if ((why = parse(doc, r))) {
		snprintf(err, errlen, "%s is not a bind record uvfio can use: %s", path, why);
		bindrec_free(r);
		ret = -EINVAL;
	}
	json_object_put(doc);
	json_tokener_free(tok);
	free(buf);
	return ret;
}

/* Add @v (taken in every case) under @key; a NULL @v is a failed allocation. */
static bool put(struct json_object *o, const char *key, struct json_object *v)
{
	if (v && !json_object_object_add(o, key, v))
		return true;
	json_object_put(v);
	return false;
}

/* A name, or JSON null for "". */
static bool put_name(struct json_object *o, const char *key, const char *s)
{
	if (!s[0])
		return !json_object_object_add(o, key, NULL);
	return put(o, key, json_object_new_string(s));
}

static struct json_object *to_json(const struct bindrec *r)
{
	struct json_object *doc = json_object_new_object(), *arr = json_object_new_array();
	bool ok = doc && arr;

	ok = ok && put(doc, "version", json_object_new_int(BINDREC_VERSION)) &&
	     put(doc, "group", json_object_new_int64(r->group)) &&
	     put(doc, "sysfs", json_object_new_string(r->sysfs)) &&
	     put(doc, "device", json_object_new_string(r->device)) &&
	     put(doc, "members", json_object_get(arr));
	for (size_t i = 0; ok && i < r->n; i++) {
		const struct bindrec_member *m = &r->m[i];
		struct json_object *o = json_object_new_object();

		ok = o && !json_object_array_add(arr, o);
		if (!ok) {
			json_object_put(o);
			break;
		}
		ok = put(o, "address", json_object_new_string(m->addr)) &&
		     put_name(o, "driver", m->driver) &&
		     put_name(o, "driver_override", m->override) &&
		     put(o, "changed", json_object_new_boolean(m->changed));
	}
	json_object_put(arr);
	if (!ok) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int bindrec_save(const char *path, const struct bindrec *r)
{
	struct json_object *doc = to_json(r);
	char tmp[PATH_MAX];
	const char *text;
	int fd, n, ret;

	if (!doc)
		return -ENOMEM;
	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		json_object_put(doc);
		return -ENAMETOOLONG;
	}
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
						   JSON_C_TO_STRING_SPACED |
						   JSON_C_TO_STRING_NOSLASHESCAPE);
	/* A stale .tmp is ours from a run that died: the directory lock says no one else's. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out_put;
	}
	ret = write_all(fd, text, strlen(text));
	if (!ret)
		ret = write_all(fd, "\n", 1);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
out_put:
	json_object_put(doc);
	return ret;
}

int bindrec_lock(const char *dir, bool create, int *fd)
{
	int d;

	*fd = -1;
	if (create && mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0)
		return -errno;
	if (flock(d, LOCK_EX)) {
		int err = -errno;

		close(d);
		return err;
	}
	*fd = d;
	return 0;
}
