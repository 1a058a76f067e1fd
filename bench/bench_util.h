/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared bench helpers: pinning, timing, percentiles, a forked dma-device
 * server on a socketpair, and a minimal blocking vfio-user client on
 * lib/transport. Header-only so each bench is one file.
 *
 * Floors are measured in the same run as the figure they bound, with the
 * same processes, cores and message sizes, so the ratio is what matters.
 */
#ifndef UVFIO_BENCH_UTIL_H
#define UVFIO_BENCH_UTIL_H

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dma/dma.h"
#include "transport/transport.h"
#include "util/util.h"

static inline uint64_t bench_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static inline void bench_pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v in place; returns the @pct-th percentile. */
static inline uint64_t bench_pct(uint64_t *v, size_t n, double pct)
{
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	return v[(size_t)((double)(n - 1) * pct / 100.0)];
}

static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Fork a dma-device server pinned to @cpu on one end of a socketpair. */
static inline pid_t bench_server(int cpu, int *client_fd, uint64_t max_dma_maps)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		bench_die("socketpair", errno);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED,
					    .fd = sv[1], .max_dma_maps = max_dma_maps };
		struct dma_dev *d;
		int ret;

		close(sv[0]);
		bench_pin(cpu);
		if (dma_dev_create(&o, &d))
			_exit(1);
		do
			ret = uvfio_emu_run(dma_dev_emu(d));
		while (ret == 0 || ret == -EINTR);
		dma_dev_destroy(d);
		_exit(0);
	}
	close(sv[1]);
	*client_fd = sv[0];
	return pid;
}

/*
 * Fork a dma-device server pinned to @cpu listening on a fresh socket path
 * (written to @path); it serves clients one after another until SIGTERM.
 */
static volatile sig_atomic_t bench_stop_flag;
static struct uvfio_emu *bench_emu;

static void bench_on_term(int sig)
{
	(void)sig;
	bench_stop_flag = 1;
	if (bench_emu)
		uvfio_emu_interrupt(bench_emu);
}

static inline pid_t bench_path_server(int cpu, char *path, size_t len)
{
	char dir[] = "/tmp/uvfio-bench-XXXXXX";
	pid_t pid;

	if (!mkdtemp(dir))
		bench_die("mkdtemp", errno);
	snprintf(path, len, "%s/dma.sock", dir);
	pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = bench_on_term };
		struct uvfio_emu_opts o = { .argsz = sizeof(o), .socket_path = path };
		struct dma_dev *d;

		sigaction(SIGTERM, &sa, NULL);
		bench_pin(cpu);
		if (dma_dev_create(&o, &d))
			_exit(1);
		bench_emu = dma_dev_emu(d);
		while (!bench_stop_flag)
			uvfio_emu_run(bench_emu);
		dma_dev_destroy(d);
		_exit(0);
	}
	for (int i = 0; i < 200 && access(path, F_OK); i++)
		usleep(10000);
	return pid;
}

static inline void bench_path_stop(pid_t pid, const char *path)
{
	char dir[256];

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

struct bench_client {
	struct uvfio__conn *conn;
	uint16_t id;
	struct uvfio__msg last;
};

static inline void bench_client_init(struct bench_client *c, int fd)
{
	struct uvfio__conn_opts o = { .max_msg_size = 16 + 32 + (1 << 20), .max_fds = 4 };
	int ret = uvfio__conn_create(fd, &o, &c->conn);

	if (ret)
		bench_die("connection", ret);
	c->id = 0;
}

/* One request, one reply; the reply stays in c->last until the next call. */
static inline int bench_call(struct bench_client *c, uint16_t cmd, const void *p, size_t len,
			     const int *fds, unsigned nfds)
{
	struct uvfio_hdr h = { .id = ++c->id, .cmd = cmd };
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	int ret = uvfio__conn_send(c->conn, &h, &iov, len ? 1 : 0, fds, nfds);

	if (ret)
		bench_die(uvfio_proto_cmd_name(cmd), ret);
	ret = uvfio__conn_recv(c->conn, &c->last, -1);
	if (ret)
		bench_die("reply", ret);
	uvfio__msg_close_fds(&c->last);
	if (c->last.hdr.flags & UVFIO_F_ERROR)
		return -(int)c->last.hdr.error;
	return 0;
}

static inline void bench_hello(struct bench_client *c, uint64_t max_dma_maps)
{
	char json[256];
	uint8_t b[4 + sizeof(json)];
	int n = snprintf(json, sizeof(json),
			 "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
			 "\"pgsizes\":4096,\"max_dma_maps\":%llu}}",
			 (unsigned long long)max_dma_maps);

	put_le16(b, 0);
	put_le16(b + 2, 2);
	memcpy(b + 4, json, (size_t)n + 1);
	if (bench_call(c, UVFIO_CMD_VERSION, b, 4 + (size_t)n + 1, NULL, 0))
		bench_die("VERSION", EPROTO);
}

static inline void bench_cfg16(struct bench_client *c, uint32_t off, uint16_t v)
{
	uint8_t b[18];
	struct uvfio_region_access a = { .offset = off, .region = UVFIO_PCI_CONFIG_REGION_INDEX,
					 .count = 2, .data = &v };

	uvfio_proto_region_access_encode(b, sizeof(b), true, &a);
	if (bench_call(c, UVFIO_CMD_REGION_WRITE, b, sizeof(b), NULL, 0))
		bench_die("config write", EIO);
}

static inline void bench_stop(struct bench_client *c, pid_t server)
{
	int status;

	uvfio__conn_destroy(c->conn);
	waitpid(server, &status, 0);
}

#endif /* UVFIO_BENCH_UTIL_H */
