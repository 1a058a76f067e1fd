// SPDX-License-Identifier: BSD-3-Clause
/*
 * fzdev, the fuzzing model, and the wrapper that serves either it or the
 * dma model (see model.h).
 *
 * fzdev's layout, chosen to cover every routing decision of lib/emu:
 *
 *   BAR0   4 KiB memory, callbacks (the register block, repeated)
 *   BAR1   16 bytes of I/O space, callbacks (the same registers)
 *   BAR2   16 KiB 64-bit prefetchable, library memory, mmap-able pages 0
 *          and 2, page 1 served from memory by message, MSI-X table at
 *          0x3000 and PBA at 0x3800
 *   BAR4   256 bytes memory, read-only, library memory, not mmap-able
 *   ROM    4 KiB
 *   region 9   8 KiB device-specific, memory, mmap-able, with a type
 *   region 10  4 KiB device-specific, callbacks
 *   INTx, MSI (4 vectors, 32-bit, no masking), MSI-X (8), ERR, REQ
 *   PM, PCI Express, two vendor capabilities (one with a write mask, one
 *   hooked), Advanced Features at a fixed offset (0x40); extended: DSN, a hooked
 *   vendor capability with a write mask, and an AER-shaped one
 *
 * Writing the doorbell register runs one operation of the model-side API
 * with the arguments in the other registers; results are checked against
 * the API's documented return values.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dma/dma.h"
#include "fuzz_common.h"
#include "model.h"

#define FZ_BAR0_SIZE  0x1000
#define FZ_BAR1_SIZE  16
#define FZ_BAR2_SIZE  0x4000
#define FZ_BAR4_SIZE  256
#define FZ_ROM_SIZE   0x1000
#define FZ_R9_SIZE    0x2000
#define FZ_R10_SIZE   0x1000
#define FZ_MSIX_VECS  8
#define FZ_MAX_MAPS   4096
#define FZ_BUF_SIZE   (64 * 1024)

struct fzdev {
	struct fz_dev *dev;
	unsigned flags;
	uint8_t regs[FZ_REGS_SIZE];
	bool attached;
	uint64_t resets;
	/* mappings the model was told about */
	struct { uint64_t iova, size; } maps[FZ_MAX_MAPS];
	unsigned nmaps;
	bool maps_overflow;
	/* the hooked capabilities, found after realize */
	uint16_t hook_std, hook_ext;
	uint16_t hook_std_size, hook_ext_size;
	uint8_t buf[FZ_BUF_SIZE];
};

/* --- library promises --------------------------------------------------------------------- */

static void on_attach(void *priv)
{
	struct fzdev *m = priv;

	FZ_CHECK(!m->attached, "attach twice without detach");
	m->attached = true;
}

static void on_detach(void *priv)
{
	struct fzdev *m = priv;

	FZ_CHECK(m->attached, "detach without attach");
	FZ_CHECK(!m->nmaps && !m->maps_overflow,
		 "detach while the model still holds %u mappings (dma_unmap never came)", m->nmaps);
	m->attached = false;
}

static void on_dma_map(void *priv, uvfio_iova_t iova, uint64_t size, uint32_t prot)
{
	struct fzdev *m = priv;

	FZ_CHECK(size && !(prot & ~(UVFIO_EMU_DMA_READ | UVFIO_EMU_DMA_WRITE)) && prot,
		 "dma_map(0x%llx, 0x%llx, %u)", (unsigned long long)iova, (unsigned long long)size,
		 prot);
	FZ_CHECK(m->attached, "dma_map with no client");
	for (unsigned i = 0; i < m->nmaps; i++)
		FZ_CHECK(iova + size <= m->maps[i].iova || m->maps[i].iova + m->maps[i].size <= iova,
			 "dma_map of [0x%llx, +0x%llx) overlaps a live mapping",
			 (unsigned long long)iova, (unsigned long long)size);
	if (m->nmaps == FZ_MAX_MAPS) {
		m->maps_overflow = true;
		return;
	}
	m->maps[m->nmaps].iova = iova;
	m->maps[m->nmaps].size = size;
	m->nmaps++;
}

static void on_dma_unmap(void *priv, uvfio_iova_t iova, uint64_t size)
{
	struct fzdev *m = priv;

	for (unsigned i = 0; i < m->nmaps; i++) {
		if (m->maps[i].iova == iova && m->maps[i].size == size) {
			m->maps[i] = m->maps[--m->nmaps];
			return;
		}
	}
	FZ_CHECK(m->maps_overflow, "dma_unmap of [0x%llx, +0x%llx), which was never mapped",
		 (unsigned long long)iova, (unsigned long long)size);
	if (!m->nmaps)
		m->maps_overflow = false;
}

static int on_reset(void *priv, enum uvfio_emu_reset_reason why)
{
	struct fzdev *m = priv;

	FZ_CHECK(why >= UVFIO_EMU_RESET_DEVICE && why <= UVFIO_EMU_RESET_PM, "reset reason %d", why);
	memset(m->regs, 0, sizeof(m->regs));
	m->resets++;
	return 0;
}

/*
 * Hooked capability bytes: inside the capability and within one dword.
 * Reads never include the header (ID, next), which the library answers;
 * writes are reported as the client made them, header bytes included.
 */
static void hook_bounds(struct fzdev *m, uint32_t off, uint32_t len, bool write)
{
	uint32_t skip_std = write ? 0 : 2, skip_ext = write ? 0 : 4;
	bool in_std = m->hook_std && off >= m->hook_std + skip_std &&
		      off + len <= m->hook_std + m->hook_std_size;
	bool in_ext = m->hook_ext && off >= m->hook_ext + skip_ext &&
		      off + len <= m->hook_ext + m->hook_ext_size;

	FZ_CHECK(len >= 1 && len <= 4 && (off & ~3u) == ((off + len - 1) & ~3u),
		 "hook access [0x%x, +%u) crosses a dword", off, len);
	FZ_CHECK(in_std || in_ext, "hook %s [0x%x, +%u) outside the hooked capabilities",
		 write ? "write" : "read", off, len);
}

static int on_cfg_read(void *priv, uint32_t offset, void *buf, uint32_t len)
{
	struct fzdev *m = priv;
	uint8_t *b = buf;

	hook_bounds(m, offset, len, false);
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)((offset + i) * 7 + m->regs[0]);
	return m->regs[FZ_REG_FAIL] == 0xcf && !(m->flags & FZ_DEV_TAME) ? -EIO : 0;
}

static int on_cfg_write(void *priv, uint32_t offset, const void *buf, uint32_t len)
{
	struct fzdev *m = priv;

	hook_bounds(m, offset, len, true);
	return ((const uint8_t *)buf)[0] == 0xee && !(m->flags & FZ_DEV_TAME) ? -EIO : 0;
}

static const struct uvfio_emu_ops fz_ops = {
	.reset = on_reset,
	.dma_map = on_dma_map,
	.dma_unmap = on_dma_unmap,
	.attach = on_attach,
	.detach = on_detach,
	.cfg_read = on_cfg_read,
	.cfg_write = on_cfg_write,
};

/* --- the operations ------------------------------------------------------------------------ */

static uint64_t reg64(const struct fzdev *m, unsigned off)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)m->regs[off + i] << (8 * i);
	return v;
}

static uint32_t reg32(const struct fzdev *m, unsigned off)
{
	return (uint32_t)reg64(m, off);
}

static void touch(uint8_t *p, uint64_t n, bool write)
{
	volatile uint8_t sink = 0;

	for (uint64_t i = 0; i < n; i++) {
		sink ^= p[i];
		if (write)
			p[i] = (uint8_t)i;
	}
	(void)sink;
}

static void op_ptr(struct fzdev *m, uint64_t iova, uint64_t len, uint32_t prot)
{
	void *p = NULL;
	uint64_t contig = 0;
	int ret;

	if (!len)
		len = 1;
	ret = uvfio_emu_dma_ptr(m->dev->emu, iova, len, prot, &p, &contig);
	FZ_CHECK(!ret || ret == -EFAULT || ret == -EACCES || ret == -EPERM || ret == -EREMOTE ||
			 ret == -EINVAL,
		 "dma_ptr: %d", ret);
	if (ret)
		return;
	FZ_CHECK(p && contig >= 1 && contig <= len, "dma_ptr gave %llu of %llu bytes",
		 (unsigned long long)contig, (unsigned long long)len);
	touch(p, contig, prot & UVFIO_EMU_DMA_WRITE);
}

static void op_ptrv(struct fzdev *m, uint64_t iova, uint64_t len, uint32_t prot)
{
	struct uvfio_emu_sg sg[24];
	unsigned n = 1 + m->regs[FZ_REG_VECTOR] % 24;
	uint64_t stride = (uint64_t)m->regs[FZ_REG_STRIDE] * 512;
	int ret;

	for (unsigned i = 0; i < n; i++)
		sg[i] = (struct uvfio_emu_sg){ .iova = iova + i * stride, .len = len, .ptr = NULL };
	ret = uvfio_emu_dma_ptrv(m->dev->emu, sg, n, prot);
	FZ_CHECK(ret == -EPERM || ret == -EINVAL || (ret >= 0 && (unsigned)ret <= n),
		 "dma_ptrv: %d of %u", ret, n);
	for (int i = 0; i < ret; i++) {
		FZ_CHECK(sg[i].ptr && sg[i].len >= 1 && sg[i].len <= len,
			 "dma_ptrv element %d: %llu of %llu bytes", i, (unsigned long long)sg[i].len,
			 (unsigned long long)len);
		touch(sg[i].ptr, sg[i].len, prot & UVFIO_EMU_DMA_WRITE);
	}
}

static void run_op(struct fzdev *m)
{
	struct uvfio_emu *emu = m->dev->emu;
	uint64_t iova = reg64(m, FZ_REG_IOVA), fault = 0;
	uint32_t len = reg32(m, FZ_REG_LEN) % FZ_BUF_SIZE;
	uint32_t prot = m->regs[FZ_REG_PROT];
	uint32_t coff = m->regs[FZ_REG_CFG_OFF] | (uint32_t)m->regs[FZ_REG_CFG_OFF + 1] << 8;
	uint32_t clen = m->regs[FZ_REG_CFG_LEN] % 16;
	int ret;

	switch (m->regs[FZ_REG_DOORBELL] % FZ_OP_MAX) {
	case FZ_OP_DMA_READ:
		ret = uvfio_emu_dma_read(emu, iova, m->buf, len);
		FZ_CHECK(ret <= 0 && ret != -EREMOTE, "dma_read: %d", ret);
		break;
	case FZ_OP_DMA_WRITE:
		ret = uvfio_emu_dma_write(emu, iova, m->buf, len);
		FZ_CHECK(ret <= 0 && ret != -EREMOTE, "dma_write: %d", ret);
		break;
	case FZ_OP_DMA_PTR:
		op_ptr(m, iova, len, prot);
		break;
	case FZ_OP_DMA_PTRV:
		op_ptrv(m, iova, len ? len : 1, prot);
		break;
	case FZ_OP_DMA_CHECK:
		ret = uvfio_emu_dma_check(emu, iova, len, prot, &fault);
		FZ_CHECK(!ret || ret == -EFAULT || ret == -EACCES || ret == -EPERM || ret == -EINVAL,
			 "dma_check: %d", ret);
		if (ret == -EFAULT || ret == -EACCES)
			FZ_CHECK(fault >= iova && fault - iova < (len ? len : 1),
				 "dma_check fault 0x%llx outside [0x%llx, +%u)",
				 (unsigned long long)fault, (unsigned long long)iova, len);
		break;
	case FZ_OP_IRQ_RAISE:
		ret = uvfio_emu_irq_raise(emu, m->regs[FZ_REG_VECTOR]);
		FZ_CHECK(ret == 0 || ret == 1 || ret == -ENOLINK || ret == -EINVAL || ret == -EPERM,
			 "irq_raise: %d", ret);
		break;
	case FZ_OP_IRQ_SIGNAL:
		ret = uvfio_emu_irq_signal(emu, m->regs[FZ_REG_INDEX] % 6);
		FZ_CHECK(ret == 1 || ret == -ENOLINK || ret == -EINVAL, "irq_signal: %d", ret);
		break;
	case FZ_OP_CFG_READ:
		ret = uvfio_emu_cfg_read(emu, coff, m->buf, clen);
		FZ_CHECK(!ret || ret == -EINVAL, "cfg_read: %d", ret);
		FZ_CHECK(!ret == (coff + clen <= UVFIO_PCI_CFG_SIZE_PCIE), "cfg_read [0x%x, +%u): %d",
			 coff, clen, ret);
		break;
	case FZ_OP_CFG_WRITE:
		if (m->flags & FZ_DEV_TAME)
			break;
		/* Status and the vendor capabilities are the device's to change. */
		ret = uvfio_emu_cfg_write(emu, coff, m->regs + 0x30, clen);
		FZ_CHECK(!ret == (coff + clen <= UVFIO_PCI_CFG_SIZE_PCIE), "cfg_write [0x%x, +%u): %d",
			 coff, clen, ret);
		break;
	default:
		break;
	}
}

static int regs_access(void *priv, uint32_t index, uint64_t off, uint8_t *buf, uint32_t len,
		       bool write)
{
	struct fzdev *m = priv;
	uint64_t size = index == 0 ? FZ_BAR0_SIZE : index == 1 ? FZ_BAR1_SIZE : FZ_R10_SIZE;
	bool bell = false;

	FZ_CHECK(index == 0 || index == 1 || index == 10, "callback for region %u", index);
	FZ_CHECK(len && off < size && len <= size - off,
		 "region %u access [0x%llx, +%u) outside its 0x%llx bytes", index,
		 (unsigned long long)off, len, (unsigned long long)size);
	if (m->regs[FZ_REG_FAIL] == 0xee)
		return -EIO;
	for (uint32_t i = 0; i < len; i++) {
		unsigned r = (unsigned)((off + i) % FZ_REGS_SIZE);

		if (write) {
			m->regs[r] = buf[i];
			bell |= r == FZ_REG_DOORBELL;
		} else {
			buf[i] = m->regs[r];
		}
	}
	if (bell)
		run_op(m);
	return 0;
}

static int regs_read(void *priv, uint32_t index, uint64_t off, void *buf, uint32_t len)
{
	return regs_access(priv, index, off, buf, len, false);
}

static int regs_write(void *priv, uint32_t index, uint64_t off, const void *buf, uint32_t len)
{
	return regs_access(priv, index, off, (uint8_t *)buf, len, true);
}

static const struct uvfio_emu_region_ops regs_ops = { .read = regs_read, .write = regs_write };

/* --- building fzdev --------------------------------------------------------------------------- */

static int fz_regions(struct uvfio_emu *emu)
{
	static const struct uvfio_sparse_area bar2_areas[] = { { 0, 0x1000 }, { 0x2000, 0x1000 } };
	const uint32_t rw = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE;
	struct uvfio_emu_region r[] = {
		{ .flags = rw, .size = FZ_BAR0_SIZE, .ops = &regs_ops },
		{ .flags = rw | UVFIO_EMU_BAR_IO, .size = FZ_BAR1_SIZE, .ops = &regs_ops },
		{ .flags = rw | UVFIO_EMU_REGION_MEM | UVFIO_EMU_REGION_MMAP | UVFIO_EMU_BAR_64 |
			   UVFIO_EMU_BAR_PREFETCH,
		  .size = FZ_BAR2_SIZE, .mmap_areas = bar2_areas, .nr_mmap_areas = 2 },
		{ .flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_MEM, .size = FZ_BAR4_SIZE },
		{ .flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_MEM, .size = FZ_ROM_SIZE },
		{ .flags = rw | UVFIO_EMU_REGION_MEM | UVFIO_EMU_REGION_MMAP, .size = FZ_R9_SIZE,
		  .type = 0x80000001, .subtype = 7 },
		{ .flags = rw, .size = FZ_R10_SIZE, .ops = &regs_ops, .type = 3, .subtype = 1 },
	};
	static const uint32_t index[] = { 0, 1, 2, 4, 6, 9, 10 };
	int ret;

	for (unsigned i = 0; i < sizeof(index) / sizeof(index[0]); i++) {
		r[i].argsz = sizeof(r[i]);
		ret = uvfio_emu_setup_region(emu, index[i], &r[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int fz_caps(struct uvfio_emu *emu)
{
	static const uint8_t vndr[14] = { 0, 'F', 'Z', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	static const uint8_t vndr_w[14] = { 0, 0, 0, 0, 0xff, 0xff, 0x0f, 0xf0, 0, 0, 0, 0, 0, 0xff };
	static const uint8_t hook[6] = { 0, 'H', 'K', 0, 0, 0 };
	static const uint8_t af[4] = { 0x06, 0x03, 0, 0 };
	static const uint8_t af_w[4] = { 0, 0, 0x01, 0 };
	static const uint8_t dsn[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t evndr[12] = { 0x0b, 0, 0x10, 0x01, 0xaa, 0xbb, 0xcc, 0xdd, 0, 0, 0, 0 };
	static const uint8_t evndr_w[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t aer[40] = { [0] = 0 };
	static const uint8_t aer_w[40] = { [4] = 0xff, [5] = 0xff, [16] = 0x11, [24] = 0x1f };
	const struct uvfio_emu_cap caps[] = {
		{ .id = UVFIO_PCI_CAP_ID_PM },
		{ .id = UVFIO_PCI_CAP_ID_EXP },
		{ .id = UVFIO_PCI_CAP_ID_VNDR, .size = 16, .data = vndr, .wmask = vndr_w },
		{ .id = UVFIO_PCI_CAP_ID_VNDR, .flags = UVFIO_EMU_CAP_HOOK, .size = 8, .data = hook },
		{ .id = UVFIO_PCI_CAP_ID_AF, .size = 6, .data = af, .wmask = af_w, .offset = 0x40 },
		{ .id = UVFIO_PCI_EXT_CAP_ID_DSN, .flags = UVFIO_EMU_CAP_EXTENDED, .version = 1,
		  .size = 12, .data = dsn },
		{ .id = UVFIO_PCI_EXT_CAP_ID_VNDR, .flags = UVFIO_EMU_CAP_EXTENDED | UVFIO_EMU_CAP_HOOK,
		  .version = 1, .size = 16, .data = evndr, .wmask = evndr_w },
		{ .id = UVFIO_PCI_EXT_CAP_ID_ERR, .flags = UVFIO_EMU_CAP_EXTENDED, .version = 2,
		  .size = 44, .data = aer, .wmask = aer_w },
	};
	int ret;

	for (unsigned i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		struct uvfio_emu_cap c = caps[i];

		c.argsz = sizeof(c);
		ret = uvfio_emu_add_cap(emu, &c, NULL);
		if (ret)
			return ret;
	}
	return 0;
}

/* The hooked capabilities, by walking the lists as a client would. */
static void find_hooks(struct fzdev *m)
{
	uint8_t cfg[UVFIO_PCI_CFG_SIZE_PCIE];
	unsigned pos;

	FZ_CHECK(!uvfio_emu_cfg_read(m->dev->emu, 0, cfg, sizeof(cfg)), "cfg_read");
	for (pos = cfg[UVFIO_PCI_CAPABILITY_LIST]; pos; pos = cfg[pos + 1]) {
		if (cfg[pos] == UVFIO_PCI_CAP_ID_VNDR && cfg[pos + 3] == 'H') {
			m->hook_std = (uint16_t)pos;
			m->hook_std_size = cfg[pos + UVFIO_PCI_VNDR_LEN];
		}
	}
	for (pos = UVFIO_PCI_EXT_CAP_START; pos; pos = (cfg[pos + 2] | cfg[pos + 3] << 8) >> 4) {
		if ((cfg[pos] | cfg[pos + 1] << 8) == UVFIO_PCI_EXT_CAP_ID_VNDR) {
			m->hook_ext = (uint16_t)pos;
			m->hook_ext_size = 16;
		}
	}
	FZ_CHECK(m->hook_std && m->hook_ext, "fzdev's hooked capabilities are missing");
}

static int fz_create(struct fz_dev *d, const struct uvfio_emu_opts *opts, unsigned flags)
{
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 0x1af4, .device_id = 0x10f2,
				       .subsys_vendor_id = 0x1af4, .subsys_id = 0x1100,
				       .revision = 3, .class_code = 0xff0001 };
	struct uvfio_emu_opts o = *opts;
	struct fzdev *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return -ENOMEM;
	m->dev = d;
	m->flags = flags;
	d->impl = m;
	o.ops = &fz_ops;
	o.priv = m;
	o.name = "fzdev";
	ret = uvfio_emu_create(&o, &d->emu);
	if (ret)
		return ret;
	if ((ret = uvfio_emu_setup_pci(d->emu, &id)) || (ret = fz_regions(d->emu)) ||
	    (ret = uvfio_emu_setup_irq(d->emu, UVFIO_PCI_INTX_IRQ_INDEX, 1)) ||
	    (ret = uvfio_emu_setup_irq(d->emu, UVFIO_PCI_ERR_IRQ_INDEX, 1)) ||
	    (ret = uvfio_emu_setup_irq(d->emu, UVFIO_PCI_REQ_IRQ_INDEX, 1)) ||
	    (ret = uvfio_emu_setup_msi(d->emu, 4, 0)) ||
	    (ret = uvfio_emu_setup_msix(d->emu, FZ_MSIX_VECS, 2, 0x3000, 2, 0x3800)) ||
	    (ret = fz_caps(d->emu)) || (ret = uvfio_emu_realize(d->emu)))
		return ret;
	find_hooks(m);
	d->bars[0] = (struct fz_bar){ FZ_BAR0_SIZE, 0 };
	d->bars[1] = (struct fz_bar){ FZ_BAR1_SIZE, UVFIO_EMU_BAR_IO };
	d->bars[2] = (struct fz_bar){ FZ_BAR2_SIZE, UVFIO_EMU_BAR_64 | UVFIO_EMU_BAR_PREFETCH };
	d->bars[4] = (struct fz_bar){ FZ_BAR4_SIZE, 0 };
	d->bars[6] = (struct fz_bar){ FZ_ROM_SIZE, 0 };
	d->intx = true;
	return 0;
}

int fz_dev_create(enum fz_dev_kind kind, const struct uvfio_emu_opts *o, unsigned flags,
		  struct fz_dev **out)
{
	struct fz_dev *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	d->kind = kind;
	if (kind == FZ_DEV_DMA) {
		struct dma_dev *dd;

		ret = dma_dev_create(o, &dd);
		if (!ret) {
			d->impl = dd;
			d->emu = dma_dev_emu(dd);
			d->bars[DMA_BAR_REGS] = (struct fz_bar){ DMA_REGS_SIZE, 0 };
			d->bars[DMA_BAR_MEM] = (struct fz_bar){
				DMA_MEM_SIZE, UVFIO_EMU_BAR_64 | UVFIO_EMU_BAR_PREFETCH };
			d->bars[DMA_BAR_IO] = (struct fz_bar){ DMA_IO_SIZE, UVFIO_EMU_BAR_IO };
			d->bars[6] = (struct fz_bar){ DMA_ROM_SIZE, 0 };
			d->intx = true;
		}
	} else {
		ret = fz_create(d, o, flags);
	}
	if (ret) {
		fz_dev_destroy(d);
		return ret;
	}
	*out = d;
	return 0;
}

void fz_dev_destroy(struct fz_dev *d)
{
	if (!d)
		return;
	if (d->kind == FZ_DEV_DMA) {
		dma_dev_destroy(d->impl);
	} else {
		struct fzdev *m = d->impl;

		uvfio_emu_destroy(d->emu);
		if (m)
			FZ_CHECK(!m->attached && !m->nmaps, "destroyed with a client or mappings left");
		free(m);
	}
	free(d);
}
