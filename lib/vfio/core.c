// SPDX-License-Identifier: BSD-3-Clause
/*
 * Containers and groups: the backend-neutral half of the object model.
 *
 * A container keeps every mapping made through it (the vfio-user backend
 * replays them to devices attached later and serves the server's
 * DMA_READ/DMA_WRITE from them) and the free part of its bus-address space.
 * Its backend is chosen by the first group attached; when the last group
 * leaves, the backend state goes and the mappings with it, as the kernel
 * drops a container's mappings when its last group detaches.
 *
 * Hazard: mappings name memory of this process that a device may write.
 * The table is the one place that says which memory that is; it is kept
 * under the container lock and a mapping is recorded before any backend is
 * told, and removed only after every backend has let go of it.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "vfio_priv.h"

int uvfio__opts_copy(const struct uvfio_open_opts *in, struct uvfio__opts *out)
{
	memset(out, 0, sizeof(*out));
	out->timeout_ms = UVFIO__DEF_TIMEOUT;
	snprintf(out->sysfs, sizeof(out->sysfs), "/sys");
	snprintf(out->devfs, sizeof(out->devfs), "/dev");
	if (!in)
		return 0;
	if (in->argsz < sizeof(*in) ||
	    (in->flags & ~(UVFIO_OPEN_F_NO_IOMMUFD | UVFIO_OPEN_F_NO_TWIN)))
		return -EINVAL;
	out->flags = in->flags;
	out->log = in->log;
	out->log_priv = in->log_priv;
	out->log_level = in->log_level;
	if (in->timeout_ms)
		out->timeout_ms = in->timeout_ms;
	if ((in->sysfs && strlen(in->sysfs) >= sizeof(out->sysfs)) ||
	    (in->devfs && strlen(in->devfs) >= sizeof(out->devfs)))
		return -ENAMETOOLONG;
	if (in->sysfs)
		snprintf(out->sysfs, sizeof(out->sysfs), "%s", in->sysfs);
	if (in->devfs)
		snprintf(out->devfs, sizeof(out->devfs), "%s", in->devfs);
	return 0;
}

void uvfio__log_init(struct uvfio__log *l, const struct uvfio__opts *o, const char *prefix)
{
	l->fn = o->log;
	l->priv = o->log_priv;
	l->level = o->log_level;
	l->prefix = prefix;
}

/* --- containers ---------------------------------------------------------------- */

int uvfio_container_create(const struct uvfio_open_opts *opts, struct uvfio_container **out)
{
	struct uvfio_container *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	ret = uvfio__opts_copy(opts, &c->opts);
	if (ret) {
		free(c);
		return ret;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->pool_lock, NULL);
	pthread_rwlock_init(&c->maps_lock, NULL);
	uvfio__log_init(&c->log, &c->opts, "container");
	uvfio__bt_init(&c->maps);
	*out = c;
	return 0;
}

static int free_mapping(void *priv, const struct uvfio__bt_ent *e)
{
	struct uvfio__mapping *m = (struct uvfio__mapping *)(uintptr_t)e->val;

	close_fd(&m->fd);
	free(m);
	return 0;
}

/* Caller holds c->lock; the backend is gone or going. */
static void drop_mappings(struct uvfio_container *c)
{
	pthread_rwlock_wrlock(&c->maps_lock);
	uvfio__bt_foreach(&c->maps, free_mapping, NULL);
	uvfio__bt_clear(&c->maps);
	pthread_rwlock_unlock(&c->maps_lock);
	c->nr_maps = 0;
	uvfio__iova_fini(&c->iovas);
}

void uvfio_container_destroy(struct uvfio_container *c)
{
	if (!c)
		return;
	/* Pools unmap through the backend, so before the groups go. */
	uvfio__pools_free(c);
	while (c->groups) {
		struct uvfio_group *g = c->groups;

		/* Devices of groups the caller forgot go with the container. */
		while (g->devices)
			uvfio_device_close(g->devices);
		uvfio_group_detach(g);
		if (c->groups == g) /* detach failed: unlink by force */
			c->groups = g->next;
	}
	pthread_mutex_lock(&c->lock);
	drop_mappings(c);
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->pool_lock);
	pthread_rwlock_destroy(&c->maps_lock);
	free(c);
}

/*
 * Another group or device may narrow the usable windows (type1 intersects
 * the apertures of every IOMMU domain; iommufd's ranges shrink with each
 * device attached): keep only what all of them allow. Caller holds c->lock.
 */
static void iovas_refresh(struct uvfio_container *c)
{
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };

	if (c->iovas.ready && c->ops && !c->ops->info(c, &info))
		uvfio__iova_restrict(&c->iovas, info.ranges, MIN(info.nr_ranges, UVFIO_MAX_IOVA_RANGES));
}

/* Fill c->iovas from the backend's ranges the first time they are needed. */
static int iovas_ready(struct uvfio_container *c)
{
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };
	int ret;

	if (c->iovas.ready)
		return 0;
	ret = c->ops->info(c, &info);
	if (ret)
		return ret;
	return uvfio__iova_init(&c->iovas, info.ranges, MIN(info.nr_ranges, UVFIO_MAX_IOVA_RANGES));
}

static uint64_t min_page(struct uvfio_container *c)
{
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };

	if (c->ops->info(c, &info) || !info.pgsizes)
		return 4096;
	return info.pgsizes & -info.pgsizes;
}

const struct uvfio__mapping *uvfio__container_find(struct uvfio_container *c, uint64_t iova,
						   uint64_t len)
{
	struct uvfio__bt_ent e;
	const struct uvfio__mapping *m;
	uint64_t end;

	if (!range_ok(iova, len, &end) || iova > UVFIO__BT_ADDR_MAX ||
	    !uvfio__bt_find(&c->maps, iova, &e))
		return NULL;
	m = (const struct uvfio__mapping *)(uintptr_t)e.val;
	return end <= m->iova + m->size ? m : NULL;
}

struct foreach_ctx {
	int (*fn)(void *priv, const struct uvfio__mapping *m);
	void *priv;
};

static int foreach_one(void *priv, const struct uvfio__bt_ent *e)
{
	struct foreach_ctx *f = priv;

	return f->fn(f->priv, (const struct uvfio__mapping *)(uintptr_t)e->val);
}

int uvfio__container_foreach(struct uvfio_container *c,
			     int (*fn)(void *priv, const struct uvfio__mapping *m), void *priv)
{
	struct foreach_ctx f = { fn, priv };

	return uvfio__bt_foreach(&c->maps, foreach_one, &f);
}

/* Does [iova, iova + size) lie inside the IOMMU's usable windows? */
static bool in_windows(struct uvfio_container *c, uint64_t iova, uint64_t size)
{
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };
	uint64_t pos = iova, last = iova + size - 1;

	/* No description, or more windows than we see: the backend judges. */
	if (c->ops->info(c, &info) || !info.nr_ranges || info.nr_ranges > UVFIO_MAX_IOVA_RANGES)
		return true;
	for (uint32_t i = 0; i < info.nr_ranges; i++) {
		if (info.ranges[i].start <= pos && pos <= info.ranges[i].last) {
			if (last <= info.ranges[i].last)
				return true;
			pos = info.ranges[i].last + 1; /* continues in a window that touches */
		}
	}
	return false;
}

static int check_mapping(struct uvfio_container *c, const struct uvfio_mapping *m, uint64_t pg)
{
	uint64_t end;

	if (!m || m->argsz < sizeof(*m) || !m->prot ||
	    (m->prot & ~(UVFIO_DMA_READ | UVFIO_DMA_WRITE)))
		return -EINVAL;
	if (!m->size || (m->size | m->iova | (uintptr_t)m->vaddr) & (pg - 1) ||
	    !range_ok(m->iova, m->size, &end) || m->iova > UVFIO__BT_ADDR_MAX ||
	    end - 1 > UVFIO__BT_ADDR_MAX || !range_ok((uintptr_t)m->vaddr, m->size, &end))
		return -EINVAL;
	if (m->fd >= 0 && (m->fd_offset & (pg - 1)))
		return -EINVAL;
	if (!in_windows(c, m->iova, m->size)) {
		log_err(&c->log, "[0x%llx, +0x%llx) is outside the IOMMU's usable IOVA ranges",
			(unsigned long long)m->iova, (unsigned long long)m->size);
		return -EINVAL;
	}
	return 0;
}

int uvfio_container_map(struct uvfio_container *c, const struct uvfio_mapping *m)
{
	struct uvfio__bt_cursor cur;
	struct uvfio__mapping *rec;
	struct uvfio__bt_ent e;
	uint64_t pg;
	int ret;

	pthread_mutex_lock(&c->lock);
	if (!c->ops) {
		ret = -ENODEV;
		log_err(&c->log, "attach a group to the container (uvfio_group_attach) before mapping memory");
		goto out;
	}
	pg = min_page(c);
	ret = check_mapping(c, m, pg);
	if (ret)
		goto out;
	ret = iovas_ready(c);
	if (ret)
		goto out;
	rec = calloc(1, sizeof(*rec));
	if (!rec) {
		ret = -ENOMEM;
		goto out;
	}
	*rec = (struct uvfio__mapping){ .iova = m->iova, .size = m->size, .vaddr = m->vaddr,
					 .prot = m->prot, .fd = -1, .fd_offset = m->fd_offset };
	if (m->fd >= 0) {
		rec->fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 0);
		if (rec->fd < 0) {
			ret = -errno;
			free(rec);
			goto out;
		}
	}
	/*
	 * Outside an uvfio_container_iova_alloc() reservation: take the range.
	 * Inside one (nothing of it free): the reservation owns it. Half in,
	 * half out would let the allocator hand out part of a mapping.
	 */
	ret = uvfio__iova_take(&c->iovas, rec->iova, rec->size);
	if (ret == -EBUSY && uvfio__iova_any_free(&c->iovas, rec->iova, rec->size)) {
		log_err(&c->log,
			"[0x%llx, +0x%llx) is partly inside an IOVA range from uvfio_container_iova_alloc() and partly not; map inside the reservation or wholly outside it",
			(unsigned long long)rec->iova, (unsigned long long)rec->size);
		ret = -EINVAL;
	}
	if (ret && ret != -EBUSY)
		goto fail_rec;
	rec->reserved = !ret;
	/*
	 * Recorded before any device hears of it: a vfio-user server may
	 * reach for the memory as soon as it has answered the DMA_MAP.
	 */
	pthread_rwlock_wrlock(&c->maps_lock);
	ret = uvfio__bt_prepare(&c->maps, rec->iova, rec->iova + rec->size, &cur);
	if (!ret)
		uvfio__bt_commit(&c->maps, &cur, &(struct uvfio__bt_ent){
			.key = rec->iova, .end = rec->iova + rec->size, .val = (uintptr_t)rec });
	pthread_rwlock_unlock(&c->maps_lock);
	if (ret)
		goto fail_iova;
	ret = c->ops->map(c, rec);
	if (ret) {
		pthread_rwlock_wrlock(&c->maps_lock);
		uvfio__bt_remove(&c->maps, rec->iova, rec->iova + rec->size, &e);
		pthread_rwlock_unlock(&c->maps_lock);
		goto fail_iova;
	}
	c->nr_maps++;
	goto out;
fail_iova:
	if (rec->reserved)
		uvfio__iova_put(&c->iovas, rec->iova, rec->size);
fail_rec:
	close_fd(&rec->fd);
	free(rec);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int uvfio_container_unmap(struct uvfio_container *c, uvfio_iova_t iova, uint64_t size)
{
	struct uvfio__bt_ent e;
	struct uvfio__mapping *m;
	uint64_t end;
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = -ENOENT;
	if (!c->ops || !size || !range_ok(iova, size, &end) || iova > UVFIO__BT_ADDR_MAX ||
	    !uvfio__bt_find(&c->maps, iova, &e))
		goto out;
	m = (struct uvfio__mapping *)(uintptr_t)e.val;
	if (m->iova != iova || m->size != size)
		goto out;
	ret = c->ops->unmap(c, m);
	if (ret)
		goto out;
	pthread_rwlock_wrlock(&c->maps_lock);
	uvfio__bt_remove(&c->maps, m->iova, m->iova + m->size, &e);
	pthread_rwlock_unlock(&c->maps_lock);
	if (m->reserved)
		uvfio__iova_put(&c->iovas, m->iova, m->size);
	c->nr_maps--;
	close_fd(&m->fd);
	free(m);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int uvfio_container_info(struct uvfio_container *c, struct uvfio_iommu_info *info)
{
	int ret = 0;

	if (!info || info->argsz < sizeof(*info))
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	memset((uint8_t *)info + sizeof(info->argsz), 0, sizeof(*info) - sizeof(info->argsz));
	if (c->ops) {
		ret = c->ops->info(c, info);
		info->backend = c->ops->name;
	}
	info->nr_mappings = c->nr_maps;
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int uvfio_container_iova_alloc(struct uvfio_container *c, uint64_t size, uint64_t align,
			       uvfio_iova_t *iova)
{
	uint64_t pg;
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = -ENODEV;
	if (!c->ops)
		goto out;
	pg = min_page(c);
	ret = -EINVAL;
	if (!size || (align && !is_pow2_u64(align)) || size > UINT64_MAX - pg)
		goto out;
	ret = iovas_ready(c);
	if (!ret)
		ret = uvfio__iova_alloc(&c->iovas, align_up_u64(size, pg), MAX(align, pg), iova);
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

int uvfio_container_iova_free(struct uvfio_container *c, uvfio_iova_t iova, uint64_t size)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&c->lock);
	if (c->ops && size)
		ret = uvfio__iova_put(&c->iovas, iova, align_up_u64(size, min_page(c)));
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* --- groups --------------------------------------------------------------------------- */

int uvfio__group_new(const char *name, const struct uvfio__opts *o, struct uvfio_group **out)
{
	struct uvfio_group *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->name = strdup(name);
	if (!g->name) {
		free(g);
		return -ENOMEM;
	}
	g->opts = *o;
	g->id = -1;
	pthread_mutex_init(&g->lock, NULL);
	uvfio__log_init(&g->log, &g->opts, g->name);
	*out = g;
	return 0;
}

void uvfio__group_free(struct uvfio_group *g)
{
	for (uint32_t i = 0; i < g->nr_members; i++) {
		free((char *)g->members[i].name);
		free((char *)g->members[i].driver);
	}
	free(g->members);
	pthread_mutex_destroy(&g->lock);
	free(g->name);
	free(g);
}

static bool is_socket(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISSOCK(st.st_mode);
}

/* "26", "/dev/vfio/26" (under devfs): the group number, else -1. */
static int32_t group_number(const char *name, const struct uvfio__opts *o)
{
	char prefix[300];
	const char *p = name;
	char *end;
	long v;

	snprintf(prefix, sizeof(prefix), "%s/vfio/", o->devfs);
	if (!strncmp(name, prefix, strlen(prefix)))
		p = name + strlen(prefix);
	else if (!strncmp(name, "/dev/vfio/", 10))
		p = name + 10;
	if (!*p || *p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || *end || v < 0 || v > INT32_MAX)
		return -1;
	return (int32_t)v;
}

int uvfio_group_open(const char *name, const struct uvfio_open_opts *opts, struct uvfio_group **out)
{
	struct uvfio__opts o;
	int32_t id;
	int ret;

	if (!name || !out)
		return -EINVAL;
	ret = uvfio__opts_copy(opts, &o);
	if (ret)
		return ret;
	if (!strncmp(name, "vfio-user:", 10))
		return uvfio__user_group_open(name + 10, &o, out);
	id = group_number(name, &o);
	if (id >= 0)
		return uvfio__kgroup_open(id, &o, out);
	if (is_socket(name))
		return uvfio__user_group_open(name, &o, out);
	{
		struct uvfio__log l;

		uvfio__log_init(&l, &o, NULL);
		log_err(&l, "'%s' is neither an IOMMU group number, /dev/vfio/N, nor a vfio-user "
			    "socket", name);
	}
	return -ENOENT;
}

void uvfio_group_close(struct uvfio_group *g)
{
	if (!g)
		return;
	while (g->devices)
		uvfio_device_close(g->devices);
	if (g->container)
		uvfio_group_detach(g);
	g->ops->close(g);
	uvfio__group_free(g);
}

int uvfio_group_status(struct uvfio_group *g, struct uvfio_group_status *st)
{
	int ret;

	if (!st || st->argsz < sizeof(*st))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	memset((uint8_t *)st + sizeof(st->argsz), 0, sizeof(*st) - sizeof(st->argsz));
	st->id = g->id;
	st->nr_devices = g->nr_members;
	for (uint32_t i = 0; i < g->nr_members; i++)
		st->nr_blockers += g->members[i].blocker;
	ret = g->ops->status(g, st);
	if (g->container)
		st->flags |= UVFIO_GROUP_ATTACHED;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int uvfio_group_device(struct uvfio_group *g, uint32_t i, struct uvfio_group_member *out)
{
	int ret = -EINVAL;

	if (!out)
		return ret;
	pthread_mutex_lock(&g->lock);
	if (i < g->nr_members) {
		*out = g->members[i];
		ret = 0;
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int uvfio_group_attach(struct uvfio_group *g, struct uvfio_container *c)
{
	int ret;

	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	pthread_mutex_lock(&c->lock);
	if (g->container) {
		ret = -EBUSY;
	} else {
		ret = g->ops->attach(g, c);
		if (!ret) {
			g->container = c;
			g->next = c->groups;
			c->groups = g;
			iovas_refresh(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int uvfio_group_detach(struct uvfio_group *g)
{
	struct uvfio_container *c;
	int ret;

	pthread_mutex_lock(&g->lock);
	c = g->container;
	if (!c) {
		ret = -EINVAL;
		goto out;
	}
	if (g->devices) {
		ret = -EBUSY;
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	ret = g->ops->detach(g);
	for (struct uvfio_group **pp = &c->groups; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	g->container = NULL;
	g->next = NULL;
	if (!c->groups && c->ops) {
		/* The last group left: the address space goes, as in the kernel. */
		c->ops->release(c);
		c->ops = NULL;
		c->priv = NULL;
		drop_mappings(c);
	}
	pthread_mutex_unlock(&c->lock);
out:
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int uvfio_group_open_device(struct uvfio_group *g, const char *name, struct uvfio_device **out)
{
	int ret;

	if (!out)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (!g->container) {
		log_err(&g->log, "attach the group to a container before opening its devices");
		ret = -EINVAL;
	} else {
		ret = g->ops->open_device(g, name, out);
		if (!ret) {
			pthread_mutex_lock(&g->container->lock);
			iovas_refresh(g->container);
			pthread_mutex_unlock(&g->container->lock);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

/* --- opening a device by name ---------------------------------------------------------- */

static int open_pci(const char *bdf, const struct uvfio__opts *o, bool cdev_only,
		    struct uvfio_group **g)
{
	struct uvfio__log l;
	int32_t id;
	int ret;

	/* The messages name the device themselves. */
	uvfio__log_init(&l, o, NULL);
	ret = uvfio__sysfs_group_of(o, bdf, &id);
	if (ret == -ENOENT)
		log_err(&l, "there is no PCI device %s (see 'uvfio ls')", bdf);
	else if (ret == -ENODEV)
		log_err(&l, "%s is in no IOMMU group: this machine has no IOMMU enabled "
			    "(boot with intel_iommu=on or amd_iommu=on) for VFIO to use", bdf);
	if (ret)
		return ret;
	if (cdev_only || (!(o->flags & UVFIO_OPEN_F_NO_IOMMUFD) && uvfio__cdev_usable(o, bdf)))
		return uvfio__cdev_group_open(id, o, g);
	return uvfio__kgroup_open(id, o, g);
}

int uvfio_device_open(const char *name, const struct uvfio_open_opts *opts,
		      struct uvfio_device **out)
{
	struct uvfio_container *c = NULL;
	struct uvfio_group *g = NULL;
	struct uvfio_device *d = NULL;
	struct uvfio__opts o;
	const char *devname = NULL;
	char bdf[16], cdevs[300];
	int ret;

	if (!name || !out)
		return -EINVAL;
	ret = uvfio__opts_copy(opts, &o);
	if (ret)
		return ret;
	snprintf(cdevs, sizeof(cdevs), "%s/vfio/devices/", o.devfs);
	if (!strncmp(name, "vfio-user:", 10) || is_socket(name)) {
		ret = uvfio_group_open(name, opts, &g);
	} else if (!uvfio__pci_addr(name, bdf)) {
		devname = bdf;
		ret = open_pci(bdf, &o, false, &g);
	} else if (!strncmp(name, cdevs, strlen(cdevs)) ||
		   !strncmp(name, "/dev/vfio/devices/", 18)) {
		devname = bdf;
		ret = uvfio__sysfs_cdev_bdf(&o, name, bdf);
		if (ret) {
			struct uvfio__log l;

			uvfio__log_init(&l, &o, NULL);
			log_err(&l, "%s is not a VFIO device node: sysfs has no vfio-dev entry for it "
				    "(is the device bound to vfio-pci, and does the kernel have "
				    "CONFIG_VFIO_DEVICE_CDEV?)", name);
		} else {
			ret = open_pci(bdf, &o, true, &g);
		}
	} else {
		struct uvfio__log l;
		struct stat st;

		uvfio__log_init(&l, &o, NULL);
		if (strchr(name, '/') && stat(name, &st))
			log_err(&l, "there is no socket at %s: start the device's server first "
				    "(e.g. uvfio serve dma --socket %s)", name, name);
		else if (strchr(name, '/'))
			log_err(&l, "%s is not a socket: a vfio-user device is named by the UNIX "
				    "socket its server listens on", name);
		else
			log_err(&l, "'%s' is not a PCI address (0000:01:00.0), a VFIO device node "
				    "(/dev/vfio/devices/vfioN) or a vfio-user socket", name);
		ret = -ENOENT;
	}
	if (ret)
		return ret;
	ret = uvfio_container_create(opts, &c);
	if (!ret)
		ret = uvfio_group_attach(g, c);
	if (!ret)
		ret = uvfio_group_open_device(g, devname, &d);
	if (ret) {
		uvfio_group_close(g);
		uvfio_container_destroy(c);
		return ret;
	}
	d->owns_group = true;
	*out = d;
	return 0;
}
