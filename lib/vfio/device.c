// SPDX-License-Identifier: BSD-3-Clause
/*
 * Devices: the backend-neutral half. Region descriptions are fetched once
 * and checked before use — a device (a vfio-user server especially) may
 * report nonsense, so sizes, sparse areas and counts are bounded here, once,
 * for every backend. Interrupts enabled through uvfio_device_irq_enable()
 * signal eventfds the library creates and owns.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "vfio_priv.h"

int uvfio__device_new(struct uvfio_group *g, const char *name, struct uvfio_device **out)
{
	struct uvfio_device *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	d->name = strdup(name);
	if (!d->name) {
		free(d);
		return -ENOMEM;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->log = g->log;
	d->log.prefix = d->name;
	d->group = g;
	d->next = g->devices;
	g->devices = d;
	*out = d;
	return 0;
}

int uvfio__device_ready(struct uvfio_device *d)
{
	int ret = d->ops->info(d, &d->flags, &d->num_regions, &d->num_irqs);

	if (ret)
		return ret;
	if (d->num_regions > UVFIO__MAX_REGIONS) {
		log_err(&d->log, "the device reports %u regions; more than %u is not plausible",
			d->num_regions, UVFIO__MAX_REGIONS);
		return -EPROTO;
	}
	d->regions = calloc(d->num_regions ? d->num_regions : 1, sizeof(*d->regions));
	if (!d->regions)
		return -ENOMEM;
	for (uint32_t i = 0; i < d->num_regions; i++)
		d->regions[i].fd = -1;
	return 0;
}

void uvfio__device_free(struct uvfio_device *d)
{
	struct uvfio_group *g = d->group;

	for (struct uvfio_device **pp = &g->devices; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	for (unsigned i = 0; i < UVFIO__MAX_IRQ_INDEX; i++) {
		close_fds(d->irq[i].fds, d->irq[i].count);
		free(d->irq[i].fds);
	}
	while (d->mmaps) {
		struct uvfio__mmap *m = d->mmaps;

		d->mmaps = m->next;
		munmap(m->addr, m->len);
		free(m);
	}
	for (uint32_t i = 0; d->regions && i < d->num_regions; i++) {
		close_fd(&d->regions[i].fd);
		free(d->regions[i].areas);
	}
	free(d->regions);
	pthread_mutex_destroy(&d->lock);
	free(d->name);
	free(d);
}

struct uvfio_container *uvfio_device_container(struct uvfio_device *d)
{
	return d->group->container;
}

struct uvfio_group *uvfio_device_group(struct uvfio_device *d)
{
	return d->group;
}

void uvfio_device_close(struct uvfio_device *d)
{
	struct uvfio_group *g;
	struct uvfio_container *c;
	bool owns;

	if (!d)
		return;
	g = d->group;
	c = g->container;
	owns = d->owns_group;
	pthread_mutex_lock(&d->lock);
	for (uint32_t i = 0; i < UVFIO__MAX_IRQ_INDEX; i++)
		if (d->irq[i].count)
			d->ops->set_irqs(d, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER, i,
					 0, 0, NULL, NULL);
	d->ops->close(d);
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_lock(&g->lock);
	uvfio__device_free(d);
	pthread_mutex_unlock(&g->lock);
	if (owns) {
		uvfio_group_close(g);
		uvfio_container_destroy(c);
	}
}

int uvfio_device_get_info(struct uvfio_device *d, struct uvfio_device_info *info)
{
	if (!info || info->argsz < UVFIO_DEVICE_INFO_SIZE)
		return -EINVAL;
	info->argsz = UVFIO_DEVICE_INFO_SIZE;
	info->flags = d->flags;
	info->num_regions = d->num_regions;
	info->num_irqs = d->num_irqs;
	return 0;
}

const char *uvfio_device_name(struct uvfio_device *d)
{
	return d->name;
}

const char *uvfio_device_backend(struct uvfio_device *d)
{
	return d->ops->backend;
}

/* --- regions ---------------------------------------------------------------------- */

static int check_region(struct uvfio_device *d, uint32_t index, struct uvfio__region *r)
{
	if (r->nr_areas > UVFIO__MAX_AREAS) {
		log_err(&d->log, "region %u reports %u mmap-able areas; at most %u are accepted", index,
			r->nr_areas, UVFIO__MAX_AREAS);
		return -EPROTO;
	}
	for (uint32_t i = 0; i < r->nr_areas; i++) {
		if (!r->areas[i].size || !range_within(r->areas[i].offset, r->areas[i].size, r->size)) {
			log_err(&d->log, "region %u's mmap-able area [0x%llx, +0x%llx) lies outside "
					 "its 0x%llx bytes", index,
				(unsigned long long)r->areas[i].offset,
				(unsigned long long)r->areas[i].size, (unsigned long long)r->size);
			return -EPROTO;
		}
	}
	/* MMAP without a sparse capability: the whole region. */
	if ((r->flags & UVFIO_REGION_INFO_FLAG_MMAP) && !r->nr_areas && r->size) {
		r->areas = calloc(1, sizeof(*r->areas));
		if (!r->areas)
			return -ENOMEM;
		r->areas[0] = (struct uvfio_sparse_area){ 0, r->size };
		r->nr_areas = 1;
	}
	if (!(r->flags & UVFIO_REGION_INFO_FLAG_MMAP)) {
		free(r->areas);
		r->areas = NULL;
		r->nr_areas = 0;
	}
	return 0;
}

/* The region's description, fetched on first use. Caller holds d->lock. */
static int region_get(struct uvfio_device *d, uint32_t index, struct uvfio__region **out)
{
	struct uvfio__region *r;
	int ret;

	if (index >= d->num_regions)
		return -EINVAL;
	r = &d->regions[index];
	if (!r->known) {
		memset(r, 0, sizeof(*r));
		r->fd = -1;
		ret = d->ops->region_info(d, index, r);
		if (!ret)
			ret = check_region(d, index, r);
		if (ret) {
			close_fd(&r->fd);
			free(r->areas);
			memset(r, 0, sizeof(*r));
			r->fd = -1;
			return ret;
		}
		r->known = true;
	}
	*out = r;
	return 0;
}

int uvfio_device_region(struct uvfio_device *d, uint32_t index, struct uvfio_region *out)
{
	struct uvfio__region *r;
	int ret;

	if (!out || out->argsz < sizeof(*out))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = region_get(d, index, &r);
	if (!ret) {
		out->index = index;
		out->flags = r->flags;
		out->size = r->size;
		out->nr_areas = r->nr_areas;
		out->areas = r->areas;
		out->has_type = r->has_type;
		out->type = r->type;
		out->subtype = r->subtype;
		out->msix_mappable = r->msix_mappable;
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static int region_rw(struct uvfio_device *d, uint32_t index, uint64_t off, void *buf, size_t len,
		     bool write)
{
	struct uvfio__region *r;
	int ret;

	pthread_mutex_lock(&d->lock);
	ret = region_get(d, index, &r);
	if (ret)
		goto out;
	ret = -EINVAL;
	if (!(r->flags & (write ? UVFIO_REGION_INFO_FLAG_WRITE : UVFIO_REGION_INFO_FLAG_READ)) ||
	    !range_within(off, len, r->size))
		goto out;
	ret = len ? d->ops->rw(d, index, r, off, buf, len, write) : 0;
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int uvfio_device_read(struct uvfio_device *d, uint32_t index, uint64_t offset, void *buf,
		      size_t len)
{
	return region_rw(d, index, offset, buf, len, false);
}

int uvfio_device_write(struct uvfio_device *d, uint32_t index, uint64_t offset, const void *buf,
		       size_t len)
{
	return region_rw(d, index, offset, (void *)buf, len, true);
}

int uvfio_device_mmap(struct uvfio_device *d, uint32_t index, uint64_t offset, size_t len,
		      int prot, void **addr)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct uvfio__region *r;
	struct uvfio__mmap *rec;
	bool inside = false;
	int ret;

	if (!addr || !len || (offset & (uint64_t)(pg - 1)) || (prot & ~(PROT_READ | PROT_WRITE)))
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = region_get(d, index, &r);
	if (ret)
		goto out;
	for (uint32_t i = 0; i < r->nr_areas; i++) {
		uint64_t end;

		inside |= offset >= r->areas[i].offset && range_ok(offset, len, &end) &&
			  end <= r->areas[i].offset + r->areas[i].size;
	}
	ret = -EINVAL;
	if (!inside) {
		log_err(&d->log, "[0x%llx, +0x%zx) of region %u is not in an mmap-able area",
			(unsigned long long)offset, len, index);
		goto out;
	}
	rec = malloc(sizeof(*rec));
	if (!rec) {
		ret = -ENOMEM;
		goto out;
	}
	ret = d->ops->mmap(d, r, offset, len, prot, addr);
	if (ret) {
		free(rec);
		goto out;
	}
	*rec = (struct uvfio__mmap){ .next = d->mmaps, .addr = *addr, .len = len };
	d->mmaps = rec;
out:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int uvfio_device_munmap(struct uvfio_device *d, void *addr, size_t len)
{
	int ret = -EINVAL;

	pthread_mutex_lock(&d->lock);
	for (struct uvfio__mmap **pp = &d->mmaps; *pp; pp = &(*pp)->next) {
		struct uvfio__mmap *m = *pp;

		if (m->addr == addr && m->len == len) {
			*pp = m->next;
			free(m);
			ret = munmap(addr, len) ? -errno : 0;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int uvfio_device_cfg_read(struct uvfio_device *d, uint32_t offset, void *buf, size_t len)
{
	return region_rw(d, UVFIO_PCI_CONFIG_REGION_INDEX, offset, buf, len, false);
}

int uvfio_device_cfg_write(struct uvfio_device *d, uint32_t offset, const void *buf, size_t len)
{
	return region_rw(d, UVFIO_PCI_CONFIG_REGION_INDEX, offset, (void *)buf, len, true);
}

int uvfio_device_find_cap(struct uvfio_device *d, uint16_t id, bool extended)
{
	struct uvfio_pci_cap caps[96];
	struct uvfio_region cfg = { .argsz = sizeof(cfg) };
	uint8_t *buf;
	size_t len;
	int n, ret = uvfio_device_region(d, UVFIO_PCI_CONFIG_REGION_INDEX, &cfg);

	if (ret)
		return ret;
	len = (size_t)MIN(cfg.size, (uint64_t)UVFIO_PCI_CFG_SIZE_PCIE);
	if (len < UVFIO_PCI_CFG_SIZE)
		return -ENOENT;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ret = uvfio_device_cfg_read(d, 0, buf, len);
	if (!ret) {
		n = uvfio_pci_caps(buf, len, caps, ARRAY_SIZE(caps));
		ret = -ENOENT;
		for (int i = 0; i < n && i < (int)ARRAY_SIZE(caps); i++) {
			if (caps[i].id == id && caps[i].extended == extended) {
				ret = caps[i].offset;
				break;
			}
		}
	}
	free(buf);
	return ret;
}

/* --- interrupts ---------------------------------------------------------------------- */

int uvfio_device_irq_info(struct uvfio_device *d, uint32_t index, struct uvfio_irq_info *out)
{
	int ret;

	if (!out || index >= d->num_irqs)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = d->ops->irq_info(d, index, out);
	pthread_mutex_unlock(&d->lock);
	if (!ret && out->count > UVFIO__MAX_VECTORS) {
		log_err(&d->log, "IRQ index %u reports %u vectors; at most %u are accepted", index,
			out->count, UVFIO__MAX_VECTORS);
		return -EPROTO;
	}
	return ret;
}

static int set_irqs(struct uvfio_device *d, uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const int *fds)
{
	int ret;

	if (index >= d->num_irqs || count > UVFIO__MAX_VECTORS)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	ret = d->ops->set_irqs(d, flags, index, start, count, fds, NULL);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int uvfio_device_irq_enable(struct uvfio_device *d, uint32_t index, uint32_t count)
{
	struct uvfio_irq_info info;
	int *fds, ret;

	if (index >= UVFIO__MAX_IRQ_INDEX || !count)
		return -EINVAL;
	ret = uvfio_device_irq_info(d, index, &info);
	if (ret)
		return ret;
	if (count > info.count) {
		log_err(&d->log, "IRQ index %u has %u vectors; %u were asked for", index, info.count,
			count);
		return -EINVAL;
	}
	if (d->irq[index].count)
		uvfio_device_irq_disable(d, index);
	fds = calloc(count, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		fds[i] = eventfd(0, EFD_CLOEXEC);
		if (fds[i] < 0) {
			ret = -errno;
			close_fds(fds, i);
			free(fds);
			return ret;
		}
	}
	ret = set_irqs(d, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, index, 0,
		       count, fds);
	if (ret) {
		close_fds(fds, count);
		free(fds);
		return ret;
	}
	pthread_mutex_lock(&d->lock);
	d->irq[index].fds = fds;
	d->irq[index].count = count;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

int uvfio_device_irq_disable(struct uvfio_device *d, uint32_t index)
{
	int ret = set_irqs(d, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			   NULL);

	if (index < UVFIO__MAX_IRQ_INDEX) {
		pthread_mutex_lock(&d->lock);
		close_fds(d->irq[index].fds, d->irq[index].count);
		free(d->irq[index].fds);
		d->irq[index].fds = NULL;
		d->irq[index].count = 0;
		pthread_mutex_unlock(&d->lock);
	}
	return ret;
}

int uvfio_device_irq_fd(struct uvfio_device *d, uint32_t index, uint32_t vector)
{
	if (index >= UVFIO__MAX_IRQ_INDEX || vector >= d->irq[index].count)
		return -EINVAL;
	return d->irq[index].fds[vector];
}

int uvfio_device_irq_wait(struct uvfio_device *d, uint32_t index, uint32_t vector, int timeout_ms,
			  uint64_t *count)
{
	struct pollfd p = { .events = POLLIN };
	uint64_t v;
	int r;

	p.fd = uvfio_device_irq_fd(d, index, vector);
	if (p.fd < 0)
		return p.fd;
	/* No timeout: sleep in read() itself, the cheapest way to wake up. */
	if (timeout_ms < 0) {
		while (read(p.fd, &v, sizeof(v)) != sizeof(v))
			if (errno != EINTR)
				return -errno;
		if (count)
			*count = v;
		return 0;
	}
	for (;;) {
		r = poll(&p, 1, timeout_ms);
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		/* Readable, so this read doesn't block (the eventfd is ours alone). */
		if (read(p.fd, &v, sizeof(v)) == sizeof(v)) {
			if (count)
				*count = v;
			return 0;
		}
		if (errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

int uvfio_device_irq_set_eventfds(struct uvfio_device *d, uint32_t index, uint32_t start,
				  uint32_t count, const int *fds)
{
	if (!fds || !count)
		return -EINVAL;
	return set_irqs(d, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, index, start,
			count, fds);
}

int uvfio_device_irq_mask(struct uvfio_device *d, uint32_t index, uint32_t start, uint32_t count)
{
	return set_irqs(d, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_MASK, index, start, count,
			NULL);
}

int uvfio_device_irq_unmask(struct uvfio_device *d, uint32_t index, uint32_t start, uint32_t count)
{
	return set_irqs(d, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK, index, start,
			count, NULL);
}

int uvfio_device_irq_trigger(struct uvfio_device *d, uint32_t index, uint32_t start,
			     uint32_t count)
{
	return set_irqs(d, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER, index, start,
			count, NULL);
}

int uvfio_device_reset(struct uvfio_device *d)
{
	int ret;

	if (!(d->flags & UVFIO_DEVICE_FLAGS_RESET))
		return -ENOTTY;
	pthread_mutex_lock(&d->lock);
	ret = d->ops->reset(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int uvfio_device_get_poll_fd(struct uvfio_device *d)
{
	return d->ops->poll_fd ? d->ops->poll_fd(d) : -ENOTSUP;
}

int uvfio_device_dispatch(struct uvfio_device *d)
{
	int ret;

	if (!d->ops->dispatch)
		return 0;
	pthread_mutex_lock(&d->lock);
	ret = d->ops->dispatch(d);
	pthread_mutex_unlock(&d->lock);
	return ret;
}
