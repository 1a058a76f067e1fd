// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA_MAP + DMA_UNMAP pairs of 4 KiB fd-backed regions through uvfio, vs
 * the floor of two raw ping-pongs of the same shapes measured in the same
 * run: a 48-byte message carrying an fd (the receiver closes it) answered
 * with 16 bytes, then 40 bytes answered with 40. Target: >= 0.9 x floor.
 *
 * Two uvfio cases: "warm", where another mapping of the same memfd stays
 * live (as guest RAM does), so the file is already mmap'ed; and "cold",
 * where each pair maps and unmaps the only mapping of the file, so the
 * server must mmap and munmap the file every time (it may not keep a
 * mapping of client memory once the client has unmapped it).
 *
 * Then 1,000,000 live 4 KiB mappings of one memfd, each DMA_MAP with its
 * own fd, with the server's memory growth.
 *
 * usage: bench_dma_map [PAIRS] [LIVE_MAPPINGS]
 */
#include <sys/mman.h>

#include "bench_util.h"

#define PAGE 4096ull

static void floor_server(int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char buf[4096];

	bench_pin(1);
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

		if (n <= 0)
			_exit(0);
		if (cm && cm->cmsg_type == SCM_RIGHTS) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(cm), sizeof(rfd));
			close(rfd);
		}
		/* 48 bytes (map) gets 16 back; 40 (unmap) gets 40. */
		if (write(fd, buf, n == 48 ? 16 : 40) < 0)
			_exit(1);
	}
}

static void floor_send(int fd, size_t len, int pass)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	char buf[64] = { 0 };
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (pass >= 0) {
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass, sizeof(int));
	}
	if (sendmsg(fd, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		bench_die("floor sendmsg", errno);
}

static void floor_recv(int fd, size_t len)
{
	char buf[64];
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			bench_die("floor read", errno);
		got += (size_t)n;
	}
}

static double floor_pairs(int fd, int memfd, size_t n)
{
	uint64_t t = bench_ns();

	for (size_t i = 0; i < n; i++) {
		floor_send(fd, 48, memfd);
		floor_recv(fd, 16);
		floor_send(fd, 40, -1);
		floor_recv(fd, 40);
	}
	return (double)n / ((double)(bench_ns() - t) / 1e9);
}

static void map(struct bench_client *c, int memfd, uint64_t iova, uint64_t off, uint64_t size)
{
	struct uvfio_dma_map m = { .argsz = 32, .flags = UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE,
				   .offset = off, .addr = iova, .size = size };
	uint8_t b[32];
	int ret;

	uvfio_proto_dma_map_encode(b, sizeof(b), &m);
	ret = bench_call(c, UVFIO_CMD_DMA_MAP, b, sizeof(b), &memfd, 1);
	if (ret)
		bench_die("DMA_MAP", ret);
}

static void unmap(struct bench_client *c, uint64_t iova, uint64_t size)
{
	struct uvfio_dma_unmap u = { .argsz = 24, .addr = iova, .size = size };
	uint8_t b[24];
	int ret;

	uvfio_proto_dma_unmap_encode(b, sizeof(b), &u);
	ret = bench_call(c, UVFIO_CMD_DMA_UNMAP, b, sizeof(b), NULL, 0);
	if (ret)
		bench_die("DMA_UNMAP", ret);
}

static double uvfio_pairs(struct bench_client *c, int memfd, size_t n)
{
	uint64_t t = bench_ns();

	for (size_t i = 0; i < n; i++) {
		uint64_t off = PAGE * (1 + i % 1024);

		map(c, memfd, 0x100000000ull + off, off, PAGE);
		unmap(c, 0x100000000ull + off, PAGE);
	}
	return (double)n / ((double)(bench_ns() - t) / 1e9);
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void live_mappings(struct bench_client *c, pid_t srv, int memfd, uint64_t count)
{
	long before = rss_kb(srv), after;
	uint64_t t = bench_ns();
	double secs;

	for (uint64_t i = 0; i < count; i++)
		map(c, memfd, 0x200000000ull + i * PAGE, i * PAGE, PAGE);
	secs = (double)(bench_ns() - t) / 1e9;
	after = rss_kb(srv);
	printf("  %llu live fd-backed mappings accepted in %.1f s (%.0f maps/s); server RSS +%.1f MiB "
	       "(%.1f bytes per mapping, all-in)\n",
	       (unsigned long long)count, secs, (double)count / secs,
	       (double)(after - before) / 1024.0, (double)(after - before) * 1024.0 / (double)count);
	t = bench_ns();
	{
		struct uvfio_dma_unmap u = { .argsz = 24, .flags = UVFIO_DMA_UNMAP_ALL };
		uint8_t b[24];

		uvfio_proto_dma_unmap_encode(b, sizeof(b), &u);
		if (bench_call(c, UVFIO_CMD_DMA_UNMAP, b, sizeof(b), NULL, 0))
			bench_die("unmap all", EIO);
	}
	printf("  unmap-all of them: %.2f s\n", (double)(bench_ns() - t) / 1e9);
}

int main(int argc, char **argv)
{
	size_t pairs = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	uint64_t live = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000;
	double fl, warm, cold;
	struct bench_client c;
	int sv[2], ufd, memfd;
	pid_t fsrv, srv;

	memfd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)(live + 2048) * (off_t)PAGE))
		bench_die("memfd", errno);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		bench_die("socketpair", errno);
	fsrv = fork();
	if (fsrv == 0) {
		close(sv[0]);
		floor_server(sv[1]);
	}
	close(sv[1]);
	srv = bench_server(1, &ufd, live + 16);
	bench_pin(0);
	bench_client_init(&c, ufd);
	bench_hello(&c, live + 16);

	floor_pairs(sv[0], memfd, pairs / 10 + 1);
	/* Cold: nothing else of the memfd is mapped. */
	uvfio_pairs(&c, memfd, pairs / 10 + 1);
	cold = uvfio_pairs(&c, memfd, pairs);
	/* Warm: guest RAM (another part of the same memfd) stays mapped. */
	map(&c, memfd, 0x10000000ull, 0, PAGE);
	fl = floor_pairs(sv[0], memfd, pairs);
	warm = uvfio_pairs(&c, memfd, pairs);
	fl = (fl + floor_pairs(sv[0], memfd, pairs)) / 2;
	warm = (warm + uvfio_pairs(&c, memfd, pairs)) / 2;
	unmap(&c, 0x10000000ull, PAGE);

	printf("DMA_MAP + DMA_UNMAP pairs of 4 KiB memfd-backed regions, client cpu 0, server cpu 1\n");
	printf("  floor: two raw ping-pongs (48 B + fd -> 16 B, 40 B -> 40 B)   %8.0f pairs/s\n", fl);
	printf("  uvfio, file already mapped (warm)                          %8.0f pairs/s  = %.3f x floor (target >= 0.90)\n",
	       warm, warm / fl);
	printf("  uvfio, file mapped and unmapped with each pair (cold)      %8.0f pairs/s  = %.3f x floor\n",
	       cold, cold / fl);
	if (live)
		live_mappings(&c, srv, memfd, live);

	bench_stop(&c, srv);
	close(sv[0]);
	waitpid(fsrv, NULL, 0);
	close(memfd);
	return 0;
}
