// SPDX-License-Identifier: BSD-3-Clause
/*
 * The B+tree under the DMA map table (see btree.h for the separator
 * invariant and the fill policy).
 *
 * The hazard is the invariant itself: a lookup trusts the separators to send
 * it to the one leaf that can hold the range containing an address, so
 * every split, borrow and merge below must keep "key[i - 1] <= start and
 * end <= key[i]" for every entry under child[i]. Each place that writes a
 * separator says why the value it writes is legal. uvfio__bt_check() verifies
 * all of it for the tests.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "btree.h"

#define LEAF_CAP  UVFIO__BT_LEAF_CAP
#define FANOUT    UVFIO__BT_FANOUT
#define LEAF_MIN  (LEAF_CAP / 2)
#define INNER_MIN ((FANOUT - 1) / 2) /* keys */
#define TAG       UVFIO__BT_TAG_MASK

_Static_assert(LEAF_CAP % UVFIO__BT_SECTION == 0 && LEAF_CAP >= 2 * UVFIO__BT_SECTION,
	       "leaf capacity: whole sections, at least two");
_Static_assert(FANOUT % UVFIO__BT_SECTION == 0 && FANOUT >= 2 * UVFIO__BT_SECTION,
	       "fanout: whole sections, at least two");

static uint64_t start_of(uint64_t key)
{
	return key & ~TAG;
}

static void leaf_seal(struct uvfio__bt_leaf *l)
{
	for (unsigned i = l->n; i < LEAF_CAP; i++)
		l->key[i] = UINT64_MAX;
}

static void inner_seal(struct uvfio__bt_inner *in)
{
	for (unsigned i = in->n; i < FANOUT; i++)
		in->key[i] = UINT64_MAX;
}

static struct uvfio__bt_leaf *leaf_new(struct uvfio__btree *bt)
{
	struct uvfio__bt_leaf *l = malloc(sizeof(*l));

	if (!l)
		return NULL;
	l->n = 0;
	leaf_seal(l);
	bt->bytes += sizeof(*l);
	return l;
}

static struct uvfio__bt_inner *inner_new(struct uvfio__btree *bt)
{
	struct uvfio__bt_inner *in = malloc(sizeof(*in));

	if (!in)
		return NULL;
	in->n = 0;
	inner_seal(in);
	bt->bytes += sizeof(*in);
	return in;
}

static void leaf_free(struct uvfio__btree *bt, struct uvfio__bt_leaf *l)
{
	if (bt->finger == l)
		bt->finger = NULL;
	bt->bytes -= sizeof(*l);
	free(l);
}

static void inner_free(struct uvfio__btree *bt, struct uvfio__bt_inner *in)
{
	bt->bytes -= sizeof(*in);
	free(in);
}

/* Copy @cnt entries; the ranges may overlap. Leaves n and the sentinels alone. */
static void leaf_move(struct uvfio__bt_leaf *dst, unsigned di, const struct uvfio__bt_leaf *src,
		      unsigned si, unsigned cnt)
{
	memmove(&dst->key[di], &src->key[si], cnt * sizeof(dst->key[0]));
	memmove(&dst->v[di], &src->v[si], cnt * sizeof(dst->v[0]));
}

static void leaf_insert_at(struct uvfio__bt_leaf *l, unsigned pos, const struct uvfio__bt_ent *e)
{
	leaf_move(l, pos + 1, l, pos, l->n - pos);
	l->key[pos] = e->key;
	l->v[pos].end = e->end;
	l->v[pos].val = e->val;
	l->n++;
}

static void leaf_remove_at(struct uvfio__bt_leaf *l, unsigned pos)
{
	leaf_move(l, pos, l, pos + 1, l->n - pos - 1);
	l->key[--l->n] = UINT64_MAX;
}

/* Add separator @key at key[i] and @child at child[i + 1]; there is room. */
static void inner_insert_at(struct uvfio__bt_inner *in, unsigned i, uint64_t key, void *child)
{
	memmove(&in->key[i + 1], &in->key[i], (in->n - i) * sizeof(in->key[0]));
	memmove(&in->child[i + 2], &in->child[i + 1], (in->n - i) * sizeof(in->child[0]));
	in->key[i] = key;
	in->child[i + 1] = child;
	in->n++;
}

/* Drop key[i] and child[i + 1]. */
static void inner_remove_at(struct uvfio__bt_inner *in, unsigned i)
{
	memmove(&in->key[i], &in->key[i + 1], (in->n - i - 1) * sizeof(in->key[0]));
	memmove(&in->child[i + 1], &in->child[i + 2], (in->n - i - 1) * sizeof(in->child[0]));
	in->key[--in->n] = UINT64_MAX;
}

void uvfio__bt_init(struct uvfio__btree *bt)
{
	memset(bt, 0, sizeof(*bt));
}

static void free_subtree(struct uvfio__btree *bt, void *node, unsigned h)
{
	struct uvfio__bt_inner *in = node;

	if (!h) {
		leaf_free(bt, node);
		return;
	}
	for (unsigned i = 0; i <= in->n; i++)
		free_subtree(bt, in->child[i], h - 1);
	inner_free(bt, in);
}

void uvfio__bt_clear(struct uvfio__btree *bt)
{
	if (bt->root)
		free_subtree(bt, bt->root, bt->height);
	bt->root = NULL;
	bt->height = 0;
	bt->count = 0;
	bt->finger = NULL;
}

/* Start of the entry after the cursor's leaf slot, or UINT64_MAX. */
static uint64_t next_start(const struct uvfio__bt_cursor *c, unsigned h)
{
	const struct uvfio__bt_leaf *l = c->node[h];
	const void *node;

	if (c->idx[h] < l->n)
		return start_of(l->key[c->idx[h]]);
	for (unsigned d = h; d-- > 0;) {
		const struct uvfio__bt_inner *in = c->node[d];

		if (c->idx[d] == in->n)
			continue;
		node = in->child[c->idx[d] + 1];
		for (unsigned k = d + 1; k < h; k++)
			node = ((const struct uvfio__bt_inner *)node)->child[0];
		return start_of(((const struct uvfio__bt_leaf *)node)->key[0]);
	}
	return UINT64_MAX;
}

void uvfio__bt_abort(struct uvfio__btree *bt, struct uvfio__bt_cursor *c)
{
	if (c->spare_leaf)
		leaf_free(bt, c->spare_leaf);
	c->spare_leaf = NULL;
	while (c->nspare_inner)
		inner_free(bt, c->spare_inner[--c->nspare_inner]);
}

int uvfio__bt_prepare(struct uvfio__btree *bt, uint64_t start, uint64_t end,
		      struct uvfio__bt_cursor *c)
{
	unsigned h = bt->height, need = 0, pos, d;
	struct uvfio__bt_leaf *l;
	void *node = bt->root;

	c->spare_leaf = NULL;
	c->nspare_inner = 0;
	c->ledge = c->redge = 0;
	if (start >= end || start > UVFIO__BT_ADDR_MAX)
		return -EINVAL;
	if (!node) {
		c->spare_leaf = leaf_new(bt);
		return c->spare_leaf ? 0 : -ENOMEM;
	}
	for (d = 0; d < h; d++) {
		struct uvfio__bt_inner *in = node;
		unsigned i = uvfio__bt_rank(in->key, FANOUT, start);

		c->node[d] = in;
		c->idx[d] = i;
		c->ledge |= (uint32_t)(i == 0 && (!d || c->ledge >> (d - 1) & 1)) << d;
		c->redge |= (uint32_t)(i == in->n && (!d || c->redge >> (d - 1) & 1)) << d;
		node = in->child[i];
	}
	l = node;
	pos = uvfio__bt_rank(l->key, LEAF_CAP, start | TAG);
	c->node[h] = l;
	c->idx[h] = pos;
	c->ledge |= (uint32_t)(pos == 0 && (!h || c->ledge >> (h - 1) & 1)) << h;
	c->redge |= (uint32_t)(pos == l->n && (!h || c->redge >> (h - 1) & 1)) << h;

	/* The only range that can contain start is in this leaf (invariant). */
	if (pos && l->v[pos - 1].end > start)
		return -EEXIST;
	if (next_start(c, h) < end)
		return -EEXIST;

	if (l->n < LEAF_CAP)
		return 0;
	for (d = h; d > 0 && ((struct uvfio__bt_inner *)c->node[d - 1])->n == FANOUT - 1; d--)
		need++;
	if (d == 0) {
		if (h == UVFIO__BT_MAX_HEIGHT)
			return -ENOSPC;
		need++; /* a new root */
	}
	c->spare_leaf = leaf_new(bt);
	if (!c->spare_leaf)
		return -ENOMEM;
	while (c->nspare_inner < need) {
		struct uvfio__bt_inner *in = inner_new(bt);

		if (!in) {
			uvfio__bt_abort(bt, c);
			return -ENOMEM;
		}
		c->spare_inner[c->nspare_inner++] = in;
	}
	return 0;
}

/*
 * Split full leaf @l while inserting @e at @pos; returns the new right
 * sibling and its separator. At the tree's edges the old leaf stays full and
 * the new one starts with @e alone, so ascending or descending insertion
 * leaves packed leaves behind; anywhere else both halves are at least half
 * full, so no pattern of inserts can strand many sparse leaves.
 */
static struct uvfio__bt_leaf *split_leaf(struct uvfio__bt_cursor *c, unsigned h,
					 const struct uvfio__bt_ent *e, uint64_t *sep)
{
	struct uvfio__bt_leaf *r = c->spare_leaf, *l = c->node[h];
	const unsigned keep = (LEAF_CAP + 1) / 2;
	unsigned pos = c->idx[h];

	c->spare_leaf = NULL;
	if (c->redge >> h & 1) {
		leaf_insert_at(r, 0, e);
	} else if (c->ledge >> h & 1) {
		leaf_move(r, 0, l, 0, LEAF_CAP);
		r->n = LEAF_CAP;
		l->n = 0;
		leaf_insert_at(l, 0, e);
	} else if (pos < keep) {
		r->n = LEAF_CAP - keep + 1;
		leaf_move(r, 0, l, keep - 1, r->n);
		l->n = keep - 1;
		leaf_insert_at(l, pos, e);
	} else {
		r->n = LEAF_CAP - keep;
		leaf_move(r, 0, l, keep, r->n);
		l->n = keep;
		leaf_insert_at(r, pos - keep, e);
	}
	leaf_seal(l);
	leaf_seal(r);
	/* Entries are disjoint and sorted: the left ones end by the right's start. */
	*sep = start_of(r->key[0]);
	return r;
}

/*
 * Split full inner node node[d] while adding separator *@sep and @child after
 * child[idx[d]]; returns the new right sibling and sets *@sep to the key
 * moving up. As with leaves, a split at an edge of the tree leaves the old
 * node nearly full and the new one with two children (never one: a lone
 * child would have no sibling to borrow from); elsewhere both halves keep at
 * least INNER_MIN keys.
 */
static struct uvfio__bt_inner *split_inner(struct uvfio__bt_cursor *c, unsigned d, uint64_t *sep,
					   void *child)
{
	struct uvfio__bt_inner *r = c->spare_inner[--c->nspare_inner], *in = c->node[d];
	unsigned n = in->n, i = c->idx[d], m = (FANOUT + 1) / 2; /* children that stay */
	uint64_t tk[FANOUT];
	void *tc[FANOUT + 1];

	if (c->redge >> d & 1)
		m = FANOUT - 1;
	else if (c->ledge >> d & 1)
		m = 2;

	memcpy(tk, in->key, i * sizeof(tk[0]));
	tk[i] = *sep;
	memcpy(&tk[i + 1], &in->key[i], (n - i) * sizeof(tk[0]));
	memcpy(tc, in->child, (i + 1) * sizeof(tc[0]));
	tc[i + 1] = child;
	memcpy(&tc[i + 2], &in->child[i + 1], (n - i) * sizeof(tc[0]));

	in->n = m - 1;
	memcpy(in->key, tk, in->n * sizeof(tk[0]));
	memcpy(in->child, tc, m * sizeof(tc[0]));
	*sep = tk[m - 1];
	r->n = FANOUT - m;
	memcpy(r->key, &tk[m], r->n * sizeof(tk[0]));
	memcpy(r->child, &tc[m], (r->n + 1) * sizeof(tc[0]));
	inner_seal(in);
	inner_seal(r);
	return r;
}

void uvfio__bt_commit(struct uvfio__btree *bt, struct uvfio__bt_cursor *c,
		      const struct uvfio__bt_ent *e)
{
	unsigned h = bt->height, pos;
	struct uvfio__bt_inner *root;
	struct uvfio__bt_leaf *l;
	uint64_t sep;
	void *right;

	bt->count++;
	if (!bt->root) {
		l = c->spare_leaf;
		c->spare_leaf = NULL;
		leaf_insert_at(l, 0, e);
		bt->root = l;
		return;
	}
	/*
	 * @e may reach past the separators above it; raising them to its end is
	 * legal because whatever lies beyond starts at or after that end.
	 */
	for (unsigned d = 0; d < h; d++) {
		struct uvfio__bt_inner *in = c->node[d];

		if (c->idx[d] < in->n && in->key[c->idx[d]] < e->end)
			in->key[c->idx[d]] = e->end;
	}
	l = c->node[h];
	pos = c->idx[h];
	if (l->n < LEAF_CAP) {
		leaf_insert_at(l, pos, e);
		return;
	}
	right = split_leaf(c, h, e, &sep);
	for (unsigned d = h; d-- > 0;) {
		struct uvfio__bt_inner *in = c->node[d];

		if (in->n < FANOUT - 1) {
			inner_insert_at(in, c->idx[d], sep, right);
			uvfio__bt_abort(bt, c);
			return;
		}
		right = split_inner(c, d, &sep, right);
	}
	root = c->spare_inner[--c->nspare_inner];
	root->n = 1;
	root->key[0] = sep;
	root->child[0] = bt->root;
	root->child[1] = right;
	bt->root = root;
	bt->height++;
	uvfio__bt_abort(bt, c);
}

/*
 * Refill leaf child[i] of @p, which fell below LEAF_MIN: borrow from a
 * sibling that can spare an entry, else merge with one. Returns true when
 * @p lost a child. Moving one entry across a boundary and making the
 * boundary that entry's start (or the right side's new first start) keeps
 * the invariant, as entries are disjoint and sorted.
 */
static bool fix_leaf(struct uvfio__btree *bt, struct uvfio__bt_inner *p, unsigned i)
{
	struct uvfio__bt_leaf *l = p->child[i];
	struct uvfio__bt_leaf *left = i > 0 ? p->child[i - 1] : NULL;
	struct uvfio__bt_leaf *right = i < p->n ? p->child[i + 1] : NULL;

	if (left && left->n > LEAF_MIN) {
		leaf_move(l, 1, l, 0, l->n);
		leaf_move(l, 0, left, left->n - 1, 1);
		l->n++;
		left->key[--left->n] = UINT64_MAX;
		p->key[i - 1] = start_of(l->key[0]);
		return false;
	}
	if (right && right->n > LEAF_MIN) {
		leaf_move(l, l->n, right, 0, 1);
		l->n++;
		leaf_remove_at(right, 0);
		p->key[i] = start_of(right->key[0]);
		return false;
	}
	/* Both are at most LEAF_MIN and one is below it: they fit in one leaf. */
	if (left)
		i--;
	l = p->child[i];
	right = p->child[i + 1];
	leaf_move(l, l->n, right, 0, right->n);
	l->n += right->n;
	leaf_free(bt, right);
	inner_remove_at(p, i);
	return true;
}

/* fix_leaf() one level up: rotations through @p keep every key a valid bound. */
static bool fix_inner(struct uvfio__btree *bt, struct uvfio__bt_inner *p, unsigned i)
{
	struct uvfio__bt_inner *in = p->child[i];
	struct uvfio__bt_inner *left = i > 0 ? p->child[i - 1] : NULL;
	struct uvfio__bt_inner *right = i < p->n ? p->child[i + 1] : NULL;

	if (left && left->n > INNER_MIN) {
		memmove(&in->key[1], &in->key[0], in->n * sizeof(in->key[0]));
		memmove(&in->child[1], &in->child[0], (in->n + 1) * sizeof(in->child[0]));
		in->key[0] = p->key[i - 1];
		in->child[0] = left->child[left->n];
		in->n++;
		p->key[i - 1] = left->key[left->n - 1];
		left->key[--left->n] = UINT64_MAX;
		return false;
	}
	if (right && right->n > INNER_MIN) {
		in->key[in->n] = p->key[i];
		in->child[in->n + 1] = right->child[0];
		in->n++;
		p->key[i] = right->key[0];
		memmove(&right->key[0], &right->key[1], (right->n - 1) * sizeof(right->key[0]));
		memmove(&right->child[0], &right->child[1], right->n * sizeof(right->child[0]));
		right->key[--right->n] = UINT64_MAX;
		return false;
	}
	if (left)
		i--;
	in = p->child[i];
	right = p->child[i + 1];
	in->key[in->n] = p->key[i];
	memcpy(&in->key[in->n + 1], right->key, right->n * sizeof(in->key[0]));
	memcpy(&in->child[in->n + 1], right->child, (right->n + 1) * sizeof(in->child[0]));
	in->n += 1 + right->n;
	inner_free(bt, right);
	inner_remove_at(p, i);
	return true;
}

int uvfio__bt_remove(struct uvfio__btree *bt, uint64_t start, uint64_t end,
		     struct uvfio__bt_ent *out)
{
	struct uvfio__bt_inner *path[UVFIO__BT_MAX_HEIGHT];
	unsigned idx[UVFIO__BT_MAX_HEIGHT];
	unsigned h = bt->height, pos, d;
	struct uvfio__bt_leaf *l;
	void *node = bt->root;
	bool merged;

	if (!node || start > UVFIO__BT_ADDR_MAX)
		return -ENOENT;
	for (d = 0; d < h; d++) {
		path[d] = node;
		idx[d] = uvfio__bt_rank(path[d]->key, FANOUT, start);
		node = path[d]->child[idx[d]];
	}
	l = node;
	pos = uvfio__bt_rank(l->key, LEAF_CAP, start | TAG);
	if (!pos || start_of(l->key[pos - 1]) != start || l->v[pos - 1].end != end)
		return -ENOENT;
	pos--;
	out->key = l->key[pos];
	out->end = l->v[pos].end;
	out->val = l->v[pos].val;
	leaf_remove_at(l, pos);
	bt->count--;

	if (!h) {
		if (!l->n) {
			leaf_free(bt, l);
			bt->root = NULL;
		}
		return 0;
	}
	if (l->n >= LEAF_MIN)
		return 0;
	merged = fix_leaf(bt, path[h - 1], idx[h - 1]);
	for (d = h - 1; merged && d > 0 && path[d]->n < INNER_MIN; d--)
		merged = fix_inner(bt, path[d - 1], idx[d - 1]);
	if (!path[0]->n) {
		bt->root = path[0]->child[0];
		bt->height--;
		inner_free(bt, path[0]);
	}
	return 0;
}

static int walk(const void *node, unsigned h, int (*fn)(void *priv, const struct uvfio__bt_ent *e),
		void *priv)
{
	const struct uvfio__bt_inner *in = node;
	const struct uvfio__bt_leaf *l = node;
	int ret;

	if (h) {
		for (unsigned i = 0; i <= in->n; i++) {
			ret = walk(in->child[i], h - 1, fn, priv);
			if (ret)
				return ret;
		}
		return 0;
	}
	for (unsigned i = 0; i < l->n; i++) {
		struct uvfio__bt_ent e = { l->key[i], l->v[i].end, l->v[i].val };

		ret = fn(priv, &e);
		if (ret)
			return ret;
	}
	return 0;
}

int uvfio__bt_foreach(const struct uvfio__btree *bt,
		      int (*fn)(void *priv, const struct uvfio__bt_ent *e), void *priv)
{
	return bt->root ? walk(bt->root, bt->height, fn, priv) : 0;
}

struct check {
	uint64_t count;
	size_t bytes;
	uint64_t prev_end; /* end of the last entry seen, in order */
};

/* Entries under @node must lie in [lo, hi); edge leaves may be sparse. */
static int check_node(const void *node, unsigned h, uint64_t lo, uint64_t hi, bool root,
		      bool left_edge, bool right_edge, struct check *s)
{
	const struct uvfio__bt_inner *in = node;
	const struct uvfio__bt_leaf *l = node;

	if (h) {
		uint64_t prev = lo;

		s->bytes += sizeof(*in);
		if (in->n < (root || left_edge || right_edge ? 1u : INNER_MIN) ||
		    in->n > FANOUT - 1)
			return -EUCLEAN;
		for (unsigned i = in->n; i < FANOUT; i++)
			if (in->key[i] != UINT64_MAX)
				return -EUCLEAN;
		for (unsigned i = 0; i <= in->n; i++) {
			uint64_t next = i < in->n ? in->key[i] : hi;

			if (next < prev || check_node(in->child[i], h - 1, prev, next, false,
						      left_edge && i == 0,
						      right_edge && i == in->n, s))
				return -EUCLEAN;
			prev = next;
		}
		return 0;
	}
	s->bytes += sizeof(*l);
	if (l->n > LEAF_CAP || l->n < (root ? 1u : left_edge || right_edge ? 1u : LEAF_MIN))
		return -EUCLEAN;
	for (unsigned i = l->n; i < LEAF_CAP; i++)
		if (l->key[i] != UINT64_MAX)
			return -EUCLEAN;
	for (unsigned i = 0; i < l->n; i++) {
		uint64_t start = start_of(l->key[i]);

		if (start < lo || start >= l->v[i].end || l->v[i].end > hi ||
		    (s->count && start < s->prev_end))
			return -EUCLEAN;
		s->prev_end = l->v[i].end;
		s->count++;
	}
	return 0;
}

int uvfio__bt_check(const struct uvfio__btree *bt)
{
	struct check s = { 0 };

	if (bt->root && check_node(bt->root, bt->height, 0, UINT64_MAX, true, true, true, &s))
		return -EUCLEAN;
	if (!bt->root && bt->height)
		return -EUCLEAN;
	return s.count == bt->count && s.bytes == bt->bytes ? 0 : -EUCLEAN;
}

/*
 * Where in leaf @l the entry holding @x would sit if the leaf's entries
 * were evenly spaced between the separators around it (as when memory is
 * mapped page by page), or UVFIO__BT_LEAF_CAP when there is nothing to go by.
 */
static unsigned guess_slot(const struct uvfio__bt_leaf *l, const struct uvfio__bt_inner *in,
			   unsigned i, uint64_t x)
{
	uint64_t lo, per, g;

	if (!in || !i || i >= in->n)
		return UVFIO__BT_LEAF_CAP;
	lo = in->key[i - 1];
	per = (in->key[i] - lo) / UVFIO__BT_LEAF_CAP;
	g = per ? (x - lo) / per : 0;
	return g < UVFIO__BT_LEAF_CAP ? (unsigned)g : UVFIO__BT_LEAF_CAP - 1;
}

void uvfio__bt_find_batch(const struct uvfio__btree *bt, const uint64_t *x, unsigned n,
			  struct uvfio__bt_ent *out, bool *found)
{
	const void *node[UVFIO__BT_BATCH];
	unsigned at[UVFIO__BT_BATCH], guess[UVFIO__BT_BATCH];

	if (!bt->root) {
		memset(found, 0, n * sizeof(*found));
		return;
	}
	for (unsigned k = 0; k < n; k++) {
		node[k] = bt->root;
		at[k] = 0;
		guess[k] = UVFIO__BT_LEAF_CAP;
	}
	for (unsigned h = bt->height; h; h--) {
		for (unsigned k = 0; k < n; k++) {
			const struct uvfio__bt_inner *p = node[k];

			at[k] = uvfio__bt_rank(p->key, UVFIO__BT_FANOUT, x[k]);
			node[k] = p->child[at[k]];
			if (h > 1)
				continue; /* inner nodes mostly stay cached */
			/*
			 * Bandwidth, not latency, bounds a batch: ask only for
			 * the guessed entry's key and value lines, not all of
			 * the leaf's keys.
			 */
			guess[k] = guess_slot(node[k], p, at[k], x[k]);
			if (guess[k] < UVFIO__BT_LEAF_CAP) {
				const struct uvfio__bt_leaf *l = node[k];

				__builtin_prefetch(&l->key[guess[k]]);
				__builtin_prefetch(&l->v[guess[k]]);
			} else {
				uvfio__bt_prefetch_leaf(node[k], p, at[k], x[k]);
			}
		}
	}
	for (unsigned k = 0; k < n; k++) {
		const struct uvfio__bt_leaf *l = node[k];
		unsigned g = guess[k];

		/* Entries don't overlap: if the guessed one holds x, it is the one. */
		if (g < l->n && (l->key[g] & ~UVFIO__BT_TAG_MASK) <= x[k] && x[k] < l->v[g].end) {
			out[k].key = l->key[g];
			out[k].end = l->v[g].end;
			out[k].val = l->v[g].val;
			found[k] = true;
			continue;
		}
		found[k] = uvfio__bt_leaf_find(l, x[k], &out[k]);
	}
}
