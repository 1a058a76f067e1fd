// SPDX-License-Identifier: BSD-3-Clause
/*
 * The device side against clients that fail: a client process killed at
 * every step of a full session (between messages, inside a header, inside a
 * payload, with a command sent but its reply unread, and while the server
 * waits for the client's answer to its DMA_READ); many clients connecting
 * to `uvfio serve` at once; and 1,000 connect/disconnect cycles. After each,
 * the server must serve the next client normally, with the same number of
 * open fds as before and no growth in memory beyond noise.
 *
 * usage: test_fault_server PATH/TO/uvfio
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

#define GUEST  0x100000ull
#define MSGMEM 0x800000ull
#define RW     (UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE)
#define MB     (1u << 20)

static const char *uvfio_cli;

/* --- server facts from /proc ------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define RUNNING_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUNNING_UNDER_ASAN 1
#endif
#endif
#ifndef RUNNING_UNDER_ASAN
#define RUNNING_UNDER_ASAN 0
#endif

/* --- one scripted session ------------------------------------------------------------ */

enum { NR_STEPS = 11 };

static const char *const step_names[NR_STEPS] = {
	"VERSION", "GET_INFO", "GET_REGION_INFO", "command register", "DMA_MAP with fd",
	"DMA_MAP without fd", "SET_IRQS eventfds", "copy", "copy via DMA_READ", "DMA_UNMAP",
	"DEVICE_RESET",
};

/* Resources a session's messages carry. */
struct session {
	struct peer_memfd g;
	int efd[DMA_MSIX_VECS];
	struct peer_dma_mem mem;
};

static void session_new(struct session *s)
{
	assert_ret(peer_memfd_new(&s->g, MB), 0);
	for (int i = 0; i < DMA_MSIX_VECS; i++) {
		s->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(s->efd[i] >= 0);
	}
	s->mem = (struct peer_dma_mem){ .iova = MSGMEM, .size = 0x10000, .fd = -1 };
	s->mem.buf = calloc(1, s->mem.size);
	assert_non_null(s->mem.buf);
}

static void session_free(struct session *s)
{
	peer_memfd_free(&s->g);
	for (int i = 0; i < DMA_MSIX_VECS; i++)
		close(s->efd[i]);
	free(s->mem.buf);
}

/* A register burst CTRL..LEN that starts a copy of @len bytes from @src to @dst. */
static size_t copy_msg(uint8_t *b, uint64_t src, uint64_t dst, uint32_t len)
{
	uint8_t regs[32] = { 0 };
	struct uvfio_region_access a = { .offset = DMA_REG_CTRL, .region = DMA_BAR_REGS,
					 .count = sizeof(regs), .data = regs };

	put_le32(regs, DMA_CTRL_START | DMA_CTRL_IRQ);
	put_le32(regs + 4, DMA_STATUS_DONE | DMA_STATUS_ERROR);
	put_le64(regs + 8, src);
	put_le64(regs + 16, dst);
	put_le64(regs + 24, len);
	uvfio_proto_region_access_encode(b, 16 + sizeof(regs), true, &a);
	return 16 + sizeof(regs);
}

/*
 * Step @i's message: command, payload into @b (returns its length), fds
 * into @fds/@nfds.
 */
static size_t step_msg(struct session *s, unsigned i, uint16_t *cmd, uint8_t *b, int *fds,
		       unsigned *nfds)
{
	static const char json[] = "{\"capabilities\":{\"max_msg_fds\":16,"
				   "\"max_data_xfer_size\":1048576,\"pgsizes\":4096}}";
	struct uvfio_region_access a = { .offset = UVFIO_PCI_COMMAND,
					 .region = UVFIO_PCI_CONFIG_REGION_INDEX, .count = 2 };
	uint8_t cmdreg[2] = { UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER, 0 };

	*nfds = 0;
	memset(b, 0, 256);
	switch (i) {
	case 0:
		*cmd = UVFIO_CMD_VERSION;
		memcpy(b + 4, json, sizeof(json));
		return 4 + sizeof(json);
	case 1:
		*cmd = UVFIO_CMD_DEVICE_GET_INFO;
		put_le32(b, 16);
		return 16;
	case 2:
		*cmd = UVFIO_CMD_DEVICE_GET_REGION_INFO;
		put_le32(b, 256);
		put_le32(b + 8, DMA_BAR_MEM);
		return 32;
	case 3:
		*cmd = UVFIO_CMD_REGION_WRITE;
		a.data = cmdreg;
		uvfio_proto_region_access_encode(b, 18, true, &a);
		return 18;
	case 4:
	case 5:
		*cmd = UVFIO_CMD_DMA_MAP;
		put_le32(b, 32);
		put_le32(b + 4, RW);
		put_le64(b + 16, i == 4 ? GUEST : MSGMEM);
		put_le64(b + 24, i == 4 ? MB : s->mem.size);
		if (i == 4) {
			fds[0] = s->g.fd;
			*nfds = 1;
		}
		return 32;
	case 6:
		*cmd = UVFIO_CMD_DEVICE_SET_IRQS;
		put_le32(b, 20);
		put_le32(b + 4, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER);
		put_le32(b + 8, UVFIO_PCI_MSIX_IRQ_INDEX);
		put_le32(b + 16, DMA_MSIX_VECS);
		memcpy(fds, s->efd, sizeof(s->efd));
		*nfds = DMA_MSIX_VECS;
		return 20;
	case 7:
		*cmd = UVFIO_CMD_REGION_WRITE;
		return copy_msg(b, GUEST, GUEST + 0x80000, 4096);
	case 8:
		*cmd = UVFIO_CMD_REGION_WRITE;
		return copy_msg(b, MSGMEM, GUEST + 0x40000, 0x8000);
	case 9:
		*cmd = UVFIO_CMD_DMA_UNMAP;
		put_le32(b, 24);
		put_le64(b + 8, GUEST);
		put_le64(b + 16, MB);
		return 24;
	default:
		*cmd = UVFIO_CMD_DEVICE_RESET;
		return 0;
	}
}

/* How the client dies during a step. */
enum cut {
	CUT_BEFORE,      /* between messages */
	CUT_IN_HEADER,   /* after 8 bytes of the header */
	CUT_IN_PAYLOAD,  /* after the header and half the payload (fds sent) */
	CUT_NO_READ,     /* the whole command sent, its reply (or the server's request) unread */
	NR_CUTS
};

/* Run steps [0, @upto) fully; return 0 or -errno. */
static int run_steps(struct peer *p, struct session *s, unsigned upto)
{
	uint8_t b[256];
	int fds[DMA_MSIX_VECS];
	unsigned nfds;
	struct peer_msg m;
	uint16_t cmd;

	for (unsigned i = 0; i < upto; i++) {
		size_t len = step_msg(s, i, &cmd, b, fds, &nfds);
		int ret;

		if (i == 8)
			ret = peer_call_dma(p, &s->mem, cmd, b, len, &m);
		else
			ret = peer_call_rc(p, cmd, b, len, fds, nfds, &m);
		peer_msg_free(&m);
		if (ret)
			return ret;
	}
	return 0;
}

/* The child: steps before @step, then part of @step as @cut says, then SIGKILL. */
static _Noreturn void die_at(const struct peer *srv, unsigned step, enum cut cut)
{
	struct session s;
	struct peer p = *srv;
	uint8_t buf[16 + 256], b[256];
	struct uvfio_hdr h = { .id = 0x4000 };
	int fds[DMA_MSIX_VECS];
	unsigned nfds;
	size_t len, n;

	session_new(&s);
	p.fd = peer_connect(srv);
	if (p.fd < 0 || run_steps(&p, &s, step))
		_exit(2);
	len = step_msg(&s, step, &h.cmd, b, fds, &nfds);
	h.size = (uint32_t)(16 + len);
	uvfio_proto_hdr_encode(buf, &h);
	memcpy(buf + 16, b, len);
	n = cut == CUT_BEFORE ? 0 : cut == CUT_IN_HEADER ? 8 : cut == CUT_IN_PAYLOAD ? 16 + len / 2 :
									  16 + len;
	if (n && peer_send_raw(&p, buf, n, cut == CUT_IN_HEADER ? NULL : fds,
			       cut == CUT_IN_HEADER ? 0 : nfds))
		_exit(3);
	/* Give the server the bytes before the process goes. */
	if (cut == CUT_NO_READ)
		peer_quiet(p.fd, 20);
	raise(SIGKILL);
	_exit(4);
}

/* A fresh client gets a whole session served; the server's fds are at @base. */
static void check_healthy(const struct peer *srv, int base)
{
	struct session s;
	struct peer p = *srv;

	session_new(&s);
	p.fd = peer_connect(srv);
	assert_true(p.fd >= 0);
	/* The server may still be dropping the dead client: VERSION waits for that. */
	assert_ret(run_steps(&p, &s, NR_STEPS), 0);
	assert_int_equal(peer_dma_code(peer_reg_rd(&p, DMA_REG_STATUS)), 0);
	assert_int_equal(s.mem.bad, 0);
	assert_true(peer_in_sync(&p));
	/* Mappings and eventfds of this session are held now; count after it ends. */
	close(p.fd);
	p.fd = peer_connect(srv);
	assert_true(p.fd >= 0);
	assert_ret(peer_hello(&p), 0);
	assert_int_equal(peer_server_fds(&p), base);
	close(p.fd);
	session_free(&s);
}

static void test_client_killed_at_every_step(void **state)
{
	struct peer srv;
	long rss0 = 0, rss;
	int base, runs = 0;

	assert_ret(peer_start_path(&srv, NULL), 0);
	assert_ret(peer_hello(&srv), 0);
	base = peer_server_fds(&srv);
	assert_true(base > 0);
	close(srv.fd);
	srv.fd = -1;
	for (unsigned step = 0; step < NR_STEPS; step++) {
		for (int cut = 0; cut < NR_CUTS; cut++) {
			pid_t pid;
			int st;

			if (step == NR_STEPS - 1 && cut == CUT_IN_PAYLOAD)
				continue; /* DEVICE_RESET has no payload */
			fflush(NULL);
			pid = fork();
			assert_true(pid >= 0);
			if (pid == 0)
				die_at(&srv, step, (enum cut)cut);
			assert_int_equal(waitpid(pid, &st, 0), pid);
			if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
				fail_msg("client for step %s, cut %d did not get that far (%#x)",
					 step_names[step], cut, st);
			check_healthy(&srv, base);
			runs++;
			rss = peer_rss_kb(srv.server);
			if (!rss0)
				rss0 = rss;
		}
	}
	printf("# %d deaths, server RSS %ld kB after the first, %ld kB after the last\n", runs,
	       rss0, rss);
	/*
	 * Memory doesn't grow with dead clients (allow allocator noise). Not
	 * under ASan: this server is a fork of the test, whose ASan runtime
	 * keeps freed memory in quarantine; LSan checks it for leaks instead.
	 */
	if (!RUNNING_UNDER_ASAN)
		assert_true(rss - rss0 < 2048);
	assert_int_equal(peer_stop(&srv), 0);
}

/* --- uvfio serve, the real command ------------------------------------------------------ */

struct served {
	pid_t pid;
	char dir[64];
	struct peer p; /* path and dir for peer_connect() */
};

static void serve_start(struct served *s)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/uvfio-fault-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	memset(&s->p, 0, sizeof(s->p));
	s->p.fd = -1;
	s->p.timeout_ms = 10000;
	snprintf(s->p.path, sizeof(s->p.path), "%s/dma.sock", s->dir);
	fflush(NULL);
	s->pid = fork();
	assert_true(s->pid >= 0);
	if (s->pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		/* Quiet, and gone with the test even when an assertion ends it early. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execl(uvfio_cli, uvfio_cli, "serve", "dma", "--socket", s->p.path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(s->p.path, F_OK); i++)
		usleep(10000);
	assert_int_equal(access(s->p.path, F_OK), 0);
	s->p.server = s->pid;
}

/* SIGTERM: a clean exit that removes the socket. */
static void serve_stop(struct served *s)
{
	int st;

	assert_int_equal(kill(s->pid, SIGTERM), 0);
	assert_int_equal(waitpid(s->pid, &st, 0), s->pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(access(s->p.path, F_OK), -1);
	assert_int_equal(rmdir(s->dir), 0);
}

/* A short session: negotiate, map, set interrupts, copy, check the interrupt. */
static int short_session(const struct served *s, struct peer_memfd *g, int efd)
{
	struct peer p = s->p;
	int ret;

	p.fd = peer_connect(&s->p);
	if (p.fd < 0)
		return p.fd;
	ret = peer_hello(&p);
	if (!ret)
		ret = peer_dma_map(&p, GUEST, MB, RW, g->fd, 0);
	if (!ret)
		ret = peer_set_irqs(&p, UVFIO_PCI_MSIX_IRQ_INDEX,
				    UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
				    &efd, 1);
	if (!ret) {
		peer_command(&p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
		ret = peer_copy(&p, NULL, GUEST, GUEST + 0x1000, 512, DMA_CTRL_IRQ) ==
				      DMA_STATUS_DONE && peer_wait_efd(efd, 2000) ?
			      0 :
			      -EIO;
	}
	close(p.fd);
	return ret;
}

/* 24 clients at once: each is served in turn (the rest wait), none fails. */
static void test_many_clients_at_once(void **state)
{
	enum { N = 24 };
	struct served s;
	pid_t kids[N];
	int ready[2];
	char go = 'g';

	serve_start(&s);
	assert_ret(pipe2(ready, O_CLOEXEC), 0);
	fflush(NULL);
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			struct peer_memfd g;
			int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			char c;

			close(ready[1]);
			if (efd < 0 || peer_memfd_new(&g, MB) || read(ready[0], &c, 1) != 1)
				_exit(2);
			_exit(short_session(&s, &g, efd) ? 1 : 0);
		}
	}
	close(ready[0]);
	/* Release them all at once. */
	for (int i = 0; i < N; i++)
		assert_int_equal(write(ready[1], &go, 1), 1);
	close(ready[1]);
	for (int i = 0; i < N; i++) {
		int st;

		assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fail_msg("client %d failed (status %#x)", i, st);
	}
	serve_stop(&s);
}

/* While one client is attached, another's VERSION waits; it is served after. */
static void test_second_client_waits(void **state)
{
	struct served s;
	struct peer a, b;
	struct uvfio_hdr h = { .id = 9, .cmd = UVFIO_CMD_VERSION };
	uint8_t v[4] = { 0 };
	struct peer_msg m;

	serve_start(&s);
	a = s.p;
	b = s.p;
	a.fd = peer_connect(&s.p);
	assert_true(a.fd >= 0);
	assert_ret(peer_hello(&a), 0);
	b.fd = peer_connect(&s.p);
	assert_true(b.fd >= 0);
	assert_ret(peer_send(&b, &h, v, sizeof(v), NULL, 0), 0);
	assert_true(peer_quiet(b.fd, 300));
	assert_true(peer_in_sync(&a));
	close(a.fd);
	assert_ret(peer_recv_rc(&b, 9, UVFIO_CMD_VERSION, &m), 0);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&b));
	close(b.fd);
	serve_stop(&s);
}

/*
 * The server's open fds with one fresh client attached, minus that
 * client's connection. Its VERSION is answered only once the previous
 * client is gone, so nothing of that one is counted.
 */
static int quiet_fds(const struct served *s)
{
	struct peer p = s->p;
	int n;

	p.fd = peer_connect(&s->p);
	assert_true(p.fd >= 0);
	assert_ret(peer_hello(&p), 0);
	n = peer_server_fds(&s->p) - 1;
	close(p.fd);
	return n;
}

/* 1,000 sessions one after another: no fd and no memory kept from any. */
static void test_1000_connect_cycles(void **state)
{
	struct served s;
	struct peer_memfd g;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int fds0, fds1;
	long rss0, rss1;

	assert_true(efd >= 0);
	assert_ret(peer_memfd_new(&g, MB), 0);
	serve_start(&s);
	fds0 = quiet_fds(&s);
	/* Warm up before measuring memory: the allocator settles. */
	for (int i = 0; i < 20; i++)
		assert_ret(short_session(&s, &g, efd), 0);
	rss0 = peer_rss_kb(s.pid);
	for (int i = 0; i < 1000; i++) {
		int ret = short_session(&s, &g, efd);

		if (ret)
			fail_msg("session %d: %s", i, strerror(-ret));
	}
	fds1 = quiet_fds(&s);
	rss1 = peer_rss_kb(s.pid);
	printf("# server: %d fds before, %d after; RSS %ld kB before, %ld kB after\n", fds0,
	       fds1, rss0, rss1);
	assert_int_equal(fds1, fds0);
	assert_true(rss1 - rss0 < 1024);
	serve_stop(&s);
	peer_memfd_free(&g);
	close(efd);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		UVFIO_TEST(test_client_killed_at_every_step),
		UVFIO_TEST(test_second_client_waits),
		UVFIO_TEST(test_many_clients_at_once),
		UVFIO_TEST(test_1000_connect_cycles),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/TO/uvfio\n", argv[0]);
		return 2;
	}
	uvfio_cli = argv[1];
	/*
	 * Under ASan, freed memory sits in a quarantine of up to 256 MiB, which
	 * the RSS checks would read as a leak. The server gets none; LSan still
	 * checks it for leaks at exit.
	 */
	{
		const char *a = getenv("ASAN_OPTIONS");
		char buf[1024];

		snprintf(buf, sizeof(buf), "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0",
			 a ? a : "", a && *a ? ":" : "");
		setenv("ASAN_OPTIONS", buf, 1);
	}
	cmocka_set_message_output(CM_OUTPUT_TAP);
	uvfio_test_tap();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
