// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio unbind, the engine: give an IOMMU group back to the drivers its
 * bind record names. Each member uvfio bind moved gets its driver_override
 * back, leaves vfio-pci, and is probed again when it had a driver (members
 * that had none stay without one). Members the bind left alone are left
 * alone now.
 *
 * Without a record (bound by hand, or the state directory was emptied)
 * the best guess is the kernel's: clear driver_override on what is on
 * vfio-pci and let it probe; the note says so.
 *
 * Unlike bind there is nothing sensible to roll back to — the point is to
 * give devices back — so each member is tried in turn and failures are
 * reported; the record stays until every member is back, so the command
 * can be run again once the cause (usually a driver module that isn't
 * loaded) is fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindrec.h"
#include "kbind.h"

/* The record, if there is a usable one: 0 (@have says), or a refusal. */
static int load_record(struct kb *k, struct bindrec *rec, bool *have)
{
	char why[KB_TEXT];
	int ret;

	*have = false;
	ret = bindrec_load(k->record, rec, why, sizeof(why));
	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret == -EINVAL) {
		kb__err(k, "%s; move it away to unbind without it (the kernel then picks the "
			   "drivers)", why);
		return ret;
	}
	if (ret) {
		kb__err(k, "Cannot read %s: %s", k->record, strerror(-ret));
		return ret;
	}
	if (strcmp(rec->sysfs, k->sysfs) || rec->group != k->group) {
		kb__note(k, "%s records a binding in %s, not %s; it is not used", k->record,
			 rec->sysfs, k->sysfs);
		bindrec_free(rec);
		return 0;
	}
	*have = true;
	return 0;
}

static bool plan_with_record(struct kb *k, const struct bindrec *rec)
{
	bool todo = false;

	for (size_t i = 0; i < k->n; i++) {
		struct kb_member *m = &k->m[i];
		const struct bindrec_member *r = bindrec_find(rec, m->addr);

		m->action = KB_KEEP;
		memcpy(m->to, m->driver, PCISYS_NAME);
		memcpy(m->to_override, m->override, PCISYS_NAME);
		if (!r) {
			m->why = "not in the record: it joined the group after the bind";
		} else if (!r->changed) {
			m->why = "uvfio bind left it as it was";
		} else if (!strcmp(m->driver, r->driver) && !strcmp(m->override, r->override)) {
			m->why = "already back as the record says";
		} else {
			m->action = KB_RESTORE;
			memcpy(m->to, r->driver, PCISYS_NAME);
			memcpy(m->to_override, r->override, PCISYS_NAME);
			m->probe = r->driver[0] != '\0';
			todo = true;
		}
	}
	for (size_t i = 0; i < rec->n; i++) {
		bool found = false;

		for (size_t j = 0; j < k->n && !found; j++)
			found = !strcmp(k->m[j].addr, rec->m[i].addr);
		if (!found)
			kb__note(k, "%s is in the record but no longer in IOMMU group %ld; it is left "
				    "alone", rec->m[i].addr, k->group);
	}
	return todo;
}

static bool plan_without_record(struct kb *k)
{
	bool todo = false;

	for (size_t i = 0; i < k->n; i++) {
		struct kb_member *m = &k->m[i];

		m->action = KB_KEEP;
		memcpy(m->to, m->driver, PCISYS_NAME);
		memcpy(m->to_override, m->override, PCISYS_NAME);
		if (pcisys_driver_is_vfio(m->driver) || pcisys_driver_is_vfio(m->override)) {
			m->action = KB_REPROBE;
			m->to[0] = '\0';
			m->to_override[0] = '\0';
			m->probe = true;
			todo = true;
		} else {
			m->why = "not on vfio-pci";
		}
	}
	return todo;
}

static bool apply_member(struct kb *k, struct kb_member *m)
{
	bool any = m->action == KB_REPROBE;

	if (kb__move(k, m, m->to_override, m->to, m->probe, any)) {
		kb__err(k, "%s was not given back", m->addr);
		return false;
	}
	if (any) {
		m->ok = true;
		if (pcisys_driver_is_vfio(m->now))
			m->note = "the kernel chose vfio-pci again: its ID is probably in vfio-pci's "
				  "new_id list (remove it with .../drivers/vfio-pci/remove_id)";
		else if (!m->now[0])
			m->note = "no driver took it";
		return true;
	}
	if (!strcmp(m->now, m->to))
		return m->ok = true;
	if (m->to[0])
		kb__err(k, "%s did not go back to %s (it %s%s): is the driver loaded? Try "
			   "'modprobe %s', then run this again", m->addr, m->to,
			m->now[0] ? "went to " : "has no driver", m->now, m->to);
	else
		kb__err(k, "%s is still on %s", m->addr, m->now);
	return false;
}

int kb_unbind(struct kb *k, const char *const *names, size_t n)
{
	struct bindrec rec = { 0 };
	bool have = false, todo, ok = true;
	int lock = -1, ret;

	k->unbinding = true;
	ret = kb__resolve(k, names, n);
	if (ret)
		return ret;
	/* No state directory: nothing was ever recorded, and a dry run creates nothing. */
	ret = bindrec_lock(k->state_dir, false, &lock);
	if (ret && ret != -ENOENT) {
		kb__err(k, "Cannot use the state directory %s: %s", k->state_dir, strerror(-ret));
		return ret;
	}
	ret = lock >= 0 ? load_record(k, &rec, &have) : 0;
	if (ret)
		goto out;
	k->recorded = have;
	k->planned = true;
	if (have) {
		todo = plan_with_record(k, &rec);
	} else {
		todo = plan_without_record(k);
		if (todo)
			kb__note(k, "There is no record of how IOMMU group %ld was bound (no %s): "
				    "driver_override is cleared and the kernel chooses the drivers",
				 k->group, k->record);
	}
	if (!todo) {
		k->result = KB_NOTHING;
		if (have)
			kb__note(k, "Every device of IOMMU group %ld is already as %s says", k->group,
				 k->record);
		else
			kb__note(k, "Nothing in IOMMU group %ld is on vfio-pci: nothing to do", k->group);
		/* A record that describes the present is spent. */
		if (have && !k->dry_run)
			unlink(k->record);
		goto out;
	}
	if (k->dry_run) {
		k->result = KB_PLANNED;
		goto out;
	}
	for (size_t i = 0; i < k->n; i++)
		if (k->m[i].action != KB_KEEP && !apply_member(k, &k->m[i]))
			ok = false;
	if (!ok) {
		k->result = KB_FAILED;
		ret = -EIO;
		if (have)
			kb__err(k, "%s is kept, so 'uvfio unbind' can try again", k->record);
		goto out;
	}
	k->result = KB_DONE;
	if (have && unlink(k->record))
		kb__note(k, "Could not remove %s: %s", k->record, strerror(errno));
out:
	bindrec_free(&rec);
	if (lock >= 0)
		close(lock);
	return ret;
}
