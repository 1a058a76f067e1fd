// SPDX-License-Identifier: BSD-3-Clause
/*
 * The vfio-user backend: a socket is a group with one device; the container
 * is played in software by sending every mapping to every attached device.
 *
 * One connection carries the device's requests and the container's
 * DMA_MAP/UNMAP. Requests are synchronous: send, then wait for the reply
 * with the same id and command, bounded by the reply timeout. While
 * waiting, the server may ask for memory mapped without an fd
 * (DMA_READ/DMA_WRITE, on the twin socket if one was negotiated, else on
 * the main one); those are served at once from the container's table, so
 * neither side waits on the other. A connection that breaks or answers out
 * of protocol is marked dead and every later call fails at once.
 *
 * The server is not trusted: replies are checked against the command table
 * and against what was asked (a reply larger than requested is refused),
 * and its DMA requests are served only inside mappings with the right
 * permission.
 */
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "transport/transport.h"
#include "vfio_priv.h"

#define OUR_MAX_XFER   (1u << 20)  /* largest DMA_READ/WRITE we accept */
#define OUR_MAX_FDS    16
#define MAX_REGION_INFO 8192       /* largest GET_REGION_INFO reply we take */

struct user_conn {
	pthread_mutex_t io;             /* one request/reply at a time */
	struct uvfio__conn *conn;
	struct uvfio__conn *twin;       /* server-to-client channel, or NULL */
	uint16_t next_id;
	bool dead;
	struct uvfio_caps srv;          /* the server's capabilities */
	uint64_t max_xfer;              /* REGION_READ/WRITE piece size */
	struct uvfio_group *group;
	struct uvfio_device *device;    /* the one device, when open */
	const struct uvfio__log *log;
	uint8_t *buf;                   /* request scratch (REGION_READ replies land here) */
	size_t buf_cap;
	/*
	 * DMA_READ replies, apart from buf: they are built while a call waits
	 * for its reply, which may be headed for buf (a realloc of buf there
	 * would leave that call writing into freed memory).
	 */
	uint8_t *dma_buf;
	size_t dma_cap;
};

/* A reply's payload goes here; it must fit @cap (else -EPROTO). */
struct reply {
	void *buf;
	size_t cap;
	size_t len;
	int fd;                         /* one received fd, or -1 */
};

static const struct uvfio__container_ops user_container_ops;
static const struct uvfio__group_ops user_group_ops;
static const struct uvfio__device_ops user_device_ops;

static struct user_conn *conn_of(struct uvfio_group *g)
{
	return g->priv;
}

static int deadline_left(const struct timespec *d)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (d->tv_sec - now.tv_sec) * 1000 + (d->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)MIN(ms, (int64_t)INT32_MAX);
}

static void mark_dead(struct user_conn *u, int err)
{
	if (!u->dead)
		log_err(u->log, "lost the vfio-user server: %s", strerror(-err));
	u->dead = true;
}

/* --- serving the server's DMA_READ / DMA_WRITE --------------------------------- */

static int send_error(struct uvfio__conn *c, const struct uvfio_hdr *req, int err)
{
	struct uvfio_hdr h = { .id = req->id, .cmd = req->cmd,
			       .flags = UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR, .error = (uint32_t)err };

	return uvfio__conn_send(c, &h, NULL, 0, NULL, 0);
}

/*
 * Copy between the container's memory and @data, for the server. Every
 * byte must lie in mappings that give the device @prot.
 */
static int container_copy(struct uvfio_container *c, uint64_t addr, uint8_t *data, uint64_t count,
			  uint32_t prot, bool to_memory)
{
	int ret = 0;

	if (!c)
		return -EFAULT;
	pthread_rwlock_rdlock(&c->maps_lock);
	while (count) {
		const struct uvfio__mapping *m = uvfio__container_find(c, addr, 1);
		uint64_t n, off;

		if (!m) {
			ret = -EFAULT;
			break;
		}
		if (prot & ~m->prot) {
			ret = -EPERM;
			break;
		}
		off = addr - m->iova;
		n = MIN(count, m->size - off);
		if (to_memory)
			memcpy(m->vaddr + off, data, n);
		else
			memcpy(data, m->vaddr + off, n);
		addr += n;
		data += n;
		count -= n;
	}
	pthread_rwlock_unlock(&c->maps_lock);
	return ret;
}

static int serve_one(struct user_conn *u, struct uvfio__conn *c, struct uvfio__msg *m)
{
	struct uvfio_proto_limits lim = { .max_data_xfer_size = OUR_MAX_XFER, .max_msg_fds = 0 };
	struct uvfio_hdr h = { .id = m->hdr.id, .cmd = m->hdr.cmd, .flags = UVFIO_F_TYPE_REPLY };
	struct uvfio_container *ct = u->group->container;
	struct uvfio_dma_access a;
	uint8_t hdr[UVFIO_DMA_ACCESS_SIZE];
	struct iovec iov[2];
	int ret;

	ret = m->status ? -EINVAL : uvfio_proto_check(&m->hdr, m->nfds, &lim);
	uvfio__msg_close_fds(m);
	if (!ret && m->hdr.cmd != UVFIO_CMD_DMA_READ && m->hdr.cmd != UVFIO_CMD_DMA_WRITE)
		ret = -ENOSYS;
	if (!ret)
		ret = uvfio_proto_dma_access_decode(m->payload, m->len,
						    m->hdr.cmd == UVFIO_CMD_DMA_WRITE, &a);
	if (!ret && a.count > OUR_MAX_XFER)
		ret = -E2BIG;
	if (ret) {
		log_warn(u->log, "refused the server's %s: %s", uvfio_proto_cmd_name(m->hdr.cmd),
			 strerror(-ret));
		return (m->hdr.flags & UVFIO_F_NO_REPLY) ? 0 : send_error(c, &m->hdr, -ret);
	}
	if (m->hdr.cmd == UVFIO_CMD_DMA_WRITE) {
		ret = container_copy(ct, a.addr, (uint8_t *)a.data, a.count, UVFIO_DMA_WRITE, true);
		if (ret)
			return send_error(c, &m->hdr, -ret);
		uvfio_proto_dma_access_encode(hdr, sizeof(hdr), false, &a);
		iov[0] = (struct iovec){ hdr, sizeof(hdr) };
		return uvfio__conn_send(c, &h, iov, 1, NULL, 0);
	}
	if (a.count > u->dma_cap) {
		uint8_t *n = realloc(u->dma_buf, a.count);

		if (!n)
			return send_error(c, &m->hdr, ENOMEM);
		u->dma_buf = n;
		u->dma_cap = a.count;
	}
	ret = container_copy(ct, a.addr, u->dma_buf, a.count, UVFIO_DMA_READ, false);
	if (ret)
		return send_error(c, &m->hdr, -ret);
	uvfio_proto_dma_access_encode(hdr, sizeof(hdr), false, &a);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ u->dma_buf, a.count };
	return uvfio__conn_send(c, &h, iov, 2, NULL, 0);
}

/* --- request / reply -------------------------------------------------------------- */

/*
 * Wait for the reply to (@id, @cmd), serving server requests meanwhile.
 * Caller holds u->io.
 */
static int wait_reply(struct user_conn *u, uint16_t id, uint16_t cmd, struct reply *rep,
		      const struct timespec *deadline)
{
	struct uvfio_proto_limits lim = { .max_data_xfer_size = OUR_MAX_XFER,
					  .max_msg_fds = OUR_MAX_FDS };

	for (;;) {
		struct pollfd p[2] = { { .fd = uvfio__conn_fd(u->conn), .events = POLLIN },
				       { .fd = u->twin ? uvfio__conn_fd(u->twin) : -1,
					 .events = POLLIN } };
		struct uvfio__conn *from = NULL;
		struct uvfio__msg m;
		int ret, left = deadline_left(deadline);

		/* A server that keeps sending requests or stray replies doesn't extend the wait. */
		if (!left) {
			log_err(u->log, "the server did not answer %s within %d ms",
				uvfio_proto_cmd_name(cmd), (int)u->group->opts.timeout_ms);
			return -ETIMEDOUT;
		}
		/* Messages already buffered don't show up in poll(). */
		if (uvfio__conn_has_buffered(u->conn))
			from = u->conn;
		else if (u->twin && uvfio__conn_has_buffered(u->twin))
			from = u->twin;
		if (!from) {
			ret = poll(p, u->twin ? 2 : 1, left);
			if (ret < 0 && errno == EINTR)
				continue;
			if (ret < 0)
				return -errno;
			if (ret == 0) {
				log_err(u->log, "the server did not answer %s within %d ms",
					uvfio_proto_cmd_name(cmd), (int)u->group->opts.timeout_ms);
				return -ETIMEDOUT;
			}
			from = (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? u->conn : u->twin;
		}
		ret = uvfio__conn_recv(from, &m, 0);
		if (ret == -EAGAIN)
			continue;
		if (ret) {
			mark_dead(u, ret);
			return ret == -EPROTO ? -EPROTO : -ECONNRESET;
		}
		if ((m.hdr.flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_COMMAND) {
			ret = serve_one(u, from, &m);
			if (!ret)
				ret = uvfio__conn_flush(from, deadline_left(deadline));
			if (ret) {
				mark_dead(u, ret);
				return -ECONNRESET;
			}
			continue;
		}
		if (from != u->conn || m.hdr.id != id || m.hdr.cmd != cmd) {
			log_warn(u->log, "ignoring a reply that answers nothing (id %u, %s)", m.hdr.id,
				 uvfio_proto_cmd_name(m.hdr.cmd));
			uvfio__msg_close_fds(&m);
			continue;
		}
		ret = m.status ? -EPROTO : uvfio_proto_check(&m.hdr, m.nfds, &lim);
		if (ret) {
			uvfio__msg_close_fds(&m);
			log_err(u->log, "the server's reply to %s is malformed (%s)",
				uvfio_proto_cmd_name(cmd), strerror(-ret));
			mark_dead(u, -EPROTO);
			return -EPROTO;
		}
		if (m.hdr.flags & UVFIO_F_ERROR) {
			uvfio__msg_close_fds(&m);
			if (!m.hdr.error)
				return -EIO;
			/* Beyond the errno range: not an error number, whatever it is. */
			if (m.hdr.error > 4095) {
				log_err(u->log, "the server failed %s with error %u: no errno",
					uvfio_proto_cmd_name(cmd), m.hdr.error);
				return -EPROTO;
			}
			return -(int)m.hdr.error;
		}
		if (m.len > rep->cap) {
			uvfio__msg_close_fds(&m);
			log_err(u->log, "the server's reply to %s is %zu bytes, more than the %zu asked for",
				uvfio_proto_cmd_name(cmd), m.len, rep->cap);
			return -EPROTO;
		}
		if (m.len)
			memcpy(rep->buf, m.payload, m.len);
		rep->len = m.len;
		rep->fd = -1;
		if (m.nfds) {
			rep->fd = m.fds[0];
			m.fds[0] = -1;
		}
		uvfio__msg_close_fds(&m);
		return 0;
	}
}

/*
 * Serve the server's requests that are already buffered: they came in the
 * same read as a reply, and poll() on the socket won't show them, so a
 * driver waiting on the poll fd would never call dispatch for them.
 * Caller holds u->io.
 */
static void serve_buffered(struct user_conn *u)
{
	struct uvfio__conn *cs[2] = { u->conn, u->twin };

	for (unsigned i = 0; i < 2; i++) {
		for (unsigned seen = 0; cs[i] && !u->dead && seen < UVFIO_DISPATCH_MAX &&
					uvfio__conn_has_buffered(cs[i]);
		     seen++) {
			struct uvfio__msg m;
			int ret = uvfio__conn_recv(cs[i], &m, 0);

			if (ret == -EAGAIN)
				break; /* a partial message: the rest wakes poll() */
			if (!ret && (m.hdr.flags & UVFIO_F_TYPE_MASK) != UVFIO_F_TYPE_COMMAND) {
				uvfio__msg_close_fds(&m); /* a reply to nothing: as wait_reply */
				continue;
			}
			if (!ret)
				ret = serve_one(u, cs[i], &m);
			if (!ret)
				ret = uvfio__conn_flush(cs[i], (int)u->group->opts.timeout_ms);
			if (ret)
				mark_dead(u, ret);
		}
	}
}

static int call(struct user_conn *u, uint16_t cmd, const struct iovec *iov, int iovcnt,
		const int *fds, unsigned nfds, struct reply *rep)
{
	struct uvfio_hdr h = { .cmd = cmd, .flags = UVFIO_F_TYPE_COMMAND };
	struct reply none = { .fd = -1 };
	struct timespec deadline;
	int ret;

	if (!rep)
		rep = &none;
	rep->fd = -1;
	rep->len = 0;
	pthread_mutex_lock(&u->io);
	if (u->dead) {
		ret = -ECONNRESET;
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += u->group->opts.timeout_ms / 1000;
	deadline.tv_nsec += (long)(u->group->opts.timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	h.id = u->next_id++;
	ret = uvfio__conn_send(u->conn, &h, iov, iovcnt, fds, nfds);
	if (!ret)
		ret = uvfio__conn_flush(u->conn, deadline_left(&deadline));
	if (ret) {
		if (ret != -ETIMEDOUT)
			mark_dead(u, ret);
		/* The server went away: what every later call will say too. */
		if (ret == -EPIPE)
			ret = -ECONNRESET;
		goto out;
	}
	ret = wait_reply(u, h.id, cmd, rep, &deadline);
	if (!ret)
		serve_buffered(u);
out:
	pthread_mutex_unlock(&u->io);
	if (rep == &none)
		close_fd(&none.fd);
	return ret;
}

/* --- negotiation ------------------------------------------------------------------- */

static int negotiate(struct user_conn *u, bool want_twin)
{
	struct uvfio_caps mine, srv;
	uint8_t out[4 + UVFIO_PROTO_JSON_MAX], in[4 + UVFIO_PROTO_JSON_MAX];
	struct reply rep = { .buf = in, .cap = sizeof(in) };
	struct iovec iov;
	uint16_t major, minor;
	ssize_t n;
	int ret;

	uvfio_proto_caps_default(&mine);
	mine.present = UVFIO_CAP_MAX_MSG_FDS | UVFIO_CAP_MAX_DATA_XFER_SIZE | UVFIO_CAP_PGSIZES |
		       UVFIO_CAP_MAX_DMA_MAPS | (want_twin ? UVFIO_CAP_TWIN_SOCKET : 0);
	mine.max_msg_fds = OUR_MAX_FDS;
	mine.max_data_xfer_size = OUR_MAX_XFER;
	mine.pgsizes = 4096;
	mine.max_dma_maps = 1u << 20;
	mine.twin_socket = want_twin;
	n = uvfio_proto_version_encode(out, sizeof(out), UVFIO_PROTO_MAJOR, UVFIO_PROTO_MINOR, &mine);
	if (n < 0)
		return (int)n;
	iov = (struct iovec){ out, (size_t)n };
	ret = call(u, UVFIO_CMD_VERSION, &iov, 1, NULL, 0, &rep);
	if (ret) {
		log_err(u->log, "version negotiation failed: %s", strerror(-ret));
		close_fd(&rep.fd);
		return ret;
	}
	ret = uvfio_proto_version_decode(in, rep.len, &major, &minor, &srv);
	if (ret)
		log_err(u->log, "the server's VERSION reply is malformed (%s)", strerror(-ret));
	if (!ret && (major != UVFIO_PROTO_MAJOR || minor > UVFIO_PROTO_MINOR)) {
		log_err(u->log, "the server answered with protocol %u.%u to our %u.%u", major, minor,
			UVFIO_PROTO_MAJOR, UVFIO_PROTO_MINOR);
		ret = -EPROTO;
	}
	if (!ret && (srv.present & ~mine.present))
		log_warn(u->log, "the server answered with capabilities that were not proposed");
	if (!ret && ((srv.present & UVFIO_CAP_MAX_DATA_XFER_SIZE) && !srv.max_data_xfer_size)) {
		log_err(u->log, "the server accepts transfers of 0 bytes");
		ret = -EPROTO;
	}
	if (!ret && (srv.present & UVFIO_CAP_PGSIZES) && !(srv.pgsizes & ~0xfffull)) {
		log_err(u->log, "the server supports no DMA page size of 4 KiB or more");
		ret = -EPROTO;
	}
	if (!ret && srv.twin_socket) {
		/* Supported means a valid fd index; anything else is inconsistent. */
		if (!want_twin || rep.fd < 0 || srv.twin_fd_index != 0) {
			log_err(u->log, "the server's twin socket answer is inconsistent");
			ret = -EPROTO;
		} else {
			struct uvfio__conn_opts co = {
				.max_msg_size = 16 + 16 + OUR_MAX_XFER, .max_fds = 0, .log = u->log };

			ret = uvfio__conn_create(rep.fd, &co, &u->twin);
			rep.fd = -1;
		}
	}
	close_fd(&rep.fd);
	if (ret) {
		if (ret == -EINVAL || ret == -EMSGSIZE)
			ret = -EPROTO;
		return ret;
	}
	u->srv = srv;
	u->max_xfer = MIN(srv.max_data_xfer_size, (uint64_t)OUR_MAX_XFER);
	uvfio__conn_set_limits(u->conn, 16 + 32 + MAX(OUR_MAX_XFER, (uint32_t)MAX_REGION_INFO),
			       OUR_MAX_FDS);
	log_info(u->log, "negotiated vfio-user %u.%u%s", major, minor,
		 u->twin ? " with a twin socket" : "");
	return 0;
}

/* --- the group ---------------------------------------------------------------------- */

int uvfio__user_group_open(const char *path, const struct uvfio__opts *o,
			   struct uvfio_group **out)
{
	struct uvfio__conn_opts co = { .max_msg_size = 16 + 4 + UVFIO_PROTO_JSON_MAX,
				       .max_fds = 1 };
	struct uvfio_group *g;
	struct user_conn *u;
	int fd, ret;

	ret = uvfio__group_new(path, o, &g);
	if (ret)
		return ret;
	g->ops = &user_group_ops;
	u = calloc(1, sizeof(*u));
	g->members = calloc(1, sizeof(*g->members));
	if (!u || !g->members) {
		free(u);
		ret = -ENOMEM;
		goto fail;
	}
	pthread_mutex_init(&u->io, NULL);
	u->group = g;
	u->log = &g->log;
	g->priv = u;
	g->members[0].name = strdup(path);
	g->members[0].driver = strdup("");
	if (!g->members[0].name || !g->members[0].driver) {
		ret = -ENOMEM;
		goto fail;
	}
	g->nr_members = 1;
	fd = uvfio__sock_connect(path);
	if (fd < 0) {
		struct stat st;

		ret = fd;
		if (ret == -ECONNREFUSED && !stat(path, &st) && !S_ISSOCK(st.st_mode))
			log_err(&g->log, "cannot connect: %s is not a socket (give the path the server listens on)",
				path);
		else
			log_err(&g->log, "cannot connect: %s",
				ret == -ECONNREFUSED ? "no server is listening there (start it, or remove the stale socket)"
				: ret == -ENOENT    ? "no such socket"
				: ret == -EACCES    ? "permission denied (check the socket's and its directory's permissions)"
						    : strerror(-ret));
		goto fail;
	}
	co.log = &g->log;
	ret = uvfio__conn_create(fd, &co, &u->conn);
	if (ret)
		goto fail;
	ret = negotiate(u, !(o->flags & UVFIO_OPEN_F_NO_TWIN));
	if (ret)
		goto fail;
	*out = g;
	return 0;
fail:
	user_group_ops.close(g);
	uvfio__group_free(g);
	return ret;
}

static void user_group_close(struct uvfio_group *g)
{
	struct user_conn *u = conn_of(g);

	if (!u)
		return;
	uvfio__conn_destroy(u->conn);
	uvfio__conn_destroy(u->twin);
	pthread_mutex_destroy(&u->io);
	free(u->buf);
	free(u->dma_buf);
	free(u);
	g->priv = NULL;
}

static int user_status(struct uvfio_group *g, struct uvfio_group_status *st)
{
	st->flags |= UVFIO_GROUP_VIABLE;
	return 0;
}

static int send_map(struct user_conn *u, const struct uvfio__mapping *m)
{
	struct uvfio_dma_map dm = {
		.argsz = UVFIO_DMA_MAP_SIZE,
		.flags = ((m->prot & UVFIO_DMA_READ) ? UVFIO_DMA_MAP_READ : 0) |
			 ((m->prot & UVFIO_DMA_WRITE) ? UVFIO_DMA_MAP_WRITE : 0),
		.offset = m->fd >= 0 ? m->fd_offset : 0,
		.addr = m->iova,
		.size = m->size,
	};
	uint8_t b[UVFIO_DMA_MAP_SIZE];
	struct iovec iov = { b, sizeof(b) };
	bool fd = m->fd >= 0 && u->srv.max_msg_fds;

	if (!fd)
		dm.offset = 0;
	uvfio_proto_dma_map_encode(b, sizeof(b), &dm);
	return call(u, UVFIO_CMD_DMA_MAP, &iov, 1, fd ? &m->fd : NULL, fd, NULL);
}

static int send_unmap(struct user_conn *u, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct uvfio_dma_unmap du = { .argsz = UVFIO_DMA_UNMAP_SIZE, .flags = flags, .addr = iova,
				      .size = size };
	uint8_t b[UVFIO_DMA_UNMAP_SIZE], r[UVFIO_DMA_UNMAP_SIZE + 64];
	struct iovec iov = { b, sizeof(b) };
	struct reply rep = { .buf = r, .cap = sizeof(r) };

	uvfio_proto_dma_unmap_encode(b, sizeof(b), &du);
	return call(u, UVFIO_CMD_DMA_UNMAP, &iov, 1, NULL, 0, &rep);
}

static int replay_one(void *priv, const struct uvfio__mapping *m)
{
	return send_map(priv, m);
}

static int user_attach(struct uvfio_group *g, struct uvfio_container *c)
{
	struct user_conn *u = conn_of(g);
	int ret;

	if (c->ops && c->ops != &user_container_ops) {
		log_err(&g->log, "a vfio-user device can't join a container of kernel devices");
		return -EINVAL;
	}
	if (!c->ops) {
		c->ops = &user_container_ops;
		c->priv = NULL;
	}
	/* A device joining later sees every mapping already made. */
	ret = uvfio__container_foreach(c, replay_one, u);
	if (ret) {
		send_unmap(u, 0, 0, UVFIO_DMA_UNMAP_ALL);
		if (!c->groups)
			c->ops = NULL;
		log_err(&g->log, "could not give the device the container's mappings: %s",
			strerror(-ret));
	}
	return ret;
}

static int user_detach(struct uvfio_group *g)
{
	struct user_conn *u = conn_of(g);

	/* The server drops everything from this client; errors don't matter now. */
	if (!u->dead)
		send_unmap(u, 0, 0, UVFIO_DMA_UNMAP_ALL);
	return 0;
}

static int user_open_device(struct uvfio_group *g, const char *name, struct uvfio_device **out)
{
	struct user_conn *u = conn_of(g);
	struct uvfio_device *d;
	int ret;

	if (name && strcmp(name, g->name)) {
		log_err(&g->log, "a vfio-user socket has one device; '%s' is not it", name);
		return -ENODEV;
	}
	if (u->device)
		return -EBUSY;
	ret = uvfio__device_new(g, g->name, &d);
	if (ret)
		return ret;
	d->ops = &user_device_ops;
	d->priv = u;
	ret = uvfio__device_ready(d);
	if (ret) {
		uvfio__device_free(d);
		return ret;
	}
	u->device = d;
	*out = d;
	return 0;
}

static const struct uvfio__group_ops user_group_ops = {
	.status = user_status,
	.attach = user_attach,
	.detach = user_detach,
	.open_device = user_open_device,
	.close = user_group_close,
};

/* --- the container -------------------------------------------------------------------- */

static int user_map(struct uvfio_container *c, const struct uvfio__mapping *m)
{
	int ret = 0;

	for (struct uvfio_group *g = c->groups; g; g = g->next) {
		ret = send_map(conn_of(g), m);
		if (ret) {
			/* Take it back from the devices that already have it. */
			for (struct uvfio_group *h = c->groups; h != g; h = h->next)
				send_unmap(conn_of(h), m->iova, m->size, 0);
			break;
		}
	}
	return ret;
}

static int user_unmap(struct uvfio_container *c, const struct uvfio__mapping *m)
{
	int ret = 0;

	for (struct uvfio_group *g = c->groups; g; g = g->next) {
		int r = send_unmap(conn_of(g), m->iova, m->size, 0);

		/* A dead server holds nothing any more. */
		if (r && !conn_of(g)->dead && !ret)
			ret = r;
	}
	return ret;
}

static int user_info(struct uvfio_container *c, struct uvfio_iommu_info *info)
{
	uint64_t pg = ~0xfffull, avail = UINT32_MAX;

	for (struct uvfio_group *g = c->groups; g; g = g->next) {
		const struct uvfio_caps *s = &conn_of(g)->srv;

		pg &= s->pgsizes;
		avail = MIN(avail, s->max_dma_maps > c->nr_maps ? s->max_dma_maps - c->nr_maps : 0);
	}
	info->pgsizes = pg ? pg : 4096;
	/* Software IOMMU: any address; 1 MiB to 2^48 keeps them plausible. */
	info->nr_ranges = 1;
	info->ranges[0] = (struct uvfio_iova_range){ 1u << 20, (1ull << 48) - 1 };
	info->dma_avail = (uint32_t)avail;
	return 0;
}

static void user_release(struct uvfio_container *c)
{
}

static const struct uvfio__container_ops user_container_ops = {
	.name = "vfio-user",
	.map = user_map,
	.unmap = user_unmap,
	.info = user_info,
	.release = user_release,
};

/* --- the device ------------------------------------------------------------------------ */

static struct user_conn *dev_conn(struct uvfio_device *d)
{
	return d->priv;
}

static int user_info_dev(struct uvfio_device *d, uint32_t *flags, uint32_t *nr, uint32_t *ni)
{
	struct uvfio_device_info in = { .argsz = UVFIO_DEVICE_INFO_SIZE }, out;
	uint8_t b[UVFIO_DEVICE_INFO_SIZE], r[UVFIO_DEVICE_INFO_SIZE];
	struct iovec iov = { b, sizeof(b) };
	struct reply rep = { .buf = r, .cap = sizeof(r) };
	int ret;

	uvfio_proto_device_info_encode(b, sizeof(b), &in);
	ret = call(dev_conn(d), UVFIO_CMD_DEVICE_GET_INFO, &iov, 1, NULL, 0, &rep);
	close_fd(&rep.fd);
	if (!ret)
		ret = uvfio_proto_device_info_decode(r, rep.len, &out) ? -EPROTO : 0;
	if (ret)
		return ret;
	*flags = out.flags;
	*nr = out.num_regions;
	*ni = out.num_irqs;
	return 0;
}

static int region_info_once(struct uvfio_device *d, uint32_t index, uint32_t argsz, uint8_t *r,
			    size_t cap, struct reply *rep)
{
	struct uvfio_region_info in = { .argsz = argsz, .index = index };
	uint8_t b[UVFIO_REGION_INFO_SIZE];
	struct iovec iov = { b, sizeof(b) };
	bool complete;

	uvfio_proto_region_info_encode(b, sizeof(b), &in, NULL, &complete);
	put_le32(b, argsz); /* the encoder writes the fixed reply's argsz */
	*rep = (struct reply){ .buf = r, .cap = cap };
	return call(dev_conn(d), UVFIO_CMD_DEVICE_GET_REGION_INFO, &iov, 1, NULL, 0, rep);
}

static int user_region_info(struct uvfio_device *d, uint32_t index, struct uvfio__region *r)
{
	uint8_t buf[MAX_REGION_INFO];
	struct uvfio_sparse_area areas[UVFIO__MAX_AREAS];
	struct uvfio_region_caps caps;
	struct uvfio_region_info ri;
	struct reply rep;
	int ret = region_info_once(d, index, UVFIO_REGION_INFO_SIZE, buf, sizeof(buf), &rep);

	if (ret)
		return ret;
	if (uvfio_proto_region_info_decode(buf, rep.len, &ri) || ri.index != index) {
		close_fd(&rep.fd);
		return -EPROTO;
	}
	/* The capabilities didn't fit: ask again with room for them. */
	if ((ri.flags & UVFIO_REGION_INFO_FLAG_CAPS) && ri.argsz > UVFIO_REGION_INFO_SIZE &&
	    !ri.cap_offset) {
		close_fd(&rep.fd);
		if (ri.argsz > sizeof(buf)) {
			log_err(&d->log, "region %u's description needs %u bytes; more than %zu is "
					 "not plausible", index, ri.argsz, sizeof(buf));
			return -EPROTO;
		}
		ret = region_info_once(d, index, ri.argsz, buf, sizeof(buf), &rep);
		if (ret)
			return ret;
		if (uvfio_proto_region_info_decode(buf, rep.len, &ri) || ri.index != index) {
			close_fd(&rep.fd);
			return -EPROTO;
		}
	}
	ret = uvfio_proto_region_caps_decode(buf, rep.len, areas, UVFIO__MAX_AREAS, &caps);
	if (ret || caps.nr_areas > UVFIO__MAX_AREAS) {
		close_fd(&rep.fd);
		log_err(&d->log, "region %u's capability chain is malformed", index);
		return -EPROTO;
	}
	r->flags = ri.flags & (UVFIO_REGION_INFO_FLAG_READ | UVFIO_REGION_INFO_FLAG_WRITE |
			       UVFIO_REGION_INFO_FLAG_MMAP);
	r->size = ri.size;
	r->offset = ri.offset;
	r->has_type = caps.has_type;
	r->type = caps.type;
	r->subtype = caps.subtype;
	/* No fd, no mmap, whatever the flags say. */
	if (rep.fd < 0)
		r->flags &= ~UVFIO_REGION_INFO_FLAG_MMAP;
	if (r->flags & UVFIO_REGION_INFO_FLAG_MMAP) {
		r->fd = rep.fd;
		rep.fd = -1;
		if (caps.nr_areas) {
			r->areas = calloc(caps.nr_areas, sizeof(*r->areas));
			if (!r->areas)
				return -ENOMEM;
			memcpy(r->areas, areas, caps.nr_areas * sizeof(*areas));
			r->nr_areas = caps.nr_areas;
		}
	}
	close_fd(&rep.fd);
	return 0;
}

static int user_rw(struct uvfio_device *d, uint32_t index, const struct uvfio__region *r,
		   uint64_t off, void *buf, size_t len, bool write)
{
	struct user_conn *u = dev_conn(d);
	uint8_t *b = buf;

	while (len) {
		uint32_t n = (uint32_t)MIN((uint64_t)len, u->max_xfer);
		struct uvfio_region_access a = { .offset = off, .region = index, .count = n,
						 .data = b }, back;
		uint8_t hdr[UVFIO_REGION_ACCESS_SIZE];
		struct iovec iov[2] = { { hdr, sizeof(hdr) }, { b, n } };
		struct reply rep;
		int ret;

		uvfio_proto_region_access_encode(hdr, sizeof(hdr), false, &a);
		if (write) {
			uint8_t rb[UVFIO_REGION_ACCESS_SIZE];

			rep = (struct reply){ .buf = rb, .cap = sizeof(rb) };
			ret = call(u, UVFIO_CMD_REGION_WRITE, iov, 2, NULL, 0, &rep);
			close_fd(&rep.fd);
			if (!ret && (uvfio_proto_region_access_decode(rb, rep.len, false, &back) ||
				     back.count != n))
				ret = -EPROTO;
		} else {
			if (n + UVFIO_REGION_ACCESS_SIZE > u->buf_cap) {
				uint8_t *nb = realloc(u->buf, n + UVFIO_REGION_ACCESS_SIZE);

				if (!nb)
					return -ENOMEM;
				u->buf = nb;
				u->buf_cap = n + UVFIO_REGION_ACCESS_SIZE;
			}
			rep = (struct reply){ .buf = u->buf, .cap = n + UVFIO_REGION_ACCESS_SIZE };
			ret = call(u, UVFIO_CMD_REGION_READ, iov, 1, NULL, 0, &rep);
			close_fd(&rep.fd);
			if (!ret && (uvfio_proto_region_access_decode(u->buf, rep.len, true, &back) ||
				     back.count != n))
				ret = -EPROTO;
			if (!ret)
				memcpy(b, back.data, n);
		}
		if (ret)
			return ret;
		off += n;
		b += n;
		len -= n;
	}
	return 0;
}

static int user_mmap(struct uvfio_device *d, const struct uvfio__region *r, uint64_t off,
		     size_t len, int prot, void **addr)
{
	uint64_t at;
	void *p;

	struct stat st;

	if (r->fd < 0 || !range_ok(r->offset, off, &at) || at > INT64_MAX)
		return -EINVAL;
	/*
	 * The server's file must back the whole range: a page past its end
	 * raises SIGBUS in whoever touches it, this process. (A file the
	 * server can still shrink later is a risk left to it; docs/security.md.)
	 */
	if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    ((uint64_t)st.st_size < at || (uint64_t)st.st_size - at < len)) {
		log_err(&d->log,
			"the server's file for region %u is %lld bytes long, too short to back "
			"[0x%llx, +0x%zx) (file offset 0x%llx); mapping it would let the device crash "
			"this process with SIGBUS, so it is refused",
			(unsigned)(r - d->regions), (long long)st.st_size, (unsigned long long)off, len,
			(unsigned long long)at);
		return -EPROTO;
	}
	p = mmap(NULL, len, prot, MAP_SHARED, r->fd, (off_t)at);
	if (p == MAP_FAILED)
		return -errno;
	*addr = p;
	return 0;
}

static int user_irq_info(struct uvfio_device *d, uint32_t index, struct uvfio_irq_info *out)
{
	struct uvfio_irq_info in = { .argsz = UVFIO_IRQ_INFO_SIZE, .index = index };
	uint8_t b[UVFIO_IRQ_INFO_SIZE], r[UVFIO_IRQ_INFO_SIZE];
	struct iovec iov = { b, sizeof(b) };
	struct reply rep = { .buf = r, .cap = sizeof(r) };
	int ret;

	uvfio_proto_irq_info_encode(b, sizeof(b), &in);
	ret = call(dev_conn(d), UVFIO_CMD_DEVICE_GET_IRQ_INFO, &iov, 1, NULL, 0, &rep);
	close_fd(&rep.fd);
	if (!ret && (uvfio_proto_irq_info_decode(r, rep.len, out) || out->index != index))
		ret = -EPROTO;
	return ret;
}

static int send_set_irqs(struct user_conn *u, uint32_t flags, uint32_t index, uint32_t start,
			 uint32_t count, const int *fds, unsigned nfds, const uint8_t *bools)
{
	size_t len = UVFIO_IRQ_SET_SIZE + (bools ? count : 0);
	struct uvfio_irq_set s = { .argsz = (uint32_t)len, .flags = flags, .index = index,
				   .start = start, .count = count, .data = bools };
	uint8_t *b = malloc(len);
	struct iovec iov;
	ssize_t n;
	int ret;

	if (!b)
		return -ENOMEM;
	n = uvfio_proto_irq_set_encode(b, len, &s);
	if (n < 0) {
		free(b);
		return (int)n;
	}
	iov = (struct iovec){ b, (size_t)n };
	ret = call(u, UVFIO_CMD_DEVICE_SET_IRQS, &iov, 1, fds, nfds, NULL);
	free(b);
	return ret;
}

/*
 * EVENTFD data can't carry the kernel's "-1" in SCM_RIGHTS: send runs of
 * valid fds (at most the server's max_msg_fds each) and runs of -1 as
 * messages without fds, which unbind.
 */
static int user_set_irqs(struct uvfio_device *d, uint32_t flags, uint32_t index, uint32_t start,
			 uint32_t count, const int *fds, const uint8_t *bools)
{
	struct user_conn *u = dev_conn(d);
	uint32_t max = (uint32_t)MAX(1u, MIN(u->srv.max_msg_fds, (uint32_t)UVFIO__MAX_FDS));

	if (!(flags & UVFIO_IRQ_SET_DATA_EVENTFD) || !count)
		return send_set_irqs(u, flags, index, start, count, NULL, 0, bools);
	for (uint32_t i = 0; i < count;) {
		uint32_t n = 1;
		bool valid = fds[i] >= 0;
		int ret;

		while (i + n < count && (fds[i + n] >= 0) == valid && (!valid || n < max))
			n++;
		if (valid && !u->srv.max_msg_fds)
			return -EOPNOTSUPP;
		ret = send_set_irqs(u, flags, index, start + i, n, valid ? fds + i : NULL,
				    valid ? n : 0, NULL);
		if (ret)
			return ret;
		i += n;
	}
	return 0;
}

static int user_reset(struct uvfio_device *d)
{
	return call(dev_conn(d), UVFIO_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL);
}

static int user_poll_fd(struct uvfio_device *d)
{
	struct user_conn *u = dev_conn(d);

	return uvfio__conn_fd(u->twin ? u->twin : u->conn);
}

static int user_dispatch(struct uvfio_device *d)
{
	struct user_conn *u = dev_conn(d);
	struct uvfio__conn *c;
	int served = 0, ret = 0;

	pthread_mutex_lock(&u->io);
	c = u->twin ? u->twin : u->conn;
	/* Bounded, so a server that never stops sending can't keep us here. */
	for (unsigned seen = 0; !u->dead && seen < UVFIO_DISPATCH_MAX; seen++) {
		struct uvfio__msg m;

		ret = uvfio__conn_recv(c, &m, 0);
		if (ret == -EAGAIN) {
			ret = 0;
			break;
		}
		if (ret) {
			mark_dead(u, ret);
			ret = -ECONNRESET;
			break;
		}
		if ((m.hdr.flags & UVFIO_F_TYPE_MASK) != UVFIO_F_TYPE_COMMAND) {
			uvfio__msg_close_fds(&m);
			continue;
		}
		ret = serve_one(u, c, &m);
		if (!ret)
			ret = uvfio__conn_flush(c, (int)u->group->opts.timeout_ms);
		if (ret) {
			mark_dead(u, ret);
			ret = -ECONNRESET;
			break;
		}
		served++;
	}
	pthread_mutex_unlock(&u->io);
	return ret ? ret : served;
}

static void user_dev_close(struct uvfio_device *d)
{
	dev_conn(d)->device = NULL;
}

static const struct uvfio__device_ops user_device_ops = {
	.backend = "vfio-user",
	.info = user_info_dev,
	.region_info = user_region_info,
	.rw = user_rw,
	.mmap = user_mmap,
	.irq_info = user_irq_info,
	.set_irqs = user_set_irqs,
	.reset = user_reset,
	.poll_fd = user_poll_fd,
	.dispatch = user_dispatch,
	.close = user_dev_close,
};
