// SPDX-License-Identifier: BSD-3-Clause
/*
 * Framing over a stream socket: a receive buffer read greedily, a send
 * queue for what the socket doesn't take at once, and fd bookkeeping.
 *
 * Stream offsets: every received byte has an absolute position in the
 * stream (rbase + index in rbuf). fds are recorded with the position of the
 * last byte of the recvmsg that brought them and are handed to the message
 * whose bytes contain that position (see transport.h for why). Oversized
 * messages are reported at once with their header and then skipped byte by
 * byte, so the frame boundary after them is never lost; fds that belong to
 * skipped bytes are closed.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "transport.h"

#define RBUF_INITIAL (64 * 1024)
#define RBUF_MIN_READ 4096

struct pending_fd {
	uint64_t pos; /* stream position of the last byte of its recvmsg */
	int fd;       /* -1: an fd was lost here (too many) */
};

struct queued_fds {
	size_t start; /* offset in wbuf of the header of the message they ride with */
	size_t end;   /* offset in wbuf just past that message */
	unsigned nfds;
	int fds[UVFIO__MAX_FDS];
};

struct uvfio__conn {
	int fd;
	const struct uvfio__log *log;
	uint64_t max_msg_size;
	uint32_t max_fds;
	size_t max_queued;

	uint8_t *rbuf;
	size_t rcap;
	size_t rpos;       /* first unconsumed byte */
	size_t rlen;       /* end of received bytes */
	uint64_t rbase;    /* stream offset of rbuf[0] */
	size_t consume;    /* size of the message last returned */
	bool held;         /* a held message sits below rpos in rbuf... */
	uint8_t *held_buf; /* ...or in this old buffer, freed at release */
	uint64_t discard;  /* bytes of an oversized message left to skip */
	uint64_t discard_end;

	struct pending_fd *pfds;
	unsigned npfds;
	unsigned pfds_cap;

	uint8_t *wbuf;
	size_t wcap;
	size_t wpos;
	size_t wlen;
	struct queued_fds *wfds;
	unsigned nwfds;
	unsigned wfds_cap;
};

static const struct uvfio__log quiet_log;

int uvfio__conn_create(int fd, const struct uvfio__conn_opts *opts, struct uvfio__conn **out)
{
	struct uvfio__conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close_fd(&fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->log = opts->log ? opts->log : &quiet_log;
	c->pfds_cap = 2 * UVFIO__MAX_FDS + 4;
	c->pfds = calloc(c->pfds_cap, sizeof(*c->pfds));
	c->rcap = RBUF_INITIAL;
	c->rbuf = malloc(c->rcap);
	if (!c->pfds || !c->rbuf) {
		uvfio__conn_destroy(c);
		return -ENOMEM;
	}
	uvfio__conn_set_limits(c, opts->max_msg_size, opts->max_fds);
	if (opts->max_queued)
		c->max_queued = opts->max_queued;
	*out = c;
	return 0;
}

void uvfio__conn_destroy(struct uvfio__conn *c)
{
	if (!c)
		return;
	close_fd(&c->fd);
	for (unsigned i = 0; i < c->npfds; i++)
		close_fd(&c->pfds[i].fd);
	for (unsigned i = 0; i < c->nwfds; i++)
		close_fds(c->wfds[i].fds, c->wfds[i].nfds);
	free(c->pfds);
	free(c->wfds);
	free(c->held_buf);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
}

int uvfio__conn_fd(const struct uvfio__conn *c)
{
	return c->fd;
}

void uvfio__conn_set_limits(struct uvfio__conn *c, uint64_t max_msg_size, uint32_t max_fds)
{
	c->max_msg_size = MAX(max_msg_size, (uint64_t)UVFIO_HDR_SIZE);
	c->max_fds = MIN(max_fds, (uint32_t)UVFIO__MAX_FDS);
	c->max_queued = (size_t)MIN(c->max_msg_size * 4, (uint64_t)SIZE_MAX / 2);
}

void uvfio__msg_close_fds(struct uvfio__msg *m)
{
	close_fds(m->fds, m->nfds);
	m->nfds = 0;
}

void uvfio__conn_hold(struct uvfio__conn *c)
{
	c->rpos += c->consume;
	c->consume = 0;
	c->held = true;
}

void uvfio__conn_release(struct uvfio__conn *c)
{
	free(c->held_buf);
	c->held_buf = NULL;
	c->held = false;
}

bool uvfio__conn_has_buffered(const struct uvfio__conn *c)
{
	return c->rlen - c->rpos > c->consume;
}

static int now_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)MIN(ms, (int64_t)INT32_MAX);
}

static void deadline_set(struct timespec *d, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += timeout_ms / 1000;
	d->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

/* Wait for @events; timeout -1 waits forever. Return 0, -ETIMEDOUT, -EINTR. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, timeout_ms);

	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* --- receive --------------------------------------------------------------- */

static void pfd_add(struct uvfio__conn *c, uint64_t pos, int fd)
{
	if (c->discard && pos < c->discard_end) {
		close_fd(&fd);
		return;
	}
	if (fd >= 0 && c->npfds + 1 < c->pfds_cap) {
		c->pfds[c->npfds++] = (struct pending_fd){ .pos = pos, .fd = fd };
		return;
	}
	/* Too many: close it and leave a marker (merged with a previous one). */
	close_fd(&fd);
	if (c->npfds && c->pfds[c->npfds - 1].fd < 0)
		c->pfds[c->npfds - 1].pos = pos;
	else
		c->pfds[c->npfds++] = (struct pending_fd){ .pos = pos, .fd = -1 };
}

/* Give the message [start, end) its fds. */
static void pfd_take(struct uvfio__conn *c, uint64_t start, uint64_t end, struct uvfio__msg *m)
{
	unsigned i = 0;

	for (; i < c->npfds && c->pfds[i].pos < end; i++) {
		struct pending_fd *p = &c->pfds[i];

		if (p->fd < 0) {
			m->status = m->status ? m->status : -ETOOMANYREFS;
		} else if (p->pos < start || m->nfds >= c->max_fds) {
			close_fd(&p->fd);
			if (p->pos >= start)
				m->status = m->status ? m->status : -ETOOMANYREFS;
		} else {
			m->fds[m->nfds++] = p->fd;
		}
	}
	c->npfds -= i;
	memmove(c->pfds, c->pfds + i, c->npfds * sizeof(*c->pfds));
}

/* Close the fds of skipped bytes below @end. */
static void pfd_drop(struct uvfio__conn *c, uint64_t end)
{
	unsigned i = 0;

	for (; i < c->npfds && c->pfds[i].pos < end; i++)
		close_fd(&c->pfds[i].fd);
	c->npfds -= i;
	memmove(c->pfds, c->pfds + i, c->npfds * sizeof(*c->pfds));
}

static void rbuf_compact(struct uvfio__conn *c)
{
	if (!c->rpos)
		return;
	memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->rbase += c->rpos;
	c->rlen -= c->rpos;
	c->rpos = 0;
}

/*
 * While a message is held in rbuf, nothing below rpos may move: when the
 * tail is too short, the unread bytes go to a fresh buffer and the old one
 * stays alive until the hold ends.
 */
static int rbuf_move_out(struct uvfio__conn *c, size_t need)
{
	size_t cap = MAX(need, c->rcap);
	uint8_t *n = malloc(cap);

	if (!n)
		return -ENOMEM;
	memcpy(n, c->rbuf + c->rpos, c->rlen - c->rpos);
	c->held_buf = c->rbuf;
	c->rbuf = n;
	c->rcap = cap;
	c->rbase += c->rpos;
	c->rlen -= c->rpos;
	c->rpos = 0;
	return 0;
}

/* Make room for at least @need contiguous bytes from rpos. */
static int rbuf_reserve(struct uvfio__conn *c, size_t need)
{
	size_t cap;
	uint8_t *n;

	if (c->held && !c->held_buf) {
		if (c->rcap - c->rpos >= need && c->rcap - c->rlen >= RBUF_MIN_READ)
			return 0;
		return rbuf_move_out(c, need);
	}
	if (c->rpos == c->rlen) {
		c->rbase += c->rpos;
		c->rpos = c->rlen = 0;
	}
	if (c->rcap - c->rpos >= need && c->rcap - c->rlen >= RBUF_MIN_READ)
		return 0;
	rbuf_compact(c);
	if (c->rcap >= need && c->rcap - c->rlen > 0)
		return 0;
	cap = MAX(need, c->rcap * 2);
	n = realloc(c->rbuf, cap);
	if (!n)
		return -ENOMEM;
	c->rbuf = n;
	c->rcap = cap;
	return 0;
}

static int read_more(struct uvfio__conn *c, int timeout_ms, const struct timespec *deadline)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UVFIO__MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = c->rbuf + c->rlen, .iov_len = c->rcap - c->rlen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf) };
	int flags = MSG_CMSG_CLOEXEC | (timeout_ms < 0 ? 0 : MSG_DONTWAIT);
	ssize_t n;
	uint64_t last;

	for (;;) {
		if (timeout_ms > 0) {
			int r = wait_fd(c->fd, POLLIN, now_ms_left(deadline));

			if (r)
				return r;
		}
		n = recvmsg(c->fd, &mh, flags);
		if (n >= 0)
			break;
		if (errno == EINTR && timeout_ms >= 0)
			continue;
		if (errno == EAGAIN && timeout_ms > 0)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return -EAGAIN;
		return errno == EPIPE ? -ECONNRESET : -errno;
	}

	last = c->rbase + c->rlen + (n ? (uint64_t)n - 1 : 0);
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			size_t cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[UVFIO__MAX_FDS];

			memcpy(fds, CMSG_DATA(cm), cnt * sizeof(int));
			for (size_t i = 0; i < cnt; i++)
				pfd_add(c, last, n ? fds[i] : (close_fd(&fds[i]), -1));
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		pfd_add(c, last, -1);
	if (n == 0)
		return -ECONNRESET;
	c->rlen += (size_t)n;
	return 0;
}

int uvfio__conn_recv(struct uvfio__conn *c, struct uvfio__msg *m, int timeout_ms)
{
	struct timespec deadline;
	int ret;

	c->rpos += c->consume;
	c->consume = 0;
	if (timeout_ms > 0)
		deadline_set(&deadline, timeout_ms);

	for (;;) {
		size_t avail;

		if (c->discard) {
			size_t skip = (size_t)MIN(c->discard, (uint64_t)(c->rlen - c->rpos));

			c->rpos += skip;
			c->discard -= skip;
			if (!c->discard)
				pfd_drop(c, c->discard_end);
		}
		avail = c->rlen - c->rpos;
		if (!c->discard && avail >= UVFIO_HDR_SIZE) {
			uint64_t start = c->rbase + c->rpos;

			memset(m, 0, sizeof(*m));
			uvfio_proto_hdr_decode(c->rbuf + c->rpos, &m->hdr);
			if (m->hdr.size < UVFIO_HDR_SIZE) {
				log_err(c->log, "peer sent a message header with size %u (below 16): "
						"the stream can no longer be framed",
					m->hdr.size);
				return -EPROTO;
			}
			if (m->hdr.size > c->max_msg_size) {
				log_warn(c->log, "discarding a %u-byte %s message: the limit is %llu bytes",
					 m->hdr.size, uvfio_proto_cmd_name(m->hdr.cmd),
					 (unsigned long long)c->max_msg_size);
				m->status = -EMSGSIZE;
				c->rpos += UVFIO_HDR_SIZE;
				c->discard = m->hdr.size - UVFIO_HDR_SIZE;
				c->discard_end = start + m->hdr.size;
				pfd_drop(c, MIN(c->discard_end, c->rbase + c->rlen));
				return 0;
			}
			if (avail >= m->hdr.size) {
				pfd_take(c, start, start + m->hdr.size, m);
				m->payload = c->rbuf + c->rpos + UVFIO_HDR_SIZE;
				m->len = m->hdr.size - UVFIO_HDR_SIZE;
				c->consume = m->hdr.size;
				return 0;
			}
			ret = rbuf_reserve(c, m->hdr.size);
		} else {
			ret = rbuf_reserve(c, UVFIO_HDR_SIZE);
		}
		if (ret)
			return ret;
		ret = read_more(c, timeout_ms, &deadline);
		if (ret)
			return ret;
	}
}

/* --- send ------------------------------------------------------------------ */

static ssize_t send_iov(struct uvfio__conn *c, struct iovec *iov, int iovcnt, const int *fds,
			unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * UVFIO__MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)iovcnt };
	ssize_t n;

	if (nfds) {
		struct cmsghdr *cm;

		memset(ctl.buf, 0, sizeof(ctl.buf));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	return n;
}

static int wbuf_reserve(struct uvfio__conn *c, size_t len)
{
	size_t cap;
	uint8_t *n;

	if (c->wlen - c->wpos + len > c->max_queued)
		return -ENOBUFS;
	if (c->wpos == c->wlen) {
		c->wpos = c->wlen = 0;
	} else if (c->wcap - c->wlen < len && c->wpos) {
		memmove(c->wbuf, c->wbuf + c->wpos, c->wlen - c->wpos);
		for (unsigned i = 0; i < c->nwfds; i++) {
			c->wfds[i].start -= c->wpos;
			c->wfds[i].end -= c->wpos;
		}
		c->wlen -= c->wpos;
		c->wpos = 0;
	}
	if (c->wcap - c->wlen >= len)
		return 0;
	cap = MAX(c->wlen + len, c->wcap * 2);
	n = realloc(c->wbuf, cap);
	if (!n)
		return -ENOMEM;
	c->wbuf = n;
	c->wcap = cap;
	return 0;
}

/* Queue iov bytes from @skip on; fds (dup'ed) ride with the message start. */
static int queue_msg(struct uvfio__conn *c, const struct iovec *iov, int iovcnt, size_t total,
		     size_t skip, const int *fds, unsigned nfds)
{
	size_t at;
	int ret = wbuf_reserve(c, total - skip);

	if (ret)
		return ret;
	at = c->wlen;
	for (int i = 0; i < iovcnt; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		memcpy(c->wbuf + c->wlen, (const uint8_t *)iov[i].iov_base + skip, l - skip);
		c->wlen += l - skip;
		skip = 0;
	}
	if (nfds) {
		struct queued_fds *q;

		if (c->nwfds == c->wfds_cap) {
			unsigned ncap = c->wfds_cap ? c->wfds_cap * 2 : 4;
			struct queued_fds *n = realloc(c->wfds, ncap * sizeof(*n));

			if (!n)
				goto undo;
			c->wfds = n;
			c->wfds_cap = ncap;
		}
		q = &c->wfds[c->nwfds];
		q->start = at;
		q->end = c->wlen;
		q->nfds = 0;
		for (unsigned i = 0; i < nfds; i++) {
			int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);

			if (d < 0) {
				close_fds(q->fds, q->nfds);
				goto undo;
			}
			q->fds[q->nfds++] = d;
		}
		c->nwfds++;
	}
	return 0;
undo:
	c->wlen = at;
	return -ENOMEM;
}

int uvfio__conn_send(struct uvfio__conn *c, const struct uvfio_hdr *h, const struct iovec *iov,
		     int iovcnt, const int *fds, unsigned nfds)
{
	struct iovec v[8];
	uint8_t hdr[UVFIO_HDR_SIZE];
	struct uvfio_hdr hh = *h;
	uint64_t total = UVFIO_HDR_SIZE;
	ssize_t n;

	if (iovcnt < 0 || iovcnt > (int)ARRAY_SIZE(v) - 1 || nfds > UVFIO__MAX_FDS)
		return -EINVAL;
	if (c->fd < 0)
		return -EPIPE;
	v[0] = (struct iovec){ .iov_base = hdr, .iov_len = UVFIO_HDR_SIZE };
	for (int i = 0; i < iovcnt; i++) {
		v[i + 1] = iov[i];
		total += iov[i].iov_len;
	}
	if (total > UINT32_MAX)
		return -EMSGSIZE;
	hh.size = (uint32_t)total;
	uvfio_proto_hdr_encode(hdr, &hh);

	if (c->wpos != c->wlen)
		return queue_msg(c, v, iovcnt + 1, total, 0, fds, nfds);
	n = send_iov(c, v, iovcnt + 1, fds, nfds);
	if (n < 0)
		return n == -EPIPE ? -EPIPE : (int)n;
	if ((uint64_t)n == total)
		return 0;
	/* Partially sent: the fds went with the first byte if any byte went. */
	return queue_msg(c, v, iovcnt + 1, total, (size_t)n, n ? NULL : fds, n ? 0 : nfds);
}

bool uvfio__conn_want_write(const struct uvfio__conn *c)
{
	return c->wpos != c->wlen;
}

int uvfio__conn_flush(struct uvfio__conn *c, int timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms > 0)
		deadline_set(&deadline, timeout_ms);
	while (c->wpos != c->wlen) {
		struct queued_fds *q = c->nwfds ? &c->wfds[0] : NULL;
		size_t end = c->wlen;
		struct iovec iov;
		ssize_t n;

		/*
		 * A message with fds goes out alone, starting at its header, so
		 * a greedy receiver attributes the fds to it and nothing else.
		 */
		if (q && q->start > c->wpos)
			end = q->start;
		else if (q)
			end = q->end;
		iov = (struct iovec){ .iov_base = c->wbuf + c->wpos, .iov_len = end - c->wpos };
		if (q && q->start == c->wpos)
			n = send_iov(c, &iov, 1, q->fds, q->nfds);
		else
			n = send_iov(c, &iov, 1, NULL, 0);
		if (n < 0)
			return (int)n;
		if (n > 0) {
			if (q && q->start == c->wpos) {
				close_fds(q->fds, q->nfds);
				c->nwfds--;
				memmove(c->wfds, c->wfds + 1, c->nwfds * sizeof(*c->wfds));
			}
			c->wpos += (size_t)n;
			continue;
		}
		if (timeout_ms == 0)
			return -EAGAIN;
		n = wait_fd(c->fd, POLLOUT, timeout_ms < 0 ? -1 : now_ms_left(&deadline));
		if (n)
			return (int)n;
	}
	c->wpos = c->wlen = 0;
	return 0;
}
