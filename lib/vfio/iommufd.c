// SPDX-License-Identifier: BSD-3-Clause
/*
 * The modern kernel backend (Linux 6.6+): each device has a cdev,
 * /dev/vfio/devices/vfioN, and the address space is an IOAS in an iommufd
 * (/dev/iommu). A container is one iommufd with one IOAS; a device joins it
 * by BIND_IOMMUFD then ATTACH_IOMMUFD_PT; the group is only a sysfs notion
 * here (there is no group fd), still the unit of ownership: the kernel
 * claims the whole group for the iommufd at BIND.
 *
 * Hazard: the group rules still hold without a group fd, so a member bound
 * to a DMA-using driver makes BIND fail; we refuse before, naming it. Every
 * device of a group must bind to the same iommufd, which holds as long as
 * the group's devices share one container. Attaching a device can narrow
 * the usable IOVA ranges; mappings are checked by the kernel against the
 * ranges at the time.
 *
 * Debian 12's headers (6.1) have neither <linux/iommufd.h> nor the cdev
 * ioctls: the definitions below are the kernel's, used only when the
 * headers lack them, with their sizes checked.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>
#if defined(__has_include)
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#endif
#endif

#include "kdev.h"

#ifndef IOMMU_IOAS_ALLOC
#define IOMMUFD_TYPE (';')
#define IOMMUFD_CMD_IOAS_ALLOC       0x81
#define IOMMUFD_CMD_IOAS_IOVA_RANGES 0x84
#define IOMMUFD_CMD_IOAS_MAP         0x85
#define IOMMUFD_CMD_IOAS_UNMAP       0x86

struct iommu_ioas_alloc {
	__u32 size;
	__u32 flags;
	__u32 out_ioas_id;
};
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_ALLOC)

struct iommu_iova_range {
	__aligned_u64 start;
	__aligned_u64 last; /* inclusive */
};

struct iommu_ioas_iova_ranges {
	__u32 size;
	__u32 ioas_id;
	__u32 num_iovas;
	__u32 __reserved;
	__aligned_u64 allowed_iovas;
	__aligned_u64 out_iova_alignment;
};
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_IOVA_RANGES)

#define IOMMU_IOAS_MAP_FIXED_IOVA (1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE  (1 << 1)
#define IOMMU_IOAS_MAP_READABLE   (1 << 2)

struct iommu_ioas_map {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__u32 __reserved;
	__aligned_u64 user_va;
	__aligned_u64 length;
	__aligned_u64 iova;
};
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_MAP)

struct iommu_ioas_unmap {
	__u32 size;
	__u32 ioas_id;
	__aligned_u64 iova;
	__aligned_u64 length; /* in: bytes to unmap; out: bytes unmapped */
};
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, IOMMUFD_CMD_IOAS_UNMAP)
#endif /* IOMMU_IOAS_ALLOC */

#ifndef VFIO_DEVICE_BIND_IOMMUFD
struct vfio_device_bind_iommufd {
	__u32 argsz;
	__u32 flags;
	__s32 iommufd;
	__u32 out_devid;
};
#define VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18)
#endif

#ifndef VFIO_DEVICE_ATTACH_IOMMUFD_PT
struct vfio_device_attach_iommufd_pt {
	__u32 argsz;
	__u32 flags;
	__u32 pt_id;
};
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(VFIO_TYPE, VFIO_BASE + 19)
#endif

/* The merged layouts; later kernels grow them behind flags, keyed by argsz/size. */
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "struct iommu_ioas_alloc");
_Static_assert(sizeof(struct iommu_iova_range) == 16, "struct iommu_iova_range");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32, "struct iommu_ioas_iova_ranges");
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "struct iommu_ioas_map");
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "struct iommu_ioas_unmap");
_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 16, "struct vfio_device_bind_iommufd");
_Static_assert(IOMMU_IOAS_ALLOC == 0x3b81 && IOMMU_IOAS_IOVA_RANGES == 0x3b84 &&
		       IOMMU_IOAS_MAP == 0x3b85 && IOMMU_IOAS_UNMAP == 0x3b86,
	       "iommufd ioctl numbers");
_Static_assert(VFIO_DEVICE_BIND_IOMMUFD == 0x3b76 && VFIO_DEVICE_ATTACH_IOMMUFD_PT == 0x3b77,
	       "VFIO cdev ioctl numbers");

/* Only the fixed part: the pasid field of later kernels is behind a flag. */
#define ATTACH_PT_ARGSZ 12u

#define MAX_RANGES     4096 /* more IOVA windows than this is not plausible */
#define MAX_INFO_TRIES 4

/* --- the IOAS container ------------------------------------------------------------- */

struct ioas {
	int fd;          /* /dev/iommu */
	uint32_t id;     /* the IOAS every device of the container attaches to */
};

static const struct uvfio__container_ops ioas_ops;

static struct ioas *ioas_of(struct uvfio_container *c)
{
	return c->priv;
}

static int ioas_map(struct uvfio_container *c, const struct uvfio__mapping *m)
{
	struct iommu_ioas_map mp = {
		.size = sizeof(mp),
		/* Our allocator chose the address: the kernel must not pick another. */
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
			 ((m->prot & UVFIO_DMA_READ) ? IOMMU_IOAS_MAP_READABLE : 0) |
			 ((m->prot & UVFIO_DMA_WRITE) ? IOMMU_IOAS_MAP_WRITEABLE : 0),
		.ioas_id = ioas_of(c)->id,
		.user_va = (uintptr_t)m->vaddr,
		.length = m->size,
		.iova = m->iova,
	};

	if (ioctl(ioas_of(c)->fd, IOMMU_IOAS_MAP, &mp)) {
		int ret = -errno;

		uvfio__log_map_error(&c->log, ret, m);
		return ret;
	}
	return 0;
}

static int ioas_unmap(struct uvfio_container *c, const struct uvfio__mapping *m)
{
	struct iommu_ioas_unmap um = { .size = sizeof(um), .ioas_id = ioas_of(c)->id,
				       .iova = m->iova, .length = m->size };

	if (ioctl(ioas_of(c)->fd, IOMMU_IOAS_UNMAP, &um)) {
		int ret = -errno;

		uvfio__log_unmap_error(&c->log, ret, m);
		return ret;
	}
	/* On return, length is what the kernel really removed. */
	return uvfio__check_unmapped(&c->log, m, um.length);
}

static int ioas_info(struct uvfio_container *c, struct uvfio_iommu_info *info)
{
	struct iommu_ioas_iova_ranges q;
	struct iommu_iova_range *r;
	uint32_t n = UVFIO_MAX_IOVA_RANGES;
	uint64_t align;
	int ret, tries = 0;

	for (;;) {
		r = calloc(n, sizeof(*r));
		if (!r)
			return -ENOMEM;
		q = (struct iommu_ioas_iova_ranges){ .size = sizeof(q),
						     .ioas_id = ioas_of(c)->id,
						     .num_iovas = n,
						     .allowed_iovas = (uintptr_t)r };
		if (!ioctl(ioas_of(c)->fd, IOMMU_IOAS_IOVA_RANGES, &q))
			break;
		ret = -errno;
		free(r);
		/* EMSGSIZE: the array was too small; num_iovas says how many there are. */
		if (ret == -EMSGSIZE && q.num_iovas > n && q.num_iovas <= MAX_RANGES &&
		    ++tries < MAX_INFO_TRIES) {
			n = q.num_iovas;
			continue;
		}
		log_err(&c->log, "IOMMU_IOAS_IOVA_RANGES failed: %s",
			ret == -EMSGSIZE ? "the number of ranges keeps growing" : strerror(-ret));
		return ret == -EMSGSIZE ? -EPROTO : ret;
	}
	info->nr_ranges = MIN(q.num_iovas, n);
	for (uint32_t i = 0; i < MIN(info->nr_ranges, (uint32_t)UVFIO_MAX_IOVA_RANGES); i++)
		info->ranges[i] = (struct uvfio_iova_range){ r[i].start, r[i].last };
	free(r);
	/* Alignment 1 means any; mappings still come in pages. */
	align = q.out_iova_alignment;
	if (align < 4096)
		align = 4096;
	if (!is_pow2_u64(align))
		align = 1ull << (64 - __builtin_clzll(align));
	info->pgsizes = align;
	info->dma_avail = UINT32_MAX;
	return 0;
}

static void ioas_release(struct uvfio_container *c)
{
	struct ioas *a = ioas_of(c);

	/* Closing the iommufd destroys the IOAS and every mapping in it. */
	if (a) {
		close_fd(&a->fd);
		free(a);
	}
}

static const struct uvfio__container_ops ioas_ops = {
	.name = "iommufd",
	.map = ioas_map,
	.unmap = ioas_unmap,
	.info = ioas_info,
	.release = ioas_release,
};

/* A new iommufd with one IOAS. Logged to @g. */
static int ioas_open(struct uvfio_group *g, struct ioas **out)
{
	struct iommu_ioas_alloc al = { .size = sizeof(al) };
	char path[300];
	struct ioas *a;
	int ret;

	snprintf(path, sizeof(path), "%s/iommu", g->opts.devfs);
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fd = open(path, O_RDWR | O_CLOEXEC);
	if (a->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			log_err(&g->log, "%s is missing: this kernel has no iommufd (use the VFIO "
					 "group path: UVFIO_OPEN_F_NO_IOMMUFD)", path);
		else if (ret == -EACCES || ret == -EPERM)
			log_err(&g->log,
				"no permission to open %s: run as root, or give it to your user "
				"(sudo chown $USER %s)",
				path, path);
		else
			log_err(&g->log, "cannot open %s: %s", path, strerror(-ret));
		goto fail;
	}
	if (ioctl(a->fd, IOMMU_IOAS_ALLOC, &al)) {
		ret = -errno;
		log_err(&g->log, "IOMMU_IOAS_ALLOC on %s failed: %s", path, strerror(-ret));
		goto fail;
	}
	a->id = al.out_ioas_id;
	*out = a;
	return 0;
fail:
	close_fd(&a->fd);
	free(a);
	return ret;
}

/* --- the group, as sysfs shows it ------------------------------------------------------- */

static const struct uvfio__group_ops cdev_group_ops;

/* The cdev name ("vfio3") of PCI device @bdf: 0, or -ENOENT. */
static int cdev_name(const struct uvfio__opts *o, const char *bdf, char name[64])
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev", o->sysfs, bdf);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir))) {
		if (!strncmp(e->d_name, "vfio", 4) && e->d_name[4] >= '0' && e->d_name[4] <= '9' &&
		    strlen(e->d_name) < 64) {
			memcpy(name, e->d_name, strlen(e->d_name) + 1);
			ret = 0;
			break;
		}
	}
	closedir(dir);
	return ret;
}

bool uvfio__cdev_usable(const struct uvfio__opts *o, const char *bdf)
{
	char name[64], path[300];

	snprintf(path, sizeof(path), "%s/iommu", o->devfs);
	return !cdev_name(o, bdf, name) && !access(path, F_OK);
}

int uvfio__cdev_group_open(int32_t id, const struct uvfio__opts *o, struct uvfio_group **out)
{
	return uvfio__kgroup_open_ops(id, o, &cdev_group_ops, out);
}

static int cdev_status(struct uvfio_group *g, struct uvfio_group_status *st)
{
	/* No group fd on this path: sysfs is all there is. */
	return uvfio__kgroup_sysfs_status(g, st);
}

static int cdev_attach(struct uvfio_group *g, struct uvfio_container *c)
{
	struct ioas *a;
	int ret;

	if (c->ops && c->ops != &ioas_ops) {
		log_err(&g->log,
			"the container holds %s devices; iommufd devices need a container of "
			"their own",
			c->ops->name);
		return -EINVAL;
	}
	ret = uvfio__kgroup_check_viable(g);
	if (ret)
		return ret;
	/* A later group shares the IOAS: devices attach to it when opened. */
	if (c->ops)
		return 0;
	ret = ioas_open(g, &a);
	if (ret)
		return ret;
	c->ops = &ioas_ops;
	c->priv = a;
	return 0;
}

static int cdev_detach(struct uvfio_group *g)
{
	/* Nothing is held for the group itself; its devices are closed already. */
	return 0;
}

static int cdev_open_device(struct uvfio_group *g, const char *name, struct uvfio_device **out)
{
	struct ioas *a = ioas_of(g->container);
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .flags = 0 };
	struct vfio_device_attach_iommufd_pt at = { .argsz = ATTACH_PT_ARGSZ, .flags = 0 };
	char bdf[16], cdev[64], path[400];
	int fd, ret;

	ret = uvfio__kgroup_pick(g, name, bdf);
	if (ret)
		return ret;
	if (cdev_name(&g->opts, bdf, cdev)) {
		log_err(&g->log, "%s has no VFIO device node (no %s/bus/pci/devices/%s/vfio-dev): "
				 "bind it to vfio-pci ('uvfio bind %s') on a kernel with "
				 "CONFIG_VFIO_DEVICE_CDEV", bdf, g->opts.sysfs, bdf, bdf);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "%s/vfio/devices/%s", g->opts.devfs, cdev);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			log_err(&g->log,
				"%s, the node of %s, is missing: is %s a devtmpfs?",
				path, bdf, g->opts.devfs);
		else if (ret == -EACCES || ret == -EPERM)
			log_err(&g->log,
				"no permission to open %s: run as root, or give it to your user "
				"(sudo chown $USER %s %s/iommu)",
				path, path, g->opts.devfs);
		else
			log_err(&g->log, "cannot open %s: %s", path, strerror(-ret));
		return ret;
	}
	/* Until bound, the cdev allows nothing else. */
	bind.iommufd = a->fd;
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind)) {
		ret = -errno;
		if (ret == -EPERM || ret == -EBUSY)
			log_err(&g->log,
				"the kernel refused to bind %s to the iommufd (%s): another "
				"member of IOMMU group %d has a DMA-using driver, or is in use "
				"through another iommufd or container",
				bdf, strerror(-ret), (int)g->id);
		else
			log_err(&g->log, "VFIO_DEVICE_BIND_IOMMUFD of %s failed: %s", bdf,
				strerror(-ret));
		goto fail;
	}
	at.pt_id = a->id;
	if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at)) {
		ret = -errno;
		if (ret == -EINVAL)
			log_err(&g->log,
				"%s can't join this address space: its IOMMU's ranges exclude "
				"existing mappings, or the IOMMU differs; give it a container of "
				"its own",
				bdf);
		else
			log_err(&g->log, "VFIO_DEVICE_ATTACH_IOMMUFD_PT of %s failed: %s", bdf,
				strerror(-ret));
		goto fail;
	}
	return uvfio__kdev_new(g, bdf, fd, "iommufd", out);
fail:
	/* Closing the cdev unbinds it. */
	close_fd(&fd);
	return ret;
}

static void cdev_close(struct uvfio_group *g)
{
	uvfio__kgroup_free(g);
}

static const struct uvfio__group_ops cdev_group_ops = {
	.status = cdev_status,
	.attach = cdev_attach,
	.detach = cdev_detach,
	.open_device = cdev_open_device,
	.close = cdev_close,
};
