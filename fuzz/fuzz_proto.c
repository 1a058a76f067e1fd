// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_proto: every decoder of lib/proto, in both directions, and the
 * header check that guards them.
 *
 * The first input byte picks what to exercise; the rest is its input:
 *
 *   0      a whole message: limits, fd count, a 16-byte header and a
 *          payload; uvfio_proto_check() must agree with the command table
 *          (sizes, fds, flags, direction), and an accepted message is handed
 *          to the decoder its command and direction call for, exactly as the
 *          server (requests) or the client (replies) would
 *   1-14   one payload shape: decode arbitrary bytes, and where the codec
 *          has an encoder, check decode(encode(x)) == x for a value built
 *          from the input and encode(decode(b)) == b for bytes that decode
 *
 * The VERSION payload goes through json-c; its round trip compares every
 * capability the encoder emits. Region info covers the capability chain
 * (sparse areas, type), including a chain too big for the client's argsz.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "uvfio/proto.h"
#include "fuzz_common.h"

#define MAX_AREAS 24

/* --- the table, restated --------------------------------------------------------------- */

/* Largest fixed payload part (the table's max column; only DMA_WRITE's reply differs). */
static uint32_t fixed_max(uint16_t cmd, bool reply)
{
	const struct uvfio_proto_cmd *c = uvfio_proto_cmd_get(cmd);

	if (cmd == UVFIO_CMD_DMA_WRITE && reply)
		return 16;
	return reply ? c->rep_min : c->req_min;
}

static uint64_t tail_bound(uint8_t tail, const struct uvfio_proto_limits *lim)
{
	return tail == UVFIO_TAIL_DATA ? lim->max_data_xfer_size
	       : tail == UVFIO_TAIL_JSON ? UVFIO_PROTO_JSON_MAX : 0;
}

/* What uvfio_proto_check() must answer, derived from the public table. */
static int expected_check(const struct uvfio_hdr *h, unsigned nfds,
			  const struct uvfio_proto_limits *lim)
{
	uint32_t type = h->flags & UVFIO_F_TYPE_MASK;
	const struct uvfio_proto_cmd *c;
	bool reply = type == UVFIO_F_TYPE_REPLY;
	uint64_t payload, min, max;
	unsigned fds;

	if (h->size < UVFIO_HDR_SIZE || (h->flags & ~UVFIO_F_KNOWN) ||
	    (type != UVFIO_F_TYPE_COMMAND && !reply))
		return -EINVAL;
	c = uvfio_proto_cmd_get(h->cmd);
	if (!c)
		return -ENOSYS;
	payload = h->size - UVFIO_HDR_SIZE;
	if (!reply && ((h->flags & UVFIO_F_ERROR) || h->error))
		return -EINVAL;
	if (reply && (h->flags & UVFIO_F_NO_REPLY))
		return -EINVAL;
	if (reply && (h->flags & UVFIO_F_ERROR))
		return payload || nfds ? -EINVAL : 0;
	min = reply ? c->rep_min : c->req_min;
	max = fixed_max(h->cmd, reply) + tail_bound(reply ? c->rep_tail : c->req_tail, lim);
	fds = reply ? c->rep_fds : c->req_fds;
	if (fds == UVFIO_FDS_ANY)
		fds = lim->max_msg_fds;
	if (payload < min)
		return -EINVAL;
	if (payload > max)
		return -EMSGSIZE;
	return nfds > fds ? -EINVAL : 0;
}

/* --- shapes ------------------------------------------------------------------------------ */

static void caps_same(const struct uvfio_caps *a, const struct uvfio_caps *b)
{
	uint32_t p = a->present;

	FZ_CHECK(a->present == b->present, "present 0x%x became 0x%x", a->present, b->present);
	if (p & UVFIO_CAP_MAX_MSG_FDS)
		FZ_CHECK(a->max_msg_fds == b->max_msg_fds, "max_msg_fds %u became %u",
			 a->max_msg_fds, b->max_msg_fds);
	if (p & UVFIO_CAP_MAX_DATA_XFER_SIZE)
		FZ_CHECK(a->max_data_xfer_size == b->max_data_xfer_size,
			 "max_data_xfer_size %llu became %llu",
			 (unsigned long long)a->max_data_xfer_size,
			 (unsigned long long)b->max_data_xfer_size);
	if (p & UVFIO_CAP_MAX_DMA_MAPS)
		FZ_CHECK(a->max_dma_maps == b->max_dma_maps, "max_dma_maps %llu became %llu",
			 (unsigned long long)a->max_dma_maps, (unsigned long long)b->max_dma_maps);
	if (p & UVFIO_CAP_PGSIZES)
		FZ_CHECK(a->pgsizes == b->pgsizes, "pgsizes 0x%llx became 0x%llx",
			 (unsigned long long)a->pgsizes, (unsigned long long)b->pgsizes);
	if (p & UVFIO_CAP_TWIN_SOCKET) {
		FZ_CHECK(a->twin_socket == b->twin_socket, "twin_socket changed");
		if (a->twin_socket)
			FZ_CHECK(a->twin_fd_index == b->twin_fd_index, "twin fd_index %u became %u",
				 a->twin_fd_index, b->twin_fd_index);
	}
	if (p & UVFIO_CAP_WRITE_MULTIPLE)
		FZ_CHECK(a->write_multiple == b->write_multiple, "write_multiple changed");
	if (p & UVFIO_CAP_MIGRATION) {
		FZ_CHECK(a->migration_pgsize == b->migration_pgsize, "migration pgsize changed");
		if (a->migration_max_bitmap)
			FZ_CHECK(a->migration_max_bitmap == b->migration_max_bitmap,
				 "migration max_bitmap_size changed");
	}
}

/* Defaults for what is absent: the decoder promises them. */
static void caps_defaults_hold(const struct uvfio_caps *c)
{
	if (!(c->present & UVFIO_CAP_MAX_MSG_FDS))
		FZ_CHECK(c->max_msg_fds == UVFIO_DEFAULT_MAX_MSG_FDS, "absent max_msg_fds not default");
	if (!(c->present & UVFIO_CAP_MAX_DATA_XFER_SIZE))
		FZ_CHECK(c->max_data_xfer_size == UVFIO_DEFAULT_MAX_DATA_XFER_SIZE,
			 "absent max_data_xfer_size not default");
	if (!(c->present & UVFIO_CAP_MAX_DMA_MAPS))
		FZ_CHECK(c->max_dma_maps == UVFIO_DEFAULT_MAX_DMA_MAPS, "absent max_dma_maps not default");
	if (!(c->present & UVFIO_CAP_PGSIZES))
		FZ_CHECK(c->pgsizes == UVFIO_DEFAULT_PGSIZES, "absent pgsizes not default");
	FZ_CHECK(!(c->present & ~0x7fu), "unknown present bits 0x%x", c->present);
}

static void version_bytes(const uint8_t *p, size_t len)
{
	static uint8_t out[4 + UVFIO_PROTO_JSON_MAX + 64];
	struct uvfio_caps c, c2;
	uint16_t major, minor, major2, minor2;
	ssize_t n;
	int ret = uvfio_proto_version_decode(p, len, &major, &minor, &c);

	caps_defaults_hold(&c);
	if (ret) {
		FZ_CHECK(ret == -EINVAL || ret == -EMSGSIZE || ret == -ENOMEM, "version_decode: %d", ret);
		FZ_CHECK(ret != -EMSGSIZE || len > 4 + UVFIO_PROTO_JSON_MAX, "EMSGSIZE for %zu bytes",
			 len);
		return;
	}
	FZ_CHECK(len >= 4 && len <= 4 + UVFIO_PROTO_JSON_MAX, "accepted %zu bytes", len);
	/* The encoder's JSON is canonical and never longer than what it came from. */
	n = uvfio_proto_version_encode(out, sizeof(out), major, minor, &c);
	FZ_CHECK(n >= 4, "re-encoding a decoded VERSION failed: %zd", n);
	ret = uvfio_proto_version_decode(out, (size_t)n, &major2, &minor2, &c2);
	FZ_CHECK(!ret, "the encoder's own VERSION does not decode: %d", ret);
	FZ_CHECK(major == major2 && minor == minor2, "version numbers changed");
	caps_same(&c, &c2);
}

static void version_value(struct fz *f)
{
	static uint8_t out[4 + UVFIO_PROTO_JSON_MAX];
	struct uvfio_caps c, c2;
	uint16_t major = fz_u16(f), minor = fz_u16(f), ma, mi;
	size_t cap = fz_u8(f) & 1 ? fz_u16(f) % sizeof(out) : sizeof(out);
	ssize_t n;
	int ret;

	uvfio_proto_caps_default(&c);
	c.present = fz_u8(f) & 0x7f;
	c.max_msg_fds = fz_u32(f);
	c.max_data_xfer_size = fz_u64(f);
	c.max_dma_maps = fz_u64(f);
	c.pgsizes = fz_u64(f);
	c.twin_socket = fz_u8(f) & 1;
	c.twin_fd_index = fz_u32(f);
	c.write_multiple = fz_u8(f) & 1;
	c.migration_pgsize = fz_u64(f);
	c.migration_max_bitmap = fz_u64(f);
	n = uvfio_proto_version_encode(out, cap, major, minor, &c);
	if (n < 0) {
		FZ_CHECK(n == -ENOSPC, "version_encode: %zd", n);
		FZ_CHECK(cap < sizeof(out), "ENOSPC with a full buffer");
		return;
	}
	FZ_CHECK((size_t)n <= cap, "encoded %zd bytes into %zu", n, cap);
	FZ_CHECK(n == 4 || out[n - 1] == '\0', "JSON not NUL-terminated");
	ret = uvfio_proto_version_decode(out, (size_t)n, &ma, &mi, &c2);
	FZ_CHECK(!ret, "decode(encode(caps)) failed: %d", ret);
	FZ_CHECK(ma == major && mi == minor, "version numbers changed");
	caps_same(&c, &c2);
}

static void dma_map_shape(struct fz *f, const uint8_t *p, size_t len)
{
	struct uvfio_dma_map m, m2;
	uint8_t b[UVFIO_DMA_MAP_SIZE];

	if (!uvfio_proto_dma_map_decode(p, len, &m)) {
		FZ_CHECK(len == UVFIO_DMA_MAP_SIZE, "DMA_MAP of %zu bytes accepted", len);
		FZ_CHECK(uvfio_proto_dma_map_encode(b, sizeof(b), &m) == UVFIO_DMA_MAP_SIZE, "encode");
		FZ_CHECK(!memcmp(b, p, sizeof(b)), "encode(decode(DMA_MAP)) differs");
	}
	m.argsz = fz_u32(f);
	m.flags = fz_u32(f);
	m.offset = fz_u64(f);
	m.addr = fz_u64(f);
	m.size = fz_u64(f);
	FZ_CHECK(uvfio_proto_dma_map_encode(b, sizeof(b) - 1, &m) == -ENOSPC, "short buffer");
	FZ_CHECK(uvfio_proto_dma_map_encode(b, sizeof(b), &m) == UVFIO_DMA_MAP_SIZE, "encode");
	FZ_CHECK(!uvfio_proto_dma_map_decode(b, sizeof(b), &m2) && !memcmp(&m, &m2, sizeof(m)),
		 "decode(encode(DMA_MAP)) differs");
}

static void dma_unmap_shape(struct fz *f, const uint8_t *p, size_t len)
{
	struct uvfio_dma_unmap u, u2;
	uint8_t b[UVFIO_DMA_UNMAP_SIZE];

	if (!uvfio_proto_dma_unmap_decode(p, len, &u)) {
		FZ_CHECK(len >= UVFIO_DMA_UNMAP_SIZE, "DMA_UNMAP of %zu bytes accepted", len);
		FZ_CHECK(uvfio_proto_dma_unmap_encode(b, sizeof(b), &u) == UVFIO_DMA_UNMAP_SIZE, "encode");
		FZ_CHECK(!memcmp(b, p, sizeof(b)), "encode(decode(DMA_UNMAP)) differs");
	} else {
		FZ_CHECK(len < UVFIO_DMA_UNMAP_SIZE, "DMA_UNMAP of %zu bytes refused", len);
	}
	u.argsz = fz_u32(f);
	u.flags = fz_u32(f);
	u.addr = fz_u64(f);
	u.size = fz_u64(f);
	FZ_CHECK(uvfio_proto_dma_unmap_encode(b, sizeof(b), &u) == UVFIO_DMA_UNMAP_SIZE, "encode");
	FZ_CHECK(!uvfio_proto_dma_unmap_decode(b, sizeof(b), &u2) && !memcmp(&u, &u2, sizeof(u)),
		 "decode(encode(DMA_UNMAP)) differs");
}

static void device_info_shape(struct fz *f, const uint8_t *p, size_t len)
{
	struct uvfio_device_info d, d2;
	uint8_t b[UVFIO_DEVICE_INFO_SIZE];

	if (!uvfio_proto_device_info_decode(p, len, &d)) {
		FZ_CHECK(len == UVFIO_DEVICE_INFO_SIZE, "DEVICE_INFO of %zu bytes accepted", len);
		uvfio_proto_device_info_encode(b, sizeof(b), &d);
		FZ_CHECK(!memcmp(b, p, sizeof(b)), "encode(decode(DEVICE_INFO)) differs");
	}
	d.argsz = fz_u32(f);
	d.flags = fz_u32(f);
	d.num_regions = fz_u32(f);
	d.num_irqs = fz_u32(f);
	FZ_CHECK(uvfio_proto_device_info_encode(b, sizeof(b), &d) == UVFIO_DEVICE_INFO_SIZE, "encode");
	FZ_CHECK(!uvfio_proto_device_info_decode(b, sizeof(b), &d2) && !memcmp(&d, &d2, sizeof(d)),
		 "decode(encode(DEVICE_INFO)) differs");
}

static void irq_info_shape(struct fz *f, const uint8_t *p, size_t len)
{
	struct uvfio_irq_info i, i2;
	uint8_t b[UVFIO_IRQ_INFO_SIZE];

	if (!uvfio_proto_irq_info_decode(p, len, &i)) {
		FZ_CHECK(len == UVFIO_IRQ_INFO_SIZE, "IRQ_INFO of %zu bytes accepted", len);
		uvfio_proto_irq_info_encode(b, sizeof(b), &i);
		FZ_CHECK(!memcmp(b, p, sizeof(b)), "encode(decode(IRQ_INFO)) differs");
	}
	i.argsz = fz_u32(f);
	i.flags = fz_u32(f);
	i.index = fz_u32(f);
	i.count = fz_u32(f);
	FZ_CHECK(uvfio_proto_irq_info_encode(b, sizeof(b), &i) == UVFIO_IRQ_INFO_SIZE, "encode");
	FZ_CHECK(!uvfio_proto_irq_info_decode(b, sizeof(b), &i2) && !memcmp(&i, &i2, sizeof(i)),
		 "decode(encode(IRQ_INFO)) differs");
}

/* A region-info reply as a server would receive it: decode the struct and its chain. */
static void region_info_bytes(const uint8_t *p, size_t len, uint32_t max_areas)
{
	struct uvfio_sparse_area areas[MAX_AREAS];
	struct uvfio_region_caps caps;
	struct uvfio_region_info ri;
	int ret;

	if (uvfio_proto_region_info_decode(p, len, &ri)) {
		FZ_CHECK(len < UVFIO_REGION_INFO_SIZE, "region info of %zu bytes refused", len);
		return;
	}
	ret = uvfio_proto_region_caps_decode(p, len, areas, max_areas, &caps);
	FZ_CHECK(!ret || ret == -EINVAL, "region_caps_decode: %d", ret);
	if (ret)
		return;
	FZ_CHECK(caps.areas == areas, "areas pointer");
	/* Every area the chain claims lies inside the payload. */
	FZ_CHECK((uint64_t)caps.nr_areas * 16 + 16 + UVFIO_REGION_INFO_SIZE <= len || !caps.nr_areas,
		 "%u areas cannot fit in %zu bytes", caps.nr_areas, len);
	if (!(ri.flags & UVFIO_REGION_INFO_FLAG_CAPS) || !ri.cap_offset)
		FZ_CHECK(!caps.nr_areas && !caps.has_type, "caps found without a chain");
}

static void region_info_value(struct fz *f)
{
	static uint8_t buf[UVFIO_REGION_INFO_SIZE + 16 + MAX_AREAS * 16 + 16 + 64];
	struct uvfio_sparse_area in[MAX_AREAS], out[MAX_AREAS];
	struct uvfio_region_caps caps = { 0 }, got;
	struct uvfio_region_info ri, back;
	uint32_t max_areas = fz_u8(f) % (MAX_AREAS + 1);
	size_t cap = fz_u8(f) & 1 ? fz_u16(f) % sizeof(buf) : sizeof(buf);
	uint64_t need;
	bool complete, with_caps, use_caps;
	ssize_t n;
	int ret;

	ri.argsz = fz_u32(f);
	ri.flags = fz_u32(f);
	ri.index = fz_u32(f);
	ri.cap_offset = fz_u32(f);
	ri.size = fz_u64(f);
	ri.offset = fz_u64(f);
	caps.nr_areas = fz_u8(f) % (MAX_AREAS + 1);
	for (uint32_t i = 0; i < caps.nr_areas; i++) {
		in[i].offset = fz_u64(f);
		in[i].size = fz_u64(f);
	}
	caps.areas = in;
	caps.has_type = fz_u8(f) & 1;
	caps.type = fz_u32(f);
	caps.subtype = fz_u32(f);
	use_caps = !(fz_u8(f) & 1);
	with_caps = use_caps && (caps.nr_areas || caps.has_type);
	need = UVFIO_REGION_INFO_SIZE;
	if (use_caps)
		need += (caps.nr_areas ? 16 + caps.nr_areas * 16 : 0) + (caps.has_type ? 16 : 0);

	n = uvfio_proto_region_info_encode(buf, cap, &ri, use_caps ? &caps : NULL, &complete);
	if (n == -ENOSPC) {
		FZ_CHECK(cap < need, "ENOSPC with room for %llu bytes", (unsigned long long)need);
		return;
	}
	FZ_CHECK(n > 0 && (size_t)n <= cap, "region_info_encode: %zd into %zu", n, cap);
	FZ_CHECK(!uvfio_proto_region_info_decode(buf, (size_t)n, &back), "decode");
	FZ_CHECK(back.index == ri.index && back.size == ri.size && back.offset == ri.offset,
		 "fixed fields changed");
	if (n == UVFIO_REGION_INFO_SIZE && !(back.flags & UVFIO_REGION_INFO_FLAG_CAPS)) {
		/* No chain asked for (or an empty one). */
		FZ_CHECK(back.argsz == UVFIO_REGION_INFO_SIZE && !back.cap_offset && complete,
			 "chain-less reply");
		return;
	}
	FZ_CHECK(with_caps, "a chain appeared from nothing");
	FZ_CHECK(back.argsz == need, "argsz %u, the chain needs %llu", back.argsz,
		 (unsigned long long)need);
	if (!complete) {
		FZ_CHECK(ri.argsz < need && n == UVFIO_REGION_INFO_SIZE && !back.cap_offset,
			 "truncated reply");
		return;
	}
	FZ_CHECK((uint64_t)n == need && back.cap_offset == UVFIO_REGION_INFO_SIZE, "complete reply");
	ret = uvfio_proto_region_caps_decode(buf, (size_t)n, out, max_areas, &got);
	FZ_CHECK(!ret, "the encoder's chain does not decode: %d", ret);
	FZ_CHECK(got.nr_areas == caps.nr_areas && got.has_type == caps.has_type,
		 "chain: %u areas/type %d became %u/%d", caps.nr_areas, caps.has_type, got.nr_areas,
		 got.has_type);
	for (uint32_t i = 0; i < got.nr_areas && i < max_areas; i++)
		FZ_CHECK(out[i].offset == in[i].offset && out[i].size == in[i].size, "area %u", i);
	if (caps.has_type)
		FZ_CHECK(got.type == caps.type && got.subtype == caps.subtype, "type changed");
}

static void irq_set_shape(struct fz *f, const uint8_t *p, size_t len)
{
	static uint8_t b[UVFIO_IRQ_SET_SIZE + 4096];
	struct uvfio_irq_set s, s2;
	uint8_t bools[256];
	ssize_t n;
	int ret;

	if (!uvfio_proto_irq_set_decode(p, len, &s)) {
		uint32_t data = s.flags & UVFIO_IRQ_SET_DATA_TYPE_MASK;

		FZ_CHECK(__builtin_popcount(data) == 1 &&
				 __builtin_popcount(s.flags & UVFIO_IRQ_SET_ACTION_TYPE_MASK) == 1,
			 "flags 0x%x accepted", s.flags);
		FZ_CHECK(s.argsz >= UVFIO_IRQ_SET_SIZE, "argsz %u accepted", s.argsz);
		FZ_CHECK(len == UVFIO_IRQ_SET_SIZE + (data == UVFIO_IRQ_SET_DATA_BOOL ? s.count : 0),
			 "SET_IRQS of %zu bytes with count %u accepted", len, s.count);
		n = uvfio_proto_irq_set_encode(b, sizeof(b), &s);
		FZ_CHECK(n == (ssize_t)len && !memcmp(b, p, len), "encode(decode(SET_IRQS)) differs");
	}
	s.argsz = fz_u32(f);
	s.flags = fz_u32(f);
	s.index = fz_u32(f);
	s.start = fz_u32(f);
	s.count = fz_u8(f);
	s.data = bools;
	fz_bytes(f, bools, s.count);
	n = uvfio_proto_irq_set_encode(b, sizeof(b), &s);
	FZ_CHECK(n > 0, "irq_set_encode: %zd", n);
	ret = uvfio_proto_irq_set_decode(b, (size_t)n, &s2);
	if (ret)
		return; /* the value itself may be invalid (flags); the decoder says so */
	FZ_CHECK(s2.argsz == s.argsz && s2.flags == s.flags && s2.index == s.index &&
			 s2.start == s.start && s2.count == s.count,
		 "decode(encode(SET_IRQS)) differs");
	if (s.flags & UVFIO_IRQ_SET_DATA_BOOL)
		FZ_CHECK(s2.data && !memcmp(s2.data, bools, s.count), "bools differ");
}

static void region_access_shape(struct fz *f, const uint8_t *p, size_t len, bool with_data)
{
	static uint8_t b[UVFIO_REGION_ACCESS_SIZE + 4096];
	struct uvfio_region_access a, a2;
	const uint8_t *data;
	size_t got;

	if (!uvfio_proto_region_access_decode(p, len, with_data, &a)) {
		FZ_CHECK(len == UVFIO_REGION_ACCESS_SIZE + (with_data ? a.count : 0),
			 "REGION access of %zu bytes, count %u accepted", len, a.count);
		FZ_CHECK(!with_data || a.data == p + UVFIO_REGION_ACCESS_SIZE, "data pointer");
		FZ_CHECK(uvfio_proto_region_access_encode(b, sizeof(b), with_data, &a) == (ssize_t)len &&
				 !memcmp(b, p, len),
			 "encode(decode(REGION access)) differs");
	}
	a.offset = fz_u64(f);
	a.region = fz_u32(f);
	a.count = fz_u16(f) % 4096;
	data = fz_take(f, a.count, &got);
	a.count = (uint32_t)got;
	a.data = data;
	FZ_CHECK(uvfio_proto_region_access_encode(b, sizeof(b), with_data, &a) ==
			 (ssize_t)(UVFIO_REGION_ACCESS_SIZE + (with_data ? a.count : 0)),
		 "encode");
	FZ_CHECK(!uvfio_proto_region_access_decode(
			 b, UVFIO_REGION_ACCESS_SIZE + (with_data ? a.count : 0), with_data, &a2),
		 "decode(encode(REGION access)) fails");
	FZ_CHECK(a2.offset == a.offset && a2.region == a.region && a2.count == a.count &&
			 (!with_data || !memcmp(a2.data, data, a.count)),
		 "decode(encode(REGION access)) differs");
}

static void dma_access_shape(struct fz *f, const uint8_t *p, size_t len, bool with_data)
{
	static uint8_t b[UVFIO_DMA_ACCESS_SIZE + 4096];
	struct uvfio_dma_access a, a2;
	const uint8_t *data;
	size_t got;

	if (!uvfio_proto_dma_access_decode(p, len, with_data, &a)) {
		if (!with_data && !len) {
			FZ_CHECK(!a.addr && !a.count, "header-only reply");
		} else {
			FZ_CHECK(len == UVFIO_DMA_ACCESS_SIZE + (with_data ? a.count : 0),
				 "DMA access of %zu bytes, count %llu accepted", len,
				 (unsigned long long)a.count);
			FZ_CHECK(uvfio_proto_dma_access_encode(b, sizeof(b), with_data, &a) ==
						 (ssize_t)len && !memcmp(b, p, len),
				 "encode(decode(DMA access)) differs");
		}
	}
	a.addr = fz_u64(f);
	a.count = fz_u16(f) % 4096;
	data = fz_take(f, a.count, &got);
	a.count = got;
	a.data = data;
	FZ_CHECK(uvfio_proto_dma_access_encode(b, sizeof(b), with_data, &a) ==
			 (ssize_t)(UVFIO_DMA_ACCESS_SIZE + (with_data ? a.count : 0)),
		 "encode");
	FZ_CHECK(!uvfio_proto_dma_access_decode(b, UVFIO_DMA_ACCESS_SIZE + (with_data ? a.count : 0),
						with_data, &a2),
		 "decode(encode(DMA access)) fails");
	FZ_CHECK(a2.addr == a.addr && a2.count == a.count &&
			 (!with_data || !memcmp(a2.data, data, a.count)),
		 "decode(encode(DMA access)) differs");
	/* A count the buffer can't hold, and one that overflows. */
	a.count = UINT64_MAX - 8;
	FZ_CHECK(uvfio_proto_dma_access_encode(b, sizeof(b), true, &a) < 0, "huge count encoded");
}

static void write_multi_shape(const uint8_t *p, size_t len)
{
	struct uvfio_write_multi_entry e;
	uint64_t n;

	if (uvfio_proto_write_multi_decode(p, len, &n))
		return;
	FZ_CHECK(n <= (len - UVFIO_WRITE_MULTI_HDR_SIZE) / UVFIO_WRITE_MULTI_ENTRY_SIZE &&
			 UVFIO_WRITE_MULTI_HDR_SIZE + n * UVFIO_WRITE_MULTI_ENTRY_SIZE == len,
		 "%llu entries in %zu bytes", (unsigned long long)n, len);
	for (uint64_t i = 0; i < n; i++) {
		int ret = uvfio_proto_write_multi_entry(p, len, i, &e);

		FZ_CHECK(!ret || (ret == -EINVAL && e.count > UVFIO_WRITE_MULTI_MAX_DATA),
			 "entry %llu: %d", (unsigned long long)i, ret);
	}
	FZ_CHECK(uvfio_proto_write_multi_entry(p, len, n, &e) == -EINVAL, "entry past the end");
	FZ_CHECK(uvfio_proto_write_multi_entry(p, len, UINT64_MAX / 8, &e) == -EINVAL, "huge index");
}

static void feature_shape(const uint8_t *p, size_t len)
{
	struct uvfio_device_feature ft;

	if (uvfio_proto_device_feature_decode(p, len, &ft)) {
		FZ_CHECK(len < UVFIO_DEVICE_FEATURE_SIZE, "feature of %zu bytes refused", len);
		return;
	}
	FZ_CHECK(ft.data == p + UVFIO_DEVICE_FEATURE_SIZE &&
			 ft.data_len == len - UVFIO_DEVICE_FEATURE_SIZE,
		 "feature data");
}

/* --- whole messages ---------------------------------------------------------------------- */

static void decode_payload(struct fz *f, const struct uvfio_hdr *h, const uint8_t *p, size_t len)
{
	bool reply = (h->flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_REPLY;

	if (reply && (h->flags & UVFIO_F_ERROR))
		return;
	switch (h->cmd) {
	case UVFIO_CMD_VERSION:
		version_bytes(p, len);
		break;
	case UVFIO_CMD_DMA_MAP:
		if (!reply)
			dma_map_shape(f, p, len);
		break;
	case UVFIO_CMD_DMA_UNMAP:
		dma_unmap_shape(f, p, len);
		break;
	case UVFIO_CMD_DEVICE_GET_INFO:
		device_info_shape(f, p, len);
		break;
	case UVFIO_CMD_DEVICE_GET_REGION_INFO:
		region_info_bytes(p, len, MAX_AREAS);
		break;
	case UVFIO_CMD_DEVICE_GET_IRQ_INFO:
		irq_info_shape(f, p, len);
		break;
	case UVFIO_CMD_DEVICE_SET_IRQS:
		if (!reply)
			irq_set_shape(f, p, len);
		break;
	case UVFIO_CMD_REGION_READ:
		region_access_shape(f, p, len, reply);
		break;
	case UVFIO_CMD_REGION_WRITE:
		region_access_shape(f, p, len, !reply);
		break;
	case UVFIO_CMD_DMA_READ:
		dma_access_shape(f, p, len, reply);
		break;
	case UVFIO_CMD_DMA_WRITE:
		dma_access_shape(f, p, len, !reply);
		break;
	case UVFIO_CMD_REGION_WRITE_MULTI:
		if (!reply)
			write_multi_shape(p, len);
		break;
	case UVFIO_CMD_DEVICE_FEATURE:
		feature_shape(p, len);
		break;
	default:
		break;
	}
}

static void message(struct fz *f)
{
	static const uint64_t xfer[] = { 0, 1, 16, 4096, 1u << 20, UINT32_MAX, UINT64_MAX / 2 };
	struct uvfio_proto_limits lim;
	uint8_t hb[UVFIO_HDR_SIZE], hb2[UVFIO_HDR_SIZE];
	struct uvfio_hdr h;
	unsigned nfds;
	const uint8_t *p;
	size_t len;
	bool raw;
	int ret, want;

	lim.max_data_xfer_size = xfer[fz_u8(f) % (sizeof(xfer) / sizeof(xfer[0]))];
	lim.max_msg_fds = fz_u8(f) % 20;
	nfds = fz_u8(f) % 20;
	fz_bytes(f, hb, sizeof(hb));
	uvfio_proto_hdr_decode(hb, &h);
	uvfio_proto_hdr_encode(hb2, &h);
	FZ_CHECK(!memcmp(hb, hb2, sizeof(hb)), "encode(decode(header)) differs");
	/* The header's size field describes what follows, as the transport guarantees. */
	raw = fz_u8(f) & 1;
	p = fz_take(f, f->n, &len);
	if (!raw)
		h.size = (uint32_t)(UVFIO_HDR_SIZE + len);

	ret = uvfio_proto_check(&h, nfds, &lim);
	want = expected_check(&h, nfds, &lim);
	FZ_CHECK(ret == want, "check of cmd %u flags 0x%x size %u nfds %u: %d, the table says %d",
		 h.cmd, h.flags, h.size, nfds, ret, want);
	FZ_CHECK(ret || h.size <= uvfio_proto_max_msg_size(&lim), "accepted %u bytes, max %llu",
		 h.size, (unsigned long long)uvfio_proto_max_msg_size(&lim));
	if (ret || h.size != UVFIO_HDR_SIZE + len)
		return;
	decode_payload(f, &h, p, len);
}

static void table(struct fz *f)
{
	uint16_t cmd = fz_u16(f);
	const struct uvfio_proto_cmd *c = uvfio_proto_cmd_get(cmd);
	const char *name = uvfio_proto_cmd_name(cmd);

	FZ_CHECK(name && *name, "no name for %u", cmd);
	FZ_CHECK(!c == (cmd == 0 || cmd > UVFIO_CMD_MAX), "cmd %u defined=%d", cmd, !!c);
	if (c)
		FZ_CHECK(!strcmp(c->name, name) && (c->dir == UVFIO_DIR_C2S || c->dir == UVFIO_DIR_S2C),
			 "row %u", cmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f, rest;
	const uint8_t *p;
	size_t len;

	if (!size)
		return 0;
	fz_init(&f, data + 1, size - 1);
	rest = f;
	p = fz_take(&rest, rest.n, &len);
	switch (data[0] % 16) {
	case 0:
		message(&f);
		break;
	case 1:
		version_bytes(p, len);
		break;
	case 2:
		version_value(&f);
		break;
	case 3:
		dma_map_shape(&f, p, len);
		break;
	case 4:
		dma_unmap_shape(&f, p, len);
		break;
	case 5:
		device_info_shape(&f, p, len);
		break;
	case 6:
		region_info_bytes(p, len, data[0] >> 4);
		break;
	case 7:
		region_info_value(&f);
		break;
	case 8:
		irq_info_shape(&f, p, len);
		break;
	case 9:
		irq_set_shape(&f, p, len);
		break;
	case 10:
		region_access_shape(&f, p, len, data[0] & 0x10);
		break;
	case 11:
		dma_access_shape(&f, p, len, data[0] & 0x10);
		break;
	case 12:
		write_multi_shape(p, len);
		break;
	case 13:
		feature_shape(p, len);
		break;
	case 14:
		table(&f);
		break;
	default:
		message(&f);
		break;
	}
	return 0;
}
