// SPDX-License-Identifier: BSD-3-Clause
/*
 * dma-copy: drive a dma engine through <uvfio/vfio.h>. Allocates source and
 * destination buffers the device can reach, copies between them in chunks,
 * each chunk ended by the completion interrupt, verifies the result and
 * compares the throughput with memcpy() between the same buffers. Then it
 * asks for a copy from an unmapped bus address and shows the device's
 * error report.
 *
 * usage: dma-copy DEVICE [--bytes N] [--chunk N] [--irq auto|msix|msi|intx] [-v]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dmadrv.h"

#define MiB (1ull << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void on_log(void *priv, int level, const char *msg)
{
	(void)priv;
	(void)level;
	fprintf(stderr, "dma-copy: %s\n", msg);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 0);

	if (*end == 'k' || *end == 'K')
		v <<= 10;
	else if (*end == 'm' || *end == 'M')
		v <<= 20;
	else if (*end == 'g' || *end == 'G')
		v <<= 30;
	return v;
}

static int copy_all(struct dmadrv *d, const struct uvfio_dma_buf *dst,
		    const struct uvfio_dma_buf *src, uint64_t total, uint64_t chunk, double *secs)
{
	double t = now();

	for (uint64_t off = 0; off < total; off += chunk) {
		uint64_t n = total - off < chunk ? total - off : chunk;
		int ret = dmadrv_copy(d, dst->iova + off, src->iova + off, n, 10000);

		if (ret) {
			uint64_t at;
			uint32_t code = dmadrv_error(d, &at);

			fprintf(stderr, "dma-copy: the copy at offset %llu failed: %s\n",
				(unsigned long long)off,
				ret == -EIO ? dmadrv_strerror(code) : strerror(-ret));
			return ret;
		}
	}
	*secs = now() - t;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bytes", required_argument, NULL, 'b' }, { "chunk", required_argument, NULL, 'c' },
		{ "irq", required_argument, NULL, 'i' },   { "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },        { 0 },
	};
	struct uvfio_open_opts uo = { .argsz = sizeof(uo), .log = on_log, .log_level = UVFIO_LOG_ERR };
	uint64_t total = 256 * MiB, chunk = 4 * MiB, at;
	enum dmadrv_irq irq = DMADRV_IRQ_AUTO;
	struct uvfio_dma_buf src = { 0 }, dst = { 0 };
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };
	double t1, t2, tm;
	struct dmadrv *d;
	int c, ret;

	while ((c = getopt_long(argc, argv, "b:c:i:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'b': total = parse_size(optarg); break;
		case 'c': chunk = parse_size(optarg); break;
		case 'v': uo.log_level = UVFIO_LOG_INFO; break;
		case 'i':
			irq = !strcmp(optarg, "msix") ? DMADRV_IRQ_MSIX :
			      !strcmp(optarg, "msi")  ? DMADRV_IRQ_MSI :
			      !strcmp(optarg, "intx") ? DMADRV_IRQ_INTX : DMADRV_IRQ_AUTO;
			break;
		case 'h':
			printf("usage: dma-copy DEVICE [--bytes N] [--chunk N] [--irq auto|msix|msi|intx] [-v]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !total || !chunk || total > 16 * 1024 * MiB) {
		fprintf(stderr, "usage: dma-copy DEVICE [--bytes N] [--chunk N] [--irq auto|msix|msi|intx] [-v]\n");
		return 2;
	}
	ret = dmadrv_open(argv[optind], &uo, irq, &d);
	if (ret) {
		fprintf(stderr, "dma-copy: cannot drive %s: %s\n", argv[optind],
			ret == -ENODEV ? "it is not a uvfio dma engine" : strerror(-ret));
		return 1;
	}
	printf("driver: %s over %s, completion interrupt through %s\n", argv[optind],
	       uvfio_device_backend(dmadrv_device(d)), dmadrv_irq_name(dmadrv_irq_mode(d)));

	ret = uvfio_dma_alloc(dmadrv_container(d), total, UVFIO_DMA_READ, &src);
	if (!ret)
		ret = uvfio_dma_alloc(dmadrv_container(d), total, UVFIO_DMA_WRITE, &dst);
	if (ret) {
		fprintf(stderr, "dma-copy: cannot allocate 2 x %llu MiB of DMA memory: %s\n",
			(unsigned long long)(total >> 20), strerror(-ret));
		goto out;
	}
	uvfio_container_info(dmadrv_container(d), &info);
	printf("driver: 2 x %llu MiB of DMA memory at bus addresses 0x%llx and 0x%llx (%llu mappings)\n",
	       (unsigned long long)(total >> 20), (unsigned long long)src.iova,
	       (unsigned long long)dst.iova, (unsigned long long)info.nr_mappings);
	for (uint64_t i = 0; i < total / 8; i++)
		((uint64_t *)src.vaddr)[i] = i * 0x9e3779b97f4a7c15ull;

	ret = copy_all(d, &dst, &src, total, chunk, &t1);
	if (ret)
		goto out;
	if (memcmp(src.vaddr, dst.vaddr, total)) {
		fprintf(stderr, "dma-copy: the destination differs from the source\n");
		ret = -EIO;
		goto out;
	}
	/* Best of three for both, in the same chunks: this machine may be busy. */
	t2 = tm = 1e9;
	for (int pass = 0; pass < 3 && !ret; pass++) {
		double t;

		ret = copy_all(d, &dst, &src, total, chunk, &t);
		t2 = t < t2 ? t : t2;
		t = now();
		for (uint64_t off = 0; off < total; off += chunk)
			memcpy((uint8_t *)dst.vaddr + off, (uint8_t *)src.vaddr + off,
			       total - off < chunk ? total - off : chunk);
		t = now() - t;
		tm = t < tm ? t : tm;
	}
	if (ret)
		goto out;
	printf("device: copied %llu MiB in %llu-KiB chunks, one completion interrupt each; verified\n",
	       (unsigned long long)(total >> 20), (unsigned long long)(chunk >> 10));
	printf("  first pass  %7.2f GB/s  (the server maps the buffers' pages as it goes)\n",
	       (double)total / t1 / 1e9);
	printf("  then        %7.2f GB/s  (best of three passes)\n", (double)total / t2 / 1e9);
	printf("  memcpy      %7.2f GB/s  (same buffers and chunks, this process, best of three):\n"
	       "              the device reached %.0f %% of it (bench/bench_dma_copy measures this\n"
	       "              with both sides pinned; docs/perf.md has the figures)\n",
	       (double)total / tm / 1e9, 100.0 * tm / t2);

	ret = dmadrv_copy(d, dst.iova, 0x1000, 4096, 10000);
	if (ret == -EIO) {
		uint32_t code = dmadrv_error(d, &at);

		printf("device: a copy from unmapped bus address 0x1000 fails: %s (fault at 0x%llx)\n",
		       dmadrv_strerror(code), (unsigned long long)at);
		ret = 0;
	} else {
		fprintf(stderr, "dma-copy: a copy from unmapped memory did not fail (%d)\n", ret);
		ret = -EIO;
	}
out:
	uvfio_dma_free(dmadrv_container(d), &src);
	uvfio_dma_free(dmadrv_container(d), &dst);
	dmadrv_close(d);
	return ret ? 1 : 0;
}
