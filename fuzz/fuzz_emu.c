// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_emu: the device side's dispatch, fed the fuzz input as a client's
 * byte stream over a socketpair (the server end given to the context with
 * UVFIO_EMU_F_FD_CONNECTED), driven with uvfio_emu_dispatch().
 *
 * Input:
 *   byte 0     flags: FL_* below (own VERSION or the harness's, twin socket,
 *              write_multiple, which device, small transfer size, few DMA
 *              mappings, no fds for the client)
 *   bytes 1-4  how the client answers the server's DMA_READ/DMA_WRITE, one
 *              byte per request in turn (ANS_* in the low 3 bits)
 *   then records: ctl (u8), len (u16 LE), len bytes
 *     ctl bits 0-2  fds to attach: none, memfd, read-only memfd, eventfd,
 *                   pipe, small memfd, O_PATH fd, /dev/zero
 *     ctl bits 3-4  how many of them: 1, 2, 3 or 17 (one more than allowed)
 *     ctl bit 5     raw: send the bytes as they are (otherwise they are a
 *                   header and payload, and the header's size is set to
 *                   match)
 *     ctl bit 6     split the record over two sendmsg() calls
 *     ctl bit 7     don't dispatch after this record (let messages pile up)
 *
 * A helper thread plays the client's receiving side: it reads everything
 * the server sends (main socket and twin socket), checks that each message
 * is well formed (a server never sends what the command table forbids),
 * closes every fd it receives, and answers the server's DMA_READ/WRITE as
 * the input says. The server's own wait for those answers is bounded by a
 * small reply_timeout_ms, and the answers by a byte budget, so nothing can
 * hang; a server still serving 10 s after the client hung up is a bug.
 *
 * After each input: the server must have dropped the client, and every fd
 * and every mapping of the harness's memfds must be gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uvfio/emu.h"
#include "fuzz_common.h"
#include "model.h"

#define FL_OWN_VERSION  0x01 /* the input sends VERSION itself */
#define FL_TWIN         0x02
#define FL_WRITE_MULTI  0x04
#define FL_FZDEV        0x08
#define FL_SMALL_XFER   0x10
#define FL_FEW_MAPS     0x20
#define FL_NO_FDS       0x40 /* the client accepts no fds (no mmap-able regions) */

enum { ANS_OK = 0, ANS_OK2, ANS_OK3, ANS_ERROR, ANS_SHORT, ANS_WRONG_ID, ANS_SILENT, ANS_HANGUP };

#define REPLY_TIMEOUT_MS 10
#define ANSWER_BUDGET    (8u << 20) /* bytes of DMA data the client serves per input */
#define MEMFD_SIZE       (64 * 1024)
#define SMALL_MEMFD_SIZE 4096
#define MAX_RECORD_FDS   17
#define SERVER_MAX_MSG   (16 + 32 + (1u << 20))
#define HANG_MS          10000

/* --- the client's receiving side ------------------------------------------------------------ */

struct chan {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	uint64_t base;        /* stream offset of buf[0] */
	uint64_t fd_pos[8];   /* stream offset of the last byte of a recvmsg that brought fds */
	unsigned fd_cnt[8];   /* and how many */
	unsigned nfd_pos;
	bool eof;
};

struct client {
	pthread_mutex_t wlock; /* the main socket's writers: the input and the answers */
	struct chan main, twin;
	uint8_t answers[4];
	unsigned nreq;
	uint64_t budget;
	volatile bool stop;
	uint8_t *data;        /* DMA_READ answers */
};

static void chan_init(struct chan *c, int fd)
{
	c->fd = fd;
	c->len = 0;
	c->base = 0;
	c->nfd_pos = 0;
	c->eof = fd < 0;
}

/* Send a whole message on @c; a peer that is gone is not an error here. */
static void chan_send(struct client *cl, struct chan *c, const struct uvfio_hdr *h,
		      const void *payload, size_t len)
{
	uint8_t hb[UVFIO_HDR_SIZE];
	struct iovec iov[2] = { { hb, sizeof(hb) }, { (void *)payload, len } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	size_t total = sizeof(hb) + len, sent = 0;
	uint64_t t0 = fz_now_ms();

	uvfio_proto_hdr_encode(hb, h);
	if (c == &cl->main)
		pthread_mutex_lock(&cl->wlock);
	while (sent < total && fz_now_ms() - t0 < 1000) {
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ .fd = c->fd, .events = POLLOUT }, 1, 10);
			continue;
		}
		if (n <= 0)
			break;
		sent += (size_t)n;
		while (n > 0 && mh.msg_iovlen) {
			size_t k = (size_t)n < mh.msg_iov->iov_len ? (size_t)n : mh.msg_iov->iov_len;

			mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + k;
			mh.msg_iov->iov_len -= k;
			n -= (ssize_t)k;
			if (!mh.msg_iov->iov_len) {
				mh.msg_iov++;
				mh.msg_iovlen--;
			}
		}
	}
	if (c == &cl->main)
		pthread_mutex_unlock(&cl->wlock);
}

static void answer(struct client *cl, struct chan *c, const struct uvfio_hdr *req,
		   const uint8_t *p, size_t len)
{
	uint8_t a = cl->answers[cl->nreq++ % 4];
	struct uvfio_hdr h = { .id = req->id, .cmd = req->cmd, .flags = UVFIO_F_TYPE_REPLY };
	struct uvfio_dma_access da;
	bool read = req->cmd == UVFIO_CMD_DMA_READ;
	uint8_t ab[UVFIO_DMA_ACCESS_SIZE];
	int ret = uvfio_proto_dma_access_decode(p, len, !read, &da);

	FZ_CHECK(!ret, "the server sent a malformed %s (%zu bytes)", read ? "DMA_READ" : "DMA_WRITE",
		 len);
	FZ_CHECK(da.count && da.count <= (1u << 20), "the server asked for %llu bytes",
		 (unsigned long long)da.count);
	if (!(a & 7) || (a & 7) == ANS_OK2 || (a & 7) == ANS_OK3) {
		if (da.count > cl->budget) {
			a = ANS_ERROR;
		} else {
			cl->budget -= da.count;
			uvfio_proto_dma_access_encode(ab, sizeof(ab), false, &da);
			if (read) {
				/* addr, count, then the bytes: one buffer so it goes out whole. */
				memcpy(cl->data, ab, sizeof(ab));
				chan_send(cl, c, &h, cl->data, sizeof(ab) + da.count);
			} else {
				/* QEMU answers DMA_WRITE with the header alone. */
				chan_send(cl, c, &h, ab, (a & 8) ? 0 : sizeof(ab));
			}
			return;
		}
	}
	switch (a & 7) {
	case ANS_ERROR:
		h.flags |= UVFIO_F_ERROR;
		h.error = (a >> 3) ? (a >> 3) : EFAULT;
		chan_send(cl, c, &h, NULL, 0);
		break;
	case ANS_SHORT:
		uvfio_proto_dma_access_encode(ab, sizeof(ab), false, &da);
		chan_send(cl, c, &h, ab, (a >> 3) % sizeof(ab));
		break;
	case ANS_WRONG_ID:
		h.id++;
		if (a & 8)
			h.cmd ^= UVFIO_CMD_DMA_READ ^ UVFIO_CMD_DMA_WRITE;
		chan_send(cl, c, &h, NULL, 0);
		break;
	case ANS_SILENT:
		break;
	default: /* ANS_HANGUP */
		shutdown(c->fd, SHUT_RDWR);
		break;
	}
}

/* A message from the server must be one it is allowed to send. */
static void check_server_msg(struct client *cl, struct chan *c, const struct uvfio_hdr *h,
			     const uint8_t *p, size_t len, unsigned nfds)
{
	struct uvfio_proto_limits lim = { .max_data_xfer_size = 1u << 20, .max_msg_fds = 1 };
	uint32_t type = h->flags & UVFIO_F_TYPE_MASK;
	int ret;

	if (type == UVFIO_F_TYPE_REPLY && (h->flags & UVFIO_F_ERROR)) {
		/* It echoes whatever command number it was sent; the rest is fixed. */
		FZ_CHECK(h->flags == (UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR) && !len && !nfds &&
				 h->error && h->error < 4096,
			 "error reply to cmd %u: flags 0x%x errno %u, %zu bytes, %u fds", h->cmd,
			 h->flags, h->error, len, nfds);
		return;
	}
	ret = uvfio_proto_check(h, nfds, &lim);
	FZ_CHECK(!ret, "the server sent a malformed %s (flags 0x%x, %u bytes, %u fds): %d",
		 uvfio_proto_cmd_name(h->cmd), h->flags, h->size, nfds, ret);
	if (type == UVFIO_F_TYPE_COMMAND) {
		FZ_CHECK(h->cmd == UVFIO_CMD_DMA_READ || h->cmd == UVFIO_CMD_DMA_WRITE,
			 "the server sent a %s command", uvfio_proto_cmd_name(h->cmd));
		FZ_CHECK(!(h->flags & UVFIO_F_NO_REPLY), "the server posted a DMA request");
		answer(cl, c, h, p, len);
		return;
	}
	FZ_CHECK(c == &cl->main, "a reply on the twin socket");
	FZ_CHECK(h->flags == UVFIO_F_TYPE_REPLY && !h->error, "reply flags 0x%x", h->flags);
}

static void adopt_fds(struct client *cl, int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct stat st;

		/* The VERSION reply's twin socket; everything else (region memfds) goes. */
		if (cl->twin.fd < 0 && !fstat(fds[i], &st) && S_ISSOCK(st.st_mode)) {
			chan_init(&cl->twin, fds[i]);
			continue;
		}
		close(fds[i]);
	}
}

/* Read what is there on @c and handle every complete message. */
static void chan_read(struct client *cl, struct chan *c)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned nfds = 0;
	ssize_t n;

	if (c->cap - c->len < 65536) {
		c->cap = c->cap ? c->cap * 2 : 2 * SERVER_MAX_MSG;
		c->buf = realloc(c->buf, c->cap);
		FZ_CHECK(c->buf, "out of memory");
	}
	iov = (struct iovec){ c->buf + c->len, c->cap - c->len };
	mh.msg_control = ctl.b;
	mh.msg_controllen = sizeof(ctl.b);
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == EAGAIN)
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int fds[64];
			unsigned k = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
			adopt_fds(cl, fds, k);
			nfds += k;
		}
	}
	FZ_CHECK(n < 0 || !(mh.msg_flags & MSG_CTRUNC), "the server sent more than 64 fds at once");
	if (n <= 0) {
		c->eof = true;
		return;
	}
	if (nfds) {
		/* The fds belong to the message holding the last byte this recvmsg brought. */
		FZ_CHECK(c->nfd_pos < 8, "fds from too many reads pending");
		c->fd_pos[c->nfd_pos] = c->base + c->len + (size_t)n - 1;
		c->fd_cnt[c->nfd_pos++] = nfds;
	}
	c->len += (size_t)n;
	for (;;) {
		struct uvfio_hdr h;
		unsigned mfds = 0, i = 0;

		if (c->len < UVFIO_HDR_SIZE)
			break;
		uvfio_proto_hdr_decode(c->buf, &h);
		FZ_CHECK(h.size >= UVFIO_HDR_SIZE && h.size <= SERVER_MAX_MSG,
			 "the server sent a message of %u bytes", h.size);
		if (c->len < h.size)
			break;
		for (; i < c->nfd_pos && c->fd_pos[i] < c->base + h.size; i++)
			mfds += c->fd_cnt[i];
		c->nfd_pos -= i;
		memmove(c->fd_pos, c->fd_pos + i, c->nfd_pos * sizeof(c->fd_pos[0]));
		memmove(c->fd_cnt, c->fd_cnt + i, c->nfd_pos * sizeof(c->fd_cnt[0]));
		check_server_msg(cl, c, &h, c->buf + UVFIO_HDR_SIZE, h.size - UVFIO_HDR_SIZE, mfds);
		memmove(c->buf, c->buf + h.size, c->len - h.size);
		c->len -= h.size;
		c->base += h.size;
	}
}

static void *client_thread(void *arg)
{
	struct client *cl = arg;

	while (!cl->stop && !(cl->main.eof && cl->twin.eof)) {
		struct pollfd p[2] = { { .fd = cl->main.eof ? -1 : cl->main.fd, .events = POLLIN },
				       { .fd = cl->twin.eof ? -1 : cl->twin.fd, .events = POLLIN } };

		if (poll(p, 2, 20) <= 0)
			continue;
		if (p[0].revents)
			chan_read(cl, &cl->main);
		if (p[1].revents)
			chan_read(cl, &cl->twin);
	}
	return NULL;
}

/* --- the client's sending side ------------------------------------------------------------- */

struct run {
	struct fz_dev *dev;
	struct client *cl;
	int cfd;
	int memfd, small_memfd;
	bool dead; /* the server hung up on us */
};

static int open_proc_fd(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

/* fds of kind @kind for one record; returns how many were made. */
static unsigned make_fds(struct run *r, unsigned kind, unsigned count, int *fds)
{
	unsigned n = 0;

	if (kind == 1 || kind == 2 || kind == 6) {
		if (r->memfd < 0)
			r->memfd = fz_pattern_memfd("emu", 0x5a, MEMFD_SIZE);
		if (r->memfd < 0)
			return 0;
	}
	if (kind == 5 && r->small_memfd < 0)
		r->small_memfd = fz_pattern_memfd("emu-small", 0xa5, SMALL_MEMFD_SIZE);
	for (; n < count; n++) {
		int fd = -1, pfd[2];

		switch (kind) {
		case 1:
			fd = dup(r->memfd);
			break;
		case 2:
			fd = open_proc_fd(r->memfd, O_RDONLY);
			break;
		case 3:
			fd = eventfd(0, EFD_CLOEXEC);
			break;
		case 4:
			if (!pipe2(pfd, O_CLOEXEC)) {
				close(pfd[1]);
				fd = pfd[0];
			}
			break;
		case 5:
			fd = r->small_memfd >= 0 ? dup(r->small_memfd) : -1;
			break;
		case 6:
			fd = open_proc_fd(r->memfd, O_PATH);
			break;
		default:
			fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
			break;
		}
		if (fd < 0)
			break;
		fds[n] = fd;
	}
	return n;
}

/* Put @len bytes (and @nfds fds with the first byte) on the socket, dispatching if it is full. */
static void send_bytes(struct run *r, const uint8_t *p, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * MAX_RECORD_FDS)];
		struct cmsghdr align;
	} ctl;
	unsigned tries = 0;

	while (!r->dead && (len || nfds)) {
		struct iovec iov = { (void *)p, len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds) {
			struct cmsghdr *cm;

			memset(ctl.b, 0, sizeof(ctl.b));
			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		if (!len) {
			/* fds need at least one byte to ride on; a record of none sends none. */
			return;
		}
		n = sendmsg(r->cfd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN && tries++ < 500) {
			FZ_CHECK(uvfio_emu_dispatch(r->dev->emu) >= 0, "dispatch failed");
			poll(&(struct pollfd){ .fd = r->cfd, .events = POLLOUT }, 1, 5);
			continue;
		}
		if (n <= 0) {
			r->dead = true;
			return;
		}
		nfds = 0;
		p += n;
		len -= (size_t)n;
	}
}

static void send_record(struct run *r, uint8_t ctl, const uint8_t *p, size_t len)
{
	static const unsigned counts[] = { 1, 2, 3, MAX_RECORD_FDS };
	unsigned kind = ctl & 7, nfds = 0;
	int fds[MAX_RECORD_FDS];
	uint8_t *msg = NULL;
	size_t first;

	if (kind)
		nfds = make_fds(r, kind, counts[(ctl >> 3) & 3], fds);
	if (!(ctl & 0x20)) {
		/* A header (zero-padded) and a payload, the size made to match. */
		size_t total = len < UVFIO_HDR_SIZE ? UVFIO_HDR_SIZE : len;
		struct uvfio_hdr h;

		msg = calloc(1, total);
		FZ_CHECK(msg, "out of memory");
		memcpy(msg, p, len);
		uvfio_proto_hdr_decode(msg, &h);
		h.size = (uint32_t)total;
		uvfio_proto_hdr_encode(msg, &h);
		p = msg;
		len = total;
	}
	pthread_mutex_lock(&r->cl->wlock);
	first = (ctl & 0x40) && len > 1 ? 1 + p[len - 1] % (len - 1) : len;
	send_bytes(r, p, first, fds, nfds);
	send_bytes(r, p + first, len - first, NULL, 0);
	pthread_mutex_unlock(&r->cl->wlock);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	free(msg);
}

static void send_version(struct run *r, uint8_t fl)
{
	struct uvfio_caps c;
	uint8_t b[UVFIO_HDR_SIZE + 512];
	struct uvfio_hdr h = { .id = 0xfff0, .cmd = UVFIO_CMD_VERSION };
	ssize_t n;

	uvfio_proto_caps_default(&c);
	c.present = UVFIO_CAP_MAX_MSG_FDS | UVFIO_CAP_MAX_DATA_XFER_SIZE | UVFIO_CAP_PGSIZES |
		    UVFIO_CAP_MAX_DMA_MAPS | UVFIO_CAP_WRITE_MULTIPLE | UVFIO_CAP_TWIN_SOCKET;
	c.max_msg_fds = (fl & FL_NO_FDS) ? 0 : 16;
	c.max_data_xfer_size = (fl & FL_SMALL_XFER) ? 4096 : 1u << 20;
	c.max_dma_maps = (fl & FL_FEW_MAPS) ? 4 : 65535;
	c.write_multiple = fl & FL_WRITE_MULTI;
	c.twin_socket = fl & FL_TWIN;
	n = uvfio_proto_version_encode(b + UVFIO_HDR_SIZE, sizeof(b) - UVFIO_HDR_SIZE,
				       UVFIO_PROTO_MAJOR, UVFIO_PROTO_MINOR, &c);
	FZ_CHECK(n > 0, "version_encode: %zd", n);
	h.size = (uint32_t)(UVFIO_HDR_SIZE + n);
	uvfio_proto_hdr_encode(b, &h);
	pthread_mutex_lock(&r->cl->wlock);
	send_bytes(r, b, h.size, NULL, 0);
	pthread_mutex_unlock(&r->cl->wlock);
}

static void dispatch(struct run *r)
{
	int n = uvfio_emu_dispatch(r->dev->emu);

	FZ_CHECK(n >= 0, "uvfio_emu_dispatch: %d", n);
}

/* The client has hung up: the server must notice and drop it, soon. */
static void drain(struct run *r)
{
	uint64_t t0 = fz_now_ms();

	shutdown(r->cfd, SHUT_WR);
	dispatch(r); /* takes the connection if nothing did yet */
	while (uvfio_emu_attached(r->dev->emu)) {
		FZ_CHECK(fz_now_ms() - t0 < HANG_MS,
			 "the server still serves a client that hung up %d ms ago", HANG_MS);
		poll(&(struct pollfd){ .fd = uvfio_emu_get_poll_fd(r->dev->emu), .events = POLLIN },
		     1, 10);
		dispatch(r);
	}
}

/* What DMA_READ answers carry: the same bytes every time, filled once. */
static uint8_t *answer_data(void)
{
	static uint8_t *d;

	if (!d) {
		d = malloc(UVFIO_DMA_ACCESS_SIZE + (1u << 20));
		FZ_CHECK(d, "out of memory");
		memset(d, 0x3c, UVFIO_DMA_ACCESS_SIZE + (1u << 20));
	}
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f;
	struct client cl = { .budget = ANSWER_BUDGET };
	struct run r = { .cl = &cl, .memfd = -1, .small_memfd = -1 };
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED,
				    .log = fz_log_sink, .log_level = UVFIO_LOG_DEBUG,
				    .reply_timeout_ms = REPLY_TIMEOUT_MS };
	int base = fz_fd_count(), sv[2], ret, sndbuf = 1 << 20;
	pthread_t th;
	uint8_t fl;

	fz_init(&f, data, size);
	fl = fz_u8(&f);
	fz_bytes(&f, cl.answers, sizeof(cl.answers));
	if (fl & FL_SMALL_XFER)
		o.max_data_xfer_size = 4096;
	if (fl & FL_FEW_MAPS)
		o.max_dma_maps = 4;

	FZ_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), "socketpair");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	r.cfd = sv[0];
	o.fd = sv[1];
	ret = fz_dev_create((fl & FL_FZDEV) ? FZ_DEV_FZ : FZ_DEV_DMA, &o, 0, &r.dev);
	FZ_CHECK(!ret, "creating the device: %d", ret);

	pthread_mutex_init(&cl.wlock, NULL);
	chan_init(&cl.main, sv[0]);
	chan_init(&cl.twin, -1);
	cl.data = answer_data();
	FZ_CHECK(!pthread_create(&th, NULL, client_thread, &cl), "pthread_create");

	if (!(fl & FL_OWN_VERSION))
		send_version(&r, fl);
	dispatch(&r);
	while (!fz_empty(&f) && !r.dead) {
		uint8_t ctl = fz_u8(&f);
		size_t want = fz_u16(&f), len;
		const uint8_t *p = fz_take(&f, want, &len);

		send_record(&r, ctl, p, len);
		if (!(ctl & 0x80))
			dispatch(&r);
	}
	drain(&r);

	fz_dev_destroy(r.dev);
	cl.stop = true;
	pthread_join(th, NULL);
	close(sv[0]);
	if (cl.twin.fd >= 0)
		close(cl.twin.fd);
	if (r.memfd >= 0)
		close(r.memfd);
	if (r.small_memfd >= 0)
		close(r.small_memfd);
	free(cl.main.buf);
	free(cl.twin.buf);
	pthread_mutex_destroy(&cl.wlock);

	FZ_CHECK(fz_fd_count() == base, "%d fds open after the input, %d before", fz_fd_count(),
		 base);
	FZ_CHECK(!fz_maps_count("memfd:fuzz-") && !fz_maps_count("memfd:uvfio-"),
		 "a memfd is still mapped after the device was destroyed");
	return 0;
}
