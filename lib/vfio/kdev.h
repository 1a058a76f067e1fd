/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals shared by the two kernel backends (kernel.c: /dev/vfio/N with a
 * type1 container; iommufd.c: device cdevs with an IOAS). Once a device fd
 * exists, both drive it with the same ioctls (kdev.c); both also keep the
 * group's member list in step with sysfs and pick a device by name the
 * same way (kernel.c).
 *
 * Not in vfio_priv.h on purpose: the core and the vfio-user backend have
 * no business with these.
 */
#ifndef UVFIO_KDEV_H
#define UVFIO_KDEV_H

#include "vfio_priv.h"

/*
 * A device for @g around the device fd @fd, which it takes in every case
 * (closed on failure). @backend: "type1" or "iommufd", what
 * uvfio_device_backend() reports. Links the device into @g and queries its
 * info; caller holds g->lock.
 */
int uvfio__kdev_new(struct uvfio_group *g, const char *name, int fd, const char *backend,
		    struct uvfio_device **out);

/*
 * Walk a VFIO capability chain ({u16 id; u16 version; u32 next} headers,
 * offsets from the start of @buf) that starts at @first, within @len bytes
 * of which the first @fixed are the info struct itself. Each capability is
 * handed to @fn with its payload, bounded by the next capability or the
 * end of the buffer. Offsets must grow, so a looping chain ends the walk.
 * Return: 0, -EPROTO (a capability outside the buffer), or what @fn returns.
 */
int uvfio__kcaps_walk(const uint8_t *buf, size_t len, size_t fixed, uint32_t first,
		      int (*fn)(void *priv, uint16_t id, const uint8_t *data, size_t size),
		      void *priv);

/* A kernel group's backend state: the same shape for both backends. */
struct uvfio__kgroup {
	int fd;                          /* kernel.c: /dev/vfio/N while attached, else -1 */
	struct uvfio__kretired *retired; /* member lists replaced by a refresh */
};

int uvfio__kgroup_new(struct uvfio_group *g);
void uvfio__kgroup_free(struct uvfio_group *g);

/*
 * A kernel group for IOMMU group @id with @ops (kernel.c's or iommufd.c's):
 * the group object, its backend state and its members from sysfs; a
 * missing group is -ENOENT, logged.
 */
int uvfio__kgroup_open_ops(int32_t id, const struct uvfio__opts *o,
			   const struct uvfio__group_ops *ops, struct uvfio_group **out);

/* Members refreshed; -EPERM (logged, naming the culprits) when a member spoils the group. */
int uvfio__kgroup_check_viable(struct uvfio_group *g);

/*
 * Read the group's members again from sysfs: bindings change under an open
 * group (the user runs 'uvfio bind' after being told to). Strings handed
 * out by uvfio_group_device() stay valid: replaced lists are kept until the
 * group is closed. Caller holds g->lock.
 */
int uvfio__kgroup_refresh(struct uvfio_group *g);

/* How many members keep the group from being viable, by the sysfs rule. */
uint32_t uvfio__kgroup_blockers(const struct uvfio_group *g);

/* Status from sysfs alone: members refreshed, VIABLE when none blocks. */
int uvfio__kgroup_sysfs_status(struct uvfio_group *g, struct uvfio_group_status *st);

/*
 * The PCI address of the device @name names in @g (NULL: the one device
 * bound to vfio-pci, or the only member). -EINVAL / -ENODEV, logged.
 */
int uvfio__kgroup_pick(struct uvfio_group *g, const char *name, char bdf[16]);

/* Is @drv vfio-pci or one of its variant drivers (mlx5_vfio_pci, ...)? */
bool uvfio__vfio_driver(const char *drv);

/* Say, in a sentence, why MAP_DMA / IOAS_MAP refused @m with @err. */
void uvfio__log_map_error(const struct uvfio__log *l, int err, const struct uvfio__mapping *m);
/* The same for UNMAP_DMA / IOAS_UNMAP. */
void uvfio__log_unmap_error(const struct uvfio__log *l, int err, const struct uvfio__mapping *m);

/*
 * After an exact unmap of @m the kernel said it removed @done bytes. All of
 * it: 0. Nothing: the kernel had no mapping there, so none can reach the
 * memory: 0, with a warning. Part: the rest may still be reachable, so the
 * memory must not be reused: -EIO.
 */
int uvfio__check_unmapped(const struct uvfio__log *l, const struct uvfio__mapping *m,
			  uint64_t done);

/* Native-endian loads from the kernel's byte buffers (no alignment assumed). */
static inline uint32_t uvfio__k32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t uvfio__k64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif /* UVFIO_KDEV_H */
