// SPDX-License-Identifier: BSD-3-Clause
/*
 * The legacy kernel backend: IOMMU groups through /dev/vfio/N, and a
 * container (/dev/vfio/vfio) with the type1 IOMMU as the address space.
 *
 * A group object exists before it is owned: its members and their drivers
 * come from sysfs, and /dev/vfio/N is opened only at attach, because the
 * kernel allows one open of it at a time and opening it is what takes the
 * group away from everyone else. The kernel's order is fixed: group fd,
 * GET_STATUS (VIABLE), SET_CONTAINER, and for the container's first group
 * SET_IOMMU, after which the container maps memory and the group hands out
 * device fds. Later groups only join the container.
 *
 * Hazard: the group is the unit of isolation. A member bound to a driver
 * that does DMA on its own account shares the IOMMU context with whatever
 * we map, so the kernel refuses ownership (EPERM at SET_CONTAINER since
 * 5.19) and we refuse earlier, naming the culprits from sysfs. And a
 * mapping is reported gone only when the kernel says all of it is gone:
 * until then a device may still write the memory.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <linux/vfio.h>

#include "kdev.h"

#define MAX_INFO_SIZE  65536 /* largest IOMMU-info reply we accept */
#define MAX_INFO_TRIES 4

_Static_assert(sizeof(struct vfio_group_status) == 8, "struct vfio_group_status");
_Static_assert(sizeof(struct vfio_iommu_type1_info) == 24, "struct vfio_iommu_type1_info");
_Static_assert(sizeof(struct vfio_iommu_type1_dma_map) == 32, "struct vfio_iommu_type1_dma_map");
_Static_assert(sizeof(struct vfio_iommu_type1_dma_unmap) == 24,
	       "struct vfio_iommu_type1_dma_unmap");

/* --- shared by both kernel backends: members, device choice ----------------------- */

struct uvfio__kretired {
	struct uvfio__kretired *next;
	struct uvfio_group_member *members;
	uint32_t nr;
};

static void free_members(struct uvfio_group_member *m, uint32_t nr)
{
	for (uint32_t i = 0; i < nr; i++) {
		free((char *)m[i].name);
		free((char *)m[i].driver);
	}
	free(m);
}

int uvfio__kgroup_new(struct uvfio_group *g)
{
	struct uvfio__kgroup *kg = calloc(1, sizeof(*kg));

	if (!kg)
		return -ENOMEM;
	kg->fd = -1;
	g->priv = kg;
	return 0;
}

void uvfio__kgroup_free(struct uvfio_group *g)
{
	struct uvfio__kgroup *kg = g->priv;

	if (!kg)
		return;
	close_fd(&kg->fd);
	while (kg->retired) {
		struct uvfio__kretired *r = kg->retired;

		kg->retired = r->next;
		free_members(r->members, r->nr);
		free(r);
	}
	free(kg);
	g->priv = NULL;
}

static bool same_members(const struct uvfio_group_member *a, uint32_t na,
			 const struct uvfio_group_member *b, uint32_t nb)
{
	if (na != nb)
		return false;
	for (uint32_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) || strcmp(a[i].driver, b[i].driver))
			return false;
	return true;
}

int uvfio__kgroup_refresh(struct uvfio_group *g)
{
	struct uvfio__kgroup *kg = g->priv;
	struct uvfio__kretired *r;
	struct uvfio_group fresh;
	int ret;

	/* uvfio__sysfs_members() needs only the options and the member list. */
	memset(&fresh, 0, sizeof(fresh));
	fresh.opts = g->opts;
	fresh.id = g->id;
	ret = uvfio__sysfs_members(&fresh, g->id);
	if (ret) {
		free_members(fresh.members, fresh.nr_members);
		if (ret == -ENOENT)
			log_err(&g->log,
				"IOMMU group %d is gone from %s/kernel/iommu_groups: were its "
				"devices removed?",
				(int)g->id, g->opts.sysfs);
		return ret;
	}
	if (same_members(g->members, g->nr_members, fresh.members, fresh.nr_members)) {
		free_members(fresh.members, fresh.nr_members);
		return 0;
	}
	r = malloc(sizeof(*r));
	if (!r) {
		free_members(fresh.members, fresh.nr_members);
		return -ENOMEM;
	}
	/* Keep the old strings: uvfio_group_device() promised them until close. */
	*r = (struct uvfio__kretired){ kg->retired, g->members, g->nr_members };
	kg->retired = r;
	g->members = fresh.members;
	g->nr_members = fresh.nr_members;
	return 0;
}

uint32_t uvfio__kgroup_blockers(const struct uvfio_group *g)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < g->nr_members; i++)
		n += g->members[i].blocker;
	return n;
}

int uvfio__kgroup_sysfs_status(struct uvfio_group *g, struct uvfio_group_status *st)
{
	int ret = uvfio__kgroup_refresh(g);

	if (ret)
		return ret;
	st->nr_devices = g->nr_members;
	st->nr_blockers = uvfio__kgroup_blockers(g);
	if (!st->nr_blockers)
		st->flags |= UVFIO_GROUP_VIABLE;
	return 0;
}

bool uvfio__vfio_driver(const char *drv)
{
	size_t n = strlen(drv);

	return n >= 8 && (!strcmp(drv + n - 8, "vfio-pci") || !strcmp(drv + n - 8, "vfio_pci"));
}

int uvfio__kgroup_pick(struct uvfio_group *g, const char *name, char bdf[16])
{
	uint32_t n = 0, pick = 0;

	if (!name) {
		for (uint32_t i = 0; i < g->nr_members; i++) {
			if (uvfio__vfio_driver(g->members[i].driver)) {
				pick = i;
				n++;
			}
		}
		if (g->nr_members == 1) {
			pick = 0;
			n = 1;
		}
		if (n != 1) {
			log_err(&g->log,
				"IOMMU group %d has %u devices, %u of them bound to vfio-pci: "
				"name the one to open (see 'uvfio ls')",
				(int)g->id, g->nr_members, n);
			return -EINVAL;
		}
		snprintf(bdf, 16, "%s", g->members[pick].name);
		return 0;
	}
	if (uvfio__pci_addr(name, bdf)) {
		log_err(&g->log, "'%s' is not a PCI address such as 0000:01:00.0", name);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < g->nr_members; i++)
		if (!strcmp(g->members[i].name, bdf))
			return 0;
	log_err(&g->log, "%s is not in IOMMU group %d (see 'uvfio ls' for the groups)", bdf,
		(int)g->id);
	return -ENODEV;
}

void uvfio__log_map_error(const struct uvfio__log *l, int err, const struct uvfio__mapping *m)
{
	unsigned long long iova = m->iova, size = m->size;

	switch (err) {
	case -ENOMEM:
		log_err(l,
			"mapping 0x%llx bytes at IOVA 0x%llx would exceed the locked-memory "
			"limit (the kernel pins mapped memory): raise it (ulimit -l, "
			"LimitMEMLOCK= for a service) or run with CAP_IPC_LOCK",
			size, iova);
		break;
	case -ENOSPC:
		log_err(l,
			"the kernel allows no more mappings in this address space "
			"(vfio_iommu_type1.dma_entry_limit, 65535 by default): use fewer, larger "
			"mappings (uvfio_dma_alloc pools them) or raise the limit");
		break;
	case -EEXIST:
		log_err(l, "IOVA [0x%llx, +0x%llx) overlaps a mapping the kernel already has", iova,
			size);
		break;
	case -EFAULT:
		log_err(l, "the memory at %p (0x%llx bytes) can't be pinned for DMA: is all of it "
			   "mapped in this process?", (void *)m->vaddr, size);
		break;
	case -EINVAL:
		log_err(l,
			"the kernel refused IOVA [0x%llx, +0x%llx): outside the IOMMU's usable "
			"ranges (see uvfio_container_info) or not aligned to its page size",
			iova, size);
		break;
	default:
		log_err(l, "mapping IOVA [0x%llx, +0x%llx) failed: %s", iova, size, strerror(-err));
		break;
	}
}

int uvfio__check_unmapped(const struct uvfio__log *l, const struct uvfio__mapping *m,
			  uint64_t done)
{
	if (done == m->size)
		return 0;
	if (!done) {
		log_warn(l, "the kernel had no mapping at IOVA 0x%llx any more; forgetting it",
			 (unsigned long long)m->iova);
		return 0;
	}
	log_err(l,
		"the kernel unmapped 0x%llx bytes of the 0x%llx-byte mapping at IOVA 0x%llx; the "
		"rest may still be reachable by devices, so the mapping is kept",
		(unsigned long long)done, (unsigned long long)m->size, (unsigned long long)m->iova);
	return -EIO;
}

/* --- the type1 container ------------------------------------------------------------ */

struct type1 {
	int fd;             /* /dev/vfio/vfio */
	unsigned long type; /* VFIO_TYPE1v2_IOMMU, or VFIO_TYPE1_IOMMU on kernels before v2 */
	uint32_t info_sz;   /* GET_INFO argsz that held everything last time */
};

static const struct uvfio__container_ops type1_ops;

static struct type1 *type1_of(struct uvfio_container *c)
{
	return c->priv;
}

static int type1_map(struct uvfio_container *c, const struct uvfio__mapping *m)
{
	struct vfio_iommu_type1_dma_map dm = {
		.argsz = sizeof(dm),
		.flags = ((m->prot & UVFIO_DMA_READ) ? VFIO_DMA_MAP_FLAG_READ : 0) |
			 ((m->prot & UVFIO_DMA_WRITE) ? VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uintptr_t)m->vaddr,
		.iova = m->iova,
		.size = m->size,
	};

	if (ioctl(type1_of(c)->fd, VFIO_IOMMU_MAP_DMA, &dm)) {
		int ret = -errno;

		uvfio__log_map_error(&c->log, ret, m);
		return ret;
	}
	return 0;
}

static int type1_unmap(struct uvfio_container *c, const struct uvfio__mapping *m)
{
	struct vfio_iommu_type1_dma_unmap du = { .argsz = sizeof(du), .iova = m->iova,
						 .size = m->size };

	if (ioctl(type1_of(c)->fd, VFIO_IOMMU_UNMAP_DMA, &du)) {
		int ret = -errno;

		uvfio__log_unmap_error(&c->log, ret, m);
		return ret;
	}
	/* On return, size is what the kernel really removed. */
	return uvfio__check_unmapped(&c->log, m, du.size);
}

struct type1_caps {
	struct uvfio_iommu_info *info;
	bool ranges;
};

static int type1_cap(void *priv, uint16_t id, const uint8_t *data, size_t size)
{
	struct type1_caps *tc = priv;
	struct uvfio_iommu_info *info = tc->info;
	uint32_t nr;

	switch (id) {
	case VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE:
		/* u32 nr_iovas; u32 reserved; { u64 start; u64 end (inclusive) }[] */
		if (tc->ranges || size < 8)
			return -EPROTO;
		nr = uvfio__k32(data);
		if (nr > (size - 8) / 16)
			return -EPROTO;
		tc->ranges = true;
		info->nr_ranges = nr;
		for (uint32_t i = 0; i < MIN(nr, (uint32_t)UVFIO_MAX_IOVA_RANGES); i++) {
			info->ranges[i].start = uvfio__k64(data + 8 + 16 * i);
			info->ranges[i].last = uvfio__k64(data + 16 + 16 * i);
		}
		break;
	case VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL:
		if (size < 4)
			return -EPROTO;
		info->dma_avail = uvfio__k32(data);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Kernels before 5.4 don't report IOVA ranges. Stay inside what every x86
 * IOMMU translates (39 bits) and off the MSI doorbell window, which the
 * IOMMU reserves but those kernels don't say.
 */
static void fallback_ranges(struct uvfio_iommu_info *info)
{
#if defined(__x86_64__) || defined(__i386__)
	info->nr_ranges = 2;
	info->ranges[0] = (struct uvfio_iova_range){ 0, 0xfedfffffull };
	info->ranges[1] = (struct uvfio_iova_range){ 0xfef00000ull, (1ull << 39) - 1 };
#else
	info->nr_ranges = 1;
	info->ranges[0] = (struct uvfio_iova_range){ 0, (1ull << 39) - 1 };
#endif
}

static int type1_info(struct uvfio_container *c, struct uvfio_iommu_info *info)
{
	struct type1 *t = type1_of(c);
	struct type1_caps tc = { .info = info };
	struct vfio_iommu_type1_info *ti;
	uint32_t argsz = MAX(t->info_sz, (uint32_t)sizeof(*ti));
	int ret, tries = 0;

	for (;;) {
		ti = calloc(1, argsz);
		if (!ti)
			return -ENOMEM;
		ti->argsz = argsz;
		if (ioctl(t->fd, VFIO_IOMMU_GET_INFO, ti)) {
			ret = -errno;
			free(ti);
			log_err(&c->log, "VFIO_IOMMU_GET_INFO failed: %s", strerror(-ret));
			return ret;
		}
		/* The capabilities didn't fit: argsz says how much they need. */
		if (!(ti->flags & VFIO_IOMMU_INFO_CAPS) || ti->argsz <= argsz)
			break;
		if (ti->argsz > MAX_INFO_SIZE || ++tries >= MAX_INFO_TRIES) {
			log_err(&c->log,
				"the IOMMU's description keeps growing (%u bytes); giving up",
				ti->argsz);
			free(ti);
			return -EPROTO;
		}
		argsz = ti->argsz;
		free(ti);
	}
	t->info_sz = argsz;
	info->pgsizes = (ti->flags & VFIO_IOMMU_INFO_PGSIZES) && ti->iova_pgsizes ? ti->iova_pgsizes
										    : 4096;
	info->dma_avail = UINT32_MAX;
	info->nr_ranges = 0;
	ret = 0;
	if ((ti->flags & VFIO_IOMMU_INFO_CAPS) && ti->cap_offset)
		ret = uvfio__kcaps_walk((const uint8_t *)ti, argsz, sizeof(*ti), ti->cap_offset,
					type1_cap, &tc);
	free(ti);
	if (ret) {
		log_err(&c->log, "the IOMMU's capability chain is malformed");
		return ret;
	}
	if (!tc.ranges)
		fallback_ranges(info);
	return 0;
}

static void type1_release(struct uvfio_container *c)
{
	struct type1 *t = type1_of(c);

	/* The last group is gone: closing the container drops every mapping. */
	if (t) {
		close_fd(&t->fd);
		free(t);
	}
}

static const struct uvfio__container_ops type1_ops = {
	.name = "type1",
	.map = type1_map,
	.unmap = type1_unmap,
	.info = type1_info,
	.release = type1_release,
};

/* A new container, checked for API version 0 and a type1 IOMMU. Logged to @g. */
static int type1_open(struct uvfio_group *g, struct type1 **out)
{
	char path[300];
	struct type1 *t;
	int v, ret;

	snprintf(path, sizeof(path), "%s/vfio/vfio", g->opts.devfs);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = open(path, O_RDWR | O_CLOEXEC);
	if (t->fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			log_err(&g->log, "%s is missing: load the VFIO modules (modprobe vfio-pci)",
				path);
		else if (ret == -EACCES || ret == -EPERM)
			log_err(&g->log,
				"no permission to open %s: it grants nothing by itself and is "
				"normally mode 0666 (sudo chmod 0666 %s)",
				path, path);
		else
			log_err(&g->log, "cannot open %s: %s", path, strerror(-ret));
		goto fail;
	}
	v = ioctl(t->fd, VFIO_GET_API_VERSION);
	if (v != VFIO_API_VERSION) {
		ret = v < 0 ? -errno : -ENOTSUP;
		log_err(&g->log,
			"%s answers VFIO API version %d; only version %d is known",
			path, v, VFIO_API_VERSION);
		goto fail;
	}
	if (ioctl(t->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0) {
		t->type = VFIO_TYPE1v2_IOMMU;
	} else if (ioctl(t->fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0) {
		t->type = VFIO_TYPE1_IOMMU;
		log_warn(&g->log, "this kernel has only the first type1 IOMMU (no TYPE1v2); its "
				  "unmap rules are looser");
	} else {
		ret = -ENOTSUP;
		log_err(&g->log, "the kernel offers no type1 IOMMU for VFIO: load it (modprobe "
				 "vfio_iommu_type1)");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	close_fd(&t->fd);
	free(t);
	return ret;
}

/* --- the group ------------------------------------------------------------------------- */

static const struct uvfio__group_ops kgroup_ops;

static struct uvfio__kgroup *kg_of(struct uvfio_group *g)
{
	return g->priv;
}

int uvfio__kgroup_open_ops(int32_t id, const struct uvfio__opts *o,
			   const struct uvfio__group_ops *ops, struct uvfio_group **out)
{
	struct uvfio_group *g;
	char name[32];
	int ret;

	snprintf(name, sizeof(name), "iommu group %d", (int)id);
	ret = uvfio__group_new(name, o, &g);
	if (ret)
		return ret;
	g->id = id;
	g->ops = ops;
	ret = uvfio__kgroup_new(g);
	if (!ret)
		ret = uvfio__sysfs_members(g, id);
	if (ret == -ENOENT)
		log_err(&g->log,
			"there is no IOMMU group %d (%s/kernel/iommu_groups/%d is missing; see "
			"'uvfio ls')",
			(int)id, o->sysfs, (int)id);
	if (ret) {
		uvfio__kgroup_free(g);
		uvfio__group_free(g);
		return ret;
	}
	*out = g;
	return 0;
}

int uvfio__kgroup_open(int32_t id, const struct uvfio__opts *o, struct uvfio_group **out)
{
	return uvfio__kgroup_open_ops(id, o, &kgroup_ops, out);
}

int uvfio__kgroup_check_viable(struct uvfio_group *g)
{
	int ret = uvfio__kgroup_refresh(g);

	if (ret)
		return ret;
	if (uvfio__kgroup_blockers(g)) {
		uvfio__log_blockers(g);
		return -EPERM;
	}
	return 0;
}

void uvfio__log_unmap_error(const struct uvfio__log *l, int err, const struct uvfio__mapping *m)
{
	log_err(l, "unmapping IOVA [0x%llx, +0x%llx) failed: %s", (unsigned long long)m->iova,
		(unsigned long long)m->size, strerror(-err));
}

static int kg_status(struct uvfio_group *g, struct uvfio_group_status *st)
{
	struct vfio_group_status s = { .argsz = sizeof(s) };
	struct uvfio__kgroup *kg = kg_of(g);

	/* Once we hold the group, the kernel is the authority. */
	if (kg->fd >= 0) {
		if (ioctl(kg->fd, VFIO_GROUP_GET_STATUS, &s))
			return -errno;
		if (s.flags & VFIO_GROUP_FLAGS_VIABLE)
			st->flags |= UVFIO_GROUP_VIABLE;
		return 0;
	}
	return uvfio__kgroup_sysfs_status(g, st);
}

/* /dev/vfio/N into kg->fd, with a sentence for each way it can fail. */
static int open_group_node(struct uvfio_group *g)
{
	struct uvfio__kgroup *kg = kg_of(g);
	const struct uvfio_group_member *bound = NULL;
	char node[300];
	int ret;

	snprintf(node, sizeof(node), "%s/vfio/%d", g->opts.devfs, (int)g->id);
	kg->fd = open(node, O_RDWR | O_CLOEXEC);
	if (kg->fd >= 0)
		return 0;
	ret = -errno;
	for (uint32_t i = 0; i < g->nr_members && !bound; i++)
		if (uvfio__vfio_driver(g->members[i].driver))
			bound = &g->members[i];
	switch (ret) {
	case -ENOENT:
		if (!bound)
			log_err(&g->log,
				"the group node %s is missing: no device of IOMMU group %d is "
				"bound to vfio-pci; bind the one to use ('uvfio bind <address>')",
				node, (int)g->id);
		else
			log_err(&g->log, "the group node %s is missing although %s is bound to %s: "
					 "is %s a devtmpfs with the VFIO modules loaded?", node,
				bound->name, bound->driver, g->opts.devfs);
		break;
	case -EACCES:
	case -EPERM:
		log_err(&g->log,
			"no permission to open %s: run as root, or give it to your user (sudo "
			"chown $USER %s); %s/vfio/vfio must be read-write for you too (normally "
			"mode 0666)",
			node, node, g->opts.devfs);
		break;
	case -EBUSY:
		log_err(&g->log,
			"%s is in use: IOMMU group %d is already open (by another process such as "
			"a VM, or by another group object of this one), and the kernel allows one "
			"open at a time",
			node, (int)g->id);
		break;
	default:
		log_err(&g->log, "cannot open %s: %s", node, strerror(-ret));
		break;
	}
	return ret;
}

static void log_set_container(struct uvfio_group *g, int err, bool first)
{
	switch (err) {
	case -EPERM:
		if (!uvfio__kgroup_refresh(g) && uvfio__kgroup_blockers(g)) {
			uvfio__log_blockers(g);
			break;
		}
		if (first)
			log_err(&g->log,
				"the kernel refused to hand IOMMU group %d over "
				"(VFIO_GROUP_SET_CONTAINER: EPERM): a member is bound to a "
				"driver that does DMA (see 'uvfio ls')",
				(int)g->id);
		else
			log_err(&g->log,
				"the kernel refused to add IOMMU group %d to the container "
				"(EPERM): a member is bound to a driver that does DMA, or this "
				"IOMMU has no interrupt remapping (see the kernel log; "
				"vfio_iommu_type1.allow_unsafe_interrupts=1 accepts that risk)",
				(int)g->id);
		break;
	case -EINVAL:
		log_err(&g->log,
			"IOMMU group %d can't share this container (its IOMMU differs, or its "
			"reserved ranges overlap existing mappings): give it a container of its "
			"own",
			(int)g->id);
		break;
	case -EBUSY:
		log_err(&g->log, "IOMMU group %d is attached to another IOMMU domain: the kernel "
				 "or another user still has it", (int)g->id);
		break;
	default:
		log_err(&g->log, "VFIO_GROUP_SET_CONTAINER failed: %s", strerror(-err));
		break;
	}
}

static void log_set_iommu(struct uvfio_group *g, int err, unsigned long type)
{
	if (err != -EPERM) {
		log_err(&g->log, "VFIO_SET_IOMMU(%s) failed: %s",
			type == VFIO_TYPE1v2_IOMMU ? "TYPE1v2" : "TYPE1", strerror(-err));
		return;
	}
	log_err(&g->log,
		"the kernel won't give userspace a device on this IOMMU (VFIO_SET_IOMMU: EPERM) "
		"because it has no interrupt remapping, so the device could forge interrupts: "
		"enable remapping (firmware, or intremap=on for QEMU's intel-iommu), or accept "
		"the risk with the vfio_iommu_type1 parameter allow_unsafe_interrupts=1 (echo 1 > "
		"/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts)");
}

static int kg_attach(struct uvfio_group *g, struct uvfio_container *c)
{
	struct vfio_group_status s = { .argsz = sizeof(s) };
	struct uvfio__kgroup *kg = kg_of(g);
	struct type1 *t = NULL;
	int cfd, ret;

	if (c->ops && c->ops != &type1_ops) {
		log_err(&g->log,
			"the container holds %s devices; a VFIO group needs a container of its "
			"own or one with other VFIO groups",
			c->ops->name);
		return -EINVAL;
	}
	/* Bindings may have changed since the group was opened. */
	ret = uvfio__kgroup_check_viable(g);
	if (ret)
		return ret;
	ret = open_group_node(g);
	if (ret)
		return ret;
	if (ioctl(kg->fd, VFIO_GROUP_GET_STATUS, &s)) {
		ret = -errno;
		log_err(&g->log, "VFIO_GROUP_GET_STATUS failed: %s", strerror(-ret));
		goto fail;
	}
	if (!(s.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		ret = -EPERM;
		/* A driver may have been bound since we looked: name it if so. */
		if (!uvfio__kgroup_refresh(g) && uvfio__kgroup_blockers(g))
			uvfio__log_blockers(g);
		else
			log_err(&g->log,
				"the kernel reports IOMMU group %d as not viable: a member is "
				"bound to a driver that does DMA on its own (see 'uvfio ls'; "
				"bind it to vfio-pci or unbind it)",
				(int)g->id);
		goto fail;
	}
	if (!c->ops) {
		ret = type1_open(g, &t);
		if (ret)
			goto fail;
		cfd = t->fd;
	} else {
		cfd = type1_of(c)->fd;
	}
	if (ioctl(kg->fd, VFIO_GROUP_SET_CONTAINER, &cfd)) {
		ret = -errno;
		log_set_container(g, ret, t != NULL);
		goto fail;
	}
	if (t) {
		/* Only now, with a group inside, can the container get its IOMMU. */
		if (ioctl(t->fd, VFIO_SET_IOMMU, t->type)) {
			ret = -errno;
			log_set_iommu(g, ret, t->type);
			ioctl(kg->fd, VFIO_GROUP_UNSET_CONTAINER);
			goto fail;
		}
		c->ops = &type1_ops;
		c->priv = t;
	}
	return 0;
fail:
	if (t) {
		close_fd(&t->fd);
		free(t);
	}
	close_fd(&kg->fd);
	return ret;
}

static int kg_detach(struct uvfio_group *g)
{
	struct uvfio__kgroup *kg = kg_of(g);

	if (kg->fd < 0)
		return 0;
	if (ioctl(kg->fd, VFIO_GROUP_UNSET_CONTAINER))
		log_warn(&g->log, "VFIO_GROUP_UNSET_CONTAINER failed (%s); closing the group node "
				  "detaches it anyway", strerror(errno));
	/* Closing also gives the group back: status goes back to sysfs. */
	close_fd(&kg->fd);
	return 0;
}

static int kg_open_device(struct uvfio_group *g, const char *name, struct uvfio_device **out)
{
	struct uvfio__kgroup *kg = kg_of(g);
	char bdf[16];
	int fd, ret;

	ret = uvfio__kgroup_pick(g, name, bdf);
	if (ret)
		return ret;
	if (kg->fd < 0)
		return -EINVAL;
	fd = ioctl(kg->fd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ENODEV)
			log_err(&g->log,
				"%s is not bound to vfio-pci: bind it ('uvfio bind %s')",
				bdf, bdf);
		else if (ret == -EBUSY)
			log_err(&g->log, "%s is already open", bdf);
		else
			log_err(&g->log, "VFIO_GROUP_GET_DEVICE_FD(%s) failed: %s", bdf,
				strerror(-ret));
		return ret;
	}
	/* Modern kernels set it; the oldest ones didn't. */
	if (fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		ret = -errno;
		close_fd(&fd);
		return ret;
	}
	return uvfio__kdev_new(g, bdf, fd, "type1", out);
}

static void kg_close(struct uvfio_group *g)
{
	uvfio__kgroup_free(g);
}

static const struct uvfio__group_ops kgroup_ops = {
	.status = kg_status,
	.attach = kg_attach,
	.detach = kg_detach,
	.open_device = kg_open_device,
	.close = kg_close,
};
