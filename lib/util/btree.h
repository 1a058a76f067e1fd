/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A B+tree of disjoint, page-aligned address ranges: the index under the DMA
 * map table. Entries are 24 bytes ({start | 12-bit tag, end, value}) and
 * leaves keep their keys in an array of their own, so a search reads a few
 * adjacent cache lines of keys and then one line of values.
 *
 * The separator invariant is what makes point lookups one plain descent:
 * every entry under child[i] of an inner node satisfies
 * key[i - 1] <= start and end <= key[i]. Insertion raises a separator to the
 * new entry's end when needed (legal because the next entry starts at or
 * after that end), so the one range that can contain an address always lies
 * in the leaf that the address's own descent reaches; no sibling walk, no
 * parent pointers.
 *
 * Every node holds at least half its capacity, except the root and the
 * nodes on the tree's left and right edges: appending at either edge of the
 * whole tree splits off a nearly empty node and leaves the old one full, so
 * ascending or descending insertion (the common case) packs nodes
 * completely; only one node per level can be sparse that way. Unused key
 * slots hold UINT64_MAX so searches run a fixed, branch-free sequence.
 * Nothing is allocated once an insertion has been prepared, so the caller can
 * acquire other resources in between and never has to undo a half insert.
 */
#ifndef UVFIO_UTIL_BTREE_H
#define UVFIO_UTIL_BTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lookups must not pay for calls: the whole descent inlines into the caller. */
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define UVFIO__BT_LEAF_CAP   32 /* entries per leaf; a multiple of SECTION */
#define UVFIO__BT_FANOUT     64 /* children per inner node; a multiple of SECTION */
#define UVFIO__BT_SECTION    8  /* keys compared together in a search round */
#define UVFIO__BT_MAX_HEIGHT 16 /* inner levels; 16^16 leaves is beyond any address space */
#define UVFIO__BT_TAG_MASK   0xfffull /* low key bits that carry a tag, not an address */
/* Searches need x | TAG_MASK below the UINT64_MAX sentinel. */
#define UVFIO__BT_ADDR_MAX   (UINT64_MAX - UVFIO__BT_TAG_MASK - 1)

/* An entry as passed in and out of the tree. */
struct uvfio__bt_ent {
	uint64_t key; /* start (aligned to TAG_MASK + 1) | tag */
	uint64_t end; /* start + size; greater than start, never wraps */
	uint64_t val; /* opaque to the tree */
};

struct uvfio__bt_leaf {
	uint64_t key[UVFIO__BT_LEAF_CAP]; /* sorted; UINT64_MAX from n on */
	struct {
		uint64_t end;
		uint64_t val;
	} v[UVFIO__BT_LEAF_CAP];
	uint32_t n; /* entries in use */
};

struct uvfio__bt_inner {
	/* key[i] separates child[i] from child[i + 1]; UINT64_MAX from n on */
	uint64_t key[UVFIO__BT_FANOUT];
	void *child[UVFIO__BT_FANOUT];
	uint32_t n; /* keys in use; n + 1 children */
};

struct uvfio__btree {
	void *root;      /* a leaf when height is 0; NULL when empty */
	unsigned height; /* inner levels above the leaves */
	uint64_t count;  /* entries */
	size_t bytes;    /* heap held by nodes */
	const struct uvfio__bt_leaf *finger; /* leaf of the last find_near, or NULL */
};

/*
 * Where a prepared insertion goes, and the nodes it will need: filled by
 * uvfio__bt_prepare(), consumed by uvfio__bt_commit() or uvfio__bt_abort().
 * Valid only while the tree is not changed in between.
 */
struct uvfio__bt_cursor {
	void *node[UVFIO__BT_MAX_HEIGHT + 1]; /* root first, leaf last */
	unsigned idx[UVFIO__BT_MAX_HEIGHT + 1]; /* child taken; in the leaf, the slot */
	/* bit d: idx[0..d] all 0 (ledge) or all n (redge): an edge of the tree */
	uint32_t ledge, redge;
	struct uvfio__bt_leaf *spare_leaf;
	struct uvfio__bt_inner *spare_inner[UVFIO__BT_MAX_HEIGHT + 1];
	unsigned nspare_inner;
};

/*
 * Number of keys <= x among @cap sorted keys padded with UINT64_MAX, for
 * x < UINT64_MAX: compare the last key of every section, then each key of
 * the one section that can straddle x. That is two rounds of independent
 * loads and compares (about 15 for 64 keys) where a binary search would
 * chain six dependent loads, and it has no branches, so its cost does not
 * depend on the data and a random workload never mispredicts.
 */
static __always_inline unsigned uvfio__bt_rank(const uint64_t *k, unsigned cap, uint64_t x)
{
	unsigned q = 0, c = 0;

#pragma GCC unroll 8
	for (unsigned j = UVFIO__BT_SECTION - 1; j < cap - 1; j += UVFIO__BT_SECTION)
		q += k[j] <= x;
	k += q * UVFIO__BT_SECTION;
#pragma GCC unroll 8
	for (unsigned j = 0; j < UVFIO__BT_SECTION; j++)
		c += k[j] <= x;
	return q * UVFIO__BT_SECTION + c;
}

/*
 * The leaf is rarely cached when lookups are random: ask for all its key
 * lines at once, and for the value line that x would hit if the leaf's
 * entries were evenly spaced (they are when memory is mapped page by page),
 * so the search usually costs one memory latency, not two. A wrong guess
 * costs one line of bandwidth. @in and @i locate @l in its parent, if any.
 */
static __always_inline void uvfio__bt_prefetch_leaf(const struct uvfio__bt_leaf *l,
						    const struct uvfio__bt_inner *in, unsigned i,
						    uint64_t x)
{
	for (size_t off = 0; off < sizeof(l->key); off += 64)
		__builtin_prefetch((const char *)l->key + off);
	if (in && i && i < in->n) {
		uint64_t lo = in->key[i - 1], per = (in->key[i] - lo) / UVFIO__BT_LEAF_CAP;
		uint64_t g = per ? (x - lo) / per : 0;

		__builtin_prefetch(&l->v[g < UVFIO__BT_LEAF_CAP ? g : UVFIO__BT_LEAF_CAP - 1]);
	}
}

/* The leaf whose key range holds @x (at most UVFIO__BT_ADDR_MAX), or NULL. */
static __always_inline const struct uvfio__bt_leaf *
uvfio__bt_leaf_for(const struct uvfio__btree *bt, uint64_t x)
{
	const void *node = bt->root;
	const struct uvfio__bt_inner *in = NULL;
	const struct uvfio__bt_leaf *l;
	unsigned i = 0;

	for (unsigned h = bt->height; h; h--) {
		in = node;
		i = uvfio__bt_rank(in->key, UVFIO__BT_FANOUT, x);
		node = in->child[i];
	}
	l = node;
	if (l)
		uvfio__bt_prefetch_leaf(l, in, i, x);
	return l;
}

/* The entry of leaf @l that contains @x; see uvfio__bt_find(). */
static __always_inline bool uvfio__bt_leaf_find(const struct uvfio__bt_leaf *l, uint64_t x,
						struct uvfio__bt_ent *out)
{
	unsigned i = uvfio__bt_rank(l->key, UVFIO__BT_LEAF_CAP, x | UVFIO__BT_TAG_MASK);

	if (!i || x >= l->v[i - 1].end)
		return false;
	out->key = l->key[i - 1];
	out->end = l->v[i - 1].end;
	out->val = l->v[i - 1].val;
	return true;
}

/* Most lookups uvfio__bt_find_batch() takes at once. */
#define UVFIO__BT_BATCH 16

/**
 * uvfio__bt_find_batch() - uvfio__bt_find() for @n <= UVFIO__BT_BATCH
 * independent addresses, level by level: every lookup takes one step, and
 * asks for the node it will read next, before any reads it, so the cache
 * misses of a batch overlap instead of following one another.
 * @found: per address, whether *@out is filled
 */
void uvfio__bt_find_batch(const struct uvfio__btree *bt, const uint64_t *x, unsigned n,
			  struct uvfio__bt_ent *out, bool *found);

/**
 * uvfio__bt_find() - the entry whose [start, end) contains @x.
 *
 * @x must be at most UVFIO__BT_ADDR_MAX. Return: true and *@out filled, or
 * false.
 */
static __always_inline bool uvfio__bt_find(const struct uvfio__btree *bt, uint64_t x,
					   struct uvfio__bt_ent *out)
{
	const struct uvfio__bt_leaf *l = uvfio__bt_leaf_for(bt, x);

	return l && uvfio__bt_leaf_find(l, x, out);
}

/*
 * uvfio__bt_find() that first tries the leaf of the previous call: when x
 * lies between that leaf's first start and last end, the entry holding x can
 * only be there (leaves hold contiguous runs of the sorted entries), so a
 * walk through neighbouring mappings skips the descent.
 */
static __always_inline bool uvfio__bt_find_near(struct uvfio__btree *bt, uint64_t x,
						struct uvfio__bt_ent *out)
{
	const struct uvfio__bt_leaf *l = bt->finger;

	if (!l || x < (l->key[0] & ~UVFIO__BT_TAG_MASK) || x >= l->v[l->n - 1].end) {
		l = uvfio__bt_leaf_for(bt, x);
		if (!l)
			return false;
		bt->finger = l;
	}
	return uvfio__bt_leaf_find(l, x, out);
}

void uvfio__bt_init(struct uvfio__btree *bt);

/* Free every node; the tree is then empty. */
void uvfio__bt_clear(struct uvfio__btree *bt);

/**
 * uvfio__bt_prepare() - check and reserve room for an entry [start, end).
 *
 * Return: 0 with @c ready for commit or abort; -EINVAL (empty range, or
 * start above UVFIO__BT_ADDR_MAX); -EEXIST (overlaps an entry); -ENOMEM;
 * -ENOSPC (the tree would grow beyond UVFIO__BT_MAX_HEIGHT). On error
 * nothing needs undoing.
 */
int uvfio__bt_prepare(struct uvfio__btree *bt, uint64_t start, uint64_t end,
		      struct uvfio__bt_cursor *c);

/* Insert @e, whose start and end were prepared in @c. Cannot fail. */
void uvfio__bt_commit(struct uvfio__btree *bt, struct uvfio__bt_cursor *c,
		      const struct uvfio__bt_ent *e);

/* Release what uvfio__bt_prepare() reserved. */
void uvfio__bt_abort(struct uvfio__btree *bt, struct uvfio__bt_cursor *c);

/**
 * uvfio__bt_remove() - remove the entry that is exactly [start, end).
 *
 * Return: 0 and the removed entry in *@out, or -ENOENT (nothing changed).
 */
int uvfio__bt_remove(struct uvfio__btree *bt, uint64_t start, uint64_t end,
		     struct uvfio__bt_ent *out);

/* Visit entries in order; a non-zero return from @fn stops and is returned. */
int uvfio__bt_foreach(const struct uvfio__btree *bt,
		      int (*fn)(void *priv, const struct uvfio__bt_ent *e), void *priv);

/* Check every structural invariant; 0 or -EUCLEAN. For tests. */
int uvfio__bt_check(const struct uvfio__btree *bt);

#endif /* UVFIO_UTIL_BTREE_H */
