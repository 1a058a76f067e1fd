/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Message framing over an AF_UNIX stream socket, with SCM_RIGHTS fds.
 *
 * The transport knows the 16-byte header and nothing about commands. It
 * reads greedily (one recvmsg usually brings a whole message, or several),
 * hands out complete messages that point into its receive buffer, discards
 * messages larger than the negotiated limit without losing the frame
 * boundary, and attributes every received fd to exactly one message.
 *
 * fd attribution: Linux ends a stream recvmsg right after the first chunk
 * that carries fds, so the fds of one recvmsg belong to the message holding
 * the last byte that recvmsg returned, provided the peer sends each message
 * that carries fds with a sendmsg of its own starting at the header — which
 * is what QEMU, libvfio-user and uvfio do. A peer that does otherwise gets
 * its fds attributed to a neighbouring message, which then fails its fd
 * check; nothing leaks, since every fd is owned by exactly one message.
 */
#ifndef UVFIO_TRANSPORT_H
#define UVFIO_TRANSPORT_H

#include <sys/uio.h>

#include "uvfio/proto.h"
#include "util/log.h"

/* Most fds one message may carry, whatever is negotiated (SCM_MAX_FD is 253). */
#define UVFIO__MAX_FDS 64

struct uvfio__conn;

/**
 * struct uvfio__msg - one received message.
 * @hdr:     decoded header
 * @payload: hdr.size - 16 bytes; points into the connection's buffer and is
 *           valid until the next uvfio__conn_recv() on that connection
 * @len:     payload length
 * @fds:     fds that came with it; the receiver owns them: it closes them
 *           (uvfio__msg_close_fds) or takes them (setting the slot to -1)
 * @nfds:    number of valid entries in @fds
 * @status:  0; -EMSGSIZE when the message exceeded the size limit (the
 *           payload was discarded, @payload is NULL, @len 0); -ETOOMANYREFS
 *           when more fds arrived than allowed (the extra ones were closed)
 */
struct uvfio__msg {
	struct uvfio_hdr hdr;
	const uint8_t *payload;
	size_t len;
	int fds[UVFIO__MAX_FDS];
	unsigned nfds;
	int status;
};

struct uvfio__conn_opts {
	uint64_t max_msg_size;          /* bytes, header included */
	uint32_t max_fds;               /* per message, <= UVFIO__MAX_FDS */
	size_t max_queued;              /* unsent bytes before sends fail; 0 = 4 x max_msg_size */
	const struct uvfio__log *log;   /* may be NULL */
};

/**
 * uvfio__conn_create() - wrap a connected stream socket.
 * @fd:   the socket; owned by the connection from now on, even on failure
 * @opts: limits
 * @out:  the new connection; free with uvfio__conn_destroy()
 *
 * Return: 0 or -ENOMEM.
 */
int uvfio__conn_create(int fd, const struct uvfio__conn_opts *opts, struct uvfio__conn **out);

/* Close the socket, every fd still pending, and free. Accepts NULL. */
void uvfio__conn_destroy(struct uvfio__conn *c);

int uvfio__conn_fd(const struct uvfio__conn *c);

/* Change the limits (after VERSION). Messages already buffered are kept. */
void uvfio__conn_set_limits(struct uvfio__conn *c, uint64_t max_msg_size, uint32_t max_fds);

/**
 * uvfio__conn_recv() - next complete message.
 * @c:          connection
 * @m:          filled on success
 * @timeout_ms: 0 never waits; -1 blocks (in recvmsg, without poll); > 0
 *              waits at most that long
 *
 * Return: 0 with a message; -EAGAIN (nothing complete, timeout 0);
 * -ETIMEDOUT; -EINTR (a signal arrived while blocked); -ECONNRESET (the
 * peer closed or reset the connection); -EPROTO (a header announced a size
 * below 16: the stream cannot be framed any more); -ENOMEM.
 */
int uvfio__conn_recv(struct uvfio__conn *c, struct uvfio__msg *m, int timeout_ms);

/**
 * uvfio__conn_hold() - keep the message last returned where it is.
 *
 * Until uvfio__conn_release(), further uvfio__conn_recv() calls hand out
 * the messages after it without moving or freeing its bytes, so a handler
 * may receive (a reply it waits for) while pointers into the held payload
 * stay valid. One message at a time.
 */
void uvfio__conn_hold(struct uvfio__conn *c);
void uvfio__conn_release(struct uvfio__conn *c);

/* True when bytes are buffered beyond the message last returned. */
bool uvfio__conn_has_buffered(const struct uvfio__conn *c);

/**
 * uvfio__conn_send() - send one message.
 * @c:     connection
 * @h:     header; its size field is computed here
 * @iov:   payload pieces (may be NULL with @iovcnt 0)
 * @fds:   fds to pass; still owned by the caller afterwards
 *
 * Never blocks. What the socket doesn't take now is queued (fds dup'ed)
 * and goes out on uvfio__conn_flush().
 *
 * Return: 0; -ENOBUFS when the queue limit would be exceeded (the peer is
 * not reading); -EPIPE/-ECONNRESET when the peer is gone; -ENOMEM.
 */
int uvfio__conn_send(struct uvfio__conn *c, const struct uvfio_hdr *h, const struct iovec *iov,
		     int iovcnt, const int *fds, unsigned nfds);

/**
 * uvfio__conn_flush() - push queued bytes out.
 * @timeout_ms: 0 tries once; -1 waits until all is sent; > 0 waits at most
 *
 * Return: 0 when the queue is empty; -EAGAIN (timeout 0) or -ETIMEDOUT when
 * bytes remain; -EPIPE/-ECONNRESET; -EINTR.
 */
int uvfio__conn_flush(struct uvfio__conn *c, int timeout_ms);

/* True when bytes wait in the send queue (poll for POLLOUT). */
bool uvfio__conn_want_write(const struct uvfio__conn *c);

/* Close every fd of a message and set nfds to 0. */
void uvfio__msg_close_fds(struct uvfio__msg *m);

/* --- sockets ------------------------------------------------------------- */

/**
 * uvfio__sock_listen() - create, bind and listen on a UNIX socket path.
 *
 * Refuses to replace an existing path unless it is a socket nobody listens
 * on (a stale one left by a crash), which is removed first.
 *
 * Return: the listening fd (CLOEXEC), or -errno (-EADDRINUSE when a live
 * server owns the path, -ENAMETOOLONG when the path doesn't fit sun_path).
 */
int uvfio__sock_listen(const char *path);

/* Connect to a UNIX socket path. Return: fd (CLOEXEC) or -errno. */
int uvfio__sock_connect(const char *path);

/**
 * uvfio__sock_accept() - accept a client (CLOEXEC).
 * @timeout_ms: 0 doesn't wait; -1 waits forever; > 0 waits at most that long
 *
 * Return: the fd, or -EAGAIN (timeout 0, nobody waiting), -ETIMEDOUT,
 * -EINTR, another -errno.
 */
int uvfio__sock_accept(int lfd, int timeout_ms);

#endif /* UVFIO_TRANSPORT_H */
