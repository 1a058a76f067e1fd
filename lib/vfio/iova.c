// SPDX-License-Identifier: BSD-3-Clause
/*
 * The IOVA allocator: the free part of a container's usable bus-address
 * windows, as an ascending array of disjoint [start, last] intervals, next
 * to the windows themselves (so ranges given back never leak out of them).
 *
 * It starts as the IOMMU's reported ranges (which exclude the MSI doorbell
 * window and reserved regions on x86), so nothing it hands out can fall in
 * a hole; mappings made at fixed addresses are cut out of it, and freed
 * ranges merge back with their neighbours. Intervals use inclusive ends so
 * the top of the 64-bit space needs no special case. The number of
 * intervals grows with fragmentation, not with allocations, and the
 * containers this serves hold few large pools.
 */
#include <stdlib.h>

#include "vfio_priv.h"

static int grow(struct uvfio__iova_space *s, uint32_t need)
{
	struct uvfio_iova_range *n;
	uint32_t cap;

	if (need <= s->cap)
		return 0;
	cap = MAX(need, s->cap ? s->cap * 2 : 16);
	n = realloc(s->free, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	s->free = n;
	s->cap = cap;
	return 0;
}

/*
 * The usable windows from a backend's list: starts rounded up to a page,
 * empty, overlapping and out-of-order entries skipped, touching ones merged
 * (an allocation may span the seam). Return the count or -ENOMEM.
 */
static int windows(const struct uvfio_iova_range *ranges, uint32_t nr,
		   struct uvfio_iova_range **out)
{
	struct uvfio_iova_range *w = malloc((nr ? nr : 1) * sizeof(*w));
	uint32_t n = 0;

	if (!w)
		return -ENOMEM;
	for (uint32_t i = 0; i < nr; i++) {
		uint64_t start = align_up_u64(ranges[i].start, 4096);

		if (ranges[i].last < ranges[i].start || start < ranges[i].start || start > ranges[i].last)
			continue;
		if (n && start <= w[n - 1].last)
			continue;
		if (n && start == w[n - 1].last + 1) {
			w[n - 1].last = ranges[i].last;
			continue;
		}
		w[n++] = (struct uvfio_iova_range){ start, ranges[i].last };
	}
	*out = w;
	return (int)n;
}

/* @a ∩ @b for two ascending disjoint lists, into a new array. Return the count or -ENOMEM. */
static int intersect(const struct uvfio_iova_range *a, uint32_t na,
		     const struct uvfio_iova_range *b, uint32_t nb, struct uvfio_iova_range **out)
{
	struct uvfio_iova_range *o = malloc((na + nb + 1) * sizeof(*o));
	uint32_t n = 0;

	if (!o)
		return -ENOMEM;
	for (uint32_t i = 0, j = 0; i < na && j < nb;) {
		uint64_t lo = MAX(a[i].start, b[j].start), hi = MIN(a[i].last, b[j].last);

		if (lo <= hi)
			o[n++] = (struct uvfio_iova_range){ lo, hi };
		if (a[i].last < b[j].last)
			i++;
		else
			j++;
	}
	*out = o;
	return (int)n;
}

int uvfio__iova_init(struct uvfio__iova_space *s, const struct uvfio_iova_range *ranges,
		     uint32_t nr)
{
	struct uvfio_iova_range *w;
	int n;

	uvfio__iova_fini(s);
	n = windows(ranges, nr, &w);
	if (n < 0)
		return n;
	if (grow(s, (uint32_t)n + 1)) {
		free(w);
		return -ENOMEM;
	}
	memcpy(s->free, w, (size_t)n * sizeof(*w));
	s->nr = (uint32_t)n;
	s->win = w;
	s->nr_win = (uint32_t)n;
	s->ready = true;
	return 0;
}

void uvfio__iova_fini(struct uvfio__iova_space *s)
{
	free(s->free);
	free(s->win);
	memset(s, 0, sizeof(*s));
}

/* Index of the interval that contains @x, or -1. */
static int find(const struct uvfio__iova_space *s, uint64_t x)
{
	uint32_t lo = 0, hi = s->nr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->free[mid].last < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nr && s->free[lo].start <= x ? (int)lo : -1;
}

int uvfio__iova_take(struct uvfio__iova_space *s, uint64_t start, uint64_t size)
{
	uint64_t last;
	struct uvfio_iova_range *r;
	int i;

	if (!size || !range_ok(start, size - 1, &last))
		return -EINVAL;
	i = find(s, start);
	if (i < 0 || s->free[i].last < last)
		return -EBUSY;
	r = &s->free[i];
	if (r->start == start && r->last == last) {
		memmove(r, r + 1, (s->nr - (uint32_t)i - 1) * sizeof(*r));
		s->nr--;
	} else if (r->start == start) {
		r->start = last + 1;
	} else if (r->last == last) {
		r->last = start - 1;
	} else {
		if (grow(s, s->nr + 1))
			return -ENOMEM;
		r = &s->free[i];
		memmove(r + 1, r, (s->nr - (uint32_t)i) * sizeof(*r));
		s->nr++;
		r[0].last = start - 1;
		r[1].start = last + 1;
	}
	return 0;
}

int uvfio__iova_alloc(struct uvfio__iova_space *s, uint64_t size, uint64_t align, uint64_t *out)
{
	if (!size || !is_pow2_u64(align))
		return -EINVAL;
	for (uint32_t i = 0; i < s->nr; i++) {
		uint64_t start = s->free[i].start, last;

		if (start & (align - 1)) {
			start = align_up_u64(start, align);
			if (!start) /* wrapped past the top */
				continue;
		}
		if (start < s->free[i].start || start > s->free[i].last ||
		    !range_ok(start, size - 1, &last) || last > s->free[i].last)
			continue;
		*out = start;
		return uvfio__iova_take(s, start, size);
	}
	return -ENOSPC;
}

/* Free [start, last] (known not to overlap free space), merging with neighbours. */
static int put_one(struct uvfio__iova_space *s, uint64_t start, uint64_t last)
{
	uint32_t i;
	bool left, right;

	for (i = 0; i < s->nr && s->free[i].start <= last; i++)
		;
	left = i > 0 && s->free[i - 1].last + 1 == start;
	right = i < s->nr && last + 1 == s->free[i].start;
	if (left && right) {
		s->free[i - 1].last = s->free[i].last;
		memmove(&s->free[i], &s->free[i + 1], (s->nr - i - 1) * sizeof(s->free[0]));
		s->nr--;
	} else if (left) {
		s->free[i - 1].last = last;
	} else if (right) {
		s->free[i].start = start;
	} else {
		if (grow(s, s->nr + 1))
			return -ENOMEM;
		memmove(&s->free[i + 1], &s->free[i], (s->nr - i) * sizeof(s->free[0]));
		s->free[i] = (struct uvfio_iova_range){ start, last };
		s->nr++;
	}
	return 0;
}

bool uvfio__iova_any_free(const struct uvfio__iova_space *s, uint64_t start, uint64_t size)
{
	uint64_t last;

	if (!size || !range_ok(start, size - 1, &last))
		return false;
	for (uint32_t i = 0; i < s->nr && s->free[i].start <= last; i++)
		if (s->free[i].last >= start)
			return true;
	return false;
}

int uvfio__iova_put(struct uvfio__iova_space *s, uint64_t start, uint64_t size)
{
	uint64_t last;
	int ret;

	if (!size || !range_ok(start, size - 1, &last))
		return -EINVAL;
	if (uvfio__iova_any_free(s, start, size))
		return -EINVAL; /* part of it is free already */
	/* Only the parts still inside a usable window go back. */
	for (uint32_t i = 0; i < s->nr_win && s->win[i].start <= last; i++) {
		uint64_t lo = MAX(start, s->win[i].start), hi = MIN(last, s->win[i].last);

		if (lo > hi)
			continue;
		ret = put_one(s, lo, hi);
		if (ret)
			return ret;
	}
	return 0;
}

int uvfio__iova_restrict(struct uvfio__iova_space *s, const struct uvfio_iova_range *ranges,
			 uint32_t nr)
{
	struct uvfio_iova_range *w, *nw, *nf;
	int n, nwn, nfn;

	n = windows(ranges, nr, &w);
	if (n < 0)
		return n;
	nwn = intersect(s->win, s->nr_win, w, (uint32_t)n, &nw);
	free(w);
	if (nwn < 0)
		return nwn;
	nfn = intersect(s->free, s->nr, nw, (uint32_t)nwn, &nf);
	if (nfn < 0) {
		free(nw);
		return nfn;
	}
	free(s->win);
	s->win = nw;
	s->nr_win = (uint32_t)nwn;
	free(s->free);
	s->free = nf;
	s->cap = s->nr_win + s->nr + 1;
	s->nr = (uint32_t)nfn;
	return 0;
}
