/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a PCI device is carrying that the machine relies on: filesystems
 * mounted (or swap enabled) on block devices below it in sysfs — its disks,
 * their partitions and whatever is stacked on them (dm, md: holders/) — and
 * network interfaces below it that carry a route. "uvfio bind" checks every
 * device it would take a driver away from, so it doesn't pull the disk or
 * the network out from under the machine.
 *
 * /proc (mountinfo, swaps, routes) is read once into a struct inuse_world;
 * each device is then checked against it by walking its sysfs directory.
 * Both roots are parameters so tests can use fake trees.
 */
#ifndef UVFIO_TOOLS_INUSE_H
#define UVFIO_TOOLS_INUSE_H

#include <stddef.h>

#include "pcisys.h"

enum inuse_kind {
	INUSE_MOUNT,
	INUSE_SWAP,
	INUSE_ROUTE,
};

/* One thing in use below a PCI device. */
struct inuse {
	char addr[PCISYS_ADDR];  /* the PCI device it is below */
	enum inuse_kind kind;
	char what[64];           /* block device ("nvme0n1p1", "dm-0") or interface ("eth0") */
	char below[64];          /* stacked block device: the one below the PCI device it sits on */
	char where[256];         /* mount point, swap area, or a route ("192.0.2.0/24") */
	char fstype[32];         /* INUSE_MOUNT: the filesystem type */
	unsigned major, minor;   /* block devices: the device number */
	unsigned more_routes;    /* INUSE_ROUTE: how many routes besides @where */
};

struct inuse_list {
	struct inuse *v;
	size_t n;
};

struct inuse_world;

/*
 * Read <proc>/self/mountinfo, <proc>/swaps, <proc>/net/route and
 * <proc>/net/ipv6_route. Missing swaps or route files mean none; an
 * unreadable mountinfo is an error, with a sentence in @err.
 * Free with inuse_world_free().
 */
int inuse_load(const char *proc, struct inuse_world **out, char *err, size_t errlen);
void inuse_world_free(struct inuse_world *w);

/*
 * Append to @l what is in use below PCI device @bdf. Return: 0, -ENOMEM,
 * or -errno when the device's directory cannot be read.
 */
int inuse_scan(const struct inuse_world *w, const char *sysfs, const char *bdf,
	       struct inuse_list *l);
void inuse_list_free(struct inuse_list *l);

#endif /* UVFIO_TOOLS_INUSE_H */
