/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small NVMe driver written only against <uvfio/vfio.h>: it takes an NVMe
 * controller behind the kernel's VFIO (or a vfio-user socket), resets and
 * enables it with its admin queues in memory from uvfio_dma_alloc(),
 * identifies it, creates one I/O queue pair and reads blocks.
 *
 * One command is in flight at a time. Completions are found by polling the
 * completion queue's phase tag, or, in NVMEDRV_MSIX mode, by sleeping on
 * the queue's MSI-X vector's eventfd between looks. Nothing the controller
 * reports is trusted: a completion for a command that wasn't sent, an
 * identify structure that makes no sense or a controller that stops
 * answering ends in an error, and after a timeout or a protocol error the
 * driver refuses further commands (a late completion could land anywhere
 * in the queue's bookkeeping).
 */
#ifndef UVFIO_DRIVERS_NVMEDRV_H
#define UVFIO_DRIVERS_NVMEDRV_H

#include <stdint.h>

#include <uvfio/vfio.h>

struct nvmedrv;

enum nvmedrv_completion {
	NVMEDRV_POLL = 0, /* spin on the completion queue */
	NVMEDRV_MSIX,     /* sleep on MSI-X eventfds (vector 0: admin, 1: I/O) */
};

/**
 * struct nvmedrv_ctrl - what the controller says about itself.
 * @vid, @ssvid:  PCI vendor and subsystem vendor IDs, from identify
 * @serial, @model, @firmware: identify strings, trailing spaces removed,
 *                anything unprintable shown as '?'
 * @version:      the VS register (major << 16 | minor << 8 | tertiary)
 * @namespaces:   NN, the highest namespace ID
 * @max_transfer: bytes one read command moves in this driver (MDTS,
 *                capped by the bounce buffer)
 * @queue_depth:  entries of the I/O queues created
 */
struct nvmedrv_ctrl {
	uint16_t vid;
	uint16_t ssvid;
	char serial[21];
	char model[41];
	char firmware[9];
	uint32_t version;
	uint32_t namespaces;
	uint32_t max_transfer;
	uint32_t queue_depth;
};

/**
 * struct nvmedrv_ns - one namespace.
 * @nsid:       its ID
 * @blocks:     NSZE, its size in logical blocks
 * @block_size: bytes per logical block
 */
struct nvmedrv_ns {
	uint32_t nsid;
	uint64_t blocks;
	uint32_t block_size;
};

/**
 * nvmedrv_open() - open @name (anything uvfio_device_open() takes), check
 * it is an NVMe controller, enable memory space and bus mastering, reset
 * and enable the controller, identify it and create one I/O queue pair.
 * @opts: for uvfio_device_open() (logging), may be NULL
 * @mode: how completions are waited for
 * @out:  close with nvmedrv_close()
 *
 * Return: 0; -ENODEV (not an NVMe controller); -ENOTSUP (it can't use
 * 4 KiB pages or lacks the NVM command set); -ETIMEDOUT (the controller
 * did not become ready, or a command did not complete); -EIO (it failed a
 * command or reports a fatal status); -EPROTO (it answered nonsense);
 * another -errno from the library.
 */
int nvmedrv_open(const char *name, const struct uvfio_open_opts *opts,
		 enum nvmedrv_completion mode, struct nvmedrv **out);

/* Delete the I/O queues, disable the controller, close the device. Accepts NULL. */
void nvmedrv_close(struct nvmedrv *n);

struct uvfio_device *nvmedrv_device(struct nvmedrv *n);
const struct nvmedrv_ctrl *nvmedrv_ctrl(const struct nvmedrv *n);

/**
 * nvmedrv_identify_ns() - identify namespace @nsid.
 *
 * Return: 0; -ENOENT (inactive namespace: size 0); -EINVAL (@nsid 0 or
 * above the controller's count); -EPROTO (a block size outside 512 B to
 * the transfer size); -EIO/-ETIMEDOUT as for commands.
 */
int nvmedrv_identify_ns(struct nvmedrv *n, uint32_t nsid, struct nvmedrv_ns *out);

/**
 * nvmedrv_read() - read @nblocks blocks from @lba of namespace @ns->nsid
 * into @buf (@nblocks * @ns->block_size bytes), in as many commands as the
 * transfer size needs, through a bounce buffer the controller writes.
 *
 * The range is not checked against @ns->blocks, so a caller can see what
 * the controller does with a read past the end.
 *
 * Return: 0; -EINVAL (@nblocks 0 or the byte count overflows); -EIO (the
 * controller failed a command: nvmedrv_status() says why); -ETIMEDOUT.
 */
int nvmedrv_read(struct nvmedrv *n, const struct nvmedrv_ns *ns, uint64_t lba,
		 uint32_t nblocks, void *buf);

/* Status field of the last failed command: SCT << 8 | SC (0 after success). */
uint16_t nvmedrv_status(const struct nvmedrv *n);

/* Interrupts the driver has consumed from the eventfds (NVMEDRV_MSIX). */
uint64_t nvmedrv_interrupts(const struct nvmedrv *n);

#endif /* UVFIO_DRIVERS_NVMEDRV_H */
