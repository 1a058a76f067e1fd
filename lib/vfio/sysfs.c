// SPDX-License-Identifier: BSD-3-Clause
/*
 * IOMMU groups as sysfs shows them: which group a PCI device is in, which
 * devices share it, which driver each is bound to, and so whether the group
 * can be handed to userspace.
 *
 * The rule (kernel 5.19 and later, "DMA ownership"): a group is viable when
 * no member is bound to a driver that does DMA on its own account. Drivers
 * that leave DMA to their user are fine: vfio-pci and its variants
 * (*vfio-pci), pci-stub, and pcieport on bridges; an unbound device is fine.
 * The kernel's GET_STATUS remains the authority once /dev/vfio/N is open;
 * this is what lets uvfio name the culprits and say what to run.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "vfio_priv.h"

int uvfio__pci_addr(const char *in, char out[16])
{
	unsigned dom = 0, bus, dev, fn;
	char tail;

	if (sscanf(in, "%x:%x:%x.%x%c", &dom, &bus, &dev, &fn, &tail) == 4) {
		/* domain:bus:dev.fn */
	} else if (sscanf(in, "%x:%x.%x%c", &bus, &dev, &fn, &tail) == 3) {
		dom = 0;
	} else {
		return -EINVAL;
	}
	if (dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7 || strchr(in, ' ') ||
	    strlen(in) > 12)
		return -EINVAL;
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

int uvfio__sysfs_group_of(const struct uvfio__opts *o, const char *bdf, int32_t *id)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;
	long v;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", o->sysfs, bdf);
	if (access(path, F_OK))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", o->sysfs, bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -ENODEV;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	v = strtol(base, NULL, 10);
	if (v < 0 || v > INT32_MAX)
		return -ENODEV;
	*id = (int32_t)v;
	return 0;
}

/* vfio-pci and its variants (mlx5_vfio_pci, hisi-acc-vfio-pci, ...) spell it either way. */
static bool harmless_driver(const char *drv)
{
	size_t n = strlen(drv);

	return !n || (n >= 8 && (!strcmp(drv + n - 8, "vfio-pci") || !strcmp(drv + n - 8, "vfio_pci"))) ||
	       !strcmp(drv, "pci-stub") || !strcmp(drv, "pcieport");
}

static char *driver_of(const struct uvfio__opts *o, const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", o->sysfs, bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return strdup("");
	link[n] = '\0';
	base = strrchr(link, '/');
	return strdup(base ? base + 1 : link);
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp(((const struct uvfio_group_member *)a)->name,
		      ((const struct uvfio_group_member *)b)->name);
}

int uvfio__sysfs_members(struct uvfio_group *g, int32_t id)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *dir;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", g->opts.sysfs, (int)id);
	dir = opendir(path);
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir))) {
		struct uvfio_group_member *m, *n;

		if (e->d_name[0] == '.')
			continue;
		n = realloc(g->members, (g->nr_members + 1) * sizeof(*n));
		if (!n) {
			ret = -ENOMEM;
			break;
		}
		g->members = n;
		m = &g->members[g->nr_members];
		m->name = strdup(e->d_name);
		m->driver = m->name ? driver_of(&g->opts, e->d_name) : NULL;
		if (!m->name || !m->driver) {
			free((char *)m->name);
			free((char *)m->driver);
			ret = -ENOMEM;
			break;
		}
		m->blocker = !harmless_driver(m->driver);
		g->nr_members++;
	}
	closedir(dir);
	if (g->nr_members)
		qsort(g->members, g->nr_members, sizeof(*g->members), cmp_member);
	return ret;
}

void uvfio__log_blockers(struct uvfio_group *g)
{
	char who[512] = "", fix[512] = "";
	size_t w = 0, f = 0;

	for (uint32_t i = 0; i < g->nr_members; i++) {
		const struct uvfio_group_member *m = &g->members[i];
		int n;

		if (!m->blocker)
			continue;
		n = snprintf(who + w, sizeof(who) - w, "%s%s (bound to %s)", w ? ", " : "", m->name,
			     m->driver);
		if (n > 0)
			w = MIN(sizeof(who) - 1, w + (size_t)n);
		n = snprintf(fix + f, sizeof(fix) - f, "%s%s", f ? " " : "", m->name);
		if (n > 0)
			f = MIN(sizeof(fix) - 1, f + (size_t)n);
	}
	log_err(&g->log, "IOMMU group %d is not viable: %s %s its own driver; the whole group "
			 "must be unbound or bound to vfio-pci: run 'uvfio bind %s'",
		(int)g->id, who, strchr(who, ',') ? "have" : "has", fix);
}

int uvfio__sysfs_cdev_bdf(const struct uvfio__opts *o, const char *cdev, char bdf[16])
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base = strrchr(cdev, '/');
	ssize_t n;

	base = base ? base + 1 : cdev;
	snprintf(path, sizeof(path), "%s/class/vfio-dev/%s/device", o->sysfs, base);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -ENOENT;
	link[n] = '\0';
	base = strrchr(link, '/');
	return uvfio__pci_addr(base ? base + 1 : link, bdf);
}
