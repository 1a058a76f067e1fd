// SPDX-License-Identifier: BSD-3-Clause
/*
 * Device context: life cycle, clients, and the loops that feed messages to
 * the dispatcher.
 *
 * The caller polls one epoll fd. It holds the listening socket while no
 * client is attached, the client's socket while one is, and a "kick"
 * eventfd that is raised when messages remain buffered in user space (which
 * the kernel can't see). uvfio_emu_run() bypasses epoll and blocks in
 * recvmsg itself, so a request costs one recvmsg and one sendmsg, as in a
 * raw ping-pong.
 *
 * Server-to-client requests (DMA_READ/WRITE for memory mapped without an
 * fd) are synchronous: the model waits for the reply. Commands the client
 * pipelines meanwhile are copied into a bounded queue and handled, in
 * order, before anything newer; the wait is bounded by reply_timeout_ms.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "emu_priv.h"

#define DISPATCH_BATCH 256

int uvfio_emu_create(const struct uvfio_emu_opts *opts, struct uvfio_emu **out)
{
	struct uvfio_emu *emu;
	uint32_t mode;

	if (!opts || !out || opts->argsz < sizeof(*opts))
		return -EINVAL;
	if (opts->flags & ~(UVFIO_EMU_F_FD_LISTENING | UVFIO_EMU_F_FD_CONNECTED))
		return -EINVAL;
	mode = opts->flags & (UVFIO_EMU_F_FD_LISTENING | UVFIO_EMU_F_FD_CONNECTED);
	if (mode == (UVFIO_EMU_F_FD_LISTENING | UVFIO_EMU_F_FD_CONNECTED))
		return -EINVAL;
	if (!mode && (!opts->socket_path || !opts->socket_path[0]))
		return -EINVAL;
	if (mode && opts->fd < 0)
		return -EINVAL;
	if (opts->max_msg_fds > UVFIO__MAX_FDS)
		return -EINVAL;

	emu = calloc(1, sizeof(*emu));
	if (!emu)
		return -ENOMEM;
	emu->epfd = emu->lfd = emu->kick_fd = emu->given_fd = -1;
	emu->flags = opts->flags;
	if (mode)
		emu->given_fd = opts->fd;
	emu->ops = opts->ops;
	emu->priv = opts->priv;
	emu->max_xfer = opts->max_data_xfer_size ? opts->max_data_xfer_size : EMU_DEF_XFER;
	emu->max_fds = opts->max_msg_fds ? opts->max_msg_fds : EMU_DEF_FDS;
	emu->max_dma_maps = opts->max_dma_maps ? opts->max_dma_maps : EMU_DEF_DMA_MAPS;
	emu->reply_timeout_ms = opts->reply_timeout_ms ? opts->reply_timeout_ms : EMU_DEF_TIMEOUT;
	emu->log.fn = opts->log;
	emu->log.priv = opts->log_priv;
	emu->log.level = opts->log_level;
	emu->irqs.active_type = -1;
	emu->irqs.msi_capi = -1;
	emu->irqs.msix_capi = -1;
	for (unsigned i = 0; i < EMU_MAX_REGIONS; i++)
		emu->regions[i].memfd = -1;
	emu->name = strdup(opts->name ? opts->name : "uvfio-emu");
	if (!mode)
		emu->socket_path = strdup(opts->socket_path);
	if (!emu->name || (!mode && !emu->socket_path)) {
		uvfio_emu_destroy(emu);
		return -ENOMEM;
	}
	emu->log.prefix = emu->name;
	*out = emu;
	return 0;
}

static void queue_free(struct uvfio_emu *emu)
{
	while (emu->q_head) {
		struct queued_msg *q = emu->q_head;

		emu->q_head = q->next;
		close_fds(q->fds, q->nfds);
		free(q);
	}
	emu->q_tail = NULL;
	emu->q_count = 0;
	emu->q_bytes = 0;
}

void uvfio_emu_destroy(struct uvfio_emu *emu)
{
	if (!emu)
		return;
	if (emu->conn)
		uvfio__emu_detach(emu);
	uvfio__dmat_destroy(emu->dma);
	close_fd(&emu->lfd);
	close_fd(&emu->kick_fd);
	close_fd(&emu->epfd);
	/* A given fd not yet turned into a connection is still ours to close. */
	close_fd(&emu->given_fd);
	if (emu->unlink_path && emu->socket_path)
		unlink(emu->socket_path);
	uvfio__emu_irqs_free(emu);
	uvfio__emu_regions_free(emu);
	uvfio__emu_cfg_free(emu);
	uvfio__emu_caps_free(emu);
	free(emu->scratch);
	free(emu->bounce);
	free(emu->socket_path);
	free(emu->name);
	free(emu);
}

void uvfio_emu_set_log_level(struct uvfio_emu *emu, int level)
{
	emu->log.level = level;
}

int uvfio_emu_setup_pci(struct uvfio_emu *emu, const struct uvfio_emu_pci_id *id)
{
	if (emu->realized)
		return -EBUSY;
	if (!id || id->argsz < sizeof(*id) || id->vendor_id == 0xffff || id->class_code > 0xffffff)
		return -EINVAL;
	emu->id = *id;
	emu->id_set = true;
	return 0;
}

bool uvfio_emu_attached(const struct uvfio_emu *emu)
{
	return emu->conn != NULL;
}

void uvfio_emu_interrupt(struct uvfio_emu *emu)
{
	emu->interrupted = 1;
}

int uvfio_emu_get_poll_fd(const struct uvfio_emu *emu)
{
	return emu->epfd;
}

int uvfio__emu_scratch(struct uvfio_emu *emu, size_t len, uint8_t **out)
{
	if (len > emu->scratch_cap) {
		uint8_t *n = realloc(emu->scratch, len);

		if (!n)
			return -ENOMEM;
		emu->scratch = n;
		emu->scratch_cap = len;
	}
	*out = emu->scratch;
	return 0;
}

static int ep_set(struct uvfio_emu *emu, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(emu->epfd, op, fd, &ev) ? -errno : 0;
}

int uvfio_emu_realize(struct uvfio_emu *emu)
{
	int ret;

	if (emu->realized)
		return -EBUSY;
	if (!emu->id_set) {
		log_err(&emu->log, "the device has no PCI identity: call uvfio_emu_setup_pci() first");
		return -EINVAL;
	}
	ret = uvfio__emu_irqs_realize(emu);
	if (ret)
		return ret;
	ret = uvfio__emu_regions_realize(emu);
	if (ret)
		return ret;
	ret = uvfio__emu_caps_layout(emu);
	if (ret)
		return ret;
	ret = uvfio__emu_cfg_realize(emu);
	if (ret)
		return ret;
	ret = uvfio__dmat_create(emu->max_dma_maps, &emu->dma);
	if (ret)
		return ret;

	emu->epfd = epoll_create1(EPOLL_CLOEXEC);
	emu->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (emu->epfd < 0 || emu->kick_fd < 0)
		return -errno;
	ret = ep_set(emu, EPOLL_CTL_ADD, emu->kick_fd, EPOLLIN);
	if (ret)
		return ret;

	if (emu->flags & UVFIO_EMU_F_FD_LISTENING) {
		emu->lfd = emu->given_fd;
		emu->given_fd = -1;
		if (fcntl(emu->lfd, F_SETFL, fcntl(emu->lfd, F_GETFL) | O_NONBLOCK) < 0)
			return -errno;
	} else if (!(emu->flags & UVFIO_EMU_F_FD_CONNECTED)) {
		emu->lfd = uvfio__sock_listen(emu->socket_path);
		if (emu->lfd < 0) {
			ret = emu->lfd;
			emu->lfd = -1;
			log_err(&emu->log, "cannot listen on %s: %s", emu->socket_path,
				ret == -EADDRINUSE ? "another server is running on it"
						   : strerror(-ret));
			return ret;
		}
		emu->unlink_path = true;
	}
	if (emu->lfd >= 0) {
		ret = ep_set(emu, EPOLL_CTL_ADD, emu->lfd, EPOLLIN);
		if (ret)
			return ret;
	}
	emu->realized = true;
	log_info(&emu->log, "device %04x:%04x realized; %s", emu->id.vendor_id, emu->id.device_id,
		 emu->socket_path ? emu->socket_path : "serving a given fd");
	return 0;
}

/* --- clients ----------------------------------------------------------------- */

static int attach_fd(struct uvfio_emu *emu, int fd)
{
	struct uvfio__conn_opts co = {
		/* Until VERSION: room for a VERSION message only, no fds. */
		.max_msg_size = UVFIO_HDR_SIZE + 4 + UVFIO_PROTO_JSON_MAX,
		.max_fds = 0,
		.log = &emu->log,
	};
	/*
	 * Blocking waits in uvfio_emu_run() wake up this often to notice
	 * uvfio_emu_interrupt() when the signal missed the system call.
	 */
	struct timeval tv = { .tv_sec = EMU_WAKE_MS / 1000, .tv_usec = (EMU_WAKE_MS % 1000) * 1000 };
	int ret;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = uvfio__conn_create(fd, &co, &emu->conn);
	if (ret)
		return ret;
	ret = ep_set(emu, EPOLL_CTL_ADD, fd, EPOLLIN);
	if (ret) {
		uvfio__conn_destroy(emu->conn);
		emu->conn = NULL;
		return ret;
	}
	if (emu->lfd >= 0)
		epoll_ctl(emu->epfd, EPOLL_CTL_DEL, emu->lfd, NULL);
	emu->negotiated = false;
	emu->drop = false;
	emu->next_id = 0;
	uvfio_proto_caps_default(&emu->peer);
	log_info(&emu->log, "client connected");
	return 0;
}

static int accept_client(struct uvfio_emu *emu, bool nonblock)
{
	int fd;

	if (emu->conn)
		return 0;
	if (emu->flags & UVFIO_EMU_F_FD_CONNECTED) {
		if (emu->conn_was_given)
			return -ENOTCONN;
		emu->conn_was_given = true;
		fd = emu->given_fd;
		emu->given_fd = -1;
		return attach_fd(emu, fd);
	}
	for (;;) {
		fd = uvfio__sock_accept(emu->lfd, nonblock ? 0 : EMU_WAKE_MS);
		if (fd >= 0)
			return attach_fd(emu, fd);
		if (fd != -ETIMEDOUT)
			return fd;
		if (emu->interrupted)
			return -EINTR;
	}
}

void uvfio__emu_detach(struct uvfio_emu *emu)
{
	if (!emu->conn)
		return;
	epoll_ctl(emu->epfd, EPOLL_CTL_DEL, uvfio__conn_fd(emu->conn), NULL);
	uvfio__conn_destroy(emu->conn);
	emu->conn = NULL;
	uvfio__conn_destroy(emu->twin);
	emu->twin = NULL;
	queue_free(emu);
	uvfio__emu_dma_drop(emu);
	uvfio__emu_irqs_drop(emu);
	emu->negotiated = false;
	emu->write_multi = false;
	if (emu->lfd >= 0)
		ep_set(emu, EPOLL_CTL_ADD, emu->lfd, EPOLLIN);
	log_info(&emu->log, "client disconnected");
	if (emu->attached_cb && emu->ops && emu->ops->detach)
		emu->ops->detach(emu->priv);
	emu->attached_cb = false;
}

/* --- message loop -------------------------------------------------------------- */

static void handle_msg(struct uvfio_emu *emu, struct uvfio__msg *m)
{
	struct uvfio__conn *c = emu->conn;

	/*
	 * A handler may wait for a DMA_READ/WRITE reply on this connection;
	 * the payload it and the model point into must stay where it is.
	 */
	uvfio__conn_hold(c);
	uvfio__emu_handle(emu, &m->hdr, m->payload, m->len, m->fds, m->nfds, m->status);
	uvfio__msg_close_fds(m);
	if (emu->conn == c)
		uvfio__conn_release(c);
}

static bool handle_queued(struct uvfio_emu *emu)
{
	struct queued_msg *q = emu->q_head;

	if (!q)
		return false;
	emu->q_head = q->next;
	if (!emu->q_head)
		emu->q_tail = NULL;
	emu->q_count--;
	emu->q_bytes -= q->len;
	uvfio__emu_handle(emu, &q->hdr, q->payload, q->len, q->fds, q->nfds, q->status);
	close_fds(q->fds, q->nfds);
	free(q);
	return true;
}

static void update_pollout(struct uvfio_emu *emu)
{
	if (emu->conn)
		ep_set(emu, EPOLL_CTL_MOD, uvfio__conn_fd(emu->conn),
		       EPOLLIN | (uvfio__conn_want_write(emu->conn) ? EPOLLOUT : 0));
}

/* After a message: drop the client if a handler or the transport asked. */
static bool after_msg(struct uvfio_emu *emu)
{
	if (emu->drop && emu->conn) {
		uvfio__conn_flush(emu->conn, 0);
		uvfio__emu_detach(emu);
		return false;
	}
	return emu->conn != NULL;
}

static void recv_failed(struct uvfio_emu *emu, int ret)
{
	if (ret == -ECONNRESET)
		log_info(&emu->log, "client closed the connection");
	else
		log_err(&emu->log, "dropping the client: %s", strerror(-ret));
	uvfio__emu_detach(emu);
}

int uvfio_emu_dispatch(struct uvfio_emu *emu)
{
	uint64_t v;
	int n = 0, ret;

	if (!emu->realized)
		return -EINVAL;
	if (read(emu->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	if (!emu->conn) {
		ret = accept_client(emu, true);
		if (ret == -EAGAIN || ret == -ENOTCONN)
			return 0;
		if (ret)
			return ret;
	}
	ret = uvfio__conn_flush(emu->conn, 0);
	if (ret && ret != -EAGAIN) {
		recv_failed(emu, ret);
		return 0;
	}
	while (n < DISPATCH_BATCH && emu->conn) {
		struct uvfio__msg m;

		if (handle_queued(emu)) {
			n++;
			after_msg(emu);
			continue;
		}
		ret = uvfio__conn_recv(emu->conn, &m, 0);
		if (ret == -EAGAIN)
			break;
		if (ret) {
			recv_failed(emu, ret);
			break;
		}
		handle_msg(emu, &m);
		n++;
		after_msg(emu);
	}
	if (emu->conn) {
		if (n == DISPATCH_BATCH && (emu->q_head || uvfio__conn_has_buffered(emu->conn))) {
			v = 1;
			if (write(emu->kick_fd, &v, sizeof(v)) < 0)
				return -errno;
		}
		ret = uvfio__conn_flush(emu->conn, 0);
		if (ret && ret != -EAGAIN)
			recv_failed(emu, ret);
		update_pollout(emu);
	}
	return n;
}

/* Block until the socket is readable or writable, for a pending send queue. */
static int wait_rw(struct uvfio_emu *emu)
{
	struct pollfd p = { .fd = uvfio__conn_fd(emu->conn), .events = POLLIN | POLLOUT };

	if (poll(&p, 1, EMU_WAKE_MS) < 0)
		return -errno;
	return 0;
}

int uvfio_emu_run(struct uvfio_emu *emu)
{
	int ret;

	if (!emu->realized)
		return -EINVAL;
	if (!emu->conn) {
		ret = accept_client(emu, false);
		if (ret == -EINTR)
			emu->interrupted = 0;
		if (ret)
			return ret;
	}
	for (;;) {
		struct uvfio__msg m;

		if (emu->interrupted) {
			emu->interrupted = 0;
			return -EINTR;
		}

		if (handle_queued(emu)) {
			if (!after_msg(emu))
				return 0;
			continue;
		}
		ret = uvfio__conn_flush(emu->conn, 0);
		if (ret && ret != -EAGAIN) {
			recv_failed(emu, ret);
			return 0;
		}
		if (uvfio__conn_want_write(emu->conn)) {
			ret = wait_rw(emu);
			if (ret)
				return ret;
			ret = uvfio__conn_recv(emu->conn, &m, 0);
			if (ret == -EAGAIN)
				continue;
		} else {
			ret = uvfio__conn_recv(emu->conn, &m, -1);
		}
		if (ret == -EAGAIN)
			continue; /* SO_RCVTIMEO: look at interrupted */
		if (ret == -EINTR) {
			emu->interrupted = 0;
			return -EINTR;
		}
		if (ret) {
			recv_failed(emu, ret);
			return 0;
		}
		handle_msg(emu, &m);
		if (!after_msg(emu))
			return 0;
	}
}

/* --- server-to-client requests --------------------------------------------------- */

static int enqueue(struct uvfio_emu *emu, struct uvfio__msg *m)
{
	struct queued_msg *q;

	if (emu->q_count >= EMU_QUEUE_MAX || emu->q_bytes + m->len > 4 * (size_t)emu->max_xfer)
		return -ENOBUFS;
	q = malloc(sizeof(*q) + m->len);
	if (!q)
		return -ENOMEM;
	q->next = NULL;
	q->hdr = m->hdr;
	q->status = m->status;
	q->len = m->len;
	memcpy(q->payload, m->payload, m->len);
	q->nfds = m->nfds;
	memcpy(q->fds, m->fds, m->nfds * sizeof(int));
	m->nfds = 0;
	if (emu->q_tail)
		emu->q_tail->next = q;
	else
		emu->q_head = q;
	emu->q_tail = q;
	emu->q_count++;
	emu->q_bytes += q->len;
	return 0;
}

/*
 * Send a command to the client and wait for its reply. The reply payload
 * (after a successful reply) is copied into @rbuf, which must be exactly
 * @rlen bytes long, except that a shorter reply is accepted for DMA_WRITE.
 */
int uvfio__emu_s2c(struct uvfio_emu *emu, uint16_t cmd, const struct iovec *iov, int iovcnt,
		   void *rbuf, size_t rlen)
{
	struct uvfio__conn *c = emu->twin ? emu->twin : emu->conn;
	struct uvfio_hdr h = { .cmd = cmd, .flags = UVFIO_F_TYPE_COMMAND };
	struct uvfio_proto_limits lim = { .max_data_xfer_size = emu->max_xfer, .max_msg_fds = 0 };
	int ret;

	if (!c || !emu->negotiated)
		return -ENOTCONN;
	h.id = emu->next_id++;
	ret = uvfio__conn_send(c, &h, iov, iovcnt, NULL, 0);
	if (!ret)
		ret = uvfio__conn_flush(c, (int)emu->reply_timeout_ms);
	if (ret)
		goto fail;
	for (;;) {
		struct uvfio__msg m;
		bool is_reply;

		ret = uvfio__conn_recv(c, &m, (int)emu->reply_timeout_ms);
		if (ret)
			goto fail;
		is_reply = (m.hdr.flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_REPLY;
		if (!is_reply && c == emu->conn) {
			ret = enqueue(emu, &m);
			uvfio__msg_close_fds(&m);
			if (ret) {
				log_warn(&emu->log, "the client sent too many commands while a %s was "
						    "outstanding", uvfio_proto_cmd_name(cmd));
				/* That command is gone unanswered: the stream can't go on. */
				emu->drop = true;
				return ret;
			}
			continue;
		}
		if (!is_reply || m.hdr.id != h.id || m.hdr.cmd != cmd) {
			log_warn(&emu->log, "ignoring an unexpected message (id %u, %s) from the client",
				 m.hdr.id, uvfio_proto_cmd_name(m.hdr.cmd));
			uvfio__msg_close_fds(&m);
			continue;
		}
		ret = m.status ? m.status : uvfio_proto_check(&m.hdr, m.nfds, &lim);
		uvfio__msg_close_fds(&m);
		if (ret)
			return -EIO;
		if (m.hdr.flags & UVFIO_F_ERROR)
			return -(int)(m.hdr.error ? m.hdr.error : EIO);
		if (m.len != rlen && !(cmd == UVFIO_CMD_DMA_WRITE && m.len <= rlen))
			return -EIO;
		memcpy(rbuf, m.payload, m.len);
		return 0;
	}
fail:
	if (ret == -ETIMEDOUT)
		log_err(&emu->log, "the client did not answer a %s within %u ms",
			uvfio_proto_cmd_name(cmd), emu->reply_timeout_ms);
	else if (c == emu->conn && ret != -ENOBUFS)
		emu->drop = true;
	return ret;
}

/* --- reset ------------------------------------------------------------------------ */

int uvfio__emu_function_reset(struct uvfio_emu *emu, enum uvfio_emu_reset_reason why)
{
	uvfio__emu_irqs_reset(emu);
	uvfio__emu_cfg_reset(emu);
	if (emu->ops && emu->ops->reset)
		return emu->ops->reset(emu->priv, why);
	return 0;
}
