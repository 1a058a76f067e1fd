// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_dmatable: sequences of map / unmap / unmap-all / lookups on the
 * device side's DMA map table (lib/emu/dmatable.c), each result compared
 * with a naive reference: an array of intervals.
 *
 * The reference states the Type1 rules from dmatable.h independently:
 * argument checks first (alignment, zero size, prot bits, wrap of
 * iova + size and offset + size, an offset without an fd, offsets mmap
 * can't take) -> EINVAL, then any overlap -> EEXIST (identical ranges
 * included), then the limit -> ENOSPC, then the fd (can't be mapped ->
 * ENODEV, write access through a read-only fd -> EACCES, range past the
 * end of the file -> ERANGE, and /dev/zero at an offset, whose shared
 * mapping would raise SIGBUS, -> ERANGE). Unmaps must match exactly (ENOENT).
 *
 * Lookups must find exactly the reference's interval, with its
 * permissions, and a pointer that really points at the right byte of the
 * right file (the memfds carry a pattern of their own offsets). fd
 * ownership is checked too: taken (set to -1) on success, left open on
 * failure. After each input every fd and every mapping of the memfds is
 * gone.
 *
 * Input: byte 0 sets the limit; then 12-byte operations.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "emu/dmatable.h"
#include "util/btree.h"
#include "fuzz_common.h"

#define PG        4096ull
#define MAX_REF   512
#define MEMA_SIZE (64 * PG)
#define MEMB_SIZE (2 * PG)
#define TAG_A     0x0a
#define TAG_B     0x0b

enum kind { K_NONE, K_MEMA, K_MEMA_RO, K_MEMB, K_EVENTFD, K_PIPE, K_OPATH, K_ZERO };

struct ref {
	uint64_t iova, size, offset;
	uint32_t prot;
	enum kind kind;
};

static struct ref refs[MAX_REF];
static unsigned nrefs;
static uint64_t max_maps;
static int mema = -1, memb = -1;

static int new_fd(enum kind k)
{
	char path[64];
	int p[2], fd = -1;

	switch (k) {
	case K_MEMA:
		return dup(mema);
	case K_MEMA_RO:
	case K_OPATH:
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mema);
		return open(path, (k == K_OPATH ? O_PATH : O_RDONLY) | O_CLOEXEC);
	case K_MEMB:
		return dup(memb);
	case K_EVENTFD:
		return eventfd(0, EFD_CLOEXEC);
	case K_PIPE:
		if (pipe2(p, O_CLOEXEC))
			return -1;
		close(p[1]);
		return p[0];
	case K_ZERO:
		return open("/dev/zero", O_RDWR | O_CLOEXEC);
	default:
		return fd;
	}
}

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return a < b + bn && b < a + an;
}

/* What the table must answer for a map; K_ZERO may also fail in mmap (ENOMEM/ENODEV). */
static int expect_map(uint64_t iova, uint64_t size, uint32_t prot, enum kind k, uint64_t off)
{
	uint64_t end;
	bool fd = k != K_NONE;

	if (!prot || (prot & ~3u) || !size || ((iova | size | off) & (PG - 1)))
		return -EINVAL;
	if (__builtin_add_overflow(iova, size, &end) || __builtin_add_overflow(off, size, &end))
		return -EINVAL;
	if ((!fd && off) || (fd && off + size > INT64_MAX))
		return -EINVAL;
	for (unsigned i = 0; i < nrefs; i++)
		if (overlaps(iova, size, refs[i].iova, refs[i].size))
			return -EEXIST;
	if (nrefs >= max_maps)
		return -ENOSPC;
	switch (k) {
	case K_EVENTFD:
	case K_PIPE:
	case K_OPATH:
		return -ENODEV;
	case K_MEMA_RO:
		if (prot & UVFIO__DMA_PROT_WRITE)
			return -EACCES;
		return off + size > MEMA_SIZE ? -ERANGE : 0;
	case K_MEMA:
		return off + size > MEMA_SIZE ? -ERANGE : 0;
	case K_MEMB:
		return off + size > MEMB_SIZE ? -ERANGE : 0;
	case K_ZERO:
		/* A shared /dev/zero mapping is shmem of its own size: past it, SIGBUS. */
		return off ? -ERANGE : 0;
	default:
		return 0;
	}
}

static void do_map(struct uvfio__dma_table *t, struct fz *f)
{
	uint16_t a = fz_u16(f), d = fz_u16(f);
	uint8_t b = fz_u8(f), c = fz_u8(f), e = fz_u8(f);
	enum kind k = (enum kind)((c >> 3) & 7);
	uint64_t iova = (uint64_t)(a % 512) * PG, size = (uint64_t)(b & 0x3f) * PG;
	uint64_t off = k == K_NONE ? 0 : (uint64_t)(d % 80) * PG;
	uint32_t prot = (c & 3) | ((c & 4) ? 4 : 0);
	int fd, in, ret, want;

	if (c & 0x80) /* the top of the address space */
		iova = 0 - ((uint64_t)(a & 0xff) + 1) * PG;
	if ((b & 0x40) && k == K_NONE) /* big, only without memory behind it */
		size = (uint64_t)(b & 0x3f) << 30;
	if ((b & 0xc0) == 0xc0 && k == K_NONE)
		size = 0 - (uint64_t)(e + 1) * PG;
	if (e & 0x80) /* offsets mmap can't take */
		off = k == K_NONE ? (uint64_t)d * PG : (INT64_MAX & ~(PG - 1)) - (uint64_t)(d & 0xf) * PG;
	if (c & 0x40) { /* break an alignment */
		if (d & 1)
			iova += 1 + (e & 0x7f);
		else if (d & 2)
			size += 1 + (e & 0x7f);
		else
			off += 1 + (e & 0x7f);
	}
	want = expect_map(iova, size, prot, k, off);
	fd = in = k == K_NONE ? -1 : new_fd(k);
	FZ_CHECK(k == K_NONE || fd >= 0, "cannot make an fd of kind %d", k);
	ret = uvfio__dmat_map(t, iova, size, prot, &fd, off);
	if (k == K_ZERO && want == 0 && (ret == -ENOMEM || ret == -ENODEV))
		want = ret; /* the kernel may refuse to map /dev/zero there */
	FZ_CHECK(ret == want,
		 "map [0x%llx, +0x%llx) prot %u kind %d offset 0x%llx: %d, the reference says %d",
		 (unsigned long long)iova, (unsigned long long)size, prot, k,
		 (unsigned long long)off, ret, want);
	if (ret) {
		/* Refused: the fd is still ours, open. */
		FZ_CHECK(fd == in, "a failed map changed the fd");
		FZ_CHECK(fd < 0 || fcntl(fd, F_GETFD) >= 0, "a failed map closed the fd");
		if (fd >= 0)
			close(fd);
		return;
	}
	FZ_CHECK(fd == -1, "a successful map left the fd with the caller");
	refs[nrefs++] = (struct ref){ iova, size, off, prot, k };
}

static int find_ref(uint64_t x)
{
	for (unsigned i = 0; i < nrefs; i++)
		if (x >= refs[i].iova && x - refs[i].iova < refs[i].size)
			return (int)i;
	return -1;
}

/* A translation must name the reference's interval and point at the right byte. */
static void check_range(const struct uvfio__dma_range *r, uint64_t x, int i)
{
	const struct ref *e = &refs[i];
	bool fd = e->kind != K_NONE;
	uint64_t word, fo;

	FZ_CHECK(r->iova == e->iova && r->size == e->size && r->prot == e->prot && r->has_fd == fd,
		 "lookup 0x%llx: [0x%llx, +0x%llx) prot %u fd %d, the reference has [0x%llx, +0x%llx) prot %u fd %d",
		 (unsigned long long)x, (unsigned long long)r->iova, (unsigned long long)r->size,
		 r->prot, r->has_fd, (unsigned long long)e->iova, (unsigned long long)e->size,
		 e->prot, fd);
	FZ_CHECK(!r->host == !fd, "host pointer %p for a mapping %s an fd", (void *)r->host,
		 fd ? "with" : "without");
	if (!fd)
		return;
	fo = e->offset + ((x - e->iova) & ~7ull);
	memcpy(&word, r->host + ((x - e->iova) & ~7ull), sizeof(word));
	if (e->kind == K_ZERO)
		FZ_CHECK(word == 0, "/dev/zero reads 0x%llx", (unsigned long long)word);
	else
		FZ_CHECK(word == fz_pattern(e->kind == K_MEMB ? TAG_B : TAG_A, fo),
			 "0x%llx translates to file offset holding 0x%llx, wanted offset 0x%llx",
			 (unsigned long long)x, (unsigned long long)word, (unsigned long long)fo);
}

/* An address worth asking about: inside a mapping, next to one, or anywhere. */
static uint64_t pick_addr(struct fz *f)
{
	uint8_t how = fz_u8(f);
	uint32_t v = fz_u32(f);

	if (nrefs && how < 0xa0) {
		const struct ref *e = &refs[v % nrefs];
		uint64_t span = e->size + 2 * PG; /* wraps for a mapping of nearly 2^64 bytes */
		uint64_t delta = span > e->size ? (v >> 9) % span : (uint64_t)v << 12;

		return e->iova - PG + delta;
	}
	if (how >= 0xf0)
		return UINT64_MAX - v % (4 * PG);
	return (uint64_t)v % (600 * PG);
}

static void do_lookup(struct uvfio__dma_table *t, struct fz *f)
{
	struct uvfio__dma_range r;
	uint64_t x = pick_addr(f);
	int i = find_ref(x), ret = uvfio__dmat_lookup(t, x, &r);

	FZ_CHECK(ret == (i < 0 ? -EFAULT : 0), "lookup 0x%llx: %d, the reference has %d",
		 (unsigned long long)x, ret, i);
	if (!ret)
		check_range(&r, x, i);
}

static void do_lookup_many(struct uvfio__dma_table *t, struct fz *f)
{
	uint64_t xs[40];
	struct uvfio__dma_range out[40];
	unsigned n = 1 + fz_u8(f) % 40;
	size_t got, want = n;

	for (unsigned i = 0; i < n; i++)
		xs[i] = pick_addr(f);
	for (unsigned i = 0; i < n; i++) {
		if (find_ref(xs[i]) < 0) {
			want = i;
			break;
		}
	}
	got = uvfio__dmat_lookup_many(t, xs, n, out);
	FZ_CHECK(got == want, "lookup_many: %zu translated, the reference says %zu", got, want);
	for (size_t i = 0; i < got; i++)
		check_range(&out[i], xs[i], find_ref(xs[i]));
}

static void do_unmap(struct uvfio__dma_table *t, struct fz *f, bool exact_only)
{
	uint8_t how = fz_u8(f);
	uint32_t v = fz_u32(f);
	uint64_t iova, size;
	struct uvfio__dma_range r;
	int i = -1, ret;

	if (nrefs && how < 0xc0) {
		const struct ref *e = &refs[v % nrefs];

		iova = e->iova;
		size = e->size;
		if (how & 1) /* almost: a page short, long, or shifted */
			size += (how & 2) ? PG : -PG;
		else if (how & 4)
			iova += PG;
	} else {
		iova = (uint64_t)(v % 600) * PG;
		size = (uint64_t)(how & 0xf) * PG;
		if (how >= 0xf0)
			size = 0 - iova; /* wraps */
	}
	for (unsigned k = 0; k < nrefs; k++)
		if (refs[k].iova == iova && refs[k].size == size)
			i = (int)k;
	ret = uvfio__dmat_find_exact(t, iova, size, &r);
	FZ_CHECK(ret == (i < 0 ? -ENOENT : 0), "find_exact [0x%llx, +0x%llx): %d, reference %d",
		 (unsigned long long)iova, (unsigned long long)size, ret, i);
	if (!ret)
		check_range(&r, iova, i);
	if (exact_only)
		return;
	ret = uvfio__dmat_unmap(t, iova, size);
	FZ_CHECK(ret == (i < 0 ? -ENOENT : 0), "unmap [0x%llx, +0x%llx): %d, reference %d",
		 (unsigned long long)iova, (unsigned long long)size, ret, i);
	if (!ret)
		refs[i] = refs[--nrefs];
}

struct walk {
	uint64_t last_end;
	unsigned n;
	bool first;
};

static int visit(void *priv, const struct uvfio__dma_range *r)
{
	struct walk *w = priv;
	int i = find_ref(r->iova);

	FZ_CHECK(i >= 0, "foreach visits [0x%llx, +0x%llx), which the reference lacks",
		 (unsigned long long)r->iova, (unsigned long long)r->size);
	check_range(r, r->iova, i);
	FZ_CHECK(w->first || r->iova >= w->last_end, "foreach out of order");
	w->first = false;
	w->last_end = r->iova + r->size;
	w->n++;
	return 0;
}

static void do_walk(struct uvfio__dma_table *t)
{
	struct walk w = { .first = true };
	unsigned fd_maps = 0;

	FZ_CHECK(!uvfio__dmat_foreach(t, visit, &w), "foreach");
	FZ_CHECK(w.n == nrefs && uvfio__dmat_count(t) == nrefs, "%u visited, count %llu, reference %u",
		 w.n, (unsigned long long)uvfio__dmat_count(t), nrefs);
	for (unsigned i = 0; i < nrefs; i++)
		fd_maps += refs[i].kind != K_NONE;
	FZ_CHECK(uvfio__dmat_file_maps(t) <= fd_maps && !uvfio__dmat_file_maps(t) == !fd_maps,
		 "%u file mappings for %u fd-backed entries", uvfio__dmat_file_maps(t), fd_maps);
	FZ_CHECK(uvfio__dmat_mem_bytes(t) > 0, "mem_bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uvfio__dma_table *t;
	int base = fz_fd_count(), ret;
	unsigned ops = 0;
	struct fz f;
	uint8_t b;

	fz_init(&f, data, size);
	b = fz_u8(&f);
	max_maps = (b & 0x80) ? 1u << 20 : 1 + b % 64;
	nrefs = 0;
	mema = fz_pattern_memfd("dmat-a", TAG_A, MEMA_SIZE);
	memb = fz_pattern_memfd("dmat-b", TAG_B, MEMB_SIZE);
	FZ_CHECK(mema >= 0 && memb >= 0, "memfds");
	ret = uvfio__dmat_create(max_maps, &t);
	FZ_CHECK(!ret, "create: %d", ret);
	FZ_CHECK(uvfio__dmat_create(0, &(struct uvfio__dma_table *){ NULL }) == -EINVAL,
		 "a table of 0 mappings");

	while (!fz_empty(&f) && ops++ < 400) {
		uint8_t op = fz_u8(&f);

		switch (op % 11) {
		case 0: case 1: case 2: case 3:
			do_map(t, &f);
			break;
		case 4:
			do_unmap(t, &f, false);
			break;
		case 5:
			do_unmap(t, &f, true);
			break;
		case 6:
			if (op & 0x80) {
				uvfio__dmat_unmap_all(t);
				nrefs = 0;
			}
			break;
		case 7:
		case 8:
			do_lookup(t, &f);
			break;
		case 9:
			do_lookup_many(t, &f);
			break;
		default:
			if (op & 0x80) {
				max_maps = 1 + fz_u8(&f) % 64;
				uvfio__dmat_set_max(t, max_maps);
			}
			do_walk(t);
			break;
		}
		FZ_CHECK(nrefs < MAX_REF, "reference full");
	}
	do_walk(t);
	uvfio__dmat_destroy(t);
	close(mema);
	close(memb);
	FZ_CHECK(fz_fd_count() == base, "%d fds open after the input, %d before", fz_fd_count(), base);
	FZ_CHECK(!fz_maps_count("memfd:fuzz-dmat"), "a memfd is still mapped after destroy");
	return 0;
}
