// SPDX-License-Identifier: BSD-3-Clause
/*
 * The dma engine driver. Probe by IDs and the ID register, enable the
 * device, point its completion record at a small DMA buffer, then per copy:
 * one burst register write that acknowledges the previous status, programs
 * SRC/DST/LEN and sets START, a sleep on the completion interrupt's
 * eventfd, and the status read from the record in memory — one round trip
 * to the device per copy. With INTx the interrupt masks itself, so each one
 * is followed by an unmask, as on real hardware behind the kernel's VFIO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dmadrv.h"

struct dmadrv {
	struct uvfio_device *dev;
	enum dmadrv_irq irq;
	uint32_t index;   /* VFIO IRQ index of the mode in use */
	uint32_t status;  /* of the last copy */
	uint64_t err_addr;
	uint32_t xfers;   /* transfers completed so far, as the device counts */
	struct uvfio_dma_buf cmpl; /* the completion record */
};

static int rd32(struct dmadrv *d, uint32_t off, uint32_t *v)
{
	return uvfio_device_read(d->dev, DMA_BAR_REGS, off, v, 4);
}

static int wr32(struct dmadrv *d, uint32_t off, uint32_t v)
{
	return uvfio_device_write(d->dev, DMA_BAR_REGS, off, &v, 4);
}

static int probe(struct dmadrv *d)
{
	uint16_t ids[2], cmd;
	uint32_t id;
	int ret = uvfio_device_cfg_read(d->dev, UVFIO_PCI_VENDOR_ID, ids, sizeof(ids));

	if (ret)
		return ret;
	if (ids[0] != DMA_PCI_VENDOR_ID || ids[1] != DMA_PCI_DEVICE_ID)
		return -ENODEV;
	ret = uvfio_device_cfg_read(d->dev, UVFIO_PCI_COMMAND, &cmd, 2);
	if (ret)
		return ret;
	cmd |= UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	ret = uvfio_device_cfg_write(d->dev, UVFIO_PCI_COMMAND, &cmd, 2);
	if (!ret)
		ret = rd32(d, DMA_REG_ID, &id);
	if (!ret && id != DMA_ID_MAGIC)
		ret = -ENODEV;
	return ret;
}

static int setup_irq(struct dmadrv *d, enum dmadrv_irq want)
{
	static const struct {
		enum dmadrv_irq mode;
		uint32_t index;
	} order[] = {
		{ DMADRV_IRQ_MSIX, UVFIO_PCI_MSIX_IRQ_INDEX },
		{ DMADRV_IRQ_MSI, UVFIO_PCI_MSI_IRQ_INDEX },
		{ DMADRV_IRQ_INTX, UVFIO_PCI_INTX_IRQ_INDEX },
	};
	int ret = -ENODEV;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		struct uvfio_irq_info info;

		if (want != DMADRV_IRQ_AUTO && want != order[i].mode)
			continue;
		ret = uvfio_device_irq_info(d->dev, order[i].index, &info);
		if (ret || !info.count) {
			ret = ret ? ret : -ENODEV;
			continue;
		}
		ret = uvfio_device_irq_enable(d->dev, order[i].index, 1);
		if (!ret) {
			d->irq = order[i].mode;
			d->index = order[i].index;
			return 0;
		}
	}
	return ret;
}

int dmadrv_open(const char *name, const struct uvfio_open_opts *opts, enum dmadrv_irq irq,
		struct dmadrv **out)
{
	struct dmadrv *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return -ENOMEM;
	ret = uvfio_device_open(name, opts, &d->dev);
	if (!ret)
		ret = probe(d);
	if (!ret)
		ret = setup_irq(d, irq);
	if (!ret)
		ret = wr32(d, DMA_REG_IRQ_VECTOR, 0);
	if (!ret)
		ret = uvfio_dma_alloc(dmadrv_container(d), DMA_CMPL_SIZE, UVFIO_DMA_WRITE, &d->cmpl);
	if (!ret)
		ret = wr32(d, DMA_REG_CMPL_LO, (uint32_t)d->cmpl.iova);
	if (!ret)
		ret = wr32(d, DMA_REG_CMPL_HI, (uint32_t)(d->cmpl.iova >> 32));
	if (!ret)
		ret = rd32(d, DMA_REG_XFERS, &d->xfers);
	if (ret) {
		dmadrv_close(d);
		return ret;
	}
	*out = d;
	return 0;
}

void dmadrv_close(struct dmadrv *d)
{
	if (!d)
		return;
	if (d->cmpl.vaddr) {
		wr32(d, DMA_REG_CMPL_LO, 0);
		wr32(d, DMA_REG_CMPL_HI, 0);
		uvfio_dma_free(dmadrv_container(d), &d->cmpl);
	}
	uvfio_device_close(d->dev);
	free(d);
}

struct uvfio_device *dmadrv_device(struct dmadrv *d)
{
	return d->dev;
}

struct uvfio_container *dmadrv_container(struct dmadrv *d)
{
	return uvfio_device_container(d->dev);
}

enum dmadrv_irq dmadrv_irq_mode(const struct dmadrv *d)
{
	return d->irq;
}

const char *dmadrv_irq_name(enum dmadrv_irq irq)
{
	switch (irq) {
	case DMADRV_IRQ_MSIX: return "MSI-X";
	case DMADRV_IRQ_MSI: return "MSI";
	case DMADRV_IRQ_INTX: return "INTx";
	default: return "auto";
	}
}

int dmadrv_copy(struct dmadrv *d, uvfio_iova_t dst, uvfio_iova_t src, uint64_t len,
		int timeout_ms)
{
	/* CTRL, STATUS (W1C acknowledgement of the last copy), SRC, DST, LEN. */
	uint32_t burst[8] = { DMA_CTRL_START | DMA_CTRL_IRQ, DMA_STATUS_DONE | DMA_STATUS_ERROR,
			      (uint32_t)src, (uint32_t)(src >> 32), (uint32_t)dst,
			      (uint32_t)(dst >> 32), (uint32_t)len, (uint32_t)(len >> 32) };
	volatile uint8_t *rec = d->cmpl.vaddr;
	uint32_t xfers;
	int ret;

	ret = uvfio_device_write(d->dev, DMA_BAR_REGS, DMA_REG_CTRL, burst, sizeof(burst));
	if (!ret)
		ret = uvfio_device_irq_wait(d->dev, d->index, 0, timeout_ms, NULL);
	if (!ret && d->irq == DMADRV_IRQ_INTX)
		ret = uvfio_device_irq_unmask(d->dev, UVFIO_PCI_INTX_IRQ_INDEX, 0, 1);
	if (ret)
		return ret;
	/* The device wrote the record before it raised the interrupt. */
	memcpy(&d->status, (const void *)(rec + DMA_CMPL_STATUS), 4);
	memcpy(&xfers, (const void *)(rec + DMA_CMPL_XFERS), 4);
	memcpy(&d->err_addr, (const void *)(rec + DMA_CMPL_ERR), 8);
	if (xfers != d->xfers + 1) {
		/* Not the record of this copy (a stale interrupt?): ask the registers. */
		uint32_t lo = 0, hi = 0;

		ret = rd32(d, DMA_REG_STATUS, &d->status);
		if (!ret)
			ret = rd32(d, DMA_REG_XFERS, &xfers);
		if (!ret)
			ret = rd32(d, DMA_REG_ERR_LO, &lo);
		if (!ret)
			ret = rd32(d, DMA_REG_ERR_HI, &hi);
		if (ret)
			return ret;
		d->err_addr = (d->status & DMA_STATUS_ERROR) ? (uint64_t)hi << 32 | lo : 0;
	}
	d->xfers = xfers;
	if (d->status & DMA_STATUS_ERROR)
		return -EIO;
	return d->status & DMA_STATUS_DONE ? 0 : -EIO;
}

uint32_t dmadrv_error(const struct dmadrv *d, uint64_t *addr)
{
	if (addr)
		*addr = d->err_addr;
	return (d->status & DMA_STATUS_CODE_MASK) >> DMA_STATUS_CODE_SHIFT;
}

const char *dmadrv_strerror(uint32_t code)
{
	switch (code) {
	case DMA_ERR_NONE: return "no error";
	case DMA_ERR_SRC_FAULT: return "the source is not mapped for the device to read";
	case DMA_ERR_DST_FAULT: return "the destination is not mapped for the device to write";
	case DMA_ERR_NO_MASTER: return "bus mastering is disabled";
	case DMA_ERR_WRAP: return "the transfer runs past the end of the bus address space";
	case DMA_ERR_TRANSFER: return "the client failed a message-based transfer";
	case DMA_ERR_BUSY: return "the engine was busy";
	default: return "an unknown error";
	}
}
