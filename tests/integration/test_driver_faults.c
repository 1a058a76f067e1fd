// SPDX-License-Identifier: BSD-3-Clause
/*
 * The driver side when things go wrong: a server that dies mid-session or
 * stops answering, paths with nobody behind them, and a hostile server — a
 * tiny scripted fake on a socket path — that answers VERSION and the device
 * queries with nonsense, floods the client with requests, or asks for
 * memory it must not have. Every case must end in a clean errno from the
 * library, promptly, with no crash, no hang and no fd left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "peer.h"
#include "test.h"
#include "uvfio/vfio.h"
#include "util/util.h"

#define PG       4096ull
#define PROMPT_MS 1000  /* "at once": well under any reply timeout used here */

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* --- log capture ----------------------------------------------------------------- */

static char logbuf[16384];
static size_t loglen;
static bool echo_log = true;

static void log_capture(void *priv, int level, const char *msg)
{
	int n;

	/* Full: start over, so the latest messages are always there. */
	if (strlen(msg) + 2 > sizeof(logbuf) - loglen)
		loglen = 0;
	n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", msg);
	if (echo_log)
		printf("# uvfio: %s\n", msg);
	if (n > 0)
		loglen = MIN(loglen + (size_t)n, sizeof(logbuf) - 1);
}

/* Stop echoing library messages (a flood logs one per message); keep capturing. */
static void quiet_log(void)
{
	echo_log = false;
}

static bool logged(const char *what)
{
	return strstr(logbuf, what) != NULL;
}

static struct uvfio_open_opts opts(uint32_t timeout_ms)
{
	echo_log = true;
	loglen = 0;
	logbuf[0] = '\0';
	return (struct uvfio_open_opts){ .argsz = sizeof(struct uvfio_open_opts),
					 .log = log_capture, .log_level = UVFIO_LOG_WARN,
					 .timeout_ms = timeout_ms };
}

/* --- what a test holds; the teardown releases what an assertion left ----------- */

struct fake {
	pid_t pid;
	char dir[64];
	char path[128];
	int go[2];       /* the test tells the fake to go on (write a byte) */
};

static struct uvfio_device *t_dev;
static struct peer t_srv;
static bool t_srv_up;
static struct fake t_fake;
static void *t_mem[2];
static size_t t_mem_len[2];
static pthread_t t_killer;
static bool t_killer_up;
static char t_dir[64]; /* test_open_no_server's directory */

static void srv_stop(void);
static int fake_stop(void);

static int teardown(void **state)
{
	if (t_killer_up)
		pthread_join(t_killer, NULL);
	t_killer_up = false;
	if (t_srv_up && t_srv.server > 0)
		kill(t_srv.server, SIGCONT);
	uvfio_device_close(t_dev);
	t_dev = NULL;
	for (unsigned i = 0; i < ARRAY_SIZE(t_mem); i++) {
		if (t_mem[i])
			munmap(t_mem[i], t_mem_len[i]);
		t_mem[i] = NULL;
	}
	srv_stop();
	fake_stop();
	if (t_dir[0]) {
		static const char *const names[] = { "file", "stale.sock" };

		for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
			char path[128];

			snprintf(path, sizeof(path), "%.64s/%s", t_dir, names[i]);
			unlink(path);
		}
		rmdir(t_dir);
		t_dir[0] = '\0';
	}
	return uvfio_test_fd_teardown(state);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, uvfio_test_fd_setup, teardown)

static void *mem_new(unsigned slot, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	t_mem[slot] = p;
	t_mem_len[slot] = len;
	return p;
}

/* --- a real dma server ------------------------------------------------------------ */

static const char *srv_start(void)
{
	assert_ret(peer_start_path(&t_srv, NULL), 0);
	t_srv_up = true;
	close(t_srv.fd);
	t_srv.fd = -1;
	return t_srv.path;
}

/* SIGKILL the server and reap it. */
static void srv_kill(void)
{
	int st;

	assert_int_equal(kill(t_srv.server, SIGKILL), 0);
	assert_int_equal(waitpid(t_srv.server, &st, 0), t_srv.server);
	assert_true(WIFSIGNALED(st));
	t_srv.server = 0;
}

static void srv_stop(void)
{
	if (!t_srv_up)
		return;
	t_srv_up = false;
	if (t_srv.server > 0) {
		peer_stop(&t_srv);
		return;
	}
	unlink(t_srv.path);
	rmdir(t_srv.dir);
}

static uint32_t cfg_ids(struct uvfio_device *d)
{
	uint8_t b[4];

	assert_ret(uvfio_device_cfg_read(d, 0, b, 4), 0);
	return get_le32(b);
}

/* =================================================================================== */
/* A real server that dies or stops                                                    */
/* =================================================================================== */

static void test_server_killed_calls_fail_fast(void **state)
{
	struct uvfio_open_opts o = opts(5000);
	const char *path = srv_start();
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };
	struct uvfio_irq_info ii;
	struct uvfio_dma_buf buf, more;
	struct uvfio_container *c;
	uint8_t b[8], *mem = mem_new(0, PG);
	uvfio_iova_t iova;
	uint64_t t;

	assert_ret(uvfio_device_open(path, &o, &t_dev), 0);
	c = uvfio_device_container(t_dev);
	assert_int_equal(cfg_ids(t_dev), DMA_PCI_VENDOR_ID | (uint32_t)DMA_PCI_DEVICE_ID << 16);
	assert_ret(uvfio_dma_alloc(c, PG, UVFIO_DMA_READ | UVFIO_DMA_WRITE, &buf), 0);
	assert_ret(uvfio_device_irq_enable(t_dev, UVFIO_PCI_MSIX_IRQ_INDEX, 1), 0);
	assert_ret(uvfio_container_iova_alloc(c, PG, 0, &iova), 0);

	srv_kill();
	/* The first call notices at once: no waiting for the 5 s timeout. */
	t = now_ms();
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -ECONNRESET);
	assert_true(now_ms() - t < PROMPT_MS);
	assert_true(logged("lost the vfio-user server"));
	/* And every later one, without trying. */
	t = now_ms();
	assert_ret(uvfio_device_read(t_dev, DMA_BAR_REGS, 0, b, 4), -ECONNRESET);
	assert_ret(uvfio_device_write(t_dev, DMA_BAR_REGS, DMA_REG_SCRATCH, b, 4), -ECONNRESET);
	assert_ret(uvfio_device_irq_info(t_dev, 0, &ii), -ECONNRESET);
	assert_ret(uvfio_device_irq_trigger(t_dev, UVFIO_PCI_MSIX_IRQ_INDEX, 0, 1), -ECONNRESET);
	assert_ret(uvfio_device_reset(t_dev), -ECONNRESET);
	assert_ret(uvfio_container_map(c, &(struct uvfio_mapping){
		.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ, .vaddr = mem,
		.size = PG, .iova = iova, .fd = -1 }), -ECONNRESET);
	assert_ret(uvfio_dma_alloc(c, 8 << 20, UVFIO_DMA_READ, &more), -ECONNRESET);
	assert_ret(uvfio_device_irq_disable(t_dev, UVFIO_PCI_MSIX_IRQ_INDEX), -ECONNRESET);
	assert_ret(uvfio_device_irq_fd(t_dev, UVFIO_PCI_MSIX_IRQ_INDEX, 0), -EINVAL);
	assert_int_equal(uvfio_device_dispatch(t_dev), 0);
	/* A dead server holds no mappings: taking them back succeeds. */
	assert_ret(uvfio_container_info(c, &info), 0);
	assert_int_equal(info.nr_mappings, 1);
	uvfio_dma_free(c, &buf);
	assert_ret(uvfio_container_info(c, &info), 0);
	assert_int_equal(info.nr_mappings, 0);
	assert_true(now_ms() - t < PROMPT_MS);
	/* Closing doesn't wait for anybody either. */
	t = now_ms();
	uvfio_device_close(t_dev);
	t_dev = NULL;
	assert_true(now_ms() - t < PROMPT_MS);
}

static void *kill_later(void *arg)
{
	struct timespec ts = { 0, 200 * 1000000 };

	nanosleep(&ts, NULL);
	kill(*(pid_t *)arg, SIGKILL);
	return NULL;
}

/* The server dies while a call waits for its reply. */
static void test_server_killed_during_call(void **state)
{
	struct uvfio_open_opts o = opts(5000);
	const char *path = srv_start();
	uint8_t b[4];
	uint64_t t;
	int st;

	assert_ret(uvfio_device_open(path, &o, &t_dev), 0);
	assert_int_equal(kill(t_srv.server, SIGSTOP), 0);
	assert_int_equal(pthread_create(&t_killer, NULL, kill_later, &t_srv.server), 0);
	t_killer_up = true;
	t = now_ms();
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -ECONNRESET);
	t = now_ms() - t;
	printf("# the call returned %llu ms after it started (the kill came at 200 ms)\n",
	       (unsigned long long)t);
	assert_true(t >= 150 && t < 200 + PROMPT_MS);
	pthread_join(t_killer, NULL);
	t_killer_up = false;
	assert_int_equal(waitpid(t_srv.server, &st, 0), t_srv.server);
	t_srv.server = 0;
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -ECONNRESET);
	uvfio_device_close(t_dev);
	t_dev = NULL;
}

static void test_server_stopped_times_out(void **state)
{
	struct uvfio_open_opts o = opts(300);
	const char *path = srv_start();
	uint8_t b[4];
	uint64_t t;

	assert_ret(uvfio_device_open(path, &o, &t_dev), 0);
	assert_int_equal(kill(t_srv.server, SIGSTOP), 0);
	for (int i = 0; i < 3; i++) {
		t = now_ms();
		if (i == 2)
			assert_ret(uvfio_device_irq_trigger(t_dev, UVFIO_PCI_MSIX_IRQ_INDEX, 0, 1),
				   -ETIMEDOUT);
		else
			assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -ETIMEDOUT);
		t = now_ms() - t;
		assert_true(t >= 290 && t < 300 + PROMPT_MS);
	}
	assert_true(logged("did not answer"));
	/* Back: the late replies are dropped and the device works again. */
	assert_int_equal(kill(t_srv.server, SIGCONT), 0);
	assert_int_equal(cfg_ids(t_dev), DMA_PCI_VENDOR_ID | (uint32_t)DMA_PCI_DEVICE_ID << 16);
	assert_int_equal(cfg_ids(t_dev), DMA_PCI_VENDOR_ID | (uint32_t)DMA_PCI_DEVICE_ID << 16);
	uvfio_device_close(t_dev);
	t_dev = NULL;
	/* A new session on the same server works, and the server ends cleanly. */
	o = opts(300);
	assert_ret(uvfio_device_open(path, &o, &t_dev), 0);
	assert_int_equal(cfg_ids(t_dev), DMA_PCI_VENDOR_ID | (uint32_t)DMA_PCI_DEVICE_ID << 16);
	uvfio_device_close(t_dev);
	t_dev = NULL;
	t_srv_up = false;
	assert_int_equal(peer_stop(&t_srv), 0);
}

/* =================================================================================== */
/* Nobody there                                                                         */
/* =================================================================================== */

static void test_open_no_server(void **state)
{
	struct uvfio_open_opts o = opts(2000);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir = t_dir, path[160], name[170], longp[300];
	struct uvfio_group *g = NULL;
	int fd;

	snprintf(t_dir, sizeof(t_dir), "/tmp/uvfio-faults-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* No such file. */
	snprintf(path, sizeof(path), "%s/none.sock", dir);
	snprintf(name, sizeof(name), "vfio-user:%s", path);
	assert_ret(uvfio_device_open(name, &o, &t_dev), -ENOENT);
	assert_true(logged(path));
	o = opts(2000);
	assert_ret(uvfio_group_open(name, &o, &g), -ENOENT);
	assert_true(logged(path));
	o = opts(2000);
	assert_ret(uvfio_device_open(path, &o, &t_dev), -ENOENT);
	assert_true(logged(path));
	o = opts(2000);
	assert_ret(uvfio_group_open(path, &o, &g), -ENOENT);
	assert_true(logged(path));
	/* A regular file. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	o = opts(2000);
	assert_ret(uvfio_device_open(path, &o, &t_dev), -ENOENT);
	assert_true(logged(path));
	snprintf(name, sizeof(name), "vfio-user:%s", path);
	o = opts(2000);
	assert_ret(uvfio_device_open(name, &o, &t_dev), -ECONNREFUSED);
	assert_true(logged(path));
	unlink(path);
	/* A socket nobody listens on (a crashed server's). */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	o = opts(2000);
	assert_ret(uvfio_device_open(path, &o, &t_dev), -ECONNREFUSED);
	assert_true(logged("no server is listening"));
	snprintf(name, sizeof(name), "vfio-user:%s", path);
	o = opts(2000);
	assert_ret(uvfio_device_open(name, &o, &t_dev), -ECONNREFUSED);
	assert_true(logged("no server is listening"));
	unlink(path);
	/* A path too long for a socket address. */
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	memcpy(longp, "vfio-user:/tmp/", 15);
	o = opts(2000);
	assert_true(uvfio_device_open(longp, &o, &t_dev) < 0);
	assert_true(loglen > 0);
	assert_null(t_dev);
	assert_int_equal(rmdir(dir), 0);
	t_dir[0] = '\0';
}

/* =================================================================================== */
/* A hostile server                                                                     */
/* =================================================================================== */

enum fake_mode {
	FAKE_SANE,
	FAKE_VERSION_MAJOR1,
	FAKE_VERSION_MINOR9,
	FAKE_VERSION_BAD_JSON,
	FAKE_VERSION_NO_NUL,
	FAKE_VERSION_TWIN_NO_FD,
	FAKE_VERSION_TWIN_BAD_INDEX,
	FAKE_VERSION_XFER0,
	FAKE_VERSION_PGSIZE_512,
	FAKE_VERSION_ERROR,
	FAKE_VERSION_HANG_UP,
	FAKE_VERSION_SHORT_HDR,
	FAKE_VERSION_STRAY_FDS,
	FAKE_INFO_1000_REGIONS,
	FAKE_READ_TOO_LONG,
	FAKE_READ_TOO_SHORT,
	FAKE_READ_STRAY_FD,
	FAKE_READ_BAD_ERRNO,
	FAKE_READ_OVERSIZE,
	FAKE_READ_WRONG_ID,
	FAKE_READ_FLOOD,
	FAKE_READ_STRAY_FLOOD,
	FAKE_REGION_BAD,
	FAKE_REGION_SHORT_FD,
	FAKE_IRQ_BAD,
	FAKE_DMA_REQUESTS,
	FAKE_UNSOLICITED,
	FAKE_IDLE_FLOOD,
	FAKE_DMA_DURING_READ,
};

#define FAKE_VENDOR 0x1234
#define FAKE_DEVICE 0xfa4e
#define FAKE_RW     0x10000000ull /* the test maps read-write memory here, without an fd */
#define FAKE_RO     0x20000000ull /* and read-only memory here */

static const char sane_json[] = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":"
				"1048576,\"pgsizes\":4096,\"max_dma_maps\":65535}}";

struct fstate {
	struct peer p;
	enum fake_mode mode;
	int go;
	unsigned reads;
	int fail; /* the first expectation that failed, 0 if none */
};

static int fake_send(struct fstate *s, uint16_t id, uint16_t cmd, uint32_t flags, uint32_t err,
		     const void *payload, size_t len, const int *fds, unsigned nfds)
{
	struct uvfio_hdr h = { .id = id, .cmd = cmd, .flags = flags, .error = err };

	return peer_send(&s->p, &h, payload, len, fds, nfds);
}

static int reply(struct fstate *s, const struct peer_msg *m, const void *payload, size_t len)
{
	return fake_send(s, m->hdr.id, m->hdr.cmd, UVFIO_F_TYPE_REPLY, 0, payload, len, NULL, 0);
}

static int reply_err(struct fstate *s, const struct peer_msg *m, uint32_t err)
{
	return fake_send(s, m->hdr.id, m->hdr.cmd, UVFIO_F_TYPE_REPLY | UVFIO_F_ERROR, err, NULL,
			 0, NULL, 0);
}

static int memfd(size_t size)
{
	int fd = memfd_create("fake", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int fake_version(struct fstate *s, const struct peer_msg *m)
{
	const char *json = sane_json;
	uint16_t major = 0, minor = 0;
	size_t jlen;
	uint8_t b[512];
	int fds[3] = { -1, -1, -1 }, ret;
	unsigned nfds = 0;

	switch (s->mode) {
	case FAKE_VERSION_MAJOR1:
		major = 1;
		break;
	case FAKE_VERSION_MINOR9:
		minor = 9;
		break;
	case FAKE_VERSION_BAD_JSON:
		json = "{\"capabilities\":{\"max_msg_fds\":8,";
		break;
	case FAKE_VERSION_TWIN_NO_FD:
		json = "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":0}}}";
		break;
	case FAKE_VERSION_TWIN_BAD_INDEX:
		json = "{\"capabilities\":{\"twin_socket\":{\"supported\":true,\"fd_index\":3}}}";
		fds[0] = memfd(PG);
		nfds = 1;
		break;
	case FAKE_VERSION_XFER0:
		json = "{\"capabilities\":{\"max_data_xfer_size\":0}}";
		break;
	case FAKE_VERSION_PGSIZE_512:
		json = "{\"capabilities\":{\"pgsizes\":512}}";
		break;
	case FAKE_VERSION_ERROR:
		return reply_err(s, m, ENOTSUP);
	case FAKE_VERSION_HANG_UP:
		return -1;
	case FAKE_VERSION_SHORT_HDR:
		memset(b, 0, 16);
		put_le16(b, m->hdr.id);
		put_le16(b + 2, m->hdr.cmd);
		put_le32(b + 4, 8);
		put_le32(b + 8, UVFIO_F_TYPE_REPLY);
		return peer_send_raw(&s->p, b, 16, NULL, 0);
	case FAKE_VERSION_STRAY_FDS:
		/* An fd nobody asked for (no twin socket): the client must close it. */
		fds[0] = memfd(PG);
		nfds = 1;
		break;
	default:
		break;
	}
	jlen = strlen(json) + (s->mode == FAKE_VERSION_NO_NUL ? 0 : 1);
	put_le16(b, major);
	put_le16(b + 2, minor);
	memcpy(b + 4, json, jlen);
	ret = fake_send(s, m->hdr.id, m->hdr.cmd, UVFIO_F_TYPE_REPLY, 0, b, 4 + jlen, fds, nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return ret;
}

static uint64_t region_size(uint32_t index)
{
	switch (index) {
	case 0:
	case 4:
	case 5:
		return PG;
	case 2:
		return 0x10000;
	case UVFIO_PCI_CONFIG_REGION_INDEX:
		return UVFIO_PCI_CFG_SIZE;
	default:
		return 0;
	}
}

/* The sparse areas of region @index in FAKE_REGION_BAD, or 0. */
static unsigned bad_areas(uint32_t index, struct uvfio_sparse_area *a)
{
	switch (index) {
	case 2: /* past the end of the 64 KiB region */
		a[0] = (struct uvfio_sparse_area){ 0x20000, PG };
		return 1;
	case 4: /* wraps around */
		a[0] = (struct uvfio_sparse_area){ UINT64_MAX - 0xfff, 0x2000 };
		return 1;
	case 5: /* empty */
		a[0] = (struct uvfio_sparse_area){ 0, 0 };
		return 1;
	case 6: /* more than anyone accepts */
		for (unsigned i = 0; i < 100; i++)
			a[i] = (struct uvfio_sparse_area){ 0, 0 };
		return 100;
	default:
		return 0;
	}
}

static int fake_region_info(struct fstate *s, const struct peer_msg *m)
{
	struct uvfio_sparse_area areas[100];
	uint32_t argsz = get_le32(m->payload), index = get_le32(m->payload + 8);
	unsigned n = s->mode == FAKE_REGION_BAD ? bad_areas(index, areas) : 0;
	uint32_t need = 32 + (n ? 16 + 16 * n : 0), flags = 0;
	uint8_t b[32 + 16 + 16 * 100] = { 0 };
	int fd = -1, ret;

	if (region_size(index) || n)
		flags = UVFIO_REGION_INFO_FLAG_READ | UVFIO_REGION_INFO_FLAG_WRITE;
	/* BAR2 (64 KiB) mmap-able through a file of one page. */
	if (s->mode == FAKE_REGION_SHORT_FD && index == 2) {
		flags |= UVFIO_REGION_INFO_FLAG_MMAP;
		fd = memfd(PG);
	}
	if (n)
		flags |= UVFIO_REGION_INFO_FLAG_MMAP | UVFIO_REGION_INFO_FLAG_CAPS;
	put_le32(b, need);
	put_le32(b + 4, flags);
	put_le32(b + 8, s->mode == FAKE_REGION_BAD && index == 1 ? 3 : index);
	put_le64(b + 16, index == 6 ? PG : region_size(index));
	if (n && argsz < need)
		return reply(s, m, b, 32); /* ask for a retry with room for the caps */
	if (n) {
		put_le32(b + 12, 32);
		put_le16(b + 32, UVFIO_REGION_INFO_CAP_SPARSE_MMAP);
		put_le16(b + 34, 1);
		put_le32(b + 40, n);
		for (unsigned i = 0; i < n; i++) {
			put_le64(b + 48 + 16 * i, areas[i].offset);
			put_le64(b + 56 + 16 * i, areas[i].size);
		}
		fd = memfd(0x10000);
	}
	if (fd < 0 && (flags & UVFIO_REGION_INFO_FLAG_MMAP))
		return -1;
	ret = fake_send(s, m->hdr.id, m->hdr.cmd, UVFIO_F_TYPE_REPLY, 0, b, need, &fd, fd >= 0);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int fake_irq_info(struct fstate *s, const struct peer_msg *m)
{
	static const uint32_t count[] = { 1, 1, 4, 1, 1 };
	uint32_t index = get_le32(m->payload + 8);
	uint8_t b[16];

	if (index >= ARRAY_SIZE(count))
		return reply_err(s, m, EINVAL);
	put_le32(b, 16);
	put_le32(b + 4, UVFIO_IRQ_INFO_EVENTFD);
	put_le32(b + 8, s->mode == FAKE_IRQ_BAD && index == 1 ? 0 : index);
	put_le32(b + 12, s->mode == FAKE_IRQ_BAD && index == 2 ? 0x80000000u : count[index]);
	return reply(s, m, b, 16);
}

/* Send the client a DMA_READ/DMA_WRITE and wait for the reply. */
static int fake_dma(struct fstate *s, uint16_t cmd, uint64_t addr, uint64_t count,
		    const void *data, size_t dlen, struct peer_msg *rep)
{
	uint8_t b[64];
	uint16_t id = s->p.next_id++;
	int ret;

	put_le64(b, addr);
	put_le64(b + 8, count);
	if (dlen)
		memcpy(b + 16, data, dlen);
	/* Commands other than DMA_READ/WRITE go with an empty payload. */
	ret = fake_send(s, id, cmd, UVFIO_F_TYPE_COMMAND, 0, b,
			cmd == UVFIO_CMD_DMA_READ || cmd == UVFIO_CMD_DMA_WRITE ? 16 + dlen : 0,
			NULL, 0);
	if (!ret)
		ret = peer_recv(&s->p, rep);
	if (!ret && (rep->hdr.id != id || rep->hdr.cmd != cmd ||
		     (rep->hdr.flags & UVFIO_F_TYPE_MASK) != UVFIO_F_TYPE_REPLY)) {
		peer_msg_free(rep);
		ret = -EPROTO;
	}
	return ret;
}

/* Expect an error reply with @err to a DMA request; note step @step otherwise. */
static void expect_dma_error(struct fstate *s, int step, uint16_t cmd, uint64_t addr,
			     uint64_t count, const void *data, size_t dlen, uint32_t err)
{
	struct peer_msg rep;

	if (fake_dma(s, cmd, addr, count, data, dlen, &rep)) {
		s->fail = s->fail ? s->fail : step;
		return;
	}
	if (!(rep.hdr.flags & UVFIO_F_ERROR) || rep.hdr.error != err || rep.len)
		s->fail = s->fail ? s->fail : step;
	peer_msg_free(&rep);
}

/* While a REGION_READ waits: requests the client must refuse, then good ones. */
static void fake_dma_requests(struct fstate *s)
{
	struct peer_msg rep;

	expect_dma_error(s, 1, UVFIO_CMD_DMA_READ, 0xdead0000, 16, NULL, 0, EFAULT);
	expect_dma_error(s, 2, UVFIO_CMD_DMA_READ, FAKE_RW, 2 << 20, NULL, 0, E2BIG);
	expect_dma_error(s, 3, UVFIO_CMD_DMA_WRITE, FAKE_RO, 8, "ABCDEFGH", 8, EPERM);
	expect_dma_error(s, 4, UVFIO_CMD_DMA_READ, FAKE_RW + 2 * PG - 8, 16, NULL, 0, EFAULT);
	expect_dma_error(s, 5, UVFIO_CMD_DMA_WRITE, FAKE_RW, 16, "ABCDEFGH", 8, EINVAL);
	expect_dma_error(s, 6, UVFIO_CMD_DEVICE_RESET, 0, 0, NULL, 0, ENOSYS);
	expect_dma_error(s, 7, 99, 0, 0, NULL, 0, ENOSYS);
	expect_dma_error(s, 8, UVFIO_CMD_DMA_WRITE, UINT64_MAX - 3, 8, "ABCDEFGH", 8, EFAULT);
	/* Served: the read-write memory, and reading the read-only one. */
	if (fake_dma(s, UVFIO_CMD_DMA_READ, FAKE_RW + 16, 16, NULL, 0, &rep)) {
		s->fail = s->fail ? s->fail : 9;
	} else {
		if ((rep.hdr.flags & UVFIO_F_ERROR) || rep.len != 32 || rep.payload[16] != 16 ||
		    rep.payload[31] != 31)
			s->fail = s->fail ? s->fail : 9;
		peer_msg_free(&rep);
	}
	if (fake_dma(s, UVFIO_CMD_DMA_WRITE, FAKE_RW + 0x100, 4, "WXYZ", 4, &rep)) {
		s->fail = s->fail ? s->fail : 10;
	} else {
		if (rep.hdr.flags & UVFIO_F_ERROR)
			s->fail = s->fail ? s->fail : 10;
		peer_msg_free(&rep);
	}
	if (fake_dma(s, UVFIO_CMD_DMA_READ, FAKE_RO, 8, NULL, 0, &rep)) {
		s->fail = s->fail ? s->fail : 11;
	} else {
		if ((rep.hdr.flags & UVFIO_F_ERROR) || rep.len != 24 || rep.payload[16] != 0x77)
			s->fail = s->fail ? s->fail : 11;
		peer_msg_free(&rep);
	}
}

/*
 * Messages without end from a second process: requests for memory the
 * client must answer (FAKE_READ_FLOOD), read back here in bulk, or replies
 * that answer nothing (FAKE_READ_STRAY_FLOOD), 256 to a write; either way
 * the client always has one waiting. Until the client sends a command.
 * Writes are non-blocking and small enough to go whole or not at all, so
 * killing the sender leaves no torn message in the stream.
 */
static int fake_flood(struct fstate *s, struct peer_msg *next)
{
	uint64_t end = now_ms() + 10000;
	pid_t tx;
	int ret = 0;

	fflush(NULL);
	tx = fork();
	if (tx < 0)
		return -errno;
	if (tx == 0) {
		bool stray = s->mode == FAKE_READ_STRAY_FLOOD;
		struct uvfio_hdr h = { .cmd = stray ? UVFIO_CMD_REGION_READ : UVFIO_CMD_DMA_READ,
				       .flags = stray ? UVFIO_F_TYPE_REPLY : UVFIO_F_TYPE_COMMAND,
				       .size = stray ? 16 : 32, .id = 0x9000 };
		static uint8_t b[256 * 32];
		size_t len = stray ? 256 * 16 : 32;

		for (size_t off = 0; off < len; off += h.size) {
			uvfio_proto_hdr_encode(b + off, &h);
			put_le64(b + off + 16, 0x1000);
			put_le64(b + off + 24, 8);
		}
		while (now_ms() < end) {
			if (!stray) {
				h.id++;
				uvfio_proto_hdr_encode(b, &h);
			}
			while (send(s->p.fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
				if (errno != EAGAIN)
					_exit(0);
				poll(&(struct pollfd){ .fd = s->p.fd, .events = POLLOUT }, 1, 10);
			}
		}
		_exit(0);
	}
	/* Replies are read in bulk (whole messages only), faster than the client writes them. */
	while (now_ms() < end && ret != 1) {
		static uint8_t buf[65536];
		ssize_t n;
		size_t off = 0;

		if (poll(&(struct pollfd){ .fd = s->p.fd, .events = POLLIN }, 1, 100) != 1)
			continue;
		n = recv(s->p.fd, buf, sizeof(buf), MSG_PEEK);
		if (n <= 0) {
			ret = -ECONNRESET;
			break;
		}
		while (off + UVFIO_HDR_SIZE <= (size_t)n) {
			uvfio_proto_hdr_decode(buf + off, &next->hdr);
			if (next->hdr.size < UVFIO_HDR_SIZE || off + next->hdr.size > (size_t)n)
				break;
			off += next->hdr.size;
			if ((next->hdr.flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_COMMAND) {
				next->len = next->hdr.size - UVFIO_HDR_SIZE;
				next->payload = malloc(next->len + 1);
				next->nfds = 0;
				if (!next->payload)
					return -ENOMEM;
				memcpy(next->payload, buf + off - next->len, next->len);
				ret = 1;
				break;
			}
		}
		if (recv(s->p.fd, buf, off, 0) != (ssize_t)off)
			ret = -EIO;
	}
	kill(tx, SIGKILL);
	waitpid(tx, NULL, 0);
	if (ret)
		return ret; /* 1: the client moved on, handle its command */
	s->fail = 20; /* the client never got away */
	return 0;
}

static int fake_region_read(struct fstate *s, const struct peer_msg *m)
{
	uint64_t off = get_le64(m->payload);
	uint32_t region = get_le32(m->payload + 8), count = get_le32(m->payload + 12);
	static const uint32_t bad_errno[] = { 0x80000000u, 0xffffffffu, 0, 5000 };
	uint8_t *b = calloc(1, 16 + (size_t)count + 8);
	uint32_t n = count;
	int ret, fd = -1;

	if (!b)
		return -ENOMEM;
	memcpy(b, m->payload, 16);
	for (uint32_t i = 0; i < count; i++) {
		uint64_t at = off + i;
		uint32_t ids = FAKE_VENDOR | (uint32_t)FAKE_DEVICE << 16;

		if (region == UVFIO_PCI_CONFIG_REGION_INDEX && at < 4)
			b[16 + i] = (uint8_t)(ids >> (8 * at));
	}
	s->reads++;
	switch (s->mode) {
	case FAKE_READ_TOO_LONG:
		n = count + 4;
		put_le32(b + 12, n);
		break;
	case FAKE_READ_TOO_SHORT:
		n = count ? count - 1 : 0;
		break;
	case FAKE_READ_STRAY_FD:
		fd = memfd(PG);
		break;
	case FAKE_READ_BAD_ERRNO:
		free(b);
		return reply_err(s, m, bad_errno[(s->reads - 1) % ARRAY_SIZE(bad_errno)]);
	case FAKE_READ_OVERSIZE: {
		/* A reply of 2 MiB of data: over any limit the client set. */
		size_t big = 2u << 20;
		uint8_t *z = calloc(1, 16 + big);

		free(b);
		if (!z)
			return -ENOMEM;
		memcpy(z, m->payload, 16);
		put_le32(z + 12, (uint32_t)big);
		ret = fake_send(s, m->hdr.id, m->hdr.cmd, UVFIO_F_TYPE_REPLY, 0, z, 16 + big,
				NULL, 0);
		free(z);
		return ret < 0 ? 0 : ret; /* the client may hang up halfway */
	}
	case FAKE_READ_WRONG_ID:
		ret = fake_send(s, m->hdr.id + 1, m->hdr.cmd, UVFIO_F_TYPE_REPLY, 0, b, 16 + n,
				NULL, 0);
		free(b);
		return ret;
	case FAKE_DMA_REQUESTS:
		fake_dma_requests(s);
		break;
	case FAKE_DMA_DURING_READ: {
		/* More than the client's read buffer holds, while it waits for this reply. */
		struct peer_msg rep;

		if (fake_dma(s, UVFIO_CMD_DMA_READ, FAKE_RW, 2 * PG, NULL, 0, &rep)) {
			s->fail = s->fail ? s->fail : 1;
			break;
		}
		if ((rep.hdr.flags & UVFIO_F_ERROR) || rep.len != 16 + 2 * PG ||
		    rep.payload[16 + 5] != 5)
			s->fail = s->fail ? s->fail : 2;
		peer_msg_free(&rep);
		break;
	}
	default:
		break;
	}
	ret = fake_send(s, m->hdr.id, m->hdr.cmd, UVFIO_F_TYPE_REPLY, 0, b, 16 + n, &fd, fd >= 0);
	if (fd >= 0)
		close(fd);
	free(b);
	return ret;
}

#define FLOOD_N 300 /* more than one uvfio_device_dispatch() call takes */

/*
 * Reply, wait until the test says the client is idle, then send FLOOD_N
 * DMA_WRITEs in one write (so they are all there when poll() wakes) and
 * collect the replies, which must come in order and succeed.
 */
static int fake_idle_flood(struct fstate *s, const struct peer_msg *m)
{
	const size_t one = UVFIO_HDR_SIZE + 24;
	uint8_t *b;
	char c;
	int ret;

	ret = reply(s, m, m->payload, 16);
	if (ret)
		return ret;
	if (!poll(&(struct pollfd){ .fd = s->go, .events = POLLIN }, 1, 10000) ||
	    read(s->go, &c, 1) != 1)
		return -ETIMEDOUT;
	b = malloc(FLOOD_N * one);
	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < FLOOD_N; i++) {
		struct uvfio_hdr r = { .id = (uint16_t)(0x1000 + i), .cmd = UVFIO_CMD_DMA_WRITE,
				       .flags = UVFIO_F_TYPE_COMMAND, .size = (uint32_t)one };

		uvfio_proto_hdr_encode(b + i * one, &r);
		put_le64(b + i * one + 16, FAKE_RW + (i % 512) * 8);
		put_le64(b + i * one + 24, 8);
		put_le64(b + i * one + 32, 0x464c4f4f44000000ull | i);
	}
	ret = peer_send_raw(&s->p, b, FLOOD_N * one, NULL, 0);
	free(b);
	for (unsigned i = 0; i < FLOOD_N && !ret; i++) {
		struct peer_msg rep;

		ret = peer_recv(&s->p, &rep);
		if (ret)
			break;
		if (rep.hdr.cmd != UVFIO_CMD_DMA_WRITE || (rep.hdr.flags & UVFIO_F_ERROR) ||
		    rep.hdr.id != 0x1000 + i)
			s->fail = s->fail ? s->fail : 31;
		peer_msg_free(&rep);
	}
	return ret;
}

static int fake_region_write(struct fstate *s, const struct peer_msg *m)
{
	uint64_t off = get_le64(m->payload);
	uint8_t b[2 * UVFIO_HDR_SIZE + 16 + 24]; /* our reply, then our request */
	struct uvfio_hdr h = { .id = m->hdr.id, .cmd = m->hdr.cmd, .flags = UVFIO_F_TYPE_REPLY,
			       .size = UVFIO_HDR_SIZE + 16 };
	struct uvfio_hdr r = { .id = 0x7777, .cmd = UVFIO_CMD_DMA_WRITE,
			       .flags = UVFIO_F_TYPE_COMMAND, .size = UVFIO_HDR_SIZE + 24 };
	struct peer_msg rep;
	char c;
	int ret;

	if (s->mode == FAKE_IDLE_FLOOD)
		return fake_idle_flood(s, m);
	if (s->mode != FAKE_UNSOLICITED)
		return reply(s, m, m->payload, 16);
	/* The reply and a request of ours in one write: the client reads both at once. */
	uvfio_proto_hdr_encode(b, &h);
	memcpy(b + UVFIO_HDR_SIZE, m->payload, 16);
	if (off == 0) {
		uvfio_proto_hdr_encode(b + 32, &r);
		put_le64(b + 48, FAKE_RW);
		put_le64(b + 56, 8);
		memcpy(b + 64, "UNSOLICI", 8);
		ret = peer_send_raw(&s->p, b, sizeof(b), NULL, 0);
	} else {
		/* Reply now; ask once the test says the client is idle. */
		ret = peer_send_raw(&s->p, b, 32, NULL, 0);
		if (!ret && (!poll(&(struct pollfd){ .fd = s->go, .events = POLLIN }, 1, 10000) ||
			     read(s->go, &c, 1) != 1))
			ret = -ETIMEDOUT;
		if (!ret) {
			r.id = 0x7778;
			uvfio_proto_hdr_encode(b + 32, &r);
			put_le64(b + 48, FAKE_RW + 8);
			put_le64(b + 56, 8);
			memcpy(b + 64, "DISPATCH", 8);
			ret = peer_send_raw(&s->p, b + 32, 40, NULL, 0);
		}
	}
	if (ret)
		return ret;
	ret = peer_recv(&s->p, &rep);
	if (ret)
		return ret;
	if (rep.hdr.cmd != UVFIO_CMD_DMA_WRITE || (rep.hdr.flags & UVFIO_F_ERROR) ||
	    rep.hdr.id != (off ? 0x7778 : 0x7777))
		s->fail = s->fail ? s->fail : 30;
	peer_msg_free(&rep);
	return 0;
}

static int fake_handle(struct fstate *s, const struct peer_msg *m)
{
	uint8_t b[16];

	/* A late reply to a request of ours (the flood's last one): nothing to do. */
	if ((m->hdr.flags & UVFIO_F_TYPE_MASK) != UVFIO_F_TYPE_COMMAND)
		return 0;
	switch (m->hdr.cmd) {
	case UVFIO_CMD_VERSION:
		return fake_version(s, m);
	case UVFIO_CMD_DMA_MAP:
	case UVFIO_CMD_DEVICE_SET_IRQS:
	case UVFIO_CMD_DEVICE_RESET:
		return reply(s, m, NULL, 0);
	case UVFIO_CMD_DMA_UNMAP:
		return reply(s, m, m->payload, MIN(m->len, (size_t)24));
	case UVFIO_CMD_DEVICE_GET_INFO:
		put_le32(b, 16);
		put_le32(b + 4, UVFIO_DEVICE_FLAGS_PCI | UVFIO_DEVICE_FLAGS_RESET);
		put_le32(b + 8, s->mode == FAKE_INFO_1000_REGIONS ? 1000 : UVFIO_PCI_NUM_REGIONS);
		put_le32(b + 12, UVFIO_PCI_NUM_IRQS);
		return reply(s, m, b, 16);
	case UVFIO_CMD_DEVICE_GET_REGION_INFO:
		return fake_region_info(s, m);
	case UVFIO_CMD_DEVICE_GET_IRQ_INFO:
		return fake_irq_info(s, m);
	case UVFIO_CMD_REGION_READ:
		return fake_region_read(s, m);
	case UVFIO_CMD_REGION_WRITE:
		return fake_region_write(s, m);
	default:
		return reply_err(s, m, ENOSYS);
	}
}

/* The child: one client, until it hangs up. Exit 0, or the first failed expectation. */
static int fake_main(int lfd, enum fake_mode mode, int go)
{
	struct fstate s = { .mode = mode, .go = go };
	struct pollfd pf = { .fd = lfd, .events = POLLIN };
	struct peer_msg m;
	bool have = false;
	int ret;

	if (poll(&pf, 1, 10000) != 1)
		return 50;
	s.p.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	s.p.timeout_ms = 10000;
	close(lfd);
	if (s.p.fd < 0)
		return 51;
	for (;;) {
		if (!have) {
			ret = peer_recv(&s.p, &m);
			if (ret == -ECONNRESET)
				break; /* the client hung up: the session is over */
			if (ret)
				return 52;
		}
		have = false;
		if ((mode == FAKE_READ_FLOOD || mode == FAKE_READ_STRAY_FLOOD) &&
		    m.hdr.cmd == UVFIO_CMD_REGION_READ) {
			peer_msg_free(&m);
			ret = fake_flood(&s, &m);
			if (ret == -ECONNRESET)
				break; /* the client gave the connection up */
			if (ret < 0)
				return 53;
			have = ret == 1;
			continue;
		}
		ret = fake_handle(&s, &m);
		peer_msg_free(&m);
		/* Hung up on, or given up on after a flood: the session is over. */
		if (ret < 0 && (mode == FAKE_VERSION_HANG_UP || mode == FAKE_READ_FLOOD ||
				mode == FAKE_READ_STRAY_FLOOD))
			break;
		if (ret < 0)
			return 54;
	}
	close(s.p.fd);
	return s.fail;
}

static void fake_start(enum fake_mode mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake *f = &t_fake;
	int lfd;

	memset(f, 0, sizeof(*f));
	f->go[0] = f->go[1] = -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/uvfio-fake-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%.64s/fake.sock", f->dir);
	strcpy(sa.sun_path, f->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(pipe2(f->go, O_CLOEXEC), 0);
	fflush(NULL);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		close(f->go[1]);
		_exit(fake_main(lfd, mode, f->go[0]));
	}
	close(lfd);
	close(f->go[0]);
	f->go[0] = -1;
}

/* Reap the fake (it ends when the client hangs up); return its exit status. */
static int fake_stop(void)
{
	struct fake *f = &t_fake;
	int st = 0, ret = -1;

	if (!f->pid)
		return -1;
	for (int i = 0; i < 500; i++) {
		if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
			ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		usleep(10000);
	}
	if (ret < 0) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, &st, 0);
	}
	if (f->go[1] >= 0)
		close(f->go[1]);
	unlink(f->path);
	rmdir(f->dir);
	memset(f, 0, sizeof(*f));
	return ret;
}

/* Open the fake's device: the result, within @bound_ms. */
static int fake_open(enum fake_mode mode, uint32_t timeout_ms, uint64_t bound_ms)
{
	struct uvfio_open_opts o = opts(timeout_ms);
	uint64_t t;
	int ret;

	fake_start(mode);
	t = now_ms();
	ret = uvfio_device_open(t_fake.path, &o, &t_dev);
	assert_true(now_ms() - t < bound_ms);
	if (ret)
		assert_null(t_dev);
	return ret;
}

static void fake_close(void)
{
	uint64_t t = now_ms();

	uvfio_device_close(t_dev);
	t_dev = NULL;
	assert_true(now_ms() - t < PROMPT_MS);
	assert_int_equal(fake_stop(), 0);
}

/* The fake itself, well-behaved: what the hostile cases differ from. */
static void test_fake_sane(void **state)
{
	struct uvfio_region r = { .argsz = sizeof(r) };
	struct uvfio_irq_info ii;

	assert_ret(fake_open(FAKE_SANE, 2000, PROMPT_MS), 0);
	assert_int_equal(cfg_ids(t_dev), FAKE_VENDOR | (uint32_t)FAKE_DEVICE << 16);
	assert_ret(uvfio_device_region(t_dev, 2, &r), 0);
	assert_int_equal(r.size, 0x10000);
	assert_ret(uvfio_device_irq_info(t_dev, 2, &ii), 0);
	assert_int_equal(ii.count, 4);
	assert_ret(uvfio_device_irq_enable(t_dev, 2, 4), 0);
	assert_ret(uvfio_device_reset(t_dev), 0);
	fake_close();
}

struct version_case {
	enum fake_mode mode;
	int want;
	const char *log;
};

static void test_hostile_version_replies(void **state)
{
	static const struct version_case cases[] = {
		{ FAKE_VERSION_MAJOR1, -EPROTO, "protocol 1.0" },
		{ FAKE_VERSION_MINOR9, -EPROTO, "protocol 0.9" },
		{ FAKE_VERSION_BAD_JSON, -EPROTO, "VERSION reply is malformed" },
		{ FAKE_VERSION_NO_NUL, -EPROTO, "VERSION reply is malformed" },
		{ FAKE_VERSION_TWIN_NO_FD, -EPROTO, "twin socket" },
		{ FAKE_VERSION_TWIN_BAD_INDEX, -EPROTO, "twin socket" },
		{ FAKE_VERSION_XFER0, -EPROTO, "transfers of 0 bytes" },
		{ FAKE_VERSION_PGSIZE_512, -EPROTO, "no DMA page size" },
		{ FAKE_VERSION_ERROR, -ENOTSUP, "version negotiation" },
		{ FAKE_VERSION_HANG_UP, -ECONNRESET, "lost the vfio-user server" },
		{ FAKE_VERSION_SHORT_HDR, -EPROTO, "below 16" },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		int fds = uvfio_test_fd_count(), ret;

		printf("# case %u\n", i);
		ret = fake_open(cases[i].mode, 2000, PROMPT_MS);
		assert_ret(ret, cases[i].want);
		if (cases[i].log)
			assert_true(logged(cases[i].log));
		assert_int_equal(fake_stop(), 0);
		assert_int_equal(uvfio_test_fd_count(), fds);
	}
}

/* An fd nobody asked for in the VERSION reply is closed, and the session works. */
static void test_version_stray_fd_closed(void **state)
{
	struct uvfio_open_opts o = opts(2000);
	int fds;

	fake_start(FAKE_VERSION_STRAY_FDS);
	fds = uvfio_test_fd_count();
	assert_ret(uvfio_device_open(t_fake.path, &o, &t_dev), 0);
	assert_int_equal(uvfio_test_fd_count(), fds + 1); /* the connection */
	assert_int_equal(cfg_ids(t_dev), FAKE_VENDOR | (uint32_t)FAKE_DEVICE << 16);
	fake_close();
}

static void test_hostile_1000_regions(void **state)
{
	assert_ret(fake_open(FAKE_INFO_1000_REGIONS, 2000, PROMPT_MS), -EPROTO);
	assert_true(logged("1000 regions"));
	assert_int_equal(fake_stop(), 0);
}

static void test_hostile_region_read_replies(void **state)
{
	static const enum fake_mode modes[] = { FAKE_READ_TOO_LONG, FAKE_READ_TOO_SHORT,
						FAKE_READ_STRAY_FD };
	uint8_t b[8];

	for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
		uint64_t t;

		assert_ret(fake_open(modes[i], 2000, PROMPT_MS), 0);
		t = now_ms();
		assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -EPROTO);
		assert_ret(uvfio_device_read(t_dev, 0, 0, b, 8), modes[i] == FAKE_READ_STRAY_FD ?
			   -ECONNRESET : -EPROTO);
		assert_true(now_ms() - t < PROMPT_MS);
		fake_close();
	}
}

/* Error replies whose errno isn't one: still a negative errno, never success. */
static void test_hostile_error_numbers(void **state)
{
	uint8_t b[4];

	assert_ret(fake_open(FAKE_READ_BAD_ERRNO, 2000, PROMPT_MS), 0);
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -EPROTO);  /* 0x80000000 */
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -EPROTO);  /* 0xffffffff */
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -EIO);     /* 0 */
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -EPROTO);  /* 5000 */
	fake_close();
}

static void test_hostile_oversize_reply(void **state)
{
	uint8_t b[4];
	uint64_t t;

	assert_ret(fake_open(FAKE_READ_OVERSIZE, 2000, PROMPT_MS), 0);
	t = now_ms();
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -EPROTO);
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), -ECONNRESET);
	assert_true(now_ms() - t < PROMPT_MS);
	fake_close();
}

/* A reply with the wrong id, or replies to nothing without end: -ETIMEDOUT on time. */
static void test_hostile_no_answer(void **state)
{
	static const enum fake_mode modes[] = { FAKE_READ_WRONG_ID, FAKE_READ_STRAY_FLOOD };

	for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
		uint8_t b[4];
		uint64_t t;
		int ret;

		assert_ret(fake_open(modes[i], 300, PROMPT_MS), 0);
		if (modes[i] == FAKE_READ_STRAY_FLOOD)
			quiet_log();
		t = now_ms();
		ret = uvfio_device_cfg_read(t_dev, 0, b, 4);
		t = now_ms() - t;
		printf("# mode %d: %d after %llu ms\n", modes[i], ret, (unsigned long long)t);
		assert_ret(ret, -ETIMEDOUT);
		assert_true(t >= 290 && t < 300 + PROMPT_MS);
		assert_true(logged("did not answer"));
		fake_close();
	}
}

/*
 * Requests for memory without end while a call waits: each is refused, and
 * the call ends on time — timed out, or with the connection given up when
 * the server stops taking the answers.
 */
static void test_hostile_request_flood(void **state)
{
	uint8_t b[4];
	uint64_t t;
	int ret;

	assert_ret(fake_open(FAKE_READ_FLOOD, 300, PROMPT_MS), 0);
	quiet_log();
	t = now_ms();
	ret = uvfio_device_cfg_read(t_dev, 0, b, 4);
	t = now_ms() - t;
	printf("# %d after %llu ms\n", ret, (unsigned long long)t);
	assert_true(ret == -ETIMEDOUT || ret == -ECONNRESET);
	assert_true(t >= 290 && t < 300 + PROMPT_MS);
	t = now_ms();
	uvfio_device_close(t_dev);
	t_dev = NULL;
	assert_true(now_ms() - t < 300 + PROMPT_MS);
	assert_int_equal(fake_stop(), 0);
}

static void test_hostile_region_info(void **state)
{
	struct uvfio_region r = { .argsz = sizeof(r) };
	void *p;

	assert_ret(fake_open(FAKE_REGION_BAD, 2000, PROMPT_MS), 0);
	assert_ret(uvfio_device_region(t_dev, 0, &r), 0);
	assert_int_equal(r.size, PG);
	/* Wrong index in the reply; areas past the end, wrapping, empty, too many. */
	assert_ret(uvfio_device_region(t_dev, 1, &r), -EPROTO);
	assert_ret(uvfio_device_region(t_dev, 2, &r), -EPROTO);
	assert_true(logged("lies outside"));
	assert_ret(uvfio_device_mmap(t_dev, 2, 0, PG, PROT_READ, &p), -EPROTO);
	assert_ret(uvfio_device_region(t_dev, 4, &r), -EPROTO);
	assert_ret(uvfio_device_region(t_dev, 5, &r), -EPROTO);
	assert_ret(uvfio_device_region(t_dev, 6, &r), -EPROTO);
	/* Nothing was cached: asked again, refused again; the rest still works. */
	assert_ret(uvfio_device_region(t_dev, 2, &r), -EPROTO);
	assert_int_equal(cfg_ids(t_dev), FAKE_VENDOR | (uint32_t)FAKE_DEVICE << 16);
	fake_close();
}

/*
 * A region fd shorter than the region: touching the mapping past the file's
 * end would kill the driver with SIGBUS, so such a mapping is refused.
 */
static void test_region_fd_too_short(void **state)
{
	struct uvfio_region r = { .argsz = sizeof(r) };
	volatile uint8_t *v;
	void *p;

	assert_ret(fake_open(FAKE_REGION_SHORT_FD, 2000, PROMPT_MS), 0);
	assert_ret(uvfio_device_region(t_dev, 2, &r), 0);
	assert_int_equal(r.size, 0x10000);
	assert_true(r.flags & UVFIO_REGION_INFO_FLAG_MMAP);
	assert_ret(uvfio_device_mmap(t_dev, 2, 0, 0x10000, PROT_READ, &p), -EPROTO);
	assert_true(logged("SIGBUS"));
	assert_ret(uvfio_device_mmap(t_dev, 2, PG, PG, PROT_READ, &p), -EPROTO);
	/* The part the file does back maps, and reads. */
	assert_ret(uvfio_device_mmap(t_dev, 2, 0, PG, PROT_READ, &p), 0);
	v = p;
	assert_int_equal(v[PG - 1], 0);
	assert_ret(uvfio_device_munmap(t_dev, p, PG), 0);
	fake_close();
}

static void test_hostile_irq_info(void **state)
{
	struct uvfio_irq_info ii;

	assert_ret(fake_open(FAKE_IRQ_BAD, 2000, PROMPT_MS), 0);
	assert_ret(uvfio_device_irq_info(t_dev, 0, &ii), 0);
	assert_ret(uvfio_device_irq_info(t_dev, 1, &ii), -EPROTO);
	assert_ret(uvfio_device_irq_info(t_dev, 2, &ii), -EPROTO);
	assert_true(logged("2147483648 vectors"));
	assert_ret(uvfio_device_irq_enable(t_dev, 2, 1), -EPROTO);
	assert_ret(uvfio_device_irq_enable(t_dev, 2, 0x7fffffff), -EPROTO);
	assert_ret(uvfio_device_irq_enable(t_dev, 0, 1), 0);
	fake_close();
}

static void map_fake_memory(uint8_t **rw, uint8_t **ro)
{
	struct uvfio_container *c = uvfio_device_container(t_dev);

	*rw = mem_new(0, 2 * PG);
	*ro = mem_new(1, PG);
	for (unsigned i = 0; i < 2 * PG; i++)
		(*rw)[i] = (uint8_t)i;
	memset(*ro, 0x77, PG);
	assert_ret(uvfio_container_map(c, &(struct uvfio_mapping){
		.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ | UVFIO_DMA_WRITE,
		.vaddr = *rw, .size = 2 * PG, .iova = FAKE_RW, .fd = -1 }), 0);
	assert_ret(uvfio_container_map(c, &(struct uvfio_mapping){
		.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ, .vaddr = *ro,
		.size = PG, .iova = FAKE_RO, .fd = -1 }), 0);
}

/* The server asks for memory it must not get while a call waits: refused, call goes on. */
static void test_hostile_dma_requests(void **state)
{
	uint8_t *rw, *ro, b[4];

	assert_ret(fake_open(FAKE_DMA_REQUESTS, 2000, PROMPT_MS), 0);
	map_fake_memory(&rw, &ro);
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), 0);
	assert_int_equal(get_le32(b), FAKE_VENDOR | (uint32_t)FAKE_DEVICE << 16);
	assert_memory_equal(rw + 0x100, "WXYZ", 4);
	assert_int_equal(rw[0], 0);
	assert_int_equal(ro[0], 0x77);
	fake_close(); /* exit 0: every refusal carried the right errno */
}

/*
 * A DMA_READ bigger than anything read so far, while a REGION_READ waits:
 * the client used to grow the buffer the pending reply was headed for,
 * and wrote the reply into freed memory (found by fuzz_vfio_user).
 */
static void test_dma_read_during_region_read(void **state)
{
	uint8_t *rw, *ro, b[4];

	assert_ret(fake_open(FAKE_DMA_DURING_READ, 2000, PROMPT_MS), 0);
	map_fake_memory(&rw, &ro);
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 4), 0);
	assert_int_equal(get_le32(b), FAKE_VENDOR | (uint32_t)FAKE_DEVICE << 16);
	assert_ret(uvfio_device_cfg_read(t_dev, 0, b, 2), 0);
	assert_int_equal(get_le32(b) & 0xffff, FAKE_VENDOR);
	fake_close(); /* exit 0: the DMA_READ was served in full */
}

/* Requests outside a call: served by the call that reads them, or through the poll fd. */
static void test_server_requests_poll_dispatch(void **state)
{
	struct pollfd pf = { .events = POLLIN };
	uint8_t *rw, *ro, b[4] = { 0 };
	uint64_t end;

	assert_ret(fake_open(FAKE_UNSOLICITED, 2000, PROMPT_MS), 0);
	map_fake_memory(&rw, &ro);
	pf.fd = uvfio_device_get_poll_fd(t_dev);
	assert_true(pf.fd >= 0);
	assert_int_equal(uvfio_device_dispatch(t_dev), 0);
	/* The request came in the same read as the reply: no poll wakeup will follow. */
	assert_ret(uvfio_device_write(t_dev, 0, 0, b, 4), 0);
	end = now_ms() + 2000;
	while (memcmp(rw, "UNSOLICI", 8) && now_ms() < end)
		if (poll(&pf, 1, 50) == 1)
			assert_true(uvfio_device_dispatch(t_dev) >= 0);
	assert_memory_equal(rw, "UNSOLICI", 8);
	/* A request while the client is idle: the poll fd wakes up, dispatch serves it. */
	assert_ret(uvfio_device_write(t_dev, 0, 4, b, 4), 0);
	assert_int_equal(write(t_fake.go[1], "g", 1), 1);
	assert_int_equal(poll(&pf, 1, 2000), 1);
	assert_int_equal(uvfio_device_dispatch(t_dev), 1);
	assert_memory_equal(rw + 8, "DISPATCH", 8);
	assert_int_equal(uvfio_device_dispatch(t_dev), 0);
	fake_close();
}

/* A flood while the client is idle: each dispatch call takes a bounded share. */
static void test_dispatch_bounded(void **state)
{
	struct pollfd pf = { .events = POLLIN };
	uint8_t *rw, *ro, b[4] = { 0 };
	int n, total = 0, calls = 0;

	assert_ret(fake_open(FAKE_IDLE_FLOOD, 2000, PROMPT_MS), 0);
	map_fake_memory(&rw, &ro);
	pf.fd = uvfio_device_get_poll_fd(t_dev);
	assert_true(pf.fd >= 0);
	assert_ret(uvfio_device_write(t_dev, 0, 0, b, 4), 0);
	assert_int_equal(write(t_fake.go[1], "g", 1), 1);
	assert_int_equal(poll(&pf, 1, 2000), 1);
	/* Everything arrived in one write: the first call stops at the limit. */
	n = uvfio_device_dispatch(t_dev);
	assert_int_equal(n, UVFIO_DISPATCH_MAX);
	/* A full share means "call again", without waiting for the poll fd. */
	while (total += n, ++calls, n == UVFIO_DISPATCH_MAX) {
		n = uvfio_device_dispatch(t_dev);
		assert_true(n >= 0 && n <= UVFIO_DISPATCH_MAX);
	}
	assert_int_equal(total, FLOOD_N);
	assert_int_equal(calls, 2);
	assert_int_equal(uvfio_device_dispatch(t_dev), 0);
	/* The last writes landed (request i wrote slot i % 512). */
	assert_int_equal(get_le64(rw + (FLOOD_N - 1) * 8), 0x464c4f4f44000000ull | (FLOOD_N - 1));
	fake_close(); /* exit 0: every reply came, in order */
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST(test_server_killed_calls_fail_fast),
		TEST(test_server_killed_during_call),
		TEST(test_server_stopped_times_out),
		TEST(test_open_no_server),
		TEST(test_fake_sane),
		TEST(test_hostile_version_replies),
		TEST(test_version_stray_fd_closed),
		TEST(test_hostile_1000_regions),
		TEST(test_hostile_region_read_replies),
		TEST(test_hostile_error_numbers),
		TEST(test_hostile_oversize_reply),
		TEST(test_hostile_no_answer),
		TEST(test_hostile_request_flood),
		TEST(test_hostile_region_info),
		TEST(test_region_fd_too_short),
		TEST(test_hostile_irq_info),
		TEST(test_hostile_dma_requests),
		TEST(test_dma_read_during_region_read),
		TEST(test_server_requests_poll_dispatch),
		TEST(test_dispatch_bounded),
	};
	int ret;

	cmocka_set_message_output(CM_OUTPUT_TAP);
	uvfio_test_tap();
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	return ret;
}
