// SPDX-License-Identifier: BSD-3-Clause
/*
 * Payload codecs: one decoder and one encoder per message shape.
 *
 * Decoders see bytes from a peer that may be hostile. Each one checks the
 * payload length before it reads a field, computes every "fixed part plus
 * count" with overflow checks, and rejects flag bits the protocol leaves
 * undefined. Semantic checks that need device state (is this region index
 * valid?) belong to the side that owns that state, not here.
 */
#include "uvfio/proto.h"
#include "util/util.h"

#define NEED(cap, n)                                                                               \
	do {                                                                                       \
		if ((cap) < (size_t)(n))                                                           \
			return -ENOSPC;                                                            \
	} while (0)

int uvfio_proto_dma_map_decode(const void *p, size_t len, struct uvfio_dma_map *m)
{
	const uint8_t *b = p;

	if (len != UVFIO_DMA_MAP_SIZE)
		return -EINVAL;
	m->argsz = get_le32(b);
	m->flags = get_le32(b + 4);
	m->offset = get_le64(b + 8);
	m->addr = get_le64(b + 16);
	m->size = get_le64(b + 24);
	return 0;
}

ssize_t uvfio_proto_dma_map_encode(void *buf, size_t cap, const struct uvfio_dma_map *m)
{
	uint8_t *b = buf;

	NEED(cap, UVFIO_DMA_MAP_SIZE);
	put_le32(b, m->argsz);
	put_le32(b + 4, m->flags);
	put_le64(b + 8, m->offset);
	put_le64(b + 16, m->addr);
	put_le64(b + 24, m->size);
	return UVFIO_DMA_MAP_SIZE;
}

int uvfio_proto_dma_unmap_decode(const void *p, size_t len, struct uvfio_dma_unmap *u)
{
	const uint8_t *b = p;

	/* Replies from legacy servers may append a dirty bitmap; ignore it. */
	if (len < UVFIO_DMA_UNMAP_SIZE)
		return -EINVAL;
	u->argsz = get_le32(b);
	u->flags = get_le32(b + 4);
	u->addr = get_le64(b + 8);
	u->size = get_le64(b + 16);
	return 0;
}

ssize_t uvfio_proto_dma_unmap_encode(void *buf, size_t cap, const struct uvfio_dma_unmap *u)
{
	uint8_t *b = buf;

	NEED(cap, UVFIO_DMA_UNMAP_SIZE);
	put_le32(b, u->argsz);
	put_le32(b + 4, u->flags);
	put_le64(b + 8, u->addr);
	put_le64(b + 16, u->size);
	return UVFIO_DMA_UNMAP_SIZE;
}

int uvfio_proto_device_info_decode(const void *p, size_t len, struct uvfio_device_info *d)
{
	const uint8_t *b = p;

	if (len != UVFIO_DEVICE_INFO_SIZE)
		return -EINVAL;
	d->argsz = get_le32(b);
	d->flags = get_le32(b + 4);
	d->num_regions = get_le32(b + 8);
	d->num_irqs = get_le32(b + 12);
	return 0;
}

ssize_t uvfio_proto_device_info_encode(void *buf, size_t cap, const struct uvfio_device_info *d)
{
	uint8_t *b = buf;

	NEED(cap, UVFIO_DEVICE_INFO_SIZE);
	put_le32(b, d->argsz);
	put_le32(b + 4, d->flags);
	put_le32(b + 8, d->num_regions);
	put_le32(b + 12, d->num_irqs);
	return UVFIO_DEVICE_INFO_SIZE;
}

/* --- region info ---------------------------------------------------------- */

#define CAP_HDR_SIZE    8
#define SPARSE_HDR_SIZE (CAP_HDR_SIZE + 8)
#define SPARSE_AREA_SIZE 16
#define TYPE_CAP_SIZE   (CAP_HDR_SIZE + 8)
#define MAX_CAPS_WALKED 64

static void region_info_put(uint8_t *b, const struct uvfio_region_info *ri)
{
	put_le32(b, ri->argsz);
	put_le32(b + 4, ri->flags);
	put_le32(b + 8, ri->index);
	put_le32(b + 12, ri->cap_offset);
	put_le64(b + 16, ri->size);
	put_le64(b + 24, ri->offset);
}

static uint64_t region_caps_size(const struct uvfio_region_caps *caps)
{
	uint64_t n = 0;

	if (!caps)
		return 0;
	if (caps->nr_areas)
		n += SPARSE_HDR_SIZE + (uint64_t)caps->nr_areas * SPARSE_AREA_SIZE;
	if (caps->has_type)
		n += TYPE_CAP_SIZE;
	return n;
}

ssize_t uvfio_proto_region_info_encode(void *buf, size_t cap, const struct uvfio_region_info *ri,
				       const struct uvfio_region_caps *caps, bool *complete)
{
	uint64_t caps_size = region_caps_size(caps);
	uint64_t need = UVFIO_REGION_INFO_SIZE + caps_size;
	struct uvfio_region_info out = *ri;
	uint8_t *b = buf;
	uint32_t off;

	NEED(cap, UVFIO_REGION_INFO_SIZE);
	if (need > UINT32_MAX)
		return -EOVERFLOW;
	out.cap_offset = 0;
	if (!caps_size) {
		out.argsz = UVFIO_REGION_INFO_SIZE;
		out.flags &= ~UVFIO_REGION_INFO_FLAG_CAPS;
		region_info_put(b, &out);
		*complete = true;
		return UVFIO_REGION_INFO_SIZE;
	}
	out.flags |= UVFIO_REGION_INFO_FLAG_CAPS;
	out.argsz = (uint32_t)need;
	if (ri->argsz < need) {
		/* Too small for the chain: fixed part only; the client retries. */
		region_info_put(b, &out);
		*complete = false;
		return UVFIO_REGION_INFO_SIZE;
	}
	NEED(cap, need);
	out.cap_offset = UVFIO_REGION_INFO_SIZE;
	region_info_put(b, &out);

	off = UVFIO_REGION_INFO_SIZE;
	if (caps->nr_areas) {
		uint32_t next = off + SPARSE_HDR_SIZE + caps->nr_areas * SPARSE_AREA_SIZE;

		put_le16(b + off, UVFIO_REGION_INFO_CAP_SPARSE_MMAP);
		put_le16(b + off + 2, 1);
		put_le32(b + off + 4, caps->has_type ? next : 0);
		put_le32(b + off + 8, caps->nr_areas);
		put_le32(b + off + 12, 0);
		for (uint32_t i = 0; i < caps->nr_areas; i++) {
			uint8_t *a = b + off + SPARSE_HDR_SIZE + i * SPARSE_AREA_SIZE;

			put_le64(a, caps->areas[i].offset);
			put_le64(a + 8, caps->areas[i].size);
		}
		off = next;
	}
	if (caps->has_type) {
		put_le16(b + off, UVFIO_REGION_INFO_CAP_TYPE);
		put_le16(b + off + 2, 1);
		put_le32(b + off + 4, 0);
		put_le32(b + off + 8, caps->type);
		put_le32(b + off + 12, caps->subtype);
	}
	*complete = true;
	return (ssize_t)need;
}

int uvfio_proto_region_info_decode(const void *p, size_t len, struct uvfio_region_info *ri)
{
	const uint8_t *b = p;

	if (len < UVFIO_REGION_INFO_SIZE)
		return -EINVAL;
	ri->argsz = get_le32(b);
	ri->flags = get_le32(b + 4);
	ri->index = get_le32(b + 8);
	ri->cap_offset = get_le32(b + 12);
	ri->size = get_le64(b + 16);
	ri->offset = get_le64(b + 24);
	return 0;
}

int uvfio_proto_region_caps_decode(const void *p, size_t len, struct uvfio_sparse_area *areas,
				   uint32_t max_areas, struct uvfio_region_caps *out)
{
	struct uvfio_region_info ri;
	const uint8_t *b = p;
	uint64_t off;
	int ret;

	memset(out, 0, sizeof(*out));
	out->areas = areas;
	ret = uvfio_proto_region_info_decode(p, len, &ri);
	if (ret)
		return ret;
	if (!(ri.flags & UVFIO_REGION_INFO_FLAG_CAPS) || !ri.cap_offset)
		return 0;
	off = ri.cap_offset;
	for (unsigned walked = 0;; walked++) {
		uint16_t id;
		uint32_t next;

		/* Chains only move forward, so a loop is impossible. */
		if (walked >= MAX_CAPS_WALKED || off < UVFIO_REGION_INFO_SIZE ||
		    !range_within(off, CAP_HDR_SIZE, len))
			return -EINVAL;
		id = get_le16(b + off);
		next = get_le32(b + off + 4);
		if (id == UVFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			uint32_t nr;

			if (out->nr_areas || !range_within(off, SPARSE_HDR_SIZE, len))
				return -EINVAL;
			nr = get_le32(b + off + 8);
			if (!range_within(off + SPARSE_HDR_SIZE, (uint64_t)nr * SPARSE_AREA_SIZE, len))
				return -EINVAL;
			out->nr_areas = nr;
			for (uint32_t i = 0; i < nr && i < max_areas; i++) {
				const uint8_t *a = b + off + SPARSE_HDR_SIZE + (uint64_t)i * SPARSE_AREA_SIZE;

				areas[i].offset = get_le64(a);
				areas[i].size = get_le64(a + 8);
			}
		} else if (id == UVFIO_REGION_INFO_CAP_TYPE) {
			if (!range_within(off, TYPE_CAP_SIZE, len))
				return -EINVAL;
			out->has_type = true;
			out->type = get_le32(b + off + 8);
			out->subtype = get_le32(b + off + 12);
		}
		if (!next)
			return 0;
		if (next <= off)
			return -EINVAL;
		off = next;
	}
}

/* --- IRQs ------------------------------------------------------------------ */

int uvfio_proto_irq_info_decode(const void *p, size_t len, struct uvfio_irq_info *i)
{
	const uint8_t *b = p;

	if (len != UVFIO_IRQ_INFO_SIZE)
		return -EINVAL;
	i->argsz = get_le32(b);
	i->flags = get_le32(b + 4);
	i->index = get_le32(b + 8);
	i->count = get_le32(b + 12);
	return 0;
}

ssize_t uvfio_proto_irq_info_encode(void *buf, size_t cap, const struct uvfio_irq_info *i)
{
	uint8_t *b = buf;

	NEED(cap, UVFIO_IRQ_INFO_SIZE);
	put_le32(b, i->argsz);
	put_le32(b + 4, i->flags);
	put_le32(b + 8, i->index);
	put_le32(b + 12, i->count);
	return UVFIO_IRQ_INFO_SIZE;
}

int uvfio_proto_irq_set_decode(const void *p, size_t len, struct uvfio_irq_set *s)
{
	const uint8_t *b = p;
	uint32_t data, action;

	if (len < UVFIO_IRQ_SET_SIZE)
		return -EINVAL;
	s->argsz = get_le32(b);
	s->flags = get_le32(b + 4);
	s->index = get_le32(b + 8);
	s->start = get_le32(b + 12);
	s->count = get_le32(b + 16);
	s->data = NULL;
	if (s->argsz < UVFIO_IRQ_SET_SIZE)
		return -EINVAL;
	if (s->flags & ~(UVFIO_IRQ_SET_DATA_TYPE_MASK | UVFIO_IRQ_SET_ACTION_TYPE_MASK))
		return -EINVAL;
	data = s->flags & UVFIO_IRQ_SET_DATA_TYPE_MASK;
	action = s->flags & UVFIO_IRQ_SET_ACTION_TYPE_MASK;
	if (__builtin_popcount(data) != 1 || __builtin_popcount(action) != 1)
		return -EINVAL;
	if (data == UVFIO_IRQ_SET_DATA_BOOL) {
		if (len - UVFIO_IRQ_SET_SIZE != s->count)
			return -EINVAL;
		s->data = b + UVFIO_IRQ_SET_SIZE;
	} else if (len != UVFIO_IRQ_SET_SIZE) {
		/* Eventfds travel as SCM_RIGHTS, never in the payload. */
		return -EINVAL;
	}
	return 0;
}

ssize_t uvfio_proto_irq_set_encode(void *buf, size_t cap, const struct uvfio_irq_set *s)
{
	uint8_t *b = buf;
	size_t n = UVFIO_IRQ_SET_SIZE;

	if (s->flags & UVFIO_IRQ_SET_DATA_BOOL)
		n += s->count;
	NEED(cap, n);
	put_le32(b, s->argsz);
	put_le32(b + 4, s->flags);
	put_le32(b + 8, s->index);
	put_le32(b + 12, s->start);
	put_le32(b + 16, s->count);
	if ((s->flags & UVFIO_IRQ_SET_DATA_BOOL) && s->count)
		memcpy(b + UVFIO_IRQ_SET_SIZE, s->data, s->count);
	return (ssize_t)n;
}

/* --- data transfers --------------------------------------------------------- */

int uvfio_proto_region_access_decode(const void *p, size_t len, bool with_data,
				     struct uvfio_region_access *a)
{
	const uint8_t *b = p;

	if (len < UVFIO_REGION_ACCESS_SIZE)
		return -EINVAL;
	a->offset = get_le64(b);
	a->region = get_le32(b + 8);
	a->count = get_le32(b + 12);
	a->data = NULL;
	if (with_data) {
		if (len - UVFIO_REGION_ACCESS_SIZE != a->count)
			return -EINVAL;
		a->data = b + UVFIO_REGION_ACCESS_SIZE;
	} else if (len != UVFIO_REGION_ACCESS_SIZE) {
		return -EINVAL;
	}
	return 0;
}

ssize_t uvfio_proto_region_access_encode(void *buf, size_t cap, bool with_data,
					 const struct uvfio_region_access *a)
{
	uint8_t *b = buf;
	size_t n = UVFIO_REGION_ACCESS_SIZE + (with_data ? a->count : 0);

	NEED(cap, n);
	put_le64(b, a->offset);
	put_le32(b + 8, a->region);
	put_le32(b + 12, a->count);
	if (with_data && a->count)
		memcpy(b + UVFIO_REGION_ACCESS_SIZE, a->data, a->count);
	return (ssize_t)n;
}

int uvfio_proto_dma_access_decode(const void *p, size_t len, bool with_data,
				  struct uvfio_dma_access *a)
{
	const uint8_t *b = p;

	a->addr = 0;
	a->count = 0;
	a->data = NULL;
	if (!with_data && len == 0)
		return 0; /* header-only DMA_WRITE reply (QEMU) */
	if (len < UVFIO_DMA_ACCESS_SIZE)
		return -EINVAL;
	a->addr = get_le64(b);
	a->count = get_le64(b + 8);
	if (with_data) {
		if (len - UVFIO_DMA_ACCESS_SIZE != a->count)
			return -EINVAL;
		a->data = b + UVFIO_DMA_ACCESS_SIZE;
	} else if (len != UVFIO_DMA_ACCESS_SIZE) {
		return -EINVAL;
	}
	return 0;
}

ssize_t uvfio_proto_dma_access_encode(void *buf, size_t cap, bool with_data,
				      const struct uvfio_dma_access *a)
{
	uint8_t *b = buf;
	uint64_t n = UVFIO_DMA_ACCESS_SIZE;

	if (with_data && !range_ok(n, a->count, &n))
		return -EOVERFLOW;
	NEED(cap, n);
	put_le64(b, a->addr);
	put_le64(b + 8, a->count);
	if (with_data && a->count)
		memcpy(b + UVFIO_DMA_ACCESS_SIZE, a->data, a->count);
	return (ssize_t)n;
}

int uvfio_proto_write_multi_decode(const void *p, size_t len, uint64_t *n_out)
{
	uint64_t n, need;

	if (len < UVFIO_WRITE_MULTI_HDR_SIZE)
		return -EINVAL;
	n = get_le64(p);
	if (__builtin_mul_overflow(n, UVFIO_WRITE_MULTI_ENTRY_SIZE, &need) ||
	    !range_ok(need, UVFIO_WRITE_MULTI_HDR_SIZE, &need) || need != len)
		return -EINVAL;
	*n_out = n;
	return 0;
}

int uvfio_proto_write_multi_entry(const void *p, size_t len, uint64_t i,
				  struct uvfio_write_multi_entry *e)
{
	const uint8_t *b = p;
	uint64_t off;

	if (__builtin_mul_overflow(i, UVFIO_WRITE_MULTI_ENTRY_SIZE, &off) ||
	    !range_ok(off, UVFIO_WRITE_MULTI_HDR_SIZE, &off) ||
	    !range_within(off, UVFIO_WRITE_MULTI_ENTRY_SIZE, len))
		return -EINVAL;
	e->offset = get_le64(b + off);
	e->region = get_le32(b + off + 8);
	e->count = get_le32(b + off + 12);
	memcpy(e->data, b + off + 16, UVFIO_WRITE_MULTI_MAX_DATA);
	if (e->count > UVFIO_WRITE_MULTI_MAX_DATA)
		return -EINVAL;
	return 0;
}

int uvfio_proto_device_feature_decode(const void *p, size_t len, struct uvfio_device_feature *f)
{
	const uint8_t *b = p;

	if (len < UVFIO_DEVICE_FEATURE_SIZE)
		return -EINVAL;
	f->argsz = get_le32(b);
	f->flags = get_le32(b + 4);
	f->data = b + UVFIO_DEVICE_FEATURE_SIZE;
	f->data_len = (uint32_t)(len - UVFIO_DEVICE_FEATURE_SIZE);
	return 0;
}
