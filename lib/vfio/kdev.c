// SPDX-License-Identifier: BSD-3-Clause
/*
 * Kernel VFIO devices: the device-fd ioctls, shared by the legacy group
 * path (kernel.c) and the cdev + iommufd path (iommufd.c). Whichever way
 * the fd was obtained, regions are reached with pread/pwrite/mmap at the
 * offset GET_REGION_INFO reports, and interrupts with SET_IRQS.
 *
 * The kernel is trusted more than a vfio-user server, but its answers are
 * still parsed defensively: info structs grow between kernel versions
 * (argsz is raised and we ask again, a bounded number of times) and the
 * capability chains are walked within the buffer with offsets that must
 * grow, so neither a newer kernel nor a bug can send us past the buffer
 * or round a loop. Hazard: a region's offset is the kernel's to choose
 * (vfio-pci uses index << 40 internally); it is never computed here.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/vfio.h>

#include "kdev.h"

#define MAX_INFO_SIZE  65536 /* largest region-info reply we accept */
#define MAX_INFO_TRIES 4     /* argsz may grow between two calls; don't chase it forever */

/* The public flag values are the kernel's: data passes through unchanged. */
_Static_assert(UVFIO_IRQ_SET_DATA_NONE == VFIO_IRQ_SET_DATA_NONE &&
		       UVFIO_IRQ_SET_DATA_BOOL == VFIO_IRQ_SET_DATA_BOOL &&
		       UVFIO_IRQ_SET_DATA_EVENTFD == VFIO_IRQ_SET_DATA_EVENTFD &&
		       UVFIO_IRQ_SET_ACTION_MASK == VFIO_IRQ_SET_ACTION_MASK &&
		       UVFIO_IRQ_SET_ACTION_UNMASK == VFIO_IRQ_SET_ACTION_UNMASK &&
		       UVFIO_IRQ_SET_ACTION_TRIGGER == VFIO_IRQ_SET_ACTION_TRIGGER,
	       "SET_IRQS flags differ from <linux/vfio.h>");
_Static_assert(UVFIO_REGION_INFO_FLAG_READ == VFIO_REGION_INFO_FLAG_READ &&
		       UVFIO_REGION_INFO_FLAG_WRITE == VFIO_REGION_INFO_FLAG_WRITE &&
		       UVFIO_REGION_INFO_FLAG_MMAP == VFIO_REGION_INFO_FLAG_MMAP,
	       "region flags differ from <linux/vfio.h>");
_Static_assert(UVFIO_DEVICE_FLAGS_RESET == VFIO_DEVICE_FLAGS_RESET &&
		       UVFIO_DEVICE_FLAGS_PCI == VFIO_DEVICE_FLAGS_PCI,
	       "device flags differ from <linux/vfio.h>");
_Static_assert(UVFIO_IRQ_INFO_EVENTFD == VFIO_IRQ_INFO_EVENTFD &&
		       UVFIO_IRQ_INFO_NORESIZE == VFIO_IRQ_INFO_NORESIZE,
	       "IRQ info flags differ from <linux/vfio.h>");
_Static_assert(sizeof(struct vfio_irq_set) == UVFIO_IRQ_SET_SIZE, "struct vfio_irq_set");
_Static_assert(sizeof(struct vfio_region_info) == 32, "struct vfio_region_info");
_Static_assert(sizeof(struct vfio_irq_info) == 16, "struct vfio_irq_info");

struct kdev {
	int fd;
};

static int dev_fd(struct uvfio_device *d)
{
	return ((struct kdev *)d->priv)->fd;
}

int uvfio__kcaps_walk(const uint8_t *buf, size_t len, size_t fixed, uint32_t first,
		      int (*fn)(void *priv, uint16_t id, const uint8_t *data, size_t size),
		      void *priv)
{
	uint64_t off = first;

	while (off) {
		struct vfio_info_cap_header h;
		uint64_t end;
		int ret;

		if (off < fixed || off > len || len - off < sizeof(h))
			return -EPROTO;
		memcpy(&h, buf + off, sizeof(h));
		/* Each capability must start after the one before: no loops. */
		if (h.next && (h.next < off + sizeof(h) || h.next > len))
			return -EPROTO;
		end = h.next ? h.next : len;
		ret = fn(priv, h.id, buf + off + sizeof(h), (size_t)(end - off - sizeof(h)));
		if (ret)
			return ret;
		off = h.next;
	}
	return 0;
}

static int kdev_info(struct uvfio_device *d, uint32_t *flags, uint32_t *num_regions,
		     uint32_t *num_irqs)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	if (ioctl(dev_fd(d), VFIO_DEVICE_GET_INFO, &info)) {
		int ret = -errno;

		log_err(&d->log, "VFIO_DEVICE_GET_INFO failed: %s", strerror(-ret));
		return ret;
	}
	/* Device capabilities (CAPS) are not exposed; the flag would mislead. */
	*flags = info.flags & ~(uint32_t)VFIO_DEVICE_FLAGS_CAPS;
	*num_regions = info.num_regions;
	*num_irqs = info.num_irqs;
	return 0;
}

struct region_caps {
	struct uvfio__region *r;
	bool sparse;                   /* a SPARSE_MMAP capability was there */
	int err;
};

static int region_cap(void *priv, uint16_t id, const uint8_t *data, size_t size)
{
	struct region_caps *rc = priv;
	struct uvfio__region *r = rc->r;
	uint32_t nr;

	switch (id) {
	case VFIO_REGION_INFO_CAP_SPARSE_MMAP:
		if (rc->sparse || size < 8)
			return -EPROTO;
		rc->sparse = true;
		nr = uvfio__k32(data);
		if (nr > (size - 8) / 16)
			return -EPROTO;
		if (nr > UVFIO__MAX_AREAS) {
			r->nr_areas = nr; /* the core names the limit */
			return 0;
		}
		r->areas = calloc(nr ? nr : 1, sizeof(*r->areas));
		if (!r->areas)
			return -ENOMEM;
		for (uint32_t i = 0; i < nr; i++) {
			struct uvfio_sparse_area a = { uvfio__k64(data + 8 + 16 * i),
						       uvfio__k64(data + 16 + 16 * i) };

			/* An empty area says nothing; the core would refuse it. */
			if (a.size)
				r->areas[r->nr_areas++] = a;
		}
		break;
	case VFIO_REGION_INFO_CAP_TYPE:
		if (size < 8)
			return -EPROTO;
		r->has_type = true;
		r->type = uvfio__k32(data);
		r->subtype = uvfio__k32(data + 4);
		break;
	case VFIO_REGION_INFO_CAP_MSIX_MAPPABLE:
		r->msix_mappable = true;
		break;
	default:
		/* Capabilities of later kernels: not ours to understand. */
		break;
	}
	return 0;
}

static int kdev_region_info(struct uvfio_device *d, uint32_t index, struct uvfio__region *r)
{
	struct vfio_region_info *ri;
	struct region_caps rc = { .r = r };
	uint32_t argsz = sizeof(*ri);
	int ret, tries = 0;

	for (;;) {
		ri = calloc(1, argsz);
		if (!ri)
			return -ENOMEM;
		ri->argsz = argsz;
		ri->index = index;
		if (ioctl(dev_fd(d), VFIO_DEVICE_GET_REGION_INFO, ri)) {
			ret = -errno;
			free(ri);
			/*
			 * vfio-pci counts the VGA region (8) on every device but
			 * refuses it on those without VGA: an absent region, as
			 * a zero-sized BAR is, not a failure.
			 */
			if (ret == -EINVAL && index < d->num_regions) {
				log_debug(&d->log, "region %u is not implemented", index);
				return 0;
			}
			log_err(&d->log,
				"VFIO_DEVICE_GET_REGION_INFO of region %u failed: %s",
				index, strerror(-ret));
			return ret;
		}
		/* The capabilities didn't fit: the kernel says how much room they need. */
		if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS) || ri->argsz <= argsz)
			break;
		if (ri->argsz > MAX_INFO_SIZE || ++tries >= MAX_INFO_TRIES) {
			log_err(&d->log,
				"region %u's description keeps growing (%u bytes); giving up",
				index, ri->argsz);
			free(ri);
			return -EPROTO;
		}
		argsz = ri->argsz;
		free(ri);
	}
	r->flags = ri->flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
				VFIO_REGION_INFO_FLAG_MMAP);
	r->size = ri->size;
	r->offset = ri->offset;
	ret = 0;
	if ((ri->flags & VFIO_REGION_INFO_FLAG_CAPS) && ri->cap_offset)
		ret = uvfio__kcaps_walk((const uint8_t *)ri, argsz, sizeof(*ri), ri->cap_offset,
					region_cap, &rc);
	free(ri);
	if (ret) {
		if (ret == -EPROTO)
			log_err(&d->log, "region %u's capability chain is malformed", index);
		free(r->areas);
		r->areas = NULL;
		r->nr_areas = 0;
		return ret;
	}
	/* A sparse capability with no (non-empty) area: nothing may be mmap'ed. */
	if (rc.sparse && !r->nr_areas)
		r->flags &= ~(uint32_t)VFIO_REGION_INFO_FLAG_MMAP;
	return 0;
}

static int kdev_rw(struct uvfio_device *d, uint32_t index, const struct uvfio__region *r,
		   uint64_t off, void *buf, size_t len, bool write)
{
	uint8_t *b = buf;
	uint64_t at, end;

	if (!range_ok(r->offset, off, &at) || !range_ok(at, len, &end) || end > INT64_MAX)
		return -EINVAL;
	while (len) {
		ssize_t n = write ? pwrite(dev_fd(d), b, len, (off_t)at)
				  : pread(dev_fd(d), b, len, (off_t)at);

		if (n < 0 && errno == EINTR)
			continue;
		/* EIO: e.g. a BAR while memory decoding is off; the caller's to handle. */
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		b += n;
		at += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int kdev_mmap(struct uvfio_device *d, const struct uvfio__region *r, uint64_t off,
		     size_t len, int prot, void **addr)
{
	uint64_t at;
	void *p;

	if (!range_ok(r->offset, off, &at) || at > INT64_MAX)
		return -EINVAL;
	p = mmap(NULL, len, prot, MAP_SHARED, dev_fd(d), (off_t)at);
	if (p == MAP_FAILED) {
		int ret = -errno;

		log_err(&d->log,
			"mmap of [0x%llx, +0x%zx) failed: %s",
			(unsigned long long)off, len, strerror(-ret));
		return ret;
	}
	*addr = p;
	return 0;
}

static int kdev_irq_info(struct uvfio_device *d, uint32_t index, struct uvfio_irq_info *out)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };

	if (ioctl(dev_fd(d), VFIO_DEVICE_GET_IRQ_INFO, &info))
		return -errno;
	out->argsz = UVFIO_IRQ_INFO_SIZE;
	out->flags = info.flags;
	out->index = index;
	out->count = info.count;
	return 0;
}

static int kdev_set_irqs(struct uvfio_device *d, uint32_t flags, uint32_t index, uint32_t start,
			 uint32_t count, const int *fds, const uint8_t *bools)
{
	struct vfio_irq_set *s;
	size_t data = 0;
	int ret;

	if (count > UVFIO__MAX_VECTORS)
		return -EINVAL;
	if (flags & UVFIO_IRQ_SET_DATA_EVENTFD)
		data = (size_t)count * sizeof(int32_t);
	else if (flags & UVFIO_IRQ_SET_DATA_BOOL)
		data = count;
	if ((flags & UVFIO_IRQ_SET_DATA_EVENTFD) ? data && !fds : data && !bools)
		return -EINVAL;
	s = calloc(1, sizeof(*s) + data);
	if (!s)
		return -ENOMEM;
	*s = (struct vfio_irq_set){ .argsz = (uint32_t)(sizeof(*s) + data), .flags = flags,
				    .index = index, .start = start, .count = count };
	/* As the kernel takes them: one s32 per vector, -1 unbinds that vector. */
	for (uint32_t i = 0; (flags & UVFIO_IRQ_SET_DATA_EVENTFD) && i < count; i++) {
		int32_t fd = fds[i];

		memcpy(s->data + i * sizeof(fd), &fd, sizeof(fd));
	}
	if (flags & UVFIO_IRQ_SET_DATA_BOOL)
		memcpy(s->data, bools, count);
	ret = ioctl(dev_fd(d), VFIO_DEVICE_SET_IRQS, s);
	free(s);
	if (ret < 0)
		return -errno;
	if (ret > 0) {
		/* MSI/MSI-X: the platform had fewer vectors; nothing was enabled. */
		log_err(&d->log, "IRQ index %u could get only %d of the %u vectors asked for: ask "
				 "for at most %d", index, ret, start + count, ret);
		return -ENOSPC;
	}
	return 0;
}

static int kdev_reset(struct uvfio_device *d)
{
	if (ioctl(dev_fd(d), VFIO_DEVICE_RESET)) {
		int ret = -errno;

		log_err(&d->log, "VFIO_DEVICE_RESET failed: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

static void kdev_close(struct uvfio_device *d)
{
	struct kdev *k = d->priv;

	if (!k)
		return;
	/* The kernel drops the device's interrupts and (cdev) its iommufd binding. */
	close_fd(&k->fd);
	free(k);
	d->priv = NULL;
}

#define KDEV_OPS(name)                                                                             \
	{                                                                                          \
		.backend = name, .info = kdev_info, .region_info = kdev_region_info,               \
		.rw = kdev_rw, .mmap = kdev_mmap, .irq_info = kdev_irq_info,                       \
		.set_irqs = kdev_set_irqs, .reset = kdev_reset, .poll_fd = NULL,                   \
		.dispatch = NULL, .close = kdev_close,                                             \
	}

/* Two tables only for the name uvfio_device_backend() reports. */
static const struct uvfio__device_ops kdev_type1_ops = KDEV_OPS("type1");
static const struct uvfio__device_ops kdev_iommufd_ops = KDEV_OPS("iommufd");

int uvfio__kdev_new(struct uvfio_group *g, const char *name, int fd, const char *backend,
		    struct uvfio_device **out)
{
	const struct uvfio__device_ops *ops;
	struct uvfio_device *d;
	struct kdev *k;
	int ret;

	if (!strcmp(backend, "type1"))
		ops = &kdev_type1_ops;
	else if (!strcmp(backend, "iommufd"))
		ops = &kdev_iommufd_ops;
	else
		ops = NULL;
	k = ops ? malloc(sizeof(*k)) : NULL;
	if (!k) {
		close_fd(&fd);
		return ops ? -ENOMEM : -EINVAL;
	}
	k->fd = fd;
	ret = uvfio__device_new(g, name, &d);
	if (ret) {
		close_fd(&k->fd);
		free(k);
		return ret;
	}
	d->ops = ops;
	d->priv = k;
	ret = uvfio__device_ready(d);
	if (ret) {
		kdev_close(d);
		uvfio__device_free(d);
		return ret;
	}
	*out = d;
	return 0;
}
