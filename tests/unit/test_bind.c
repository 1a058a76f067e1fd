// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for "uvfio bind" and "uvfio unbind" (tools/uvfio/kbind.c,
 * kunbind.c, inuse.c, bindrec.c, bind.c) against a simulated kernel
 * (ksim.h): IOMMU group 2 holds a PCI bridge without a driver, an edu
 * device on vfio-pci and an NVMe controller on nvme; a virtio NIC sits in
 * no group. The simulation moves the "driver" links as the kernel would, so
 * the tests check where every device ends, that a failure at any write
 * leaves the tree byte for byte as it was, and what the user is told.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bindrec.h"
#include "cli.h"
#include "inuse.h"
#include "kbind.h"
#include "ksim.h"
#include "test.h"

#define BRIDGE "0000:00:04.0"
#define EDU    "0000:01:01.0"
#define NVME   "0000:01:02.0"
#define NIC    "0000:01:03.0"
#define SOUND  "0000:01:04.0"
#define LONE   "0000:00:05.0"

static struct ksim s;

/* Group 2: bridge (no driver), edu on vfio-pci, NVMe on nvme; LONE in no group. */
static void world(void)
{
	ksim_new(&s);
	ksim_driver(&s, "vfio-pci");
	ksim_dev(&s, BRIDGE, 2, 0x060400, NULL, NULL);
	ksim_dev(&s, EDU, 2, 0x00ff00, "vfio-pci", NULL);
	ksim_dev(&s, NVME, 2, 0x010802, "nvme", "nvme");
	ksim_dev(&s, LONE, -1, 0x020000, "virtio-pci", "virtio-pci");
}

static void kb_setup(struct kb *k, bool dry_run)
{
	kb_init(k);
	k->sysfs = s.sys;
	k->proc = s.proc;
	k->state_dir = s.state;
	k->ops = (struct kb_ops){ .write = ksim_write, .priv = &s };
	k->dry_run = dry_run;
}

static int bind1(struct kb *k, const char *dev)
{
	const char *names[] = { dev };

	return kb_bind(k, names, 1);
}

static int unbind1(struct kb *k, const char *dev)
{
	const char *names[] = { dev };

	return kb_unbind(k, names, 1);
}

static void assert_has(const char *text, const char *what)
{
	if (!strstr(text, what)) {
		printf("# lacks '%s':\n# %s\n", what, text);
		fail();
	}
}

static void assert_lacks(const char *text, const char *what)
{
	if (strstr(text, what)) {
		printf("# has '%s':\n# %s\n", what, text);
		fail();
	}
}

static void assert_dev(const char *bdf, const char *drv, const char *ovr)
{
	char d[64], o[64];

	ksim_state(&s, bdf, d, o);
	if (strcmp(d, drv) || strcmp(o, ovr)) {
		printf("# %s: driver '%s' override '%s', expected '%s' '%s'\n# writes:\n%s", bdf, d,
		       o, drv, ovr, s.log);
		fail();
	}
}

static void assert_same_tree(const char *before)
{
	char *now = ksim_snapshot(&s);

	if (strcmp(before, now)) {
		printf("# the tree changed; writes:\n%s# before:\n%s# now:\n%s", s.log, before, now);
		free(now);
		fail();
	}
	free(now);
}

static bool record_exists(void)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/group-2.json", s.state);
	return !access(p, F_OK);
}

static const struct kb_member *member(const struct kb *k, const char *bdf)
{
	static const struct kb_member none = { .action = -1 };

	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->m[i].addr, bdf))
			return &k->m[i];
	fail_msg("no member %s", bdf);
	return &none;
}

static const struct bindrec_member *recm(const struct bindrec *r, const char *bdf)
{
	static const struct bindrec_member none;
	const struct bindrec_member *m = bindrec_find(r, bdf);

	if (!m)
		fail_msg("the record has no %s", bdf);
	return m ? m : &none;
}

/* A disk below the NVMe controller: nvme0n1 (259:0), partitions p1-p3, dm-0 on p2. */
static void nvme_disk(void)
{
	const char *n1 = "sys/devices/pci0000:00/" NVME "/nvme/nvme0/nvme0n1";
	char rel[PATH_MAX], target[PATH_MAX];

	ksim_mkdir(&s, "sys/devices/pci0000:00/" NVME "/nvme/nvme0");
	snprintf(target, sizeof(target), "%s/class/nvme", s.sys);
	ksim_link(&s, "sys/devices/pci0000:00/" NVME "/nvme/nvme0/subsystem", target);
	snprintf(target, sizeof(target), "%s/class/block", s.sys);
	snprintf(rel, sizeof(rel), "%s/subsystem", n1);
	ksim_link(&s, rel, target);
	snprintf(rel, sizeof(rel), "%s/dev", n1);
	ksim_file(&s, rel, "259:0\n");
	snprintf(rel, sizeof(rel), "%s/holders", n1);
	ksim_mkdir(&s, rel);
	for (int p = 1; p <= 3; p++) {
		char val[16];

		snprintf(rel, sizeof(rel), "%s/nvme0n1p%d/subsystem", n1, p);
		ksim_link(&s, rel, target);
		snprintf(rel, sizeof(rel), "%s/nvme0n1p%d/dev", n1, p);
		snprintf(val, sizeof(val), "259:%d\n", p);
		ksim_file(&s, rel, val);
		snprintf(rel, sizeof(rel), "%s/nvme0n1p%d/holders", n1, p);
		ksim_mkdir(&s, rel);
	}
	ksim_file(&s, "sys/devices/virtual/block/dm-0/dev", "253:0\n");
	ksim_file(&s, "sys/devices/virtual/block/dm-0/dm/name", "vg-root\n");
	ksim_link(&s, "sys/devices/virtual/block/dm-0/subsystem", target);
	ksim_mkdir(&s, "sys/devices/virtual/block/dm-0/holders");
	snprintf(rel, sizeof(rel), "%s/nvme0n1p2/holders/dm-0", n1);
	ksim_link(&s, rel, "../../../../../../../virtual/block/dm-0");
}

/* A NIC in group 2 on e1000e, with interface eth0 below it. */
static void nic(void)
{
	char target[PATH_MAX];

	ksim_dev(&s, NIC, 2, 0x020000, "e1000e", "e1000e");
	snprintf(target, sizeof(target), "%s/class/net", s.sys);
	ksim_link(&s, "sys/devices/pci0000:00/" NIC "/net/eth0/subsystem", target);
	ksim_file(&s, "sys/devices/pci0000:00/" NIC "/net/eth0/ifindex", "2\n");
}

/* --- plan and dry run ------------------------------------------------------------------ */

static void test_plan_dry_run(void **state)
{
	struct kb k;
	char *before;

	(void)state;
	world();
	before = ksim_snapshot(&s);
	kb_setup(&k, true);
	assert_ret(bind1(&k, "01:01.0"), 0);
	assert_int_equal(k.result, KB_PLANNED);
	assert_int_equal(kb_exit_status(&k), 0);
	assert_int_equal(k.group, 2);
	assert_int_equal(k.n, 3);
	assert_int_equal(member(&k, BRIDGE)->action, KB_KEEP);
	assert_true(member(&k, BRIDGE)->bridge);
	assert_int_equal(member(&k, EDU)->action, KB_KEEP);
	assert_true(member(&k, EDU)->named);
	assert_int_equal(member(&k, NVME)->action, KB_BIND);
	assert_string_equal(member(&k, NVME)->driver, "nvme");
	assert_string_equal(member(&k, NVME)->to, "vfio-pci");
	assert_int_equal(s.writes, 0);
	assert_false(record_exists());
	assert_same_tree(before);
	kb_fini(&k);

	/* Naming the NVMe instead plans the same moves. */
	kb_setup(&k, true);
	assert_ret(bind1(&k, NVME), 0);
	assert_int_equal(member(&k, NVME)->action, KB_BIND);
	assert_false(member(&k, NVME)->may_stay_unbound);
	assert_int_equal(member(&k, EDU)->action, KB_KEEP);
	assert_int_equal(s.writes, 0);
	kb_fini(&k);

	/* An unbind dry run plans the way back, after a bind. */
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	kb_fini(&k);
	free(before);
	before = ksim_snapshot(&s);
	s.writes = 0;
	kb_setup(&k, true);
	assert_ret(unbind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_PLANNED);
	assert_int_equal(member(&k, NVME)->action, KB_RESTORE);
	assert_string_equal(member(&k, NVME)->to, "nvme");
	assert_int_equal(member(&k, EDU)->action, KB_KEEP);
	assert_int_equal(s.writes, 0);
	assert_true(record_exists());
	assert_same_tree(before);
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

/* --- bind, unbind ----------------------------------------------------------------------- */

static void test_bind_unbind(void **state)
{
	struct bindrec rec;
	char err[256], path[PATH_MAX], *before;
	struct kb k;

	(void)state;
	world();
	before = ksim_snapshot(&s);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_int_equal(kb_exit_status(&k), 0);
	assert_string_equal(s.bad, "");
	/* driver_override, unbind, drivers_probe: the kernel's sequence, nothing more. */
	assert_int_equal(s.writes, 3);
	assert_has(s.log, "1: /bus/pci/devices/" NVME "/driver_override <- 'vfio-pci'");
	assert_has(s.log, "2: /bus/pci/devices/" NVME "/driver/unbind <- '" NVME "'");
	assert_has(s.log, "3: /bus/pci/drivers_probe <- '" NVME "'");
	assert_dev(BRIDGE, "", "(null)");
	assert_dev(EDU, "vfio-pci", "(null)");
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	assert_dev(LONE, "virtio-pci", "(null)");
	assert_true(member(&k, NVME)->ok);
	assert_string_equal(member(&k, NVME)->now, "vfio-pci");

	/* The record: the group, the sysfs, what NVMe had. */
	assert_true(k.recorded);
	snprintf(path, sizeof(path), "%s/group-2.json", s.state);
	assert_string_equal(k.record, path);
	assert_ret(bindrec_load(path, &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.group, 2);
	assert_string_equal(rec.sysfs, s.sys);
	assert_string_equal(rec.device, EDU);
	assert_int_equal(rec.n, 3);
	assert_string_equal(recm(&rec, NVME)->driver, "nvme");
	assert_string_equal(recm(&rec, NVME)->override, "");
	assert_true(recm(&rec, NVME)->changed);
	assert_false(recm(&rec, EDU)->changed);
	assert_false(recm(&rec, BRIDGE)->changed);
	assert_string_equal(recm(&rec, BRIDGE)->driver, "");
	bindrec_free(&rec);
	kb_fini(&k);

	/* Unbind: NVMe back on nvme with no override; the rest as it was. */
	s.writes = 0;
	s.log[0] = '\0';
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_true(k.recorded);
	assert_int_equal(member(&k, NVME)->action, KB_RESTORE);
	assert_int_equal(member(&k, EDU)->action, KB_KEEP);
	assert_int_equal(member(&k, BRIDGE)->action, KB_KEEP);
	assert_dev(NVME, "nvme", "(null)");
	assert_dev(EDU, "vfio-pci", "(null)");
	assert_dev(BRIDGE, "", "(null)");
	assert_string_equal(s.bad, "");
	assert_false(record_exists());
	assert_same_tree(before);
	kb_fini(&k);

	/* Once more: nothing on vfio-pci was bound by uvfio and there is no record. */
	kb_setup(&k, true);
	assert_ret(unbind1(&k, NVME), 0);
	assert_int_equal(k.result, KB_PLANNED);
	assert_int_equal(member(&k, EDU)->action, KB_REPROBE);
	assert_int_equal(member(&k, NVME)->action, KB_KEEP);
	assert_has(k.note, "no record");
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

/* --- rollback --------------------------------------------------------------------------- */

/* Group 2 plus the NIC on e1000e and a sound device without a driver; NVMe named. */
static void big_world(void)
{
	world();
	nic();
	ksim_dev(&s, SOUND, 2, 0x040300, NULL, "snd_hda_intel");
}

static void test_rollback_every_write(void **state)
{
	int total = 0;

	(void)state;
	for (int n = 1; n < 20 && !total; n++) {
		struct kb k;
		char *before;

		big_world();
		before = ksim_snapshot(&s);
		s.fail_at = n;
		kb_setup(&k, false);
		if (!bind1(&k, NVME)) {
			assert_int_equal(k.result, KB_DONE);
			total = n - 1;
		} else {
			assert_int_equal(k.result, KB_ROLLED_BACK);
			assert_int_equal(kb_exit_status(&k), 1);
			assert_has(k.err, "failed: Input/output error");
			assert_has(k.err, "Every device of IOMMU group 2 is back as it was");
			assert_false(record_exists());
			assert_string_equal(s.bad, "");
			assert_same_tree(before);
		}
		kb_fini(&k);
		free(before);
		ksim_free(&s);
	}
	/* NVMe and the NIC: three writes each. */
	assert_int_equal(total, 6);
}

/*
 * NVMe still on nvme although its driver_override already says vfio-pci
 * (set by hand, never probed): putting that back needs nvme bound first
 * and the override written after, or vfio-pci would take it again.
 */
static void test_rollback_odd_override(void **state)
{
	int total = 0;

	(void)state;
	for (int n = 1; n < 20 && !total; n++) {
		struct kb k;
		char *before;

		world();
		ksim_file(&s, "sys/devices/pci0000:00/" NVME "/driver_override", "vfio-pci\n");
		before = ksim_snapshot(&s);
		s.fail_at = n;
		kb_setup(&k, false);
		if (!bind1(&k, EDU)) {
			total = n - 1;
			kb_fini(&k);
			assert_dev(NVME, "vfio-pci", "vfio-pci");
			s.fail_at = 0;
			kb_setup(&k, false);
			assert_ret(unbind1(&k, EDU), 0);
		} else {
			assert_int_equal(k.result, KB_ROLLED_BACK);
		}
		assert_same_tree(before);
		kb_fini(&k);
		free(before);
		ksim_free(&s);
	}
	assert_int_equal(total, 2); /* the override is already there: unbind, probe */
}

static void test_rollback_fails(void **state)
{
	char *before;
	struct kb k;

	(void)state;
	big_world();
	before = ksim_snapshot(&s);
	/* The NIC's first write fails, and so does every write after it: no way back. */
	s.fail_at = 4;
	s.fail_after = true;
	kb_setup(&k, false);
	assert_ret(bind1(&k, NVME), -EIO);
	assert_int_equal(k.result, KB_FAILED);
	assert_int_equal(kb_exit_status(&k), 3);
	assert_has(k.err, NVME " could not be put back");
	assert_has(k.err, "uvfio unbind " NVME);
	assert_true(record_exists());
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	assert_dev(NIC, "e1000e", "(null)");
	kb_fini(&k);

	/* The kernel heals; unbind uses the record and the tree is as before. */
	s.fail_at = 0;
	kb_setup(&k, false);
	assert_ret(unbind1(&k, NVME), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_same_tree(before);
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

/*
 * The rollback gets the driver right but its last write, the odd
 * driver_override, fails: the sentence names the override, not the
 * driver, which is as it was.
 */
static void test_rollback_override_left(void **state)
{
	struct kb k;

	(void)state;
	world();
	ksim_file(&s, "sys/devices/pci0000:00/" NVME "/driver_override", "vfio-pci\n");
	s.devs[2].vfio_refuses = true; /* NVME */
	/* unbind, probe (vfio-pci refuses); back: override=nvme, probe, override=vfio-pci */
	s.fail_at = 5;
	kb_setup(&k, false);
	assert_ret(bind1(&k, NVME), -EIO);
	assert_int_equal(k.result, KB_FAILED);
	assert_has(k.err, NVME " could not be put back: it is on nvme as before, but its "
			  "driver_override is 'nvme', was 'vfio-pci'.");
	assert_lacks(k.err, "was on nvme");
	assert_dev(NVME, "nvme", "nvme");
	assert_string_equal(member(&k, NVME)->now, "nvme");
	assert_string_equal(member(&k, NVME)->note, "could not be put back");
	kb_fini(&k);
	ksim_free(&s);

	/* Driver and override both wrong: both said. */
	big_world();
	s.fail_at = 4; /* the NIC's first write, and every one after */
	s.fail_after = true;
	kb_setup(&k, false);
	assert_ret(bind1(&k, NVME), -EIO);
	assert_has(k.err, NVME " could not be put back: it is on vfio-pci with driver_override "
			  "'vfio-pci', was on nvme with no driver_override.");
	kb_fini(&k);
	ksim_free(&s);
}

/* Only a member something was changed of is "put back"; one whose first write failed isn't. */
static void test_rollback_untouched_note(void **state)
{
	struct kb k;

	(void)state;
	big_world();
	s.fail_at = 4; /* the NIC's first write (driver_override) only */
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EIO);
	assert_int_equal(k.result, KB_ROLLED_BACK);
	assert_null(member(&k, NIC)->note);
	assert_string_equal(member(&k, NIC)->now, "e1000e");
	assert_string_equal(member(&k, NVME)->note, "put back as it was");
	assert_true(member(&k, NVME)->changed);
	assert_true(member(&k, NIC)->touched);
	assert_false(member(&k, NIC)->changed);
	kb_fini(&k);
	ksim_free(&s);
}

static void test_bound_meanwhile(void **state)
{
	struct kb k;

	(void)state;
	big_world();
	/* While NVMe is probed, a module load binds the sound device: not viable after all. */
	s.sneak_at = 3;
	snprintf(s.sneak_bdf, sizeof(s.sneak_bdf), "%s", SOUND);
	snprintf(s.sneak_drv, sizeof(s.sneak_drv), "snd_hda_intel");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EIO);
	assert_int_equal(k.result, KB_ROLLED_BACK);
	assert_has(k.err, SOUND " was bound to snd_hda_intel meanwhile");
	assert_dev(NVME, "nvme", "(null)");
	assert_dev(NIC, "e1000e", "(null)");
	assert_false(record_exists());
	kb_fini(&k);
	ksim_free(&s);
}

static void test_not_root(void **state)
{
	char *before;
	struct kb k;

	(void)state;
	world();
	before = ksim_snapshot(&s);
	s.fail_at = 1;
	s.fail_errno = EACCES;
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EIO);
	assert_int_equal(k.result, KB_ROLLED_BACK);
	assert_has(k.err, "driver_override failed: Permission denied");
	assert_has(k.err, "needs root");
	assert_has(k.err, "sudo");
	assert_same_tree(before);
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

/* --- nothing to do, refusals -------------------------------------------------------------- */

static void test_already_bound(void **state)
{
	struct kb k;
	char *before;

	(void)state;
	ksim_new(&s);
	ksim_driver(&s, "vfio-pci");
	ksim_dev(&s, BRIDGE, 2, 0x060400, NULL, NULL);
	ksim_dev(&s, EDU, 2, 0x00ff00, "vfio-pci", NULL);
	ksim_dev(&s, NVME, 2, 0x010802, "vfio-pci", "nvme");
	before = ksim_snapshot(&s);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_NOTHING);
	assert_int_equal(kb_exit_status(&k), 0);
	assert_has(k.note, EDU " is already bound to vfio-pci");
	assert_has(k.note, "nothing to do");
	assert_int_equal(s.writes, 0);
	assert_false(record_exists());
	assert_same_tree(before);
	kb_fini(&k);

	/* A bridge named: vfio-pci doesn't drive it, and the group is viable. */
	kb_setup(&k, false);
	assert_ret(bind1(&k, BRIDGE), 0);
	assert_int_equal(k.result, KB_NOTHING);
	assert_has(k.note, "bridge");
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

static void test_refusals(void **state)
{
	const char *two[] = { EDU, LONE };
	struct kb k;

	(void)state;
	world();
	kb_setup(&k, false);
	assert_ret(bind1(&k, LONE), -ENODEV);
	assert_int_equal(k.result, KB_REFUSED);
	assert_int_equal(kb_exit_status(&k), 1);
	assert_has(k.err, LONE " is in no IOMMU group");
	assert_has(k.err, "VFIO needs an IOMMU");
	assert_has(k.err, "intel_iommu=on");
	kb_fini(&k);

	kb_setup(&k, false);
	assert_ret(bind1(&k, "0000:09:00.0"), -ENOENT);
	assert_has(k.err, "There is no PCI device 0000:09:00.0");
	assert_has(k.err, "uvfio ls");
	kb_fini(&k);

	kb_setup(&k, false);
	assert_ret(bind1(&k, "nvme0"), -EINVAL);
	assert_has(k.err, "'nvme0' is not a PCI address");
	kb_fini(&k);

	kb_setup(&k, false);
	assert_ret(kb_bind(&k, two, 2), -ENODEV);
	kb_fini(&k);

	/* vfio-pci not loaded: say how to load it. */
	ksim_free(&s);
	ksim_new(&s);
	ksim_dev(&s, EDU, 2, 0x00ff00, NULL, NULL);
	ksim_dev(&s, NVME, 2, 0x010802, "nvme", "nvme");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -ENOENT);
	assert_int_equal(k.result, KB_REFUSED);
	assert_has(k.err, "modprobe vfio-pci");
	kb_fini(&k);

	/* Devices of two groups at once. */
	ksim_driver(&s, "vfio-pci");
	ksim_dev(&s, NIC, 3, 0x020000, "e1000e", "e1000e");
	two[1] = NIC;
	kb_setup(&k, false);
	assert_ret(kb_bind(&k, two, 2), -EINVAL);
	assert_has(k.err, "one group at a time");
	kb_fini(&k);
	assert_int_equal(s.writes, 0);
	ksim_free(&s);
}

static void test_refuse_mounted(void **state)
{
	char path[PATH_MAX], *before;
	struct kb k;

	(void)state;
	world();
	nvme_disk();
	/* Something mounted elsewhere doesn't matter. */
	ksim_file(&s, "proc/self/mountinfo", "27 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
	kb_setup(&k, true);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.inuse.n, 0);
	kb_fini(&k);

	/* A partition of the NVMe's disk on /boot; the NVMe isn't even the device named. */
	ksim_file(&s, "proc/self/mountinfo",
		  "27 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
		  "28 27 259:1 / /boot rw,relatime shared:2 - ext4 /dev/nvme0n1p1 rw\n");
	before = ksim_snapshot(&s);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EBUSY);
	assert_int_equal(k.result, KB_REFUSED);
	assert_int_equal(kb_exit_status(&k), 1);
	assert_has(k.err, NVME " (nvme) holds nvme0n1p1, mounted on /boot (ext4)");
	assert_has(k.err, "--force");
	assert_has(k.err, "unmount the filesystem");
	assert_int_equal(k.inuse.n, 1);
	assert_int_equal(k.inuse.v[0].kind, INUSE_MOUNT);
	assert_int_equal(k.inuse.v[0].minor, 1);
	assert_int_equal(s.writes, 0);
	assert_false(record_exists());
	assert_same_tree(before);
	kb_fini(&k);

	/* Stacked: dm-0 on the second partition is /, with an escaped mount point too. */
	ksim_file(&s, "proc/self/mountinfo",
		  "27 1 253:0 / / rw - ext4 /dev/mapper/vg-root rw\n"
		  "29 27 259:3 / /mnt/my\\040disk rw - vfat /dev/nvme0n1p3 rw\n");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EBUSY);
	assert_has(k.err, "holds dm-0 (on nvme0n1p2), mounted on / (ext4)");
	assert_has(k.err, "holds nvme0n1p3, mounted on /mnt/my disk (vfat)");
	assert_int_equal(k.inuse.n, 2);
	kb_fini(&k);

	/* btrfs reports an anonymous device number: the source names the partition. */
	ksim_file(&s, "proc/self/mountinfo", "30 1 0:45 / /srv rw - btrfs /dev/nvme0n1p1 rw\n");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EBUSY);
	assert_has(k.err, "nvme0n1p1, mounted on /srv (btrfs)");
	kb_fini(&k);

	/* Swap on a partition. */
	ksim_file(&s, "proc/self/mountinfo", "27 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
	ksim_file(&s, "proc/swaps",
		  "Filename\tType\tSize\tUsed\tPriority\n"
		  "/dev/nvme0n1p3                          partition\t8388604\t0\t-2\n");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EBUSY);
	assert_has(k.err, "holds nvme0n1p3, in use as swap (/dev/nvme0n1p3)");
	assert_has(k.err, "turn the swap off");
	assert_int_equal(k.inuse.v[0].kind, INUSE_SWAP);
	kb_fini(&k);

	/* --force: bound all the same, and said so. */
	kb_setup(&k, false);
	k.force = true;
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_has(k.note, "--force: binding although " NVME " (nvme) holds nvme0n1p3");
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	kb_fini(&k);

	/* No mountinfo: no check, so no bind (unless forced). */
	ksim_free(&s);
	world();
	nvme_disk();
	snprintf(path, sizeof(path), "%s/self/mountinfo", s.proc);
	assert_int_equal(unlink(path), 0);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -ENOENT);
	assert_has(k.err, "self/mountinfo");
	assert_has(k.err, "--force");
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

static void test_refuse_routed(void **state)
{
	char *before;
	struct kb k;

	(void)state;
	world();
	nic();
	/* Up, but only the routes every interface gets: link-local and multicast. */
	ksim_file(&s, "proc/net/ipv6_route",
		  "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 "
		  "00000000000000000000000000000000 00000100 00000002 00000000 00000001     eth0\n"
		  "ff000000000000000000000000000000 08 00000000000000000000000000000000 00 "
		  "00000000000000000000000000000000 00000100 00000003 00000000 00000001     eth0\n");
	ksim_file(&s, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eth1\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
	kb_setup(&k, true);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_PLANNED);
	assert_int_equal(member(&k, NIC)->action, KB_BIND);
	kb_fini(&k);

	/* An IPv4 route through eth0. */
	ksim_file(&s, "proc/net/route",
		  "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		  "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
		  "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
	before = ksim_snapshot(&s);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EBUSY);
	assert_int_equal(k.result, KB_REFUSED);
	assert_has(k.err, NIC " (e1000e) carries network interface eth0, which has route "
			  "default via 192.0.2.1 and more");
	assert_has(k.err, "take the interface down");
	assert_has(k.err, "--force");
	assert_int_equal(k.inuse.v[0].more_routes, 1);
	assert_int_equal(s.writes, 0);
	assert_same_tree(before);
	kb_fini(&k);

	/* IPv6 only. */
	ksim_file(&s, "proc/net/route", "");
	ksim_file(&s, "proc/net/ipv6_route",
		  "20010db8000000000000000000000000 40 00000000000000000000000000000000 00 "
		  "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n");
	kb_setup(&k, false);
	assert_ret(bind1(&k, NIC), -EBUSY);
	assert_has(k.err, "route 2001:db8::/64");
	kb_fini(&k);

	kb_setup(&k, false);
	k.force = true;
	assert_ret(bind1(&k, NIC), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_has(k.note, "--force");
	assert_dev(NIC, "vfio-pci", "vfio-pci");
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

/*
 * A member's sysfs directory can't be walked (here: no fd left for it).
 * Refused; with --force, a note says what wasn't checked, and no error.
 */
static int bind_short_of_fds(struct kb *k, const char *dev)
{
	struct rlimit old, lim;
	int fd, ret;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	fd = dup(1);
	assert_true(fd >= 0);
	close(fd);
	/* Room for one open file at a time, as reading attributes needs; a walk needs two. */
	lim = old;
	lim.rlim_cur = (rlim_t)fd + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lim), 0);
	ret = bind1(k, dev);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	return ret;
}

static void test_force_unwalkable(void **state)
{
	struct kb k;

	(void)state;
	world();
	kb_setup(&k, true);
	k.force = true;
	assert_ret(bind_short_of_fds(&k, EDU), 0);
	assert_int_equal(k.result, KB_PLANNED);
	assert_string_equal(k.err, "");
	assert_has(k.note, "--force: not checked below " NVME " for mounts and network "
			   "interfaces: Too many open files.");
	kb_fini(&k);

	kb_setup(&k, true);
	assert_ret(bind_short_of_fds(&k, EDU), -EMFILE);
	assert_int_equal(k.result, KB_REFUSED);
	assert_has(k.err, "Cannot look below " NVME " for mounts and network interfaces: Too many "
			  "open files; pass --force");
	kb_fini(&k);
	ksim_free(&s);
}

/* --- what vfio-pci and the kernel may do --------------------------------------------------- */

static void test_vfio_refuses(void **state)
{
	char *before;
	struct kb k;

	(void)state;
	world();
	nic();
	before = ksim_snapshot(&s);
	/* The device named must end on vfio-pci: otherwise everything goes back. */
	s.devs[2].vfio_refuses = true; /* NVME */
	kb_setup(&k, false);
	assert_ret(bind1(&k, NVME), -EIO);
	assert_int_equal(k.result, KB_ROLLED_BACK);
	assert_has(k.err, "vfio-pci did not take " NVME ": it has no driver after the probe");
	assert_has(k.err, "dmesg");
	assert_same_tree(before);
	kb_fini(&k);

	/* Another member may end without a driver: the group is viable all the same. */
	s.devs[2].vfio_refuses = false;
	s.devs[4].vfio_refuses = true; /* NIC */
	kb_setup(&k, false);
	assert_ret(bind1(&k, NVME), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_non_null(member(&k, NIC)->note);
	assert_dev(NIC, "", "vfio-pci");
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	kb_fini(&k);

	kb_setup(&k, false);
	assert_ret(unbind1(&k, NVME), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_same_tree(before);
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

static void test_bridge_on_a_driver(void **state)
{
	char *before;
	struct kb k;

	(void)state;
	ksim_new(&s);
	ksim_driver(&s, "vfio-pci");
	ksim_dev(&s, BRIDGE, 2, 0x060400, "shpchp", "shpchp");
	ksim_dev(&s, EDU, 2, 0x00ff00, NULL, NULL);
	ksim_dev(&s, NVME, 2, 0x010802, "nvme", "nvme");
	before = ksim_snapshot(&s);
	/* The bridge named (as 'uvfio ls' may advise): the whole group is handled. */
	kb_setup(&k, false);
	assert_ret(bind1(&k, BRIDGE), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_int_equal(member(&k, BRIDGE)->action, KB_DETACH);
	assert_int_equal(member(&k, EDU)->action, KB_KEEP);
	assert_int_equal(member(&k, NVME)->action, KB_BIND);
	assert_dev(BRIDGE, "", "vfio-pci");
	assert_dev(EDU, "", "(null)");
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	kb_fini(&k);

	/* A pcieport bridge is left alone. */
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), 0);
	assert_same_tree(before);
	kb_fini(&k);
	ksim_free(&s);
	free(before);

	ksim_new(&s);
	ksim_driver(&s, "vfio-pci");
	ksim_dev(&s, BRIDGE, 2, 0x060400, "pcieport", "pcieport");
	ksim_dev(&s, EDU, 2, 0x00ff00, "pci-stub", "pci-stub"); /* pci-stub.ids= */
	ksim_dev(&s, NVME, 2, 0x010802, "nvme", "nvme");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(member(&k, BRIDGE)->action, KB_KEEP);
	/* The device named goes to vfio-pci even from pci-stub. */
	assert_int_equal(member(&k, EDU)->action, KB_BIND);
	assert_dev(BRIDGE, "pcieport", "(null)");
	assert_dev(EDU, "vfio-pci", "vfio-pci");
	kb_fini(&k);
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), 0);
	assert_dev(EDU, "pci-stub", "(null)");
	kb_fini(&k);
	ksim_free(&s);
}

static void test_unbind_without_record(void **state)
{
	struct kb k;

	(void)state;
	ksim_new(&s);
	ksim_driver(&s, "vfio-pci");
	ksim_driver(&s, "nvme");
	ksim_dev(&s, BRIDGE, 2, 0x060400, NULL, NULL);
	ksim_dev(&s, EDU, 2, 0x00ff00, "vfio-pci", NULL);
	ksim_dev(&s, NVME, 2, 0x010802, "vfio-pci", "nvme");
	ksim_file(&s, "sys/devices/pci0000:00/" NVME "/driver_override", "vfio-pci\n");
	kb_setup(&k, false);
	assert_ret(unbind1(&k, NVME), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_false(k.recorded);
	assert_has(k.note, "There is no record of how IOMMU group 2 was bound");
	assert_has(k.note, "the kernel chooses");
	assert_int_equal(member(&k, NVME)->action, KB_REPROBE);
	assert_int_equal(member(&k, EDU)->action, KB_REPROBE);
	assert_int_equal(member(&k, BRIDGE)->action, KB_KEEP);
	assert_dev(NVME, "nvme", "(null)");
	assert_dev(EDU, "", "(null)");
	assert_string_equal(member(&k, EDU)->note, "no driver took it");
	kb_fini(&k);

	/* Nothing left on vfio-pci. */
	kb_setup(&k, false);
	assert_ret(unbind1(&k, NVME), 0);
	assert_int_equal(k.result, KB_NOTHING);
	assert_has(k.note, "Nothing in IOMMU group 2 is on vfio-pci");
	kb_fini(&k);
	ksim_free(&s);
}

static void test_unbind_driver_missing(void **state)
{
	char *before;
	struct kb k;

	(void)state;
	world();
	before = ksim_snapshot(&s);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	kb_fini(&k);

	ksim_unload(&s, "nvme");
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), -EIO);
	assert_int_equal(k.result, KB_FAILED);
	assert_int_equal(kb_exit_status(&k), 1);
	assert_has(k.err, NVME " did not go back to nvme (it has no driver)");
	assert_has(k.err, "modprobe nvme");
	assert_has(k.err, "is kept");
	assert_true(record_exists());
	assert_dev(NVME, "", "(null)");
	kb_fini(&k);

	ksim_driver(&s, "nvme");
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_false(record_exists());
	assert_same_tree(before);
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

/* --- the record ------------------------------------------------------------------------ */

static void test_record_merge(void **state)
{
	struct bindrec rec;
	char err[256], *before;
	struct kb k;

	(void)state;
	world();
	ksim_driver(&s, "e1000e");
	before = ksim_snapshot(&s);
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	kb_fini(&k);

	/* Binding again is a no-op and keeps the record. */
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_NOTHING);
	assert_true(record_exists());
	kb_fini(&k);

	/* A NIC joins the group (hot-plug): binding again adds it, NVMe keeps "nvme". */
	nic();
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), 0);
	assert_int_equal(k.result, KB_DONE);
	assert_int_equal(member(&k, NVME)->action, KB_KEEP);
	assert_int_equal(member(&k, NIC)->action, KB_BIND);
	kb_fini(&k);
	assert_ret(bindrec_load(k.record, &rec, err, sizeof(err)), 0);
	assert_int_equal(rec.n, 4);
	assert_true(recm(&rec, NVME)->changed);
	assert_string_equal(recm(&rec, NVME)->driver, "nvme");
	assert_true(recm(&rec, NIC)->changed);
	assert_string_equal(recm(&rec, NIC)->driver, "e1000e");
	bindrec_free(&rec);

	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), 0);
	assert_dev(NVME, "nvme", "(null)");
	assert_dev(NIC, "e1000e", "(null)");
	kb_fini(&k);
	free(before);
	ksim_free(&s);
}

static void test_record_bad(void **state)
{
	char path[PATH_MAX];
	struct kb k;

	(void)state;
	world();
	snprintf(path, sizeof(path), "%s/group-2.json", s.state);
	ksim_file(&s, "state/group-2.json", "{ not json");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EINVAL);
	assert_has(k.err, "is not a bind record");
	assert_has(k.err, "move it away");
	kb_fini(&k);
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), -EINVAL);
	assert_has(k.err, "move it away");
	kb_fini(&k);

	/* A driver name that isn't one never reaches sysfs. */
	ksim_file(&s, "state/group-2.json",
		  "{ \"version\": 1, \"group\": 2, \"sysfs\": \"x\", \"device\": \"" EDU "\", "
		  "\"members\": [ { \"address\": \"" NVME "\", \"driver\": \"../../evil\", "
		  "\"driver_override\": null, \"changed\": true } ] }");
	kb_setup(&k, false);
	assert_ret(unbind1(&k, EDU), -EINVAL);
	assert_has(k.err, "not a plain name");
	kb_fini(&k);

	/* A record for another sysfs tree is not used (nor overwritten). */
	ksim_file(&s, "state/group-2.json",
		  "{ \"version\": 1, \"group\": 2, \"sysfs\": \"/sys\", \"device\": \"" EDU "\", "
		  "\"members\": [ ] }");
	kb_setup(&k, false);
	assert_ret(bind1(&k, EDU), -EEXIST);
	assert_has(k.err, "records a binding in /sys");
	kb_fini(&k);
	kb_setup(&k, true);
	assert_ret(unbind1(&k, EDU), 0);
	assert_has(k.note, "it is not used");
	assert_false(k.recorded);
	kb_fini(&k);

	/* A state directory that can't be: refused before any write. */
	unlink(path);
	kb_setup(&k, false);
	snprintf(path, sizeof(path), "%s/group-2.json/sub", s.state);
	ksim_file(&s, "state/group-2.json", "");
	k.state_dir = path;
	assert_ret(bind1(&k, EDU), -ENOTDIR);
	assert_has(k.err, "Cannot use the state directory");
	assert_has(k.err, "--state-dir");
	assert_int_equal(s.writes, 0);
	kb_fini(&k);

	/* A state directory that doesn't exist yet is created. */
	snprintf(path, sizeof(path), "%s/new-state", s.root);
	kb_setup(&k, false);
	k.state_dir = path;
	assert_ret(bind1(&k, EDU), 0);
	assert_true(!access(k.record, F_OK));
	kb_fini(&k);
	ksim_free(&s);
}

/* --- the command: text and JSON ---------------------------------------------------------- */

struct run {
	char *out, *err;
	size_t out_len, err_len;
	int status;
};

static void run_cmd(struct run *r, const char *name, const char *const *args)
{
	const struct kb_ops ops = { .write = ksim_write, .priv = &s };
	char *argv[32], sysfs_opt[] = "--sysfs", state_opt[] = "--state-dir", proc_opt[] = "--proc";
	char cmd[16];
	int argc = 0;
	FILE *out, *err;

	/* getopt permutes argv: give it copies it may reorder. */
	snprintf(cmd, sizeof(cmd), "%s", name);
	argv[argc++] = cmd;
	argv[argc++] = sysfs_opt;
	argv[argc++] = s.sys;
	argv[argc++] = state_opt;
	argv[argc++] = s.state;
	if (!strcmp(name, "bind")) {
		argv[argc++] = proc_opt;
		argv[argc++] = s.proc;
	}
	for (; *args; args++)
		argv[argc++] = (char *)(uintptr_t)*args;
	argv[argc] = NULL;
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	assert_non_null(out);
	assert_non_null(err);
	r->status = cmd_bind_with(name, argc, argv, &ops, out, err);
	fclose(out);
	fclose(err);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static struct json_object *jget(struct json_object *o, const char *path)
{
	char key[64];

	while (o && *path) {
		size_t n = strcspn(path, ".");

		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(key));
		else if (!json_object_object_get_ex(o, key, &o))
			o = NULL;
		path += n + (path[n] == '.');
	}
	return o;
}

static void assert_jstr(struct json_object *doc, const char *path, const char *want)
{
	struct json_object *v = jget(doc, path);

	if (!want) {
		if (v) {
			printf("# %s is %s, not null\n", path, json_object_to_json_string(v));
			fail();
		}
		return;
	}
	if (!v || strcmp(json_object_get_string(v), want)) {
		printf("# %s is %s, not \"%s\"\n", path, v ? json_object_get_string(v) : "absent",
		       want);
		fail();
	}
}

static struct json_object *parse_json(const char *text)
{
	struct json_object *doc = json_tokener_parse(text);

	if (!doc) {
		printf("# not JSON:\n%s", text);
		fail();
	}
	return doc;
}

static void test_cli_json(void **state)
{
	static const char *const plan[] = { "--json", "--dry-run", EDU, NULL };
	static const char *const bind[] = { "--json", "01:01.0", NULL };
	static const char *const unbind[] = { "-j", EDU, NULL };
	struct json_object *doc;
	char path[PATH_MAX];
	struct run r;

	(void)state;
	world();
	run_cmd(&r, "bind", plan);
	assert_int_equal(r.status, 0);
	doc = parse_json(r.out);
	assert_jstr(doc, "command", "bind");
	assert_jstr(doc, "devices.0", EDU);
	assert_int_equal(json_object_get_int(jget(doc, "group")), 2);
	assert_true(json_object_get_boolean(jget(doc, "dry_run")));
	assert_false(json_object_get_boolean(jget(doc, "force")));
	assert_jstr(doc, "result", "planned");
	assert_int_equal(json_object_array_length(jget(doc, "members")), 3);
	assert_jstr(doc, "members.0.address", BRIDGE);
	assert_jstr(doc, "members.0.driver", NULL);
	assert_true(json_object_get_boolean(jget(doc, "members.0.bridge")));
	assert_jstr(doc, "members.0.action", "keep");
	assert_non_null(jget(doc, "members.0.reason"));
	assert_jstr(doc, "members.1.driver", "vfio-pci");
	assert_true(json_object_get_boolean(jget(doc, "members.1.named")));
	assert_jstr(doc, "members.2.address", NVME);
	assert_jstr(doc, "members.2.driver", "nvme");
	assert_jstr(doc, "members.2.driver_override", NULL);
	assert_jstr(doc, "members.2.action", "bind");
	assert_jstr(doc, "members.2.to", "vfio-pci");
	assert_jstr(doc, "members.2.to_override", "vfio-pci");
	assert_null(jget(doc, "members.2.now"));
	assert_int_equal(json_object_array_length(jget(doc, "in_use")), 0);
	assert_null(jget(doc, "error"));
	assert_int_equal(s.writes, 0);
	json_object_put(doc);
	run_free(&r);

	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 0);
	doc = parse_json(r.out);
	assert_jstr(doc, "result", "bound");
	snprintf(path, sizeof(path), "%s/group-2.json", s.state);
	assert_jstr(doc, "state_file", path);
	assert_true(json_object_get_boolean(jget(doc, "recorded")));
	assert_jstr(doc, "members.2.now", "vfio-pci");
	assert_string_equal(r.err, "");
	json_object_put(doc);
	run_free(&r);

	run_cmd(&r, "unbind", unbind);
	assert_int_equal(r.status, 0);
	doc = parse_json(r.out);
	assert_jstr(doc, "command", "unbind");
	assert_jstr(doc, "result", "unbound");
	assert_jstr(doc, "members.2.action", "restore");
	assert_jstr(doc, "members.2.to", "nvme");
	assert_jstr(doc, "members.2.now", "nvme");
	assert_null(jget(doc, "force"));
	assert_null(jget(doc, "in_use"));
	json_object_put(doc);
	run_free(&r);

	/* A refusal: the same sentence in "error" and on stderr, and what is in use. */
	nvme_disk();
	ksim_file(&s, "proc/self/mountinfo", "28 1 259:1 / /boot rw - ext4 /dev/nvme0n1p1 rw\n");
	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 1);
	doc = parse_json(r.out);
	assert_jstr(doc, "result", "refused");
	assert_jstr(doc, "in_use.0.kind", "mount");
	assert_jstr(doc, "in_use.0.address", NVME);
	assert_jstr(doc, "in_use.0.block_device", "nvme0n1p1");
	assert_jstr(doc, "in_use.0.dev", "259:1");
	assert_jstr(doc, "in_use.0.mount_point", "/boot");
	assert_jstr(doc, "in_use.0.fstype", "ext4");
	assert_jstr(doc, "in_use.0.stacked_on", NULL);
	assert_has(json_object_get_string(jget(doc, "error")), "--force");
	assert_has(r.err, "uvfio bind: ");
	assert_has(r.err, json_object_get_string(jget(doc, "error")));
	json_object_put(doc);
	run_free(&r);
	ksim_free(&s);
}

static void test_cli_text(void **state)
{
	static const char *const plan[] = { "-n", EDU, NULL };
	static const char *const bind[] = { EDU, NULL };
	static const char *const lone[] = { LONE, NULL };
	static const char *const bad[] = { "--frobnicate", EDU, NULL };
	static const char *const none[] = { NULL };
	static const char *const force[] = { "--force", EDU, NULL };
	struct run r;

	(void)state;
	world();
	run_cmd(&r, "bind", plan);
	assert_int_equal(r.status, 0);
	assert_has(r.out, "IOMMU group 2 (3 devices), dry run\n");
	assert_has(r.out, "  " BRIDGE "  -            stays without a driver (a bridge");
	assert_has(r.out, "  " EDU "  vfio-pci     stays on vfio-pci");
	assert_has(r.out, "  " NVME "  nvme         -> vfio-pci\n");
	assert_has(r.out, "Dry run: nothing was changed.\n");
	run_free(&r);

	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 0);
	assert_has(r.out, "Done: IOMMU group 2 is viable.");
	assert_has(r.out, "'uvfio unbind " EDU "' gives them back");
	run_free(&r);

	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 0);
	assert_has(r.out, "nothing to do");
	run_free(&r);

	run_cmd(&r, "unbind", bind);
	assert_int_equal(r.status, 0);
	assert_has(r.out, "  " NVME "  vfio-pci     -> nvme\n");
	assert_has(r.out, "Done: IOMMU group 2 is back on the drivers it had before");
	run_free(&r);

	run_cmd(&r, "bind", lone);
	assert_int_equal(r.status, 1);
	assert_has(r.err, "uvfio bind: " LONE " is in no IOMMU group");
	run_free(&r);

	run_cmd(&r, "bind", bad);
	assert_int_equal(r.status, 2);
	assert_has(r.err, "'--frobnicate' is not an option");
	run_free(&r);
	run_cmd(&r, "unbind", force);
	assert_int_equal(r.status, 2);
	run_free(&r);
	run_cmd(&r, "bind", none);
	assert_int_equal(r.status, 2);
	assert_has(r.err, "name a PCI device");
	run_free(&r);

	/* A rollback, told line by line. */
	nic();
	s.fail_at = s.writes + 5;
	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 1);
	assert_has(r.out, "  " NVME "  nvme         -> vfio-pci: put back as it was\n");
	assert_has(r.err, "Every device of IOMMU group 2 is back as it was.");
	run_free(&r);
	ksim_free(&s);
}

/* A write refused while unbinding: the line says where the device is, not where it was going. */
static void test_cli_unbind_refused(void **state)
{
	static const char *const text[] = { EDU, NULL };
	static const char *const json[] = { "--json", EDU, NULL };
	struct json_object *doc;
	struct run r;

	(void)state;
	world();
	run_cmd(&r, "bind", text);
	assert_int_equal(r.status, 0);
	run_free(&r);
	s.fail_at = s.writes + 1;
	s.fail_after = true;
	s.fail_errno = EACCES;
	run_cmd(&r, "unbind", text);
	assert_int_equal(r.status, 1);
	assert_has(r.out, "  " NVME "  vfio-pci     -> nvme (still on vfio-pci)\n");
	assert_lacks(r.out, "now without a driver");
	assert_has(r.err, "Writing an empty line to ");
	assert_has(r.err, "driver_override failed: Permission denied");
	assert_has(r.err, "needs root: run 'uvfio unbind' as root");
	run_free(&r);

	run_cmd(&r, "unbind", json);
	assert_int_equal(r.status, 1);
	doc = parse_json(r.out);
	assert_jstr(doc, "result", "failed");
	assert_jstr(doc, "members.2.now", "vfio-pci");
	json_object_put(doc);
	run_free(&r);
	assert_dev(NVME, "vfio-pci", "vfio-pci");
	ksim_free(&s);
}

/* Devices of two groups: no group, no header, and the refusal names both groups. */
static void test_cli_two_groups(void **state)
{
	static const char *const json[] = { "--json", "--dry-run", EDU, NIC, NULL };
	static const char *const text[] = { "--dry-run", EDU, NIC, NULL };
	struct json_object *doc;
	struct run r;

	(void)state;
	world();
	ksim_dev(&s, NIC, 3, 0x020000, "e1000e", "e1000e");
	run_cmd(&r, "bind", json);
	assert_int_equal(r.status, 1);
	doc = parse_json(r.out);
	assert_jstr(doc, "result", "refused");
	assert_non_null(jget(doc, "devices.1"));
	assert_true(json_object_is_type(jget(doc, "group"), json_type_null));
	assert_true(json_object_is_type(jget(doc, "state_file"), json_type_null));
	assert_int_equal(json_object_array_length(jget(doc, "members")), 0);
	assert_has(json_object_get_string(jget(doc, "error")),
		   EDU " is in IOMMU group 2 but " NIC " is in group 3");
	json_object_put(doc);
	run_free(&r);

	run_cmd(&r, "unbind", text);
	assert_int_equal(r.status, 1);
	assert_lacks(r.out, "IOMMU group");
	assert_has(r.err, "one group at a time");
	run_free(&r);
	ksim_free(&s);
}

/* A usage error names the option as given, never its argument or a neighbour. */
static void test_cli_option_names(void **state)
{
	static const struct {
		const char *cmd, *args[4], *says;
	} cases[] = {
		{ "unbind", { "--proc", "/proc", EDU }, "'--proc' is not an option" },
		{ "unbind", { "--proc=/proc", EDU }, "'--proc' is not an option" },
		{ "unbind", { "-nf", EDU }, "'-f' is not an option" },
		{ "unbind", { "--force", EDU }, "'--force' is not an option" },
		{ "bind", { "-xn", EDU }, "'-x' is not an option" },
		{ "bind", { "--frobnicate=1", EDU }, "'--frobnicate' is not an option" },
		{ "bind", { "--json=1", EDU }, "'--json=1' is not an option" },
		{ "bind", { EDU, "-s" }, "uvfio bind: -s needs a directory." },
		{ "bind", { EDU, "--state" }, "uvfio bind: --state-dir needs a directory." },
	};
	struct run r;

	(void)state;
	world();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_cmd(&r, cases[i].cmd, cases[i].args);
		assert_int_equal(r.status, 2);
		assert_has(r.err, cases[i].says);
		assert_lacks(r.err, "'/proc'");
		run_free(&r);
	}
	assert_int_equal(s.writes, 0);
	ksim_free(&s);
}

/* The first write refused: nothing changed, so nothing is "put back". */
static void test_cli_first_write_refused(void **state)
{
	static const char *const bind[] = { EDU, NULL };
	struct run r;

	(void)state;
	world();
	s.fail_at = 1;
	s.fail_errno = EACCES;
	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 1);
	assert_has(r.out, "  " NVME "  nvme         -> vfio-pci (still on nvme)\n");
	assert_lacks(r.out, "put back");
	run_free(&r);
	ksim_free(&s);

	/* One member changed and put back, the next refused at its first write. */
	big_world();
	s.fail_at = 4;
	run_cmd(&r, "bind", bind);
	assert_int_equal(r.status, 1);
	assert_has(r.out, "  " NVME "  nvme         -> vfio-pci: put back as it was\n");
	assert_has(r.out, "  " NIC "  e1000e       -> vfio-pci (still on e1000e)\n");
	run_free(&r);
	ksim_free(&s);
}

/* --- small parts ------------------------------------------------------------------------- */

static void test_pci_addr(void **state)
{
	char out[PCISYS_ADDR];

	(void)state;
	assert_ret(pcisys_addr("01:00.0", out), 0);
	assert_string_equal(out, "0000:01:00.0");
	assert_ret(pcisys_addr("0000:AF:1f.7", out), 0);
	assert_string_equal(out, "0000:af:1f.7");
	assert_ret(pcisys_addr("0000:01:20.0", out), -EINVAL);
	assert_ret(pcisys_addr("0000:01:00.8", out), -EINVAL);
	assert_ret(pcisys_addr("0x00:01:00.0", out), -EINVAL);
	assert_ret(pcisys_addr(" 01:00.0", out), -EINVAL);
	assert_ret(pcisys_addr("01:00.0\n", out), -EINVAL);
	assert_ret(pcisys_addr("00000:01:00.0", out), -EINVAL);
	assert_ret(pcisys_addr("", out), -EINVAL);
	assert_true(pcisys_name_ok("vfio-pci"));
	assert_true(pcisys_name_ok("hisi_acc_vfio_pci"));
	assert_false(pcisys_name_ok("../x"));
	assert_false(pcisys_name_ok("a b"));
	assert_false(pcisys_name_ok(""));
	assert_true(pcisys_driver_is_vfio("mlx5_vfio_pci"));
	assert_false(pcisys_driver_is_vfio("nvme"));
	assert_true(pcisys_driver_harmless("pcieport"));
	assert_true(pcisys_driver_harmless(""));
	assert_false(pcisys_driver_harmless("e1000e"));
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_plan_dry_run), UVFIO_TEST(test_bind_unbind),
		UVFIO_TEST(test_rollback_every_write), UVFIO_TEST(test_rollback_odd_override),
		UVFIO_TEST(test_rollback_fails), UVFIO_TEST(test_rollback_override_left),
		UVFIO_TEST(test_rollback_untouched_note),
		UVFIO_TEST(test_bound_meanwhile), UVFIO_TEST(test_not_root),
		UVFIO_TEST(test_already_bound),
		UVFIO_TEST(test_refusals), UVFIO_TEST(test_refuse_mounted),
		UVFIO_TEST(test_refuse_routed), UVFIO_TEST(test_force_unwalkable),
		UVFIO_TEST(test_vfio_refuses),
		UVFIO_TEST(test_bridge_on_a_driver), UVFIO_TEST(test_unbind_without_record),
		UVFIO_TEST(test_unbind_driver_missing), UVFIO_TEST(test_record_merge),
		UVFIO_TEST(test_record_bad), UVFIO_TEST(test_cli_json), UVFIO_TEST(test_cli_text),
		UVFIO_TEST(test_cli_unbind_refused), UVFIO_TEST(test_cli_two_groups),
		UVFIO_TEST(test_cli_option_names), UVFIO_TEST(test_cli_first_write_refused),
		UVFIO_TEST(test_pci_addr))
