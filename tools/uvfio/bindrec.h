/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The record "uvfio bind" keeps of what it changed, so "uvfio unbind" can
 * give each device of the group back to the driver it had: one small JSON
 * file per IOMMU group, <state dir>/group-N.json (state dir: --state-dir,
 * else $UVFIO_STATE_DIR, else /run/uvfio, which a reboot empties together
 * with the bindings it describes). Schema in docs/cli.md.
 *
 * The file is written before the first sysfs write (so a crash half-way
 * still leaves what unbind needs), replaced atomically (write, fsync,
 * rename), and read back as untrusted input: every name in it is checked
 * before it can reach sysfs. Commands on the same state directory take its
 * lock (flock) for their whole run.
 */
#ifndef UVFIO_TOOLS_BINDREC_H
#define UVFIO_TOOLS_BINDREC_H

#include <stdbool.h>
#include <stddef.h>

#include "pcisys.h"

#define BINDREC_VERSION 1

struct bindrec_member {
	char addr[PCISYS_ADDR];
	char driver[PCISYS_NAME];   /* bound to before "uvfio bind"; "" none */
	char override[PCISYS_NAME]; /* its driver_override then; "" none */
	bool changed;               /* "uvfio bind" moved it (else it was left as it was) */
};

struct bindrec {
	long group;
	char sysfs[256];            /* the sysfs root it was made for */
	char device[PCISYS_ADDR];   /* the device named to "uvfio bind" */
	struct bindrec_member *m;
	size_t n;
};

/* <dir>/group-<group>.json into @out; -ENAMETOOLONG. */
int bindrec_path(char *out, size_t size, const char *dir, long group);

/*
 * Read the record at @path. Return: 0; -ENOENT (none); -EINVAL (not a
 * record we can use: @err says why); another -errno. Free with bindrec_free().
 */
int bindrec_load(const char *path, struct bindrec *r, char *err, size_t errlen);

/* Replace the record at @path with @r, atomically. Return: 0 or -errno. */
int bindrec_save(const char *path, const struct bindrec *r);

void bindrec_free(struct bindrec *r);

/* The member @addr of @r, or NULL. */
const struct bindrec_member *bindrec_find(const struct bindrec *r, const char *addr);

/*
 * Lock the state directory @dir (creating it, mode 0755, when @create) for
 * this process; *@fd holds the lock until closed. Return: 0 or -errno
 * (-ENOENT: no such directory and !@create).
 */
int bindrec_lock(const char *dir, bool create, int *fd);

#endif /* UVFIO_TOOLS_BINDREC_H */
