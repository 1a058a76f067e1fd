// SPDX-License-Identifier: BSD-3-Clause
/*
 * Finding the mounts, swap areas and routes that depend on a PCI device.
 *
 * Block devices: every directory below the device in sysfs whose
 * "subsystem" link names the block class is a disk or partition
 * (.../nvme/nvme0/nvme0n1/nvme0n1p1, .../virtio1/block/vda). Its "dev"
 * (major:minor) is compared with every mount in mountinfo; so is its name
 * with the mount's source, for filesystems such as btrfs that report an
 * anonymous device number. Its holders/ are followed (dm, md, bcache...),
 * recursively, because a mounted LVM volume on a partition depends on the
 * disk just the same. Network: directories whose subsystem is "net" are
 * interfaces; one counts when /proc lists a route through it. IPv6
 * link-local and multicast routes don't count: the kernel adds them to
 * every interface that is up, so they say nothing about the machine
 * relying on it.
 *
 * The walk never follows symlinks (sysfs is full of them, and they loop)
 * except into holders/, and it stops at child PCI devices: a bridge
 * losing its driver doesn't take its children's drivers with it.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inuse.h"

#define MAX_DEPTH   16 /* sysfs levels below the PCI device (USB storage is ~10 deep) */
#define MAX_HOLDERS 8  /* levels of stacking: dm on md on a partition ... */

struct mount_ent {
	unsigned major, minor;
	char *point;
	char *fstype;
	char *source;
};

struct swap_ent {
	char *file;
	dev_t rdev; /* 0 when the file isn't a block device (a swap file) */
};

struct route_ent {
	char ifname[32];
	char route[80];
};

struct inuse_world {
	struct mount_ent *mounts;
	size_t nr_mounts;
	struct swap_ent *swaps;
	size_t nr_swaps;
	struct route_ent *routes;
	size_t nr_routes;
};

/* Grow *@v (of @size-byte items) to hold one more; the new item is zeroed. */
static void *grow(void *vp, size_t *n, size_t size)
{
	void **v = vp;
	char *p;

	if (*n >= (size_t)-1 / size - 1)
		return NULL;
	p = realloc(*v, (*n + 1) * size);
	if (!p)
		return NULL;
	*v = p;
	memset(p + *n * size, 0, size);
	return p + (*n)++ * size;
}

/* The kernel escapes space, tab, newline and backslash in paths as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

static int path_of(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n >= 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
static int parse_mountinfo_line(char *line, struct inuse_world *w)
{
	char *field[6], *save = NULL, *tok, *fstype = NULL, *source = NULL;
	struct mount_ent *m;
	unsigned maj, min;
	int i = 0;

	while (i < 6 && (tok = strtok_r(i ? NULL : line, " \n", &save)))
		field[i++] = tok;
	if (i < 6)
		return 0; /* not a line we understand: nothing to match */
	/* Optional fields run until the lone "-". */
	for (tok = field[5]; tok && strcmp(tok, "-"); tok = strtok_r(NULL, " \n", &save))
		;
	if (tok) {
		fstype = strtok_r(NULL, " \n", &save);
		source = fstype ? strtok_r(NULL, " \n", &save) : NULL;
	}
	if (sscanf(field[2], "%u:%u", &maj, &min) != 2)
		return 0;
	m = grow(&w->mounts, &w->nr_mounts, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->major = maj;
	m->minor = min;
	unescape(field[4]);
	m->point = strdup(field[4]);
	m->fstype = strdup(fstype ? fstype : "?");
	if (source)
		unescape(source);
	m->source = strdup(source ? source : "");
	return m->point && m->fstype && m->source ? 0 : -ENOMEM;
}

/* "/dev/nvme0n1p3  partition  8388604  0  -2" after a header line. */
static int parse_swaps_line(char *line, struct inuse_world *w)
{
	char *save = NULL, *file = strtok_r(line, " \t\n", &save);
	struct swap_ent *s;
	struct stat st;

	if (!file || !strcmp(file, "Filename"))
		return 0;
	s = grow(&w->swaps, &w->nr_swaps, sizeof(*s));
	if (!s)
		return -ENOMEM;
	unescape(file);
	s->file = strdup(file);
	if (!stat(file, &st) && S_ISBLK(st.st_mode))
		s->rdev = st.st_rdev;
	return s->file ? 0 : -ENOMEM;
}

static int add_route(struct inuse_world *w, const char *ifname, const char *route)
{
	struct route_ent *r;

	if (strlen(ifname) >= sizeof(r->ifname))
		return 0; /* no interface has such a name */
	r = grow(&w->routes, &w->nr_routes, sizeof(*r));
	if (!r)
		return -ENOMEM;
	memcpy(r->ifname, ifname, strlen(ifname) + 1);
	snprintf(r->route, sizeof(r->route), "%s", route);
	return 0;
}

/*
 * "eth0 000200C0 00000000 0001 0 0 0 00FFFFFF 0 0 0": addresses are the
 * kernel's __be32 printed as a host-order number, so they go back into an
 * in_addr unchanged.
 */
static int parse_route_line(char *line, struct inuse_world *w)
{
	unsigned long dst, gw, flags, mask;
	struct in_addr a;
	char ifname[64], da[INET_ADDRSTRLEN], ga[INET_ADDRSTRLEN], route[80];

	if (sscanf(line, "%63s %lx %lx %lx %*s %*s %*s %lx", ifname, &dst, &gw, &flags, &mask) != 5)
		return 0; /* the header, or nothing we understand */
	if (!(flags & 0x1)) /* RTF_UP */
		return 0;
	a.s_addr = (in_addr_t)gw;
	inet_ntop(AF_INET, &a, ga, sizeof(ga));
	if (!dst && !mask) {
		snprintf(route, sizeof(route), "default via %s", ga);
	} else {
		a.s_addr = (in_addr_t)dst;
		inet_ntop(AF_INET, &a, da, sizeof(da));
		snprintf(route, sizeof(route), "%s/%d", da, __builtin_popcountl(mask & 0xffffffffUL));
	}
	return add_route(w, ifname, route);
}

static bool hex16(const char *s, unsigned char out[16])
{
	if (strlen(s) != 32)
		return false;
	for (int i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (unsigned char)v;
	}
	return true;
}

/* "dst plen src splen nexthop metric refcnt use flags ifname", addresses as 32 hex digits. */
static int parse_ipv6_route_line(char *line, struct inuse_world *w)
{
	char dst[40], nh[40], ifname[64], da[INET6_ADDRSTRLEN], na[INET6_ADDRSTRLEN], route[80];
	unsigned char d[16], n[16];
	unsigned plen;

	if (sscanf(line, "%39s %x %*s %*s %39s %*s %*s %*s %*s %63s", dst, &plen, nh, ifname) != 4)
		return 0;
	if (!hex16(dst, d) || !hex16(nh, n) || plen > 128)
		return 0;
	if ((d[0] == 0xfe && (d[1] & 0xc0) == 0x80) || d[0] == 0xff)
		return 0; /* link-local, multicast: every interface that is up has them */
	inet_ntop(AF_INET6, n, na, sizeof(na));
	if (!plen) {
		snprintf(route, sizeof(route), "IPv6 default via %s", na);
	} else {
		inet_ntop(AF_INET6, d, da, sizeof(da));
		snprintf(route, sizeof(route), "%s/%u", da, plen);
	}
	return add_route(w, ifname, route);
}

/* Feed each line of <proc>/@name to @fn; -ENOENT when the file isn't there. */
static int each_line(const char *proc, const char *name, struct inuse_world *w,
		     int (*fn)(char *line, struct inuse_world *w))
{
	char path[4096], *line = NULL;
	size_t cap = 0;
	int ret = 0;
	FILE *f;

	if (path_of(path, sizeof(path), proc, name))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0)
		ret = fn(line, w);
	if (!ret && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	return ret;
}

int inuse_load(const char *proc, struct inuse_world **out, char *err, size_t errlen)
{
	struct inuse_world *w = calloc(1, sizeof(*w));
	static const struct {
		const char *name;
		int (*fn)(char *line, struct inuse_world *w);
		bool required;
		const char *what;
	} files[] = {
		{ "self/mountinfo", parse_mountinfo_line, true, "mounted filesystems" },
		{ "swaps", parse_swaps_line, false, "swap areas" },
		{ "net/route", parse_route_line, false, "IPv4 routes" },
		{ "net/ipv6_route", parse_ipv6_route_line, false, "IPv6 routes" },
	};
	int ret = 0;

	*out = NULL;
	if (!w) {
		snprintf(err, errlen, "out of memory.");
		return -ENOMEM;
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		ret = each_line(proc, files[i].name, w, files[i].fn);
		if (ret == -ENOENT && !files[i].required)
			ret = 0;
		if (ret) {
			snprintf(err, errlen,
				 "cannot read %s/%s to check for %s: %s; is /proc mounted there (see "
				 "--proc)? --force binds without the check",
				 proc, files[i].name, files[i].what, strerror(-ret));
			inuse_world_free(w);
			return ret;
		}
	}
	*out = w;
	return 0;
}

void inuse_world_free(struct inuse_world *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nr_mounts; i++) {
		free(w->mounts[i].point);
		free(w->mounts[i].fstype);
		free(w->mounts[i].source);
	}
	for (size_t i = 0; i < w->nr_swaps; i++)
		free(w->swaps[i].file);
	free(w->mounts);
	free(w->swaps);
	free(w->routes);
	free(w);
}

void inuse_list_free(struct inuse_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct scan {
	const struct inuse_world *w;
	const char *addr;
	struct inuse_list *l;
	int err; /* the first error that made the scan incomplete */
};

static void add(struct scan *s, const struct inuse *in)
{
	struct inuse *n;

	for (size_t i = 0; i < s->l->n; i++) {
		const struct inuse *o = &s->l->v[i];

		/* An md over two partitions of one disk is reached twice. */
		if (o->kind == in->kind && !strcmp(o->addr, in->addr) &&
		    !strcmp(o->what, in->what) && !strcmp(o->where, in->where))
			return;
	}
	n = grow(&s->l->v, &s->l->n, sizeof(*n));
	if (!n) {
		s->err = -ENOMEM;
		return;
	}
	*n = *in;
}

/* A small attribute of the directory @dirfd, without its newline; "" when unreadable. */
static void read_at(int dirfd, const char *name, char *out, size_t size)
{
	ssize_t n;
	int fd;

	out[0] = '\0';
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, out, size - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
}

static bool is_dev_path(const char *path, const char *prefix, const char *name)
{
	size_t n = strlen(prefix);

	return name[0] && !strncmp(path, prefix, n) && !strcmp(path + n, name);
}

/* Block device @name (directory @dirfd); @below: the one below the PCI device it stacks on. */
static void block_dev(struct scan *s, int dirfd, const char *name, const char *below, int level)
{
	struct inuse in = { .kind = INUSE_MOUNT };
	char dev[32], dmname[128];
	struct dirent *e;
	DIR *holders;
	int hfd;

	read_at(dirfd, "dev", dev, sizeof(dev));
	read_at(dirfd, "dm/name", dmname, sizeof(dmname));
	if (sscanf(dev, "%u:%u", &in.major, &in.minor) != 2)
		return; /* not a block device we can match */
	snprintf(in.addr, sizeof(in.addr), "%s", s->addr);
	snprintf(in.what, sizeof(in.what), "%s", name);
	snprintf(in.below, sizeof(in.below), "%s", below ? below : "");
	for (size_t i = 0; i < s->w->nr_mounts; i++) {
		const struct mount_ent *m = &s->w->mounts[i];

		if ((m->major == in.major && m->minor == in.minor) ||
		    is_dev_path(m->source, "/dev/", name) ||
		    is_dev_path(m->source, "/dev/mapper/", dmname)) {
			snprintf(in.where, sizeof(in.where), "%s", m->point);
			snprintf(in.fstype, sizeof(in.fstype), "%s", m->fstype);
			add(s, &in);
		}
	}
	in.kind = INUSE_SWAP;
	in.fstype[0] = '\0';
	for (size_t i = 0; i < s->w->nr_swaps; i++) {
		const struct swap_ent *sw = &s->w->swaps[i];

		if ((sw->rdev && sw->rdev == makedev(in.major, in.minor)) ||
		    is_dev_path(sw->file, "/dev/", name) ||
		    is_dev_path(sw->file, "/dev/mapper/", dmname)) {
			snprintf(in.where, sizeof(in.where), "%s", sw->file);
			add(s, &in);
		}
	}
	if (level >= MAX_HOLDERS)
		return;
	hfd = openat(dirfd, "holders", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hfd < 0)
		return;
	holders = fdopendir(hfd);
	if (!holders) {
		close(hfd);
		return;
	}
	while ((e = readdir(holders))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		/* holders/dm-0 -> ../../../../virtual/block/dm-0: the one symlink we follow. */
		fd = openat(hfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		block_dev(s, fd, e->d_name, below ? below : name, level + 1);
		close(fd);
	}
	closedir(holders);
}

static void net_dev(struct scan *s, const char *name)
{
	struct inuse in = { .kind = INUSE_ROUTE };
	bool found = false;

	for (size_t i = 0; i < s->w->nr_routes; i++) {
		const struct route_ent *r = &s->w->routes[i];

		if (strcmp(r->ifname, name))
			continue;
		if (found) {
			in.more_routes++;
			continue;
		}
		found = true;
		snprintf(in.where, sizeof(in.where), "%s", r->route);
	}
	if (!found)
		return;
	snprintf(in.addr, sizeof(in.addr), "%s", s->addr);
	snprintf(in.what, sizeof(in.what), "%s", name);
	add(s, &in);
}

static bool is_pci_function(const char *name)
{
	char canon[PCISYS_ADDR];

	return !pcisys_addr(name, canon) && !strcmp(canon, name);
}

static void walk(struct scan *s, int dirfd, const char *name, int depth)
{
	char subsys[64];
	struct dirent *e;
	DIR *dir;
	int fd;

	pcisys_link_base(dirfd, "subsystem", subsys, sizeof(subsys));
	if (depth > 0 && !strcmp(subsys, "block"))
		block_dev(s, dirfd, name, NULL, 0);
	else if (depth > 0 && !strcmp(subsys, "net"))
		net_dev(s, name);
	if (depth >= MAX_DEPTH)
		return;
	fd = dup(dirfd);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		s->err = s->err ? s->err : -errno;
		return;
	}
	while ((e = readdir(dir))) {
		struct stat st;
		int child;

		if (e->d_name[0] == '.' || (depth > 0 && is_pci_function(e->d_name)))
			continue;
		if (e->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
				continue;
		} else if (e->d_type != DT_DIR) {
			continue;
		}
		child = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (child < 0)
			continue;
		walk(s, child, e->d_name, depth + 1);
		close(child);
	}
	closedir(dir);
}

int inuse_scan(const struct inuse_world *w, const char *sysfs, const char *bdf,
	       struct inuse_list *l)
{
	struct scan s = { .w = w, .addr = bdf, .l = l };
	char path[4096];
	int fd, ret;

	ret = pcisys_path(path, sizeof(path), sysfs, bdf, NULL);
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	walk(&s, fd, bdf, 0);
	close(fd);
	return s.err;
}
