/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PCI devices as sysfs shows them, for the commands that move them between
 * drivers: a device's driver, its driver_override, its IOMMU group and the
 * group's other members, and whether it is a bridge. Everything is read
 * under a sysfs root the caller names, so tests point it at a fake tree.
 * Every function returns 0 or a negative errno.
 */
#ifndef UVFIO_TOOLS_PCISYS_H
#define UVFIO_TOOLS_PCISYS_H

#include <stdbool.h>
#include <stddef.h>

#define PCISYS_ADDR 16 /* "0000:00:00.0" and its NUL */
#define PCISYS_NAME 64 /* a driver name; the kernel's are far shorter */

/* "01:00.0" or "0000:01:00.0" (any case) into the canonical "0000:01:00.0"; -EINVAL. */
int pcisys_addr(const char *in, char out[PCISYS_ADDR]);

/* <sysfs>/bus/pci/devices/@bdf[/@attr] into @out; -ENAMETOOLONG. @attr may be NULL. */
int pcisys_path(char *out, size_t size, const char *sysfs, const char *bdf, const char *attr);

/* Whether @bdf exists under <sysfs>/bus/pci/devices: 0 or -ENOENT. */
int pcisys_exists(const char *sysfs, const char *bdf);

/*
 * The last component of the target of symlink @path (relative to @dirfd,
 * or AT_FDCWD): 0; -ENOENT when there is no link; -ENAMETOOLONG when it
 * doesn't fit @size. @out is "" on failure.
 */
int pcisys_link_base(int dirfd, const char *path, char *out, size_t size);

/* The driver @bdf is bound to, or "" when none. */
int pcisys_driver(const char *sysfs, const char *bdf, char out[PCISYS_NAME]);

/* driver_override, "" when unset ("(null)"); -ENOENT: the kernel has none (before 3.16). */
int pcisys_override(const char *sysfs, const char *bdf, char out[PCISYS_NAME]);

/* The IOMMU group of @bdf: -ENOENT (no such device), -ENODEV (in no group). */
int pcisys_group(const char *sysfs, const char *bdf, long *id);

/*
 * Whether @bdf is a bridge (a header type other than 0, which vfio-pci
 * refuses to drive): from config space when sysfs lets us read it, else
 * from the class code (PCI-to-PCI or CardBus bridge).
 */
bool pcisys_is_bridge(const char *sysfs, const char *bdf);

/*
 * The names in <sysfs>/kernel/iommu_groups/@id/devices, sorted. Free *@out
 * with free(). -ENOENT: no such group.
 */
int pcisys_group_members(const char *sysfs, long id, char (**out)[PCISYS_ADDR], size_t *n);

/* vfio-pci or one of its variants (mlx5_vfio_pci, hisi-acc-vfio-pci, ...). */
bool pcisys_driver_is_vfio(const char *drv);

/*
 * A driver that leaves DMA to its user, so it doesn't spoil the group: no
 * driver, vfio-pci and its variants, pci-stub, pcieport. The library's rule
 * (lib/vfio/sysfs.c), which "uvfio ls" reports.
 */
bool pcisys_driver_harmless(const char *drv);

/* A name we are willing to write into sysfs: [A-Za-z0-9_.-]+, shorter than PCISYS_NAME. */
bool pcisys_name_ok(const char *s);

#endif /* UVFIO_TOOLS_PCISYS_H */
