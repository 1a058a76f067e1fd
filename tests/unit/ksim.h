/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A simulated kernel for "uvfio bind": a fake sysfs tree laid out with the
 * kernel's symlinks (devices/pci0000:00/BDF, bus/pci/devices/BDF ->,
 * driver ->, iommu_group ->, drivers/NAME/BDF ->), a fake /proc, and a
 * kb_ops write that does to the tree what the kernel does for the PCI bus's
 * attributes: driver_override (shown as "(null)" when unset), a driver's
 * unbind and bind, and drivers_probe, which binds the driver_override's
 * driver, or else the device's "native" driver, if it is loaded and
 * accepts the device (vfio-pci refuses bridges, and devices told to).
 *
 * Any single write (the Nth), or every write from the Nth on, can be made
 * to fail with a chosen errno, to prove the rollback. A snapshot of the
 * whole tree (every link target and file content) tells whether a failed
 * bind left it exactly as it was.
 */
#ifndef UVFIO_TEST_KSIM_H
#define UVFIO_TEST_KSIM_H

#include <stdbool.h>

#define KSIM_MAX_DEVS 16

struct ksim_dev {
	char bdf[16];
	char native[64];   /* the driver the kernel would pick for it without an override */
	bool vfio_refuses; /* vfio-pci's probe fails (like a PF with SR-IOV VFs enabled) */
};

struct ksim {
	char root[200];
	char sys[224];     /* the fake sysfs */
	char proc[224];    /* the fake proc */
	char state[224];   /* a state directory for records (created empty) */
	struct ksim_dev devs[KSIM_MAX_DEVS];
	int nr_devs;
	int writes;        /* writes seen so far */
	int fail_at;       /* 0, or the write (1-based) that fails */
	bool fail_after;   /* every write from fail_at on fails, not just that one */
	int fail_errno;    /* the errno those writes fail with (EIO if 0) */
	int sneak_at;      /* 0, or after this write someone else binds... */
	char sneak_bdf[16]; /* ...this device... */
	char sneak_drv[64]; /* ...to this driver */
	char log[8192];    /* "path <- value" per write, for failure messages */
	char bad[512];     /* a write the kernel would not understand; "" when none */
};

void ksim_new(struct ksim *s);
void ksim_free(struct ksim *s);

/* A loaded driver: <sys>/bus/pci/drivers/@name with bind, unbind, new_id. */
void ksim_driver(struct ksim *s, const char *name);

/* Unload it (it must have no devices). */
void ksim_unload(struct ksim *s, const char *name);

/*
 * A PCI device: @group < 0 for none; @driver NULL for unbound (a named
 * driver is loaded); @native the driver a probe picks without override.
 */
void ksim_dev(struct ksim *s, const char *bdf, int group, unsigned cls, const char *driver,
	      const char *native);

/* The device's driver ("" none) and driver_override as read ("(null)" when unset). */
void ksim_state(struct ksim *s, const char *bdf, char drv[64], char ovr[64]);

/* Create <root>/@rel (and its parents) holding @content; or a symlink to @target. */
void ksim_file(struct ksim *s, const char *rel, const char *content);
void ksim_link(struct ksim *s, const char *rel, const char *target);
void ksim_mkdir(struct ksim *s, const char *rel);

/* Every directory, symlink (with target) and file (with content) below root, sorted. Free it. */
char *ksim_snapshot(struct ksim *s);

/* The kb_ops write (priv: the struct ksim). */
int ksim_write(void *priv, const char *path, const char *val);

#endif /* UVFIO_TEST_KSIM_H */
