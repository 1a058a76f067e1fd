// SPDX-License-Identifier: BSD-3-Clause
/*
 * The simulated kernel behind ksim.h. It follows the kernel's PCI bus
 * attributes closely enough for the bind engine to be wrong in the same
 * ways it could be on a real machine: driver_override only matters at the
 * next probe; unbind needs the device to be on that very driver (-ENODEV
 * otherwise); drivers_probe succeeds whether or not a driver took the
 * device, and leaves a bound device alone; a driver's bind obeys
 * driver_override. Assertions use cmocka, so a broken tree fails the test.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ksim.h"
#include "test.h"

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *c = p + 1; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			mkdir(p, 0755);
			*c = '/';
		}
	}
	mkdir(p, 0755);
}

static void put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void parent_of(const char *path)
{
	char p[PATH_MAX], *slash;

	snprintf(p, sizeof(p), "%s", path);
	slash = strrchr(p, '/');
	if (slash) {
		*slash = '\0';
		mkdirs(p);
	}
}

void ksim_mkdir(struct ksim *s, const char *rel)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", s->root, rel);
	mkdirs(p);
}

void ksim_file(struct ksim *s, const char *rel, const char *content)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", s->root, rel);
	parent_of(p);
	put_file(p, content);
}

void ksim_link(struct ksim *s, const char *rel, const char *target)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", s->root, rel);
	parent_of(p);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

void ksim_new(struct ksim *s)
{
	const char *tmp = getenv("TMPDIR");
	char real[PATH_MAX];

	memset(s, 0, sizeof(*s));
	snprintf(s->root, sizeof(s->root), "%s/uvfio-bind-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(s->root));
	/* The kernel's paths are canonical; so are ours, to compare with realpath(). */
	assert_non_null(realpath(s->root, real));
	assert_true(strlen(real) < sizeof(s->root));
	memcpy(s->root, real, strlen(real) + 1);
	snprintf(s->sys, sizeof(s->sys), "%s/sys", s->root);
	snprintf(s->proc, sizeof(s->proc), "%s/proc", s->root);
	snprintf(s->state, sizeof(s->state), "%s/state", s->root);
	ksim_file(s, "sys/bus/pci/drivers_probe", "");
	ksim_mkdir(s, "sys/kernel/iommu_groups");
	ksim_mkdir(s, "sys/class/block");
	ksim_mkdir(s, "sys/class/net");
	ksim_file(s, "proc/self/mountinfo",
		  "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
		  "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw\n");
	ksim_file(s, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	ksim_file(s, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n");
	ksim_file(s, "proc/net/ipv6_route", "");
	ksim_mkdir(s, "state");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void ksim_free(struct ksim *s)
{
	nftw(s->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void ksim_driver(struct ksim *s, const char *name)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/bind", name);
	ksim_file(s, rel, "");
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/unbind", name);
	ksim_file(s, rel, "");
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/new_id", name);
	ksim_file(s, rel, "");
}

void ksim_unload(struct ksim *s, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", s->sys, name);
	assert_int_equal(nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static struct ksim_dev *find_dev(struct ksim *s, const char *bdf)
{
	for (int i = 0; i < s->nr_devs; i++)
		if (!strcmp(s->devs[i].bdf, bdf))
			return &s->devs[i];
	return NULL;
}

static void attach(struct ksim *s, const char *bdf, const char *drv)
{
	char rel[PATH_MAX], target[PATH_MAX];

	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver", bdf);
	snprintf(target, sizeof(target), "../../../bus/pci/drivers/%s", drv);
	ksim_link(s, rel, target);
	snprintf(rel, sizeof(rel), "sys/bus/pci/drivers/%s/%s", drv, bdf);
	snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", bdf);
	ksim_link(s, rel, target);
}

static void detach(struct ksim *s, const char *bdf, const char *drv)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/devices/pci0000:00/%s/driver", s->sys, bdf);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s/%s", s->sys, drv, bdf);
	assert_int_equal(unlink(p), 0);
}

void ksim_dev(struct ksim *s, const char *bdf, int group, unsigned cls, const char *driver,
	      const char *native)
{
	struct ksim_dev *d = &s->devs[s->nr_devs++];
	char rel[PATH_MAX], target[PATH_MAX], val[32];

	assert_true(s->nr_devs <= KSIM_MAX_DEVS);
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	snprintf(d->native, sizeof(d->native), "%s", native ? native : "");
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/class", bdf);
	snprintf(val, sizeof(val), "0x%06x\n", cls);
	ksim_file(s, rel, val);
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/vendor", bdf);
	ksim_file(s, rel, "0x1b36\n");
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/driver_override", bdf);
	ksim_file(s, rel, "(null)\n");
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s", bdf);
	snprintf(target, sizeof(target), "../../../devices/pci0000:00/%s", bdf);
	ksim_link(s, rel, target);
	if (group >= 0) {
		snprintf(rel, sizeof(rel), "sys/kernel/iommu_groups/%d/devices/%s", group, bdf);
		snprintf(target, sizeof(target), "../../../../devices/pci0000:00/%s", bdf);
		ksim_link(s, rel, target);
		snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/%s/iommu_group", bdf);
		snprintf(target, sizeof(target), "../../../kernel/iommu_groups/%d", group);
		ksim_link(s, rel, target);
	}
	if (driver) {
		ksim_driver(s, driver);
		attach(s, bdf, driver);
	}
}

void ksim_state(struct ksim *s, const char *bdf, char drv[64], char ovr[64])
{
	char p[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/devices/pci0000:00/%s/driver", s->sys, bdf);
	n = readlink(p, link, sizeof(link) - 1);
	drv[0] = '\0';
	if (n > 0) {
		link[n] = '\0';
		snprintf(drv, 64, "%s", strrchr(link, '/') + 1);
	}
	snprintf(p, sizeof(p), "%s/devices/pci0000:00/%s/driver_override", s->sys, bdf);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, ovr, 63);
	close(fd);
	assert_true(n > 0);
	ovr[n] = '\0';
	ovr[strcspn(ovr, "\n")] = '\0';
}

static bool loaded(struct ksim *s, const char *drv)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", s->sys, drv);
	return drv[0] && !access(p, F_OK);
}

static bool is_bridge(struct ksim *s, const char *bdf)
{
	char p[PATH_MAX], buf[32] = "";
	int fd;

	snprintf(p, sizeof(p), "%s/devices/pci0000:00/%s/class", s->sys, bdf);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	return (strtoul(buf, NULL, 16) >> 8) == 0x0604;
}

/* The driver's probe: vfio-pci refuses bridges (header type 1) and devices told to. */
static bool accepts(struct ksim *s, const char *drv, const struct ksim_dev *d)
{
	if (!strcmp(drv, "vfio-pci"))
		return !d->vfio_refuses && !is_bridge(s, d->bdf);
	return true;
}

static void bad(struct ksim *s, const char *path, const char *why)
{
	snprintf(s->bad, sizeof(s->bad), "%s: %s", path, why);
}

static int kernel_write(struct ksim *s, const char *path, const char *val);

int ksim_write(void *priv, const char *path, const char *val)
{
	struct ksim *s = priv;
	int ret = kernel_write(s, path, val);

	if (!ret && s->sneak_at && s->writes == s->sneak_at) {
		ksim_driver(s, s->sneak_drv);
		attach(s, s->sneak_bdf, s->sneak_drv);
	}
	return ret;
}

static int kernel_write(struct ksim *s, const char *path, const char *val)
{
	char dir[PATH_MAX], real[PATH_MAX], v[4096], drv[64], ovr[64], prefix[PATH_MAX];
	const char *base, *name;
	struct ksim_dev *d;
	size_t len;

	s->writes++;
	len = strlen(s->log);
	snprintf(s->log + len, sizeof(s->log) - len, "%d: %s <- '%s'\n", s->writes,
		 path + (strncmp(path, s->sys, strlen(s->sys)) ? 0 : strlen(s->sys)), val);
	if (s->fail_at &&
	    (s->writes == s->fail_at || (s->fail_after && s->writes > s->fail_at)))
		return -(s->fail_errno ? s->fail_errno : EIO);
	/* Resolve the attribute's directory the way open() would. */
	snprintf(dir, sizeof(dir), "%s", path);
	base = strrchr(path, '/');
	if (!base)
		return bad(s, path, "not a path"), -ENOENT;
	base++;
	*strrchr(dir, '/') = '\0';
	if (!realpath(dir, real))
		return -ENOENT;
	snprintf(v, sizeof(v), "%s", val);
	len = strlen(v);
	if (len && v[len - 1] == '\n')
		v[--len] = '\0';
	name = strrchr(real, '/') + 1;

	snprintf(prefix, sizeof(prefix), "%s/devices/pci0000:00", s->sys);
	if (!strcmp(base, "driver_override")) {
		char content[4200];

		if (strncmp(real, prefix, strlen(prefix)) || !find_dev(s, name))
			return bad(s, path, "driver_override of no device"), -ENOENT;
		char attr[PATH_MAX + 32];

		snprintf(content, sizeof(content), "%s\n", v[0] ? v : "(null)");
		snprintf(attr, sizeof(attr), "%s/driver_override", real);
		put_file(attr, content);
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "%s/bus/pci/drivers", s->sys);
	if (!strcmp(base, "unbind") || !strcmp(base, "bind")) {
		if (strncmp(real, prefix, strlen(prefix)) || strchr(real + strlen(prefix) + 1, '/'))
			return bad(s, path, "not a driver's attribute"), -ENOENT;
		d = find_dev(s, v);
		if (!d)
			return -ENODEV;
		ksim_state(s, d->bdf, drv, ovr);
		if (!strcmp(base, "unbind")) {
			if (strcmp(drv, name))
				return -ENODEV;
			detach(s, d->bdf, name);
			return 0;
		}
		if (drv[0])
			return -EBUSY;
		if (strcmp(ovr, "(null)") ? strcmp(ovr, name) != 0 : strcmp(d->native, name) != 0)
			return -ENODEV;
		if (!accepts(s, name, d))
			return -EINVAL;
		attach(s, d->bdf, name);
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "%s/bus/pci", s->sys);
	if (!strcmp(base, "drivers_probe") && !strcmp(real, prefix)) {
		const char *want;

		d = find_dev(s, v);
		if (!d)
			return -ENODEV;
		ksim_state(s, d->bdf, drv, ovr);
		if (drv[0])
			return 0;
		want = strcmp(ovr, "(null)") ? ovr : d->native;
		if (loaded(s, want) && accepts(s, want, d))
			attach(s, d->bdf, want);
		return 0; /* whether or not a driver took it */
	}
	bad(s, path, "an attribute the simulation doesn't know");
	return -EPERM;
}

struct snap {
	char **lines;
	size_t n;
	size_t root_len;
};

static struct snap *cur_snap;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct snap *sn = cur_snap;
	char line[8192], content[4096] = "";
	ssize_t n;

	(void)ftw;
	if (flag == FTW_SL) {
		n = readlink(path, content, sizeof(content) - 1);
		content[n > 0 ? n : 0] = '\0';
		snprintf(line, sizeof(line), "%s -> %s", path + sn->root_len, content);
	} else if (flag == FTW_F) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		n = fd >= 0 ? read(fd, content, sizeof(content) - 1) : -1;
		if (fd >= 0)
			close(fd);
		content[n > 0 ? n : 0] = '\0';
		for (char *c = content; *c; c++)
			if (*c == '\n')
				*c = '|';
		snprintf(line, sizeof(line), "%s = %s (%o)", path + sn->root_len, content,
			 (unsigned)(st->st_mode & 07777));
	} else {
		snprintf(line, sizeof(line), "%s/", path + sn->root_len);
	}
	sn->lines = realloc(sn->lines, (sn->n + 1) * sizeof(*sn->lines));
	assert_non_null(sn->lines);
	sn->lines[sn->n] = strdup(line);
	assert_non_null(sn->lines[sn->n]);
	sn->n++;
	return 0;
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *ksim_snapshot(struct ksim *s)
{
	struct snap sn = { .root_len = strlen(s->root) };
	size_t len = 1;
	char *out;

	cur_snap = &sn;
	assert_int_equal(nftw(s->root, snap_one, 16, FTW_PHYS), 0);
	cur_snap = NULL;
	qsort(sn.lines, sn.n, sizeof(*sn.lines), by_str);
	for (size_t i = 0; i < sn.n; i++)
		len += strlen(sn.lines[i]) + 1;
	out = malloc(len);
	assert_non_null(out);
	out[0] = '\0';
	for (size_t i = 0; i < sn.n; i++) {
		strcat(out, sn.lines[i]);
		strcat(out, "\n");
		free(sn.lines[i]);
	}
	free(sn.lines);
	return out;
}
