// SPDX-License-Identifier: BSD-3-Clause
/*
 * REGION_READ round trip through uvfio vs a raw socketpair ping-pong of the
 * same sizes (32-byte request, 36-byte reply), client and server on
 * different cores. Target: p50 <= 1.1 x the floor.
 *
 * The two are measured in alternating rounds in the same run, so drift in
 * the machine's speed affects both alike.
 *
 * usage: bench_rtt [SAMPLES_PER_ROUND] [ROUNDS]
 */
#include "bench_util.h"

#define REQ 32
#define REP 36

static void echo_server(int fd)
{
	char buf[4096];

	bench_pin(1);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			_exit(0);
		if (write(fd, buf, REP) != REP)
			_exit(1);
	}
}

static void floor_round(int fd, uint64_t *out, size_t n)
{
	char buf[4096] = { 0 };

	for (size_t i = 0; i < n; i++) {
		uint64_t t = bench_ns();
		size_t got = 0;

		if (write(fd, buf, REQ) != REQ)
			bench_die("floor write", errno);
		while (got < REP) {
			ssize_t r = read(fd, buf + got, sizeof(buf) - got);

			if (r <= 0)
				bench_die("floor read", errno);
			got += (size_t)r;
		}
		out[i] = bench_ns() - t;
	}
}

static void uvfio_round(struct bench_client *c, uint64_t *out, size_t n)
{
	uint8_t req[16];
	struct uvfio_region_access a = { .offset = DMA_REG_ID, .region = DMA_BAR_REGS, .count = 4 };

	uvfio_proto_region_access_encode(req, sizeof(req), false, &a);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = bench_ns();

		if (bench_call(c, UVFIO_CMD_REGION_READ, req, sizeof(req), NULL, 0) ||
		    c->last.len != 20 || get_le32(c->last.payload + 16) != DMA_ID_MAGIC)
			bench_die("REGION_READ", EIO);
		out[i] = bench_ns() - t;
	}
}

int main(int argc, char **argv)
{
	size_t per = argc > 1 ? strtoul(argv[1], NULL, 0) : 40000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	uint64_t *fl = calloc(per * (size_t)rounds, sizeof(*fl));
	uint64_t *uv = calloc(per * (size_t)rounds, sizeof(*uv));
	struct bench_client c;
	int sv[2], ufd;
	pid_t echo, srv;
	double f50, f99, u50, u99;

	if (!fl || !uv || !per || rounds < 1)
		bench_die("arguments", EINVAL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		bench_die("socketpair", errno);
	echo = fork();
	if (echo == 0) {
		close(sv[0]);
		echo_server(sv[1]);
	}
	close(sv[1]);
	srv = bench_server(1, &ufd, 0);
	bench_pin(0);
	bench_client_init(&c, ufd);
	bench_hello(&c, 65535);
	bench_cfg16(&c, UVFIO_PCI_COMMAND, UVFIO_PCI_COMMAND_MEMORY);

	floor_round(sv[0], fl, per / 4 + 1); /* warm-up */
	uvfio_round(&c, uv, per / 4 + 1);
	for (int r = 0; r < rounds; r++) {
		floor_round(sv[0], fl + (size_t)r * per, per);
		uvfio_round(&c, uv + (size_t)r * per, per);
	}
	f50 = (double)bench_pct(fl, per * (size_t)rounds, 50) / 1e3;
	f99 = (double)bench_pct(fl, per * (size_t)rounds, 99) / 1e3;
	u50 = (double)bench_pct(uv, per * (size_t)rounds, 50) / 1e3;
	u99 = (double)bench_pct(uv, per * (size_t)rounds, 99) / 1e3;

	printf("REGION_READ of 4 bytes (dma BAR0), client on cpu 0, server on cpu 1, %d x %zu samples\n",
	       rounds, per);
	printf("  floor: raw socketpair ping-pong %d B -> %d B   p50 %6.2f us   p99 %6.2f us\n", REQ,
	       REP, f50, f99);
	printf("  uvfio: REGION_READ round trip                p50 %6.2f us   p99 %6.2f us\n", u50,
	       u99);
	printf("  ratio p50: %.3f x floor (target <= 1.10)\n", u50 / f50);

	/* The uvfio server inherited the echo socket: stop it first. */
	bench_stop(&c, srv);
	close(sv[0]);
	waitpid(echo, NULL, 0);
	free(fl);
	free(uv);
	return 0;
}
