// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_vfio_user: the driver side's vfio-user backend (lib/vfio/user.c,
 * through the public API of <uvfio/vfio.h>) facing a hostile server.
 *
 * The client is a fixed little program: uvfio_device_open() on a socket
 * path, two mappings (a memfd-backed one the server could mmap, and
 * anonymous read-only memory it can only reach with DMA_READ), every
 * region's description, then eight API calls the input picks (region
 * reads and writes, config space, capabilities, interrupts, reset, mmap,
 * dispatch, one more mapping), and close. The server is a thread that
 * answers each request the way the next record of the input says:
 *
 *   record: ctl (u8), len (u16 LE), len bytes
 *     ctl bits 0-2  0 a well-formed reply built by the encoders from the
 *                     bytes (VERSION caps, region sizes, sparse areas, IRQ
 *                     counts, read data ...); 1 the bytes as payload under a
 *                     matching header; 2 an error reply (errno from the
 *                     bytes); 3 the bytes raw, header included; 4 a stray
 *                     reply (wrong id or command), then the next record;
 *                     5 a DMA_READ/DMA_WRITE request of its own (main or
 *                     twin socket), then the next record; 6 silence (the
 *                     client's 8 ms reply timeout runs out); 7 hang up
 *     ctl bit 3     attach an fd: ctl bits 4-5 pick memfd, eventfd, socket,
 *                   pipe (VERSION's well-formed reply with a twin socket
 *                   attaches a real twin)
 *     ctl bit 6     send the reply in two writes
 *   when the input runs out every request gets a well-formed reply of zeros.
 *
 * Properties: every API call returns 0 or -errno; region descriptions the
 * library hands out are bounded (areas inside the region, mmap only with
 * an fd); every message the client sends passes the command table's check
 * in its direction; the client serves the server's DMA requests exactly:
 * inside a live mapping with the right permission it succeeds and a
 * DMA_READ returns the bytes the memory holds (the server keeps a shadow of
 * what it wrote), anywhere else it fails with an errno; the whole input
 * runs in bounded time; afterwards no fd, mapping or allocation is left.
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
#include <sys/un.h>
#include <unistd.h>

#include "uvfio/proto.h"
#include "uvfio/vfio.h"
#include "fuzz_common.h"

#define TIMEOUT_MS   8     /* the client's reply timeout */
#define MAX_SILENCES 3     /* timeouts an input may cost */
#define INPUT_MS     20000 /* an input running longer than this hangs */
#define PG           4096u
#define A_IOVA       0x10000000ull /* memfd-backed, read-write */
#define A_SIZE       (16 * PG)
#define B_IOVA       0x20000000ull /* anonymous, read-only for the device */
#define B_SIZE       (4 * PG)
#define C_IOVA       0x30000000ull /* anonymous, mapped and unmapped by one step */
#define TAG_A        0x0a
#define TAG_B        0x0b
#define MAX_PENDING  32
#define MAX_DMA      8192
#define PLAN_OPS     8

enum { AREA_ABSENT, AREA_PRESENT, AREA_UNKNOWN };

static char sock_path[108];
static bool trace; /* UVFIO_FUZZ_LOG=5: what the server is asked and answers, on stderr */
static int listen_fd = -1;

/* --- the server's view of the client's memory ------------------------------------------ */

struct pending {
	bool used, twin, write;
	uint16_t id;
	uint64_t addr, count;
	int expect;          /* 1 must succeed, 0 must fail, -1 either */
	uint8_t *want;       /* DMA_READ: the bytes expected ... */
	uint8_t *known;      /* ... where known */
};

struct chan {
	int fd;
	uint8_t *buf;
	size_t len, cap;
	bool eof;
};

struct srv {
	struct fz f;
	struct chan main, twin;
	int twin_peer;       /* the client's end of the twin socket until it is sent */
	uint16_t next_id;
	int a_state, b_state;
	uint8_t a_mem[A_SIZE];  /* what A holds ... */
	uint8_t a_known[A_SIZE]; /* ... where known */
	struct pending pend[MAX_PENDING];
	unsigned silences;
	bool gone;
	bool raw_sent;       /* raw bytes went out: they may have been requests too */
	bool a_failed, b_failed; /* the client's map call failed (e.g. timed out): atomic */
};

static uint8_t b_byte(uint64_t off)
{
	uint64_t w = fz_pattern(TAG_B, off);

	return (uint8_t)(w >> (8 * (off & 7)));
}

static void send_all(struct srv *s, int fd, const void *p, size_t len, const int *fds,
		     unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)p, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	while (!s->gone && (len || nfds)) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->gone = true; /* the client hung up, or won't read: its business */
			return;
		}
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		nfds = 0;
		iov.iov_base = (uint8_t *)iov.iov_base + n;
		iov.iov_len -= (size_t)n;
		len -= (size_t)n;
	}
}

static void send_msg(struct srv *s, int fd, const struct uvfio_hdr *h, const void *p, size_t len,
		     const int *fds, unsigned nfds, bool split)
{
	static uint8_t b[UVFIO_HDR_SIZE + 2 * MAX_DMA + 65536];
	struct uvfio_hdr hh = *h;

	if (len > sizeof(b) - UVFIO_HDR_SIZE)
		len = sizeof(b) - UVFIO_HDR_SIZE;
	hh.size = (uint32_t)(UVFIO_HDR_SIZE + len);
	uvfio_proto_hdr_encode(b, &hh);
	if (len)
		memcpy(b + UVFIO_HDR_SIZE, p, len);
	if (split) {
		send_all(s, fd, b, UVFIO_HDR_SIZE, fds, nfds);
		send_all(s, fd, b + UVFIO_HDR_SIZE, len, NULL, 0);
	} else {
		send_all(s, fd, b, UVFIO_HDR_SIZE + len, fds, nfds);
	}
}

/* Read what is there; received fds are closed at once. false at EOF. */
static bool chan_fill(struct chan *c)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_control = u.b, .msg_controllen = sizeof(u.b) };
	struct iovec iov;
	ssize_t n;

	if (c->cap - c->len < 65536) {
		c->cap = c->cap ? c->cap * 2 : 1u << 17;
		c->buf = realloc(c->buf, c->cap);
		FZ_CHECK(c->buf, "out of memory");
	}
	iov = (struct iovec){ c->buf + c->len, c->cap - c->len };
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); n >= 0 && cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[32];

			memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
			for (size_t i = 0; i < k; i++)
				close(fds[i]);
		}
	}
	if (n <= 0) {
		c->eof = true;
		return false;
	}
	c->len += (size_t)n;
	return true;
}

/* A whole message buffered in @c: its length, or 0. */
static size_t chan_msg(struct chan *c, struct uvfio_hdr *h)
{
	if (c->fd < 0 || c->len < UVFIO_HDR_SIZE)
		return 0;
	uvfio_proto_hdr_decode(c->buf, h);
	FZ_CHECK(h->size >= UVFIO_HDR_SIZE && h->size <= 16 + 32 + (2u << 20),
		 "the client sent a header of %u bytes", h->size);
	return c->len >= h->size ? h->size : 0;
}

static void chan_drop(struct chan *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* --- the server's DMA requests ---------------------------------------------------------- */

static int area_state(const struct srv *s, uint64_t addr, uint64_t count, bool write)
{
	uint64_t end = addr + count;

	if (count > (1u << 20) || end < addr)
		return 0;
	if (!count)
		return -1; /* touches nothing: served or refused, both are fine */
	if (addr >= A_IOVA && end <= A_IOVA + A_SIZE)
		return s->a_state == AREA_PRESENT ? 1 : s->a_state == AREA_ABSENT ? 0 : -1;
	if (addr >= B_IOVA && end <= B_IOVA + B_SIZE && !write)
		return s->b_state == AREA_PRESENT ? 1 : s->b_state == AREA_ABSENT ? 0 : -1;
	/* C comes and goes; anything else was never mapped. */
	if (addr < C_IOVA + (1u << 20) && end > C_IOVA)
		return -1;
	if ((addr < A_IOVA + A_SIZE && end > A_IOVA && s->a_state == AREA_UNKNOWN) ||
	    (addr < B_IOVA + B_SIZE && end > B_IOVA && s->b_state == AREA_UNKNOWN && !write))
		return -1;
	return 0;
}

static void forget_a(struct srv *s, uint64_t addr, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++)
		if (addr + i >= A_IOVA && addr + i < A_IOVA + A_SIZE)
			s->a_known[addr + i - A_IOVA] = 0;
	for (unsigned k = 0; k < MAX_PENDING; k++) {
		struct pending *p = &s->pend[k];

		if (!p->used || p->write)
			continue;
		for (uint64_t i = 0; i < p->count; i++)
			if (p->addr + i >= addr && p->addr + i - addr < count)
				p->known[i] = 0;
	}
}

static void dma_request(struct srv *s, struct fz *r)
{
	static uint8_t buf[UVFIO_DMA_ACCESS_SIZE + MAX_DMA];
	uint8_t sel = fz_u8(r);
	uint32_t off = fz_u32(r);
	uint64_t count = fz_u16(r) % MAX_DMA, addr;
	bool write = sel & 1, twin = (sel & 2) && s->twin.fd >= 0;
	struct uvfio_hdr h = { .cmd = write ? UVFIO_CMD_DMA_WRITE : UVFIO_CMD_DMA_READ,
			       .flags = UVFIO_F_TYPE_COMMAND };
	struct uvfio_dma_access a;
	struct pending *p = NULL;
	size_t got;
	ssize_t n;

	switch ((sel >> 2) & 7) {
	case 0: case 1: case 2:
		addr = A_IOVA + off % (A_SIZE + PG) - (off & 0x80000000u ? PG : 0);
		break;
	case 3: case 4:
		addr = B_IOVA + off % (B_SIZE + PG);
		break;
	case 5:
		addr = C_IOVA + off % (2 * PG);
		break;
	case 6:
		addr = (uint64_t)off << 12 | (off >> 20);
		break;
	default:
		addr = UINT64_MAX - off % 4096;
		count = (sel & 0x20) ? (1u << 20) + 1 : count;
		break;
	}
	if (sel & 0x80 && count < MAX_DMA)
		count = count & 7;
	for (unsigned k = 0; k < MAX_PENDING && !p; k++)
		if (!s->pend[k].used)
			p = &s->pend[k];
	if (!p)
		return;
	h.id = s->next_id++;
	a.addr = addr;
	a.count = count;
	a.data = fz_take(r, count > MAX_DMA ? 0 : count, &got);
	if (write && got < count)
		a.count = count = got;
	n = uvfio_proto_dma_access_encode(buf, sizeof(buf), write, &a);
	if (n < 0) { /* too big to carry: send the header only, with its count */
		a.data = NULL;
		n = uvfio_proto_dma_access_encode(buf, sizeof(buf), false, &a);
	}
	FZ_CHECK(n > 0, "dma_access_encode: %zd", n);
	*p = (struct pending){ .used = true, .twin = twin, .write = write, .id = h.id,
			       .addr = addr, .count = count,
			       .expect = area_state(s, addr, count, write) };
	if (!write && count <= MAX_DMA) {
		p->want = calloc(count + 1, 1);
		p->known = calloc(count + 1, 1);
		FZ_CHECK(p->want && p->known, "out of memory");
		for (uint64_t i = 0; i < count; i++) {
			uint64_t x = addr + i;

			if (x >= A_IOVA && x < A_IOVA + A_SIZE) {
				p->want[i] = s->a_mem[x - A_IOVA];
				p->known[i] = s->a_known[x - A_IOVA];
			} else if (x >= B_IOVA && x < B_IOVA + B_SIZE) {
				p->want[i] = b_byte(x - B_IOVA);
				p->known[i] = 1;
			}
		}
	}
	if (write) {
		/* What A holds there is unknown until the reply says it was written. */
		forget_a(s, addr, count);
		p->want = malloc(count + 1);
		FZ_CHECK(p->want, "out of memory");
		if (count)
			memcpy(p->want, a.data, count);
	}
	if (!write && count > MAX_DMA)
		p->expect = 0;
	send_msg(s, twin ? s->twin.fd : s->main.fd, &h, buf, (size_t)n, NULL, 0, false);
}

static void pending_free(struct pending *p)
{
	free(p->want);
	free(p->known);
	*p = (struct pending){ 0 };
}

/* The client's answer to one of our DMA requests. */
static void dma_reply(struct srv *s, bool twin, const struct uvfio_hdr *h, const uint8_t *pl,
		      size_t len)
{
	struct uvfio_dma_access a;
	struct pending *p = NULL;

	for (unsigned k = 0; k < MAX_PENDING && !p; k++)
		if (s->pend[k].used && s->pend[k].id == h->id && s->pend[k].twin == twin)
			p = &s->pend[k];
	if (!p || s->raw_sent) {
		/* An answer to raw bytes that made a request, or not checkable any more. */
		if (p)
			pending_free(p);
		return;
	}
	if (p->expect == 1 && ((p->addr < A_IOVA + A_SIZE && __atomic_load_n(&s->a_failed, __ATOMIC_ACQUIRE)) ||
			       (p->addr >= B_IOVA && __atomic_load_n(&s->b_failed, __ATOMIC_ACQUIRE))))
		p->expect = -1; /* the client gave up on the mapping after we saw it */
	FZ_CHECK(h->cmd == (p->write ? UVFIO_CMD_DMA_WRITE : UVFIO_CMD_DMA_READ),
		 "the reply to a DMA request names %s", uvfio_proto_cmd_name(h->cmd));
	if (h->flags & UVFIO_F_ERROR) {
		FZ_CHECK(p->expect != 1, "DMA_%s [0x%llx, +%llu) refused (error %u) inside a live mapping",
			 p->write ? "WRITE" : "READ", (unsigned long long)p->addr,
			 (unsigned long long)p->count, h->error);
		FZ_CHECK(h->error && h->error < 4096 && !len, "error reply: errno %u, %zu bytes",
			 h->error, len);
		pending_free(p);
		return;
	}
	FZ_CHECK(p->expect != 0, "DMA_%s [0x%llx, +%llu) served outside the client's mappings",
		 p->write ? "WRITE" : "READ", (unsigned long long)p->addr,
		 (unsigned long long)p->count);
	FZ_CHECK(!uvfio_proto_dma_access_decode(pl, len, !p->write, &a) && a.addr == p->addr &&
			 a.count == p->count,
		 "malformed reply to DMA_%s", p->write ? "WRITE" : "READ");
	if (!p->write) {
		for (uint64_t i = 0; i < p->count; i++)
			FZ_CHECK(!p->known[i] || ((const uint8_t *)a.data)[i] == p->want[i],
				 "DMA_READ of 0x%llx: byte %llu is 0x%02x, memory holds 0x%02x",
				 (unsigned long long)p->addr, (unsigned long long)i,
				 ((const uint8_t *)a.data)[i], p->want[i]);
	} else {
		bool alone = true;

		for (unsigned k = 0; k < MAX_PENDING; k++) {
			const struct pending *q = &s->pend[k];

			if (q != p && q->used && q->write && q->addr < p->addr + p->count &&
			    p->addr < q->addr + q->count)
				alone = false;
		}
		if (alone && p->want && p->addr >= A_IOVA && p->addr + p->count <= A_IOVA + A_SIZE) {
			memcpy(s->a_mem + (p->addr - A_IOVA), p->want, p->count);
			memset(s->a_known + (p->addr - A_IOVA), 1, p->count);
		}
	}
	pending_free(p);
}

/* --- answering the client's requests ------------------------------------------------------ */

static uint64_t pick_size(uint8_t b, struct fz *r)
{
	static const uint64_t sizes[] = { 0, 256, 4096, 8192, 65536, 1u << 20, 4096 + 3 };

	return b < 0xe0 ? sizes[b % 7] : fz_u64(r);
}

static int make_fd(unsigned kind, int *peer)
{
	int sv[2], fd;

	switch (kind) {
	case 0:
		return fz_pattern_memfd("vu-bar", 0x0c, 4 * PG);
	case 1:
		return eventfd(0, EFD_CLOEXEC);
	case 2:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
			return -1;
		*peer = sv[1];
		return sv[0];
	default:
		if (pipe2(sv, O_CLOEXEC))
			return -1;
		close(sv[1]);
		fd = sv[0];
		return fd;
	}
}

/* A well-formed reply to @req (payload @pl), its fields from @r. */
static size_t build_reply(struct srv *s, const struct uvfio_hdr *req, const uint8_t *pl,
			  size_t len, struct fz *r, uint8_t *out, size_t cap, bool *want_twin)
{
	ssize_t n = 0;

	switch (req->cmd) {
	case UVFIO_CMD_VERSION: {
		struct uvfio_caps c;
		uint8_t sel = fz_u8(r);

		uvfio_proto_caps_default(&c);
		c.present = fz_u8(r) & 0x7f;
		c.max_msg_fds = fz_u8(r);
		c.max_data_xfer_size = (sel & 1) ? fz_u32(r) : 4096u << (fz_u8(r) % 12);
		c.max_dma_maps = fz_u32(r);
		c.pgsizes = (sel & 2) ? fz_u64(r) : 4096;
		c.twin_socket = (sel & 4) && (c.present & UVFIO_CAP_TWIN_SOCKET);
		c.twin_fd_index = (sel & 8) ? fz_u8(r) : 0;
		c.write_multiple = sel & 16;
		*want_twin = c.twin_socket && !(sel & 32);
		n = uvfio_proto_version_encode(out, cap, UVFIO_PROTO_MAJOR,
					       (sel & 0xc0) == 0xc0 ? 7 : UVFIO_PROTO_MINOR, &c);
		break;
	}
	case UVFIO_CMD_DEVICE_GET_INFO: {
		struct uvfio_device_info d = { .argsz = UVFIO_DEVICE_INFO_SIZE };
		uint8_t sel = fz_u8(r);

		d.flags = fz_u8(r) & 3;
		d.num_regions = (sel & 0x80) ? fz_u32(r) : 1 + sel % 12;
		d.num_irqs = fz_u8(r) % 8;
		n = uvfio_proto_device_info_encode(out, cap, &d);
		break;
	}
	case UVFIO_CMD_DEVICE_GET_REGION_INFO: {
		struct uvfio_sparse_area areas[8];
		struct uvfio_region_caps caps = { .areas = areas };
		struct uvfio_region_info ri = { 0 };
		uint8_t sel = fz_u8(r);
		bool complete;

		if (uvfio_proto_region_info_decode(pl, len, &ri))
			return 0;
		if (sel & 0x80)
			ri.index = fz_u8(r);
		ri.flags = fz_u8(r) & 0xf;
		ri.size = pick_size(fz_u8(r), r);
		ri.offset = (sel & 0x40) ? fz_u64(r) : 0;
		caps.nr_areas = (sel >> 3) & 7;
		for (uint32_t i = 0; i < caps.nr_areas; i++) {
			areas[i].offset = (uint64_t)fz_u8(r) * PG;
			areas[i].size = pick_size(fz_u8(r), r);
		}
		caps.has_type = sel & 4;
		if (caps.has_type) {
			caps.type = fz_u8(r);
			caps.subtype = fz_u8(r);
		}
		n = uvfio_proto_region_info_encode(out, cap, &ri, &caps, &complete);
		break;
	}
	case UVFIO_CMD_DEVICE_GET_IRQ_INFO: {
		struct uvfio_irq_info i = { .argsz = UVFIO_IRQ_INFO_SIZE };
		uint8_t sel = fz_u8(r);

		if (uvfio_proto_irq_info_decode(pl, len, &i))
			return 0;
		i.argsz = UVFIO_IRQ_INFO_SIZE;
		if (sel & 0x80)
			i.index = fz_u8(r);
		i.flags = fz_u8(r) & 0xf;
		i.count = (sel & 0x40) ? fz_u32(r) : sel % 8;
		n = uvfio_proto_irq_info_encode(out, cap, &i);
		break;
	}
	case UVFIO_CMD_REGION_READ:
	case UVFIO_CMD_REGION_WRITE: {
		bool rd = req->cmd == UVFIO_CMD_REGION_READ;
		struct uvfio_region_access a;
		uint8_t sel = fz_u8(r);
		size_t got;

		if (uvfio_proto_region_access_decode(pl, len, !rd, &a))
			return 0;
		if (sel & 0x80)
			a.count = fz_u16(r);
		if (rd && a.count > cap - UVFIO_REGION_ACCESS_SIZE)
			a.count = (uint32_t)(cap - UVFIO_REGION_ACCESS_SIZE);
		if (rd) {
			static uint8_t fill[1u << 20];

			a.data = fz_take(r, a.count, &got);
			if (got < a.count) {
				memset(fill, sel, a.count);
				a.data = fill;
			}
		}
		n = uvfio_proto_region_access_encode(out, cap, rd, &a);
		break;
	}
	case UVFIO_CMD_DMA_UNMAP:
		/* The request, echoed (bitmaps are not supported). */
		if (len > cap)
			return 0;
		memcpy(out, pl, len);
		n = (ssize_t)len;
		break;
	default:
		n = 0; /* DMA_MAP, SET_IRQS, RESET, ...: an empty reply */
		break;
	}
	(void)s;
	return n > 0 ? (size_t)n : 0;
}

/*
 * The client serves a request when it reads it, which may be calls later
 * (it reads the twin socket and the main one in its own order, and only
 * while it waits for a reply or dispatches): a request sent before a
 * mapping came or went may find it either way. Requests touching
 * [@base, +@size) may succeed or fail.
 */
static void unsure(struct srv *s, uint64_t base, uint64_t size)
{
	for (unsigned k = 0; k < MAX_PENDING; k++) {
		struct pending *p = &s->pend[k];

		if (p->used && p->addr < base + size && base < p->addr + p->count)
			p->expect = -1;
	}
}

/* Keep track of the client's mappings as its requests announce them. */
static void note_request(struct srv *s, const struct uvfio_hdr *h, const uint8_t *pl, size_t len)
{
	struct uvfio_dma_map m;
	struct uvfio_dma_unmap u;

	if (h->cmd == UVFIO_CMD_DMA_MAP && !uvfio_proto_dma_map_decode(pl, len, &m)) {
		/* Requests sent before, not served yet, may find the memory now. */
		unsure(s, m.addr, m.size);
		if (m.addr == A_IOVA)
			s->a_state = AREA_PRESENT;
		if (m.addr == B_IOVA)
			s->b_state = AREA_PRESENT;
	}
	if (h->cmd == UVFIO_CMD_DMA_UNMAP && !uvfio_proto_dma_unmap_decode(pl, len, &u)) {
		if (u.addr == A_IOVA || (u.flags & UVFIO_DMA_UNMAP_ALL)) {
			s->a_state = AREA_UNKNOWN;
			unsure(s, A_IOVA, A_SIZE);
		}
		if (u.addr == B_IOVA || (u.flags & UVFIO_DMA_UNMAP_ALL)) {
			s->b_state = AREA_UNKNOWN;
			unsure(s, B_IOVA, B_SIZE);
		}
	}
}

/* The answer to a DMA_MAP/UNMAP decides whether the mapping lives. */
static void note_answer(struct srv *s, const struct uvfio_hdr *req, const uint8_t *pl,
			size_t len, int state)
{
	struct uvfio_dma_map m;

	if (req->cmd != UVFIO_CMD_DMA_MAP || uvfio_proto_dma_map_decode(pl, len, &m))
		return;
	if (m.addr == A_IOVA && (state != AREA_PRESENT || s->a_state != AREA_UNKNOWN))
		s->a_state = state;
	if (m.addr == B_IOVA && (state != AREA_PRESENT || s->b_state != AREA_UNKNOWN))
		s->b_state = state;
	if (state != AREA_PRESENT)
		unsure(s, m.addr, m.size);
}

static void answer(struct srv *s, const struct uvfio_hdr *req, const uint8_t *pl, size_t len)
{
	static uint8_t out[UVFIO_REGION_ACCESS_SIZE + (1u << 20) + 64];

	note_request(s, req, pl, len);
	for (unsigned rounds = 0; !s->gone; rounds++) {
		uint8_t ctl = fz_empty(&s->f) ? 0 : fz_u8(&s->f);
		size_t want = fz_u16(&s->f), got;
		const uint8_t *bytes = fz_take(&s->f, want, &got);
		struct uvfio_hdr h = { .id = req->id, .cmd = req->cmd, .flags = UVFIO_F_TYPE_REPLY };
		int fds[1], nfds = 0, peer = -1;
		bool split = ctl & 0x40, want_twin = false;
		struct fz r;
		size_t n;

		fz_init(&r, bytes, got);
		if (rounds > 64) /* one request has had enough */
			ctl = 0;
		if (trace)
			fprintf(stderr, "[server] %s id %u: answer %u, %zu bytes\n",
				uvfio_proto_cmd_name(req->cmd), req->id, ctl, got);
		if (ctl & 8) {
			fds[0] = make_fd((ctl >> 4) & 3, &peer);
			FZ_CHECK(fds[0] >= 0, "cannot make an fd");
			nfds = 1;
		}
		switch (ctl & 7) {
		case 0:
			n = build_reply(s, req, pl, len, &r, out, sizeof(out), &want_twin);
			if (want_twin && s->twin.fd < 0 && !nfds) {
				int sv[2];

				FZ_CHECK(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
					 "socketpair");
				s->twin.fd = sv[0];
				fds[0] = sv[1];
				nfds = 1;
			}
			send_msg(s, s->main.fd, &h, out, n, fds, nfds, split);
			note_answer(s, req, pl, len, AREA_PRESENT);
			break;
		case 1:
			send_msg(s, s->main.fd, &h, bytes, got, fds, nfds, split);
			note_answer(s, req, pl, len, AREA_UNKNOWN);
			break;
		case 2:
			h.flags |= UVFIO_F_ERROR;
			h.error = fz_u8(&r) & 0x80 ? fz_u32(&r) : 1 + fz_u8(&r) % 120;
			send_msg(s, s->main.fd, &h, NULL, 0, fds, nfds, split);
			note_answer(s, req, pl, len, h.error && h.error < 4096 ? AREA_ABSENT
									       : AREA_UNKNOWN);
			break;
		case 3:
			s->raw_sent = true;
			send_all(s, s->main.fd, bytes, got, fds, (unsigned)nfds);
			note_answer(s, req, pl, len, AREA_UNKNOWN);
			break;
		case 4:
			h.id = (uint16_t)(h.id + 1 + fz_u8(&r));
			h.cmd = fz_u8(&r) & 1 ? (uint16_t)(fz_u8(&r) % 20) : h.cmd;
			send_msg(s, s->main.fd, &h, r.p, r.n, fds, nfds, split);
			break;
		case 5:
			dma_request(s, &r);
			break;
		case 6:
			if (s->silences++ < MAX_SILENCES) {
				note_answer(s, req, pl, len, AREA_UNKNOWN);
				break;
			}
			send_msg(s, s->main.fd, &h, NULL, 0, fds, nfds, false);
			note_answer(s, req, pl, len, AREA_PRESENT);
			ctl = 0;
			break;
		default:
			s->gone = true;
			break;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (peer >= 0)
			close(peer);
		if ((ctl & 7) != 4 && (ctl & 7) != 5)
			return;
	}
}

static void *server_thread(void *arg)
{
	struct srv *s = arg;
	struct pollfd lp = { .fd = listen_fd, .events = POLLIN };
	struct uvfio_proto_limits lim = { .max_data_xfer_size = 1u << 20, .max_msg_fds = 16 };

	FZ_CHECK(poll(&lp, 1, 5000) == 1, "the client never connected");
	s->main.fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	FZ_CHECK(s->main.fd >= 0, "accept");
	while (!s->gone) {
		struct chan *c = NULL;
		struct uvfio_hdr h;
		size_t n;

		if ((n = chan_msg(&s->main, &h)))
			c = &s->main;
		else if ((n = chan_msg(&s->twin, &h)))
			c = &s->twin;
		if (!c) {
			struct pollfd p[2] = { { .fd = s->main.fd, .events = POLLIN },
					       { .fd = s->twin.eof ? -1 : s->twin.fd,
						 .events = POLLIN } };

			if (poll(p, 2, -1) < 0)
				continue;
			if (p[1].revents && !chan_fill(&s->twin))
				s->twin.eof = true;
			if (p[0].revents && !chan_fill(&s->main))
				break; /* the client closed the connection */
			continue;
		}
		/*
		 * A client speaks the protocol: its messages pass the table's check,
		 * except error replies, which may refuse commands the table lacks.
		 */
		if ((h.flags & (UVFIO_F_TYPE_MASK | UVFIO_F_ERROR)) == (UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR))
			FZ_CHECK(h.size == UVFIO_HDR_SIZE && h.error && h.error < 4096 &&
					 !(h.flags & ~UVFIO_F_KNOWN),
				 "the client sent a malformed error reply (%s, flags 0x%x, error %u, %u bytes)",
				 uvfio_proto_cmd_name(h.cmd), h.flags, h.error, h.size);
		else
			FZ_CHECK(!uvfio_proto_check(&h, 0, &lim),
				 "the client sent a malformed %s (flags 0x%x, %u bytes)",
				 uvfio_proto_cmd_name(h.cmd), h.flags, h.size);
		if ((h.flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_REPLY) {
			dma_reply(s, c == &s->twin, &h, c->buf + UVFIO_HDR_SIZE, n - UVFIO_HDR_SIZE);
		} else {
			FZ_CHECK(c == &s->main, "a request on the twin socket");
			FZ_CHECK(uvfio_proto_cmd_get(h.cmd)->dir == UVFIO_DIR_C2S,
				 "the client sent the server's command %s", uvfio_proto_cmd_name(h.cmd));
			answer(s, &h, c->buf + UVFIO_HDR_SIZE, n - UVFIO_HDR_SIZE);
		}
		chan_drop(c, n);
	}
	shutdown(s->main.fd, SHUT_RDWR);
	if (s->twin.fd >= 0)
		shutdown(s->twin.fd, SHUT_RDWR);
	return NULL;
}

/* --- the client ---------------------------------------------------------------------------- */

static void check_ret(int ret, const char *what)
{
	FZ_CHECK(ret <= 0 && ret > -4096, "%s returned %d", what, ret);
}

static void check_region(const struct uvfio_region *r)
{
	FZ_CHECK(r->nr_areas <= 64, "%u areas", r->nr_areas);
	FZ_CHECK(!r->nr_areas || (r->flags & UVFIO_REGION_INFO_FLAG_MMAP),
		 "areas for a region that can't be mmap'ed");
	for (uint32_t i = 0; i < r->nr_areas; i++)
		FZ_CHECK(r->areas[i].size && r->areas[i].offset <= r->size &&
				 r->areas[i].size <= r->size - r->areas[i].offset,
			 "area %u [0x%llx, +0x%llx) outside the region (0x%llx bytes)", i,
			 (unsigned long long)r->areas[i].offset, (unsigned long long)r->areas[i].size,
			 (unsigned long long)r->size);
}

static const size_t lens[] = { 1, 2, 4, 8, 64, 4096, 70000, 3 };

static void client_step(struct uvfio_device *d, uint8_t op, uint8_t a, uint8_t b,
			uint32_t nregions)
{
	static uint8_t buf[70000];
	uint32_t idx = (a & 0xf) % (nregions + 2);
	uint64_t off = (uint64_t)(b & 0x3f) * (b & 0x40 ? PG : 4);
	size_t len = lens[(a >> 4) & 7];
	struct uvfio_region r = { .argsz = sizeof(r) };
	int ret;

	switch (op % 10) {
	case 0:
		check_ret(uvfio_device_read(d, idx, off, buf, len), "uvfio_device_read");
		break;
	case 1:
		memset(buf, b, len);
		check_ret(uvfio_device_write(d, idx, off, buf, len), "uvfio_device_write");
		break;
	case 2:
		check_ret(uvfio_device_cfg_read(d, b, buf, (a & 3) + 1), "uvfio_device_cfg_read");
		break;
	case 3:
		ret = uvfio_device_find_cap(d, b, a & 1);
		FZ_CHECK(ret > 0 ? ret < 4096 : ret > -4096, "find_cap: %d", ret);
		break;
	case 4: {
		struct uvfio_irq_info i = { .argsz = sizeof(i) };

		check_ret(uvfio_device_irq_info(d, a % 6, &i), "uvfio_device_irq_info");
		break;
	}
	case 5:
		ret = uvfio_device_irq_enable(d, a % 6, 1 + b % 4);
		check_ret(ret, "uvfio_device_irq_enable");
		if (!ret) {
			check_ret(uvfio_device_irq_trigger(d, a % 6, 0, 1), "irq_trigger");
			check_ret(uvfio_device_irq_mask(d, a % 6, 0, 1), "irq_mask");
			check_ret(uvfio_device_irq_disable(d, a % 6), "uvfio_device_irq_disable");
		}
		break;
	case 6:
		check_ret(uvfio_device_reset(d), "uvfio_device_reset");
		break;
	case 7: {
		int fd = uvfio_device_get_poll_fd(d);

		FZ_CHECK(fd >= 0, "poll fd: %d", fd);
		poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, a % 3);
		ret = uvfio_device_dispatch(d);
		FZ_CHECK(ret <= UVFIO_DISPATCH_MAX && ret > -4096, "dispatch: %d", ret);
		break;
	}
	case 8: {
		void *p;

		if (uvfio_device_region(d, idx, &r) || !r.nr_areas)
			break;
		ret = uvfio_device_mmap(d, idx, r.areas[0].offset, PG, PROT_READ, &p);
		check_ret(ret, "uvfio_device_mmap");
		if (!ret)
			check_ret(uvfio_device_munmap(d, p, PG), "uvfio_device_munmap");
		break;
	}
	default: {
		struct uvfio_container *c = uvfio_device_container(d);
		size_t sz = (size_t)(1 + b % 4) * PG;
		void *p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct uvfio_mapping m = { .argsz = sizeof(m), .prot = UVFIO_DMA_READ | UVFIO_DMA_WRITE,
					   .vaddr = p, .size = sz, .iova = C_IOVA, .fd = -1 };

		FZ_CHECK(p != MAP_FAILED, "mmap");
		ret = uvfio_container_map(c, &m);
		check_ret(ret, "uvfio_container_map");
		if (!ret)
			check_ret(uvfio_container_unmap(c, C_IOVA, sz), "uvfio_container_unmap");
		munmap(p, sz);
		break;
	}
	}
}

static void make_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/uvfio-fuzz-XXXXXX";

	FZ_CHECK(mkdtemp(dir), "mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/s", dir);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FZ_CHECK(listen_fd >= 0 && !bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) &&
			 !listen(listen_fd, 4),
		 "listening socket");
}

static void remove_socket(void)
{
	char *slash;

	unlink(sock_path);
	slash = strrchr(sock_path, '/');
	if (slash) {
		*slash = '\0';
		rmdir(sock_path);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct srv s;
	struct uvfio_open_opts o = { .argsz = sizeof(o), .log = fz_log_sink,
				     .log_level = UVFIO_LOG_DEBUG, .timeout_ms = TIMEOUT_MS };
	struct uvfio_device_info info = { .argsz = sizeof(info) };
	uint8_t fl, plan[3 * PLAN_OPS];
	struct uvfio_device *d = NULL;
	struct uvfio_container *c;
	char name[128];
	uint64_t t0 = fz_now_ms();
	int base, amem, ret;
	uint8_t *bmem;
	pthread_t th;
	struct fz f;

	if (listen_fd < 0) {
		trace = getenv("UVFIO_FUZZ_LOG") && atoi(getenv("UVFIO_FUZZ_LOG")) >= 5;
		make_socket();
		atexit(remove_socket);
	}
	base = fz_fd_count();
	fz_init(&f, data, size);
	fl = fz_u8(&f);
	fz_bytes(&f, plan, sizeof(plan));
	memset(&s, 0, sizeof(s));
	s.f = f;
	s.main.fd = s.twin.fd = -1;
	s.a_state = s.b_state = AREA_ABSENT;
	for (unsigned i = 0; i < A_SIZE / 8; i++) {
		uint64_t w = fz_pattern(TAG_A, i * 8);

		memcpy(s.a_mem + i * 8, &w, 8);
	}
	memset(s.a_known, 1, sizeof(s.a_known));
	FZ_CHECK(!pthread_create(&th, NULL, server_thread, &s), "pthread_create");

	if (fl & 1)
		o.flags |= UVFIO_OPEN_F_NO_TWIN;
	snprintf(name, sizeof(name), "vfio-user:%s", sock_path);
	ret = uvfio_device_open(name, &o, &d);
	check_ret(ret, "uvfio_device_open");
	if (ret)
		goto out;

	/* The memory the server may reach: A through the fd, B only through DMA_READ. */
	c = uvfio_device_container(d);
	FZ_CHECK(c, "no container");
	amem = fz_pattern_memfd("vu-a", TAG_A, A_SIZE);
	bmem = mmap(NULL, B_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FZ_CHECK(amem >= 0 && bmem != MAP_FAILED, "memory");
	for (unsigned i = 0; i < B_SIZE / 8; i++) {
		uint64_t w = fz_pattern(TAG_B, i * 8);

		memcpy(bmem + i * 8, &w, 8);
	}
	{
		void *pa = mmap(NULL, A_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, amem, 0);
		struct uvfio_mapping ma = { .argsz = sizeof(ma), .prot = UVFIO_DMA_READ | UVFIO_DMA_WRITE,
					    .vaddr = pa, .size = A_SIZE, .iova = A_IOVA, .fd = amem };
		struct uvfio_mapping mb = { .argsz = sizeof(mb), .prot = UVFIO_DMA_READ,
					    .vaddr = bmem, .size = B_SIZE, .iova = B_IOVA, .fd = -1 };

		FZ_CHECK(pa != MAP_FAILED, "mmap");
		ret = uvfio_container_map(c, &ma);
		check_ret(ret, "uvfio_container_map");
		if (ret)
			__atomic_store_n(&s.a_failed, true, __ATOMIC_RELEASE);
		ret = uvfio_container_map(c, &mb);
		check_ret(ret, "uvfio_container_map");
		if (ret)
			__atomic_store_n(&s.b_failed, true, __ATOMIC_RELEASE);

		ret = uvfio_device_get_info(d, &info);
		check_ret(ret, "uvfio_device_get_info");
		for (uint32_t i = 0; !ret && i < info.num_regions && i < 16; i++) {
			struct uvfio_region r = { .argsz = sizeof(r) };

			if (!uvfio_device_region(d, i, &r))
				check_region(&r);
		}
		for (unsigned i = 0; i < PLAN_OPS; i++)
			client_step(d, plan[3 * i], plan[3 * i + 1], plan[3 * i + 2],
				    ret ? 0 : info.num_regions);
		uvfio_device_close(d);
		munmap(pa, A_SIZE);
	}
	close(amem);
	munmap(bmem, B_SIZE);
out:
	pthread_join(th, NULL);
	FZ_CHECK(fz_now_ms() - t0 < INPUT_MS, "the input took %llu ms",
		 (unsigned long long)(fz_now_ms() - t0));
	if (s.main.fd >= 0)
		close(s.main.fd);
	if (s.twin.fd >= 0)
		close(s.twin.fd);
	for (unsigned k = 0; k < MAX_PENDING; k++)
		pending_free(&s.pend[k]);
	free(s.main.buf);
	free(s.twin.buf);
	FZ_CHECK(fz_fd_count() == base, "%d fds open after the input, %d before", fz_fd_count(),
		 base);
	FZ_CHECK(!fz_maps_count("memfd:fuzz-vu"), "a memfd is still mapped after close");
	return 0;
}
