/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Moving a whole IOMMU group to vfio-pci and back: the engine behind
 * "uvfio bind" and "uvfio unbind", without any output of its own.
 *
 * Model: the group, not the device, is what VFIO hands out, so binding a
 * device means making its whole group viable — every member on vfio-pci,
 * without a driver, or on a driver that leaves DMA to its user (pcieport,
 * pci-stub) — or changing nothing. Each member is moved with the kernel's
 * own per-device sequence (driver_override, then unbind, then drivers_probe,
 * then read back which driver took it), never with new_id, which would grab
 * every device with the same ID. A failure at any step puts every member
 * touched so far back (its driver and driver_override), in reverse order.
 *
 * The hazard is the machine's own disk or network: a member that would lose
 * its driver is refused while a mounted filesystem, swap area or routed
 * interface sits below it, unless forced.
 *
 * All sysfs writes go through struct kb_ops, so tests can put a simulated
 * kernel behind a fake tree and fail any single write; reads go straight to
 * the tree.
 */
#ifndef UVFIO_TOOLS_KBIND_H
#define UVFIO_TOOLS_KBIND_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "inuse.h"
#include "pcisys.h"

#define KB_TEXT 2048 /* room for the sentences in struct kb */

/* How sysfs attributes get written. */
struct kb_ops {
	/* Write @val (one write) to the attribute at @path. Return: 0 or -errno. */
	int (*write)(void *priv, const char *path, const char *val);
	void *priv;
};

/* The real kernel: open @path (never created), write @val, close. */
int kb_sysfs_write(void *priv, const char *path, const char *val);

enum kb_action {
	KB_KEEP,    /* left as it is; @why says why that is fine */
	KB_BIND,    /* driver_override=vfio-pci, unbind its driver, probe: ends on vfio-pci */
	KB_DETACH,  /* a bridge on a DMA-doing driver: driver_override=vfio-pci, unbind: no driver */
	KB_RESTORE, /* back to the recorded driver_override and driver */
	KB_REPROBE, /* no record: clear driver_override, unbind vfio-pci, let the kernel choose */
};

enum kb_result {
	KB_REFUSED,     /* nothing was changed; err says why */
	KB_NOTHING,     /* nothing to do; note says why */
	KB_PLANNED,     /* dry run: the plan is filled in, nothing was changed */
	KB_DONE,        /* bound, or unbound */
	KB_ROLLED_BACK, /* bind failed (err) and every member is back as it was */
	KB_FAILED,      /* bind: failed and could not undo it all; unbind: not all restored */
};

struct kb_member {
	char addr[PCISYS_ADDR];
	char driver[PCISYS_NAME];      /* bound to before the command; "" none */
	char override[PCISYS_NAME];    /* driver_override before the command; "" none */
	bool bridge;                   /* header type != 0: vfio-pci won't drive it */
	bool named;                    /* named on the command line */
	enum kb_action action;
	const char *why;               /* KB_KEEP: why nothing needs doing (a phrase) */
	char to[PCISYS_NAME];          /* the driver it should end on; "" none (not KB_REPROBE) */
	char to_override[PCISYS_NAME]; /* the driver_override it gets; "" clears it */
	bool probe;                    /* ask the kernel to probe it once unbound */
	bool may_stay_unbound;         /* KB_BIND of a member not named: no driver is viable too */
	/* bind: the state the record keeps (an earlier record's, if it moved this member) */
	char orig_driver[PCISYS_NAME];
	char orig_override[PCISYS_NAME];
	bool orig_changed;
	/* the outcome, once applied */
	bool touched;                  /* at least one write was attempted for it */
	bool changed;                  /* at least one write went through */
	bool ok;                       /* it ended as planned */
	char now[PCISYS_NAME];         /* its driver afterwards (read back, even after a failure) */
	const char *note;              /* a phrase about the outcome, or NULL */
};

struct kb {
	/* set by the caller (kb_init() fills in the defaults) */
	const char *sysfs;        /* "/sys" */
	const char *proc;         /* "/proc" */
	const char *state_dir;    /* "/run/uvfio" */
	struct kb_ops ops;
	bool dry_run;
	bool force;               /* bind even though something is in use */
	/* filled in */
	bool unbinding;           /* set by kb_unbind() */
	char (*named)[PCISYS_ADDR];
	size_t nr_named;
	long group;               /* -1 until known */
	struct kb_member *m;      /* the group's members, by address */
	size_t n;
	bool planned;             /* each member's action is decided */
	struct inuse_list inuse;  /* bind: what is in use below members losing their driver */
	char record[PATH_MAX];    /* the record's path, once the group is known */
	bool recorded;            /* bind: a record was written; unbind: one was used */
	enum kb_result result;
	char err[KB_TEXT];        /* why it was refused or failed: sentences */
	char note[KB_TEXT];       /* sentences worth saying although it didn't fail; "" none */
};

void kb_init(struct kb *k);
void kb_fini(struct kb *k);

/*
 * Bind the IOMMU group of the @n devices @names (one group) to vfio-pci,
 * or with k->dry_run only plan it. Fills in @k whatever happens.
 * Return: 0 (KB_NOTHING, KB_PLANNED, KB_DONE), else a negative errno.
 */
int kb_bind(struct kb *k, const char *const *names, size_t n);

/*
 * Give the group of @names back to the drivers its record names (or, with
 * no record, clear driver_override and let the kernel reprobe what is on
 * vfio-pci). Best effort: one member failing doesn't stop the others.
 * Return: as kb_bind().
 */
int kb_unbind(struct kb *k, const char *const *names, size_t n);

/* 0 (done, nothing to do, planned), 1 (refused, rolled back, unbind incomplete), 3. */
int kb_exit_status(const struct kb *k);

const char *kb_action_name(enum kb_action a);
const char *kb_result_name(const struct kb *k);

/* --- shared by kbind.c and kunbind.c ------------------------------------------------ */

/* Append one sentence (a period is added) to k->err or k->note. */
void kb__err(struct kb *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kb__note(struct kb *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Find the group of @names and read its members' state; KB_REFUSED and err on failure. */
int kb__resolve(struct kb *k, const char *const *names, size_t n);

/*
 * Bring @m to driver_override @ovr and driver @want: the kernel's sequence
 * (write driver_override; unbind the current driver unless it is @want;
 * write drivers_probe when @probe; read back the driver into m->now). With
 * @any, only a vfio driver is unbound and whatever the kernel picks is
 * fine. m->now is read back after a failed write too (else it keeps the
 * last driver known), so it always says where @m is, not where it was
 * meant to go. Return: 0 when every write went through (check m->now),
 * else the failed write's -errno, with err saying which.
 */
int kb__move(struct kb *k, struct kb_member *m, const char *ovr, const char *want, bool probe,
	     bool any);

#endif /* UVFIO_TOOLS_KBIND_H */
