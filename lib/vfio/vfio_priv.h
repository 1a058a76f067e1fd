/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Driver-side internals: the container, group and device objects and the
 * ops tables their backends fill in.
 *
 * The core (core.c, device.c, dmabuf.c, iova.c) implements the public API
 * on these objects and never asks which backend it has. A backend supplies:
 *
 *  - container ops: map/unmap one mapping, report the IOMMU's limits, and
 *    release its state when the last group leaves;
 *  - group ops: status and members, attach (the first attach of an empty
 *    container installs the container's ops), detach, open a device;
 *  - device ops: info, region info, region access, mmap, IRQ info,
 *    SET_IRQS, reset, and (vfio-user) a poll fd and dispatch for the
 *    server's requests.
 *
 * Backends: kernel.c (type1 container and /dev/vfio/N groups), iommufd.c
 * (/dev/iommu IOAS and device cdevs), kdev.c (device ioctls, shared by
 * both kernel backends), user.c (vfio-user).
 *
 * Locking: each object has a mutex taken by the public entry points (for
 * a container, held while its backend talks to devices). The container's
 * table of mappings has an rwlock of its own, taken only for the table
 * itself, because vfio-user devices read it to serve DMA_READ/DMA_WRITE
 * while they wait for a reply — possibly to a DMA_MAP sent under the
 * container lock. Order: group lock, then container lock, then a device's
 * connection; the table lock nests inside any of them.
 */
#ifndef UVFIO_VFIO_PRIV_H
#define UVFIO_VFIO_PRIV_H

#include <pthread.h>

#include "uvfio/vfio.h"
#include "util/btree.h"
#include "util/log.h"

#define UVFIO__MAX_IRQ_INDEX 8     /* IRQ indexes the library tracks eventfds for */
#define UVFIO__MAX_REGIONS   64    /* regions a device may report */
#define UVFIO__MAX_AREAS     64    /* sparse areas a region may report */
#define UVFIO__MAX_VECTORS   4096  /* vectors per index the library accepts */
#define UVFIO__DEF_TIMEOUT   5000

/* struct uvfio_open_opts, copied. */
struct uvfio__opts {
	uint32_t flags;
	uvfio_log_fn log;
	void *log_priv;
	int log_level;
	uint32_t timeout_ms;
	char sysfs[256];
	char devfs[256];
};

int uvfio__opts_copy(const struct uvfio_open_opts *in, struct uvfio__opts *out);
void uvfio__log_init(struct uvfio__log *l, const struct uvfio__opts *o, const char *prefix);

/* --- containers ---------------------------------------------------------------- */

/* One uvfio_container_map(). */
struct uvfio__mapping {
	uint64_t iova;
	uint64_t size;
	uint8_t *vaddr;
	uint32_t prot;       /* UVFIO_DMA_READ / _WRITE */
	int fd;              /* our dup of the caller's fd, or -1 */
	uint64_t fd_offset;
	bool reserved;       /* its IOVA range was taken from the allocator */
};

struct uvfio__container_ops {
	const char *name;
	int (*map)(struct uvfio_container *c, const struct uvfio__mapping *m);
	int (*unmap)(struct uvfio_container *c, const struct uvfio__mapping *m);
	/* pgsizes, ranges, dma_avail */
	int (*info)(struct uvfio_container *c, struct uvfio_iommu_info *info);
	/* The last group left: drop the backend's state (ops go back to NULL). */
	void (*release)(struct uvfio_container *c);
};

/*
 * Free bus-address space: ascending, disjoint, non-touching [start, last]
 * intervals, always inside the usable windows @win (same shape).
 */
struct uvfio__iova_space {
	struct uvfio_iova_range *free;
	uint32_t nr;
	uint32_t cap;
	struct uvfio_iova_range *win;
	uint32_t nr_win;
	bool ready;          /* filled from the backend's ranges */
};

struct uvfio__pool;

struct uvfio_container {
	pthread_mutex_t lock;
	struct uvfio__log log;
	struct uvfio__opts opts;
	const struct uvfio__container_ops *ops; /* NULL while no group is attached */
	void *priv;                             /* the backend's */
	struct uvfio_group *groups;             /* attached groups */
	pthread_rwlock_t maps_lock;             /* the table below; held briefly, never while waiting */
	struct uvfio__btree maps;               /* uvfio__mapping * by IOVA */
	uint64_t nr_maps;
	struct uvfio__iova_space iovas;
	pthread_mutex_t pool_lock;              /* taken before lock, never after */
	struct uvfio__pool *pools;              /* uvfio_dma_alloc memory */
};

/*
 * The mapping that contains [iova, iova + len), or NULL. Caller holds
 * c->maps_lock (read). For serving DMA_READ/DMA_WRITE.
 */
const struct uvfio__mapping *uvfio__container_find(struct uvfio_container *c, uint64_t iova,
						   uint64_t len);

/* Replay every mapping to a newly attached vfio-user device (caller holds c->lock). */
/* The table may include mappings being added (sent to devices after they are recorded). */
int uvfio__container_foreach(struct uvfio_container *c,
			     int (*fn)(void *priv, const struct uvfio__mapping *m), void *priv);

/* iova.c: the allocator over c->iovas. */
int uvfio__iova_init(struct uvfio__iova_space *s, const struct uvfio_iova_range *ranges,
		     uint32_t nr);
void uvfio__iova_fini(struct uvfio__iova_space *s);
/* Take [start, start + size) out of the free space; -EBUSY if any part isn't free. */
int uvfio__iova_take(struct uvfio__iova_space *s, uint64_t start, uint64_t size);
/* First fit: -ENOSPC when nothing fits. */
int uvfio__iova_alloc(struct uvfio__iova_space *s, uint64_t size, uint64_t align, uint64_t *out);
/*
 * Give a range back (merging with neighbours); parts outside the usable
 * windows stay out. -EINVAL if it overlaps free space.
 */
int uvfio__iova_put(struct uvfio__iova_space *s, uint64_t start, uint64_t size);
/* Is any byte of [start, start + size) free? */
bool uvfio__iova_any_free(const struct uvfio__iova_space *s, uint64_t start, uint64_t size);
/* Narrow the usable windows to their intersection with @ranges; free space follows. */
int uvfio__iova_restrict(struct uvfio__iova_space *s, const struct uvfio_iova_range *ranges,
			 uint32_t nr);

/* dmabuf.c */
void uvfio__pools_free(struct uvfio_container *c);

/* --- groups ----------------------------------------------------------------------- */

struct uvfio__group_ops {
	/* flags VIABLE from the backend's own source of truth when it has one */
	int (*status)(struct uvfio_group *g, struct uvfio_group_status *st);
	int (*attach)(struct uvfio_group *g, struct uvfio_container *c);
	int (*detach)(struct uvfio_group *g);
	int (*open_device)(struct uvfio_group *g, const char *name, struct uvfio_device **out);
	void (*close)(struct uvfio_group *g);
};

struct uvfio_group {
	pthread_mutex_t lock;
	struct uvfio__log log;
	struct uvfio__opts opts;
	const struct uvfio__group_ops *ops;
	void *priv;
	char *name;
	int32_t id;                    /* kernel group number, -1 for vfio-user */
	struct uvfio_container *container;
	struct uvfio_group *next;      /* in container->groups */
	struct uvfio_device *devices;  /* open devices */
	struct uvfio_group_member *members;
	uint32_t nr_members;
};

/* Allocate a group with its lock, log and name; the backend fills the rest. */
int uvfio__group_new(const char *name, const struct uvfio__opts *o, struct uvfio_group **out);
/* Free what uvfio__group_new allocated (and members). */
void uvfio__group_free(struct uvfio_group *g);

/* --- devices ----------------------------------------------------------------------- */

/* A region's description, as the backend found it. */
struct uvfio__region {
	bool known;                 /* filled in */
	uint32_t flags;             /* UVFIO_REGION_INFO_FLAG_* */
	uint64_t size;
	uint64_t offset;            /* kernel: offset in the device fd; vfio-user: in @fd */
	int fd;                     /* vfio-user: the fd to mmap, or -1 */
	uint32_t nr_areas;
	struct uvfio_sparse_area *areas;
	bool has_type;
	uint32_t type;
	uint32_t subtype;
	bool msix_mappable;
};

struct uvfio__device_ops {
	const char *backend;
	int (*info)(struct uvfio_device *d, uint32_t *flags, uint32_t *num_regions,
		    uint32_t *num_irqs);
	/* Fill @r (areas malloc'ed; the core frees them). Validated by the core. */
	int (*region_info)(struct uvfio_device *d, uint32_t index, struct uvfio__region *r);
	int (*rw)(struct uvfio_device *d, uint32_t index, const struct uvfio__region *r,
		  uint64_t off, void *buf, size_t len, bool write);
	int (*mmap)(struct uvfio_device *d, const struct uvfio__region *r, uint64_t off,
		    size_t len, int prot, void **addr);
	int (*irq_info)(struct uvfio_device *d, uint32_t index, struct uvfio_irq_info *out);
	/*
	 * VFIO_DEVICE_SET_IRQS. @flags: one UVFIO_IRQ_SET_DATA_* and one
	 * ACTION. EVENTFD: @fds holds @count entries, -1 = unbind. BOOL:
	 * @bools holds @count bytes.
	 */
	int (*set_irqs)(struct uvfio_device *d, uint32_t flags, uint32_t index, uint32_t start,
			uint32_t count, const int *fds, const uint8_t *bools);
	int (*reset)(struct uvfio_device *d);
	int (*poll_fd)(struct uvfio_device *d);   /* NULL: not supported */
	int (*dispatch)(struct uvfio_device *d);
	void (*close)(struct uvfio_device *d);    /* free the backend's state */
};

struct uvfio__irq_index {
	int *fds;          /* library-created eventfds, @count of them */
	uint32_t count;
};

/* An mmap made through uvfio_device_mmap(), undone at close. */
struct uvfio__mmap {
	struct uvfio__mmap *next;
	void *addr;
	size_t len;
};

struct uvfio_device {
	pthread_mutex_t lock;
	struct uvfio__log log;
	const struct uvfio__device_ops *ops;
	void *priv;
	char *name;
	struct uvfio_group *group;
	struct uvfio_device *next;     /* in group->devices */
	bool owns_group;               /* uvfio_device_open: closing releases group and container */
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	struct uvfio__region *regions; /* num_regions entries, filled lazily */
	struct uvfio__irq_index irq[UVFIO__MAX_IRQ_INDEX];
	struct uvfio__mmap *mmaps;     /* live mappings of regions */
};

/*
 * Allocate a device for @g with its lock, log and name and link it into the
 * group; the backend sets ops and priv, then calls uvfio__device_ready().
 */
int uvfio__device_new(struct uvfio_group *g, const char *name, struct uvfio_device **out);
/* Query info through the ops and size the region cache. */
int uvfio__device_ready(struct uvfio_device *d);
/* Unlink and free what uvfio__device_new/ready allocated. */
void uvfio__device_free(struct uvfio_device *d);

/* --- backends' entry points ---------------------------------------------------- */

/* user.c: a vfio-user socket as a one-device group. */
int uvfio__user_group_open(const char *path, const struct uvfio__opts *o,
			   struct uvfio_group **out);

/* kernel.c: an IOMMU group through /dev/vfio/N (type1 container). */
int uvfio__kgroup_open(int32_t id, const struct uvfio__opts *o, struct uvfio_group **out);

/* iommufd.c: the IOMMU group of a PCI device, reached through device cdevs. */
int uvfio__cdev_group_open(int32_t id, const struct uvfio__opts *o, struct uvfio_group **out);
/* Does this kernel offer the cdev + iommufd path for @bdf? */
bool uvfio__cdev_usable(const struct uvfio__opts *o, const char *bdf);

/* sysfs.c: IOMMU groups and their devices. */
/* The IOMMU group of PCI device @bdf: 0 and *@id, -ENOENT (no such device), -ENODEV (no group: no IOMMU). */
int uvfio__sysfs_group_of(const struct uvfio__opts *o, const char *bdf, int32_t *id);
/* Fill g->members from /sys/kernel/iommu_groups/<id>/devices (with drivers and blockers). */
int uvfio__sysfs_members(struct uvfio_group *g, int32_t id);
/* Log, as one sentence, which members keep the group from being viable and what to run. */
void uvfio__log_blockers(struct uvfio_group *g);
/* The PCI device behind a device cdev ("vfio3" or its /dev path). */
int uvfio__sysfs_cdev_bdf(const struct uvfio__opts *o, const char *cdev, char bdf[16]);
/* Normalise "1:00.0" / "0000:01:00.0" into "0000:01:00.0"; -EINVAL if it isn't one. */
int uvfio__pci_addr(const char *in, char out[16]);

#endif /* UVFIO_VFIO_PRIV_H */
