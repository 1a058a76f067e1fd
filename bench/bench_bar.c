// SPDX-License-Identifier: BSD-3-Clause
/*
 * A 4-byte register read of the dma device's BAR2, side by side: through
 * the client's mmap of the region (a load from shared memory) and through
 * the socket (uvfio_device_read: a REGION_READ round trip). Driver on
 * cpu 0, device on cpu 1. This is why drivers map what they can.
 *
 * usage: bench_bar [SAMPLES]
 */
#include <sys/mman.h>

#include "bench_util.h"
#include "dmadrv.h"

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
	uint64_t *mm = calloc(n, sizeof(*mm)), *sk = calloc(n, sizeof(*sk)), acc = 0;
	volatile uint32_t *bar;
	struct dmadrv *d;
	char path[64];
	pid_t srv;
	uint32_t v;

	if (!mm || !sk || !n)
		bench_die("arguments", EINVAL);
	srv = bench_path_server(1, path, sizeof(path));
	bench_pin(0);
	if (dmadrv_open(path, NULL, DMADRV_IRQ_AUTO, &d))
		bench_die("dmadrv_open", EIO);
	if (uvfio_device_mmap(dmadrv_device(d), DMA_BAR_MEM, 0, 4096, PROT_READ | PROT_WRITE,
			      (void **)&bar))
		bench_die("mmap BAR2", EIO);
	bar[0] = 0x1234abcd;
	for (size_t i = 0; i < n; i++) {
		uint64_t t = bench_ns();

		acc += bar[i & 255];
		mm[i] = bench_ns() - t;
	}
	for (size_t i = 0; i < n / 20 + 1; i++) {
		uint64_t t = bench_ns();

		if (uvfio_device_read(dmadrv_device(d), DMA_BAR_MEM, (i & 255) * 4, &v, 4))
			bench_die("read", EIO);
		acc += v;
		sk[i] = bench_ns() - t;
	}
	printf("4-byte read of BAR2 (dma device), driver cpu 0, device cpu 1\n");
	printf("  through the mmap:   p50 %8.1f ns  (includes ~20 ns of clock reads)\n",
	       (double)bench_pct(mm, n, 50));
	printf("  through the socket: p50 %8.1f ns  (uvfio_device_read: one REGION_READ round trip)\n",
	       (double)bench_pct(sk, n / 20 + 1, 50));
	if (acc == 42)
		printf("\n");
	uvfio_device_munmap(dmadrv_device(d), (void *)bar, 4096);
	dmadrv_close(d);
	bench_path_stop(srv, path);
	free(mm);
	free(sk);
	return 0;
}
