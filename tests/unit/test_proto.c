// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for lib/proto: the command table's header check, every payload
 * codec (round trips and malformed input) and VERSION's JSON capabilities.
 */
#include <errno.h>
#include <string.h>

#include "test.h"
#include "uvfio/proto.h"
#include "util/util.h"

static const struct uvfio_proto_limits lim = { .max_data_xfer_size = 1 << 20, .max_msg_fds = 8 };

static struct uvfio_hdr cmd_hdr(uint16_t cmd, uint32_t payload)
{
	return (struct uvfio_hdr){ .id = 7, .cmd = cmd, .size = UVFIO_HDR_SIZE + payload };
}

static void test_hdr_roundtrip(void **state)
{
	struct uvfio_hdr h = { .id = 0xbeef, .cmd = 9, .size = 0x12345678, .flags = 0x21,
			       .error = 22 }, d;
	uint8_t b[16];

	uvfio_proto_hdr_encode(b, &h);
	/* Little-endian on the wire. */
	assert_int_equal(b[0], 0xef);
	assert_int_equal(b[1], 0xbe);
	assert_int_equal(b[4], 0x78);
	uvfio_proto_hdr_decode(b, &d);
	assert_memory_equal(&h, &d, sizeof(h));
}

static void test_check_sizes(void **state)
{
	struct uvfio_hdr h;

	h = cmd_hdr(UVFIO_CMD_DMA_MAP, 32);
	assert_ret(uvfio_proto_check(&h, 1, &lim), 0);
	h = cmd_hdr(UVFIO_CMD_DMA_MAP, 31);
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h = cmd_hdr(UVFIO_CMD_DMA_MAP, 33);
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EMSGSIZE);
	/* DMA_MAP takes at most one fd. */
	h = cmd_hdr(UVFIO_CMD_DMA_MAP, 32);
	assert_ret(uvfio_proto_check(&h, 2, &lim), -EINVAL);
	/* REGION_WRITE: 16 + up to max_data_xfer_size. */
	h = cmd_hdr(UVFIO_CMD_REGION_WRITE, 16 + (1 << 20));
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	h = cmd_hdr(UVFIO_CMD_REGION_WRITE, 16 + (1 << 20) + 1);
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EMSGSIZE);
	/* SET_IRQS: fds up to the negotiated limit. */
	h = cmd_hdr(UVFIO_CMD_DEVICE_SET_IRQS, 20);
	assert_ret(uvfio_proto_check(&h, 8, &lim), 0);
	assert_ret(uvfio_proto_check(&h, 9, &lim), -EINVAL);
	/* VERSION: 4 + JSON up to the cap. */
	h = cmd_hdr(UVFIO_CMD_VERSION, 4 + UVFIO_PROTO_JSON_MAX);
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	h = cmd_hdr(UVFIO_CMD_VERSION, 5 + UVFIO_PROTO_JSON_MAX);
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EMSGSIZE);
	h = cmd_hdr(UVFIO_CMD_VERSION, 3);
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h = cmd_hdr(UVFIO_CMD_DEVICE_RESET, 0);
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	h = cmd_hdr(UVFIO_CMD_DEVICE_RESET, 4);
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EMSGSIZE);
}

static void test_check_flags(void **state)
{
	struct uvfio_hdr h = cmd_hdr(UVFIO_CMD_DEVICE_RESET, 0);

	h.cmd = 0;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -ENOSYS);
	h.cmd = UVFIO_CMD_MAX + 1;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -ENOSYS);
	h.cmd = 0xffff;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -ENOSYS);
	h = cmd_hdr(UVFIO_CMD_DEVICE_RESET, 0);
	h.flags = 2; /* type 2: neither command nor reply */
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h.flags = 0x40; /* undefined bit */
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h.flags = UVFIO_F_ERROR; /* error bit on a command */
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h.flags = 0;
	h.error = 5; /* reserved field not zero */
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h.error = 0;
	h.flags = UVFIO_F_NO_REPLY;
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	/* Replies: error replies carry nothing; No_reply is meaningless on them. */
	h.flags = UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR;
	h.error = EINVAL;
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	h.size = UVFIO_HDR_SIZE + 4;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	h = cmd_hdr(UVFIO_CMD_DEVICE_RESET, 0);
	h.flags = UVFIO_F_TYPE_REPLY | UVFIO_F_NO_REPLY;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
	/* QEMU's header-only DMA_WRITE reply. */
	h = cmd_hdr(UVFIO_CMD_DMA_WRITE, 0);
	h.flags = UVFIO_F_TYPE_REPLY;
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	h.size = UVFIO_HDR_SIZE + 16;
	assert_ret(uvfio_proto_check(&h, 0, &lim), 0);
	h.size = UVFIO_HDR_SIZE + 17;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EMSGSIZE);
	h.size = 15;
	assert_ret(uvfio_proto_check(&h, 0, &lim), -EINVAL);
}

static void test_names(void **state)
{
	assert_string_equal(uvfio_proto_cmd_name(UVFIO_CMD_DMA_MAP), "DMA_MAP");
	assert_string_equal(uvfio_proto_cmd_name(99), "UNKNOWN");
	assert_non_null(uvfio_proto_cmd_get(UVFIO_CMD_REGION_WRITE_MULTI));
	assert_null(uvfio_proto_cmd_get(0));
	assert_int_equal(uvfio_proto_cmd_get(UVFIO_CMD_DMA_READ)->dir, UVFIO_DIR_S2C);
	/* The largest message: a GET_REGION_INFO reply with a chain of max size. */
	assert_int_equal(uvfio_proto_max_msg_size(&lim), 16 + 32 + (1 << 20));
}

static void test_dma_map(void **state)
{
	struct uvfio_dma_map m = { 32, 3, 0x1000, 0x200000, 0x3000 }, d;
	uint8_t b[40];

	assert_int_equal(uvfio_proto_dma_map_encode(b, sizeof(b), &m), 32);
	assert_ret(uvfio_proto_dma_map_decode(b, 32, &d), 0);
	assert_memory_equal(&m, &d, sizeof(m));
	assert_ret(uvfio_proto_dma_map_decode(b, 31, &d), -EINVAL);
	assert_ret(uvfio_proto_dma_map_decode(b, 33, &d), -EINVAL);
	assert_int_equal(uvfio_proto_dma_map_encode(b, 31, &m), -ENOSPC);
}

static void test_dma_unmap(void **state)
{
	struct uvfio_dma_unmap u = { 24, UVFIO_DMA_UNMAP_ALL, 0, 0 }, d;
	uint8_t b[24];

	assert_int_equal(uvfio_proto_dma_unmap_encode(b, sizeof(b), &u), 24);
	assert_ret(uvfio_proto_dma_unmap_decode(b, 24, &d), 0);
	assert_memory_equal(&u, &d, sizeof(u));
	assert_ret(uvfio_proto_dma_unmap_decode(b, 23, &d), -EINVAL);
}

static void test_region_info_caps(void **state)
{
	struct uvfio_sparse_area areas[2] = { { 0, 0x1000 }, { 0x3000, 0x2000 } }, got[4];
	struct uvfio_region_caps caps = { .nr_areas = 2, .areas = areas, .has_type = true,
					  .type = 3, .subtype = 1 }, dc;
	struct uvfio_region_info ri = { .argsz = 32, .flags = 7, .index = 2, .size = 0x10000 }, d;
	uint8_t b[256];
	bool complete;
	ssize_t n;

	/* Too small: fixed part only, argsz says what's needed, CAPS set. */
	n = uvfio_proto_region_info_encode(b, sizeof(b), &ri, &caps, &complete);
	assert_int_equal(n, 32);
	assert_false(complete);
	assert_ret(uvfio_proto_region_info_decode(b, (size_t)n, &d), 0);
	assert_int_equal(d.argsz, 32 + 16 + 32 + 16);
	assert_true(d.flags & UVFIO_REGION_INFO_FLAG_CAPS);
	assert_int_equal(d.cap_offset, 0);

	ri.argsz = d.argsz;
	n = uvfio_proto_region_info_encode(b, sizeof(b), &ri, &caps, &complete);
	assert_int_equal(n, 96);
	assert_true(complete);
	assert_ret(uvfio_proto_region_caps_decode(b, (size_t)n, got, 4, &dc), 0);
	assert_int_equal(dc.nr_areas, 2);
	assert_memory_equal(got, areas, sizeof(areas));
	assert_true(dc.has_type);
	assert_int_equal(dc.type, 3);
	assert_int_equal(dc.subtype, 1);

	/* Hostile chains: a loop, a cap past the end, an area count past the end. */
	put_le32(b + 32 + 4, 32);
	assert_ret(uvfio_proto_region_caps_decode(b, (size_t)n, got, 4, &dc), -EINVAL);
	put_le32(b + 32 + 4, 90);
	assert_ret(uvfio_proto_region_caps_decode(b, (size_t)n, got, 4, &dc), -EINVAL);
	put_le32(b + 32 + 4, 80);
	put_le32(b + 32 + 8, 0x10000000);
	assert_ret(uvfio_proto_region_caps_decode(b, (size_t)n, got, 4, &dc), -EINVAL);
	put_le32(b + 12, 8); /* cap_offset inside the fixed part */
	assert_ret(uvfio_proto_region_caps_decode(b, (size_t)n, got, 4, &dc), -EINVAL);

	/* No caps at all: no CAPS flag, argsz 32. */
	ri.argsz = 200;
	n = uvfio_proto_region_info_encode(b, sizeof(b), &ri, NULL, &complete);
	assert_int_equal(n, 32);
	assert_ret(uvfio_proto_region_info_decode(b, 32, &d), 0);
	assert_int_equal(d.argsz, 32);
	assert_false(d.flags & UVFIO_REGION_INFO_FLAG_CAPS);
}

static void test_irq_set(void **state)
{
	uint8_t bools[3] = { 1, 0, 1 };
	struct uvfio_irq_set s = { 23, UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_TRIGGER, 2,
				   0, 3, bools }, d;
	uint8_t b[64];
	ssize_t n = uvfio_proto_irq_set_encode(b, sizeof(b), &s);

	assert_int_equal(n, 23);
	assert_ret(uvfio_proto_irq_set_decode(b, 23, &d), 0);
	assert_int_equal(d.count, 3);
	assert_memory_equal(d.data, bools, 3);
	/* BOOL data must be exactly count bytes. */
	assert_ret(uvfio_proto_irq_set_decode(b, 22, &d), -EINVAL);
	assert_ret(uvfio_proto_irq_set_decode(b, 19, &d), -EINVAL);
	/* Exactly one data type and one action. */
	put_le32(b + 4, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_MASK);
	assert_ret(uvfio_proto_irq_set_decode(b, 20, &d), -EINVAL);
	put_le32(b + 4, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_MASK | UVFIO_IRQ_SET_ACTION_UNMASK);
	assert_ret(uvfio_proto_irq_set_decode(b, 20, &d), -EINVAL);
	put_le32(b + 4, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER | 0x100);
	assert_ret(uvfio_proto_irq_set_decode(b, 20, &d), -EINVAL);
	/* EVENTFD data travels as SCM_RIGHTS: no payload bytes. */
	put_le32(b + 4, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER);
	assert_ret(uvfio_proto_irq_set_decode(b, 20, &d), 0);
	assert_ret(uvfio_proto_irq_set_decode(b, 32, &d), -EINVAL);
	put_le32(b, 19); /* argsz below the struct */
	assert_ret(uvfio_proto_irq_set_decode(b, 20, &d), -EINVAL);
}

static void test_region_access(void **state)
{
	const char data[5] = "abcd";
	struct uvfio_region_access a = { 0x10, 2, 4, data }, d;
	uint8_t b[32];

	assert_int_equal(uvfio_proto_region_access_encode(b, sizeof(b), true, &a), 20);
	assert_ret(uvfio_proto_region_access_decode(b, 20, true, &d), 0);
	assert_memory_equal(d.data, "abcd", 4);
	assert_ret(uvfio_proto_region_access_decode(b, 21, true, &d), -EINVAL);
	assert_ret(uvfio_proto_region_access_decode(b, 19, true, &d), -EINVAL);
	assert_ret(uvfio_proto_region_access_decode(b, 16, false, &d), 0);
	assert_ret(uvfio_proto_region_access_decode(b, 20, false, &d), -EINVAL);
	/* count far larger than the payload: no overflow, just EINVAL. */
	put_le32(b + 12, 0xffffffff);
	assert_ret(uvfio_proto_region_access_decode(b, 20, true, &d), -EINVAL);
}

static void test_dma_access(void **state)
{
	struct uvfio_dma_access a = { 0x1000, 3, "xyz" }, d;
	uint8_t b[32];

	assert_int_equal(uvfio_proto_dma_access_encode(b, sizeof(b), true, &a), 19);
	assert_ret(uvfio_proto_dma_access_decode(b, 19, true, &d), 0);
	assert_int_equal(d.count, 3);
	/* A header-only DMA_WRITE reply (QEMU) and the full one both decode. */
	assert_ret(uvfio_proto_dma_access_decode(b, 0, false, &d), 0);
	assert_int_equal(d.count, 0);
	assert_ret(uvfio_proto_dma_access_decode(b, 16, false, &d), 0);
	assert_int_equal(d.addr, 0x1000);
	assert_ret(uvfio_proto_dma_access_decode(b, 12, false, &d), -EINVAL);
	put_le64(b + 8, UINT64_MAX);
	assert_ret(uvfio_proto_dma_access_decode(b, 19, true, &d), -EINVAL);
}

static void test_write_multi(void **state)
{
	uint8_t b[8 + 2 * 24] = { 0 };
	struct uvfio_write_multi_entry e;
	uint64_t n;

	put_le64(b, 2);
	put_le64(b + 8, 0x40);
	put_le32(b + 16, 0);
	put_le32(b + 20, 4);
	memcpy(b + 24, "\x01\x02\x03\x04", 4);
	put_le32(b + 32 + 12, 9); /* second entry: count above 8 */
	assert_ret(uvfio_proto_write_multi_decode(b, sizeof(b), &n), 0);
	assert_int_equal(n, 2);
	assert_ret(uvfio_proto_write_multi_entry(b, sizeof(b), 0, &e), 0);
	assert_int_equal(e.offset, 0x40);
	assert_int_equal(e.count, 4);
	assert_ret(uvfio_proto_write_multi_entry(b, sizeof(b), 1, &e), -EINVAL);
	assert_ret(uvfio_proto_write_multi_entry(b, sizeof(b), 2, &e), -EINVAL);
	/* wr_cnt that doesn't match the size, or overflows when multiplied. */
	put_le64(b, 3);
	assert_ret(uvfio_proto_write_multi_decode(b, sizeof(b), &n), -EINVAL);
	put_le64(b, UINT64_MAX / 12);
	assert_ret(uvfio_proto_write_multi_decode(b, sizeof(b), &n), -EINVAL);
}

static int version(const char *json, struct uvfio_caps *c)
{
	uint8_t b[4 + UVFIO_PROTO_JSON_MAX + 16];
	uint16_t ma, mi;
	size_t n = strlen(json) + 1;

	put_le16(b, 0);
	put_le16(b + 2, 2);
	memcpy(b + 4, json, n);
	return uvfio_proto_version_decode(b, 4 + n, &ma, &mi, c);
}

static void test_version_json(void **state)
{
	struct uvfio_caps c;

	/* What QEMU 10.1 proposes. */
	assert_ret(version("{\"capabilities\":{\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456},"
			   "\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
			   "\"max_dma_maps\":65535,\"write_multiple\":true}}", &c), 0);
	assert_int_equal(c.max_msg_fds, 16);
	assert_int_equal(c.max_dma_maps, 65535);
	assert_true(c.write_multiple);
	assert_int_equal(c.migration_max_bitmap, 268435456);
	assert_true(c.present & UVFIO_CAP_MIGRATION);
	assert_false(c.present & UVFIO_CAP_TWIN_SOCKET);

	/* Defaults for what's absent; unknown keys ignored; whitespace allowed. */
	assert_ret(version("  {\"capabilities\":{\"future\":[1,2,{\"x\":null}]}}\n ", &c), 0);
	assert_int_equal(c.present, 0);
	assert_int_equal(c.max_msg_fds, UVFIO_DEFAULT_MAX_MSG_FDS);
	assert_int_equal(c.max_data_xfer_size, UVFIO_DEFAULT_MAX_DATA_XFER_SIZE);
	assert_ret(version("{}", &c), 0);
	assert_ret(version("", &c), 0);

	/* Wrong types, negative numbers, malformed JSON, trailing garbage. */
	assert_ret(version("{\"capabilities\":{\"max_msg_fds\":\"16\"}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"max_msg_fds\":-1}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"max_msg_fds\":1.5}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"max_msg_fds\":4294967296}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"write_multiple\":1}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"twin_socket\":true}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":[]}", &c), -EINVAL);
	assert_ret(version("[1,2,3]", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{", &c), -EINVAL);
	assert_ret(version("{} {}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"max_msg_fds\":16,}}", &c), -EINVAL);
	assert_ret(version("{\"capabilities\":{\"max_msg_fds\":016}}", &c), -EINVAL);
	assert_ret(version("{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}", &c), -EINVAL);

	/* u64 values above INT64_MAX are accepted as such. */
	assert_ret(version("{\"capabilities\":{\"pgsizes\":18446744073709547520}}", &c), 0);
	assert_true(c.pgsizes == 0xfffffffffffff000ull);
}

static void test_version_framing(void **state)
{
	uint8_t b[4 + UVFIO_PROTO_JSON_MAX + 8];
	struct uvfio_caps c;
	uint16_t ma, mi;

	memset(b, 0, sizeof(b));
	put_le16(b, 0);
	put_le16(b + 2, 0);
	assert_ret(uvfio_proto_version_decode(b, 4, &ma, &mi, &c), 0);
	assert_ret(uvfio_proto_version_decode(b, 3, &ma, &mi, &c), -EINVAL);
	/* JSON without its NUL. */
	memcpy(b + 4, "{}", 2);
	assert_ret(uvfio_proto_version_decode(b, 6, &ma, &mi, &c), -EINVAL);
	/* An embedded NUL. */
	memcpy(b + 4, "{}\0{}\0", 6);
	assert_ret(uvfio_proto_version_decode(b, 10, &ma, &mi, &c), -EINVAL);
	/* Too long. */
	memset(b + 4, ' ', UVFIO_PROTO_JSON_MAX);
	b[4 + UVFIO_PROTO_JSON_MAX] = 0;
	assert_ret(uvfio_proto_version_decode(b, 5 + UVFIO_PROTO_JSON_MAX, &ma, &mi, &c), -EMSGSIZE);
}

static void test_version_encode(void **state)
{
	uint8_t b[512];
	struct uvfio_caps c, d;
	uint16_t ma, mi;
	ssize_t n;

	uvfio_proto_caps_default(&c);
	n = uvfio_proto_version_encode(b, sizeof(b), 0, 2, &c);
	assert_int_equal(n, 4); /* nothing present: no JSON */
	c.present = UVFIO_CAP_MAX_MSG_FDS | UVFIO_CAP_TWIN_SOCKET | UVFIO_CAP_MAX_DATA_XFER_SIZE;
	c.max_msg_fds = 16;
	c.max_data_xfer_size = 1 << 20;
	c.twin_socket = true;
	c.twin_fd_index = 0;
	n = uvfio_proto_version_encode(b, sizeof(b), 0, 2, &c);
	assert_true(n > 4);
	assert_int_equal(b[n - 1], 0);
	assert_ret(uvfio_proto_version_decode(b, (size_t)n, &ma, &mi, &d), 0);
	assert_int_equal(mi, 2);
	assert_int_equal(d.present, c.present);
	assert_int_equal(d.max_msg_fds, 16);
	assert_true(d.twin_socket);
	assert_int_equal(uvfio_proto_version_encode(b, 20, 0, 2, &c), -ENOSPC);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_hdr_roundtrip), UVFIO_TEST(test_check_sizes),
		UVFIO_TEST(test_check_flags), UVFIO_TEST(test_names), UVFIO_TEST(test_dma_map),
		UVFIO_TEST(test_dma_unmap), UVFIO_TEST(test_region_info_caps),
		UVFIO_TEST(test_irq_set), UVFIO_TEST(test_region_access),
		UVFIO_TEST(test_dma_access), UVFIO_TEST(test_write_multi),
		UVFIO_TEST(test_version_json), UVFIO_TEST(test_version_framing),
		UVFIO_TEST(test_version_encode))
