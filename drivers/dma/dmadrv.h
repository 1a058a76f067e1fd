/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A driver for the uvfio "dma" engine (devices/dma, docs/dma-device.md),
 * written only against <uvfio/vfio.h>: the same code drives the device
 * served over a vfio-user socket and, were it real hardware, through the
 * kernel's VFIO.
 */
#ifndef UVFIO_DRIVERS_DMADRV_H
#define UVFIO_DRIVERS_DMADRV_H

#include <uvfio/vfio.h>

#include "dma/dma_regs.h"

struct dmadrv;

enum dmadrv_irq {
	DMADRV_IRQ_AUTO = 0, /* MSI-X, else MSI, else INTx */
	DMADRV_IRQ_MSIX,
	DMADRV_IRQ_MSI,
	DMADRV_IRQ_INTX,
};

/**
 * dmadrv_open() - open @name (anything uvfio_device_open takes), check it
 * is a dma engine (IDs and the ID register), enable memory space and bus
 * mastering, and set up the completion interrupt.
 * @opts: passed to uvfio_device_open (logging, timeouts), may be NULL
 * @irq:  which interrupt type to use
 *
 * Return: 0; -ENODEV (not a dma engine); -errno from the library.
 */
int dmadrv_open(const char *name, const struct uvfio_open_opts *opts, enum dmadrv_irq irq,
		struct dmadrv **out);

/* Disable the interrupt and close the device (and its container). Accepts NULL. */
void dmadrv_close(struct dmadrv *d);

struct uvfio_device *dmadrv_device(struct dmadrv *d);
struct uvfio_container *dmadrv_container(struct dmadrv *d);

/* The interrupt type in use. */
enum dmadrv_irq dmadrv_irq_mode(const struct dmadrv *d);
const char *dmadrv_irq_name(enum dmadrv_irq irq);

/**
 * dmadrv_copy() - copy @len bytes from bus address @src to @dst and wait
 * for the completion interrupt.
 * @timeout_ms: how long to wait for the interrupt
 *
 * Return: 0; -EIO when the device reports an error (see dmadrv_error);
 * -ETIMEDOUT when no interrupt came; -errno from the library.
 */
int dmadrv_copy(struct dmadrv *d, uvfio_iova_t dst, uvfio_iova_t src, uint64_t len,
		int timeout_ms);

/* The device's error code (DMA_ERR_*) and faulting bus address of the last copy. */
uint32_t dmadrv_error(const struct dmadrv *d, uint64_t *addr);

/* A sentence for an error code. */
const char *dmadrv_strerror(uint32_t code);

#endif /* UVFIO_DRIVERS_DMADRV_H */
