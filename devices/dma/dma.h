/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The "dma" device model: a DMA engine served over vfio-user. See
 * dma_regs.h for its registers and docs/dma-device.md for its behaviour.
 */
#ifndef UVFIO_DEVICES_DMA_H
#define UVFIO_DEVICES_DMA_H

#include <uvfio/emu.h>

#include "dma_regs.h"

struct dma_dev;

/**
 * dma_dev_create() - build the device and realize it on @opts' socket.
 * @opts: context options (socket, logging); ops and priv are the model's
 * @out:  the device; free with dma_dev_destroy()
 *
 * Return: 0 or a negative errno from uvfio_emu_*.
 */
int dma_dev_create(const struct uvfio_emu_opts *opts, struct dma_dev **out);

/* The device's uvfio context, for uvfio_emu_run() and friends. */
struct uvfio_emu *dma_dev_emu(struct dma_dev *d);

/* Destroy the context and free. Accepts NULL. */
void dma_dev_destroy(struct dma_dev *d);

#endif /* UVFIO_DEVICES_DMA_H */
