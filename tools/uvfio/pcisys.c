// SPDX-License-Identifier: BSD-3-Clause
/*
 * Reading PCI devices' driver state from sysfs. The kernel is the only
 * writer of these files, but a fake tree or a kernel of another era may
 * differ: every path is length-checked, every link and attribute may be
 * missing, and a value that doesn't fit our buffers is an error rather than
 * a truncated name that could later be written back into sysfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcisys.h"

int pcisys_addr(const char *in, char out[PCISYS_ADDR])
{
	unsigned dom = 0, bus, dev, fn;
	char tail;

	/* sscanf alone would also take "0x", signs and blanks. */
	if (strlen(in) > 12 || strspn(in, "0123456789abcdefABCDEF:.") != strlen(in))
		return -EINVAL;
	if (sscanf(in, "%4x:%2x:%2x.%1x%c", &dom, &bus, &dev, &fn, &tail) == 4) {
		/* domain:bus:dev.fn */
	} else if (sscanf(in, "%2x:%2x.%1x%c", &bus, &dev, &fn, &tail) == 3) {
		dom = 0;
	} else {
		return -EINVAL;
	}
	if (dev > 0x1f || fn > 7)
		return -EINVAL;
	snprintf(out, PCISYS_ADDR, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

int pcisys_path(char *out, size_t size, const char *sysfs, const char *bdf, const char *attr)
{
	int n;

	if (attr)
		n = snprintf(out, size, "%s/bus/pci/devices/%s/%s", sysfs, bdf, attr);
	else
		n = snprintf(out, size, "%s/bus/pci/devices/%s", sysfs, bdf);
	return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

int pcisys_exists(const char *sysfs, const char *bdf)
{
	char path[PATH_MAX];
	int ret = pcisys_path(path, sizeof(path), sysfs, bdf, NULL);

	if (ret)
		return ret;
	return access(path, F_OK) ? -ENOENT : 0;
}

int pcisys_link_base(int dirfd, const char *path, char *out, size_t size)
{
	char link[PATH_MAX];
	const char *base;
	ssize_t n;

	out[0] = '\0';
	n = readlinkat(dirfd, path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == EINVAL ? -ENOENT : -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	memcpy(out, base, strlen(base) + 1);
	return 0;
}

int pcisys_driver(const char *sysfs, const char *bdf, char out[PCISYS_NAME])
{
	char path[PATH_MAX];
	int ret = pcisys_path(path, sizeof(path), sysfs, bdf, "driver");

	out[0] = '\0';
	if (ret)
		return ret;
	ret = pcisys_link_base(AT_FDCWD, path, out, PCISYS_NAME);
	if (ret == -ENOENT) {
		out[0] = '\0';
		return 0;
	}
	return ret;
}

/* The first line of a small attribute, without its newline. */
static int read_line(const char *path, char *out, size_t size)
{
	char buf[256];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (strlen(buf) >= size)
		return -ENAMETOOLONG;
	memcpy(out, buf, strlen(buf) + 1);
	return 0;
}

int pcisys_override(const char *sysfs, const char *bdf, char out[PCISYS_NAME])
{
	char path[PATH_MAX];
	int ret = pcisys_path(path, sizeof(path), sysfs, bdf, "driver_override");

	out[0] = '\0';
	if (!ret)
		ret = read_line(path, out, PCISYS_NAME);
	if (ret)
		out[0] = '\0';
	else if (!strcmp(out, "(null)"))
		out[0] = '\0';
	return ret;
}

int pcisys_group(const char *sysfs, const char *bdf, long *id)
{
	char path[PATH_MAX], base[32], *end;
	long v;
	int ret;

	ret = pcisys_exists(sysfs, bdf);
	if (ret)
		return ret;
	ret = pcisys_path(path, sizeof(path), sysfs, bdf, "iommu_group");
	if (ret)
		return ret;
	ret = pcisys_link_base(AT_FDCWD, path, base, sizeof(base));
	if (ret == -ENOENT)
		return -ENODEV;
	if (ret)
		return ret;
	errno = 0;
	v = strtol(base, &end, 10);
	if (errno || end == base || *end || v < 0 || v > INT32_MAX)
		return -ENODEV;
	*id = v;
	return 0;
}

bool pcisys_is_bridge(const char *sysfs, const char *bdf)
{
	char path[PATH_MAX], line[32], *end;
	unsigned char cfg[16];
	unsigned long cls;
	ssize_t n = -1;
	int fd;

	if (!pcisys_path(path, sizeof(path), sysfs, bdf, "config")) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = pread(fd, cfg, sizeof(cfg), 0);
			close(fd);
		}
	}
	if (n == (ssize_t)sizeof(cfg))
		return (cfg[0x0e] & 0x7f) != 0;
	if (pcisys_path(path, sizeof(path), sysfs, bdf, "class") ||
	    read_line(path, line, sizeof(line)))
		return false;
	errno = 0;
	cls = strtoul(line, &end, 16);
	if (errno || end == line)
		return false;
	return (cls >> 8) == 0x0604 || (cls >> 8) == 0x0609 || (cls >> 8) == 0x0607;
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

int pcisys_group_members(const char *sysfs, long id, char (**out)[PCISYS_ADDR], size_t *n)
{
	char path[PATH_MAX], (*v)[PCISYS_ADDR];
	struct dirent **names;
	int ret = 0, nr;

	*out = NULL;
	*n = 0;
	nr = snprintf(path, sizeof(path), "%s/kernel/iommu_groups/%ld/devices", sysfs, id);
	if (nr < 0 || (size_t)nr >= sizeof(path))
		return -ENAMETOOLONG;
	nr = scandir(path, &names, not_dot, alphasort);
	if (nr < 0)
		return -errno;
	v = calloc(nr ? (size_t)nr : 1, sizeof(*v));
	for (int i = 0; i < nr; i++) {
		if (v && strlen(names[i]->d_name) < PCISYS_ADDR)
			memcpy(v[i], names[i]->d_name, strlen(names[i]->d_name) + 1);
		else if (v)
			snprintf(v[i], PCISYS_ADDR, "?"); /* not a PCI address: the caller refuses */
		free(names[i]);
	}
	free(names);
	if (!v)
		return -ENOMEM;
	*out = v;
	*n = (size_t)nr;
	return ret;
}

bool pcisys_driver_is_vfio(const char *drv)
{
	size_t n = strlen(drv);

	return n >= 8 && (!strcmp(drv + n - 8, "vfio-pci") || !strcmp(drv + n - 8, "vfio_pci"));
}

bool pcisys_driver_harmless(const char *drv)
{
	return !drv[0] || pcisys_driver_is_vfio(drv) || !strcmp(drv, "pci-stub") ||
	       !strcmp(drv, "pcieport");
}

bool pcisys_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= PCISYS_NAME)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}
