// SPDX-License-Identifier: BSD-3-Clause
/*
 * Framing and header rules: command numbers, types, flags, No_reply,
 * payload sizes, size limits, fds where none belong, and messages cut or
 * glued in every way a stream allows. After each refusal the reply must
 * echo the request's id and command and the stream must stay in sync.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

static void start(struct peer *p, const struct peer_server_opts *o)
{
	assert_ret(peer_start(p, o), 0);
	assert_ret(peer_hello(p), 0);
}

static void stop(struct peer *p)
{
	assert_true(peer_in_sync(p));
	assert_int_equal(peer_stop(p), 0);
}

/* Send a hand-made header with @len payload bytes and return the reply's result. */
static int raw_call(struct peer *p, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t error,
		    const void *payload, size_t len, const int *fds, unsigned nfds)
{
	struct uvfio_hdr h = { .id = id, .cmd = cmd, .flags = flags, .error = error };
	struct peer_msg m;
	int ret = peer_send(p, &h, payload, len, fds, nfds);

	if (ret)
		return ret;
	ret = peer_recv_rc(p, id, cmd, &m);
	/* Error replies are header-only. */
	if (ret < 0 && ret != -EPROTO && m.len)
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

static int call(struct peer *p, uint16_t cmd, const void *payload, size_t len)
{
	struct peer_msg m;
	int ret = peer_call_rc(p, cmd, payload, len, NULL, 0, &m);

	peer_msg_free(&m);
	return ret;
}

static void test_unknown_commands(void **state)
{
	static const uint16_t cmds[] = { 0, UVFIO_CMD_MAX + 1, 0x100, 0x7fff, 0xffff };
	uint8_t b[64] = { 0 };
	struct peer p;

	start(&p, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(cmds); i++) {
		assert_ret(raw_call(&p, (uint16_t)(40 + i), cmds[i], 0, 0, NULL, 0, NULL, 0),
			   -ENOSYS);
		assert_ret(raw_call(&p, (uint16_t)(50 + i), cmds[i], 0, 0, b, sizeof(b), NULL, 0),
			   -ENOSYS);
	}
	stop(&p);
}

static void test_unimplemented_commands(void **state)
{
	uint8_t b[16] = { 16 };
	struct peer p;

	start(&p, NULL);
	assert_ret(call(&p, UVFIO_CMD_DEVICE_GET_REGION_IO_FDS, b, 16), -ENOTSUP);
	assert_ret(call(&p, UVFIO_CMD_DIRTY_PAGES, b, 8), -ENOTSUP);
	assert_ret(call(&p, UVFIO_CMD_MIG_DATA_READ, b, 8), -ENOTSUP);
	assert_ret(call(&p, UVFIO_CMD_MIG_DATA_WRITE, b, 8), -ENOTSUP);
	assert_ret(call(&p, UVFIO_CMD_MIG_DATA_WRITE, b, 16), -ENOTSUP);
	/* No device features: ENOTTY as the kernel. */
	put_le32(b, 8);
	put_le32(b + 4, UVFIO_DEVICE_FEATURE_GET | 1);
	assert_ret(call(&p, UVFIO_CMD_DEVICE_FEATURE, b, 8), -ENOTTY);
	stop(&p);
}

static void test_server_commands_from_client(void **state)
{
	uint8_t b[16 + 8] = { 0 };
	struct peer p;

	start(&p, NULL);
	put_le64(b + 8, 8);
	assert_ret(call(&p, UVFIO_CMD_DMA_READ, b, 16), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_DMA_WRITE, b, sizeof(b)), -EINVAL);
	stop(&p);
}

/* A reply from the client answers nothing: EINVAL, as a reply with its id and command. */
static void test_client_sends_reply(void **state)
{
	uint8_t b[16] = { 16 };
	struct peer_msg m;
	struct uvfio_hdr h = { .id = 77, .cmd = UVFIO_CMD_DEVICE_GET_INFO,
			       .flags = UVFIO_F_TYPE_REPLY };
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_send(&p, &h, b, sizeof(b), NULL, 0), 0);
	assert_ret(peer_recv(&p, &m), 0);
	assert_int_equal(m.hdr.id, 77);
	assert_int_equal(m.hdr.cmd, UVFIO_CMD_DEVICE_GET_INFO);
	assert_int_equal(m.hdr.flags, UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR);
	assert_int_equal(m.hdr.error, EINVAL);
	assert_int_equal(m.len, 0);
	peer_msg_free(&m);
	/* An error reply, a reply to a server command, a reply with No_reply. */
	assert_ret(raw_call(&p, 78, UVFIO_CMD_DMA_READ, UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR, EIO,
			    NULL, 0, NULL, 0),
		   -EINVAL);
	assert_ret(raw_call(&p, 79, UVFIO_CMD_DMA_WRITE, UVFIO_F_TYPE_REPLY, 0, NULL, 0, NULL, 0),
		   -EINVAL);
	assert_ret(raw_call(&p, 80, UVFIO_CMD_REGION_READ, UVFIO_F_TYPE_REPLY, 0, b, 16, NULL, 0),
		   -EINVAL);
	stop(&p);
}

static void test_bad_types(void **state)
{
	uint8_t b[16] = { 16 };
	struct peer p;

	start(&p, NULL);
	for (uint32_t t = 2; t <= 15; t++)
		assert_ret(raw_call(&p, (uint16_t)t, UVFIO_CMD_DEVICE_GET_INFO, t, 0, b, 16, NULL,
				    0),
			   -EINVAL);
	stop(&p);
}

static void test_unknown_flags(void **state)
{
	static const uint32_t flags[] = { 0x40, 0x80, 0x100, 0x10000, 0x80000000 };
	uint8_t b[16] = { 16 };
	struct peer p;

	start(&p, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(flags); i++)
		assert_ret(raw_call(&p, (uint16_t)i, UVFIO_CMD_DEVICE_GET_INFO, flags[i], 0, b, 16,
				    NULL, 0),
			   -EINVAL);
	stop(&p);
}

static void test_error_in_command(void **state)
{
	uint8_t b[16] = { 16 };
	struct peer p;

	start(&p, NULL);
	assert_ret(raw_call(&p, 1, UVFIO_CMD_DEVICE_GET_INFO, UVFIO_F_ERROR, 0, b, 16, NULL, 0),
		   -EINVAL);
	assert_ret(raw_call(&p, 2, UVFIO_CMD_DEVICE_GET_INFO, UVFIO_F_ERROR, 5, b, 16, NULL, 0),
		   -EINVAL);
	assert_ret(raw_call(&p, 3, UVFIO_CMD_DEVICE_GET_INFO, 0, 5, b, 16, NULL, 0), -EINVAL);
	assert_ret(raw_call(&p, 4, UVFIO_CMD_DEVICE_GET_INFO, 0, 0x80000000, b, 16, NULL, 0),
		   -EINVAL);
	/* The same header without them is fine. */
	assert_ret(raw_call(&p, 5, UVFIO_CMD_DEVICE_GET_INFO, 0, 0, b, 16, NULL, 0), 0);
	stop(&p);
}

static void send_posted(struct peer *p, uint16_t cmd, const void *payload, size_t len)
{
	struct uvfio_hdr h = { .id = p->next_id++, .cmd = cmd, .flags = UVFIO_F_NO_REPLY };

	assert_ret(peer_send(p, &h, payload, len, NULL, 0), 0);
}

static void posted_reg_write(struct peer *p, uint32_t region, uint64_t off, uint32_t v)
{
	uint8_t b[20], d[4];
	struct uvfio_region_access a = { .offset = off, .region = region, .count = 4, .data = d };

	put_le32(d, v);
	uvfio_proto_region_access_encode(b, sizeof(b), true, &a);
	send_posted(p, UVFIO_CMD_REGION_WRITE, b, sizeof(b));
}

static void test_no_reply(void **state)
{
	uint8_t junk[8] = { 0 };
	struct peer p;

	start(&p, NULL);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	/* Posted writes are applied, in order, and never answered. */
	posted_reg_write(&p, DMA_BAR_REGS, DMA_REG_SCRATCH, 0x11111111);
	posted_reg_write(&p, DMA_BAR_REGS, DMA_REG_SCRATCH, 0x22222222);
	/* peer_reg_rd fails unless the next message is its own reply. */
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0x22222222);
	/* Failing posted commands get no reply either. */
	posted_reg_write(&p, 100, 0, 1);
	posted_reg_write(&p, DMA_BAR_REGS, DMA_REGS_SIZE, 1);
	send_posted(&p, 0, NULL, 0);
	send_posted(&p, 0xffff, junk, sizeof(junk));
	send_posted(&p, UVFIO_CMD_DMA_MAP, junk, sizeof(junk));
	send_posted(&p, UVFIO_CMD_DIRTY_PAGES, junk, sizeof(junk));
	send_posted(&p, UVFIO_CMD_VERSION, junk, 4);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0x22222222);
	assert_true(peer_quiet(p.fd, 0));
	stop(&p);
}

/* Payload sizes one byte off, for every command. */
struct size_case {
	uint16_t cmd;
	uint32_t len;   /* a well-formed size */
	int short_err;  /* with len - 1 bytes */
	int long_err;   /* with len + 1 bytes */
};

static void fill_payload(uint16_t cmd, uint8_t *b, size_t len)
{
	memset(b, 0, len);
	switch (cmd) {
	case UVFIO_CMD_REGION_WRITE:
		put_le32(b + 8, UVFIO_PCI_CONFIG_REGION_INDEX);
		put_le32(b + 12, 4);
		break;
	case UVFIO_CMD_REGION_WRITE_MULTI:
		put_le64(b, 1);
		put_le32(b + 8 + 8, UVFIO_PCI_CONFIG_REGION_INDEX);
		put_le32(b + 8 + 12, 1);
		break;
	case UVFIO_CMD_DEVICE_SET_IRQS:
		put_le32(b, 20);
		put_le32(b + 4, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER);
		put_le32(b + 8, UVFIO_PCI_ERR_IRQ_INDEX);
		put_le32(b + 16, 1);
		break;
	default:
		put_le32(b, (uint32_t)len); /* argsz where there is one */
		break;
	}
}

static void test_payload_sizes(void **state)
{
	static const struct size_case cases[] = {
		{ UVFIO_CMD_DMA_MAP, 32, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_DMA_UNMAP, 24, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_DEVICE_GET_INFO, 16, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_DEVICE_GET_REGION_INFO, 32, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_DEVICE_GET_REGION_IO_FDS, 16, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_DEVICE_GET_IRQ_INFO, 16, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_REGION_READ, 16, -EINVAL, -EMSGSIZE },
		{ UVFIO_CMD_MIG_DATA_READ, 8, -EINVAL, -EMSGSIZE },
		/* Variable tails: a length that disagrees with the count inside. */
		{ UVFIO_CMD_REGION_WRITE, 16 + 4, -EINVAL, -EINVAL },
		{ UVFIO_CMD_DEVICE_SET_IRQS, 20, -EINVAL, -EINVAL },
		{ UVFIO_CMD_REGION_WRITE_MULTI, 8 + 24, -EINVAL, -EINVAL },
	};
	uint8_t b[64];
	struct peer p;

	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(peer_version(&p, 0, 0, "{\"capabilities\":{\"write_multiple\":true}}"), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct size_case *c = &cases[i];

		fill_payload(c->cmd, b, c->len - 1);
		assert_ret(call(&p, c->cmd, b, c->len - 1), c->short_err);
		fill_payload(c->cmd, b, c->len + 1);
		assert_ret(call(&p, c->cmd, b, c->len + 1), c->long_err);
		assert_true(peer_in_sync(&p));
	}
	/* Below the fixed part of variable commands; anything on DEVICE_RESET. */
	memset(b, 0, sizeof(b));
	assert_ret(call(&p, UVFIO_CMD_REGION_WRITE, b, 15), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_REGION_WRITE_MULTI, b, 7), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_DEVICE_FEATURE, b, 7), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_DIRTY_PAGES, b, 7), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_MIG_DATA_WRITE, b, 7), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_DEVICE_RESET, b, 1), -EMSGSIZE);
	assert_ret(call(&p, UVFIO_CMD_DEVICE_RESET, NULL, 0), 0);
	stop(&p);
}

/* VERSION shorter than major + minor. */
static void test_version_too_short(void **state)
{
	uint8_t b[4] = { 0 };
	struct peer p;

	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(call(&p, UVFIO_CMD_VERSION, b, 3), -EINVAL);
	assert_ret(call(&p, UVFIO_CMD_VERSION, b, 0), -EINVAL);
	assert_ret(peer_hello(&p), 0);
	stop(&p);
}

/* A message over the negotiated limit is drained, its fds closed, EMSGSIZE sent. */
static void test_oversized_message(void **state)
{
	size_t big = 2u << 20;
	uint8_t *b = calloc(1, big);
	int efd = eventfd(0, EFD_CLOEXEC);
	struct peer p;

	assert_non_null(b);
	assert_true(efd >= 0);
	start(&p, NULL);
	put_le32(b + 8, UVFIO_PCI_CONFIG_REGION_INDEX);
	put_le32(b + 12, (uint32_t)(big - 16));
	assert_ret(call(&p, UVFIO_CMD_REGION_WRITE, b, big), -EMSGSIZE);
	assert_true(peer_in_sync(&p));
	/* Again with an fd riding along: the server must close its copy. */
	{
		struct peer_msg m;

		int base = peer_server_fds(&p);

		assert_ret(peer_call_rc(&p, UVFIO_CMD_REGION_WRITE, b, big, &efd, 1, &m),
			   -EMSGSIZE);
		peer_msg_free(&m);
		assert_true(peer_in_sync(&p));
		assert_int_equal(peer_server_fds(&p), base);
	}
	assert_true(peer_in_sync(&p));
	/* Just past the limit of a server with a small max_data_xfer_size. */
	stop(&p);
	{
		struct peer_server_opts o = { .max_data_xfer_size = 4096 };
		uint32_t count = 4096 + 32 + 1 - 16; /* message = 16 + 32 + 4096 + 1 */

		start(&p, &o);
		put_le32(b + 12, count);
		assert_ret(call(&p, UVFIO_CMD_REGION_WRITE, b, 16 + count), -EMSGSIZE);
		assert_true(peer_in_sync(&p));
		/* A read of that size is refused by count, not by size. */
		assert_ret(peer_region_read(&p, UVFIO_PCI_CONFIG_REGION_INDEX, 0, b, 4097), -E2BIG);
		stop(&p);
	}
	close(efd);
	free(b);
}

static void short_header(uint32_t size, bool negotiate)
{
	uint8_t h[16];
	struct uvfio_hdr hh = { .id = 1, .cmd = UVFIO_CMD_DEVICE_GET_INFO, .size = size };
	struct peer_msg m;
	struct peer p;

	assert_ret(peer_start(&p, NULL), 0);
	if (negotiate)
		assert_ret(peer_hello(&p), 0);
	uvfio_proto_hdr_encode(h, &hh);
	assert_ret(peer_send_raw(&p, h, sizeof(h), NULL, 0), 0);
	assert_ret(peer_recv(&p, &m), -ECONNRESET);
	assert_int_equal(peer_stop(&p), 0);
}

static void test_short_header_closes(void **state)
{
	short_header(0, true);
	short_header(8, true);
	short_header(15, true);
	short_header(15, false);
}

static void test_one_byte_per_write(void **state)
{
	static const char j[] = "{\"capabilities\":{\"max_msg_fds\":16}}";
	uint8_t msg[16 + 4 + sizeof(j)], rr[16 + 16];
	struct uvfio_hdr h = { .id = 9, .cmd = UVFIO_CMD_VERSION, .size = sizeof(msg) };
	struct uvfio_region_access a = { .offset = 0, .region = UVFIO_PCI_CONFIG_REGION_INDEX,
					 .count = 4 };
	struct peer_msg m;
	struct peer p;

	assert_ret(peer_start(&p, NULL), 0);
	uvfio_proto_hdr_encode(msg, &h);
	put_le16(msg + 16, 0);
	put_le16(msg + 18, 0);
	memcpy(msg + 20, j, sizeof(j));
	for (size_t i = 0; i < sizeof(msg); i++)
		assert_ret(peer_send_raw(&p, msg + i, 1, NULL, 0), 0);
	assert_ret(peer_recv_rc(&p, 9, UVFIO_CMD_VERSION, &m), 0);
	peer_msg_free(&m);

	h = (struct uvfio_hdr){ .id = 10, .cmd = UVFIO_CMD_REGION_READ, .size = 32 };
	uvfio_proto_hdr_encode(rr, &h);
	uvfio_proto_region_access_encode(rr + 16, 16, false, &a);
	for (size_t i = 0; i < sizeof(rr); i++)
		assert_ret(peer_send_raw(&p, rr + i, 1, NULL, 0), 0);
	assert_ret(peer_recv_rc(&p, 10, UVFIO_CMD_REGION_READ, &m), 0);
	assert_int_equal(m.len, 20);
	assert_int_equal(get_le32(m.payload + 16), DMA_PCI_VENDOR_ID | DMA_PCI_DEVICE_ID << 16);
	peer_msg_free(&m);
	stop(&p);
}

static size_t irq_info_msg(uint8_t *b, uint16_t id, uint32_t index)
{
	struct uvfio_hdr h = { .id = id, .cmd = UVFIO_CMD_DEVICE_GET_IRQ_INFO, .size = 32 };

	uvfio_proto_hdr_encode(b, &h);
	memset(b + 16, 0, 16);
	put_le32(b + 16, 16);
	put_le32(b + 24, index);
	return 32;
}

static void test_several_in_one_write(void **state)
{
	uint8_t b[96];
	struct peer_msg m;
	struct peer p;
	size_t n = 0;

	start(&p, NULL);
	n += irq_info_msg(b + n, 100, UVFIO_PCI_MSIX_IRQ_INDEX);
	n += irq_info_msg(b + n, 101, 5); /* refused: the one after must still come */
	n += irq_info_msg(b + n, 102, UVFIO_PCI_INTX_IRQ_INDEX);
	assert_ret(peer_send_raw(&p, b, n, NULL, 0), 0);
	assert_ret(peer_recv_rc(&p, 100, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), 0);
	assert_int_equal(get_le32(m.payload + 12), DMA_MSIX_VECS);
	peer_msg_free(&m);
	assert_ret(peer_recv_rc(&p, 101, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), -EINVAL);
	peer_msg_free(&m);
	assert_ret(peer_recv_rc(&p, 102, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), 0);
	assert_int_equal(get_le32(m.payload + 8), UVFIO_PCI_INTX_IRQ_INDEX);
	peer_msg_free(&m);
	stop(&p);
}

/* A header in two pieces, a payload in two pieces: nothing happens until the end. */
static void test_split_message(void **state)
{
	uint8_t b[32];
	struct peer_msg m;
	struct peer p;

	start(&p, NULL);
	irq_info_msg(b, 200, UVFIO_PCI_MSI_IRQ_INDEX);
	assert_ret(peer_send_raw(&p, b, 7, NULL, 0), 0);
	assert_true(peer_quiet(p.fd, 50));
	assert_ret(peer_send_raw(&p, b + 7, sizeof(b) - 7, NULL, 0), 0);
	assert_ret(peer_recv_rc(&p, 200, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), 0);
	peer_msg_free(&m);

	irq_info_msg(b, 201, UVFIO_PCI_MSI_IRQ_INDEX);
	assert_ret(peer_send_raw(&p, b, 16 + 5, NULL, 0), 0);
	assert_true(peer_quiet(p.fd, 50));
	assert_ret(peer_send_raw(&p, b + 21, sizeof(b) - 21, NULL, 0), 0);
	assert_ret(peer_recv_rc(&p, 201, UVFIO_CMD_DEVICE_GET_IRQ_INFO, &m), 0);
	assert_int_equal(get_le32(m.payload + 8), UVFIO_PCI_MSI_IRQ_INDEX);
	peer_msg_free(&m);
	stop(&p);
}

/* Our copy of an fd the server refused must still work. */
static void assert_efd_usable(int efd)
{
	uint64_t v = 3;

	assert_int_equal(write(efd, &v, sizeof(v)), sizeof(v));
	assert_int_equal(peer_wait_efd(efd, 0), 3);
}

static void test_fds_where_none_belong(void **state)
{
	uint8_t b[32] = { 16 };
	int efd = eventfd(0, EFD_CLOEXEC), two[2], base;
	struct peer_msg m;
	struct peer p;

	assert_true(efd >= 0);
	two[0] = two[1] = efd;
	start(&p, NULL);
	base = peer_server_fds(&p);
	assert_true(base > 0);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_INFO, b, 16, &efd, 1, &m), -EINVAL);
	peer_msg_free(&m);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_IRQ_INFO, b, 16, two, 2, &m), -EINVAL);
	peer_msg_free(&m);
	put_le32(b + 8, UVFIO_PCI_CONFIG_REGION_INDEX);
	put_le32(b + 12, 4);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_REGION_READ, b, 16, &efd, 1, &m), -EINVAL);
	peer_msg_free(&m);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_RESET, NULL, 0, &efd, 1, &m), -EINVAL);
	peer_msg_free(&m);
	/*
	 * The server closed every one of them (it does so right after each
	 * reply: once the next request is answered, they are gone).
	 */
	assert_true(peer_in_sync(&p));
	assert_int_equal(peer_server_fds(&p), base);
	assert_efd_usable(efd);
	/* peer_stop() fails if the server still holds any of them. */
	stop(&p);
	assert_efd_usable(efd);
	close(efd);
}

static void too_many_fds(unsigned n)
{
	int fds[PEER_MAX_SEND_FDS], base;
	struct peer p;

	for (unsigned i = 0; i < n; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	start(&p, NULL);
	base = peer_server_fds(&p);
	assert_ret(peer_set_irqs(&p, UVFIO_PCI_MSIX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0,
				 DMA_MSIX_VECS, fds, n),
		   -EINVAL);
	assert_true(peer_in_sync(&p));
	assert_int_equal(peer_server_fds(&p), base);
	/* Nothing was bound, so MSI-X isn't enabled: no loopback (EINVAL, as the kernel). */
	assert_ret(peer_set_irqs(&p, UVFIO_PCI_MSIX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER, 0,
				 DMA_MSIX_VECS, NULL, 0),
		   -EINVAL);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(peer_wait_efd(fds[i], 0), 0);
	stop(&p);
	for (unsigned i = 0; i < n; i++) {
		assert_efd_usable(fds[i]);
		close(fds[i]);
	}
}

static void test_too_many_fds(void **state)
{
	too_many_fds(17);
	/* More than the server's control buffer holds (truncated by the kernel). */
	too_many_fds(100);
}

static void test_ids_echoed(void **state)
{
	static const uint16_t ids[] = { 0xffff, 0xffff, 0, 0, 0x1234, 0x1234, 0x8000 };
	uint8_t b[16] = { 16 };
	struct peer p;

	start(&p, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(ids); i++) {
		assert_ret(raw_call(&p, ids[i], UVFIO_CMD_DEVICE_GET_INFO, 0, 0, b, 16, NULL, 0),
			   0);
		assert_ret(raw_call(&p, ids[i], UVFIO_CMD_DEVICE_GET_INFO, 0, 0, b, 15, NULL, 0),
			   -EINVAL);
		assert_ret(raw_call(&p, ids[i], 0x4242, 0, 0, NULL, 0, NULL, 0), -ENOSYS);
	}
	stop(&p);
}

/* A client that doesn't read its replies is cut off once too much is queued. */
static void test_slow_reader_dropped(void **state)
{
	struct peer_server_opts o = { .max_data_xfer_size = 65536 };
	enum { N = 256 };
	uint8_t b[32];
	struct uvfio_region_access a = { .offset = 0, .region = DMA_BAR_MEM, .count = 65536 };
	struct uvfio_hdr h = { .cmd = UVFIO_CMD_REGION_READ, .size = 32 };
	struct pollfd pf = { .events = POLLRDHUP };
	struct peer_msg m;
	struct peer p;
	int replies = 0, ret;

	start(&p, &o);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	uvfio_proto_region_access_encode(b + 16, 16, false, &a);
	/* The server may hang up before we are done sending: a send can bounce. */
	ret = 0;
	for (int i = 0; i < N && !ret; i++) {
		h.id = (uint16_t)(1000 + i);
		uvfio_proto_hdr_encode(b, &h);
		ret = peer_send_raw(&p, b, sizeof(b), NULL, 0);
	}
	assert_true(ret == 0 || ret == -EPIPE || ret == -ECONNRESET);
	/* Don't read until the server hung up (POLLIN alone doesn't wake this poll). */
	pf.fd = p.fd;
	assert_int_equal(poll(&pf, 1, 5000), 1);
	while ((ret = peer_recv(&p, &m)) == 0) {
		assert_int_equal(m.hdr.id, 1000 + replies);
		assert_int_equal(m.len, 16 + 65536);
		replies++;
		peer_msg_free(&m);
	}
	assert_int_equal(ret, -ECONNRESET);
	assert_true(replies > 0 && replies < N);
	assert_int_equal(peer_stop(&p), 0);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_unknown_commands), UVFIO_TEST(test_unimplemented_commands),
		UVFIO_TEST(test_server_commands_from_client), UVFIO_TEST(test_client_sends_reply),
		UVFIO_TEST(test_bad_types), UVFIO_TEST(test_unknown_flags),
		UVFIO_TEST(test_error_in_command), UVFIO_TEST(test_no_reply),
		UVFIO_TEST(test_payload_sizes), UVFIO_TEST(test_version_too_short),
		UVFIO_TEST(test_oversized_message), UVFIO_TEST(test_short_header_closes),
		UVFIO_TEST(test_one_byte_per_write), UVFIO_TEST(test_several_in_one_write),
		UVFIO_TEST(test_split_message), UVFIO_TEST(test_fds_where_none_belong),
		UVFIO_TEST(test_too_many_fds), UVFIO_TEST(test_ids_echoed),
		UVFIO_TEST(test_slow_reader_dropped))
