// SPDX-License-Identifier: BSD-3-Clause
/*
 * The DMA map table: Type1 rules over a B+tree of 24-byte entries, and the
 * file mappings that fd-backed entries point into.
 *
 * Model: an entry is {iova | prot, iova + size, slot << 40 | page offset in
 * the slot}. A slot is one mmap: normally of a whole regular file, found
 * again by st_dev/st_ino and shared by every entry on that file, so a million
 * mappings of one memfd cost one VMA; otherwise (device files, files too big
 * to map whole) a window of exactly the range asked for. Slots are counted by
 * their entries and unmapped with the last one. Slot 0 means "no fd".
 *
 * Hazard: every argument comes from the peer. Ranges must not wrap; fds may
 * be pipes, sockets, O_PATH, read-only, or shorter than the range they claim
 * to back, and a device model that dereferences a pointer past a regular
 * file's end gets SIGBUS, so ranges are checked against st_size at map time
 * (and device files, which have no size, are probed: probe_window()).
 * A client that shrinks a file after mapping it can still cause SIGBUS;
 * only memfd seals (F_SEAL_SHRINK) rule that out, and sealing is the
 * client's choice (libvfio-user has the same exposure).
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "util/btree.h"
#include "emu/dmatable.h"
#include "util/util.h"

#define PAGE_MASK  ((uint64_t)UVFIO__DMA_PAGE - 1)
#define PROT_ALL   (UVFIO__DMA_PROT_READ | UVFIO__DMA_PROT_WRITE)
#define SLOT_SHIFT 40
#define SLOT_MAX   ((1u << (64 - SLOT_SHIFT)) - 1)
#define REL_MASK   ((1ull << SLOT_SHIFT) - 1)
/*
 * Entries keep the offset into their slot as a 40-bit page number, so a
 * whole-file slot serves ranges ending below 4 PiB; a range further into a
 * file gets a window slot of its own, where the offset is below one host
 * page. Nothing is refused for the packing; offsets are refused (-EINVAL)
 * only when offset + size does not fit off_t, which mmap() could not take.
 */
#define REL_LIMIT (1ull << (SLOT_SHIFT + 12))

_Static_assert(UVFIO__DMA_PAGE == UVFIO__BT_TAG_MASK + 1, "key tag bits are the page offset");

struct file_slot {
	uint8_t *base;	   /* the mmap; NULL while the slot is free */
	size_t len;	   /* bytes mapped */
	uint64_t dev, ino; /* the file of a whole-file slot */
	uint64_t refs;	   /* entries pointing into it */
	uint32_t next;	   /* hash chain of whole-file slots, or free list; 0 ends */
	bool writable;	   /* mapped PROT_WRITE */
	bool whole;	   /* maps the file from offset 0 and is in the hash */
};

/*
 * A direct-mapped translation cache in front of the tree, indexed by IOVA
 * page: a model's working set (rings, buffers) hits here in a few ns
 * whatever the number of mappings. An unmap flushes it all by bumping the
 * generation, so a cached entry can never outlive its mapping.
 */
#define TLB_BITS 13
#define TLB_SIZE (1u << TLB_BITS)

struct tlb_ent {
	struct uvfio__dma_range r;
	uint64_t gen; /* valid while equal to the table's gen */
};

struct uvfio__dma_table {
	struct tlb_ent *tlb;     /* TLB_SIZE entries */
	uint64_t gen;            /* starts at 1; zeroed entries are invalid */
	struct uvfio__btree bt;
	struct file_slot *slots; /* indexed by slot id; [0] is never used */
	uint32_t nslots;	 /* entries allocated in slots */
	uint32_t free_slot;	 /* first free slot id, 0: none */
	uint32_t *bucket;	 /* heads of whole-file slot chains, 0: empty */
	uint32_t nbuckets;	 /* a power of two, or 0 */
	uint32_t nwhole;	 /* whole-file slots in the hash */
	unsigned nfiles;	 /* live slots, i.e. mmaps */
	uint64_t max_maps;
	size_t host_page; /* bytes */
};

int uvfio__dmat_create(uint64_t max_maps, struct uvfio__dma_table **out)
{
	struct uvfio__dma_table *t;
	long pg = sysconf(_SC_PAGESIZE);

	if (!max_maps)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->tlb = calloc(TLB_SIZE, sizeof(*t->tlb));
	if (!t->tlb) {
		free(t);
		return -ENOMEM;
	}
	t->gen = 1;
	uvfio__bt_init(&t->bt);
	t->max_maps = max_maps;
	t->host_page = pg >= (long)UVFIO__DMA_PAGE ? (size_t)pg : UVFIO__DMA_PAGE;
	*out = t;
	return 0;
}

void uvfio__dmat_unmap_all(struct uvfio__dma_table *t)
{
	uvfio__bt_clear(&t->bt);
	for (uint32_t i = 1; i < t->nslots; i++)
		if (t->slots[i].base)
			munmap(t->slots[i].base, t->slots[i].len);
	free(t->slots);
	free(t->bucket);
	t->slots = NULL;
	t->bucket = NULL;
	t->nslots = t->free_slot = t->nbuckets = t->nwhole = 0;
	t->nfiles = 0;
	t->gen++;
}

void uvfio__dmat_destroy(struct uvfio__dma_table *t)
{
	if (!t)
		return;
	uvfio__dmat_unmap_all(t);
	free(t->tlb);
	free(t);
}

void uvfio__dmat_set_max(struct uvfio__dma_table *t, uint64_t max_maps)
{
	t->max_maps = max_maps;
}

static uint32_t hash_file(const struct uvfio__dma_table *t, uint64_t dev, uint64_t ino)
{
	uint64_t h = (dev * 0x9e3779b97f4a7c15ull ^ ino) * 0xff51afd7ed558ccdull;

	return (uint32_t)(h >> 32) & (t->nbuckets - 1);
}

static void hash_add(struct uvfio__dma_table *t, uint32_t id)
{
	struct file_slot *s = &t->slots[id];
	uint32_t *head = &t->bucket[hash_file(t, s->dev, s->ino)];

	s->next = *head;
	*head = id;
}

static void hash_del(struct uvfio__dma_table *t, uint32_t id)
{
	struct file_slot *s = &t->slots[id];
	uint32_t *p = &t->bucket[hash_file(t, s->dev, s->ino)];

	while (*p != id)
		p = &t->slots[*p].next;
	*p = s->next;
}

/* Room for one more whole-file slot in the hash, at load factor <= 1. */
static int hash_reserve(struct uvfio__dma_table *t)
{
	uint32_t n = t->nbuckets ? t->nbuckets * 2 : 16;
	uint32_t *old = t->bucket;

	if (t->nwhole < t->nbuckets)
		return 0;
	t->bucket = calloc(n, sizeof(*t->bucket));
	if (!t->bucket) {
		t->bucket = old;
		return -ENOMEM;
	}
	free(old);
	t->nbuckets = n;
	for (uint32_t i = 1; i < t->nslots; i++)
		if (t->slots[i].base && t->slots[i].whole)
			hash_add(t, i);
	return 0;
}

/* A free slot id, taken off the free list; 0 on failure (*err set). */
static uint32_t slot_get(struct uvfio__dma_table *t, int *err)
{
	uint32_t id, n;
	struct file_slot *s;

	if (!t->free_slot) {
		if (t->nslots > (SLOT_MAX + 1) / 2) {
			*err = -ENOSPC;
			return 0;
		}
		n = t->nslots ? t->nslots * 2 : 8;
		s = realloc(t->slots, n * sizeof(*s));
		if (!s) {
			*err = -ENOMEM;
			return 0;
		}
		memset(&s[t->nslots], 0, (n - t->nslots) * sizeof(*s));
		for (uint32_t i = n - 1; i >= MAX(t->nslots, 1u); i--) {
			s[i].next = t->free_slot;
			t->free_slot = i;
		}
		t->slots = s;
		t->nslots = n;
	}
	id = t->free_slot;
	t->free_slot = t->slots[id].next;
	return id;
}

static void slot_put_back(struct uvfio__dma_table *t, uint32_t id)
{
	t->slots[id].base = NULL;
	t->slots[id].next = t->free_slot;
	t->free_slot = id;
}

static void slot_unref(struct uvfio__dma_table *t, uint32_t id)
{
	struct file_slot *s;

	if (!id)
		return;
	s = &t->slots[id];
	if (--s->refs)
		return;
	munmap(s->base, s->len);
	if (s->whole) {
		hash_del(t, id);
		t->nwhole--;
	}
	t->nfiles--;
	slot_put_back(t, id);
}

static int mmap_err(int err)
{
	switch (err) {
	case ENOMEM:
	case EAGAIN:
		return -ENOMEM;
	case EACCES:
	case EPERM:
		return -EACCES;
	default:
		return -ENODEV; /* ENODEV, EINVAL, EBADF: this fd can't be mapped */
	}
}

/*
 * Map @len bytes at @off read-write if the fd allows it, so later WRITE
 * mappings can share the slot. A write-sealed memfd refuses shared writable
 * maps; when only READ was asked, fall back to a read-only slot.
 */
static int map_file(struct uvfio__dma_table *t, int fd, off_t off, size_t len, bool *rw,
		    bool want_w, uint32_t *id)
{
	int err = 0;
	void *p;

	*id = slot_get(t, &err);
	if (!*id)
		return err;
	p = mmap(NULL, len, PROT_READ | (*rw ? PROT_WRITE : 0), MAP_SHARED, fd, off);
	if (p == MAP_FAILED && *rw && !want_w && (errno == EPERM || errno == EACCES)) {
		*rw = false;
		p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
	}
	if (p == MAP_FAILED) {
		err = mmap_err(errno);
		slot_put_back(t, *id);
		return err;
	}
	t->slots[*id] = (struct file_slot){ .base = p, .len = len, .refs = 0, .writable = *rw };
	t->nfiles++;
	return 0;
}

/*
 * Just [offset, offset + size), from the host page that holds offset (hosts
 * with pages above UVFIO__DMA_PAGE can't mmap at any 4 KiB offset).
 */
static int map_window(struct uvfio__dma_table *t, int fd, uint64_t offset, uint64_t size, bool rw,
		      bool want_w, uint32_t *id, uint64_t *rel)
{
	uint64_t start = offset & ~((uint64_t)t->host_page - 1);

	if (size > SIZE_MAX - (offset - start))
		return -ENOMEM;
	*rel = offset - start;
	return map_file(t, fd, (off_t)start, (size_t)(size + *rel), &rw, want_w, id);
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14 */
#endif

/*
 * A device file has no st_size to check a range against, and its mapping
 * may fault where the driver has nothing behind it: a shared mapping of
 * /dev/zero at an offset is a shmem object the size of the mapping, so its
 * last pages raise SIGBUS in whoever touches them first, the device model.
 * Fault in the window's first and last page without a signal
 * (MADV_POPULATE_READ) and refuse the range (-ERANGE) if either fails.
 * Mappings the kernel won't populate (VM_PFNMAP, or a kernel before 5.14:
 * EINVAL) are taken on trust. Caller has just mapped slot @id (refs 0);
 * on failure it is unmapped and free again.
 */
static int probe_window(struct uvfio__dma_table *t, uint32_t id)
{
	struct file_slot *s = &t->slots[id];
	uint8_t *last = s->base + ((s->len - 1) & ~(t->host_page - 1));
	int ret = 0;

	if (!madvise(s->base, t->host_page, MADV_POPULATE_READ) &&
	    !madvise(last, t->host_page, MADV_POPULATE_READ))
		return 0;
	if (errno == EFAULT || errno == EHWPOISON)
		ret = -ERANGE;
	else if (errno == ENOMEM)
		ret = -ENOMEM;
	if (!ret)
		return 0;
	munmap(s->base, s->len);
	t->nfiles--;
	slot_put_back(t, id);
	return ret;
}

static uint32_t find_whole(const struct uvfio__dma_table *t, const struct stat *st,
			   uint64_t need_end, bool want_w)
{
	uint32_t id = t->nbuckets ? t->bucket[hash_file(t, st->st_dev, st->st_ino)] : 0;

	for (; id; id = t->slots[id].next) {
		const struct file_slot *s = &t->slots[id];

		if (s->dev == st->st_dev && s->ino == st->st_ino && s->len >= need_end &&
		    (s->writable || !want_w))
			return id;
	}
	return 0;
}

/*
 * The slot for [offset, offset + size) of @fd, reused or new (refs 0: the
 * caller counts its entry). The fd is only read from; it stays open.
 */
static int get_slot(struct uvfio__dma_table *t, int fd, uint64_t offset, uint64_t size,
		    uint32_t prot, uint32_t *id, uint64_t *rel)
{
	bool want_w = prot & UVFIO__DMA_PROT_WRITE, rw;
	uint64_t end = offset + size; /* checked by the caller */
	struct stat st;
	int fl, ret;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (fl & O_PATH)
		return -ENODEV;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return -ENODEV;
	/* mmap needs read access even for a write-only mapping. */
	if ((fl & O_ACCMODE) == O_WRONLY)
		return -EACCES;
	rw = (fl & O_ACCMODE) == O_RDWR;
	if (want_w && !rw)
		return -EACCES;
	if (!S_ISREG(st.st_mode)) {
		ret = map_window(t, fd, offset, size, rw, want_w, id, rel);
		return ret ? ret : probe_window(t, *id);
	}

	if (st.st_size < 0 || end > (uint64_t)st.st_size)
		return -ERANGE;
	if (end <= REL_LIMIT) {
		*rel = offset;
		*id = find_whole(t, &st, end, want_w);
		if (*id)
			return 0;
		ret = hash_reserve(t);
		if (ret)
			return ret;
		/*
		 * A huge file may not fit the address space whole (ENOMEM, or
		 * EINVAL from some mmap implementations): then the window. Any
		 * other failure repeats there and is reported from there.
		 */
		if ((uint64_t)st.st_size <= SIZE_MAX &&
		    !map_file(t, fd, 0, (size_t)st.st_size, &rw, want_w, id)) {
			t->slots[*id].whole = true;
			t->slots[*id].dev = st.st_dev;
			t->slots[*id].ino = st.st_ino;
			hash_add(t, *id);
			t->nwhole++;
			return 0;
		}
	}
	return map_window(t, fd, offset, size, rw, want_w, id, rel);
}

/*
 * Checks run in the kernel's Type1 order: arguments (-EINVAL), overlap
 * (-EEXIST), the limit (-ENOSPC), then the fd. Nothing fails after the slot
 * is taken, so the fd is closed only on success.
 */
int uvfio__dmat_map(struct uvfio__dma_table *t, uint64_t iova, uint64_t size, uint32_t prot,
		    int *fd, uint64_t offset)
{
	int in_fd = fd ? *fd : -1, ret;
	uint64_t end, off_end, rel = 0;
	struct uvfio__bt_cursor c;
	struct uvfio__bt_ent e;
	uint32_t id = 0;

	if (!prot || (prot & ~PROT_ALL) || !size || ((iova | size | offset) & PAGE_MASK))
		return -EINVAL;
	if (!range_ok(iova, size, &end) || !range_ok(offset, size, &off_end))
		return -EINVAL;
	if (in_fd < 0 && offset)
		return -EINVAL;
	if (in_fd >= 0 && off_end > INT64_MAX) /* mmap() takes an off_t */
		return -EINVAL;

	ret = uvfio__bt_prepare(&t->bt, iova, end, &c);
	if (ret)
		return ret;
	if (t->bt.count >= t->max_maps) {
		ret = -ENOSPC;
		goto out_abort;
	}
	if (in_fd >= 0) {
		ret = get_slot(t, in_fd, offset, size, prot, &id, &rel);
		if (ret)
			goto out_abort;
	}
	e.key = iova | prot;
	e.end = end;
	e.val = (uint64_t)id << SLOT_SHIFT | rel / UVFIO__DMA_PAGE;
	uvfio__bt_commit(&t->bt, &c, &e);
	if (id) {
		t->slots[id].refs++;
		close_fd(fd);
	}
	return 0;

out_abort:
	uvfio__bt_abort(&t->bt, &c);
	return ret;
}

static void to_range(const struct uvfio__dma_table *t, const struct uvfio__bt_ent *e,
		     struct uvfio__dma_range *r)
{
	uint32_t id = (uint32_t)(e->val >> SLOT_SHIFT);

	r->iova = e->key & ~PAGE_MASK;
	r->size = e->end - r->iova;
	r->prot = (uint32_t)(e->key & PAGE_MASK);
	r->has_fd = id != 0;
	r->host = NULL;
	if (id)
		r->host = t->slots[id].base + (e->val & REL_MASK) * UVFIO__DMA_PAGE;
}

int uvfio__dmat_lookup(struct uvfio__dma_table *t, uint64_t iova, struct uvfio__dma_range *out)
{
	struct tlb_ent *c = &t->tlb[(iova / UVFIO__DMA_PAGE) & (TLB_SIZE - 1)];
	struct uvfio__bt_ent e;

	if (likely(c->gen == t->gen && iova - c->r.iova < c->r.size)) {
		*out = c->r;
		return 0;
	}
	if (unlikely(iova > UVFIO__BT_ADDR_MAX) || !uvfio__bt_find_near(&t->bt, iova, &e))
		return -EFAULT;
	to_range(t, &e, &c->r);
	c->gen = t->gen;
	*out = c->r;
	return 0;
}

size_t uvfio__dmat_lookup_many(struct uvfio__dma_table *t, const uint64_t *iova, size_t n,
			       struct uvfio__dma_range *out)
{
	for (size_t base = 0; base < n; base += UVFIO__BT_BATCH) {
		unsigned m = (unsigned)MIN((size_t)UVFIO__BT_BATCH, n - base), k = 0;
		uint64_t keys[UVFIO__BT_BATCH];
		unsigned pos[UVFIO__BT_BATCH];
		struct uvfio__bt_ent e[UVFIO__BT_BATCH];
		bool found[UVFIO__BT_BATCH];

		for (unsigned i = 0; i < m; i++) {
			uint64_t a = iova[base + i];
			struct tlb_ent *c = &t->tlb[(a / UVFIO__DMA_PAGE) & (TLB_SIZE - 1)];

			if (c->gen == t->gen && a - c->r.iova < c->r.size) {
				out[base + i] = c->r;
				continue;
			}
			if (a > UVFIO__BT_ADDR_MAX) {
				m = i; /* everything before it is translated or queued */
				break;
			}
			keys[k] = a;
			pos[k++] = i;
		}
		uvfio__bt_find_batch(&t->bt, keys, k, e, found);
		for (unsigned j = 0; j < k; j++) {
			struct tlb_ent *c;

			if (!found[j])
				return base + pos[j];
			c = &t->tlb[(keys[j] / UVFIO__DMA_PAGE) & (TLB_SIZE - 1)];
			to_range(t, &e[j], &c->r);
			c->gen = t->gen;
			out[base + pos[j]] = c->r;
		}
		if (m < MIN((size_t)UVFIO__BT_BATCH, n - base))
			return base + m;
	}
	return n;
}

int uvfio__dmat_find_exact(const struct uvfio__dma_table *t, uint64_t iova, uint64_t size,
			   struct uvfio__dma_range *out)
{
	struct uvfio__bt_ent e;
	uint64_t end;

	if (!size || !range_ok(iova, size, &end) || iova > UVFIO__BT_ADDR_MAX ||
	    !uvfio__bt_find(&t->bt, iova, &e) || (e.key & ~PAGE_MASK) != iova || e.end != end)
		return -ENOENT;
	to_range(t, &e, out);
	return 0;
}

int uvfio__dmat_unmap(struct uvfio__dma_table *t, uint64_t iova, uint64_t size)
{
	struct uvfio__bt_ent e;
	uint64_t end;
	int ret;

	if (!size || !range_ok(iova, size, &end))
		return -ENOENT;
	ret = uvfio__bt_remove(&t->bt, iova, end, &e);
	if (ret)
		return ret;
	/* Cached translations may point into a slot that is about to go. */
	t->gen++;
	slot_unref(t, (uint32_t)(e.val >> SLOT_SHIFT));
	return 0;
}

struct visit {
	const struct uvfio__dma_table *t;
	int (*fn)(void *priv, const struct uvfio__dma_range *r);
	void *priv;
};

static int visit_one(void *priv, const struct uvfio__bt_ent *e)
{
	struct visit *v = priv;
	struct uvfio__dma_range r;

	to_range(v->t, e, &r);
	return v->fn(v->priv, &r);
}

int uvfio__dmat_foreach(const struct uvfio__dma_table *t,
			int (*fn)(void *priv, const struct uvfio__dma_range *r), void *priv)
{
	struct visit v = { t, fn, priv };

	return uvfio__bt_foreach(&t->bt, visit_one, &v);
}

uint64_t uvfio__dmat_count(const struct uvfio__dma_table *t)
{
	return t->bt.count;
}

size_t uvfio__dmat_mem_bytes(const struct uvfio__dma_table *t)
{
	return sizeof(*t) + TLB_SIZE * sizeof(t->tlb[0]) + t->bt.bytes +
	       (size_t)t->nslots * sizeof(t->slots[0]) +
	       (size_t)t->nbuckets * sizeof(t->bucket[0]);
}

unsigned uvfio__dmat_file_maps(const struct uvfio__dma_table *t)
{
	return t->nfiles;
}
