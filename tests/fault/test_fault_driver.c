// SPDX-License-Identifier: BSD-3-Clause
/*
 * The driver side against servers that fail, through a proxy process
 * between the library and a real dma server: the proxy forwards both
 * directions (fds included) and either cuts the connection after byte N of
 * one direction — the server dying at every point of a session — or
 * passes the server's bytes on one at a time. A full driver session runs
 * through it each time: every call must return 0 or a negative errno,
 * promptly (never a hang: a bounded session time), and the process must
 * hold no more fds afterwards than before.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "uvfio/vfio.h"
#include "util/util.h"

#define TIMEOUT_MS 1000

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* --- the proxy ----------------------------------------------------------------------- */

enum proxy_mode {
	PROXY_PASS,    /* forward everything */
	PROXY_CUT_S2C, /* close both sides after @limit bytes from the server */
	PROXY_CUT_C2S, /* close both sides after @limit bytes from the client */
	PROXY_DRIBBLE, /* server bytes one per write, with a pause between */
};

struct proxy {
	pid_t pid;
	char dir[64];
	char path[128];
	int report; /* read end: the proxy writes two u64 (bytes s2c, c2s) as it ends */
};

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1))
		return -1;
	return fd;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	return fd;
}

/* Receive what is there (up to @cap bytes) with its fds. Return bytes, 0 at EOF, -1. */
static ssize_t recv_chunk(int fd, uint8_t *buf, size_t cap, int *fds, unsigned *nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

	*nfds = 0;
	if (n < 0)
		return -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(fds + *nfds, CMSG_DATA(cm), k * sizeof(int));
		*nfds += (unsigned)k;
	}
	return n;
}

/*
 * Forward one chunk from @from to @to. Return 0 to go on, 1 when the
 * proxy is to end (EOF, error, or the cut reached).
 */
static int forward(int from, int to, uint64_t *count, bool cut, uint64_t limit, bool dribble)
{
	uint8_t buf[65536];
	int fds[64];
	unsigned nfds;
	ssize_t n = recv_chunk(from, buf, sizeof(buf), fds, &nfds);
	size_t len = n > 0 ? (size_t)n : 0;
	int end = n <= 0;

	if (cut && *count + len >= limit) {
		len = (size_t)(limit - *count);
		end = 1;
	}
	if (!len && nfds) /* fds past the cut never arrive */
		nfds = 0;
	if (dribble) {
		for (size_t i = 0; i < len && !end; i++) {
			if (peer_sendmsg(to, buf + i, 1, fds, i ? 0 : nfds))
				end = 1;
			usleep(20);
		}
	} else if (len && peer_sendmsg(to, buf, len, fds, nfds)) {
		end = 1;
	}
	*count += len;
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return end;
}

static _Noreturn void proxy_main(int lfd, const char *server, enum proxy_mode mode, uint64_t limit,
				 int report)
{
	uint64_t counts[2] = { 0, 0 }; /* s2c, c2s */
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), s;

	close(lfd);
	s = c >= 0 ? connect_to(server) : -1;
	if (c >= 0 && s >= 0 && mode == PROXY_CUT_C2S && limit == 0)
		goto out;
	while (c >= 0 && s >= 0) {
		struct pollfd pf[2] = { { .fd = s, .events = POLLIN }, { .fd = c, .events = POLLIN } };

		if (poll(pf, 2, 30000) <= 0)
			break;
		if (pf[0].revents && forward(s, c, &counts[0], mode == PROXY_CUT_S2C, limit,
					     mode == PROXY_DRIBBLE))
			break;
		if (pf[1].revents &&
		    forward(c, s, &counts[1], mode == PROXY_CUT_C2S, limit, false))
			break;
	}
out:
	if (write(report, counts, sizeof(counts)) != sizeof(counts))
		_exit(1);
	_exit(0);
}

static void proxy_start(struct proxy *px, const char *server, enum proxy_mode mode,
			uint64_t limit)
{
	int pfd[2], lfd;

	snprintf(px->dir, sizeof(px->dir), "/tmp/uvfio-proxy-XXXXXX");
	assert_non_null(mkdtemp(px->dir));
	snprintf(px->path, sizeof(px->path), "%s/p.sock", px->dir);
	lfd = listen_on(px->path);
	assert_true(lfd >= 0);
	assert_ret(pipe2(pfd, O_CLOEXEC), 0);
	fflush(NULL);
	px->pid = fork();
	assert_true(px->pid >= 0);
	if (px->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pfd[0]);
		proxy_main(lfd, server, mode, limit, pfd[1]);
	}
	close(lfd);
	close(pfd[1]);
	px->report = pfd[0];
}

/* Reap the proxy; return the byte counts it forwarded. */
static void proxy_end(struct proxy *px, uint64_t counts[2])
{
	int st;

	counts[0] = counts[1] = 0;
	if (read(px->report, counts, 2 * sizeof(uint64_t)) != 2 * sizeof(uint64_t)) {
		kill(px->pid, SIGKILL);
		counts[0] = counts[1] = UINT64_MAX;
	}
	waitpid(px->pid, &st, 0);
	close(px->report);
	unlink(px->path);
	rmdir(px->dir);
}

/* --- one driver session ---------------------------------------------------------------- */

struct outcome {
	int calls;   /* calls made */
	int failed;  /* calls that returned an error */
	int bad;     /* results that are neither 0 nor a negative errno, or wrong data */
	bool copied; /* the whole session worked */
};

static void note(struct outcome *o, int ret)
{
	o->calls++;
	if (ret < 0)
		o->failed++;
	if (ret > 0 || ret < -4095)
		o->bad++;
}

static void log_quiet(void *priv, int level, const char *msg)
{
	(void)priv;
	(void)level;
	(void)msg;
}

static struct outcome session(const char *path)
{
	struct uvfio_open_opts oo = { .argsz = sizeof(oo), .log = log_quiet,
				      .log_level = UVFIO_LOG_ERR, .timeout_ms = TIMEOUT_MS };
	struct uvfio_device_info info = { .argsz = sizeof(info) };
	struct uvfio_region r = { .argsz = sizeof(r) };
	struct uvfio_dma_buf src = { 0 }, dst = { 0 };
	struct outcome o = { 0 };
	struct uvfio_device *d = NULL;
	struct uvfio_container *c;
	uint32_t regs[8], st = 0;
	uint16_t ids[2] = { 0 }, cmd = UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	int ret;

	ret = uvfio_device_open(path, &oo, &d);
	note(&o, ret);
	if (ret)
		return o;
	c = uvfio_device_container(d);
	note(&o, uvfio_device_get_info(d, &info));
	note(&o, uvfio_device_region(d, DMA_BAR_REGS, &r));
	note(&o, uvfio_device_region(d, DMA_BAR_MEM, &r));
	ret = uvfio_device_cfg_read(d, UVFIO_PCI_VENDOR_ID, ids, sizeof(ids));
	note(&o, ret);
	if (!ret && (ids[0] != DMA_PCI_VENDOR_ID || ids[1] != DMA_PCI_DEVICE_ID))
		o.bad++;
	note(&o, uvfio_device_cfg_write(d, UVFIO_PCI_COMMAND, &cmd, 2));
	note(&o, uvfio_dma_alloc(c, 65536, UVFIO_DMA_READ, &src));
	note(&o, uvfio_dma_alloc(c, 65536, UVFIO_DMA_WRITE, &dst));
	note(&o, uvfio_device_irq_enable(d, UVFIO_PCI_MSIX_IRQ_INDEX, 1));
	if (src.vaddr && dst.vaddr) {
		memset(src.vaddr, 0x5a, 4096);
		regs[0] = DMA_CTRL_START | DMA_CTRL_IRQ;
		regs[1] = DMA_STATUS_DONE | DMA_STATUS_ERROR;
		regs[2] = (uint32_t)src.iova;
		regs[3] = (uint32_t)(src.iova >> 32);
		regs[4] = (uint32_t)dst.iova;
		regs[5] = (uint32_t)(dst.iova >> 32);
		regs[6] = 4096;
		regs[7] = 0;
		note(&o, uvfio_device_write(d, DMA_BAR_REGS, DMA_REG_CTRL, regs, sizeof(regs)));
		note(&o, uvfio_device_irq_wait(d, UVFIO_PCI_MSIX_IRQ_INDEX, 0, TIMEOUT_MS, NULL));
		ret = uvfio_device_read(d, DMA_BAR_REGS, DMA_REG_STATUS, &st, 4);
		note(&o, ret);
		o.copied = !o.failed && st == DMA_STATUS_DONE &&
			   !memcmp(src.vaddr, dst.vaddr, 4096);
	}
	note(&o, uvfio_device_irq_disable(d, UVFIO_PCI_MSIX_IRQ_INDEX));
	uvfio_dma_free(c, &src);
	uvfio_dma_free(c, &dst);
	uvfio_device_close(d);
	return o;
}

/* --- tests -------------------------------------------------------------------------------- */

static struct peer srv;

static int group_setup(void **state)
{
	(void)state;
	if (peer_start_path(&srv, NULL))
		return -1;
	close(srv.fd); /* the proxy is the server's client */
	srv.fd = -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return peer_stop(&srv) ? -1 : 0;
}

/* One session through a proxy in @mode; check the rules; return the byte counts. */
static struct outcome run(enum proxy_mode mode, uint64_t limit, uint64_t counts[2])
{
	int fds0 = uvfio_test_fd_count();
	struct outcome o;
	struct proxy px;
	uint64_t t;

	proxy_start(&px, srv.path, mode, limit);
	t = now_ms();
	o = session(px.path);
	t = now_ms() - t;
	proxy_end(&px, counts);
	if (o.bad)
		fail_msg("%d results were not 0 or -errno (mode %d, cut at %llu)", o.bad, mode,
			 (unsigned long long)limit);
	/* A dead peer is noticed at once; only a lost interrupt waits its timeout. */
	if (t > 3 * TIMEOUT_MS)
		fail_msg("the session took %llu ms (mode %d, cut at %llu)",
			 (unsigned long long)t, mode, (unsigned long long)limit);
	if (uvfio_test_fd_count() != fds0)
		fail_msg("%d fds open after the session, %d before (mode %d, cut at %llu)",
			 uvfio_test_fd_count(), fds0, mode, (unsigned long long)limit);
	return o;
}

/* Every cut point, up to @total: all of the first 256 bytes, then every 13th. */
static void cut_everywhere(enum proxy_mode mode, uint64_t total)
{
	uint64_t counts[2];
	unsigned sessions = 0, worked = 0;

	for (uint64_t at = 0; at < total; at += at < 256 ? 1 : 13) {
		struct outcome o = run(mode, at, counts);

		sessions++;
		worked += o.copied;
	}
	printf("# %u sessions cut at points in %llu bytes; %u still completed the copy\n",
	       sessions, (unsigned long long)total, worked);
	/* Cut before the end, something must fail. */
	assert_true(worked < sessions);
}

static uint64_t s2c_total, c2s_total;

static void test_through_proxy(void **state)
{
	uint64_t counts[2];
	struct outcome o = run(PROXY_PASS, 0, counts);

	assert_true(o.copied);
	assert_int_equal(o.failed, 0);
	s2c_total = counts[0];
	c2s_total = counts[1];
	printf("# a session: %llu bytes from the server, %llu from the driver\n",
	       (unsigned long long)s2c_total, (unsigned long long)c2s_total);
	assert_true(s2c_total > 100 && c2s_total > 100);
}

static void test_server_dies_at_every_point(void **state)
{
	assert_true(s2c_total > 0);
	cut_everywhere(PROXY_CUT_S2C, s2c_total);
}

static void test_connection_lost_while_sending(void **state)
{
	assert_true(c2s_total > 0);
	cut_everywhere(PROXY_CUT_C2S, c2s_total);
}

static void test_server_one_byte_at_a_time(void **state)
{
	uint64_t counts[2];
	struct outcome o = run(PROXY_DRIBBLE, 0, counts);

	assert_true(o.copied);
	assert_int_equal(o.failed, 0);
	assert_int_equal(counts[0], s2c_total);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_through_proxy),
		cmocka_unit_test(test_server_dies_at_every_point),
		cmocka_unit_test(test_connection_lost_while_sending),
		cmocka_unit_test(test_server_one_byte_at_a_time),
	};

	signal(SIGPIPE, SIG_IGN);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	uvfio_test_tap();
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
