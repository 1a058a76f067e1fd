// SPDX-License-Identifier: BSD-3-Clause
/*
 * The "dma" device model: a DMA engine that copies LEN bytes from SRC to
 * DST (bus addresses) when the driver writes START, then raises its
 * completion interrupt. It is written only against <uvfio/emu.h>: the
 * library owns configuration space, the MSI-X table, masking and the DMA
 * map table; the model keeps its registers and does the copy.
 *
 * The copy goes through the DMA API, so the client's mappings bound it: a
 * transfer that touches anything unmapped, or mapped without the needed
 * permission, copies nothing, sets STATUS.ERROR with a code and the
 * faulting address, and still completes (and interrupts). A transfer runs
 * to completion inside the register write that starts it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dma.h"

#define BOUNCE_SIZE (1u << 20)

struct dma_dev {
	struct uvfio_emu *emu;
	uint32_t ctrl;
	uint32_t status;
	uint64_t src, dst, len;
	uint64_t err_addr;
	uint32_t vector;
	uint32_t xfers;
	uint64_t bytes;
	uint32_t scratch;
	uint64_t cmpl;     /* completion record address, 0 = none */
	bool start;        /* START seen in the write being applied */
	uint8_t *bounce; /* for memory mapped without an fd */
};

static void regs_reset(struct dma_dev *d)
{
	d->ctrl = d->status = d->vector = d->xfers = d->scratch = 0;
	d->src = d->dst = d->len = d->err_addr = d->bytes = d->cmpl = 0;
	d->start = false;
}

static uint32_t lo(uint64_t v)
{
	return (uint32_t)v;
}

static uint32_t hi(uint64_t v)
{
	return (uint32_t)(v >> 32);
}

static uint32_t reg_read(struct dma_dev *d, uint32_t off)
{
	switch (off) {
	case DMA_REG_ID: return DMA_ID_MAGIC;
	case DMA_REG_VERSION: return DMA_VERSION;
	case DMA_REG_CTRL: return d->ctrl;
	case DMA_REG_STATUS: return d->status;
	case DMA_REG_SRC_LO: return lo(d->src);
	case DMA_REG_SRC_HI: return hi(d->src);
	case DMA_REG_DST_LO: return lo(d->dst);
	case DMA_REG_DST_HI: return hi(d->dst);
	case DMA_REG_LEN_LO: return lo(d->len);
	case DMA_REG_LEN_HI: return hi(d->len);
	case DMA_REG_ERR_LO: return lo(d->err_addr);
	case DMA_REG_ERR_HI: return hi(d->err_addr);
	case DMA_REG_IRQ_VECTOR: return d->vector;
	case DMA_REG_XFERS: return d->xfers;
	case DMA_REG_BYTES_LO: return lo(d->bytes);
	case DMA_REG_BYTES_HI: return hi(d->bytes);
	case DMA_REG_SCRATCH: return d->scratch;
	case DMA_REG_CMPL_LO: return lo(d->cmpl);
	case DMA_REG_CMPL_HI: return hi(d->cmpl);
	default: return 0;
	}
}

static void set_lo(uint64_t *r, uint32_t v)
{
	*r = (*r & ~0xffffffffull) | v;
}

static void set_hi(uint64_t *r, uint32_t v)
{
	*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
}

/*
 * Copy piece by piece: straight from pointer to pointer where both sides are
 * mapped with an fd, through the bounce buffer (and the client) where one
 * side isn't. The ranges were checked before, so errors here come from the
 * client failing a message-based transfer.
 */
static int copy(struct dma_dev *d, uint64_t src, uint64_t dst, uint64_t len)
{
	while (len) {
		void *s = NULL, *t = NULL;
		uint64_t ns = len, nt = len, n;
		int rs = uvfio_emu_dma_ptr(d->emu, src, len, UVFIO_EMU_DMA_READ, &s, &ns);
		int rt = uvfio_emu_dma_ptr(d->emu, dst, len, UVFIO_EMU_DMA_WRITE, &t, &nt);
		int ret;

		if ((rs && rs != -EREMOTE) || (rt && rt != -EREMOTE))
			return rs ? rs : rt;
		n = ns < nt ? ns : nt;
		if (!rs && !rt) {
			memmove(t, s, n);
		} else {
			uint8_t *from = s;

			if (!d->bounce && !(d->bounce = malloc(BOUNCE_SIZE)))
				return -ENOMEM;
			n = n < BOUNCE_SIZE ? n : BOUNCE_SIZE;
			if (rs) {
				ret = uvfio_emu_dma_read(d->emu, src, d->bounce, n);
				if (ret)
					return ret;
				from = d->bounce;
			}
			if (rt) {
				ret = uvfio_emu_dma_write(d->emu, dst, from, n);
				if (ret)
					return ret;
			} else {
				memcpy(t, from, n);
			}
		}
		src += n;
		dst += n;
		len -= n;
	}
	return 0;
}

static uint32_t error_code(int err, bool src_side)
{
	switch (err) {
	case -EPERM:
		return DMA_ERR_NO_MASTER;
	case -EFAULT:
	case -EACCES:
		return src_side ? DMA_ERR_SRC_FAULT : DMA_ERR_DST_FAULT;
	case -EINVAL:
		return DMA_ERR_WRAP;
	default:
		return DMA_ERR_TRANSFER;
	}
}

static void finish(struct dma_dev *d, uint32_t code, uint64_t addr)
{
	uint8_t rec[DMA_CMPL_SIZE];

	d->status &= ~(DMA_STATUS_BUSY | DMA_STATUS_CODE_MASK);
	d->status |= DMA_STATUS_DONE;
	if (code) {
		d->status |= DMA_STATUS_ERROR | code << DMA_STATUS_CODE_SHIFT;
		d->err_addr = addr;
	}
	d->xfers++;
	/* The record lands before the interrupt, as a completion queue entry would. */
	if (d->cmpl) {
		uint64_t ea = code ? addr : 0;

		for (int i = 0; i < 4; i++) {
			rec[DMA_CMPL_STATUS + i] = (uint8_t)(d->status >> (8 * i));
			rec[DMA_CMPL_XFERS + i] = (uint8_t)(d->xfers >> (8 * i));
		}
		for (int i = 0; i < 8; i++)
			rec[DMA_CMPL_ERR + i] = (uint8_t)(ea >> (8 * i));
		uvfio_emu_dma_write(d->emu, d->cmpl, rec, sizeof(rec));
	}
	if (d->ctrl & DMA_CTRL_IRQ)
		uvfio_emu_irq_raise(d->emu, d->vector);
}

static void run_transfer(struct dma_dev *d)
{
	uint64_t src = d->src, dst = d->dst, len = d->len, end, bad = 0;
	int ret;

	if (d->status & DMA_STATUS_BUSY) {
		finish(d, DMA_ERR_BUSY, src);
		return;
	}
	d->status = DMA_STATUS_BUSY;
	if (__builtin_add_overflow(src, len, &end) || __builtin_add_overflow(dst, len, &end)) {
		finish(d, DMA_ERR_WRAP, src);
		return;
	}
	if (!len) {
		finish(d, DMA_ERR_NONE, 0);
		return;
	}
	ret = uvfio_emu_dma_check(d->emu, src, len, UVFIO_EMU_DMA_READ, &bad);
	if (ret) {
		finish(d, error_code(ret, true), bad);
		return;
	}
	ret = uvfio_emu_dma_check(d->emu, dst, len, UVFIO_EMU_DMA_WRITE, &bad);
	if (ret) {
		finish(d, error_code(ret, false), bad);
		return;
	}
	ret = copy(d, src, dst, len);
	if (ret) {
		finish(d, DMA_ERR_TRANSFER, src);
		return;
	}
	d->bytes += len;
	finish(d, DMA_ERR_NONE, 0);
}

static void reg_write(struct dma_dev *d, uint32_t off, uint32_t v)
{
	switch (off) {
	case DMA_REG_CTRL:
		if (v & DMA_CTRL_RESET) {
			regs_reset(d);
			return;
		}
		d->ctrl = v & DMA_CTRL_IRQ;
		if (v & DMA_CTRL_START)
			d->start = true; /* acts when the whole write is in */
		break;
	case DMA_REG_STATUS:
		d->status &= ~(v & (DMA_STATUS_DONE | DMA_STATUS_ERROR));
		if (!(d->status & DMA_STATUS_ERROR))
			d->status &= ~DMA_STATUS_CODE_MASK;
		break;
	case DMA_REG_SRC_LO: set_lo(&d->src, v); break;
	case DMA_REG_SRC_HI: set_hi(&d->src, v); break;
	case DMA_REG_DST_LO: set_lo(&d->dst, v); break;
	case DMA_REG_DST_HI: set_hi(&d->dst, v); break;
	case DMA_REG_LEN_LO: set_lo(&d->len, v); break;
	case DMA_REG_LEN_HI: set_hi(&d->len, v); break;
	case DMA_REG_IRQ_VECTOR: d->vector = v; break;
	case DMA_REG_SCRATCH: d->scratch = v; break;
	case DMA_REG_CMPL_LO: set_lo(&d->cmpl, v); break;
	case DMA_REG_CMPL_HI: set_hi(&d->cmpl, v); break;
	default: break; /* read-only or unused: ignored, as hardware does */
	}
}

/*
 * Registers are 32-bit; an access of any size or alignment is applied to
 * the dwords it covers (a write merges its bytes into the current value).
 */
static int regs_access(struct dma_dev *d, uint64_t off, uint8_t *buf, uint32_t len, bool write)
{
	while (len) {
		uint32_t base = (uint32_t)(off & ~3ull), skip = (uint32_t)(off & 3);
		uint32_t n = 4 - skip < len ? 4 - skip : len;
		uint8_t b[4];
		uint32_t v = reg_read(d, base);

		memcpy(b, &v, 4);
		if (write) {
			memcpy(b + skip, buf, n);
			memcpy(&v, b, 4);
			reg_write(d, base, v);
		} else {
			memcpy(buf, b + skip, n);
		}
		off += n;
		buf += n;
		len -= n;
	}
	if (write && d->start) {
		d->start = false;
		run_transfer(d);
	}
	return 0;
}

static int bar_read(void *priv, uint32_t index, uint64_t off, void *buf, uint32_t len)
{
	return regs_access(priv, off, buf, len, false);
}

static int bar_write(void *priv, uint32_t index, uint64_t off, const void *buf, uint32_t len)
{
	return regs_access(priv, off, (uint8_t *)buf, len, true);
}

static const struct uvfio_emu_region_ops regs_ops = { .read = bar_read, .write = bar_write };

static int dev_reset(void *priv, enum uvfio_emu_reset_reason why)
{
	regs_reset(priv);
	return 0;
}

static const struct uvfio_emu_ops dev_ops = { .reset = dev_reset };

static int setup_regions(struct dma_dev *d)
{
	struct uvfio_emu_region regs = {
		.argsz = sizeof(regs),
		.flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE,
		.size = DMA_REGS_SIZE,
		.ops = &regs_ops,
	};
	struct uvfio_emu_region mem = {
		.argsz = sizeof(mem),
		.flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE | UVFIO_EMU_REGION_MEM |
			 UVFIO_EMU_REGION_MMAP | UVFIO_EMU_BAR_64 | UVFIO_EMU_BAR_PREFETCH,
		.size = DMA_MEM_SIZE,
	};
	struct uvfio_emu_region io = {
		.argsz = sizeof(io),
		.flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE | UVFIO_EMU_BAR_IO,
		.size = DMA_IO_SIZE,
		.ops = &regs_ops,
	};
	struct uvfio_emu_region rom = {
		.argsz = sizeof(rom),
		.flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_MEM,
		.size = DMA_ROM_SIZE,
	};
	static const char rom_text[] = "uvfio dma engine";
	uint8_t *r;
	int ret;

	if ((ret = uvfio_emu_setup_region(d->emu, DMA_BAR_REGS, &regs)) ||
	    (ret = uvfio_emu_setup_region(d->emu, DMA_BAR_MEM, &mem)) ||
	    (ret = uvfio_emu_setup_region(d->emu, DMA_BAR_IO, &io)) ||
	    (ret = uvfio_emu_setup_region(d->emu, UVFIO_PCI_ROM_REGION_INDEX, &rom)))
		return ret;
	ret = uvfio_emu_region_mem(d->emu, UVFIO_PCI_ROM_REGION_INDEX, (void **)&r);
	if (ret)
		return ret;
	r[0] = 0x55;
	r[1] = 0xaa;
	memcpy(r + 0x20, rom_text, sizeof(rom_text));
	return 0;
}

static int setup_caps(struct dma_dev *d)
{
	/* Vendor capability: length byte (filled by the library), then "UVDMA", version. */
	static const uint8_t vndr[8] = { 0, 'U', 'V', 'D', 'M', 'A', 1, 0 };
	/* Device Serial Number (extended): 64-bit serial. */
	static const uint8_t dsn[8] = { 0x01, 0x00, 0x00, 0x00, 0x56, 0x55, 0xd0, 0x0d };
	struct uvfio_emu_cap pm = { .argsz = sizeof(pm), .id = UVFIO_PCI_CAP_ID_PM };
	struct uvfio_emu_cap exp = { .argsz = sizeof(exp), .id = UVFIO_PCI_CAP_ID_EXP };
	struct uvfio_emu_cap vc = { .argsz = sizeof(vc), .id = UVFIO_PCI_CAP_ID_VNDR,
				    .size = 2 + sizeof(vndr), .data = vndr };
	struct uvfio_emu_cap sn = { .argsz = sizeof(sn), .flags = UVFIO_EMU_CAP_EXTENDED,
				    .id = UVFIO_PCI_EXT_CAP_ID_DSN, .version = 1,
				    .size = 4 + sizeof(dsn), .data = dsn };
	int ret;

	if ((ret = uvfio_emu_add_cap(d->emu, &pm, NULL)) ||
	    (ret = uvfio_emu_setup_msi(d->emu, 1, UVFIO_EMU_MSI_64BIT | UVFIO_EMU_MSI_MASKABLE)) ||
	    (ret = uvfio_emu_setup_msix(d->emu, DMA_MSIX_VECS, DMA_BAR_MEM, DMA_MSIX_TABLE,
					DMA_BAR_MEM, DMA_MSIX_PBA)) ||
	    (ret = uvfio_emu_add_cap(d->emu, &exp, NULL)) ||
	    (ret = uvfio_emu_add_cap(d->emu, &vc, NULL)) ||
	    (ret = uvfio_emu_add_cap(d->emu, &sn, NULL)))
		return ret;
	return 0;
}

int dma_dev_create(const struct uvfio_emu_opts *opts, struct dma_dev **out)
{
	struct uvfio_emu_pci_id id = {
		.argsz = sizeof(id),
		.vendor_id = DMA_PCI_VENDOR_ID,
		.device_id = DMA_PCI_DEVICE_ID,
		.subsys_vendor_id = DMA_PCI_VENDOR_ID,
		.subsys_id = DMA_PCI_DEVICE_ID,
		.revision = DMA_PCI_REVISION,
		.class_code = DMA_PCI_CLASS,
	};
	struct uvfio_emu_opts o = *opts;
	struct dma_dev *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	o.ops = &dev_ops;
	o.priv = d;
	if (!o.name)
		o.name = "dma";
	ret = uvfio_emu_create(&o, &d->emu);
	if (ret)
		goto fail;
	if ((ret = uvfio_emu_setup_pci(d->emu, &id)) || (ret = setup_regions(d)) ||
	    (ret = uvfio_emu_setup_irq(d->emu, UVFIO_PCI_INTX_IRQ_INDEX, 1)) ||
	    (ret = uvfio_emu_setup_irq(d->emu, UVFIO_PCI_ERR_IRQ_INDEX, 1)) ||
	    (ret = uvfio_emu_setup_irq(d->emu, UVFIO_PCI_REQ_IRQ_INDEX, 1)) ||
	    (ret = setup_caps(d)) || (ret = uvfio_emu_realize(d->emu)))
		goto fail;
	*out = d;
	return 0;
fail:
	dma_dev_destroy(d);
	return ret;
}

struct uvfio_emu *dma_dev_emu(struct dma_dev *d)
{
	return d->emu;
}

void dma_dev_destroy(struct dma_dev *d)
{
	if (!d)
		return;
	uvfio_emu_destroy(d->emu);
	free(d->bounce);
	free(d);
}
