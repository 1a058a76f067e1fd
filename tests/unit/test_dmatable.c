// SPDX-License-Identifier: BSD-3-Clause
/*
 * White-box tests of the DMA map table and the B+tree under it: Type1 rules
 * (overlap, exact unmap, limits, argument checks), fd handling (ownership,
 * one mmap per file, permissions, EOF, fds that can't be mapped), the
 * translated pointers really aliasing the files, bookkeeping size, and
 * randomized differential runs against naive models with the tree's
 * invariants checked as they go.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/test.h"
#include "util/btree.h"
#include "emu/dmatable.h"
#include "util/util.h"

#define P   ((uint64_t)UVFIO__DMA_PAGE)
#define R   UVFIO__DMA_PROT_READ
#define W   UVFIO__DMA_PROT_WRITE
#define RW  (R | W)
#define NOFD (&(int){ -1 })

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

static struct uvfio__dma_table *new_table(uint64_t max)
{
	struct uvfio__dma_table *t = NULL;

	assert_ret(uvfio__dmat_create(max, &t), 0);
	assert_non_null(t);
	return t;
}

static int new_memfd(uint64_t bytes)
{
	int fd = memfd_create("test_dmatable", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)bytes), 0);
	return fd;
}

/* Every 8-byte word of a pattern file holds its own offset tagged with @tag. */
static uint64_t pattern(unsigned tag, uint64_t off)
{
	return (uint64_t)(tag + 1) << 56 | off;
}

static int pattern_memfd(unsigned tag, uint64_t bytes)
{
	int fd = new_memfd(bytes);
	uint64_t *buf = malloc(bytes);

	assert_non_null(buf);
	for (uint64_t i = 0; i < bytes / 8; i++)
		buf[i] = pattern(tag, i * 8);
	assert_int_equal(pwrite(fd, buf, bytes, 0), (ssize_t)bytes);
	free(buf);
	return fd;
}

static int reopen(int fd, int flags)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, flags | O_CLOEXEC);
	assert_true(nfd >= 0);
	return nfd;
}

static int dup_fd(int fd)
{
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	assert_true(nfd >= 0);
	return nfd;
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

/* Map with a fresh dup of @fd; the table must take it on success only. */
static int map_dup(struct uvfio__dma_table *t, uint64_t iova, uint64_t size, uint32_t prot,
		   int fd, uint64_t offset)
{
	int d = dup_fd(fd), num = d, ret;

	ret = uvfio__dmat_map(t, iova, size, prot, &d, offset);
	if (ret) {
		assert_int_equal(d, num);
		assert_true(fd_open(d));
		close(d);
	} else {
		assert_int_equal(d, -1);
		assert_false(fd_open(num));
	}
	return ret;
}

static void test_create_destroy(void **state)
{
	struct uvfio__dma_table *t = NULL;

	assert_ret(uvfio__dmat_create(0, &t), -EINVAL);
	t = new_table(1);
	assert_int_equal(uvfio__dmat_count(t), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	assert_true(uvfio__dmat_mem_bytes(t) > 0);
	uvfio__dmat_destroy(t);
	uvfio__dmat_destroy(NULL);
}

static void test_overlap_shapes(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	const uint64_t a = 0x10000, e = a + 4 * P;
	const struct {
		uint64_t iova, size;
	} bad[] = {
		{ a, 4 * P },		/* identical */
		{ a - P, 2 * P },	/* partial, left */
		{ e - P, 2 * P },	/* partial, right */
		{ a - P, 6 * P },	/* containing */
		{ a + P, P },		/* contained */
		{ a, P },		/* same start, shorter */
		{ a, 8 * P },		/* same start, longer */
		{ e - P, P },		/* same end, shorter */
		{ a - 4 * P, 8 * P },	/* same end, longer */
		{ 0, UINT64_MAX - P + 1 } /* everything */
	};

	assert_ret(uvfio__dmat_map(t, a, 4 * P, RW, NOFD, 0), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_ret(uvfio__dmat_map(t, bad[i].iova, bad[i].size, R, NOFD, 0), -EEXIST);
	assert_int_equal(uvfio__dmat_count(t), 1);
	/* Adjacent on both sides is fine. */
	assert_ret(uvfio__dmat_map(t, a - P, P, R, NOFD, 0), 0);
	assert_ret(uvfio__dmat_map(t, e, P, W, NOFD, 0), 0);
	assert_int_equal(uvfio__dmat_count(t), 3);
	uvfio__dmat_destroy(t);
}

/* Overlap checks must see neighbours in other leaves, up to the whole tree. */
static void test_overlap_across_leaves(void **state)
{
	struct uvfio__dma_table *t = new_table(100000);
	struct uvfio__dma_range r;
	const uint64_t n = 5000;

	for (uint64_t i = 0; i < n; i++)
		assert_ret(uvfio__dmat_map(t, 2 * i * P, P, R, NOFD, 0), 0);
	for (uint64_t i = 0; i + 1 < n; i++) {
		/* Fills the gap and reaches into the next mapping. */
		assert_ret(uvfio__dmat_map(t, (2 * i + 1) * P, 2 * P, R, NOFD, 0), -EEXIST);
		/* Covers the gap and the next one. */
		assert_ret(uvfio__dmat_map(t, (2 * i + 1) * P, 3 * P, R, NOFD, 0), -EEXIST);
	}
	assert_ret(uvfio__dmat_map(t, P, 2 * n * P, R, NOFD, 0), -EEXIST);
	assert_int_equal(uvfio__dmat_count(t), n);
	for (uint64_t i = 0; i < n; i++)
		assert_ret(uvfio__dmat_map(t, (2 * i + 1) * P, P, W, NOFD, 0), 0);
	assert_int_equal(uvfio__dmat_count(t), 2 * n);
	for (uint64_t i = 0; i < 2 * n; i++) {
		assert_ret(uvfio__dmat_lookup(t, i * P + 7, &r), 0);
		assert_int_equal(r.iova, i * P);
		assert_int_equal(r.prot, i & 1 ? W : R);
	}
	assert_ret(uvfio__dmat_lookup(t, 2 * n * P, &r), -EFAULT);
	uvfio__dmat_destroy(t);
}

static void test_unmap_exact(void **state)
{
	struct uvfio__dma_table *t = new_table(10);
	const uint64_t a = 0x100000;
	struct uvfio__dma_range r;

	assert_ret(uvfio__dmat_map(t, a, 4 * P, RW, NOFD, 0), 0);
	assert_ret(uvfio__dmat_unmap(t, a, 2 * P), -ENOENT);	 /* partial */
	assert_ret(uvfio__dmat_unmap(t, a + P, P), -ENOENT);	 /* inside */
	assert_ret(uvfio__dmat_unmap(t, a, 8 * P), -ENOENT);	 /* larger */
	assert_ret(uvfio__dmat_unmap(t, a - P, 6 * P), -ENOENT); /* containing */
	assert_ret(uvfio__dmat_unmap(t, a + P, 4 * P), -ENOENT); /* shifted right */
	assert_ret(uvfio__dmat_unmap(t, a - P, 4 * P), -ENOENT); /* shifted left */
	assert_ret(uvfio__dmat_unmap(t, a, 0), -ENOENT);
	assert_ret(uvfio__dmat_unmap(t, a, UINT64_MAX), -ENOENT);
	assert_ret(uvfio__dmat_unmap(t, UINT64_MAX - P + 1, P), -ENOENT);
	assert_int_equal(uvfio__dmat_count(t), 1);
	assert_ret(uvfio__dmat_lookup(t, a + 3 * P + 5, &r), 0);
	assert_int_equal(r.iova, a);
	assert_int_equal(r.size, 4 * P);
	assert_ret(uvfio__dmat_find_exact(t, a, 4 * P, &r), 0);

	assert_ret(uvfio__dmat_unmap(t, a, 4 * P), 0);
	assert_ret(uvfio__dmat_unmap(t, a, 4 * P), -ENOENT);
	assert_int_equal(uvfio__dmat_count(t), 0);
	/* The cached translation must not survive the unmap. */
	assert_ret(uvfio__dmat_lookup(t, a + 3 * P + 5, &r), -EFAULT);
	assert_ret(uvfio__dmat_map(t, a, 2 * P, W, NOFD, 0), 0);
	assert_ret(uvfio__dmat_lookup(t, a + P, &r), 0);
	assert_int_equal(r.size, 2 * P);
	assert_int_equal(r.prot, W);
	uvfio__dmat_destroy(t);
}

static void test_unmap_all(void **state)
{
	struct uvfio__dma_table *t = new_table(1000);
	struct uvfio__dma_range r;
	int fd = new_memfd(64 * P);

	for (uint64_t i = 0; i < 500; i++) {
		if (i % 2)
			assert_ret(map_dup(t, i * P, P, RW, fd, i % 64 * P), 0);
		else
			assert_ret(uvfio__dmat_map(t, i * P, P, R, NOFD, 0), 0);
	}
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	assert_ret(uvfio__dmat_lookup(t, 7 * P, &r), 0);
	uvfio__dmat_unmap_all(t);
	assert_int_equal(uvfio__dmat_count(t), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	assert_ret(uvfio__dmat_lookup(t, 7 * P, &r), -EFAULT);
	assert_ret(uvfio__dmat_find_exact(t, 7 * P, P, &r), -ENOENT);
	uvfio__dmat_unmap_all(t);
	/* Still usable. */
	assert_ret(map_dup(t, 7 * P, P, RW, fd, 0), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	assert_ret(uvfio__dmat_lookup(t, 7 * P, &r), 0);
	assert_true(r.has_fd);
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_invalid_args(void **state)
{
	struct uvfio__dma_table *t = new_table(10);
	const uint64_t top = UINT64_MAX - P + 1; /* last page */
	struct uvfio__dma_range r;
	int fd = new_memfd(16 * P);

	assert_ret(uvfio__dmat_map(t, 0x1000, 0, R, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, 0x1001, P, R, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, 0x1000, P + 1, R, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, 0x1000, P, 0, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, 0x1000, P, 4, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, 0x1000, P, RW | 0x100, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, 0x1000, P, R, NOFD, P), -EINVAL); /* offset, no fd */
	/* iova + size wraps, or reaches 2^64 exactly. */
	assert_ret(uvfio__dmat_map(t, top, P, R, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, top - P, 4 * P, R, NOFD, 0), -EINVAL);
	assert_ret(uvfio__dmat_map(t, P, UINT64_MAX - P + 1, R, NOFD, 0), -EINVAL);
	/* With an fd: misaligned or wrapping offsets; the fd stays the caller's. */
	assert_ret(map_dup(t, 0x1000, P, R, fd, 1), -EINVAL);
	assert_ret(map_dup(t, 0x1000, P, R, fd, 0x800), -EINVAL);
	assert_ret(map_dup(t, 0x1000, 2 * P, R, fd, top), -EINVAL);
	assert_ret(map_dup(t, 0x1000, P, R, fd, (uint64_t)INT64_MAX + 1), -EINVAL);
	assert_ret(map_dup(t, 0x1000, P, 0, fd, 0), -EINVAL);
	assert_int_equal(uvfio__dmat_count(t), 0);

	/* The highest mapping that does not wrap. */
	assert_ret(uvfio__dmat_map(t, top - P, P, R, NOFD, 0), 0);
	assert_ret(uvfio__dmat_lookup(t, top - 1, &r), 0);
	assert_int_equal(r.iova, top - P);
	assert_ret(uvfio__dmat_lookup(t, top, &r), -EFAULT);
	assert_ret(uvfio__dmat_lookup(t, UINT64_MAX, &r), -EFAULT);
	assert_ret(uvfio__dmat_map(t, 0, P, R, NOFD, 0), 0);
	assert_ret(uvfio__dmat_lookup(t, 0, &r), 0);
	assert_ret(uvfio__dmat_find_exact(t, 0, 0, &r), -ENOENT);
	assert_ret(uvfio__dmat_find_exact(t, top - P, UINT64_MAX, &r), -ENOENT);
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_max_maps(void **state)
{
	struct uvfio__dma_table *t = new_table(3);
	int fd = new_memfd(4 * P);

	for (uint64_t i = 0; i < 3; i++)
		assert_ret(uvfio__dmat_map(t, i * P, P, R, NOFD, 0), 0);
	assert_ret(uvfio__dmat_map(t, 3 * P, P, R, NOFD, 0), -ENOSPC);
	assert_ret(map_dup(t, 3 * P, P, R, fd, 0), -ENOSPC);
	/* Overlap is reported first, as Type1 does. */
	assert_ret(uvfio__dmat_map(t, 0, P, R, NOFD, 0), -EEXIST);
	assert_ret(uvfio__dmat_unmap(t, P, P), 0);
	assert_ret(map_dup(t, 3 * P, P, R, fd, 0), 0);
	assert_ret(uvfio__dmat_map(t, P, P, R, NOFD, 0), -ENOSPC);

	uvfio__dmat_set_max(t, 1); /* below the count: nothing is dropped */
	assert_int_equal(uvfio__dmat_count(t), 3);
	assert_ret(uvfio__dmat_map(t, P, P, R, NOFD, 0), -ENOSPC);
	uvfio__dmat_set_max(t, 4);
	assert_ret(uvfio__dmat_map(t, P, P, R, NOFD, 0), 0);
	assert_int_equal(uvfio__dmat_count(t), 4);
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_fd_aliases_file(void **state)
{
	struct uvfio__dma_table *t = new_table(10);
	const uint64_t iova = 0x40000000;
	struct uvfio__dma_range r;
	int fd = pattern_memfd(3, 16 * P);
	uint64_t v;

	assert_ret(map_dup(t, iova, 4 * P, RW, fd, 4 * P), 0);
	assert_ret(uvfio__dmat_lookup(t, iova + P + 8, &r), 0);
	assert_int_equal(r.iova, iova);
	assert_int_equal(r.size, 4 * P);
	assert_int_equal(r.prot, RW);
	assert_true(r.has_fd);
	assert_non_null(r.host);
	memcpy(&v, r.host + P + 8, 8);
	assert_int_equal(v, pattern(3, 5 * P + 8));

	/* Device write, read back from the file... */
	v = 0x1122334455667788ull;
	memcpy(r.host + 2 * P + 16, &v, 8);
	v = 0;
	assert_int_equal(pread(fd, &v, 8, 6 * P + 16), 8);
	assert_int_equal(v, 0x1122334455667788ull);
	/* ...and the other way round. */
	v = 0xa5a5a5a5deadbeefull;
	assert_int_equal(pwrite(fd, &v, 8, 7 * P + 4088), 8);
	memcpy(&v, r.host + 3 * P + 4088, 8);
	assert_int_equal(v, 0xa5a5a5a5deadbeefull);

	assert_ret(uvfio__dmat_find_exact(t, iova, 4 * P, &r), 0);
	assert_true(r.has_fd);
	assert_ret(uvfio__dmat_unmap(t, iova, 4 * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_one_mmap_per_file(void **state)
{
	struct uvfio__dma_table *t = new_table(10000);
	const uint64_t n = 1000, b = 1ull << 40;
	int fd = new_memfd(n * P), fd2 = new_memfd(n * P);
	struct uvfio__dma_range r0, r;

	for (uint64_t i = 0; i < n; i++)
		assert_ret(map_dup(t, b + i * P, P, i % 3 ? RW : R, fd, (n - 1 - i) * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	assert_int_equal(uvfio__dmat_count(t), n);
	assert_ret(uvfio__dmat_lookup(t, b + (n - 1) * P, &r0), 0);
	for (uint64_t i = 0; i < n; i++) {
		assert_ret(uvfio__dmat_lookup(t, b + i * P + 100, &r), 0);
		assert_ptr_equal(r.host, r0.host + (n - 1 - i) * P);
	}
	for (uint64_t i = 0; i < n; i++)
		assert_ret(map_dup(t, 2 * b + i * P, P, RW, fd2, i * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 2);
	for (uint64_t i = 0; i < n; i++)
		assert_ret(uvfio__dmat_unmap(t, b + i * P, P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	for (uint64_t i = 0; i < n; i++)
		assert_ret(uvfio__dmat_unmap(t, 2 * b + i * P, P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	assert_int_equal(uvfio__dmat_count(t), 0);
	uvfio__dmat_destroy(t);
	close(fd);
	close(fd2);
}

/* Files come and go: their slots and hash entries are recycled, not piled up. */
static void test_file_churn(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	size_t bytes = 0;

	for (int i = 0; i < 300; i++) {
		int fd = new_memfd(P);

		assert_ret(map_dup(t, P, P, RW, fd, 0), 0);
		assert_ret(map_dup(t, 0, P, R, fd, 0), 0);
		assert_int_equal(uvfio__dmat_file_maps(t), 1);
		assert_ret(uvfio__dmat_unmap(t, P, P), 0);
		assert_ret(uvfio__dmat_unmap(t, 0, P), 0);
		assert_int_equal(uvfio__dmat_file_maps(t), 0);
		close(fd);
		if (!i)
			bytes = uvfio__dmat_mem_bytes(t);
		assert_int_equal(uvfio__dmat_mem_bytes(t), bytes);
	}
	uvfio__dmat_destroy(t);
}

static void test_readonly_fd(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int fd = pattern_memfd(1, 8 * P), ro = reopen(fd, O_RDONLY), wo = reopen(fd, O_WRONLY);
	struct uvfio__dma_range r;
	uint64_t v;

	assert_ret(map_dup(t, 0, P, W, ro, 0), -EACCES);
	assert_ret(map_dup(t, 0, P, RW, ro, 0), -EACCES);
	assert_ret(map_dup(t, 0, P, R, wo, 0), -EACCES);
	assert_int_equal(uvfio__dmat_count(t), 0);

	assert_ret(map_dup(t, 0, P, R, ro, 0), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	assert_ret(uvfio__dmat_lookup(t, 8, &r), 0);
	memcpy(&v, r.host + 8, 8);
	assert_int_equal(v, pattern(1, 8));
	/* The read-only file mapping can't serve WRITE: a writable one is made. */
	assert_ret(map_dup(t, P, P, RW, fd, P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 2);
	assert_ret(uvfio__dmat_lookup(t, P, &r), 0);
	v = 42;
	memcpy(r.host, &v, 8);
	assert_int_equal(pread(fd, &v, 8, P), 8);
	assert_int_equal(v, 42);
	/* READ mappings reuse either. */
	assert_ret(map_dup(t, 2 * P, P, R, fd, 2 * P), 0);
	assert_ret(map_dup(t, 3 * P, P, R, ro, 3 * P), 0);
	assert_ret(map_dup(t, 4 * P, P, W, fd, 4 * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 2);
	for (uint64_t i = 0; i < 5; i++)
		assert_ret(uvfio__dmat_unmap(t, i * P, P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	uvfio__dmat_destroy(t);
	close(fd);
	close(ro);
	close(wo);
}

static void test_write_sealed_memfd(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int fd = pattern_memfd(2, 4 * P);
	struct uvfio__dma_range r;
	uint64_t v;

	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK), 0);
	/* A sealed file refuses writable shared maps; READ still works. */
	assert_ret(map_dup(t, 0, P, RW, fd, 0), -EACCES);
	assert_ret(map_dup(t, 0, P, R, fd, 0), 0);
	assert_ret(map_dup(t, P, P, R, fd, P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	assert_ret(map_dup(t, 2 * P, P, W, fd, 2 * P), -EACCES);
	assert_ret(uvfio__dmat_lookup(t, P + 16, &r), 0);
	memcpy(&v, r.host + 16, 8);
	assert_int_equal(v, pattern(2, P + 16));
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_beyond_eof(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int fd = pattern_memfd(0, 4 * P), odd = new_memfd(4 * P + 100);
	struct uvfio__dma_range r;
	uint64_t v;

	assert_ret(map_dup(t, 0, 5 * P, R, fd, 0), -ERANGE);
	assert_ret(map_dup(t, 0, P, R, fd, 4 * P), -ERANGE);
	assert_ret(map_dup(t, 0, 2 * P, R, fd, 3 * P), -ERANGE);
	assert_ret(map_dup(t, 0, P, R, fd, 1ull << 50), -ERANGE);
	/* The partial page past a file's end counts as beyond it. */
	assert_ret(map_dup(t, 0, P, R, odd, 4 * P), -ERANGE);
	assert_ret(map_dup(t, 0, 4 * P, R, odd, 0), 0);
	assert_int_equal(uvfio__dmat_count(t), 1);
	assert_ret(map_dup(t, 4 * P, P, RW, fd, 3 * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 2);

	/* The file grows: ranges past the first file mapping get a new one. */
	assert_int_equal(ftruncate(fd, 8 * P), 0);
	assert_ret(map_dup(t, 8 * P, P, RW, fd, 6 * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 3);
	assert_ret(map_dup(t, 9 * P, P, RW, fd, 7 * P), 0);
	assert_ret(map_dup(t, 10 * P, P, RW, fd, P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 3);
	v = 77;
	assert_int_equal(pwrite(fd, &v, 8, 7 * P + 8), 8);
	assert_ret(uvfio__dmat_lookup(t, 9 * P + 8, &r), 0);
	memcpy(&v, r.host + 8, 8);
	assert_int_equal(v, 77);
	assert_ret(uvfio__dmat_lookup(t, 10 * P, &r), 0);
	memcpy(&v, r.host + 8, 8);
	assert_int_equal(v, pattern(0, P + 8));

	uvfio__dmat_unmap_all(t);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	uvfio__dmat_destroy(t);
	close(fd);
	close(odd);
}

/* Files too big to map whole, or ranges too far in, get a window each. */
static void test_huge_file_window(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	const uint64_t size = 1ull << 53, offs[] = { 0, (1ull << 52) + P, size - 2 * P };
	int fd = new_memfd(P);
	struct uvfio__dma_range r;
	uint64_t v;

	if (ftruncate(fd, (off_t)size)) {
		close(fd);
		skip();
	}
	for (size_t i = 0; i < ARRAY_SIZE(offs); i++) {
		v = 1000 + i;
		assert_int_equal(pwrite(fd, &v, 8, (off_t)offs[i] + 24), 8);
		assert_ret(map_dup(t, i * 4 * P, 2 * P, RW, fd, offs[i]), 0);
		assert_ret(uvfio__dmat_lookup(t, i * 4 * P + 24, &r), 0);
		memcpy(&v, r.host + 24, 8);
		assert_int_equal(v, 1000 + i);
	}
	assert_int_equal(uvfio__dmat_file_maps(t), 3);
	assert_ret(uvfio__dmat_unmap(t, 4 * P, 2 * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 2);
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_unmappable_fds(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int p[2], s[2], fd = new_memfd(P), opath = reopen(fd, O_PATH), dir, null;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(dir >= 0 && null >= 0);

	for (int i = 0; i < 2; i++) {
		int before = p[i];

		assert_ret(uvfio__dmat_map(t, 0, P, R, &p[i], 0), -ENODEV);
		assert_int_equal(p[i], before);
		assert_true(fd_open(p[i]));
	}
	assert_ret(map_dup(t, 0, P, R, s[0], 0), -ENODEV);
	assert_ret(map_dup(t, 0, P, RW, opath, 0), -ENODEV);
	assert_ret(map_dup(t, 0, P, R, dir, 0), -ENODEV);
	assert_ret(map_dup(t, 0, P, RW, null, 0), -ENODEV);
	assert_ret(uvfio__dmat_map(t, 0, P, R, &(int){ 1000000 }, 0), -EBADF);
	assert_int_equal(uvfio__dmat_count(t), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	/* An O_PATH fd grants no access, even to a file that is mapped already. */
	assert_ret(map_dup(t, 0, P, R, fd, 0), 0);
	assert_ret(map_dup(t, P, P, R, opath, 0), -ENODEV);
	close_fds(p, 2);
	close_fds(s, 2);
	close(fd);
	close(opath);
	close(dir);
	close(null);
	uvfio__dmat_destroy(t);
}

/* Device files are mapped range by range, never shared. */
static void test_char_device(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
	struct uvfio__dma_range r;
	uint64_t v = 0x55;

	if (zero < 0) {
		uvfio__dmat_destroy(t);
		skip();
	}
	assert_ret(map_dup(t, 0, 2 * P, RW, zero, 0), 0);
	assert_ret(map_dup(t, 2 * P, 2 * P, RW, zero, 0), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 2);
	assert_ret(uvfio__dmat_lookup(t, P + 8, &r), 0);
	memcpy(r.host + P + 8, &v, 8);
	memcpy(&v, r.host + P, 8);
	assert_int_equal(v, 0);
	assert_ret(uvfio__dmat_unmap(t, 0, 2 * P), 0);
	assert_int_equal(uvfio__dmat_file_maps(t), 1);
	uvfio__dmat_destroy(t);
	close(zero);
}

/*
 * A shared mapping of /dev/zero at an offset is a shmem object the size of
 * the mapping: its last pages raise SIGBUS. Found by fuzz_dmatable (a
 * client could crash the server at the model's first DMA); such ranges are
 * refused like a regular file's range past EOF, and the fd stays the caller's.
 */
static void test_char_device_sigbus(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int zero = open("/dev/zero", O_RDWR | O_CLOEXEC), fd;
	struct uvfio__dma_range r;
	uint64_t v = 1;

	if (zero < 0) {
		uvfio__dmat_destroy(t);
		skip();
	}
	fd = zero;
	assert_ret(uvfio__dmat_map(t, 0, 25 * P, W, &fd, 0x4c * P), -ERANGE);
	assert_int_equal(fd, zero);
	assert_ret(map_dup(t, 0, P, R, zero, P), -ERANGE);
	assert_ret(map_dup(t, 0 - 0x93 * P, 25 * P, RW, zero, 0x19 * P), -ERANGE);
	assert_int_equal(uvfio__dmat_file_maps(t), 0);
	assert_int_equal(uvfio__dmat_count(t), 0);
	/* At offset 0 every page is backed, the last one included. */
	assert_ret(map_dup(t, 0, 25 * P, RW, zero, 0), 0);
	assert_ret(uvfio__dmat_lookup(t, 24 * P, &r), 0);
	memcpy(&v, r.host + 24 * P, 8);
	assert_int_equal(v, 0);
	uvfio__dmat_destroy(t);
	close(zero);
}

static void test_fd_ownership(void **state)
{
	struct uvfio__dma_table *t = new_table(2);
	int fd = new_memfd(4 * P), d;

	d = dup_fd(fd);
	assert_ret(uvfio__dmat_map(t, 0, P, RW, &d, 0), 0);
	assert_int_equal(d, -1);
	/* Every kind of failure leaves the fd with the caller. */
	assert_ret(map_dup(t, 0, P, RW, fd, 0), -EEXIST);
	assert_ret(map_dup(t, P, P, RW, fd, 0x10), -EINVAL);
	assert_ret(map_dup(t, P, P, RW, fd, 8 * P), -ERANGE);
	assert_ret(map_dup(t, P, P, RW, fd, 0), 0);
	assert_ret(map_dup(t, 2 * P, P, RW, fd, 0), -ENOSPC);
	/* fd -1 is "no fd", even with the pointer given. */
	d = -1;
	assert_ret(uvfio__dmat_unmap(t, 0, P), 0);
	assert_ret(uvfio__dmat_map(t, 0, P, R, &d, 0), 0);
	assert_int_equal(d, -1);
	assert_ret(uvfio__dmat_unmap(t, 0, P), 0);
	assert_ret(uvfio__dmat_map(t, 0, P, R, NULL, 0), 0);
	uvfio__dmat_destroy(t);
	close(fd);
}

struct collect {
	struct uvfio__dma_range r[16];
	int n, stop_at;
};

static int collect_one(void *priv, const struct uvfio__dma_range *r)
{
	struct collect *c = priv;

	c->r[c->n++] = *r;
	return c->n == c->stop_at ? 7 : 0;
}

static void test_lookup_find_foreach(void **state)
{
	struct uvfio__dma_table *t = new_table(100);
	int fd = pattern_memfd(5, 8 * P);
	struct collect c = { .stop_at = -1 };
	struct uvfio__dma_range r;

	assert_ret(uvfio__dmat_map(t, 0x30000, 2 * P, W, NOFD, 0), 0);
	assert_ret(map_dup(t, 0x10000, 3 * P, RW, fd, 2 * P), 0);
	assert_ret(uvfio__dmat_map(t, 0x20000, P, R, NOFD, 0), 0);
	assert_int_equal(uvfio__dmat_count(t), 3);

	assert_ret(uvfio__dmat_lookup(t, 0x10000, &r), 0);
	assert_int_equal(r.iova, 0x10000);
	assert_int_equal(r.size, 3 * P);
	assert_true(r.has_fd);
	assert_ret(uvfio__dmat_lookup(t, 0x10000 + 3 * P - 1, &r), 0);
	assert_int_equal(r.iova, 0x10000);
	assert_ret(uvfio__dmat_lookup(t, 0x10000 + 3 * P, &r), -EFAULT);
	assert_ret(uvfio__dmat_lookup(t, 0xffff, &r), -EFAULT);
	assert_ret(uvfio__dmat_lookup(t, 0x20fff, &r), 0);
	assert_int_equal(r.prot, R);
	assert_false(r.has_fd);
	assert_null(r.host);
	assert_ret(uvfio__dmat_lookup(t, 0x31000, &r), 0);
	assert_int_equal(r.prot, W);
	assert_ret(uvfio__dmat_lookup(t, 0, &r), -EFAULT);
	assert_ret(uvfio__dmat_lookup(t, UINT64_MAX, &r), -EFAULT);

	assert_ret(uvfio__dmat_find_exact(t, 0x10000, 3 * P, &r), 0);
	assert_int_equal(r.prot, RW);
	assert_ret(uvfio__dmat_find_exact(t, 0x10000, 2 * P, &r), -ENOENT);
	assert_ret(uvfio__dmat_find_exact(t, 0x11000, 2 * P, &r), -ENOENT);
	assert_ret(uvfio__dmat_find_exact(t, 0x20000, P, &r), 0);
	assert_ret(uvfio__dmat_find_exact(t, 0x40000, P, &r), -ENOENT);

	assert_ret(uvfio__dmat_foreach(t, collect_one, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.r[0].iova, 0x10000);
	assert_int_equal(c.r[1].iova, 0x20000);
	assert_int_equal(c.r[2].iova, 0x30000);
	assert_int_equal(c.r[2].size, 2 * P);
	assert_true(c.r[0].has_fd);
	assert_false(c.r[1].has_fd);
	c.n = 0;
	c.stop_at = 2;
	assert_ret(uvfio__dmat_foreach(t, collect_one, &c), 7);
	assert_int_equal(c.n, 2);
	uvfio__dmat_destroy(t);
	close(fd);
}

static void test_mem_sequential_1m(void **state)
{
	struct uvfio__dma_table *t = new_table(2000000);
	const uint64_t n = 1000000, b = 0x100000000ull;
	struct uvfio__dma_range r;
	size_t bytes;

	for (uint64_t i = 0; i < n; i++)
		assert_ret(uvfio__dmat_map(t, b + i * P, P, RW, NOFD, 0), 0);
	bytes = uvfio__dmat_mem_bytes(t);
	printf("# %" PRIu64 " sequential mappings: %.2f bytes each\n", n,
	       (double)bytes / (double)n);
	assert_true(bytes <= 48 * n);
	for (uint64_t i = 0; i < n; i += 997) {
		assert_ret(uvfio__dmat_lookup(t, b + i * P + 1, &r), 0);
		assert_int_equal(r.iova, b + i * P);
	}
	/* Descending order packs as well. */
	uvfio__dmat_unmap_all(t);
	for (uint64_t i = n; i-- > 0;)
		assert_ret(uvfio__dmat_map(t, b + i * P, P, RW, NOFD, 0), 0);
	assert_true(uvfio__dmat_mem_bytes(t) <= 48 * n);
	uvfio__dmat_destroy(t);
}

static void test_mem_random_200k(void **state)
{
	struct uvfio__dma_table *t = new_table(1000000);
	const uint64_t n = 200000;
	uint64_t *perm = malloc(n * sizeof(*perm));
	size_t bytes;

	assert_non_null(perm);
	rng_state = 42;
	for (uint64_t i = 0; i < n; i++)
		perm[i] = i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = rnd_below(i + 1), x = perm[i];

		perm[i] = perm[j];
		perm[j] = x;
	}
	for (uint64_t i = 0; i < n; i++)
		assert_ret(uvfio__dmat_map(t, perm[i] * 2 * P, P, R, NOFD, 0), 0);
	bytes = uvfio__dmat_mem_bytes(t);
	printf("# %" PRIu64 " random-order mappings: %.2f bytes each\n", n,
	       (double)bytes / (double)n);
	assert_true(bytes <= 48 * n);
	/* Unmapping half at random keeps nodes at least half full. */
	for (uint64_t i = 0; i < n / 2; i++)
		assert_ret(uvfio__dmat_unmap(t, perm[i] * 2 * P, P), 0);
	assert_true(uvfio__dmat_mem_bytes(t) <= 60 * (n / 2));
	uvfio__dmat_destroy(t);
	free(perm);
}

/*
 * A naive model of the table: who owns each page of a small IOVA window.
 * Mappings start inside the window; only huge ones reach past it, and the
 * extra page at the end lets lookups see them there.
 */
#define MODEL_PAGES (1u << 14)
#define WINDOW      (MODEL_PAGES + 1)
#define MODEL_FILES 2
#define FILE_PAGES  64

struct model_map {
	uint64_t page, npages, offset;
	uint32_t prot;
	int file; /* -1: no fd */
};

struct model {
	int32_t owner[WINDOW]; /* index into maps, or -1 */
	struct model_map *maps;
	uint32_t nmaps, cap;
	uint64_t base, max;
	int files[MODEL_FILES], ro;
};

static bool model_wraps(uint64_t a, uint64_t b)
{
	uint64_t s;

	return __builtin_add_overflow(a, b, &s);
}

/* Pages [*lo, *hi) of the window that [iova, iova + size) covers. */
static void model_clip(const struct model *m, uint64_t iova, uint64_t size, uint64_t *lo,
		       uint64_t *hi)
{
	uint64_t end = iova + size, wend = m->base + WINDOW * P;

	*lo = (MAX(iova, m->base) - m->base) / P;
	*hi = end <= m->base ? 0 : (MIN(end, wend) - m->base) / P;
}

/* Expected result of map(iova, size, prot, file, offset). */
static int model_map_ret(const struct model *m, uint64_t iova, uint64_t size, uint32_t prot,
			 int file, bool ro, uint64_t offset)
{
	uint64_t lo, hi;

	if (!prot || prot > RW || !size || (iova | size | offset) % P)
		return -EINVAL;
	if (model_wraps(iova, size) || model_wraps(offset, size) || (file < 0 && offset))
		return -EINVAL;
	model_clip(m, iova, size, &lo, &hi);
	for (uint64_t pg = lo; pg < hi; pg++)
		if (m->owner[pg] >= 0)
			return -EEXIST;
	if (m->nmaps >= m->max)
		return -ENOSPC;
	if (file >= 0 && ro && (prot & W))
		return -EACCES;
	if (file >= 0 && offset + size > FILE_PAGES * P)
		return -ERANGE;
	return 0;
}

static void model_mark(struct model *m, const struct model_map *mm, int32_t v)
{
	uint64_t lo, hi;

	model_clip(m, m->base + mm->page * P, mm->npages * P, &lo, &hi);
	for (uint64_t pg = lo; pg < hi; pg++)
		m->owner[pg] = v;
}

static void model_add(struct model *m, uint64_t page, uint64_t npages, uint32_t prot, int file,
		      uint64_t offset)
{
	if (m->nmaps == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 64;
		m->maps = realloc(m->maps, m->cap * sizeof(*m->maps));
		assert_non_null(m->maps);
	}
	m->maps[m->nmaps] = (struct model_map){ page, npages, offset, prot, file };
	model_mark(m, &m->maps[m->nmaps], (int32_t)m->nmaps);
	m->nmaps++;
}

static void model_del(struct model *m, uint32_t i)
{
	model_mark(m, &m->maps[i], -1);
	m->nmaps--;
	if (i != m->nmaps) {
		m->maps[i] = m->maps[m->nmaps];
		model_mark(m, &m->maps[i], (int32_t)i);
	}
}

static unsigned model_files(const struct model *m)
{
	bool used[MODEL_FILES] = { false };
	unsigned n = 0;

	for (uint32_t i = 0; i < m->nmaps; i++)
		if (m->maps[i].file >= 0)
			used[m->maps[i].file] = true;
	for (int f = 0; f < MODEL_FILES; f++)
		n += used[f];
	return n;
}

static void check_lookup(struct uvfio__dma_table *t, const struct model *m, uint64_t x)
{
	uint64_t pg = (x - m->base) / P, v;
	struct uvfio__dma_range r;
	const struct model_map *mm;
	int ret = uvfio__dmat_lookup(t, x, &r);

	if (x < m->base || pg >= WINDOW || m->owner[pg] < 0) {
		assert_ret(ret, -EFAULT);
		return;
	}
	mm = &m->maps[m->owner[pg]];
	assert_ret(ret, 0);
	assert_int_equal(r.iova, m->base + mm->page * P);
	assert_int_equal(r.size, mm->npages * P);
	assert_int_equal(r.prot, mm->prot);
	assert_int_equal(r.has_fd, mm->file >= 0);
	if (mm->file < 0) {
		assert_null(r.host);
		return;
	}
	x &= ~7ull;
	memcpy(&v, r.host + (x - r.iova), 8);
	assert_int_equal(v, pattern((unsigned)mm->file, mm->offset + (x - r.iova)));
}

struct walk {
	const struct model *m;
	uint64_t n, last;
};

static int walk_one(void *priv, const struct uvfio__dma_range *r)
{
	struct walk *w = priv;
	uint64_t pg = (r->iova - w->m->base) / P;
	const struct model_map *mm;

	assert_true(r->iova >= w->m->base && pg < WINDOW && w->m->owner[pg] >= 0);
	mm = &w->m->maps[w->m->owner[pg]];
	assert_int_equal(mm->page, pg);
	assert_int_equal(r->size, mm->npages * P);
	assert_int_equal(r->prot, mm->prot);
	assert_true(!w->n || r->iova > w->last);
	w->last = r->iova;
	w->n++;
	return 0;
}

static void check_all(struct uvfio__dma_table *t, const struct model *m)
{
	struct walk w = { m, 0, 0 };

	assert_int_equal(uvfio__dmat_count(t), m->nmaps);
	assert_int_equal(uvfio__dmat_file_maps(t), model_files(m));
	assert_ret(uvfio__dmat_foreach(t, walk_one, &w), 0);
	assert_int_equal(w.n, m->nmaps);
}

static uint64_t random_pages(void)
{
	uint64_t r = rnd_below(100);

	if (r < 70)
		return 1;
	if (r < 90)
		return 2 + rnd_below(7);
	if (r < 98)
		return 9 + rnd_below(56);
	return 65 + rnd_below(2000);
}

static void differential(uint64_t base, uint64_t seed, unsigned ops)
{
	struct uvfio__dma_table *t = new_table(3000);
	struct model *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	rng_state = seed;
	memset(m->owner, 0xff, sizeof(m->owner));
	m->base = base;
	m->max = 3000;
	for (int f = 0; f < MODEL_FILES; f++)
		m->files[f] = pattern_memfd((unsigned)f, FILE_PAGES * P);
	m->ro = reopen(m->files[0], O_RDONLY);

	for (unsigned op = 0; op < ops; op++) {
		uint64_t r = rnd_below(1000), pg = rnd_below(MODEL_PAGES);
		uint64_t iova = base + pg * P, size = MIN(random_pages(), MODEL_PAGES - pg) * P;

		if (r < 450) {
			uint32_t prot = rnd_below(50) ? 1 + (uint32_t)rnd_below(3) :
						   (uint32_t)rnd_below(8);
			uint64_t offset = 0, q = rnd_below(100);
			int file = -1, want;
			bool ro = false;

			if (q < 45) {
				file = (int)rnd_below(MODEL_FILES);
				ro = file == 0 && rnd_below(20) == 0 && (prot & W);
				size = MIN(1 + rnd_below(8), MODEL_PAGES - pg) * P;
				offset = rnd_below(FILE_PAGES + 4) * P;
			} else if (q == 45) {
				offset = P;
			}
			if (rnd_below(100) == 0)
				iova += 8 << rnd_below(9);
			if (rnd_below(400) == 0)
				size = UINT64_MAX - P + 1 - rnd_below(4) * P;
			if (rnd_below(400) == 0) {
				/* Ends at 2^64 or wraps past it. */
				iova = 0 - (1 + rnd_below(2)) * P;
				size = 2 * P;
			}
			want = model_map_ret(m, iova, size, prot, file, ro, offset);
			if (file >= 0)
				assert_ret(map_dup(t, iova, size, prot, ro ? m->ro : m->files[file],
						   offset),
					   want);
			else
				assert_ret(uvfio__dmat_map(t, iova, size, prot, NOFD, offset),
					   want);
			if (!want)
				model_add(m, pg, size / P, prot, file, offset);
		} else if (r < 700) {
			int32_t i = -1;
			int want = -ENOENT;

			if (m->nmaps && r < 620) {
				const struct model_map *mm = &m->maps[rnd_below(m->nmaps)];

				iova = base + mm->page * P;
				size = mm->npages * P;
				if (r < 500)
					size += P; /* near miss */
			}
			if (iova >= base && (iova - base) / P < WINDOW) {
				i = m->owner[(iova - base) / P];
				if (i >= 0 && m->maps[i].page * P + base == iova &&
				    m->maps[i].npages * P == size)
					want = 0;
			}
			assert_ret(uvfio__dmat_unmap(t, iova, size), want);
			if (!want)
				model_del(m, (uint32_t)i);
		} else if (r < 990) {
			check_lookup(t, m, iova + rnd_below(P));
			/* Neighbours next: the paths through the one-entry cache. */
			check_lookup(t, m, iova + rnd_below(P));
			check_lookup(t, m, iova + P + rnd_below(P));
		} else if (r < 997) {
			struct uvfio__dma_range rr;
			int want = -ENOENT;

			if (m->nmaps && r < 994) {
				const struct model_map *mm = &m->maps[rnd_below(m->nmaps)];

				iova = base + mm->page * P;
				size = mm->npages * P;
				want = 0;
			} else if (m->owner[pg] >= 0 &&
				   m->maps[m->owner[pg]].page == pg &&
				   m->maps[m->owner[pg]].npages * P == size) {
				want = 0;
			}
			assert_ret(uvfio__dmat_find_exact(t, iova, size, &rr), want);
		} else if (r < 999) {
			m->max = 1000 + rnd_below(4000);
			uvfio__dmat_set_max(t, m->max);
		} else if (rnd_below(20) == 0) {
			uvfio__dmat_unmap_all(t);
			while (m->nmaps)
				model_del(m, m->nmaps - 1);
		}
		if (op % 8192 == 0)
			check_all(t, m);
	}
	check_all(t, m);
	uvfio__dmat_destroy(t);
	for (int f = 0; f < MODEL_FILES; f++)
		close(m->files[f]);
	close(m->ro);
	free(m->maps);
	free(m);
}

static void test_differential_low(void **state)
{
	differential(0, 0x5eed, 200000);
}

/* The same near the top of the address space, where ends can wrap. */
static void test_differential_top(void **state)
{
	differential(0 - (uint64_t)(MODEL_PAGES + 2) * P, 0xfeed, 100000);
}

/*
 * The tree alone, against a page-owner model, with every invariant checked
 * as it goes: ascending, descending and random insertion, ranges of mixed
 * sizes that straddle old separators, and removal down to empty.
 */
#define BT_PAGES 8192

static void bt_insert(struct uvfio__btree *bt, uint64_t page, uint64_t npages, int want)
{
	struct uvfio__bt_cursor c;
	struct uvfio__bt_ent e = { page * P | 1, (page + npages) * P, page };
	int ret = uvfio__bt_prepare(bt, page * P, (page + npages) * P, &c);

	assert_ret(ret, want);
	if (!ret)
		uvfio__bt_commit(bt, &c, &e);
}

static void test_btree_sequential(void **state)
{
	struct uvfio__btree bt;
	struct uvfio__bt_ent e;
	const uint64_t n = 100000;

	uvfio__bt_init(&bt);
	for (uint64_t i = 0; i < n; i++)
		bt_insert(&bt, 2 * i, 1, 0);
	assert_ret(uvfio__bt_check(&bt), 0);
	/* Packed: one partly filled leaf at most, and few inner nodes. */
	assert_true(bt.bytes < n / UVFIO__BT_LEAF_CAP * sizeof(struct uvfio__bt_leaf) * 103 / 100 +
				       2 * sizeof(struct uvfio__bt_leaf));
	for (uint64_t i = 0; i < n; i++) {
		assert_true(uvfio__bt_find(&bt, 2 * i * P + 5, &e));
		assert_int_equal(e.val, 2 * i);
		assert_false(uvfio__bt_find(&bt, (2 * i + 1) * P, &e));
	}
	for (uint64_t i = 0; i < n; i++) {
		assert_ret(uvfio__bt_remove(&bt, 2 * i * P, (2 * i + 1) * P, &e), 0);
		if (i % 4096 == 0)
			assert_ret(uvfio__bt_check(&bt), 0);
	}
	assert_null(bt.root);
	assert_int_equal(bt.bytes, 0);

	for (uint64_t i = n; i-- > 0;)
		bt_insert(&bt, 2 * i, 1, 0);
	assert_ret(uvfio__bt_check(&bt), 0);
	assert_true(bt.bytes < n / UVFIO__BT_LEAF_CAP * sizeof(struct uvfio__bt_leaf) * 103 / 100 +
				       2 * sizeof(struct uvfio__bt_leaf));
	/* Filling every gap from the middle splits evenly, never below half. */
	for (uint64_t i = 0; i < n; i++)
		bt_insert(&bt, 2 * i + 1, 1, 0);
	assert_ret(uvfio__bt_check(&bt), 0);
	assert_int_equal(bt.count, 2 * n);
	uvfio__bt_clear(&bt);
	assert_int_equal(bt.bytes, 0);
}

static void test_btree_random(void **state)
{
	static int32_t owner[BT_PAGES];
	static uint64_t len[BT_PAGES];
	struct uvfio__btree bt;
	struct uvfio__bt_ent e;

	rng_state = 7;
	uvfio__bt_init(&bt);
	memset(owner, 0xff, sizeof(owner));
	for (unsigned op = 0; op < 300000; op++) {
		uint64_t pg = rnd_below(BT_PAGES), np = rnd_below(4) ? 1 : 1 + rnd_below(40);
		uint64_t r = rnd_below(100);

		if (op == 150000) { /* drain, then grow again */
			for (uint64_t p = 0; p < BT_PAGES; p++) {
				if (owner[p] != (int32_t)p)
					continue;
				assert_ret(uvfio__bt_remove(&bt, p * P, (p + len[p]) * P, &e), 0);
				for (uint64_t q = p; q < p + len[p]; q++)
					owner[q] = -1;
			}
			assert_null(bt.root);
			assert_int_equal(bt.count, 0);
		}
		if (pg + np > BT_PAGES)
			np = BT_PAGES - pg;
		if (r < 55) {
			int want = 0;

			for (uint64_t p = pg; p < pg + np; p++)
				if (owner[p] >= 0)
					want = -EEXIST;
			bt_insert(&bt, pg, np, want);
			if (!want) {
				for (uint64_t p = pg; p < pg + np; p++)
					owner[p] = (int32_t)pg;
				len[pg] = np;
			}
		} else if (r < 85) {
			int32_t o = owner[pg];
			uint64_t start = o >= 0 && r < 80 ? (uint64_t)o : pg;
			uint64_t n = o >= 0 && r < 80 ? len[o] : np;
			int want = o >= 0 && (uint64_t)o == start && len[o] == n ? 0 : -ENOENT;

			assert_ret(uvfio__bt_remove(&bt, start * P, (start + n) * P, &e), want);
			if (!want) {
				assert_int_equal(e.val, start);
				for (uint64_t p = start; p < start + n; p++)
					owner[p] = -1;
			}
		} else {
			bool found = uvfio__bt_find(&bt, pg * P + rnd_below(P), &e);

			assert_int_equal(found, owner[pg] >= 0);
			if (found)
				assert_int_equal(e.val, (uint64_t)owner[pg]);
			found = uvfio__bt_find_near(&bt, pg * P + rnd_below(P), &e);
			assert_int_equal(found, owner[pg] >= 0);
		}
		if (op % 64 == 0)
			assert_ret(uvfio__bt_check(&bt), 0);
	}
	assert_ret(uvfio__bt_check(&bt), 0);
	uvfio__bt_clear(&bt);
	assert_int_equal(bt.bytes, 0);
}

/*
 * lookup_many agrees with one lookup at a time: same ranges, and it stops
 * at the first unmapped address, wherever in a batch (or across batches)
 * that falls; stale translation-cache entries never leak through.
 */
static void test_lookup_many(void **state)
{
	struct uvfio__dma_table *t = new_table(100000);
	uint64_t a[40];
	struct uvfio__dma_range got[40], one;

	rng_state = 7;
	/* Mapped: every other 4-page block of [0, 64 MiB), plus one at the top. */
	for (uint64_t b = 0; b < 4096; b += 2)
		assert_ret(uvfio__dmat_map(t, b * 4 * P, 4 * P, RW, &(int){ -1 }, 0), 0);
	assert_ret(uvfio__dmat_map(t, UVFIO__BT_ADDR_MAX & ~(P - 1), P, R, &(int){ -1 }, 0), 0);
	for (unsigned round = 0; round < 20000; round++) {
		size_t n = 1 + rnd_below(40), want = n, ret;

		for (size_t i = 0; i < n; i++) {
			a[i] = rnd_below(4096 * 4 * P);
			if (!rnd_below(200))
				a[i] = UVFIO__BT_ADDR_MAX - rnd_below(P);
			if (!rnd_below(300))
				a[i] = UINT64_MAX - rnd_below(8192);
		}
		/* Batch first: single lookups would refresh the cache for it. */
		ret = uvfio__dmat_lookup_many(t, a, n, got);
		for (size_t i = 0; i < n && want == n; i++)
			if (uvfio__dmat_lookup(t, a[i], &one))
				want = i;
		assert_int_equal(ret, want);
		for (size_t i = 0; i < ret; i++) {
			assert_ret(uvfio__dmat_lookup(t, a[i], &one), 0);
			assert_memory_equal(&got[i], &one, sizeof(one));
		}
		/* Churn, so cached translations go stale and must not be used. */
		if (round % 100 == 0) {
			uint64_t b = rnd_below(2048) * 2;

			assert_ret(uvfio__dmat_unmap(t, b * 4 * P, 4 * P), 0);
			assert_ret(uvfio__dmat_map(t, (b + 1) * 4 * P, 4 * P, RW, &(int){ -1 }, 0), 0);
			assert_ret(uvfio__dmat_unmap(t, (b + 1) * 4 * P, 4 * P), 0);
			assert_ret(uvfio__dmat_map(t, b * 4 * P, 4 * P, R, &(int){ -1 }, 0), 0);
		}
	}
	uvfio__dmat_destroy(t);
}

/*
 * The same over an uneven layout (random sizes and gaps), where guessing
 * an entry's slot from even spacing is often wrong, and addresses in gaps
 * often guess the entry after the gap.
 */
static void test_lookup_many_uneven(void **state)
{
	struct uvfio__dma_table *t = new_table(100000);
	uint64_t a[32], top = 0;
	struct uvfio__dma_range got[32], one;

	rng_state = 11;
	for (unsigned i = 0; i < 30000; i++) {
		top += rnd_below(8) * P;
		assert_ret(uvfio__dmat_map(t, top, (1 + rnd_below(16)) * P, R, &(int){ -1 }, 0), 0);
		assert_ret(uvfio__dmat_lookup(t, top, &one), 0);
		top += one.size;
	}
	for (unsigned round = 0; round < 20000; round++) {
		size_t n = 1 + rnd_below(32), want = n, ret;

		for (size_t i = 0; i < n; i++)
			a[i] = rnd_below(top + 64 * P);
		ret = uvfio__dmat_lookup_many(t, a, n, got);
		for (size_t i = 0; i < n && want == n; i++)
			if (uvfio__dmat_lookup(t, a[i], &one))
				want = i;
		assert_int_equal(ret, want);
		for (size_t i = 0; i < ret; i++) {
			assert_ret(uvfio__dmat_lookup(t, a[i], &one), 0);
			assert_memory_equal(&got[i], &one, sizeof(one));
		}
	}
	uvfio__dmat_destroy(t);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_create_destroy), UVFIO_TEST(test_lookup_many),
		UVFIO_TEST(test_lookup_many_uneven), UVFIO_TEST(test_overlap_shapes),
		UVFIO_TEST(test_overlap_across_leaves), UVFIO_TEST(test_unmap_exact),
		UVFIO_TEST(test_unmap_all), UVFIO_TEST(test_invalid_args),
		UVFIO_TEST(test_max_maps), UVFIO_TEST(test_fd_aliases_file),
		UVFIO_TEST(test_one_mmap_per_file), UVFIO_TEST(test_file_churn),
		UVFIO_TEST(test_readonly_fd), UVFIO_TEST(test_write_sealed_memfd),
		UVFIO_TEST(test_beyond_eof), UVFIO_TEST(test_huge_file_window),
		UVFIO_TEST(test_unmappable_fds), UVFIO_TEST(test_char_device),
		UVFIO_TEST(test_char_device_sigbus), UVFIO_TEST(test_fd_ownership), UVFIO_TEST(test_lookup_find_foreach),
		UVFIO_TEST(test_mem_sequential_1m), UVFIO_TEST(test_mem_random_200k),
		UVFIO_TEST(test_differential_low), UVFIO_TEST(test_differential_top),
		UVFIO_TEST(test_btree_sequential), UVFIO_TEST(test_btree_random))
