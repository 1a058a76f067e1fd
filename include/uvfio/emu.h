/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uvfio — device side: implement a software PCI device and serve it over
 * vfio-user.
 *
 * A device model describes its registers and does its work; the library
 * owns every VFIO rule: version negotiation, configuration space (virtualized
 * with per-byte permissions, BAR sizing, command/status, capabilities),
 * regions (read/write and mmap with sparse areas), the DMA map table with
 * Type1 semantics and translation for the model, interrupts (INTx with
 * automasking, MSI, MSI-X with per-vector and function masks and the
 * pending-bit array, ERR, REQ) and reset.
 *
 * Life cycle:
 *
 *	uvfio_emu_create(&opts, &emu);
 *	uvfio_emu_setup_pci(emu, &id);                  identity
 *	uvfio_emu_setup_region(emu, 0, &bar0);          BARs, ROM, extra regions
 *	uvfio_emu_setup_irq(emu, UVFIO_PCI_INTX_IRQ_INDEX, 1);
 *	uvfio_emu_setup_msix(emu, 4, 2, 0xe000, 2, 0xf000);
 *	uvfio_emu_add_cap(emu, &pm, NULL);              PM, PCIe, vendor, extended
 *	uvfio_emu_realize(emu);                         lays out config space, listens
 *	for (;;) uvfio_emu_run(emu);                    or poll + uvfio_emu_dispatch
 *	uvfio_emu_destroy(emu);
 *
 * The library creates no threads and never owns the caller's loop: it
 * exposes one pollable fd and a non-blocking uvfio_emu_dispatch(). Every
 * callback runs from inside uvfio_emu_dispatch() or uvfio_emu_run(), on the
 * caller's thread. A context is not thread-safe; serialise calls on it.
 *
 * A client is served until it disconnects; then its DMA mappings and
 * eventfds are dropped while the device state is kept, and the next client
 * is accepted. One client at a time: others wait in the listen backlog.
 *
 * All functions return 0 (or a documented count) on success and a negative
 * errno on failure. Setup functions return -EBUSY after uvfio_emu_realize().
 */
#ifndef UVFIO_EMU_H
#define UVFIO_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uvfio/common.h"
#include "uvfio/pci.h"
#include "uvfio/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uvfio_emu;

/* Why the device is being reset. */
enum uvfio_emu_reset_reason {
	UVFIO_EMU_RESET_DEVICE = 1, /* DEVICE_RESET from the client */
	UVFIO_EMU_RESET_FLR,        /* function-level reset through config space */
	UVFIO_EMU_RESET_PM,         /* D3hot -> D0 without No_Soft_Reset */
};

/**
 * struct uvfio_emu_ops - device model callbacks. Any may be NULL.
 * @reset:     put device registers back to their power-on values. The
 *             library has already cleared pending interrupts; DMA mappings
 *             and the client's interrupt setup survive a reset, as with the
 *             kernel's VFIO_DEVICE_RESET. Return 0 or -errno (sent back).
 * @dma_map:   a mapping was added (prot: UVFIO_EMU_DMA_READ/WRITE bits)
 * @dma_unmap: a mapping is about to go; drop every pointer into it before
 *             returning (the client may reuse the memory after the reply)
 * @attach:    a client finished version negotiation
 * @detach:    the client went away; its mappings and eventfds are gone
 * @cfg_read:  read @len bytes at config @offset inside a capability added
 *             with UVFIO_EMU_CAP_HOOK; fill @buf. Return 0 or -errno.
 * @cfg_write: a write inside such a capability, after the library applied
 *             the capability's write mask to its copy. Return 0 or -errno.
 */
struct uvfio_emu_ops {
	int (*reset)(void *priv, enum uvfio_emu_reset_reason reason);
	void (*dma_map)(void *priv, uvfio_iova_t iova, uint64_t size, uint32_t prot);
	void (*dma_unmap)(void *priv, uvfio_iova_t iova, uint64_t size);
	void (*attach)(void *priv);
	void (*detach)(void *priv);
	int (*cfg_read)(void *priv, uint32_t offset, void *buf, uint32_t len);
	int (*cfg_write)(void *priv, uint32_t offset, const void *buf, uint32_t len);
};

/* uvfio_emu_opts.flags: how to interpret @fd. Without either, use @socket_path. */
#define UVFIO_EMU_F_FD_LISTENING (1u << 0) /* fd is a listening socket */
#define UVFIO_EMU_F_FD_CONNECTED (1u << 1) /* fd is one connected client */

/**
 * struct uvfio_emu_opts - how to create a context.
 * @argsz:              sizeof(struct uvfio_emu_opts)
 * @flags:              UVFIO_EMU_F_*
 * @socket_path:        UNIX socket path to listen on; created at realize,
 *                      removed at destroy. A stale socket left by a crashed
 *                      server is replaced; a live one is -EADDRINUSE.
 *                      Created with the process umask: who can write to
 *                      the socket can drive the device (docs/security.md).
 * @fd:                 with an F_FD_* flag: a socket the context takes over
 * @name:               device name for log lines (e.g. "dma"), or NULL
 * @ops:                model callbacks, or NULL
 * @priv:               passed to every callback
 * @log:                log hook, or NULL for stderr
 * @log_priv:           passed to @log
 * @log_level:          enum uvfio_log_level (default off)
 * @max_data_xfer_size: largest REGION/DMA transfer accepted; 0: 1 MiB
 * @max_msg_fds:        fds accepted per message; 0: 16 (QEMU's maximum)
 * @max_dma_maps:       simultaneous DMA mappings; 0: 1048576
 * @reply_timeout_ms:   how long a DMA_READ/WRITE to the client may take
 *                      before it fails with -ETIMEDOUT; 0: 5000
 */
struct uvfio_emu_opts {
	uint32_t argsz;
	uint32_t flags;
	const char *socket_path;
	int fd;
	const char *name;
	const struct uvfio_emu_ops *ops;
	void *priv;
	uvfio_log_fn log;
	void *log_priv;
	int log_level;
	uint32_t max_data_xfer_size;
	uint32_t max_msg_fds;
	uint64_t max_dma_maps;
	uint32_t reply_timeout_ms;
};

/**
 * uvfio_emu_create() - make a device context.
 * @opts: options; copied (strings too)
 * @out:  the context; free with uvfio_emu_destroy()
 *
 * Return: 0, -EINVAL (bad options), -ENOMEM.
 */
UVFIO_EXPORT int uvfio_emu_create(const struct uvfio_emu_opts *opts, struct uvfio_emu **out);

/**
 * uvfio_emu_destroy() - disconnect the client, close every fd, remove the
 * socket path the context created, free. Accepts NULL and contexts that
 * were never realized.
 */
UVFIO_EXPORT void uvfio_emu_destroy(struct uvfio_emu *emu);

/* Change the log level at any time. */
UVFIO_EXPORT void uvfio_emu_set_log_level(struct uvfio_emu *emu, int level);

/**
 * struct uvfio_emu_pci_id - PCI identity.
 * @class_code: 24 bits: base class << 16 | subclass << 8 | prog-if
 */
struct uvfio_emu_pci_id {
	uint32_t argsz;
	uint16_t vendor_id;
	uint16_t device_id;
	uint16_t subsys_vendor_id;
	uint16_t subsys_id;
	uint8_t revision;
	uint32_t class_code;
};

/* Set the IDs (vendor 0xffff is refused: it means "no device"). */
UVFIO_EXPORT int uvfio_emu_setup_pci(struct uvfio_emu *emu, const struct uvfio_emu_pci_id *id);

/**
 * struct uvfio_emu_region_ops - callbacks for a region's accesses.
 *
 * @offset and @len are inside the region (checked by the library). Return 0
 * or -errno; the errno goes back to the client. Accesses are passed as the
 * client made them (any size, any alignment).
 */
struct uvfio_emu_region_ops {
	int (*read)(void *priv, uint32_t index, uint64_t offset, void *buf, uint32_t len);
	int (*write)(void *priv, uint32_t index, uint64_t offset, const void *buf, uint32_t len);
};

/* uvfio_emu_region.flags */
#define UVFIO_EMU_REGION_READ     (1u << 0)  /* client may read */
#define UVFIO_EMU_REGION_WRITE    (1u << 1)  /* client may write */
#define UVFIO_EMU_REGION_MMAP     (1u << 2)  /* client may mmap the backing memory */
#define UVFIO_EMU_REGION_MEM      (1u << 3)  /* library allocates shared backing memory */
#define UVFIO_EMU_BAR_IO          (1u << 8)  /* I/O-port BAR */
#define UVFIO_EMU_BAR_64          (1u << 9)  /* 64-bit memory BAR (uses the next BAR slot) */
#define UVFIO_EMU_BAR_PREFETCH    (1u << 10) /* prefetchable memory BAR */

/**
 * struct uvfio_emu_region - a BAR, the ROM or a device-specific region.
 * @argsz:         sizeof(struct uvfio_emu_region)
 * @flags:         UVFIO_EMU_REGION_* and, for BARs, UVFIO_EMU_BAR_*
 * @size:          bytes. BARs: a power of two, >= 16 (memory) or >= 4
 *                 (I/O, at most 256); ROM: a power of two >= 2048
 * @ops:           callbacks for accesses outside the mmap-able areas, or
 *                 NULL to serve them from the backing memory
 * @mmap_areas:    with UVFIO_EMU_REGION_MMAP, the parts the client may map
 *                 (page-aligned), or NULL for the whole region; the MSI-X
 *                 table and PBA pages are always excluded
 * @nr_mmap_areas: entries in @mmap_areas
 * @type:          index >= 9 only: VFIO region type, reported in a TYPE cap
 * @subtype:       index >= 9 only: VFIO region subtype
 *
 * Accesses inside an mmap-able area always go to the backing memory (the
 * same bytes the client sees through its mapping); the rest go to @ops, or
 * to the memory when @ops is NULL. Config space (index 7) is the library's.
 */
struct uvfio_emu_region {
	uint32_t argsz;
	uint32_t flags;
	uint64_t size;
	const struct uvfio_emu_region_ops *ops;
	const struct uvfio_sparse_area *mmap_areas;
	uint32_t nr_mmap_areas;
	uint32_t type;
	uint32_t subtype;
};

/**
 * uvfio_emu_setup_region() - describe region @index (0-5 BARs, 6 ROM,
 * 9 and up device-specific). Regions not set up are absent (size 0).
 *
 * Return: 0, -EINVAL (bad index, size or flags; the slot after a 64-bit
 * BAR), -EEXIST (already set up), -ENOMEM.
 */
UVFIO_EXPORT int uvfio_emu_setup_region(struct uvfio_emu *emu, uint32_t index,
					const struct uvfio_emu_region *r);

/**
 * uvfio_emu_region_mem() - the backing memory of a UVFIO_EMU_REGION_MEM
 * region (valid from setup until destroy; shared with clients that mmap).
 *
 * Return: 0 and *@mem, or -EINVAL (no such memory-backed region).
 */
UVFIO_EXPORT int uvfio_emu_region_mem(struct uvfio_emu *emu, uint32_t index, void **mem);

/**
 * uvfio_emu_setup_irq() - offer INTx (pin A), ERR or REQ interrupts.
 * @index: UVFIO_PCI_INTX_IRQ_INDEX, _ERR_IRQ_INDEX or _REQ_IRQ_INDEX
 * @count: 1 (0 leaves the index absent)
 */
UVFIO_EXPORT int uvfio_emu_setup_irq(struct uvfio_emu *emu, uint32_t index, uint32_t count);

/* uvfio_emu_setup_msi() flags */
#define UVFIO_EMU_MSI_64BIT    (1u << 0) /* 64-bit message address */
#define UVFIO_EMU_MSI_MASKABLE (1u << 1) /* per-vector mask and pending bits */

/**
 * uvfio_emu_setup_msi() - add an MSI capability with @nvec vectors
 * (1, 2, 4, 8, 16 or 32).
 */
UVFIO_EXPORT int uvfio_emu_setup_msi(struct uvfio_emu *emu, uint32_t nvec, uint32_t flags);

/**
 * uvfio_emu_setup_msix() - add an MSI-X capability.
 * @nvec:       vectors, 1-2048
 * @table_bar:  BAR holding the table; it must be a memory BAR set up with
 *              UVFIO_EMU_REGION_MEM before realize
 * @table_off:  8-byte aligned offset of the table in that BAR
 * @pba_bar:    BAR holding the pending-bit array
 * @pba_off:    8-byte aligned offset of the PBA
 *
 * The library serves the table and PBA itself; the model never sees those
 * accesses and they are never mmap-able.
 */
UVFIO_EXPORT int uvfio_emu_setup_msix(struct uvfio_emu *emu, uint32_t nvec, uint32_t table_bar,
				      uint32_t table_off, uint32_t pba_bar, uint32_t pba_off);

/* uvfio_emu_cap.flags */
#define UVFIO_EMU_CAP_EXTENDED (1u << 0) /* PCIe extended capability (0x100 and up) */
#define UVFIO_EMU_CAP_HOOK     (1u << 1) /* route accesses to ops->cfg_read/cfg_write */

/**
 * struct uvfio_emu_cap - a capability for the configuration space.
 * @argsz:   sizeof(struct uvfio_emu_cap)
 * @flags:   UVFIO_EMU_CAP_*
 * @id:      capability ID (UVFIO_PCI_CAP_ID_* or UVFIO_PCI_EXT_CAP_ID_*)
 * @version: extended capabilities: the 4-bit version
 * @size:    bytes including the header (2 bytes standard, 4 extended);
 *           0 with @data NULL: the library's size for PM (8) and PCIe (60)
 * @data:    contents after the header, @size minus header bytes; NULL for
 *           the library's defaults (PM: D0, no PME; PCIe: endpoint with FLR)
 * @wmask:   per-byte mask of bits the client may write, same length as
 *           @data; NULL = read-only (ignored for PM and PCIe defaults)
 * @offset:  where to place it, dword-aligned; 0 lets the library choose
 *
 * MSI and MSI-X are added with their own setup calls. A PCIe capability
 * makes configuration space 4096 bytes; extended capabilities need one.
 * A vendor-specific capability (ID 9) gets its length byte filled in.
 */
struct uvfio_emu_cap {
	uint32_t argsz;
	uint32_t flags;
	uint16_t id;
	uint8_t version;
	uint16_t size;
	const void *data;
	const void *wmask;
	uint16_t offset;
};

/**
 * uvfio_emu_add_cap() - queue a capability; placed at uvfio_emu_realize().
 * @offset_out: receives the offset it will have, or NULL (known only when
 *              @cap->offset was given; otherwise filled at realize — use
 *              uvfio_emu_find_cap() then)
 */
UVFIO_EXPORT int uvfio_emu_add_cap(struct uvfio_emu *emu, const struct uvfio_emu_cap *cap,
				   uint16_t *offset_out);

/**
 * uvfio_emu_find_cap() - offset of the first capability with @id.
 * @extended: search the extended list
 *
 * Return: the offset (> 0), or -ENOENT.
 */
UVFIO_EXPORT int uvfio_emu_find_cap(const struct uvfio_emu *emu, uint16_t id, bool extended);

/**
 * uvfio_emu_realize() - finish the device: lay out capabilities, build the
 * permission tables, open the socket. After this, only the run-time calls
 * below may be used.
 *
 * Return: 0, -EINVAL (inconsistent setup: overlapping capabilities, an
 * MSI-X table outside its BAR, extended capabilities without PCIe, ...),
 * -EADDRINUSE (a live server owns the socket path), or another -errno from
 * creating the socket.
 */
UVFIO_EXPORT int uvfio_emu_realize(struct uvfio_emu *emu);

/**
 * uvfio_emu_get_poll_fd() - an fd to poll for POLLIN; when it is readable,
 * call uvfio_emu_dispatch(). The fd stays the same for the context's life.
 */
UVFIO_EXPORT int uvfio_emu_get_poll_fd(const struct uvfio_emu *emu);

/**
 * uvfio_emu_dispatch() - handle whatever is ready, without blocking:
 * accept a waiting client, process complete messages, flush replies.
 *
 * Return: number of messages handled (>= 0), or a negative errno for a
 * failure of the context itself. A misbehaving client is disconnected
 * (ops->detach runs) and is not an error of the context.
 */
UVFIO_EXPORT int uvfio_emu_dispatch(struct uvfio_emu *emu);

/**
 * uvfio_emu_run() - serve one client, blocking: accept one if none is
 * attached, then process its messages until it disconnects.
 *
 * Return: 0 when the client disconnected; -EINTR when a signal interrupted
 * the wait (check your stop flag and call again); -ENOTCONN when the
 * context was given one connected fd and that client is gone; other -errno.
 */
UVFIO_EXPORT int uvfio_emu_run(struct uvfio_emu *emu);

/**
 * uvfio_emu_interrupt() - make uvfio_emu_run() return -EINTR: at once if a
 * signal interrupted its wait, otherwise within a second. Async-signal-safe,
 * meant for signal handlers.
 */
UVFIO_EXPORT void uvfio_emu_interrupt(struct uvfio_emu *emu);

/* True while a client is attached. */
UVFIO_EXPORT bool uvfio_emu_attached(const struct uvfio_emu *emu);

/**
 * uvfio_emu_irq_raise() - raise interrupt vector @vector of the device.
 *
 * The library picks the delivery: the MSI-X vector if the client enabled
 * MSI-X, else the MSI vector if MSI is enabled, else INTx (any vector). A
 * masked vector becomes pending and is delivered when unmasked (MSI-X: the
 * PBA bit is set). INTx masks itself after each delivery until the client
 * unmasks it. MSI and MSI-X need Bus Master enabled, as on real hardware.
 *
 * Return: 1 if an eventfd was signalled, 0 if the interrupt is left
 * pending; -ENOLINK when no interrupt type is enabled; -EINVAL for a vector
 * beyond the enabled ones; -EPERM when Bus Master is off.
 */
UVFIO_EXPORT int uvfio_emu_irq_raise(struct uvfio_emu *emu, uint32_t vector);

/**
 * uvfio_emu_irq_signal() - signal an ERR or REQ interrupt (vector 0).
 *
 * Return: 1 if signalled, -ENOLINK if the client registered no eventfd,
 * -EINVAL for another index.
 */
UVFIO_EXPORT int uvfio_emu_irq_signal(struct uvfio_emu *emu, uint32_t index);

/* DMA permissions (device's point of view). */
#define UVFIO_EMU_DMA_READ  1u /* the device reads memory */
#define UVFIO_EMU_DMA_WRITE 2u /* the device writes memory */

/**
 * uvfio_emu_dma_ptr() - translate a bus address to a pointer.
 * @iova:   start
 * @len:    bytes wanted (> 0)
 * @prot:   UVFIO_EMU_DMA_READ and/or _WRITE needed
 * @ptr:    out: where @iova lives in this process
 * @contig: out: bytes usable from *@ptr, 1 to @len (a mapping boundary
 *          may come first; translate the rest with another call)
 *
 * The pointer stays valid until ops->dma_unmap for that mapping.
 *
 * Return: 0; -EFAULT (not mapped); -EACCES (permission); -EPERM (Bus
 * Master disabled); -EREMOTE (mapped without an fd: use uvfio_emu_dma_read
 * or uvfio_emu_dma_write, which go through the client).
 */
UVFIO_EXPORT int uvfio_emu_dma_ptr(struct uvfio_emu *emu, uvfio_iova_t iova, uint64_t len,
				   uint32_t prot, void **ptr, uint64_t *contig);

/**
 * struct uvfio_emu_sg - one element of a scatter-gather translation.
 * @iova: in: bus address
 * @len:  in: bytes wanted (> 0); out: bytes usable at @ptr, 1 to @len
 * @ptr:  out: where @iova lives in this process
 */
struct uvfio_emu_sg {
	uvfio_iova_t iova;
	uint64_t len;
	void *ptr;
};

/**
 * uvfio_emu_dma_ptrv() - uvfio_emu_dma_ptr() for a list of addresses (a
 * PRP list, a descriptor chain), faster than one call each when the
 * addresses are scattered: independent lookups overlap their cache misses.
 * @sg:   elements to translate
 * @n:    number of elements
 * @prot: UVFIO_EMU_DMA_READ and/or _WRITE needed for every element
 *
 * Return: the number of leading elements translated: @n, or the index of
 * the first that failed (call uvfio_emu_dma_ptr() on it to learn why);
 * -EPERM when Bus Master is disabled; -EINVAL for bad @prot.
 */
UVFIO_EXPORT int uvfio_emu_dma_ptrv(struct uvfio_emu *emu, struct uvfio_emu_sg *sg, unsigned n,
				    uint32_t prot);

/**
 * uvfio_emu_dma_check() - is every byte of [iova, iova + len) mapped with
 * @prot? Use it to fail a transfer before moving any byte.
 * @fault: out, may be NULL: the first address that fails the check
 *
 * Return: 0; -EFAULT (unmapped, or the range wraps); -EACCES; -EPERM (Bus
 * Master off); -EINVAL (@len 0 or unknown @prot bits).
 */
UVFIO_EXPORT int uvfio_emu_dma_check(struct uvfio_emu *emu, uvfio_iova_t iova, uint64_t len,
				     uint32_t prot, uvfio_iova_t *fault);

/**
 * uvfio_emu_dma_read() - the device reads @len bytes at @iova into @buf.
 *
 * Crosses mapping boundaries; memory mapped without an fd is read with
 * DMA_READ messages to the client (which waits up to reply_timeout_ms).
 *
 * Return: 0; -EFAULT (some byte unmapped: nothing is copied); -EACCES;
 * -EPERM (Bus Master off); -ETIMEDOUT / -ECONNRESET / -EIO (the client
 * failed a message-based transfer; a prefix may have been copied).
 */
UVFIO_EXPORT int uvfio_emu_dma_read(struct uvfio_emu *emu, uvfio_iova_t iova, void *buf,
				    uint64_t len);

/* The device writes @len bytes from @buf at @iova; as uvfio_emu_dma_read. */
UVFIO_EXPORT int uvfio_emu_dma_write(struct uvfio_emu *emu, uvfio_iova_t iova, const void *buf,
				     uint64_t len);

/**
 * uvfio_emu_cfg_read() - read the device's own configuration space, as the
 * model (not the client) sees it: no permission checks, no hooks.
 */
UVFIO_EXPORT int uvfio_emu_cfg_read(const struct uvfio_emu *emu, uint32_t offset, void *buf,
				    uint32_t len);

/**
 * uvfio_emu_cfg_write() - change the device's configuration space as the
 * device (e.g. set a status bit, update a vendor capability). No hooks run.
 */
UVFIO_EXPORT int uvfio_emu_cfg_write(struct uvfio_emu *emu, uint32_t offset, const void *buf,
				     uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_EMU_H */
