// SPDX-License-Identifier: BSD-3-Clause
/*
 * The dma engine's copy bandwidth, driven through <uvfio/vfio.h> over
 * vfio-user, against memcpy() of the same sizes between the same buffers,
 * in the same run. The device (server) runs on cpu 1, the driver on cpu 0;
 * memcpy is measured on cpu 1 too, where the device's copy runs. Each size
 * is copied back and forth over 64 MiB buffers after a warm-up pass (the
 * first touch of a page costs the server a fault; that is reported apart).
 * Target: >= 80 % of memcpy for transfers of 1 MiB and more.
 *
 * usage: bench_dma_copy [BUFFER_MIB]
 */
#include <sys/mman.h>

#include "bench_util.h"
#include "dmadrv.h"

#define MiB (1ull << 20)

static double secs(uint64_t t0)
{
	return (double)(bench_ns() - t0) / 1e9;
}

static double memcpy_gbs(uint8_t *dst, const uint8_t *src, uint64_t total, uint64_t chunk)
{
	uint64_t t0;

	bench_pin(1);
	memcpy(dst, src, total); /* warm */
	t0 = bench_ns();
	for (int r = 0; r < 3; r++)
		for (uint64_t off = 0; off < total; off += chunk)
			memcpy(dst + off, src + off, chunk);
	bench_pin(0);
	return 3.0 * (double)total / secs(t0) / 1e9;
}

static double dma_gbs(struct dmadrv *d, const struct uvfio_dma_buf *dst,
		      const struct uvfio_dma_buf *src, uint64_t total, uint64_t chunk)
{
	uint64_t t0 = bench_ns();

	for (int r = 0; r < 3; r++)
		for (uint64_t off = 0; off < total; off += chunk)
			if (dmadrv_copy(d, dst->iova + off, src->iova + off, chunk, 10000))
				bench_die("dma copy", EIO);
	return 3.0 * (double)total / secs(t0) / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t total = (argc > 1 ? strtoull(argv[1], NULL, 0) : 64) * MiB, t0;
	static const uint64_t chunks[] = { 64 << 10, MiB, 4 * MiB, 64 * MiB };
	struct uvfio_dma_buf src, dst;
	struct dmadrv *d;
	char path[64];
	pid_t srv;
	int ret;

	srv = bench_path_server(1, path, sizeof(path));
	bench_pin(0);
	ret = dmadrv_open(path, NULL, DMADRV_IRQ_MSIX, &d);
	if (ret)
		bench_die("dmadrv_open", ret);
	if ((ret = uvfio_dma_alloc(dmadrv_container(d), total, UVFIO_DMA_READ, &src)) ||
	    (ret = uvfio_dma_alloc(dmadrv_container(d), total, UVFIO_DMA_WRITE, &dst)))
		bench_die("uvfio_dma_alloc", ret);
	memset(src.vaddr, 0xa5, total);
	memset(dst.vaddr, 0x5a, total);

	t0 = bench_ns();
	if (dmadrv_copy(d, dst.iova, src.iova, total, 10000))
		bench_die("first copy", EIO);
	printf("dma engine copy over vfio-user (MSI-X completion), device cpu 1, driver cpu 0, "
	       "%llu MiB buffers\n", (unsigned long long)(total / MiB));
	printf("  first touch of %llu MiB: %.2f GB/s (the server faults its mapping of the pages in)\n",
	       (unsigned long long)(total / MiB), (double)total / secs(t0) / 1e9);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		uint64_t c = chunks[i] < total ? chunks[i] : total;
		double m = memcpy_gbs(dst.vaddr, src.vaddr, total, c);
		double g = dma_gbs(d, &dst, &src, total, c);

		printf("  transfers of %6llu KiB: device %6.2f GB/s, memcpy %6.2f GB/s = %5.1f %%%s\n",
		       (unsigned long long)(c >> 10), g, m, 100.0 * g / m,
		       c >= MiB ? " (target >= 80 %)" : "");
	}
	if (memcmp(src.vaddr, dst.vaddr, total))
		bench_die("verify", EIO);
	uvfio_dma_free(dmadrv_container(d), &src);
	uvfio_dma_free(dmadrv_container(d), &dst);
	dmadrv_close(d);
	bench_path_stop(srv, path);
	return 0;
}
