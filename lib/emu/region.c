// SPDX-License-Identifier: BSD-3-Clause
/*
 * Regions: BARs, the expansion ROM, configuration space and device-specific
 * regions, reached by REGION_READ/WRITE or, for memory-backed parts, by the
 * client's own mmap of a memfd the library passes in GET_REGION_INFO.
 *
 * Each access is checked (index, permission, range, size) and then split:
 * the MSI-X table and PBA go to the interrupt code, bytes inside an
 * mmap-able area go to the shared memory (exactly what the client sees
 * through its mapping), the rest go to the model's callbacks or to the
 * memory. As on real hardware and in the kernel's vfio-pci, memory BARs
 * answer only while Memory Space is enabled in the command register and
 * I/O BARs only while I/O Space is (-EIO otherwise).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>

#include "emu_priv.h"

#define PAGE 4096u

static bool is_bar(uint32_t index)
{
	return index <= UVFIO_PCI_BAR5_REGION_INDEX;
}

static int check_region(uint32_t index, const struct uvfio_emu_region *r)
{
	uint32_t known = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE | UVFIO_EMU_REGION_MMAP |
			 UVFIO_EMU_REGION_MEM | UVFIO_EMU_BAR_IO | UVFIO_EMU_BAR_64 |
			 UVFIO_EMU_BAR_PREFETCH;
	uint32_t bar_bits = UVFIO_EMU_BAR_IO | UVFIO_EMU_BAR_64 | UVFIO_EMU_BAR_PREFETCH;

	if (!r || r->argsz < sizeof(*r) || (r->flags & ~known) || !r->size)
		return -EINVAL;
	if (index == UVFIO_PCI_CONFIG_REGION_INDEX || index == UVFIO_PCI_VGA_REGION_INDEX ||
	    index >= EMU_MAX_REGIONS)
		return -EINVAL;
	if (!is_bar(index) && (r->flags & bar_bits))
		return -EINVAL;
	if ((r->flags & UVFIO_EMU_REGION_MMAP) && !(r->flags & UVFIO_EMU_REGION_MEM))
		return -EINVAL;
	if (r->nr_mmap_areas > EMU_MAX_AREAS || (r->nr_mmap_areas && !r->mmap_areas))
		return -EINVAL;
	if (is_bar(index)) {
		if (!is_pow2_u64(r->size))
			return -EINVAL;
		if (r->flags & UVFIO_EMU_BAR_IO) {
			if (r->size < 4 || r->size > 256 || (r->flags & (UVFIO_EMU_BAR_64 |
				UVFIO_EMU_BAR_PREFETCH | UVFIO_EMU_REGION_MMAP)))
				return -EINVAL;
		} else if (r->size < 16) {
			return -EINVAL;
		}
		if (!(r->flags & UVFIO_EMU_BAR_64) && r->size > (1ull << 31))
			return -EINVAL;
		if ((r->flags & UVFIO_EMU_BAR_64) && index == UVFIO_PCI_BAR5_REGION_INDEX)
			return -EINVAL;
	}
	if (index == UVFIO_PCI_ROM_REGION_INDEX &&
	    (!is_pow2_u64(r->size) || r->size < 2048 || r->size > (1ull << 31) ||
	     (r->flags & (UVFIO_EMU_REGION_WRITE | UVFIO_EMU_REGION_MMAP))))
		return -EINVAL;
	for (uint32_t i = 0; i < r->nr_mmap_areas; i++) {
		const struct uvfio_sparse_area *a = &r->mmap_areas[i];

		if ((a->offset | a->size) % PAGE || !a->size || !range_within(a->offset, a->size,
									    align_up_u64(r->size, PAGE)))
			return -EINVAL;
	}
	return 0;
}

static int alloc_mem(struct uvfio_emu *emu, struct emu_region *reg, uint32_t index)
{
	char name[32];
	void *p;

	snprintf(name, sizeof(name), "uvfio-%s-%u", index < 6 ? "bar" : "region", index);
	reg->mem_size = align_up_u64(reg->size, PAGE);
	reg->memfd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (reg->memfd < 0)
		return -errno;
	if (ftruncate(reg->memfd, (off_t)reg->mem_size) < 0)
		return -errno;
	/* Clients get this fd; sealing its size keeps them from making us SIGBUS. */
	if (fcntl(reg->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	p = mmap(NULL, reg->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, reg->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	reg->mem = p;
	return 0;
}

static void region_clear(struct emu_region *reg)
{
	if (reg->mem)
		munmap(reg->mem, reg->mem_size);
	close_fd(&reg->memfd);
	memset(reg, 0, sizeof(*reg));
	reg->memfd = -1;
}

int uvfio_emu_setup_region(struct uvfio_emu *emu, uint32_t index, const struct uvfio_emu_region *r)
{
	struct emu_region *reg;
	int ret;

	if (emu->realized)
		return -EBUSY;
	ret = check_region(index, r);
	if (ret)
		return ret;
	reg = &emu->regions[index];
	if (reg->present || reg->upper_half)
		return reg->upper_half ? -EINVAL : -EEXIST;
	if ((r->flags & UVFIO_EMU_BAR_64) && (emu->regions[index + 1].present))
		return -EINVAL;
	reg->flags = r->flags;
	reg->size = r->size;
	reg->ops = r->ops;
	reg->type = r->type;
	reg->subtype = r->subtype;
	reg->nr_req_areas = r->nr_mmap_areas;
	if (r->nr_mmap_areas)
		memcpy(reg->req_areas, r->mmap_areas, r->nr_mmap_areas * sizeof(*r->mmap_areas));
	if (r->flags & UVFIO_EMU_REGION_MEM) {
		ret = alloc_mem(emu, reg, index);
		if (ret) {
			region_clear(reg);
			return ret;
		}
	}
	reg->present = true;
	if (r->flags & UVFIO_EMU_BAR_64)
		emu->regions[index + 1].upper_half = true;
	return 0;
}

int uvfio_emu_region_mem(struct uvfio_emu *emu, uint32_t index, void **mem)
{
	if (index >= EMU_MAX_REGIONS || !emu->regions[index].mem)
		return -EINVAL;
	*mem = emu->regions[index].mem;
	return 0;
}

void uvfio__emu_regions_free(struct uvfio_emu *emu)
{
	for (unsigned i = 0; i < EMU_MAX_REGIONS; i++)
		region_clear(&emu->regions[i]);
}

/* Remove [start, end) from the area list (page-granular). */
static void areas_cut(struct emu_region *reg, uint64_t start, uint64_t end)
{
	struct uvfio_sparse_area out[EMU_MAX_AREAS + 2];
	uint32_t n = 0;

	for (uint32_t i = 0; i < reg->nr_areas; i++) {
		uint64_t s = reg->areas[i].offset, e = s + reg->areas[i].size;

		if (e <= start || s >= end) {
			out[n++] = reg->areas[i];
			continue;
		}
		if (s < start)
			out[n++] = (struct uvfio_sparse_area){ s, start - s };
		if (e > end && n < ARRAY_SIZE(out))
			out[n++] = (struct uvfio_sparse_area){ end, e - end };
	}
	reg->nr_areas = MIN(n, (uint32_t)EMU_MAX_AREAS);
	memcpy(reg->areas, out, reg->nr_areas * sizeof(*out));
}

int uvfio__emu_regions_realize(struct uvfio_emu *emu)
{
	struct emu_irqs *irq = &emu->irqs;
	uint32_t last = UVFIO_PCI_NUM_REGIONS;

	for (uint32_t i = 0; i < EMU_MAX_REGIONS; i++) {
		struct emu_region *reg = &emu->regions[i];

		if (!reg->present)
			continue;
		if (i >= UVFIO_PCI_NUM_REGIONS)
			last = MAX(last, i + 1);
		if (!(reg->flags & UVFIO_EMU_REGION_MMAP))
			continue;
		if (reg->nr_req_areas) {
			memcpy(reg->areas, reg->req_areas, reg->nr_req_areas * sizeof(reg->areas[0]));
			reg->nr_areas = reg->nr_req_areas;
		} else {
			reg->areas[0] = (struct uvfio_sparse_area){ 0, reg->mem_size };
			reg->nr_areas = 1;
		}
		if (irq->msix_table && irq->msix_table_bar == i) {
			uint64_t s = irq->msix_table_off & ~(uint64_t)(PAGE - 1);
			uint64_t e = irq->msix_table_off + (uint64_t)emu->irqs.idx[2].count * 16;

			areas_cut(reg, s, align_up_u64(e, PAGE));
		}
		if (irq->msix_table && irq->msix_pba_bar == i) {
			uint64_t s = irq->msix_pba_off & ~(uint64_t)(PAGE - 1);
			uint64_t e = irq->msix_pba_off + ((emu->irqs.idx[2].count + 63) / 64) * 8;

			areas_cut(reg, s, align_up_u64(e, PAGE));
		}
		reg->whole_mmap = reg->nr_areas == 1 && reg->areas[0].offset == 0 &&
				  reg->areas[0].size >= reg->size;
	}
	emu->nregions = last;
	return 0;
}

/* --- GET_REGION_INFO ----------------------------------------------------------------- */

static uint64_t region_size(const struct uvfio_emu *emu, uint32_t index)
{
	if (index == UVFIO_PCI_CONFIG_REGION_INDEX)
		return emu->cfg.size;
	if (index < EMU_MAX_REGIONS && emu->regions[index].present)
		return emu->regions[index].size;
	return 0;
}

static uint32_t region_flags(const struct uvfio_emu *emu, uint32_t index)
{
	const struct emu_region *reg;
	uint32_t f = 0;

	if (index == UVFIO_PCI_CONFIG_REGION_INDEX)
		return UVFIO_REGION_INFO_FLAG_READ | UVFIO_REGION_INFO_FLAG_WRITE;
	if (index >= EMU_MAX_REGIONS || !emu->regions[index].present)
		return 0;
	reg = &emu->regions[index];
	if (reg->flags & UVFIO_EMU_REGION_READ)
		f |= UVFIO_REGION_INFO_FLAG_READ;
	if (reg->flags & UVFIO_EMU_REGION_WRITE)
		f |= UVFIO_REGION_INFO_FLAG_WRITE;
	/* An mmap needs the fd, which needs a client that accepts fds. */
	if ((reg->flags & UVFIO_EMU_REGION_MMAP) && reg->nr_areas && emu->peer.max_msg_fds)
		f |= UVFIO_REGION_INFO_FLAG_MMAP;
	return f;
}

int uvfio__emu_get_region_info(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_region_info in, out;
	struct uvfio_region_caps caps = { 0 };
	const struct emu_region *reg = NULL;
	bool complete;
	uint8_t *buf;
	size_t cap;
	ssize_t n;
	int ret = uvfio_proto_region_info_decode(req->p, req->len, &in);

	if (ret)
		return ret;
	if (in.argsz < UVFIO_REGION_INFO_SIZE || in.index >= emu->nregions)
		return -EINVAL;
	if (in.index < EMU_MAX_REGIONS && emu->regions[in.index].present)
		reg = &emu->regions[in.index];
	out = (struct uvfio_region_info){
		.argsz = in.argsz,
		.index = in.index,
		.size = region_size(emu, in.index),
		.flags = region_flags(emu, in.index),
		.offset = 0,
	};
	if (reg && (out.flags & UVFIO_REGION_INFO_FLAG_MMAP) && !reg->whole_mmap) {
		caps.nr_areas = reg->nr_areas;
		caps.areas = reg->areas;
	}
	if (reg && in.index >= UVFIO_PCI_NUM_REGIONS) {
		caps.has_type = true;
		caps.type = reg->type;
		caps.subtype = reg->subtype;
	}
	cap = UVFIO_REGION_INFO_SIZE + 16 + EMU_MAX_AREAS * 16 + 16;
	ret = uvfio__emu_scratch(emu, cap, &buf);
	if (ret)
		return ret;
	n = uvfio_proto_region_info_encode(buf, cap, &out, &caps, &complete);
	if (n < 0)
		return (int)n;
	reply_add(rep, buf, (size_t)n);
	/* Like libvfio-user, attach the fd only to a complete reply. */
	if (complete && (out.flags & UVFIO_REGION_INFO_FLAG_MMAP)) {
		rep->fds[0] = reg->memfd;
		rep->nfds = 1;
	}
	return 0;
}

/* --- access ---------------------------------------------------------------------------- */

static bool in_mmap_area(const struct emu_region *reg, uint64_t off, uint32_t len, uint32_t *chunk)
{
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; i < reg->nr_areas; i++) {
		uint64_t s = reg->areas[i].offset, e = s + reg->areas[i].size;

		if (off >= s && off < e) {
			*chunk = (uint32_t)MIN((uint64_t)len, e - off);
			return true;
		}
		if (s > off)
			next = MIN(next, s);
	}
	*chunk = (uint32_t)MIN((uint64_t)len, next - off);
	return false;
}

enum route { TO_MSIX, TO_MEM, TO_OPS };

/* Where the piece of an access starting at @off goes, and how long it is. */
static enum route route(const struct uvfio_emu *emu, uint32_t index,
			const struct emu_region *reg, uint64_t off, uint32_t len, uint32_t *n)
{
	if (uvfio__emu_msix_hit(emu, index, off, len, n))
		return TO_MSIX;
	if (reg->mem && in_mmap_area(reg, off, *n, n))
		return TO_MEM;
	return reg->ops || !reg->mem ? TO_OPS : TO_MEM;
}

static int access_piece(struct uvfio_emu *emu, uint32_t index, struct emu_region *reg,
			uint64_t off, uint8_t *buf, uint32_t n, enum route to, bool write)
{
	switch (to) {
	case TO_MSIX:
		return uvfio__emu_msix_access(emu, index, off, buf, n, write);
	case TO_OPS:
		if (!reg->ops)
			return -EINVAL;
		if (write)
			return reg->ops->write ? reg->ops->write(emu->priv, index, off, buf, n) : -EINVAL;
		return reg->ops->read ? reg->ops->read(emu->priv, index, off, buf, n) : -EINVAL;
	default:
		if (write)
			memcpy(reg->mem + off, buf, n);
		else
			memcpy(buf, reg->mem + off, n);
		return 0;
	}
}

int uvfio__emu_region_access(struct uvfio_emu *emu, uint32_t index, uint64_t off, void *buf,
			     uint32_t len, bool write)
{
	struct emu_region *reg;
	uint16_t cmd;
	uint8_t *b = buf;

	if (index == UVFIO_PCI_CONFIG_REGION_INDEX)
		return uvfio__emu_cfg_access(emu, off, buf, len, write);
	if (index >= EMU_MAX_REGIONS || !emu->regions[index].present)
		return -EINVAL;
	reg = &emu->regions[index];
	if (!(reg->flags & (write ? UVFIO_EMU_REGION_WRITE : UVFIO_EMU_REGION_READ)))
		return -EINVAL;
	if (!range_within(off, len, reg->size))
		return -EINVAL;
	if (is_bar(index)) {
		cmd = uvfio__emu_cfg_get16(emu, UVFIO_PCI_COMMAND);
		if (!(cmd & ((reg->flags & UVFIO_EMU_BAR_IO) ? UVFIO_PCI_COMMAND_IO
							     : UVFIO_PCI_COMMAND_MEMORY)))
			return -EIO;
	}
	while (len) {
		uint32_t n;
		enum route to = route(emu, index, reg, off, len, &n);
		int ret = access_piece(emu, index, reg, off, b, n, to, write);

		if (ret)
			return ret;
		off += n;
		b += n;
		len -= n;
	}
	return 0;
}

int uvfio__emu_region_read(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_region_access a;
	uint8_t *buf;
	int ret = uvfio_proto_region_access_decode(req->p, req->len, false, &a);

	if (ret)
		return ret;
	if (a.count > emu->max_xfer)
		return -E2BIG;
	ret = uvfio__emu_scratch(emu, UVFIO_REGION_ACCESS_SIZE + a.count, &buf);
	if (ret)
		return ret;
	if (a.count) {
		ret = uvfio__emu_region_access(emu, a.region, a.offset, buf + UVFIO_REGION_ACCESS_SIZE,
					       a.count, false);
		if (ret)
			return ret;
	} else if (a.region >= emu->nregions) {
		return -EINVAL;
	}
	uvfio_proto_region_access_encode(buf, UVFIO_REGION_ACCESS_SIZE, false, &a);
	reply_add(rep, buf, UVFIO_REGION_ACCESS_SIZE + a.count);
	return 0;
}

int uvfio__emu_region_write(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_region_access a;
	uint8_t *buf, *data;
	int ret = uvfio_proto_region_access_decode(req->p, req->len, true, &a);

	if (ret)
		return ret;
	if (a.count > emu->max_xfer)
		return -E2BIG;
	if (a.count) {
		/* Handlers may write into their argument; the payload is const. */
		data = (uint8_t *)req->p + UVFIO_REGION_ACCESS_SIZE;
		ret = uvfio__emu_region_access(emu, a.region, a.offset, data, a.count, true);
		if (ret)
			return ret;
	} else if (a.region >= emu->nregions) {
		return -EINVAL;
	}
	ret = uvfio__emu_scratch(emu, UVFIO_REGION_ACCESS_SIZE, &buf);
	if (ret)
		return ret;
	uvfio_proto_region_access_encode(buf, UVFIO_REGION_ACCESS_SIZE, false, &a);
	reply_add(rep, buf, UVFIO_REGION_ACCESS_SIZE);
	return 0;
}

int uvfio__emu_region_write_multi(struct uvfio_emu *emu, struct emu_req *req,
				  struct emu_reply *rep)
{
	uint64_t n;
	uint8_t *buf;
	int ret;

	if (!emu->write_multi)
		return -ENOTSUP;
	ret = uvfio_proto_write_multi_decode(req->p, req->len, &n);
	if (ret)
		return ret;
	for (uint64_t i = 0; i < n; i++) {
		struct uvfio_write_multi_entry e;

		ret = uvfio_proto_write_multi_entry(req->p, req->len, i, &e);
		if (!ret && e.count)
			ret = uvfio__emu_region_access(emu, e.region, e.offset, e.data, e.count, true);
		if (ret)
			return ret;
	}
	ret = uvfio__emu_scratch(emu, UVFIO_WRITE_MULTI_HDR_SIZE, &buf);
	if (ret)
		return ret;
	put_le64(buf, n);
	reply_add(rep, buf, UVFIO_WRITE_MULTI_HDR_SIZE);
	return 0;
}
