// SPDX-License-Identifier: BSD-3-Clause
/*
 * White-box tests of the driver side's IOVA allocator (lib/vfio/iova.c):
 * usable ranges with holes (the x86 MSI doorbell window), alignment, first
 * fit, exhaustion, fixed-address takes, frees that merge with both
 * neighbours, double frees, the top of the 64-bit space, and a randomized
 * differential run against a page bitmap.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/test.h"
#include "vfio/vfio_priv.h"

#define PG    0x1000ull
#define MiB   (1ull << 20)
#define GiB   (1ull << 30)
#define MSI_LO 0xfee00000ull
#define MSI_HI 0xfeefffffull

#define RANGE(a, b) ((struct uvfio_iova_range){ (a), (b) })

/* The allocator's invariants: ascending, disjoint, never touching, page-aligned starts. */
static void check_invariants(const struct uvfio__iova_space *s)
{
	assert_true(s->nr <= s->cap);
	for (uint32_t i = 0; i < s->nr; i++) {
		assert_true(s->free[i].start <= s->free[i].last);
		assert_int_equal(s->free[i].start & (PG - 1), 0);
		if (i)
			assert_true(s->free[i - 1].last + 1 < s->free[i].start);
	}
}

/* Is [start, start + size) entirely free? */
static bool all_free(const struct uvfio__iova_space *s, uint64_t start, uint64_t size)
{
	uint64_t last = start + size - 1;

	for (uint32_t i = 0; i < s->nr; i++)
		if (s->free[i].start <= start && last <= s->free[i].last)
			return true;
	return false;
}

/* Does [start, start + size) touch free space at all? */
static bool any_free(const struct uvfio__iova_space *s, uint64_t start, uint64_t size)
{
	uint64_t last = start + size - 1;

	for (uint32_t i = 0; i < s->nr; i++)
		if (s->free[i].start <= last && start <= s->free[i].last)
			return true;
	return false;
}

static void init(struct uvfio__iova_space *s, const struct uvfio_iova_range *r, uint32_t n)
{
	memset(s, 0, sizeof(*s));
	assert_ret(uvfio__iova_init(s, r, n), 0);
	assert_true(s->ready);
	check_invariants(s);
}

static void test_init_ranges(void **state)
{
	const struct uvfio_iova_range r[] = {
		RANGE(0x1234, 0x7fffff),      /* start rounded up to 0x2000 */
		RANGE(0x500000, 0x900000),    /* overlaps the previous: skipped */
		RANGE(0x2000000, 0x1000000),  /* last < start: skipped */
		RANGE(0x3000001, 0x3000fff),  /* nothing left after rounding up: skipped */
		RANGE(0x4000000, 0x4ffffff),
		RANGE(0x100000, 0x1fffff),    /* out of order: skipped */
	};
	struct uvfio__iova_space s;
	uint64_t at;

	init(&s, r, ARRAY_SIZE(r));
	assert_int_equal(s.nr, 2);
	assert_int_equal(s.free[0].start, 0x2000);
	assert_int_equal(s.free[0].last, 0x7fffff);
	assert_int_equal(s.free[1].start, 0x4000000);
	assert_int_equal(s.free[1].last, 0x4ffffff);
	/* Re-init replaces everything. */
	assert_ret(uvfio__iova_init(&s, r + 4, 1), 0);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.free[0].start, 0x4000000);
	uvfio__iova_fini(&s);
	assert_int_equal(s.nr, 0);
	assert_null(s.free);
	assert_false(s.ready);
	/* No ranges: nothing to hand out. */
	init(&s, NULL, 0);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), -ENOSPC);
	uvfio__iova_fini(&s);
}

/* Ranges that touch are one window: an allocation may span the seam. */
static void test_init_adjacent_ranges_merge(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x100000, 0x1fffff),
					      RANGE(0x200000, 0x2fffff) };
	struct uvfio__iova_space s;
	uint64_t at;

	init(&s, r, 2);
	assert_int_equal(s.nr, 1);
	assert_ret(uvfio__iova_alloc(&s, 2 * MiB, PG, &at), 0);
	assert_int_equal(at, 0x100000);
	uvfio__iova_fini(&s);
}

/* x86: [0, 0xfedfffff] and [0xfef00000, 2^48 - 1]; nothing may land in the MSI window. */
static void test_msi_hole_never_allocated(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0, MSI_LO - 1),
					      RANGE(MSI_HI + 1, (1ull << 48) - 1) };
	struct uvfio__iova_space s;
	uint64_t at;

	init(&s, r, 2);
	/* Fill the space below the hole except its last 14 MiB. */
	assert_ret(uvfio__iova_take(&s, 0, 0xfe000000ull), 0);
	check_invariants(&s);
	/* 16 MiB, 16 MiB-aligned: not below the hole, the first aligned address above. */
	assert_ret(uvfio__iova_alloc(&s, 16 * MiB, 16 * MiB, &at), 0);
	assert_int_equal(at, 0xff000000ull);
	assert_ret(uvfio__iova_alloc(&s, 4 * MiB, PG, &at), 0);
	assert_int_equal(at, 0xfe000000ull);
	assert_ret(uvfio__iova_alloc(&s, 8 * MiB, PG, &at), 0);
	assert_int_equal(at, 0xfe400000ull);
	/* 2 MiB are left below the hole and 1 MiB just above it: 4 MiB go higher. */
	assert_ret(uvfio__iova_alloc(&s, 4 * MiB, PG, &at), 0);
	assert_int_equal(at, 0x100000000ull);
	assert_ret(uvfio__iova_alloc(&s, 2 * MiB, PG, &at), 0);
	assert_int_equal(at, 0xfec00000ull);
	assert_ret(uvfio__iova_alloc(&s, MiB, PG, &at), 0);
	assert_int_equal(at, MSI_HI + 1);
	/* Nothing is left below 4 GiB. */
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), 0);
	assert_int_equal(at, 0x100400000ull);
	/* The hole can't be taken either. */
	assert_ret(uvfio__iova_take(&s, MSI_LO, PG), -EBUSY);
	assert_ret(uvfio__iova_take(&s, MSI_LO - PG, 2 * PG), -EBUSY);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

static void test_alignment(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(PG, 64 * GiB - 1) };
	struct uvfio__iova_space s;
	uint64_t at;

	init(&s, r, 1);
	assert_ret(uvfio__iova_alloc(&s, PG, MiB, &at), 0);
	assert_int_equal(at, MiB);
	assert_ret(uvfio__iova_alloc(&s, 3 * PG, 2 * MiB, &at), 0);
	assert_int_equal(at, 2 * MiB);
	assert_ret(uvfio__iova_alloc(&s, PG, GiB, &at), 0);
	assert_int_equal(at, GiB);
	assert_ret(uvfio__iova_alloc(&s, PG, 32 * GiB, &at), 0);
	assert_int_equal(at, 32 * GiB);
	/* No 64 GiB-aligned address inside [4 KiB, 64 GiB). */
	assert_ret(uvfio__iova_alloc(&s, PG, 64 * GiB, &at), -ENOSPC);
	/* Small alignment: first fit goes back to the bottom. */
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), 0);
	assert_int_equal(at, PG);
	/* Bad arguments. */
	assert_ret(uvfio__iova_alloc(&s, 0, PG, &at), -EINVAL);
	assert_ret(uvfio__iova_alloc(&s, PG, 0, &at), -EINVAL);
	assert_ret(uvfio__iova_alloc(&s, PG, 3 * PG, &at), -EINVAL);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

static void test_first_fit(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x100000, 0x1ffffff) };
	struct uvfio__iova_space s;
	uint64_t a[8], at;

	init(&s, r, 1);
	for (int i = 0; i < 8; i++) {
		assert_ret(uvfio__iova_alloc(&s, 4 * PG, PG, &a[i]), 0);
		assert_int_equal(a[i], 0x100000 + (uint64_t)i * 4 * PG);
	}
	/* Holes at blocks 2 (4 pages) and 5 (4 pages). */
	assert_ret(uvfio__iova_put(&s, a[2], 4 * PG), 0);
	assert_ret(uvfio__iova_put(&s, a[5], 4 * PG), 0);
	check_invariants(&s);
	/* 5 pages fit in neither hole: the tail. */
	assert_ret(uvfio__iova_alloc(&s, 5 * PG, PG, &at), 0);
	assert_int_equal(at, a[7] + 4 * PG);
	/* 2 pages: the first hole, from its start. */
	assert_ret(uvfio__iova_alloc(&s, 2 * PG, PG, &at), 0);
	assert_int_equal(at, a[2]);
	assert_ret(uvfio__iova_alloc(&s, 2 * PG, PG, &at), 0);
	assert_int_equal(at, a[2] + 2 * PG);
	/* The first hole is full: the second. */
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), 0);
	assert_int_equal(at, a[5]);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

static void test_exhaustion(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x10000, 0x11fff), RANGE(0x20000, 0x21fff) };
	struct uvfio__iova_space s;
	uint64_t at[4], x;

	init(&s, r, 2);
	/* 4 pages in all, but never 3 in a row. */
	assert_ret(uvfio__iova_alloc(&s, 3 * PG, PG, &x), -ENOSPC);
	for (int i = 0; i < 4; i++)
		assert_ret(uvfio__iova_alloc(&s, PG, PG, &at[i]), 0);
	assert_int_equal(at[0], 0x10000);
	assert_int_equal(at[3], 0x21000);
	assert_int_equal(s.nr, 0);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &x), -ENOSPC);
	assert_ret(uvfio__iova_take(&s, 0x10000, PG), -EBUSY);
	/* One back, one out again. */
	assert_ret(uvfio__iova_put(&s, at[1], PG), 0);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &x), 0);
	assert_int_equal(x, at[1]);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &x), -ENOSPC);
	uvfio__iova_fini(&s);
}

static void test_take(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x100000, 0x1fffff) };
	struct uvfio__iova_space s;
	uint64_t at;

	init(&s, r, 1);
	/* Middle: splits the interval. */
	assert_ret(uvfio__iova_take(&s, 0x180000, 0x10000), 0);
	assert_int_equal(s.nr, 2);
	assert_int_equal(s.free[0].last, 0x17ffff);
	assert_int_equal(s.free[1].start, 0x190000);
	/* Busy: the same, a part, one page across either edge, outside any range. */
	assert_ret(uvfio__iova_take(&s, 0x180000, 0x10000), -EBUSY);
	assert_ret(uvfio__iova_take(&s, 0x184000, PG), -EBUSY);
	assert_ret(uvfio__iova_take(&s, 0x17f000, 2 * PG), -EBUSY);
	assert_ret(uvfio__iova_take(&s, 0x18f000, 2 * PG), -EBUSY);
	assert_ret(uvfio__iova_take(&s, 0x1ff000, 2 * PG), -EBUSY);
	assert_ret(uvfio__iova_take(&s, 0, PG), -EBUSY);
	assert_ret(uvfio__iova_take(&s, 0x300000, PG), -EBUSY);
	assert_int_equal(s.nr, 2);
	/* At the start and at the end of an interval: it shrinks. */
	assert_ret(uvfio__iova_take(&s, 0x100000, PG), 0);
	assert_int_equal(s.free[0].start, 0x101000);
	assert_ret(uvfio__iova_take(&s, 0x1ff000, PG), 0);
	assert_int_equal(s.free[1].last, 0x1fefff);
	/* A whole interval: it goes. */
	assert_ret(uvfio__iova_take(&s, 0x101000, 0x17ffff - 0x101000 + 1), 0);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.free[0].start, 0x190000);
	/* Allocation skips what was taken. */
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), 0);
	assert_int_equal(at, 0x190000);
	/* Bad arguments. */
	assert_ret(uvfio__iova_take(&s, 0x1a0000, 0), -EINVAL);
	assert_ret(uvfio__iova_take(&s, UINT64_MAX - PG + 1, 2 * PG), -EINVAL);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

static void test_put_merges(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x100000, 0x1fffff) };
	struct uvfio__iova_space s;

	init(&s, r, 1);
	assert_ret(uvfio__iova_take(&s, 0x100000, 0x100000), 0);
	assert_int_equal(s.nr, 0);
	/* Alone. */
	assert_ret(uvfio__iova_put(&s, 0x140000, 0x10000), 0);
	assert_int_equal(s.nr, 1);
	/* Separate, below and above. */
	assert_ret(uvfio__iova_put(&s, 0x120000, 0x10000), 0);
	assert_ret(uvfio__iova_put(&s, 0x160000, 0x10000), 0);
	assert_int_equal(s.nr, 3);
	check_invariants(&s);
	/* Merges on the left only. */
	assert_ret(uvfio__iova_put(&s, 0x130000, 0x8000), 0);
	assert_int_equal(s.nr, 3);
	assert_int_equal(s.free[0].start, 0x120000);
	assert_int_equal(s.free[0].last, 0x137fff);
	/* Merges on the right only. */
	assert_ret(uvfio__iova_put(&s, 0x158000, 0x8000), 0);
	assert_int_equal(s.nr, 3);
	assert_int_equal(s.free[2].start, 0x158000);
	/* Merges on both sides: three become two. */
	assert_ret(uvfio__iova_put(&s, 0x138000, 0x8000), 0);
	assert_int_equal(s.nr, 2);
	assert_int_equal(s.free[0].start, 0x120000);
	assert_int_equal(s.free[0].last, 0x14ffff);
	assert_ret(uvfio__iova_put(&s, 0x150000, 0x8000), 0);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.free[0].start, 0x120000);
	assert_int_equal(s.free[0].last, 0x16ffff);
	/* Fill everything back: one interval as at the start. */
	assert_ret(uvfio__iova_put(&s, 0x100000, 0x20000), 0);
	assert_ret(uvfio__iova_put(&s, 0x170000, 0x90000), 0);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.free[0].start, 0x100000);
	assert_int_equal(s.free[0].last, 0x1fffff);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

static void test_double_put(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x100000, 0x1fffff) };
	struct uvfio__iova_space s;
	uint64_t a, b;

	init(&s, r, 1);
	assert_ret(uvfio__iova_alloc(&s, 4 * PG, PG, &a), 0);
	assert_ret(uvfio__iova_alloc(&s, 4 * PG, PG, &b), 0);
	assert_ret(uvfio__iova_put(&s, a, 4 * PG), 0);
	/* Again, a part of it, and a range straddling free and used space. */
	assert_ret(uvfio__iova_put(&s, a, 4 * PG), -EINVAL);
	assert_ret(uvfio__iova_put(&s, a + PG, PG), -EINVAL);
	assert_ret(uvfio__iova_put(&s, a + 2 * PG, 4 * PG), -EINVAL);
	assert_ret(uvfio__iova_put(&s, b + 3 * PG, 2 * PG), -EINVAL);
	/* Nothing changed: b is still allocated, a free. */
	assert_true(all_free(&s, a, 4 * PG));
	assert_false(any_free(&s, b, 4 * PG));
	assert_ret(uvfio__iova_put(&s, b, 0), -EINVAL);
	assert_ret(uvfio__iova_put(&s, UINT64_MAX - PG + 1, 2 * PG), -EINVAL);
	assert_ret(uvfio__iova_put(&s, b, 4 * PG), 0);
	assert_int_equal(s.nr, 1);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

static void test_top_of_64bit_space(void **state)
{
	const struct uvfio_iova_range top[] = { RANGE(UINT64_MAX - 0xffff, UINT64_MAX) };
	const struct uvfio_iova_range all[] = { RANGE(0, UINT64_MAX) };
	struct uvfio__iova_space s;
	uint64_t at, lo, hi;

	init(&s, top, 1);
	assert_int_equal(s.free[0].start, UINT64_MAX - 0xffff);
	assert_ret(uvfio__iova_alloc(&s, 0x8000, PG, &at), 0);
	assert_int_equal(at, UINT64_MAX - 0xffff);
	assert_ret(uvfio__iova_alloc(&s, 0x8000, PG, &at), 0);
	assert_int_equal(at, UINT64_MAX - 0x7fff);
	assert_int_equal(s.nr, 0);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), -ENOSPC);
	assert_ret(uvfio__iova_put(&s, UINT64_MAX - PG + 1, PG), 0);
	assert_int_equal(s.free[0].last, UINT64_MAX);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), 0);
	assert_int_equal(at, UINT64_MAX - PG + 1);
	/* An alignment whose next multiple wraps past the top. */
	assert_ret(uvfio__iova_put(&s, UINT64_MAX - 0xffff, 0x10000), 0);
	assert_ret(uvfio__iova_alloc(&s, PG, 1ull << 63, &at), -ENOSPC);
	/* A size that runs past the top. */
	assert_ret(uvfio__iova_alloc(&s, 0x20000, PG, &at), -ENOSPC);
	uvfio__iova_fini(&s);

	/* The whole space: two halves, then one interval again. */
	init(&s, all, 1);
	assert_ret(uvfio__iova_alloc(&s, 1ull << 63, 1ull << 63, &lo), 0);
	assert_int_equal(lo, 0);
	assert_ret(uvfio__iova_alloc(&s, 1ull << 63, 1ull << 63, &hi), 0);
	assert_int_equal(hi, 1ull << 63);
	assert_int_equal(s.nr, 0);
	assert_ret(uvfio__iova_put(&s, hi, 1ull << 63), 0);
	assert_ret(uvfio__iova_put(&s, lo, 1ull << 63), 0);
	assert_int_equal(s.nr, 1);
	assert_int_equal(s.free[0].start, 0);
	assert_int_equal(s.free[0].last, UINT64_MAX);
	assert_ret(uvfio__iova_take(&s, UINT64_MAX - PG + 1, PG), 0);
	assert_int_equal(s.free[0].last, UINT64_MAX - PG);
	check_invariants(&s);
	uvfio__iova_fini(&s);
}

/* The usable windows narrow (another device joined): only free space inside them stays. */
static void test_restrict_keeps_only_windows(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0x100000, 0x1ffffff) };
	const struct uvfio_iova_range w[] = { RANGE(0, 0x3fffff), RANGE(0x800000, 0xbfffff),
					      RANGE(0x3000000, 0x3ffffff) };
	struct uvfio__iova_space s;
	uint64_t a, b, at;

	init(&s, r, 1);
	assert_ret(uvfio__iova_alloc(&s, MiB, MiB, &a), 0);
	assert_int_equal(a, 0x100000);
	assert_ret(uvfio__iova_take(&s, 0x900000, MiB), 0);
	assert_ret(uvfio__iova_restrict(&s, w, ARRAY_SIZE(w)), 0);
	check_invariants(&s);
	assert_int_equal(s.nr, 3);
	assert_true(all_free(&s, 0x200000, 2 * MiB));
	assert_true(all_free(&s, 0x800000, MiB));
	assert_true(all_free(&s, 0xa00000, 2 * MiB));
	assert_false(any_free(&s, 0x400000, 4 * MiB));
	assert_false(any_free(&s, 0xc00000, 0x1400000));
	assert_false(any_free(&s, 0x2000000, 0x2000000));
	/* Allocations land in what is left. */
	assert_ret(uvfio__iova_alloc(&s, 2 * MiB, PG, &b), 0);
	assert_int_equal(b, 0x200000);
	assert_ret(uvfio__iova_alloc(&s, 2 * MiB, PG, &at), 0);
	assert_int_equal(at, 0xa00000);
	assert_ret(uvfio__iova_alloc(&s, 2 * MiB, PG, &at), -ENOSPC);
	/* No windows at all: nothing free. */
	assert_ret(uvfio__iova_restrict(&s, NULL, 0), 0);
	assert_int_equal(s.nr, 0);
	assert_ret(uvfio__iova_alloc(&s, PG, PG, &at), -ENOSPC);
	uvfio__iova_fini(&s);
}

/*
 * Ranges handed out before the windows narrowed come back clipped to the
 * windows still usable; touching windows act as one.
 */
static void test_restrict_then_put_clips(void **state)
{
	const struct uvfio_iova_range r[] = { RANGE(0, 0x3ffffff) };
	/* Two touching windows (one after merging), then a hole, then another. */
	const struct uvfio_iova_range w[] = { RANGE(0x100000, 0x1fffff), RANGE(0x200000, 0x5fffff),
					      RANGE(0x1000000, 0x1ffffff) };
	struct uvfio__iova_space s;
	uint64_t a, at;

	init(&s, r, 1);
	assert_int_equal(s.nr_win, 1);
	assert_ret(uvfio__iova_alloc(&s, 0x2000000, PG, &a), 0);
	assert_int_equal(a, 0);
	assert_ret(uvfio__iova_restrict(&s, w, ARRAY_SIZE(w)), 0);
	check_invariants(&s);
	assert_int_equal(s.nr_win, 2);
	assert_int_equal(s.win[0].start, 0x100000);
	assert_int_equal(s.win[0].last, 0x5fffff);
	/* Everything below 32 MiB was in use; what's above isn't usable any more. */
	assert_int_equal(s.nr, 0);
	/* Giving the 32 MiB back frees only its parts inside the windows. */
	assert_ret(uvfio__iova_put(&s, a, 0x2000000), 0);
	check_invariants(&s);
	assert_int_equal(s.nr, 2);
	assert_true(all_free(&s, 0x100000, 0x500000));
	assert_true(all_free(&s, 0x1000000, 0x1000000));
	assert_false(any_free(&s, 0, 0x100000));
	assert_false(any_free(&s, 0x600000, 0xa00000));
	assert_false(uvfio__iova_any_free(&s, 0x600000, 0xa00000));
	assert_true(uvfio__iova_any_free(&s, 0x5ff000, 0x2000));
	/* One allocation across the seam of the merged windows. */
	assert_ret(uvfio__iova_alloc(&s, 0x500000, PG, &at), 0);
	assert_int_equal(at, 0x100000);
	/* A second narrowing with touching input ranges intersects again. */
	assert_ret(uvfio__iova_restrict(&s, (const struct uvfio_iova_range[]){
					RANGE(0x0, 0x17fffff), RANGE(0x1800000, 0x1bfffff) }, 2), 0);
	check_invariants(&s);
	assert_int_equal(s.nr_win, 2);
	assert_int_equal(s.win[1].last, 0x1bfffff);
	assert_true(all_free(&s, 0x1000000, 0xc00000));
	assert_false(any_free(&s, 0x1c00000, 0x400000));
	assert_ret(uvfio__iova_put(&s, at, 0x500000), 0);
	assert_true(all_free(&s, 0x100000, 0x500000));
	/* A double put is still refused. */
	assert_ret(uvfio__iova_put(&s, at, PG), -EINVAL);
	uvfio__iova_fini(&s);
}

/* --- randomized, against a bitmap of pages ----------------------------------------- */

#define NPAGES 256
#define BASE   0x40000000ull /* 1 GiB: aligned to anything the run asks */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dull;
}

static unsigned rnd_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

struct model {
	bool usable[NPAGES]; /* inside a range */
	bool free[NPAGES];
	bool owned[NPAGES];  /* handed out (alloc or take), so it may be put back */
};

static uint64_t addr(unsigned page)
{
	return BASE + (uint64_t)page * PG;
}

static bool model_all(const bool *v, unsigned p, unsigned n)
{
	for (unsigned i = p; i < p + n; i++)
		if (i >= NPAGES || !v[i])
			return false;
	return true;
}

static bool model_any(const bool *v, unsigned p, unsigned n)
{
	for (unsigned i = p; i < p + n && i < NPAGES; i++)
		if (v[i])
			return true;
	return false;
}

static void model_set(struct model *m, unsigned p, unsigned n, bool is_free)
{
	for (unsigned i = p; i < p + n; i++) {
		m->free[i] = is_free;
		m->owned[i] = !is_free;
	}
}

/* The allocator's free space, page by page, must be the model's. */
static void compare(const struct uvfio__iova_space *s, const struct model *m)
{
	bool got[NPAGES] = { false };

	check_invariants(s);
	for (uint32_t i = 0; i < s->nr; i++) {
		assert_true(s->free[i].start >= BASE);
		assert_true(s->free[i].last < addr(NPAGES));
		for (uint64_t a = s->free[i].start; a <= s->free[i].last; a += PG)
			got[(a - BASE) / PG] = true;
	}
	assert_memory_equal(got, m->free, sizeof(got));
}

static void test_random_vs_bitmap(void **state)
{
	/* Holes at pages 64-71, 160 and 250-255. */
	const struct uvfio_iova_range r[] = { RANGE(addr(0), addr(64) - 1),
					      RANGE(addr(72), addr(160) - 1),
					      RANGE(addr(161), addr(250) - 1) };
	struct uvfio__iova_space s;
	struct model m = { { false } };
	unsigned allocs = 0, nospc = 0, busy = 0, einval = 0;

	for (unsigned seed = 1; seed <= 40; seed++) {
		rng = seed * 0x9e3779b97f4a7c15ull;
		init(&s, r, ARRAY_SIZE(r));
		memset(&m, 0, sizeof(m));
		for (unsigned i = 0; i < NPAGES; i++)
			m.usable[i] = (i < 64) || (i >= 72 && i < 160) || (i >= 161 && i < 250);
		memcpy(m.free, m.usable, sizeof(m.free));
		compare(&s, &m);
		for (unsigned op = 0; op < 2000; op++) {
			unsigned kind = rnd_below(10), n = 1 + rnd_below(rnd_below(4) ? 4 : 24);
			unsigned p = rnd_below(NPAGES);
			uint64_t at = 0;
			int ret, want;

			if (kind < 4) {
				/* alloc: the lowest aligned start whose pages are all free */
				uint64_t align = PG << rnd_below(6);
				unsigned step = (unsigned)(align / PG);

				want = -ENOSPC;
				for (unsigned q = 0; q + n <= NPAGES; q += step) {
					if (model_all(m.free, q, n)) {
						want = (int)q;
						break;
					}
				}
				ret = uvfio__iova_alloc(&s, n * PG, align, &at);
				if (want < 0) {
					assert_int_equal(ret, -ENOSPC);
					nospc++;
				} else {
					assert_int_equal(ret, 0);
					assert_int_equal(at, addr((unsigned)want));
					model_set(&m, (unsigned)want, n, false);
					allocs++;
				}
			} else if (kind < 6) {
				/* take a fixed range */
				want = model_all(m.free, p, n) ? 0 : -EBUSY;
				ret = uvfio__iova_take(&s, addr(p), n * PG);
				assert_int_equal(ret, want);
				if (!ret)
					model_set(&m, p, n, false);
				busy += ret == -EBUSY;
			} else if (kind < 9) {
				/* put back (part of) something handed out */
				unsigned q = p;

				while (q < NPAGES && !m.owned[q])
					q++;
				if (q == NPAGES)
					continue;
				n = 1;
				while (q + n < NPAGES && m.owned[q + n] && n < 16 && rnd_below(5))
					n++;
				assert_ret(uvfio__iova_put(&s, addr(q), n * PG), 0);
				model_set(&m, q, n, true);
			} else {
				/* put of something (partly) free: refused, nothing changes */
				unsigned q = p;

				while (q < NPAGES && !m.free[q])
					q++;
				if (q == NPAGES)
					continue;
				n = 1 + rnd_below(4);
				if (q > 0 && m.owned[q - 1] && rnd_below(2)) {
					q--; /* start in owned space, run into free */
					n++;
				}
				if (q + n > NPAGES)
					n = NPAGES - q;
				assert_true(model_any(m.free, q, n));
				assert_ret(uvfio__iova_put(&s, addr(q), n * PG), -EINVAL);
				einval++;
			}
			compare(&s, &m);
		}
		uvfio__iova_fini(&s);
	}
	/* The run exercised every outcome. */
	assert_true(allocs > 1000);
	assert_true(nospc > 100);
	assert_true(busy > 100);
	assert_true(einval > 100);
	printf("# %u allocations, %u ENOSPC, %u EBUSY, %u EINVAL\n", allocs, nospc, busy, einval);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_init_ranges), UVFIO_TEST(test_init_adjacent_ranges_merge),
		UVFIO_TEST(test_msi_hole_never_allocated), UVFIO_TEST(test_alignment),
		UVFIO_TEST(test_first_fit), UVFIO_TEST(test_exhaustion), UVFIO_TEST(test_take),
		UVFIO_TEST(test_put_merges), UVFIO_TEST(test_double_put),
		UVFIO_TEST(test_top_of_64bit_space), UVFIO_TEST(test_restrict_keeps_only_windows),
		UVFIO_TEST(test_restrict_then_put_clips),
		UVFIO_TEST(test_random_vs_bitmap))
