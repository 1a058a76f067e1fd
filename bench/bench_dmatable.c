// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA map table benchmark: a million 4 KiB fd-backed mappings of one memfd,
 * as a vfio-user client mapping guest RAM page by page would send them.
 *
 * Each figure is printed next to its target. Lookups are timed as a loop of
 * independent calls (what a device model walking a descriptor list does)
 * and as a dependent chain, where each address waits for the previous
 * translation: the chain shows the latency of one lookup, the loop the cost
 * per lookup when the CPU can overlap them. The memfd is sized but never
 * touched, so only the table and page tables use memory.
 *
 * Usage: bench_dmatable [mappings]   (default 1000000)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "emu/dmatable.h"

#define PAGE	  UVFIO__DMA_PAGE
#define IOVA_BASE 0x100000000ull
#define PROT_RW	  (UVFIO__DMA_PROT_READ | UVFIO__DMA_PROT_WRITE)
#define LOOKUPS	  10000000ull
#define HOT	  4096 /* mappings in the working-set random test */

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Resident set size, bytes. */
static long rss_bytes(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_dmatable: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Map one page as a received fd would arrive: a dup that the table owns. */
static void map_page(struct uvfio__dma_table *t, int memfd, uint64_t i, uint64_t iova)
{
	int fd = dup(memfd), ret;

	if (fd < 0)
		die("dup", errno);
	ret = uvfio__dmat_map(t, iova, PAGE, PROT_RW, &fd, i * PAGE);
	if (ret || fd != -1)
		die("map", ret);
}

static void lookup(struct uvfio__dma_table *t, uint64_t iova, struct uvfio__dma_range *r)
{
	int ret = uvfio__dmat_lookup(t, iova, r);

	if (ret)
		die("lookup", ret);
}

static double per_op(uint64_t t0, uint64_t ops)
{
	return (double)(now_ns() - t0) / (double)ops;
}

/*
 * The floor under a random lookup: one random access to a buffer as large
 * as the table's bookkeeping, when the next address depends on the last
 * load (a pointer chase). Any index with a byte or more per mapping pays
 * at least this once a lookup misses the CPU caches; a B+tree lookup pays
 * it for the leaf and, unless overlapped, again for the value.
 */
static void memory_floor(size_t bytes)
{
	size_t words = bytes / 8, n;
	uint64_t *buf, s = 0x9e3779b97f4a7c15ull, t0, pos = 0;

	for (n = 1; n * 2 <= words; n *= 2)
		;
	buf = malloc(n * 8);
	if (!buf)
		die("floor buffer", -ENOMEM);
	/* A single random cycle through every word (Sattolo's shuffle). */
	for (size_t i = 0; i < n; i++)
		buf[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng_next(&s) % i;
		uint64_t tmp = buf[i];

		buf[i] = buf[j];
		buf[j] = tmp;
	}
	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS / 4; i++)
		pos = buf[pos];
	printf("memory floor:           %8.1f ns/op (one dependent random load in %zu MiB, the "
	       "latency a cache-missing lookup can't avoid)\n",
	       per_op(t0, LOOKUPS / 4), n * 8 >> 20);
	sink = pos;
	free(buf);
}

/* Addresses are drawn before the timed loops: a 64-bit modulo costs as much as a hit. */
#define NADDR (1u << 20)

static void bench_lookups(struct uvfio__dma_table *t, uint64_t n)
{
	uint64_t acc = 0, s = 0x2545f4914f6cdd1dull, x, t0, hot[HOT];
	uint64_t *rnd = malloc(NADDR * sizeof(*rnd)), *hotaddr = malloc(NADDR * sizeof(*hotaddr));
	struct uvfio__dma_range r = { 0 };

	if (!rnd || !hotaddr)
		die("address arrays", -ENOMEM);
	for (unsigned i = 0; i < HOT; i++)
		hot[i] = (rng_next(&s) >> 20) % n;
	for (unsigned i = 0; i < NADDR; i++) {
		x = rng_next(&s);
		rnd[i] = IOVA_BASE + (x >> 20) % n * PAGE + (x & (PAGE - 1));
		hotaddr[i] = IOVA_BASE + hot[(x >> 32) % HOT] * PAGE + (x & (PAGE - 1));
	}

	/* One lookup per mapping in IOVA order: the translation cache never hits. */
	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS; i++) {
		uint64_t k = i % n;

		lookup(t, IOVA_BASE + k * PAGE + (k * 64 & (PAGE - 1)), &r);
		acc += (uintptr_t)r.host;
	}
	printf("lookup sequential:      %8.1f ns/op (next mapping every time; target <= 50)\n",
	       per_op(t0, LOOKUPS));

	/* A 512-byte walk: 8 lookups per mapping, 7 served by the cache. */
	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS; i++) {
		lookup(t, IOVA_BASE + i * 512 % (n * PAGE), &r);
		acc += (uintptr_t)r.host;
	}
	printf("lookup sequential 512B: %8.1f ns/op (7 of 8 hit the translation cache)\n",
	       per_op(t0, LOOKUPS));

	/* A device's working set: random among HOT mappings of the n live. */
	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS; i++) {
		lookup(t, hotaddr[i & (NADDR - 1)], &r);
		acc += (uintptr_t)r.host;
	}
	printf("lookup random, %u hot: %6.1f ns/op (random among %u of the %" PRIu64
	       " live mappings; target <= 50)\n",
	       HOT, per_op(t0, LOOKUPS), HOT, n);

	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS; i++) {
		lookup(t, rnd[i & (NADDR - 1)], &r);
		acc += (uintptr_t)r.host;
	}
	printf("lookup uniform random:  %8.1f ns/op (independent lookups over all %" PRIu64
	       "; target <= 50)\n",
	       per_op(t0, LOOKUPS), n);

	/* The same addresses, translated 16 at a time (uvfio_emu_dma_ptrv). */
	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS; i += 16) {
		struct uvfio__dma_range rr[16];

		if (uvfio__dmat_lookup_many(t, rnd + (i & (NADDR - 1)), 16, rr) != 16)
			die("lookup_many", -EFAULT);
		for (unsigned k = 0; k < 16; k++)
			acc += (uintptr_t)rr[k].host;
	}
	printf("lookup uniform random, batches of 16: %5.1f ns/op (target <= 50)\n",
	       per_op(t0, LOOKUPS));

	/* Each address depends on the last result: nothing overlaps. */
	t0 = now_ns();
	for (uint64_t i = 0; i < LOOKUPS / 4; i++) {
		uint64_t a = rnd[(i ^ ((uintptr_t)r.host >> 63) ^ (r.size >> 62)) & (NADDR - 1)];

		lookup(t, a, &r);
		acc += (uintptr_t)r.host;
	}
	printf("lookup random, chained: %8.1f ns/op (latency of one lookup)\n",
	       per_op(t0, LOOKUPS / 4));
	sink = acc;
	free(rnd);
	free(hotaddr);
	memory_floor(uvfio__dmat_mem_bytes(t));
}

static void bench_table_only(uint64_t n)
{
	struct uvfio__dma_table *t;
	uint64_t t0;
	int ret = uvfio__dmat_create(n, &t);

	if (ret)
		die("create", ret);
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		ret = uvfio__dmat_map(t, IOVA_BASE + i * PAGE, PAGE, PROT_RW, NULL, 0);
		if (ret)
			die("map", ret);
	}
	printf("insert without fd:      %8.1f ns/mapping (the table alone)\n", per_op(t0, n));
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		if (uvfio__dmat_unmap(t, IOVA_BASE + i * PAGE, PAGE))
			die("unmap", ENOENT);
	printf("unmap without fd:       %8.1f ns/mapping\n", per_op(t0, n));
	uvfio__dmat_destroy(t);
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000, t0, pairs;
	struct uvfio__dma_table *t;
	long rss0, rss1;
	int memfd, ret;

	if (n < 1 || n > (1ull << 30)) {
		fprintf(stderr, "usage: %s [mappings (1..2^30)]\n", argv[0]);
		return 2;
	}
	memfd = memfd_create("bench_dmatable", MFD_CLOEXEC);
	if (memfd < 0)
		die("memfd_create", errno);
	if (ftruncate(memfd, (off_t)(n * PAGE)))
		die("ftruncate", errno);
	ret = uvfio__dmat_create(n + 1, &t);
	if (ret)
		die("create", ret);

	printf("mappings: %" PRIu64 " x 4 KiB, fd-backed: one %" PRIu64 " MiB memfd, a dup each\n", n,
	       n * PAGE >> 20);
	rss0 = rss_bytes();
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		map_page(t, memfd, i, IOVA_BASE + i * PAGE);
	printf("insert:                 %8.1f ns/mapping (dup + map: fcntl, fstat, close)\n",
	       per_op(t0, n));
	rss1 = rss_bytes();
	printf("bookkeeping:            %8.2f bytes/mapping (target <= 48; RSS grew %.2f)\n",
	       (double)uvfio__dmat_mem_bytes(t) / (double)n, (double)(rss1 - rss0) / (double)n);
	printf("file mappings:          %8u (target 1)\n", uvfio__dmat_file_maps(t));

	bench_lookups(t, n);

	/* Map + unmap beside the live ones: the file mapping stays. */
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		map_page(t, memfd, i, IOVA_BASE + n * PAGE);
		if (uvfio__dmat_unmap(t, IOVA_BASE + n * PAGE, PAGE))
			die("unmap", ENOENT);
	}
	printf("map+unmap pairs:        %8.0f pairs/s (%" PRIu64 " live, incl. dup)\n",
	       1e9 / per_op(t0, n), n);

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		if (uvfio__dmat_unmap(t, IOVA_BASE + i * PAGE, PAGE))
			die("unmap", ENOENT);
	printf("unmap:                  %8.1f ns/mapping\n", per_op(t0, n));
	printf("file mappings:          %8u after unmapping all\n", uvfio__dmat_file_maps(t));

	/* Empty table: every pair maps and unmaps the whole file. */
	pairs = n < 100000 ? n : 100000;
	t0 = now_ns();
	for (uint64_t i = 0; i < pairs; i++) {
		map_page(t, memfd, i, IOVA_BASE);
		if (uvfio__dmat_unmap(t, IOVA_BASE, PAGE))
			die("unmap", ENOENT);
	}
	printf("map+unmap pairs:        %8.0f pairs/s (empty table: an mmap + munmap each)\n",
	       1e9 / per_op(t0, pairs));
	uvfio__dmat_destroy(t);
	close(memfd);

	bench_table_only(n);
	return 0;
}
