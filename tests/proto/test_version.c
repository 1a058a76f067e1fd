// SPDX-License-Identifier: BSD-3-Clause
/*
 * VERSION negotiation as a raw peer sees it: the proposals of real clients
 * (QEMU 10.1, libvfio-user) and their replies, the twin socket, and every
 * way a VERSION can be refused — after which the connection must still
 * accept a correct VERSION and stay in sync.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

/* What QEMU 10.1's vfio-user-pci sends (hw/vfio-user/proxy.c). */
static const char qemu_json[] =
	"{\"capabilities\": {\"max_msg_fds\": 16, \"max_data_xfer_size\": 1048576, "
	"\"pgsizes\": 4096, \"max_dma_maps\": 65535, \"write_multiple\": true, "
	"\"migration\": {\"pgsize\": 4096, \"max_bitmap_size\": 268435456}}}";

/* libvfio-user's client library (lib/libvfio-user.c, tran_sock.c). */
static const char lvu_json[] =
	"{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
	"\"migration\":{\"pgsize\":4096}}}";

static void start(struct peer *p, const struct peer_server_opts *o)
{
	assert_ret(peer_start(p, o), 0);
}

static void stop(struct peer *p)
{
	assert_int_equal(peer_stop(p), 0);
}

/* The reply's major, minor and parsed JSON (NULL when it carries none). */
static struct json_object *reply_json(const struct peer_msg *m, uint16_t *major, uint16_t *minor)
{
	struct json_object *root;
	const char *s;

	assert_true(m->len >= 4);
	*major = get_le16(m->payload);
	*minor = get_le16(m->payload + 2);
	if (m->len == 4)
		return NULL;
	s = (const char *)m->payload + 4;
	/* NUL-terminated, no other NUL. */
	assert_int_equal(s[m->len - 5], '\0');
	assert_int_equal(strlen(s), m->len - 5);
	root = json_tokener_parse(s);
	assert_non_null(root);
	assert_true(json_object_is_type(root, json_type_object));
	return root;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, key, &v));
	return v;
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static void test_qemu_proposal(void **state)
{
	struct json_object *root, *caps;
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_version_msg(&p, 0, 0, qemu_json, sizeof(qemu_json), NULL, 0, &m), 0);
	assert_int_equal(m.nfds, 0);
	root = reply_json(&m, &major, &minor);
	assert_int_equal(major, 0);
	assert_int_equal(minor, 0);
	assert_non_null(root);
	assert_int_equal(json_object_object_length(root), 1);
	caps = get(root, "capabilities");
	/* Exactly the keys QEMU named, minus migration. */
	assert_int_equal(json_object_object_length(caps), 5);
	assert_int_equal(get_int(caps, "max_msg_fds"), 16);
	assert_int_equal(get_int(caps, "max_data_xfer_size"), 1 << 20);
	assert_int_equal(get_int(caps, "pgsizes"), 4096);
	assert_int_equal(get_int(caps, "max_dma_maps"), 65535);
	assert_true(json_object_get_boolean(get(caps, "write_multiple")));
	assert_false(json_object_object_get_ex(caps, "migration", NULL));
	assert_false(json_object_object_get_ex(caps, "twin_socket", NULL));
	json_object_put(root);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&p));
	stop(&p);
}

static void test_libvfio_user_proposal(void **state)
{
	struct json_object *root, *caps;
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_version_msg(&p, 0, 2, lvu_json, sizeof(lvu_json), NULL, 0, &m), 0);
	root = reply_json(&m, &major, &minor);
	assert_int_equal(major, 0);
	assert_int_equal(minor, 2);
	caps = get(root, "capabilities");
	assert_int_equal(json_object_object_length(caps), 2);
	assert_int_equal(get_int(caps, "max_msg_fds"), 16);
	assert_int_equal(get_int(caps, "max_data_xfer_size"), 1 << 20);
	json_object_put(root);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&p));
	stop(&p);
}

/* A client minor above ours gets ours. */
static void test_minor_clamped(void **state)
{
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_version_msg(&p, 0, 7, NULL, 0, NULL, 0, &m), 0);
	assert_null(reply_json(&m, &major, &minor));
	assert_int_equal(major, 0);
	assert_int_equal(minor, 2);
	peer_msg_free(&m);
	stop(&p);
}

/* No JSON, or JSON naming no capability: the reply carries no JSON. */
static void test_no_json(void **state)
{
	static const char *bare[] = { NULL, "{}", "{\"other\":{\"x\":1}}", "  " };
	struct peer_msg m;
	uint16_t major, minor;

	for (unsigned i = 0; i < ARRAY_SIZE(bare); i++) {
		struct peer p;

		start(&p, NULL);
		assert_ret(peer_version_msg(&p, 0, 1, bare[i], bare[i] ? strlen(bare[i]) + 1 : 0,
					    NULL, 0, &m),
			   0);
		assert_int_equal(m.len, 4);
		assert_null(reply_json(&m, &major, &minor));
		assert_int_equal(minor, 1);
		peer_msg_free(&m);
		assert_true(peer_in_sync(&p));
		stop(&p);
	}
}

/* Unknown keys, also nested ones, are ignored. */
static void test_unknown_keys(void **state)
{
	static const char j[] = "{\"vendor\":[1,{\"a\":null}],\"capabilities\":{\"frob\":\"x\","
				"\"max_msg_fds\":4,\"nested\":{\"deeper\":[true]}}}";
	struct json_object *root, *caps;
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_version_msg(&p, 0, 0, j, sizeof(j), NULL, 0, &m), 0);
	root = reply_json(&m, &major, &minor);
	caps = get(root, "capabilities");
	assert_int_equal(json_object_object_length(caps), 1);
	assert_int_equal(get_int(caps, "max_msg_fds"), 16);
	json_object_put(root);
	peer_msg_free(&m);
	stop(&p);
}

/* max_dma_maps: the smaller of both sides'; max_data_xfer_size: the server's. */
static void test_limits_negotiated(void **state)
{
	struct peer_server_opts o = { .max_dma_maps = 100, .max_data_xfer_size = 65536 };
	static const char big[] = "{\"capabilities\":{\"max_dma_maps\":65535,"
				  "\"max_data_xfer_size\":4194304}}";
	static const char small[] = "{\"capabilities\":{\"max_dma_maps\":7}}";
	struct json_object *root, *caps;
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;

	start(&p, &o);
	assert_ret(peer_version_msg(&p, 0, 0, big, sizeof(big), NULL, 0, &m), 0);
	root = reply_json(&m, &major, &minor);
	caps = get(root, "capabilities");
	assert_int_equal(get_int(caps, "max_dma_maps"), 100);
	assert_int_equal(get_int(caps, "max_data_xfer_size"), 65536);
	json_object_put(root);
	peer_msg_free(&m);
	stop(&p);

	start(&p, &o);
	assert_ret(peer_version_msg(&p, 0, 0, small, sizeof(small), NULL, 0, &m), 0);
	root = reply_json(&m, &major, &minor);
	caps = get(root, "capabilities");
	assert_int_equal(get_int(caps, "max_dma_maps"), 7);
	assert_int_equal(json_object_object_length(caps), 1);
	json_object_put(root);
	peer_msg_free(&m);
	stop(&p);
}

static void test_twin_socket(void **state)
{
	static const char j[] = "{\"capabilities\":{\"max_msg_fds\":16,"
				"\"twin_socket\":{\"supported\":true}}}";
	struct json_object *root, *caps, *twin;
	socklen_t l = sizeof(int);
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;
	int type = 0;

	start(&p, NULL);
	assert_ret(peer_version_msg(&p, 0, 0, j, sizeof(j), NULL, 0, &m), 0);
	assert_int_equal(m.nfds, 1);
	root = reply_json(&m, &major, &minor);
	caps = get(root, "capabilities");
	twin = get(caps, "twin_socket");
	assert_true(json_object_get_boolean(get(twin, "supported")));
	assert_int_equal(get_int(twin, "fd_index"), 0);
	json_object_put(root);
	/* fd index 0 is a stream socket. */
	assert_ret(getsockopt(m.fds[0], SOL_SOCKET, SO_TYPE, &type, &l), 0);
	assert_int_equal(type, SOCK_STREAM);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&p));
	stop(&p);
}

/* twin_socket {supported: false} is answered in kind, without an fd. */
static void test_twin_socket_declined(void **state)
{
	static const char j[] = "{\"capabilities\":{\"twin_socket\":{\"supported\":false}}}";
	struct json_object *root, *caps, *twin;
	struct peer_msg m;
	uint16_t major, minor;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_version_msg(&p, 0, 0, j, sizeof(j), NULL, 0, &m), 0);
	assert_int_equal(m.nfds, 0);
	root = reply_json(&m, &major, &minor);
	caps = get(root, "capabilities");
	twin = get(caps, "twin_socket");
	assert_false(json_object_get_boolean(get(twin, "supported")));
	assert_false(json_object_object_get_ex(twin, "fd_index", NULL));
	json_object_put(root);
	peer_msg_free(&m);
	stop(&p);
}

/* After a refused VERSION, a correct one must work and the stream be in sync. */
static void retry_ok(struct peer *p)
{
	assert_ret(peer_hello(p), 0);
	assert_true(peer_in_sync(p));
}

static void test_major_unsupported(void **state)
{
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_version(&p, 1, 0, NULL), -ENOTSUP);
	assert_ret(peer_version(&p, 0xffff, 2, "{}"), -ENOTSUP);
	retry_ok(&p);
	stop(&p);
}

static void expect_einval(struct peer *p, const void *json, size_t len)
{
	struct peer_msg m;

	assert_ret(peer_version_msg(p, 0, 0, json, len, NULL, 0, &m), -EINVAL);
	assert_int_equal(m.len, 0);
	peer_msg_free(&m);
}

static void test_malformed_json(void **state)
{
	static const char *bad[] = {
		"[1,2]", "42", "\"capabilities\"", "null", "true",
		"{\"capabilities\":[]}", "{\"capabilities\":7}",
		"{\"capabilities\":{\"max_msg_fds\":\"16\"}}",
		"{\"capabilities\":{\"max_msg_fds\":1.5}}",
		"{\"capabilities\":{\"max_data_xfer_size\":true}}",
		"{\"capabilities\":{\"pgsizes\":null}}",
		"{\"capabilities\":{\"max_dma_maps\":[1]}}",
		"{\"capabilities\":{\"write_multiple\":1}}",
		"{\"capabilities\":{\"twin_socket\":true}}",
		"{\"capabilities\":{\"twin_socket\":{\"supported\":\"yes\"}}}",
		"{\"capabilities\":{\"twin_socket\":{\"fd_index\":-1}}}",
		"{\"capabilities\":{\"migration\":{\"pgsize\":\"4k\"}}}",
		"{\"capabilities\":{\"max_msg_fds\":-1}}",
		"{\"capabilities\":{\"max_dma_maps\":-5}}",
		"{\"capabilities\":{\"pgsizes\":-4096}}",
		"{} x", "{}{}", "{\"a\":", "{", "{\"a\" 1}",
	};
	struct peer p;

	start(&p, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		expect_einval(&p, bad[i], strlen(bad[i]) + 1);
	/* Not NUL-terminated; an embedded NUL; a lone NUL followed by more. */
	expect_einval(&p, "{}", 2);
	expect_einval(&p, "{}\0{}", 6);
	expect_einval(&p, "\0{}", 4);
	retry_ok(&p);
	stop(&p);
}

/* Nesting: 8 levels are accepted, 9 refused. */
static void test_json_depth(void **state)
{
	char j[256];
	struct peer p;
	size_t n;

	for (int depth = 8; depth <= 9; depth++) {
		n = 0;
		for (int i = 0; i < depth; i++)
			n += (size_t)snprintf(j + n, sizeof(j) - n, i ? "\"k\":{" : "{");
		for (int i = 0; i < depth; i++)
			j[n++] = '}';
		j[n++] = '\0';
		start(&p, NULL);
		if (depth == 8) {
			assert_ret(peer_version(&p, 0, 0, j), 0);
		} else {
			expect_einval(&p, j, n);
			retry_ok(&p);
		}
		stop(&p);
	}
}

/* A JSON object of exactly @total bytes including its NUL. */
static char *json_of_size(size_t total)
{
	char *j = malloc(total);

	assert_non_null(j);
	memset(j, ' ', total);
	memcpy(j, "{\"capabilities\":{\"max_msg_fds\":16}", 34);
	j[total - 2] = '}';
	j[total - 1] = '\0';
	return j;
}

static void test_json_size_limit(void **state)
{
	struct peer_msg m;
	struct peer p;
	char *j;

	start(&p, NULL);
	/* 4097 bytes: EMSGSIZE, the payload is drained and the stream stays framed. */
	j = json_of_size(UVFIO_PROTO_JSON_MAX + 1);
	assert_ret(peer_version_msg(&p, 0, 0, j, UVFIO_PROTO_JSON_MAX + 1, NULL, 0, &m),
		   -EMSGSIZE);
	peer_msg_free(&m);
	free(j);
	/* Much larger, too. */
	j = json_of_size(64 * 1024);
	assert_ret(peer_version_msg(&p, 0, 0, j, 64 * 1024, NULL, 0, &m), -EMSGSIZE);
	peer_msg_free(&m);
	free(j);
	/* 4096 bytes exactly: accepted. */
	j = json_of_size(UVFIO_PROTO_JSON_MAX);
	assert_ret(peer_version_msg(&p, 0, 0, j, UVFIO_PROTO_JSON_MAX, NULL, 0, &m), 0);
	peer_msg_free(&m);
	free(j);
	assert_true(peer_in_sync(&p));
	stop(&p);
}

/* fds on VERSION are refused and closed by the server; ours stay usable. */
static void test_fds_on_version(void **state)
{
	int efd = eventfd(0, EFD_CLOEXEC), base;
	uint64_t v = 5;
	struct peer_msg m;
	struct peer p;

	assert_true(efd >= 0);
	start(&p, NULL);
	/* A round trip first: the server is set up once it answers. */
	assert_ret(peer_version(&p, 1, 0, NULL), -ENOTSUP);
	base = peer_server_fds(&p);
	assert_true(base > 0);
	assert_ret(peer_version_msg(&p, 0, 0, "{}", 3, &efd, 1, &m), -EINVAL);
	peer_msg_free(&m);
	assert_int_equal(peer_server_fds(&p), base);
	assert_int_equal(write(efd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(peer_wait_efd(efd, 0), 5);
	retry_ok(&p);
	/* peer_stop() fails if the server kept the fd. */
	stop(&p);
	close(efd);
}

static void test_command_before_version(void **state)
{
	uint8_t info[16] = { 16 }, map[32] = { 32 }, rr[16] = { 0 };
	struct peer_msg m;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_INFO, info, 16, NULL, 0, &m), -EINVAL);
	peer_msg_free(&m);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DMA_MAP, map, 32, NULL, 0, &m), -EINVAL);
	peer_msg_free(&m);
	put_le32(rr + 8, UVFIO_PCI_CONFIG_REGION_INDEX);
	put_le32(rr + 12, 4);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_REGION_READ, rr, 16, NULL, 0, &m), -EINVAL);
	peer_msg_free(&m);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_RESET, NULL, 0, NULL, 0, &m), -EINVAL);
	peer_msg_free(&m);
	assert_false(peer_in_sync(&p));
	retry_ok(&p);
	stop(&p);
}

static void test_second_version(void **state)
{
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_hello(&p), 0);
	assert_ret(peer_hello(&p), -EINVAL);
	assert_ret(peer_version(&p, 0, 2, NULL), -EINVAL);
	assert_true(peer_in_sync(&p));
	stop(&p);
}

static void test_client_values_checked(void **state)
{
	static const char *bad[] = {
		"{\"capabilities\":{\"max_msg_fds\":2000}}",
		"{\"capabilities\":{\"max_msg_fds\":1025}}",
		"{\"capabilities\":{\"max_data_xfer_size\":0}}",
		"{\"capabilities\":{\"max_dma_maps\":0}}",
	};
	struct peer p;

	start(&p, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++)
		assert_ret(peer_version(&p, 0, 0, bad[i]), -EINVAL);
	/* The boundary is accepted. */
	assert_ret(peer_version(&p, 0, 0, "{\"capabilities\":{\"max_msg_fds\":1024}}"), 0);
	assert_true(peer_in_sync(&p));
	stop(&p);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_qemu_proposal), UVFIO_TEST(test_libvfio_user_proposal),
		UVFIO_TEST(test_minor_clamped), UVFIO_TEST(test_no_json),
		UVFIO_TEST(test_unknown_keys), UVFIO_TEST(test_limits_negotiated),
		UVFIO_TEST(test_twin_socket), UVFIO_TEST(test_twin_socket_declined),
		UVFIO_TEST(test_major_unsupported), UVFIO_TEST(test_malformed_json),
		UVFIO_TEST(test_json_depth), UVFIO_TEST(test_json_size_limit),
		UVFIO_TEST(test_fds_on_version), UVFIO_TEST(test_command_before_version),
		UVFIO_TEST(test_second_version), UVFIO_TEST(test_client_values_checked))
