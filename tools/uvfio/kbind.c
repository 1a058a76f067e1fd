// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio bind, the engine: find the group, plan each member's move, refuse
 * while the machine depends on a member, write the record, move the
 * members, and on any failure move them all back (see kbind.h).
 *
 * Why each member gets what it gets:
 *  - on vfio-pci (or a variant): nothing to do;
 *  - a named endpoint: vfio-pci, whatever it had (even pci-stub or nothing),
 *    because that is what the user asked for;
 *  - no driver, or pcieport / pci-stub: left alone — they don't do DMA on
 *    their own, so the group is viable with them (kernel ≥ 5.19: they are
 *    driver_managed_dma; before, pci-stub was allow-listed and bridges
 *    exempt), and a PCIe port keeps its hotplug, AER and PME services;
 *  - any other driver on an endpoint: vfio-pci (if vfio-pci refuses a
 *    member that wasn't named, no driver is viable too);
 *  - any other driver on a bridge: unbound, with driver_override=vfio-pci
 *    so no driver comes back on a reprobe (vfio-pci refuses bridges).
 *
 * The kernel's answer to drivers_probe is not the status of the write (the
 * write succeeds when no driver wants the device): reading "driver" back
 * is what tells whether the bind happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bindrec.h"
#include "kbind.h"

static const char no_iommu[] =
	"VFIO needs an IOMMU to keep a device's DMA inside the memory it is given, and this "
	"machine has none enabled (boot with intel_iommu=on or amd_iommu=on on the kernel "
	"command line, or use a VM with a virtual IOMMU); 'uvfio ls' shows the groups there are";

void kb_init(struct kb *k)
{
	const char *dir = getenv("UVFIO_STATE_DIR");

	*k = (struct kb){
		.sysfs = "/sys",
		.proc = "/proc",
		.state_dir = dir && dir[0] ? dir : "/run/uvfio",
		.ops = { .write = kb_sysfs_write },
		.group = -1,
	};
}

void kb_fini(struct kb *k)
{
	free(k->m);
	free(k->named);
	inuse_list_free(&k->inuse);
	k->m = NULL;
	k->named = NULL;
	k->n = k->nr_named = 0;
}

int kb_sysfs_write(void *priv, const char *path, const char *val)
{
	size_t len = strlen(val);
	ssize_t n;
	int fd, ret = 0;

	(void)priv;
	/* Never O_CREAT: a wrong --sysfs must fail, not grow files. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* sysfs takes one write as one value: no retry loop that would split it. */
	n = write(fd, val, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}

__attribute__((format(printf, 2, 0))) static void vappend(char *buf, const char *fmt, va_list ap)
{
	size_t len = strlen(buf);
	int n;

	if (len && len < KB_TEXT - 1)
		buf[len++] = ' ', buf[len] = '\0';
	n = vsnprintf(buf + len, KB_TEXT - len, fmt, ap);
	if (n < 0)
		return;
	len = strlen(buf);
	if (len < KB_TEXT - 1) {
		buf[len] = '.';
		buf[len + 1] = '\0';
	}
}

void kb__err(struct kb *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(k->err, fmt, ap);
	va_end(ap);
}

void kb__note(struct kb *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(k->note, fmt, ap);
	va_end(ap);
}

const char *kb_action_name(enum kb_action a)
{
	static const char *const names[] = {
		[KB_KEEP] = "keep", [KB_BIND] = "bind", [KB_DETACH] = "detach",
		[KB_RESTORE] = "restore", [KB_REPROBE] = "reprobe",
	};

	return (unsigned)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

const char *kb_result_name(const struct kb *k)
{
	switch (k->result) {
	case KB_REFUSED:
		return "refused";
	case KB_NOTHING:
		return "nothing-to-do";
	case KB_PLANNED:
		return "planned";
	case KB_DONE:
		return k->unbinding ? "unbound" : "bound";
	case KB_ROLLED_BACK:
		return "rolled-back";
	case KB_FAILED:
		return "failed";
	}
	return "?";
}

int kb_exit_status(const struct kb *k)
{
	switch (k->result) {
	case KB_NOTHING:
	case KB_PLANNED:
	case KB_DONE:
		return 0;
	case KB_FAILED:
		return k->unbinding ? 1 : 3;
	default:
		return 1;
	}
}

/* --- finding the group ---------------------------------------------------------------- */

static bool is_named(const struct kb *k, const char *addr)
{
	for (size_t i = 0; i < k->nr_named; i++)
		if (!strcmp(k->named[i], addr))
			return true;
	return false;
}

/* k->group, once every named device is found in that one group; else it stays -1. */
static int group_of_named(struct kb *k)
{
	long group = -1;

	for (size_t i = 0; i < k->nr_named; i++) {
		const char *a = k->named[i];
		long id;
		int ret = pcisys_group(k->sysfs, a, &id);

		if (ret == -ENOENT) {
			kb__err(k, "There is no PCI device %s in %s/bus/pci/devices; 'uvfio ls' lists "
				   "them", a, k->sysfs);
		} else if (ret == -ENODEV) {
			kb__err(k, "%s is in no IOMMU group, so VFIO cannot use it: %s", a, no_iommu);
		} else if (ret) {
			kb__err(k, "Cannot find the IOMMU group of %s: %s", a, strerror(-ret));
		} else if (group >= 0 && id != group) {
			kb__err(k, "%s is in IOMMU group %ld but %s is in group %ld: name devices of "
				   "one group at a time (each command takes the whole group)",
				k->named[0], group, a, id);
			ret = -EINVAL;
		}
		if (ret)
			return ret;
		group = id;
	}
	k->group = group;
	return 0;
}

static int read_member(struct kb *k, struct kb_member *m)
{
	char canon[PCISYS_ADDR];
	int ret;

	if (pcisys_addr(m->addr, canon) || strcmp(canon, m->addr)) {
		kb__err(k, "IOMMU group %ld also holds %s, which is not a PCI device; uvfio moves "
			   "PCI devices only", k->group, m->addr);
		return -EINVAL;
	}
	m->named = is_named(k, m->addr);
	m->bridge = pcisys_is_bridge(k->sysfs, m->addr);
	ret = pcisys_driver(k->sysfs, m->addr, m->driver);
	if (ret) {
		kb__err(k, "Cannot tell which driver %s is bound to: %s", m->addr, strerror(-ret));
		return ret;
	}
	ret = pcisys_override(k->sysfs, m->addr, m->override);
	if (ret == -ENOENT) {
		kb__err(k, "%s has no driver_override in sysfs: this kernel is older than Linux "
			   "3.16, and uvfio binds only that way (never with new_id, which takes "
			   "every device with the same ID)", m->addr);
		return ret;
	}
	if (ret) {
		kb__err(k, "Cannot read the driver_override of %s: %s", m->addr, strerror(-ret));
		return ret;
	}
	/* A name we couldn't write back would make the rollback impossible. */
	if ((m->driver[0] && !pcisys_name_ok(m->driver)) ||
	    (m->override[0] && !pcisys_name_ok(m->override))) {
		kb__err(k, "%s has a driver name uvfio cannot handle ('%s' / '%s')", m->addr,
			m->driver, m->override);
		return -EINVAL;
	}
	return 0;
}

int kb__resolve(struct kb *k, const char *const *names, size_t n)
{
	char (*members)[PCISYS_ADDR] = NULL;
	size_t nr = 0;
	int ret;

	k->result = KB_REFUSED;
	k->named = calloc(n ? n : 1, sizeof(*k->named));
	if (!k->named) {
		kb__err(k, "Out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (pcisys_addr(names[i], k->named[i])) {
			kb__err(k, "'%s' is not a PCI address (such as 0000:01:00.0); 'uvfio ls' lists "
				   "the devices", names[i]);
			return -EINVAL;
		}
		k->nr_named++;
	}
	ret = group_of_named(k);
	if (ret)
		return ret;
	ret = bindrec_path(k->record, sizeof(k->record), k->state_dir, k->group);
	if (!ret)
		ret = pcisys_group_members(k->sysfs, k->group, &members, &nr);
	if (ret) {
		kb__err(k, "Cannot list the devices of IOMMU group %ld (%s/kernel/iommu_groups/%ld): "
			   "%s", k->group, k->sysfs, k->group, strerror(-ret));
		return ret;
	}
	k->m = calloc(nr ? nr : 1, sizeof(*k->m));
	if (!k->m) {
		free(members);
		kb__err(k, "Out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < nr; i++)
		memcpy(k->m[i].addr, members[i], PCISYS_ADDR);
	k->n = nr;
	free(members);
	for (size_t i = 0; i < k->n; i++) {
		ret = read_member(k, &k->m[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* --- moving one device ---------------------------------------------------------------- */

static int write_attr(struct kb *k, const char *path, const char *val)
{
	int ret;

	/* The last line of defence for --dry-run's promise. */
	if (k->dry_run)
		return -EROFS;
	ret = k->ops.write(k->ops.priv, path, val);
	if (!ret)
		return 0;
	kb__err(k, "Writing %s%s%s to %s failed: %s", val[0] == '\n' ? "" : "'",
		val[0] == '\n' ? "an empty line" : val, val[0] == '\n' ? "" : "'", path,
		strerror(-ret));
	if (ret == -EACCES || ret == -EPERM)
		kb__err(k, "Changing drivers through sysfs needs root: run 'uvfio %s' as root "
			   "(for example with sudo)", k->unbinding ? "unbind" : "bind");
	else if (ret == -EROFS)
		kb__err(k, "sysfs is read-only here (inside a container?): run it on the host");
	return ret;
}

static int write_dev_attr(struct kb *k, const char *addr, const char *attr, const char *val)
{
	char path[PATH_MAX];

	if (pcisys_path(path, sizeof(path), k->sysfs, addr, attr)) {
		kb__err(k, "The sysfs path of %s is too long", addr);
		return -ENAMETOOLONG;
	}
	return write_attr(k, path, val);
}

/* A write of kb__move() went through or not: keep m->changed and m->now true to sysfs. */
static int moved(struct kb *k, struct kb_member *m, int ret)
{
	char drv[PCISYS_NAME];

	if (!ret) {
		m->changed = true;
		return 0;
	}
	/* Say where it is, not where it was going; if even that fails, the last known. */
	if (!pcisys_driver(k->sysfs, m->addr, drv))
		memcpy(m->now, drv, sizeof(m->now));
	return ret;
}

int kb__move(struct kb *k, struct kb_member *m, const char *ovr, const char *want, bool probe,
	     bool any)
{
	char cur[PCISYS_NAME], cur_ovr[PCISYS_NAME], path[PATH_MAX];
	const char *first = ovr;
	int ret;

	ret = pcisys_driver(k->sysfs, m->addr, cur);
	if (!ret)
		ret = pcisys_override(k->sysfs, m->addr, cur_ovr);
	if (ret) {
		kb__err(k, "Cannot read the state of %s: %s", m->addr, strerror(-ret));
		return ret;
	}
	memcpy(m->now, cur, sizeof(m->now));
	/*
	 * A driver_override naming another driver would keep @want from
	 * binding: let exactly @want bind, then put @ovr in place.
	 */
	if (probe && want[0] && ovr[0] && strcmp(ovr, want))
		first = want;
	if (strcmp(cur_ovr, first)) {
		m->touched = true;
		ret = moved(k, m,
			    write_dev_attr(k, m->addr, "driver_override", first[0] ? first : "\n"));
		if (ret)
			return ret;
	}
	if (cur[0] && (any ? pcisys_driver_is_vfio(cur) : strcmp(cur, want) != 0)) {
		m->touched = true;
		ret = moved(k, m, write_dev_attr(k, m->addr, "driver/unbind", m->addr));
		if (ret)
			return ret;
		cur[0] = m->now[0] = '\0';
	}
	if (probe && !cur[0]) {
		m->touched = true;
		snprintf(path, sizeof(path), "%s/bus/pci/drivers_probe", k->sysfs);
		ret = moved(k, m, write_attr(k, path, m->addr));
		if (ret)
			return ret;
	}
	if (first != ovr) {
		ret = moved(k, m,
			    write_dev_attr(k, m->addr, "driver_override", ovr[0] ? ovr : "\n"));
		if (ret)
			return ret;
	}
	ret = pcisys_driver(k->sysfs, m->addr, m->now);
	if (ret) {
		kb__err(k, "Cannot read back the driver of %s: %s", m->addr, strerror(-ret));
		return ret;
	}
	return 0;
}

/* --- bind ------------------------------------------------------------------------------- */

static void plan_member(struct kb_member *m)
{
	m->action = KB_KEEP;
	if (pcisys_driver_is_vfio(m->driver)) {
		m->why = "nothing to do";
	} else if (m->named && !m->bridge) {
		m->action = KB_BIND;
	} else if (!m->driver[0]) {
		m->why = m->bridge ? "a bridge, which vfio-pci doesn't drive; fine without a driver"
				   : "fine without a driver: the group stays viable";
	} else if (pcisys_driver_harmless(m->driver)) {
		m->why = "its driver leaves DMA to its user, so the group stays viable";
	} else if (m->bridge) {
		m->action = KB_DETACH;
	} else {
		m->action = KB_BIND;
		m->may_stay_unbound = true;
	}
	switch (m->action) {
	case KB_BIND:
		snprintf(m->to, sizeof(m->to), "vfio-pci");
		snprintf(m->to_override, sizeof(m->to_override), "vfio-pci");
		m->probe = true;
		break;
	case KB_DETACH:
		/* vfio-pci refuses bridges: the override only keeps other drivers away. */
		snprintf(m->to_override, sizeof(m->to_override), "vfio-pci");
		break;
	default:
		memcpy(m->to, m->driver, sizeof(m->to));
		memcpy(m->to_override, m->override, sizeof(m->to_override));
		break;
	}
}

static bool plan_bind(struct kb *k)
{
	bool todo = false;

	for (size_t i = 0; i < k->n; i++) {
		plan_member(&k->m[i]);
		todo |= k->m[i].action != KB_KEEP;
	}
	k->planned = true;
	return todo;
}

static void say_nothing_to_do(struct kb *k)
{
	for (size_t i = 0; i < k->n; i++) {
		const struct kb_member *m = &k->m[i];

		if (m->named && m->bridge)
			kb__note(k, "%s is a bridge, which vfio-pci doesn't drive; it stays %s%s", m->addr,
				 m->driver[0] ? "on " : "without a driver", m->driver);
		else if (m->named)
			kb__note(k, "%s is already bound to %s", m->addr, m->driver);
	}
	kb__note(k, "IOMMU group %ld is viable (every device is on vfio-pci, without a driver, or "
		    "on a driver that leaves DMA to its user): nothing to do", k->group);
}

static void describe_inuse(struct kb *k, const struct inuse *u, char *buf, size_t size)
{
	const char *drv = "";

	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->m[i].addr, u->addr))
			drv = k->m[i].driver;
	switch (u->kind) {
	case INUSE_MOUNT:
		snprintf(buf, size, "%s (%s) holds %s%s%s%s, mounted on %s (%s)", u->addr, drv,
			 u->what, u->below[0] ? " (on " : "", u->below, u->below[0] ? ")" : "",
			 u->where, u->fstype);
		break;
	case INUSE_SWAP:
		snprintf(buf, size, "%s (%s) holds %s%s%s%s, in use as swap (%s)", u->addr, drv,
			 u->what, u->below[0] ? " (on " : "", u->below, u->below[0] ? ")" : "",
			 u->where);
		break;
	case INUSE_ROUTE:
		snprintf(buf, size, "%s (%s) carries network interface %s, which has route %s%s",
			 u->addr, drv, u->what, u->where, u->more_routes ? " and more" : "");
		break;
	}
}

/* What to do about @l: "unmount it", "turn that swap off and take the interface down". */
static const char *remedy(const struct inuse_list *l)
{
	static const char *const what[] = { "unmount the filesystem", "turn the swap off",
					    "take the interface down" };
	static char buf[160];
	bool has[3] = { false };
	size_t n = 0, done = 0;

	for (size_t i = 0; i < l->n; i++)
		has[l->v[i].kind] = true;
	for (size_t i = 0; i < 3; i++)
		n += has[i];
	buf[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		if (!has[i])
			continue;
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			 !done ? "" : done + 1 == n ? " and " : ", ", what[i]);
		done++;
	}
	return buf;
}

/* Refuse (unless forced) while a member losing its driver holds a mount, swap or route. */
static int check_inuse(struct kb *k)
{
	struct inuse_world *w;
	char why[1024];
	int ret;

	ret = inuse_load(k->proc, &w, why, sizeof(why));
	if (ret) {
		if (!k->force) {
			kb__err(k, "%s", why);
			return ret;
		}
		kb__note(k, "--force: not checked for mounts and routes: %s", why);
		return 0;
	}
	for (size_t i = 0; i < k->n && !ret; i++) {
		const struct kb_member *m = &k->m[i];

		if (m->action != KB_KEEP && m->driver[0])
			ret = inuse_scan(w, k->sysfs, m->addr, &k->inuse);
		if (ret && ret != -ENOMEM && k->force) {
			kb__note(k, "--force: not checked below %s for mounts and network "
				    "interfaces: %s", m->addr, strerror(-ret));
			ret = 0;
		} else if (ret && ret != -ENOMEM) {
			kb__err(k, "Cannot look below %s for mounts and network interfaces: %s; "
				   "pass --force to bind without the check", m->addr, strerror(-ret));
		}
	}
	inuse_world_free(w);
	if (ret == -ENOMEM)
		kb__err(k, "Out of memory");
	if (ret || !k->inuse.n)
		return ret;
	for (size_t i = 0; i < k->inuse.n; i++) {
		describe_inuse(k, &k->inuse.v[i], why, sizeof(why));
		if (k->force)
			kb__note(k, "--force: binding although %s", why);
		else
			kb__err(k, "%s", why);
	}
	if (k->force)
		return 0;
	kb__err(k, "Binding would take %s away from this machine: %s first, or pass --force to "
		   "bind anyway", k->inuse.n == 1 ? "it" : "them", remedy(&k->inuse));
	return -EBUSY;
}

static int check_vfio_pci(struct kb *k)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/bus/pci/drivers/vfio-pci", k->sysfs);

	for (size_t i = 0; i < k->n; i++) {
		if (k->m[i].action != KB_BIND)
			continue;
		if (n < 0 || (size_t)n >= sizeof(path) || access(path, F_OK)) {
			kb__err(k, "The vfio-pci driver is not loaded (there is no %s): load it with "
				   "'modprobe vfio-pci' and run this again", path);
			return -ENOENT;
		}
		return 0;
	}
	return 0;
}

/* The record to write: each member's state before the first uvfio bind that moved it. */
static int prepare_record(struct kb *k, struct bindrec *old, bool *had_old, struct bindrec *rec)
{
	char why[KB_TEXT];
	int ret;

	*had_old = false;
	ret = bindrec_load(k->record, old, why, sizeof(why));
	if (ret == -EINVAL) {
		kb__err(k, "%s; move it away, or 'uvfio unbind' could not restore what it describes",
			why);
		return ret;
	}
	if (ret && ret != -ENOENT) {
		kb__err(k, "Cannot read %s: %s", k->record, strerror(-ret));
		return ret;
	}
	if (!ret) {
		if (strcmp(old->sysfs, k->sysfs) || old->group != k->group) {
			kb__err(k, "%s records a binding in %s, not %s; use another --state-dir for "
				   "this tree", k->record, old->sysfs, k->sysfs);
			bindrec_free(old);
			return -EEXIST;
		}
		*had_old = true;
	}
	*rec = (struct bindrec){ .group = k->group };
	snprintf(rec->sysfs, sizeof(rec->sysfs), "%s", k->sysfs);
	memcpy(rec->device, k->named[0], PCISYS_ADDR);
	rec->m = calloc(k->n ? k->n : 1, sizeof(*rec->m));
	if (!rec->m) {
		kb__err(k, "Out of memory");
		return -ENOMEM;
	}
	rec->n = k->n;
	for (size_t i = 0; i < k->n; i++) {
		struct kb_member *m = &k->m[i];
		const struct bindrec_member *o = *had_old ? bindrec_find(old, m->addr) : NULL;
		struct bindrec_member *r = &rec->m[i];

		memcpy(r->addr, m->addr, PCISYS_ADDR);
		if (o && o->changed) {
			memcpy(m->orig_driver, o->driver, PCISYS_NAME);
			memcpy(m->orig_override, o->override, PCISYS_NAME);
			m->orig_changed = true;
		} else {
			memcpy(m->orig_driver, m->driver, PCISYS_NAME);
			memcpy(m->orig_override, m->override, PCISYS_NAME);
			m->orig_changed = m->action != KB_KEEP;
		}
		memcpy(r->driver, m->orig_driver, PCISYS_NAME);
		memcpy(r->override, m->orig_override, PCISYS_NAME);
		r->changed = m->orig_changed;
	}
	return 0;
}

/* Move @m as planned; false (with err) when it didn't end where it should. */
static bool apply_member(struct kb *k, struct kb_member *m)
{
	if (kb__move(k, m, m->to_override, m->to, m->probe, false))
		return false;
	if (!strcmp(m->now, m->to))
		return m->ok = true;
	if (m->action == KB_BIND && !m->now[0] && m->may_stay_unbound) {
		m->note = "vfio-pci did not take it; without a driver it keeps the group viable";
		return m->ok = true;
	}
	if (m->action == KB_BIND)
		kb__err(k, "vfio-pci did not take %s: it %s%s after the probe; the kernel log "
			   "(dmesg) says why (vfio-pci refuses, for example, a physical function with "
			   "SR-IOV VFs enabled)", m->addr, m->now[0] ? "went to " : "has no driver",
			m->now);
	else
		kb__err(k, "%s is still on %s after being unbound", m->addr, m->now);
	return false;
}

/* Why @m, now on m->now with driver_override @ovr, isn't as it was: say what differs. */
static void say_not_back(struct kb *k, const struct kb_member *m, const char *ovr)
{
	const char *now_on = m->now[0] ? "on " : "without a driver";
	const char *was_on = m->driver[0] ? "on " : "without a driver";
	char now[PCISYS_NAME + 32], was[PCISYS_NAME + 32];

	if (!strcmp(m->now, m->driver)) {
		snprintf(now, sizeof(now), ovr[0] ? "'%s'" : "unset", ovr);
		snprintf(was, sizeof(was), m->override[0] ? "'%s'" : "unset", m->override);
		kb__err(k, "%s could not be put back: it is %s%s as before, but its "
			   "driver_override is %s, was %s", m->addr, now_on, m->now, now, was);
	} else if (!strcmp(ovr, m->override)) {
		kb__err(k, "%s could not be put back: it is %s%s, was %s%s", m->addr, now_on,
			m->now, was_on, m->driver);
	} else {
		snprintf(now, sizeof(now), ovr[0] ? "driver_override '%s'" : "no driver_override",
			 ovr);
		snprintf(was, sizeof(was), m->override[0] ? "driver_override '%s'"
							  : "no driver_override", m->override);
		kb__err(k, "%s could not be put back: it is %s%s with %s, was %s%s with %s",
			m->addr, now_on, m->now, now, was_on, m->driver, was);
	}
}

/*
 * Put every member touched so far back, last first, and check it by
 * reading both back. One whose every write was refused needs nothing and
 * gets no note: nothing of it was changed. Return: true when all are back.
 */
static bool rollback(struct kb *k)
{
	bool all = true;

	for (size_t i = k->n; i-- > 0;) {
		struct kb_member *m = &k->m[i];
		char ovr[PCISYS_NAME];
		int ret;

		if (!m->touched)
			continue;
		kb__move(k, m, m->override, m->driver, m->driver[0] != '\0', false);
		/* Whatever that managed (err says what failed), sysfs tells where it is. */
		ret = pcisys_driver(k->sysfs, m->addr, m->now);
		if (!ret)
			ret = pcisys_override(k->sysfs, m->addr, ovr);
		if (!ret && !strcmp(m->now, m->driver) && !strcmp(ovr, m->override)) {
			m->note = m->changed ? "put back as it was" : NULL;
			continue;
		}
		all = false;
		m->note = "could not be put back";
		if (ret)
			kb__err(k, "%s could not be put back: its state cannot be read (%s)",
				m->addr, strerror(-ret));
		else
			say_not_back(k, m, ovr);
	}
	return all;
}

/* After the moves: is every member where a viable group needs it? */
static bool verify(struct kb *k)
{
	for (size_t i = 0; i < k->n; i++) {
		const struct kb_member *m = &k->m[i];
		char drv[PCISYS_NAME];

		if (pcisys_driver(k->sysfs, m->addr, drv)) {
			kb__err(k, "Cannot read back the driver of %s", m->addr);
			return false;
		}
		if (!pcisys_driver_harmless(drv)) {
			kb__err(k, "%s was bound to %s meanwhile (by someone else?), so IOMMU group %ld "
				   "is still not viable", m->addr, drv, k->group);
			return false;
		}
	}
	return true;
}

static int apply_bind(struct kb *k)
{
	static const char needs_root[] =
		"Binding needs root: it writes to sysfs and records the drivers it replaces in "
		"the state directory; run 'uvfio bind' as root (for example with sudo), or see "
		"the plan with --dry-run";
	struct bindrec old = { 0 }, rec = { 0 };
	bool had_old, ok = true;
	int lock, ret;

	ret = bindrec_lock(k->state_dir, true, &lock);
	if (ret == -EACCES || ret == -EPERM) {
		kb__err(k, "Cannot use the state directory %s: %s. %s", k->state_dir,
			strerror(-ret), needs_root);
		return ret;
	}
	if (ret) {
		kb__err(k, "Cannot use the state directory %s: %s; uvfio bind records there what "
			   "'uvfio unbind' will restore (--state-dir or UVFIO_STATE_DIR choose "
			   "another)", k->state_dir, strerror(-ret));
		return ret;
	}
	ret = prepare_record(k, &old, &had_old, &rec);
	if (!ret) {
		ret = bindrec_save(k->record, &rec);
		if (ret == -EACCES || ret == -EPERM)
			kb__err(k, "Cannot write the record %s: %s; nothing was changed. %s",
				k->record, strerror(-ret), needs_root);
		else if (ret)
			kb__err(k, "Cannot write the record %s: %s; nothing was changed", k->record,
				strerror(-ret));
	}
	if (ret)
		goto out;
	k->recorded = true;
	for (size_t i = 0; i < k->n && ok; i++)
		if (k->m[i].action != KB_KEEP)
			ok = apply_member(k, &k->m[i]);
	if (ok)
		ok = verify(k);
	if (ok) {
		k->result = KB_DONE;
		goto out;
	}
	ret = -EIO;
	if (rollback(k)) {
		k->result = KB_ROLLED_BACK;
		k->recorded = false;
		if (had_old ? bindrec_save(k->record, &old) : unlink(k->record))
			kb__err(k, "Every device is back as it was, but %s could not be put back",
				k->record);
		else
			kb__err(k, "Every device of IOMMU group %ld is back as it was", k->group);
	} else {
		k->result = KB_FAILED;
		kb__err(k, "IOMMU group %ld is left half-way; %s records the drivers before the "
			   "bind: 'uvfio unbind %s' tries to restore them", k->group, k->record,
			k->named[0]);
	}
out:
	bindrec_free(&old);
	bindrec_free(&rec);
	close(lock);
	return ret;
}

int kb_bind(struct kb *k, const char *const *names, size_t n)
{
	int ret;

	k->unbinding = false;
	ret = kb__resolve(k, names, n);
	if (ret)
		return ret;
	if (!plan_bind(k)) {
		k->result = KB_NOTHING;
		say_nothing_to_do(k);
		return 0;
	}
	ret = check_vfio_pci(k);
	if (!ret)
		ret = check_inuse(k);
	if (ret)
		return ret;
	if (k->dry_run) {
		k->result = KB_PLANNED;
		return 0;
	}
	return apply_bind(k);
}
