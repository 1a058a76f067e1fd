// SPDX-License-Identifier: BSD-3-Clause
/*
 * The raw test client and its forked server. See peer.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define SERVER_FD_LEAK_EXIT 3
#define SERVER_FAIL_EXIT    4

static int fd_list(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) && n < max)
			out[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

static bool same_fds(const int *a, int na, const int *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		bool found = false;

		for (int j = 0; j < nb; j++)
			found |= a[i] == b[j];
		if (!found)
			return false;
	}
	return true;
}

static void server_main(int fd, const struct peer_server_opts *o)
{
	struct uvfio_emu_opts eo = {
		.argsz = sizeof(eo),
		.flags = UVFIO_EMU_F_FD_CONNECTED,
		.fd = fd,
		.log_level = o ? o->log_level : 0,
		.max_data_xfer_size = o ? o->max_data_xfer_size : 0,
		.max_dma_maps = o ? o->max_dma_maps : 0,
		.reply_timeout_ms = o ? o->reply_timeout_ms : 0,
	};
	int before[256], after[256], nb, na, ret;
	struct dma_dev *dev = NULL;
	struct uvfio_emu *emu;

	if (o && o->model) {
		if (o->model(&eo, &emu))
			_exit(SERVER_FAIL_EXIT);
	} else {
		if (dma_dev_create(&eo, &dev))
			_exit(SERVER_FAIL_EXIT);
		emu = dma_dev_emu(dev);
	}
	nb = fd_list(before, 256);
	do {
		ret = uvfio_emu_run(emu);
	} while (ret == 0 || ret == -EINTR);
	na = fd_list(after, 256);
	/* The connection's fd was open before and must be closed now. */
	for (int i = 0; i < nb; i++)
		if (before[i] == fd)
			before[i] = before[--nb];
	if (dev)
		dma_dev_destroy(dev);
	else
		uvfio_emu_destroy(emu);
	if (ret != -ENOTCONN)
		exit(SERVER_FAIL_EXIT);
	if (!same_fds(before, nb, after, na)) {
		fprintf(stderr, "server: %d fds open after the session, %d before\n", na, nb);
		exit(SERVER_FD_LEAK_EXIT);
	}
	exit(0);
}

int peer_start(struct peer *p, const struct peer_server_opts *o)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	p->timeout_ms = 5000;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fflush(NULL);
	p->server = fork();
	if (p->server < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (p->server == 0) {
		close(sv[0]);
		server_main(sv[1], o);
	}
	close(sv[1]);
	p->fd = sv[0];
	return 0;
}

static struct uvfio_emu *path_emu;
static volatile sig_atomic_t path_stop;

static void path_on_term(int sig)
{
	(void)sig;
	path_stop = 1;
	uvfio_emu_interrupt(path_emu);
}

/* Serve clients on @path until SIGTERM arrives while none is attached. */
static void path_server_main(const char *path, int ready, const struct peer_server_opts *o)
{
	struct uvfio_emu_opts eo = {
		.argsz = sizeof(eo),
		.socket_path = path,
		.log_level = o ? o->log_level : 0,
		.max_data_xfer_size = o ? o->max_data_xfer_size : 0,
		.max_dma_maps = o ? o->max_dma_maps : 0,
		.reply_timeout_ms = o ? o->reply_timeout_ms : 0,
	};
	struct sigaction sa = { .sa_handler = path_on_term };
	int before[256], after[256], nb, na, ret;
	struct dma_dev *dev = NULL;
	char ok = 1;

	/* No SA_RESTART: a blocked wait returns EINTR and uvfio_emu_run() -EINTR. */
	sigemptyset(&sa.sa_mask);
	if (o && o->model) {
		if (o->model(&eo, &path_emu))
			_exit(SERVER_FAIL_EXIT);
	} else {
		if (dma_dev_create(&eo, &dev))
			_exit(SERVER_FAIL_EXIT);
		path_emu = dma_dev_emu(dev);
	}
	if (sigaction(SIGTERM, &sa, NULL) || write(ready, &ok, 1) != 1)
		_exit(SERVER_FAIL_EXIT);
	close(ready);
	nb = fd_list(before, 256);
	for (;;) {
		ret = uvfio_emu_run(path_emu);
		if (ret && ret != -EINTR)
			exit(SERVER_FAIL_EXIT);
		if (path_stop && !uvfio_emu_attached(path_emu))
			break;
	}
	na = fd_list(after, 256);
	if (dev)
		dma_dev_destroy(dev);
	else
		uvfio_emu_destroy(path_emu);
	if (!same_fds(before, nb, after, na)) {
		fprintf(stderr, "server: %d fds open after the sessions, %d before\n", na, nb);
		exit(SERVER_FD_LEAK_EXIT);
	}
	exit(0);
}

int peer_connect(const struct peer *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(p->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, p->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int peer_server_fds(const struct peer *p)
{
	char path[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)p->server);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int peer_server_maps(const struct peer *p, const char *what)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->server);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

int peer_start_path(struct peer *p, const struct peer_server_opts *o)
{
	struct pollfd pf = { .events = POLLIN };
	int ready[2], ret;
	char ok = 0;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	p->timeout_ms = 5000;
	snprintf(p->dir, sizeof(p->dir), "/tmp/uvfio-test-XXXXXX");
	if (!mkdtemp(p->dir))
		return -errno;
	snprintf(p->path, sizeof(p->path), "%s/dma.sock", p->dir);
	if (pipe2(ready, O_CLOEXEC)) {
		ret = -errno;
		rmdir(p->dir);
		return ret;
	}
	fflush(NULL);
	p->server = fork();
	if (p->server < 0) {
		ret = -errno;
		close(ready[0]);
		close(ready[1]);
		rmdir(p->dir);
		return ret;
	}
	if (p->server == 0) {
		/* If the test dies without peer_stop(), don't serve forever. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		close(ready[0]);
		path_server_main(p->path, ready[1], o);
	}
	close(ready[1]);
	/* Wait until the server listens; connecting earlier would fail. */
	pf.fd = ready[0];
	ret = poll(&pf, 1, 10000) == 1 && read(ready[0], &ok, 1) == 1 && ok == 1 ? 0 : -EIO;
	close(ready[0]);
	if (!ret) {
		p->fd = peer_connect(p);
		ret = p->fd < 0 ? p->fd : 0;
	}
	return ret;
}

int peer_stop(struct peer *p)
{
	int status = 0;

	int ret = -1;

	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (p->dir[0])
		kill(p->server, SIGTERM);
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(p->server, &status, WNOHANG);

		if (r == p->server) {
			ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		usleep(10000);
	}
	if (ret == -1) {
		kill(p->server, SIGKILL);
		waitpid(p->server, &status, 0);
	}
	if (p->dir[0]) {
		unlink(p->path);
		if (rmdir(p->dir) && ret == 0)
			ret = -1;
		p->dir[0] = '\0';
	}
	return ret;
}

int peer_sendmsg(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * PEER_MAX_SEND_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t sent = 0;

	if (nfds > PEER_MAX_SEND_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	while (sent < len || (nfds && !sent)) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		sent += (size_t)n;
		iov.iov_base = (char *)buf + sent;
		iov.iov_len = len - sent;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		nfds = 0;
	}
	return 0;
}

int peer_send_raw(struct peer *p, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	return peer_sendmsg(p->fd, buf, len, fds, nfds);
}

static int send_fd(int fd, const struct uvfio_hdr *h, const void *payload, size_t len,
		   const int *fds, unsigned nfds)
{
	uint8_t *buf = malloc(UVFIO_HDR_SIZE + len);
	struct uvfio_hdr hh = *h;
	int ret;

	if (!buf)
		return -ENOMEM;
	hh.size = (uint32_t)(UVFIO_HDR_SIZE + len);
	uvfio_proto_hdr_encode(buf, &hh);
	if (len)
		memcpy(buf + UVFIO_HDR_SIZE, payload, len);
	ret = peer_sendmsg(fd, buf, UVFIO_HDR_SIZE + len, fds, nfds);
	free(buf);
	return ret;
}

int peer_send(struct peer *p, const struct uvfio_hdr *h, const void *payload, size_t len,
	      const int *fds, unsigned nfds)
{
	return send_fd(p->fd, h, payload, len, fds, nfds);
}

/* Read exactly @len bytes; collect fds into @m. */
static int read_exact(int fd, int timeout_ms, uint8_t *buf, size_t len, struct peer_msg *m)
{
	size_t got = 0;

	while (got < len) {
		union {
			char b[CMSG_SPACE(sizeof(int) * PEER_MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf + got, .iov_len = len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r = poll(&pf, 1, timeout_ms);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			int fds[PEER_MAX_FDS];

			memcpy(fds, CMSG_DATA(cm), k * sizeof(int));
			for (size_t i = 0; i < k; i++) {
				if (m->nfds < PEER_MAX_FDS)
					m->fds[m->nfds++] = fds[i];
				else
					close(fds[i]);
			}
		}
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

int peer_recv(struct peer *p, struct peer_msg *m)
{
	return peer_recv_fd(p, p->fd, m);
}

int peer_recv_fd(struct peer *p, int fd, struct peer_msg *m)
{
	uint8_t hdr[UVFIO_HDR_SIZE];
	int ret;

	memset(m, 0, sizeof(*m));
	ret = read_exact(fd, p->timeout_ms, hdr, sizeof(hdr), m);
	if (ret)
		goto fail;
	uvfio_proto_hdr_decode(hdr, &m->hdr);
	if (m->hdr.size < UVFIO_HDR_SIZE || m->hdr.size > (64u << 20)) {
		ret = -EPROTO;
		goto fail;
	}
	m->len = m->hdr.size - UVFIO_HDR_SIZE;
	m->payload = malloc(m->len + 1);
	if (!m->payload) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = read_exact(fd, p->timeout_ms, m->payload, m->len, m);
	if (ret)
		goto fail;
	return 0;
fail:
	peer_msg_free(m);
	return ret;
}

void peer_msg_free(struct peer_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
	free(m->payload);
	m->payload = NULL;
}

int peer_call(struct peer *p, uint16_t cmd, const void *payload, size_t len, const int *fds,
	      unsigned nfds, struct peer_msg *m)
{
	struct uvfio_hdr h = { .id = p->next_id++, .cmd = cmd };
	int ret;

	memset(m, 0, sizeof(*m));
	ret = peer_send(p, &h, payload, len, fds, nfds);
	if (ret)
		return ret;
	ret = peer_recv(p, m);
	if (!ret && (m->hdr.id != h.id || m->hdr.cmd != cmd)) {
		fprintf(stderr, "# reply id %u cmd %u to request id %u cmd %u\n", m->hdr.id,
			m->hdr.cmd, h.id, cmd);
	}
	return ret;
}

static int reply_rc(struct peer *p, uint16_t id, uint16_t cmd, const struct peer_msg *m)
{
	if (m->hdr.id != id || m->hdr.cmd != cmd ||
	    (m->hdr.flags & UVFIO_F_TYPE_MASK) != UVFIO_F_TYPE_REPLY)
		return -EPROTO;
	if (m->hdr.flags & UVFIO_F_ERROR)
		return -(int)m->hdr.error;
	return 0;
}

int peer_call_rc(struct peer *p, uint16_t cmd, const void *payload, size_t len, const int *fds,
		 unsigned nfds, struct peer_msg *m)
{
	uint16_t id = p->next_id;
	int ret = peer_call(p, cmd, payload, len, fds, nfds, m);

	return ret ? ret : reply_rc(p, id, cmd, m);
}

int peer_recv_rc(struct peer *p, uint16_t id, uint16_t cmd, struct peer_msg *m)
{
	int ret = peer_recv(p, m);

	return ret ? ret : reply_rc(p, id, cmd, m);
}

bool peer_quiet(int fd, int ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	return poll(&pf, 1, ms) == 0;
}

int peer_version_msg(struct peer *p, uint16_t major, uint16_t minor, const void *json,
		     size_t jlen, const int *fds, unsigned nfds, struct peer_msg *m)
{
	uint8_t *b = malloc(4 + jlen);
	int ret;

	memset(m, 0, sizeof(*m));
	if (!b)
		return -ENOMEM;
	put_le16(b, major);
	put_le16(b + 2, minor);
	if (jlen)
		memcpy(b + 4, json, jlen);
	ret = peer_call_rc(p, UVFIO_CMD_VERSION, b, 4 + jlen, fds, nfds, m);
	free(b);
	return ret;
}

int peer_version(struct peer *p, uint16_t major, uint16_t minor, const char *json)
{
	struct peer_msg m;
	int ret = peer_version_msg(p, major, minor, json, json ? strlen(json) + 1 : 0, NULL, 0, &m);

	peer_msg_free(&m);
	return ret;
}

int peer_hello(struct peer *p)
{
	return peer_version(p, 0, 0,
			    "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,"
			    "\"pgsizes\":4096,\"max_dma_maps\":65535}}");
}

bool peer_in_sync(struct peer *p)
{
	uint8_t b[16] = { 0 };
	struct peer_msg m;
	int ret;

	put_le32(b, 16);
	put_le32(b + 8, UVFIO_PCI_MSIX_IRQ_INDEX);
	ret = peer_call_rc(p, UVFIO_CMD_DEVICE_GET_IRQ_INFO, b, sizeof(b), NULL, 0, &m);
	if (ret) {
		peer_msg_free(&m);
		return false;
	}
	ret = m.len == 16 && get_le32(m.payload + 8) == UVFIO_PCI_MSIX_IRQ_INDEX;
	peer_msg_free(&m);
	return ret;
}

int peer_region_write(struct peer *p, uint32_t region, uint64_t off, const void *buf, uint32_t len)
{
	uint8_t *b = malloc(16 + len);
	struct uvfio_region_access a = { .offset = off, .region = region, .count = len, .data = buf };
	struct peer_msg m;
	int ret;

	if (!b)
		return -ENOMEM;
	uvfio_proto_region_access_encode(b, 16 + len, true, &a);
	ret = peer_call_rc(p, UVFIO_CMD_REGION_WRITE, b, 16 + len, NULL, 0, &m);
	free(b);
	if (!ret && m.len != 16)
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

int peer_region_read(struct peer *p, uint32_t region, uint64_t off, void *buf, uint32_t len)
{
	uint8_t b[16];
	struct uvfio_region_access a = { .offset = off, .region = region, .count = len };
	struct peer_msg m;
	int ret;

	uvfio_proto_region_access_encode(b, sizeof(b), false, &a);
	ret = peer_call_rc(p, UVFIO_CMD_REGION_READ, b, sizeof(b), NULL, 0, &m);
	if (!ret && m.len != 16u + len)
		ret = -EPROTO;
	if (!ret)
		memcpy(buf, m.payload + 16, len);
	peer_msg_free(&m);
	return ret;
}

int peer_cfg_write(struct peer *p, uint32_t off, const void *buf, uint32_t len)
{
	return peer_region_write(p, UVFIO_PCI_CONFIG_REGION_INDEX, off, buf, len);
}

int peer_cfg_read(struct peer *p, uint32_t off, void *buf, uint32_t len)
{
	return peer_region_read(p, UVFIO_PCI_CONFIG_REGION_INDEX, off, buf, len);
}

int peer_dma_map(struct peer *p, uint64_t iova, uint64_t size, uint32_t flags, int fd,
		 uint64_t offset)
{
	struct uvfio_dma_map d = { .argsz = 32, .flags = flags, .offset = offset, .addr = iova,
				   .size = size };
	uint8_t b[32];
	struct peer_msg m;
	int ret;

	uvfio_proto_dma_map_encode(b, sizeof(b), &d);
	ret = peer_call_rc(p, UVFIO_CMD_DMA_MAP, b, sizeof(b), fd >= 0 ? &fd : NULL, fd >= 0,
			   &m);
	if (!ret && m.len)
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

int peer_dma_unmap(struct peer *p, uint64_t iova, uint64_t size, uint32_t flags)
{
	struct uvfio_dma_unmap d = { .argsz = 24, .flags = flags, .addr = iova, .size = size }, e;
	uint8_t b[24];
	struct peer_msg m;
	int ret;

	uvfio_proto_dma_unmap_encode(b, sizeof(b), &d);
	ret = peer_call_rc(p, UVFIO_CMD_DMA_UNMAP, b, sizeof(b), NULL, 0, &m);
	if (!ret && (uvfio_proto_dma_unmap_decode(m.payload, m.len, &e) || e.addr != iova ||
		     e.size != size || m.len != 24))
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

int peer_set_irqs(struct peer *p, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
		  const int *fds, unsigned nfds)
{
	struct uvfio_irq_set s = { .argsz = 20, .flags = flags, .index = index, .start = start,
				   .count = count };
	uint8_t b[20];
	struct peer_msg m;
	int ret;

	uvfio_proto_irq_set_encode(b, sizeof(b), &s);
	ret = peer_call_rc(p, UVFIO_CMD_DEVICE_SET_IRQS, b, sizeof(b), fds, nfds, &m);
	peer_msg_free(&m);
	return ret;
}

uint64_t peer_wait_efd(int efd, int ms)
{
	struct pollfd pf = { .fd = efd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&pf, 1, ms) == 1 && read(efd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

int peer_set_irqs_raw(struct peer *p, uint32_t argsz, uint32_t flags, uint32_t index,
		      uint32_t start, uint32_t count, const void *data, size_t dlen,
		      const int *fds, unsigned nfds)
{
	uint8_t *b = malloc(20 + dlen);
	struct peer_msg m;
	int ret;

	if (!b)
		return -ENOMEM;
	put_le32(b, argsz);
	put_le32(b + 4, flags);
	put_le32(b + 8, index);
	put_le32(b + 12, start);
	put_le32(b + 16, count);
	if (dlen)
		memcpy(b + 20, data, dlen);
	ret = peer_call_rc(p, UVFIO_CMD_DEVICE_SET_IRQS, b, 20 + dlen, fds, nfds, &m);
	if (!ret && m.len)
		ret = -EPROTO;
	free(b);
	peer_msg_free(&m);
	return ret;
}

int peer_region_info(struct peer *p, uint32_t index, uint32_t argsz, struct peer_msg *m)
{
	uint8_t b[32] = { 0 };

	put_le32(b, argsz);
	put_le32(b + 8, index);
	return peer_call_rc(p, UVFIO_CMD_DEVICE_GET_REGION_INFO, b, sizeof(b), NULL, 0, m);
}

int peer_irq_info(struct peer *p, uint32_t index, struct uvfio_irq_info *out)
{
	uint8_t b[16] = { 0 };
	struct peer_msg m;
	int ret;

	put_le32(b, 16);
	put_le32(b + 8, index);
	ret = peer_call_rc(p, UVFIO_CMD_DEVICE_GET_IRQ_INFO, b, sizeof(b), NULL, 0, &m);
	if (!ret && uvfio_proto_irq_info_decode(m.payload, m.len, out))
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

/* Answer one DMA_READ/DMA_WRITE from the server as @mem says. */
static void serve_dma(struct peer_dma_mem *mem, int fd, const struct peer_msg *req)
{
	struct uvfio_hdr h = { .id = req->hdr.id, .cmd = req->hdr.cmd,
			       .flags = UVFIO_F_TYPE_REPLY };
	bool write = req->hdr.cmd == UVFIO_CMD_DMA_WRITE;
	uint64_t addr, count, rel;
	uint8_t *b;

	if (req->len < 16) {
		mem->bad++;
		return;
	}
	addr = get_le64(req->payload);
	count = get_le64(req->payload + 8);
	if (addr < mem->iova || (rel = addr - mem->iova) > mem->size ||
	    count > mem->size - rel || req->len != 16 + (write ? count : 0)) {
		mem->bad++;
		h.flags |= UVFIO_F_ERROR;
		h.error = EFAULT;
		send_fd(fd, &h, NULL, 0, NULL, 0);
		return;
	}
	mem->max_count = MAX(mem->max_count, count);
	if (write)
		mem->writes++;
	else
		mem->reads++;
	switch (mem->mode) {
	case PEER_DMA_SILENT:
		return;
	case PEER_DMA_ERROR:
		h.flags |= UVFIO_F_ERROR;
		h.error = (uint32_t)mem->error;
		send_fd(fd, &h, NULL, 0, NULL, 0);
		return;
	case PEER_DMA_HDR_ONLY:
	case PEER_DMA_ECHO:
		break;
	}
	if (write) {
		memcpy(mem->buf + rel, req->payload + 16, count);
		send_fd(fd, &h, req->payload, mem->mode == PEER_DMA_HDR_ONLY ? 0 : 16, NULL, 0);
		return;
	}
	b = malloc(16 + count);
	if (!b) {
		mem->bad++;
		return;
	}
	memcpy(b, req->payload, 16);
	memcpy(b + 16, mem->buf + rel, count);
	send_fd(fd, &h, b, 16 + count, NULL, 0);
	free(b);
}

static bool is_s2c_request(const struct peer_msg *m)
{
	return (m->hdr.flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_COMMAND &&
	       (m->hdr.cmd == UVFIO_CMD_DMA_READ || m->hdr.cmd == UVFIO_CMD_DMA_WRITE);
}

int peer_call_dma(struct peer *p, struct peer_dma_mem *mem, uint16_t cmd, const void *payload,
		  size_t len, struct peer_msg *m)
{
	struct uvfio_hdr h = { .id = p->next_id++, .cmd = cmd };
	int ret;

	memset(m, 0, sizeof(*m));
	ret = peer_send(p, &h, payload, len, NULL, 0);
	if (ret)
		return ret;
	for (;;) {
		struct pollfd pf[2] = { { .fd = p->fd, .events = POLLIN },
					{ .fd = mem->fd, .events = POLLIN } };
		int r = poll(pf, mem->fd >= 0 ? 2 : 1, p->timeout_ms);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
		if (mem->fd >= 0 && pf[1].revents) {
			ret = peer_recv_fd(p, mem->fd, m);
			if (ret)
				return ret;
			if (is_s2c_request(m)) {
				mem->on_fd++;
				serve_dma(mem, mem->fd, m);
			} else {
				mem->bad++;
			}
			peer_msg_free(m);
			continue;
		}
		ret = peer_recv(p, m);
		if (ret)
			return ret;
		if (!is_s2c_request(m))
			return reply_rc(p, h.id, cmd, m);
		mem->on_main++;
		serve_dma(mem, p->fd, m);
		peer_msg_free(m);
	}
}

void peer_reg_wr(struct peer *p, uint32_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	assert_ret(peer_region_write(p, DMA_BAR_REGS, off, b, 4), 0);
}

uint32_t peer_reg_rd(struct peer *p, uint32_t off)
{
	uint8_t b[4];

	assert_ret(peer_region_read(p, DMA_BAR_REGS, off, b, 4), 0);
	return get_le32(b);
}

uint32_t peer_cfg_rd(struct peer *p, uint32_t off, uint32_t len)
{
	uint8_t b[4] = { 0 };

	assert_true(len <= 4);
	assert_ret(peer_cfg_read(p, off, b, len), 0);
	return get_le32(b);
}

void peer_cfg_wr(struct peer *p, uint32_t off, uint32_t v, uint32_t len)
{
	uint8_t b[4];

	assert_true(len <= 4);
	put_le32(b, v);
	assert_ret(peer_cfg_write(p, off, b, len), 0);
}

void peer_command(struct peer *p, uint16_t cmd)
{
	peer_cfg_wr(p, UVFIO_PCI_COMMAND, cmd, 2);
}

uint32_t peer_cap_find(struct peer *p, uint8_t id)
{
	uint32_t off = peer_cfg_rd(p, UVFIO_PCI_CAPABILITY_LIST, 1);

	for (int n = 0; off && n < 48; n++) {
		if (peer_cfg_rd(p, off, 1) == id)
			return off;
		off = peer_cfg_rd(p, off + 1, 1);
	}
	return 0;
}

uint64_t peer_msix_pba(struct peer *p)
{
	uint8_t b[8];

	assert_ret(peer_region_read(p, DMA_BAR_MEM, DMA_MSIX_PBA, b, 8), 0);
	return get_le64(b);
}

uint32_t peer_msix_vctrl(struct peer *p, uint32_t vector)
{
	uint8_t b[4];

	assert_ret(peer_region_read(p, DMA_BAR_MEM, DMA_MSIX_TABLE + vector * 16 + 12, b, 4), 0);
	return get_le32(b);
}

void peer_msix_set_vctrl(struct peer *p, uint32_t vector, uint32_t val)
{
	uint8_t b[4];

	put_le32(b, val);
	assert_ret(peer_region_write(p, DMA_BAR_MEM, DMA_MSIX_TABLE + vector * 16 + 12, b, 4), 0);
}

uint32_t peer_copy(struct peer *p, struct peer_dma_mem *mem, uint64_t src, uint64_t dst,
		   uint64_t len, uint32_t ctrl)
{
	struct uvfio_region_access a = { .offset = DMA_REG_CTRL, .region = DMA_BAR_REGS,
					 .count = 4 };
	uint8_t b[20];
	struct peer_msg m;

	peer_reg_wr(p, DMA_REG_SRC_LO, (uint32_t)src);
	peer_reg_wr(p, DMA_REG_SRC_HI, (uint32_t)(src >> 32));
	peer_reg_wr(p, DMA_REG_DST_LO, (uint32_t)dst);
	peer_reg_wr(p, DMA_REG_DST_HI, (uint32_t)(dst >> 32));
	peer_reg_wr(p, DMA_REG_LEN_LO, (uint32_t)len);
	peer_reg_wr(p, DMA_REG_LEN_HI, (uint32_t)(len >> 32));
	if (!mem) {
		peer_reg_wr(p, DMA_REG_CTRL, DMA_CTRL_START | ctrl);
		return peer_reg_rd(p, DMA_REG_STATUS);
	}
	put_le32(b + 16, DMA_CTRL_START | ctrl);
	a.data = b + 16;
	uvfio_proto_region_access_encode(b, sizeof(b), true, &a);
	assert_ret(peer_call_dma(p, mem, UVFIO_CMD_REGION_WRITE, b, sizeof(b), &m), 0);
	peer_msg_free(&m);
	return peer_reg_rd(p, DMA_REG_STATUS);
}

int peer_memfd_new(struct peer_memfd *m, size_t size)
{
	int ret;

	m->size = size;
	m->mem = NULL;
	m->fd = memfd_create("guest", MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, (off_t)size))
		goto fail;
	m->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->mem == MAP_FAILED) {
		m->mem = NULL;
		goto fail;
	}
	return 0;
fail:
	ret = -errno;
	close(m->fd);
	m->fd = -1;
	return ret;
}

void peer_memfd_free(struct peer_memfd *m)
{
	if (m->mem)
		munmap(m->mem, m->size);
	if (m->fd >= 0)
		close(m->fd);
	m->mem = NULL;
	m->fd = -1;
}

long peer_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
