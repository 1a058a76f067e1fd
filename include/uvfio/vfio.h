/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uvfio — driver side: drive a PCI device with the kernel's VFIO object
 * model, whether the device is behind the kernel's VFIO or a vfio-user
 * socket.
 *
 * The objects mirror the kernel's:
 *
 *  - a container is one I/O address space: the DMA mappings every device
 *    attached to it sees (kernel: /dev/vfio/vfio with the Type1 IOMMU, or
 *    an iommufd IOAS; vfio-user: the mappings are sent to every device);
 *  - a group is the unit of ownership: all its devices or none (kernel:
 *    /dev/vfio/N, usable only when viable; vfio-user: one socket, one
 *    device);
 *  - a device gives regions (read/write and mmap), configuration space,
 *    interrupts through eventfds, and reset.
 *
 * uvfio_device_open() does the whole bring-up from a name: "0000:01:00.0"
 * (kernel VFIO, through the device's IOMMU group, or the iommufd cdev where
 * the kernel has one), "/dev/vfio/devices/vfio3" (cdev + iommufd),
 * "vfio-user:/path.sock" or just the path of a UNIX socket (vfio-user).
 * Drivers written against this header run unchanged over all of them.
 *
 * All functions return 0 (or a documented count) on success and a negative
 * errno on failure; nothing aborts. What went wrong is also reported, in a
 * sentence, through the log hook of struct uvfio_open_opts.
 *
 * Threads: a device, group or container may be used from several threads;
 * calls on one object are serialised internally.
 */
#ifndef UVFIO_VFIO_H
#define UVFIO_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uvfio/common.h"
#include "uvfio/pci.h"
#include "uvfio/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct uvfio_container;
struct uvfio_group;
struct uvfio_device;

/* uvfio_open_opts.flags */
#define UVFIO_OPEN_F_NO_IOMMUFD (1u << 0) /* kernel devices: the legacy container even if iommufd works */
#define UVFIO_OPEN_F_NO_TWIN    (1u << 1) /* vfio-user: don't ask for a twin socket */

/**
 * struct uvfio_open_opts - options for opening groups, devices, containers.
 * @argsz:      sizeof(struct uvfio_open_opts)
 * @flags:      UVFIO_OPEN_F_*
 * @log:        log hook, or NULL for stderr (messages only at @log_level)
 * @log_priv:   passed to @log
 * @log_level:  enum uvfio_log_level; UVFIO_LOG_NONE by default
 * @timeout_ms: vfio-user: the longest wait for a reply; 0 means 5000
 * @sysfs:      where sysfs is mounted, or NULL for "/sys" (tests use a fake tree)
 * @devfs:      where device nodes live, or NULL for "/dev"
 *
 * A NULL pointer to the struct means all defaults.
 */
struct uvfio_open_opts {
	uint32_t argsz;
	uint32_t flags;
	uvfio_log_fn log;
	void *log_priv;
	int log_level;
	uint32_t timeout_ms;
	const char *sysfs;
	const char *devfs;
};

/* --- containers ------------------------------------------------------------- */

/**
 * uvfio_container_create() - an empty I/O address space. Its backend is
 * chosen by the first group attached.
 * @out: free with uvfio_container_destroy()
 */
UVFIO_EXPORT int uvfio_container_create(const struct uvfio_open_opts *opts,
					struct uvfio_container **out);

/**
 * uvfio_container_destroy() - detach every group, drop every mapping and
 * every buffer from uvfio_dma_alloc(), free. Accepts NULL.
 */
UVFIO_EXPORT void uvfio_container_destroy(struct uvfio_container *c);

/* Device's point of view: what the device may do with mapped memory. */
#define UVFIO_DMA_READ  1u
#define UVFIO_DMA_WRITE 2u

/**
 * struct uvfio_mapping - memory to make visible to the devices.
 * @argsz:     sizeof(struct uvfio_mapping)
 * @prot:      UVFIO_DMA_READ and/or UVFIO_DMA_WRITE
 * @vaddr:     the memory in this process (page-aligned)
 * @size:      bytes (a multiple of the container's smallest page size)
 * @iova:      bus address the devices use (same alignment)
 * @fd:        a file (memfd, hugetlbfs, ...) the memory is mapped from, or
 *             -1. vfio-user servers map the fd and reach the memory
 *             directly; without one they ask the library to copy
 *             (DMA_READ/DMA_WRITE), which is much slower. The kernel
 *             backends ignore it. The caller keeps its fd.
 * @fd_offset: offset of @vaddr within @fd
 */
struct uvfio_mapping {
	uint32_t argsz;
	uint32_t prot;
	void *vaddr;
	uint64_t size;
	uvfio_iova_t iova;
	int fd;
	uint64_t fd_offset;
};

/**
 * uvfio_container_map() - map memory for DMA by every attached device
 * (and every device attached later).
 *
 * Return: 0; -EINVAL (alignment, prot, outside the usable IOVA ranges);
 * -EEXIST (overlaps a mapping); -ENOSPC (no mapping entries left);
 * -ENOMEM (kernel: locked-memory limit); -ENODEV (no group attached yet);
 * another -errno from the backend.
 */
UVFIO_EXPORT int uvfio_container_map(struct uvfio_container *c, const struct uvfio_mapping *m);

/**
 * uvfio_container_unmap() - remove the mapping that starts at @iova with
 * @size bytes (exactly one earlier mapping).
 *
 * Return: 0, -ENOENT (no such mapping), another -errno.
 */
UVFIO_EXPORT int uvfio_container_unmap(struct uvfio_container *c, uvfio_iova_t iova,
				       uint64_t size);

/* A usable window of bus addresses, both ends included. */
struct uvfio_iova_range {
	uint64_t start;
	uint64_t last;
};

#define UVFIO_MAX_IOVA_RANGES 16

/**
 * struct uvfio_iommu_info - what the container's IOMMU allows.
 * @argsz:      sizeof(struct uvfio_iommu_info)
 * @pgsizes:    OR of the supported page sizes; the lowest is the alignment
 * @nr_ranges:  usable IOVA windows (may exceed UVFIO_MAX_IOVA_RANGES; only
 *              that many are stored)
 * @ranges:     the windows, ascending
 * @dma_avail:  mapping entries left (UINT32_MAX: no known limit)
 * @nr_mappings: mappings made through this container
 * @backend:    "type1", "iommufd" or "vfio-user" (NULL before the first attach)
 */
struct uvfio_iommu_info {
	uint32_t argsz;
	uint64_t pgsizes;
	uint32_t nr_ranges;
	struct uvfio_iova_range ranges[UVFIO_MAX_IOVA_RANGES];
	uint32_t dma_avail;
	uint64_t nr_mappings;
	const char *backend;
};

UVFIO_EXPORT int uvfio_container_info(struct uvfio_container *c, struct uvfio_iommu_info *info);

/**
 * uvfio_container_iova_alloc() - reserve @size bytes of bus addresses that
 * are inside the usable ranges, aligned to @align (0: the smallest page
 * size, rounded up to it) and used by no mapping or earlier reservation.
 * The caller maps memory there with uvfio_container_map(), then releases
 * the range with uvfio_container_iova_free() after unmapping it.
 *
 * Return: 0 and *@iova, -ENOSPC (no room), -ENODEV (no group attached).
 */
UVFIO_EXPORT int uvfio_container_iova_alloc(struct uvfio_container *c, uint64_t size,
					    uint64_t align, uvfio_iova_t *iova);
UVFIO_EXPORT int uvfio_container_iova_free(struct uvfio_container *c, uvfio_iova_t iova,
					   uint64_t size);

/**
 * struct uvfio_dma_buf - memory from uvfio_dma_alloc().
 * @vaddr: where the CPU reaches it
 * @iova:  where devices reach it
 * @size:  bytes (at least what was asked)
 */
struct uvfio_dma_buf {
	void *vaddr;
	uvfio_iova_t iova;
	uint64_t size;
};

/**
 * uvfio_dma_alloc() - memory that every attached device can DMA to/from.
 *
 * Buffers are carved from large memfd-backed pools, each mapped once, so
 * many buffers cost few mapping entries (the kernel allows 65535 by
 * default) and vfio-user servers reach them without copying. Zero-filled,
 * page-aligned.
 *
 * Return: 0, -ENOMEM, -ENOSPC (no IOVA room or mapping entries), -ENODEV
 * (no group attached), another -errno from mapping.
 */
UVFIO_EXPORT int uvfio_dma_alloc(struct uvfio_container *c, uint64_t size, uint32_t prot,
				 struct uvfio_dma_buf *buf);

/* Give a buffer back (its pool is unmapped when empty). Accepts a zeroed @buf. */
UVFIO_EXPORT void uvfio_dma_free(struct uvfio_container *c, struct uvfio_dma_buf *buf);

/* --- groups ----------------------------------------------------------------- */

/**
 * uvfio_group_open() - open an IOMMU group or a vfio-user socket.
 * @name: "26" or "/dev/vfio/26" (a kernel group), "vfio-user:PATH" or the
 *        path of a UNIX socket
 * @out:  close with uvfio_group_close()
 */
UVFIO_EXPORT int uvfio_group_open(const char *name, const struct uvfio_open_opts *opts,
				  struct uvfio_group **out);

/* Close the group's devices, detach it, free. Accepts NULL. */
UVFIO_EXPORT void uvfio_group_close(struct uvfio_group *g);

/* uvfio_group_status.flags */
#define UVFIO_GROUP_VIABLE   (1u << 0) /* every device is usable or harmless */
#define UVFIO_GROUP_ATTACHED (1u << 1) /* in a container */

/**
 * struct uvfio_group_status - viability, and the devices in the group.
 * @argsz:      sizeof(struct uvfio_group_status)
 * @flags:      UVFIO_GROUP_*
 * @id:         kernel IOMMU group number, or -1 for vfio-user
 * @nr_devices: devices in the group (see uvfio_group_device())
 * @nr_blockers: how many of them keep the group from being viable
 */
struct uvfio_group_status {
	uint32_t argsz;
	uint32_t flags;
	int32_t id;
	uint32_t nr_devices;
	uint32_t nr_blockers;
};

UVFIO_EXPORT int uvfio_group_status(struct uvfio_group *g, struct uvfio_group_status *st);

/**
 * struct uvfio_group_member - one device of a group.
 * @name:    PCI address ("0000:01:00.0") or socket name
 * @driver:  bound kernel driver, "" for none
 * @blocker: true when this device keeps the group from being viable (its
 *           driver uses DMA on its own: unbind it, or bind it to vfio-pci)
 *
 * Strings belong to the group and stay valid until it is closed.
 */
struct uvfio_group_member {
	const char *name;
	const char *driver;
	bool blocker;
};

/* Member @i (0 to nr_devices - 1). */
UVFIO_EXPORT int uvfio_group_device(struct uvfio_group *g, uint32_t i,
				    struct uvfio_group_member *out);

/**
 * uvfio_group_attach() - put the group into a container (the first group
 * chooses the container's backend and IOMMU type).
 *
 * Return: 0; -EPERM (the group isn't viable: the log names the devices
 * that keep it so, and what to run); -EBUSY (already in a container);
 * -EINVAL (the container has groups of another backend); another -errno.
 */
UVFIO_EXPORT int uvfio_group_attach(struct uvfio_group *g, struct uvfio_container *c);

/* Take the group out of its container (its devices must be closed: -EBUSY). */
UVFIO_EXPORT int uvfio_group_detach(struct uvfio_group *g);

/**
 * uvfio_group_open_device() - a device of an attached group.
 * @name: its PCI address, or NULL for the group's only (vfio-user: the) device
 * @out:  close with uvfio_device_close()
 */
UVFIO_EXPORT int uvfio_group_open_device(struct uvfio_group *g, const char *name,
					 struct uvfio_device **out);

/* --- devices ---------------------------------------------------------------- */

/**
 * uvfio_device_open() - open a device by name, with a container and group
 * of its own that uvfio_device_close() also releases.
 * @name: "0000:01:00.0", "/dev/vfio/devices/vfioN", "vfio-user:PATH" or a
 *        socket path
 * @out:  close with uvfio_device_close()
 *
 * Return: 0; -ENOENT (no such device or socket); -EPERM (group not viable,
 * or no permission on the device nodes: the log says which); -ECONNREFUSED
 * (no server on the socket); -EPROTO (the server spoke nonsense); another
 * -errno.
 */
UVFIO_EXPORT int uvfio_device_open(const char *name, const struct uvfio_open_opts *opts,
				   struct uvfio_device **out);

/* Disable interrupts, unmap mmaps made through it, close, free. Accepts NULL. */
UVFIO_EXPORT void uvfio_device_close(struct uvfio_device *d);

/* The container and group the device belongs to. */
UVFIO_EXPORT struct uvfio_container *uvfio_device_container(struct uvfio_device *d);
UVFIO_EXPORT struct uvfio_group *uvfio_device_group(struct uvfio_device *d);

/**
 * uvfio_device_get_info() - what the device offers: flags
 * (UVFIO_DEVICE_FLAGS_RESET, _PCI), num_regions (region indexes 0 to
 * num_regions - 1) and num_irqs (IRQ indexes). @info->argsz must be at
 * least UVFIO_DEVICE_INFO_SIZE.
 */
UVFIO_EXPORT int uvfio_device_get_info(struct uvfio_device *d, struct uvfio_device_info *info);

/*
 * The device's name, valid until it is closed: a kernel device's PCI
 * address ("0000:01:00.0", also when it was opened by its cdev path or a
 * short address), a vfio-user device's socket path.
 */
UVFIO_EXPORT const char *uvfio_device_name(struct uvfio_device *d);

/* "type1", "iommufd" or "vfio-user". */
UVFIO_EXPORT const char *uvfio_device_backend(struct uvfio_device *d);

/**
 * struct uvfio_region - one region (BAR, ROM, config space, ...).
 * @argsz:         sizeof(struct uvfio_region)
 * @index:         region index
 * @flags:         UVFIO_REGION_INFO_FLAG_READ, _WRITE, _MMAP
 * @size:          bytes; 0 = absent
 * @nr_areas:      parts that may be mmap'ed (whole region: one area)
 * @areas:         those parts, offsets within the region; owned by the
 *                 device, valid until it is closed
 * @has_type:      device-specific region with a type
 * @type, @subtype: its VFIO region type
 * @msix_mappable: the MSI-X table in this BAR may be mmap'ed too
 */
struct uvfio_region {
	uint32_t argsz;
	uint32_t index;
	uint32_t flags;
	uint64_t size;
	uint32_t nr_areas;
	const struct uvfio_sparse_area *areas;
	bool has_type;
	uint32_t type;
	uint32_t subtype;
	bool msix_mappable;
};

/* Return: 0, -EINVAL (no such index). */
UVFIO_EXPORT int uvfio_device_region(struct uvfio_device *d, uint32_t index,
				     struct uvfio_region *out);

/**
 * uvfio_device_read() / uvfio_device_write() - access a region.
 *
 * One call is one request: one REGION_READ/WRITE message per
 * max_data_xfer_size piece over vfio-user, one pread()/pwrite() on a
 * kernel device, where vfio-pci picks the access width: a 1-, 2- or 4-byte
 * call is one access of that size, but longer ones are split by the kernel
 * (since Linux 6.10 into 8-byte loads and stores where aligned). Access
 * device registers at their own width, one call per register.
 *
 * Return: 0; -EINVAL (index, range or permission); -EIO (the device
 * refused, e.g. a BAR while its space is disabled in the command register);
 * -ETIMEDOUT / -ECONNRESET (vfio-user server silent or gone).
 */
UVFIO_EXPORT int uvfio_device_read(struct uvfio_device *d, uint32_t index, uint64_t offset,
				   void *buf, size_t len);
UVFIO_EXPORT int uvfio_device_write(struct uvfio_device *d, uint32_t index, uint64_t offset,
				    const void *buf, size_t len);

/**
 * uvfio_device_mmap() - map part of a region into this process.
 * @offset: page-aligned, within one mmap-able area
 * @len:    bytes, within that area
 * @prot:   PROT_READ and/or PROT_WRITE
 * @addr:   out; unmap with uvfio_device_munmap() (or let uvfio_device_close() do it)
 *
 * Return: 0, -EINVAL (not mmap-able there), another -errno from mmap().
 */
UVFIO_EXPORT int uvfio_device_mmap(struct uvfio_device *d, uint32_t index, uint64_t offset,
				   size_t len, int prot, void **addr);
/* Undo one uvfio_device_mmap() (same @addr and @len); -EINVAL if there is no such mmap. */
UVFIO_EXPORT int uvfio_device_munmap(struct uvfio_device *d, void *addr, size_t len);

/* Configuration space (region 7) at @offset. */
UVFIO_EXPORT int uvfio_device_cfg_read(struct uvfio_device *d, uint32_t offset, void *buf,
				       size_t len);
UVFIO_EXPORT int uvfio_device_cfg_write(struct uvfio_device *d, uint32_t offset, const void *buf,
					size_t len);

/**
 * uvfio_device_find_cap() - offset of the first capability @id in the
 * device's configuration space (the extended list when @extended).
 *
 * Return: the offset (> 0), -ENOENT, or -errno from reading.
 */
UVFIO_EXPORT int uvfio_device_find_cap(struct uvfio_device *d, uint16_t id, bool extended);

/* --- interrupts ---------------------------------------------------------------- */

/* IRQ index count, flags (UVFIO_IRQ_INFO_*), from GET_IRQ_INFO. */
UVFIO_EXPORT int uvfio_device_irq_info(struct uvfio_device *d, uint32_t index,
				       struct uvfio_irq_info *out);

/**
 * uvfio_device_irq_enable() - enable IRQ index @index with @count vectors,
 * each signalling an eventfd the library creates (blocking, CLOEXEC).
 * Get them with uvfio_device_irq_fd(); wait with uvfio_device_irq_wait().
 *
 * Return: 0; -EINVAL (the index has fewer vectors, or another index is
 * enabled); another -errno.
 */
UVFIO_EXPORT int uvfio_device_irq_enable(struct uvfio_device *d, uint32_t index,
					 uint32_t count);

/* Disable the index and close its eventfds. */
UVFIO_EXPORT int uvfio_device_irq_disable(struct uvfio_device *d, uint32_t index);

/* The eventfd of vector @vector of an enabled index; the device owns it. */
UVFIO_EXPORT int uvfio_device_irq_fd(struct uvfio_device *d, uint32_t index, uint32_t vector);

/**
 * uvfio_device_irq_wait() - wait for vector @vector to fire and consume it.
 * @timeout_ms: -1 waits forever (sleeping in read(), the fastest wake-up);
 *              otherwise poll() first. Don't read the eventfd elsewhere
 *              meanwhile.
 * @count:      out, may be NULL: how many interrupts the eventfd counted
 *
 * Return: 0, -ETIMEDOUT, -EINVAL (index not enabled through
 * uvfio_device_irq_enable).
 */
UVFIO_EXPORT int uvfio_device_irq_wait(struct uvfio_device *d, uint32_t index, uint32_t vector,
				       int timeout_ms, uint64_t *count);

/**
 * uvfio_device_irq_set_eventfds() - VFIO_DEVICE_SET_IRQS with caller's
 * eventfds: vectors [start, start + count) signal fds[i]; -1 unbinds. Enables
 * the index if it isn't. The caller keeps ownership of its fds.
 */
UVFIO_EXPORT int uvfio_device_irq_set_eventfds(struct uvfio_device *d, uint32_t index,
					       uint32_t start, uint32_t count, const int *fds);

/* Mask, unmask, or fire (loopback) vectors [start, start + count). */
UVFIO_EXPORT int uvfio_device_irq_mask(struct uvfio_device *d, uint32_t index, uint32_t start,
				       uint32_t count);
UVFIO_EXPORT int uvfio_device_irq_unmask(struct uvfio_device *d, uint32_t index, uint32_t start,
					 uint32_t count);
UVFIO_EXPORT int uvfio_device_irq_trigger(struct uvfio_device *d, uint32_t index, uint32_t start,
					  uint32_t count);

/* Reset the device (-ENOTTY when it can't be reset). */
UVFIO_EXPORT int uvfio_device_reset(struct uvfio_device *d);

/**
 * uvfio_device_get_poll_fd() - vfio-user: an fd that becomes readable when
 * the server asks for memory that was mapped without an fd (DMA_READ/
 * DMA_WRITE outside a call into the library); call uvfio_device_dispatch()
 * then. Requests that arrive while a call waits for its reply are served
 * by that call. Kernel devices: -ENOTSUP.
 */
UVFIO_EXPORT int uvfio_device_get_poll_fd(struct uvfio_device *d);

/* Most server messages uvfio_device_dispatch() takes in one call. */
#define UVFIO_DISPATCH_MAX 256

/**
 * uvfio_device_dispatch() - serve pending server requests without blocking.
 *
 * At most UVFIO_DISPATCH_MAX messages are taken per call, so a server that
 * floods requests can't hold the caller. When a call returns that many,
 * more may be waiting already read from the socket, where the poll fd
 * can't show them: call again until it returns less.
 *
 * Return: requests served (0 when none was pending), or -errno
 * (-ECONNRESET: the server is gone).
 */
UVFIO_EXPORT int uvfio_device_dispatch(struct uvfio_device *d);

/* --- PCI capabilities, from a copy of configuration space -------------------- */

/**
 * struct uvfio_pci_cap - one capability found by uvfio_pci_caps().
 * @id:       capability ID
 * @extended: from the extended list (offset >= 0x100)
 * @version:  extended capabilities: the version nibble
 * @offset:   where it starts
 * @size:     bytes up to the next capability or the end of its space (an
 *            upper bound: the spec does not store the length)
 */
struct uvfio_pci_cap {
	uint16_t id;
	bool extended;
	uint8_t version;
	uint16_t offset;
	uint16_t size;
};

/**
 * uvfio_pci_caps() - walk both capability lists of a configuration-space
 * image (@len 256 or 4096 bytes). Loops, pointers into the header or past
 * the end, and lists longer than the space allows end the walk.
 * @caps: array for the result; @max its size
 *
 * Return: how many capabilities there are (may exceed @max; only @max are
 * stored).
 */
UVFIO_EXPORT int uvfio_pci_caps(const uint8_t *cfg, size_t len, struct uvfio_pci_cap *caps,
				unsigned max);

/* Printable name of a standard or extended capability ID ("MSI-X", ...). */
UVFIO_EXPORT const char *uvfio_pci_cap_name(uint16_t id, bool extended);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_VFIO_H */
