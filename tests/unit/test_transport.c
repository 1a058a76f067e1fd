// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for lib/transport over socketpairs: framing of partial and
 * glued messages, oversized messages discarded with the frame boundary
 * kept, unframeable headers, fd attribution and fd limits, EOF, the send
 * queue (filling, -ENOBUFS, flushing, fds riding queued messages),
 * timeouts, and the UNIX socket helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "transport/transport.h"

struct pair {
	struct uvfio__conn *c; /* owns sv[0] */
	int peer;              /* the raw other end */
};

static void pair_new(struct pair *p, uint64_t max_msg, uint32_t max_fds)
{
	struct uvfio__conn_opts o = { .max_msg_size = max_msg, .max_fds = max_fds };
	int sv[2];

	assert_ret(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_ret(uvfio__conn_create(sv[0], &o, &p->c), 0);
	p->peer = sv[1];
}

static void pair_free(struct pair *p)
{
	uvfio__conn_destroy(p->c);
	if (p->peer >= 0)
		close(p->peer);
}

/* A message: header with @id and @cmd, @len payload bytes of a pattern. */
static size_t build(uint8_t *b, uint16_t id, uint16_t cmd, size_t len)
{
	struct uvfio_hdr h = { .id = id, .cmd = cmd, .size = (uint32_t)(UVFIO_HDR_SIZE + len) };

	uvfio_proto_hdr_encode(b, &h);
	for (size_t i = 0; i < len; i++)
		b[UVFIO_HDR_SIZE + i] = (uint8_t)(id + i);
	return UVFIO_HDR_SIZE + len;
}

static void check_payload(const struct uvfio__msg *m, uint16_t id, size_t len)
{
	assert_int_equal(m->hdr.id, id);
	assert_int_equal(m->len, len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(m->payload[i], (uint8_t)(id + i));
}

static void raw_send(int fd, const void *b, size_t n, const int *fds, unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 128)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)b, .iov_len = n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	assert_true(nfds <= 128);
	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(fd, &mh, MSG_NOSIGNAL), (ssize_t)n);
}

/* Is @a the same eventfd as @b? Write through one, read through the other. */
static bool same_eventfd(int a, int b)
{
	uint64_t v = 0x55, r = 0;

	return write(a, &v, sizeof(v)) == sizeof(v) && read(b, &r, sizeof(r)) == sizeof(r) &&
	       r == 0x55;
}

static int efd_new(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	assert_true(fd >= 0);
	return fd;
}

static void test_partial_reads(void **state)
{
	uint8_t b[64];
	struct uvfio__msg m;
	struct pair p;
	size_t n = build(b, 9, UVFIO_CMD_REGION_READ, 24);

	pair_new(&p, 4096, 4);
	for (size_t i = 0; i + 1 < n; i++) {
		raw_send(p.peer, b + i, 1, NULL, 0);
		assert_ret(uvfio__conn_recv(p.c, &m, 0), -EAGAIN);
	}
	raw_send(p.peer, b + n - 1, 1, NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, 0);
	assert_int_equal(m.hdr.cmd, UVFIO_CMD_REGION_READ);
	assert_int_equal(m.hdr.size, n);
	check_payload(&m, 9, 24);
	assert_int_equal(m.nfds, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), -EAGAIN);
	pair_free(&p);
}

static void test_several_in_one_read(void **state)
{
	static const size_t lens[] = { 0, 100, 4000, 3 };
	uint8_t *b = malloc(8192);
	struct uvfio__msg m;
	struct pair p;
	size_t n = 0;

	assert_non_null(b);
	pair_new(&p, 8192, 4);
	for (unsigned i = 0; i < ARRAY_SIZE(lens); i++)
		n += build(b + n, (uint16_t)(i + 1), UVFIO_CMD_DEVICE_GET_INFO, lens[i]);
	raw_send(p.peer, b, n, NULL, 0);
	for (unsigned i = 0; i < ARRAY_SIZE(lens); i++) {
		assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
		check_payload(&m, (uint16_t)(i + 1), lens[i]);
		assert_int_equal(uvfio__conn_has_buffered(p.c), i + 1 < ARRAY_SIZE(lens));
	}
	assert_ret(uvfio__conn_recv(p.c, &m, 0), -EAGAIN);
	pair_free(&p);
	free(b);
}

static void test_oversized_discarded(void **state)
{
	uint8_t *b = malloc(64 * 1024);
	int before = uvfio_test_fd_count(), efd = efd_new();
	struct uvfio__msg m;
	struct pair p;
	size_t n, k;

	assert_non_null(b);
	pair_new(&p, 64, 4);
	/* Oversized, then a normal one, in one write. */
	n = build(b, 1, UVFIO_CMD_REGION_WRITE, 200);
	n += build(b + n, 2, UVFIO_CMD_REGION_READ, 16);
	raw_send(p.peer, b, n, NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, -EMSGSIZE);
	assert_int_equal(m.hdr.id, 1);
	assert_int_equal(m.hdr.cmd, UVFIO_CMD_REGION_WRITE);
	assert_int_equal(m.hdr.size, 216);
	assert_null(m.payload);
	assert_int_equal(m.len, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, 0);
	check_payload(&m, 2, 16);

	/* Oversized in pieces, with an fd: reported at its header, then skipped. */
	n = build(b, 3, UVFIO_CMD_REGION_WRITE, 60000);
	raw_send(p.peer, b, 100, &efd, 1);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, -EMSGSIZE);
	assert_int_equal(m.hdr.id, 3);
	assert_int_equal(m.nfds, 0);
	for (k = 100; k < n; k += 7000) {
		raw_send(p.peer, b + k, MIN((size_t)7000, n - k), NULL, 0);
		assert_ret(uvfio__conn_recv(p.c, &m, 0), -EAGAIN);
	}
	n = build(b, 4, UVFIO_CMD_REGION_READ, 40);
	raw_send(p.peer, b, n, NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	check_payload(&m, 4, 40);
	assert_int_equal(m.nfds, 0);
	/* The fd that rode the discarded message was closed. */
	close(efd);
	assert_int_equal(uvfio_test_fd_count(), before + 2);
	pair_free(&p);
	free(b);
}

static void test_short_size(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 15 };
	uint8_t b[32] = { 0 };
	struct uvfio__msg m;

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct uvfio_hdr h = { .id = 1, .cmd = 1, .size = sizes[i] };
		struct pair p;

		pair_new(&p, 4096, 4);
		uvfio_proto_hdr_encode(b, &h);
		raw_send(p.peer, b, sizeof(b), NULL, 0);
		assert_ret(uvfio__conn_recv(p.c, &m, 0), -EPROTO);
		pair_free(&p);
	}
}

/* Each message with fds sent by its own sendmsg: the fds land on that message. */
static void test_fd_attribution(void **state)
{
	int efd = efd_new(), fds[2];
	uint8_t b[3][40];
	size_t n[3];
	struct uvfio__msg m;
	struct pair p;

	pair_new(&p, 4096, 4);
	for (int i = 0; i < 3; i++)
		n[i] = build(b[i], (uint16_t)(i + 1), UVFIO_CMD_DEVICE_SET_IRQS, 20);
	raw_send(p.peer, b[0], n[0], NULL, 0);
	raw_send(p.peer, b[1], n[1], &efd, 1);
	raw_send(p.peer, b[2], n[2], NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.hdr.id, 1);
	assert_int_equal(m.nfds, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.hdr.id, 2);
	assert_int_equal(m.nfds, 1);
	assert_true(same_eventfd(m.fds[0], efd));
	uvfio__msg_close_fds(&m);
	assert_int_equal(m.nfds, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.hdr.id, 3);
	assert_int_equal(m.nfds, 0);

	/* Two fds on the first of two messages sent separately, read at once. */
	fds[0] = fds[1] = efd;
	raw_send(p.peer, b[0], n[0], fds, 2);
	raw_send(p.peer, b[1], n[1], NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.hdr.id, 1);
	assert_int_equal(m.nfds, 2);
	uvfio__msg_close_fds(&m);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.nfds, 0);

	/*
	 * A sender that glues messages into one sendmsg gets its fds counted
	 * against the message holding the last byte (see transport.h).
	 */
	{
		uint8_t all[120];

		memcpy(all, b[0], n[0]);
		memcpy(all + n[0], b[1], n[1]);
		memcpy(all + n[0] + n[1], b[2], n[2]);
		raw_send(p.peer, all, n[0] + n[1] + n[2], &efd, 1);
	}
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.nfds, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.nfds, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.hdr.id, 3);
	assert_int_equal(m.nfds, 1);
	uvfio__msg_close_fds(&m);
	pair_free(&p);
	close(efd);
}

static void test_too_many_fds(void **state)
{
	int before = uvfio_test_fd_count(), efd = efd_new(), fds[100];
	uint8_t b[40];
	size_t n = build(b, 5, UVFIO_CMD_DEVICE_SET_IRQS, 20);
	struct uvfio__msg m;
	struct pair p;

	for (int i = 0; i < 100; i++)
		fds[i] = efd;
	pair_new(&p, 4096, 2);
	raw_send(p.peer, b, n, fds, 3);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, -ETOOMANYREFS);
	assert_int_equal(m.hdr.id, 5);
	assert_int_equal(m.nfds, 2);
	uvfio__msg_close_fds(&m);
	/* The next message is fine. */
	raw_send(p.peer, b, n, fds, 2);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, 0);
	assert_int_equal(m.nfds, 2);
	uvfio__msg_close_fds(&m);
	/* More than the receive buffer's room (UVFIO__MAX_FDS): truncated by the kernel. */
	raw_send(p.peer, b, n, fds, 100);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, -ETOOMANYREFS);
	assert_true(m.nfds <= 2);
	uvfio__msg_close_fds(&m);
	/* No fd was kept: just the pair and our eventfd. */
	assert_int_equal(uvfio_test_fd_count(), before + 3);
	pair_free(&p);
	close(efd);
}

static void test_eof(void **state)
{
	uint8_t b[40];
	struct uvfio__msg m;
	struct pair p;

	pair_new(&p, 4096, 4);
	close(p.peer);
	p.peer = -1;
	assert_ret(uvfio__conn_recv(p.c, &m, 0), -ECONNRESET);
	assert_ret(uvfio__conn_recv(p.c, &m, -1), -ECONNRESET);
	assert_ret(uvfio__conn_recv(p.c, &m, 100), -ECONNRESET);
	pair_free(&p);

	/* In the middle of a message, after a complete one. */
	pair_new(&p, 4096, 4);
	build(b, 1, 1, 24);
	raw_send(p.peer, b, 40, NULL, 0);
	raw_send(p.peer, b, 20, NULL, 0);
	close(p.peer);
	p.peer = -1;
	assert_ret(uvfio__conn_recv(p.c, &m, -1), 0);
	assert_ret(uvfio__conn_recv(p.c, &m, -1), -ECONNRESET);
	pair_free(&p);
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int send_msg(struct uvfio__conn *c, uint16_t id, const uint8_t *payload, size_t len,
		    const int *fds, unsigned nfds)
{
	struct uvfio_hdr h = { .id = id, .cmd = UVFIO_CMD_REGION_READ,
			       .flags = UVFIO_F_TYPE_REPLY };
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };

	return uvfio__conn_send(c, &h, &iov, 1, fds, nfds);
}

/* Send 4000-byte messages into a socket nobody reads until the queue refuses. */
static unsigned fill(struct uvfio__conn *c, const uint8_t *payload, uint16_t first)
{
	unsigned n = 0;
	int ret;

	while ((ret = send_msg(c, (uint16_t)(first + n), payload, 4000, NULL, 0)) == 0) {
		n++;
		assert_true(n < 100000);
	}
	assert_int_equal(ret, -ENOBUFS);
	return n;
}

static void test_send_queue(void **state)
{
	uint8_t payload[4000], *got;
	size_t total, have = 0;
	struct pair p;
	unsigned n;
	int ret = -1;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	pair_new(&p, 4096, 4);
	assert_false(uvfio__conn_want_write(p.c));
	n = fill(p.c, payload, 0);
	assert_true(uvfio__conn_want_write(p.c));
	assert_ret(uvfio__conn_flush(p.c, 0), -EAGAIN);
	/* Nobody reads: a bounded flush times out. */
	{
		int64_t t0 = now_ms();

		assert_ret(uvfio__conn_flush(p.c, 50), -ETIMEDOUT);
		assert_true(now_ms() - t0 >= 40);
	}
	/* Drain: read everything while flushing, until the queue is empty. */
	total = (size_t)n * (UVFIO_HDR_SIZE + 4000);
	got = malloc(total);
	assert_non_null(got);
	while (have < total) {
		struct pollfd pf = { .fd = p.peer, .events = POLLIN };
		ssize_t r;

		if (ret)
			ret = uvfio__conn_flush(p.c, 0);
		assert_true(ret == 0 || ret == -EAGAIN);
		assert_int_equal(poll(&pf, 1, 2000), 1);
		r = read(p.peer, got + have, total - have);
		assert_true(r > 0);
		have += (size_t)r;
	}
	assert_ret(uvfio__conn_flush(p.c, 0), 0);
	assert_false(uvfio__conn_want_write(p.c));
	/* In order and intact. */
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *m = got + (size_t)i * (UVFIO_HDR_SIZE + 4000);
		struct uvfio_hdr h;

		uvfio_proto_hdr_decode(m, &h);
		assert_int_equal(h.id, (uint16_t)i);
		assert_int_equal(h.size, UVFIO_HDR_SIZE + 4000);
		assert_memory_equal(m + UVFIO_HDR_SIZE, payload, 4000);
	}
	{
		struct pollfd pf = { .fd = p.peer, .events = POLLIN };

		assert_int_equal(poll(&pf, 1, 0), 0); /* nothing more */
	}
	free(got);
	pair_free(&p);
}

/* Receive the next message on @rx, flushing @tx meanwhile. */
static void recv_flushing(struct uvfio__conn *rx, struct uvfio__conn *tx, struct uvfio__msg *m)
{
	for (;;) {
		struct pollfd pf = { .fd = uvfio__conn_fd(rx), .events = POLLIN };
		int ret = uvfio__conn_flush(tx, 0);

		assert_true(ret == 0 || ret == -EAGAIN);
		ret = uvfio__conn_recv(rx, m, 0);
		if (ret != -EAGAIN) {
			assert_int_equal(ret, 0);
			return;
		}
		assert_int_equal(poll(&pf, 1, 2000), 1);
	}
}

/* A message with fds that had to be queued arrives, later, with its fds. */
static void test_queued_fds(void **state)
{
	struct uvfio__conn_opts o = { .max_msg_size = 8192, .max_fds = 4 };
	uint8_t payload[4000] = { 0 };
	int efd = efd_new(), ret;
	struct uvfio__conn *rx;
	struct uvfio__msg m;
	struct pair p;
	unsigned n, seen = 0;

	pair_new(&p, 4096, 4);
	assert_ret(uvfio__conn_create(p.peer, &o, &rx), 0);
	p.peer = -1;
	n = fill(p.c, payload, 0);
	while ((ret = send_msg(p.c, 0xf00d, payload, 16, &efd, 1)) == -ENOBUFS) {
		recv_flushing(rx, p.c, &m);
		assert_int_equal(m.nfds, 0);
		seen++;
	}
	assert_int_equal(ret, 0);
	/* It was queued behind the others, with a copy of the fd; ours can go. */
	assert_true(uvfio__conn_want_write(p.c));
	close(efd);
	do {
		recv_flushing(rx, p.c, &m);
		if (m.hdr.id != 0xf00d) {
			assert_int_equal(m.nfds, 0);
			assert_int_equal(m.hdr.id, (uint16_t)seen);
			seen++;
		}
	} while (m.hdr.id != 0xf00d);
	assert_int_equal(seen, n);
	assert_int_equal(m.len, 16);
	assert_int_equal(m.nfds, 1);
	/* It is an eventfd that works. */
	{
		uint64_t v = 3, r = 0;

		assert_int_equal(write(m.fds[0], &v, 8), 8);
		assert_int_equal(read(m.fds[0], &r, 8), 8);
		assert_int_equal(r, 3);
	}
	uvfio__msg_close_fds(&m);
	assert_ret(uvfio__conn_flush(p.c, 0), 0);
	assert_false(uvfio__conn_want_write(p.c));
	uvfio__conn_destroy(rx);
	pair_free(&p);
}

/* Sends with fds when the socket has room go straight out with them. */
static void test_send_with_fds(void **state)
{
	struct uvfio__conn_opts o = { .max_msg_size = 4096, .max_fds = 4 };
	int efd = efd_new(), two[2] = { efd, efd };
	struct uvfio__conn *rx;
	uint8_t x[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct uvfio__msg m;
	struct pair p;

	pair_new(&p, 4096, 4);
	assert_ret(uvfio__conn_create(p.peer, &o, &rx), 0);
	p.peer = -1;
	assert_ret(send_msg(p.c, 1, x, sizeof(x), NULL, 0), 0);
	assert_ret(send_msg(p.c, 2, x, sizeof(x), two, 2), 0);
	assert_ret(send_msg(p.c, 3, x, 0, NULL, 0), 0);
	assert_false(uvfio__conn_want_write(p.c));
	assert_ret(uvfio__conn_recv(rx, &m, 1000), 0);
	assert_int_equal(m.hdr.id, 1);
	assert_int_equal(m.hdr.flags, UVFIO_F_TYPE_REPLY);
	assert_memory_equal(m.payload, x, sizeof(x));
	assert_int_equal(m.nfds, 0);
	assert_ret(uvfio__conn_recv(rx, &m, 1000), 0);
	assert_int_equal(m.hdr.id, 2);
	assert_int_equal(m.nfds, 2);
	assert_true(same_eventfd(m.fds[1], efd));
	uvfio__msg_close_fds(&m);
	assert_ret(uvfio__conn_recv(rx, &m, 1000), 0);
	assert_int_equal(m.hdr.id, 3);
	assert_int_equal(m.hdr.size, UVFIO_HDR_SIZE);
	assert_int_equal(m.nfds, 0);
	/* Too many iovecs or fds are refused up front. */
	{
		struct uvfio_hdr h = { .id = 4 };
		struct iovec iov[8] = { { x, 1 } };

		assert_ret(uvfio__conn_send(p.c, &h, iov, 8, NULL, 0), -EINVAL);
		assert_ret(uvfio__conn_send(p.c, &h, iov, -1, NULL, 0), -EINVAL);
	}
	uvfio__conn_destroy(rx);
	assert_ret(send_msg(p.c, 5, x, sizeof(x), NULL, 0), -EPIPE);
	pair_free(&p);
	close(efd);
}

static void test_timeouts(void **state)
{
	struct uvfio__msg m;
	struct pair p;
	int64_t t0;
	uint8_t b[20];

	pair_new(&p, 4096, 4);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), -EAGAIN);
	t0 = now_ms();
	assert_ret(uvfio__conn_recv(p.c, &m, 60), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 50);
	/* A partial message doesn't end the wait early. */
	build(b, 1, 1, 4);
	raw_send(p.peer, b, 10, NULL, 0);
	t0 = now_ms();
	assert_ret(uvfio__conn_recv(p.c, &m, 60), -ETIMEDOUT);
	assert_true(now_ms() - t0 >= 50);
	raw_send(p.peer, b + 10, 10, NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 60), 0);
	check_payload(&m, 1, 4);
	/* An empty queue flushes at once. */
	assert_ret(uvfio__conn_flush(p.c, 50), 0);
	pair_free(&p);
}

static void test_set_limits(void **state)
{
	int efd = efd_new(), fds[3] = { efd, efd, efd };
	uint8_t b[200];
	size_t n = build(b, 1, 1, 100);
	struct uvfio__msg m;
	struct pair p;

	pair_new(&p, 64, 0);
	raw_send(p.peer, b, n, NULL, 0);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, -EMSGSIZE);
	uvfio__conn_set_limits(p.c, 4096, 3);
	raw_send(p.peer, b, n, fds, 3);
	assert_ret(uvfio__conn_recv(p.c, &m, 0), 0);
	assert_int_equal(m.status, 0);
	assert_int_equal(m.nfds, 3);
	check_payload(&m, 1, 100);
	uvfio__msg_close_fds(&m);
	pair_free(&p);
	close(efd);
}

/* --- UNIX socket helpers ------------------------------------------------------------- */

static void test_sockets(void **state)
{
	char dir[] = "/tmp/uvfio-sock-XXXXXX", path[128], longp[200];
	int lfd, lfd2, c, a;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	lfd = uvfio__sock_listen(path);
	assert_true(lfd >= 0);
	assert_ret(uvfio__sock_accept(lfd, 0), -EAGAIN);
	assert_ret(uvfio__sock_accept(lfd, 30), -ETIMEDOUT);
	c = uvfio__sock_connect(path);
	assert_true(c >= 0);
	a = uvfio__sock_accept(lfd, 1000);
	assert_true(a >= 0);
	assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(c, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(c, "x", 1), 1);
	{
		char ch = 0;

		assert_int_equal(read(a, &ch, 1), 1);
		assert_int_equal(ch, 'x');
	}
	close(a);
	close(c);
	/*
	 * A live server owns the path. (Finding out costs it a connection
	 * that is closed at once: the next accept sees EOF.)
	 */
	assert_ret(uvfio__sock_listen(path), -EADDRINUSE);
	a = uvfio__sock_accept(lfd, 1000);
	assert_true(a >= 0);
	{
		char ch;

		assert_int_equal(read(a, &ch, 1), 0);
	}
	close(a);
	/* A stale socket left behind is replaced. */
	close(lfd);
	assert_ret(uvfio__sock_connect(path), -ECONNREFUSED);
	lfd2 = uvfio__sock_listen(path);
	assert_true(lfd2 >= 0);
	close(lfd2);
	unlink(path);
	/* A file that isn't a socket is never replaced. */
	c = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(c >= 0);
	close(c);
	assert_ret(uvfio__sock_listen(path), -EADDRINUSE);
	unlink(path);
	/* Paths that can't be bound. */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_ret(uvfio__sock_listen(longp), -ENAMETOOLONG);
	assert_ret(uvfio__sock_connect(longp), -ENAMETOOLONG);
	assert_ret(uvfio__sock_listen(""), -EINVAL);
	assert_ret(uvfio__sock_connect(path), -ENOENT);
	assert_ret(rmdir(dir), 0);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_partial_reads), UVFIO_TEST(test_several_in_one_read),
		UVFIO_TEST(test_oversized_discarded), UVFIO_TEST(test_short_size),
		UVFIO_TEST(test_fd_attribution), UVFIO_TEST(test_too_many_fds),
		UVFIO_TEST(test_eof), UVFIO_TEST(test_send_queue), UVFIO_TEST(test_queued_fds),
		UVFIO_TEST(test_send_with_fds), UVFIO_TEST(test_timeouts),
		UVFIO_TEST(test_set_limits), UVFIO_TEST(test_sockets))
