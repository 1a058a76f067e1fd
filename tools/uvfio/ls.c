// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio ls [--json] [--sysfs DIR]: the PCI devices sysfs knows, and for
 * each IOMMU group whether VFIO could take it — and if not, which devices
 * spoil it, what they are bound to and what to run.
 *
 * The device table comes straight from sysfs; viability comes from the
 * library (uvfio_group_open + uvfio_group_status), so this tool and a
 * driver that fails to attach name the same culprits by the same rule.
 * Opening a group that way reads sysfs only: it needs neither root nor
 * ownership of /dev/vfio/N. A machine without an IOMMU has no groups at
 * all; that is the common surprise, so it gets a sentence of its own.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvfio/vfio.h>

#include "cli.h"
#include "out.h"
#include "pcidecode.h"
#include "pcisys.h"

static const char no_iommu_sentence[] =
	"This machine has no IOMMU groups, so VFIO can use none of these devices: it needs an "
	"IOMMU (boot with intel_iommu=on or amd_iommu=on on the kernel command line, or use a VM "
	"with a virtual IOMMU); vfio-user sockets ('uvfio serve', 'uvfio info PATH') work "
	"without one.";

/* One PCI device as sysfs shows it; absent attributes are -1 / "". */
struct pcidev {
	char addr[64];
	long vendor, device, class;
	char driver[64];
	long group;
};

struct ls {
	struct out out;
	const char *sysfs;
	struct pcidev *devs;
	size_t nr_devs;
	char last_log[512];   /* the library's last sentence, for a group it could not open */
	bool failed;
};

static void ls_usage(FILE *f)
{
	fprintf(f,
		"usage: uvfio ls [--json] [--sysfs DIR]\n\n"
		"List PCI devices with their drivers and IOMMU groups, and say for each group\n"
		"whether VFIO can use it and, if not, which devices are in the way.\n\n"
		"options:\n"
		"  -j, --json        one JSON object instead of text (schema: docs/cli.md)\n"
		"  -s, --sysfs DIR   where sysfs is mounted (default /sys)\n"
		"  -h, --help        this text\n");
}

static void keep_log(void *priv, int level, const char *msg)
{
	struct ls *ls = priv;

	(void)level;
	snprintf(ls->last_log, sizeof(ls->last_log), "%s", msg);
}

/* @a/@b into @buf; false when it doesn't fit (the caller treats that as "absent"). */
static bool join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n >= 0 && (size_t)n < size;
}

/* A hex attribute such as "0x8086\n"; -1 when missing or not a number. */
static long read_hex(const char *dir, const char *name)
{
	char path[PATH_MAX], buf[32], *end;
	FILE *f;
	long v;

	if (!join(path, sizeof(path), dir, name))
		return -1;
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	errno = 0;
	v = strtol(buf, &end, 16);
	if (errno || end == buf || v < 0 || (*end && *end != '\n'))
		return -1;
	return v;
}

/* The last component of the symlink @dir/@name, or "" when there is none. */
static void link_base(const char *dir, const char *name, char *out, size_t size)
{
	char path[PATH_MAX];

	out[0] = '\0';
	if (join(path, sizeof(path), dir, name))
		pcisys_link_base(AT_FDCWD, path, out, size);
}

static void read_dev(const char *root, const char *addr, struct pcidev *d)
{
	char dir[PATH_MAX], grp[32], *end;
	long g;

	d->vendor = d->device = d->class = d->group = -1;
	if (!join(dir, sizeof(dir), root, addr) || strlen(addr) >= sizeof(d->addr)) {
		snprintf(d->addr, sizeof(d->addr), "(name too long)");
		return;
	}
	memcpy(d->addr, addr, strlen(addr) + 1);
	d->vendor = read_hex(dir, "vendor");
	d->device = read_hex(dir, "device");
	d->class = read_hex(dir, "class");
	link_base(dir, "driver", d->driver, sizeof(d->driver));
	link_base(dir, "iommu_group", grp, sizeof(grp));
	errno = 0;
	g = strtol(grp, &end, 10);
	d->group = grp[0] && !*end && !errno && g >= 0 && g <= INT32_MAX ? g : -1;
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static int scan_devices(struct ls *ls)
{
	struct dirent **names;
	char root[PATH_MAX];
	int n;

	snprintf(root, sizeof(root), "%s/bus/pci/devices", ls->sysfs);
	n = scandir(root, &names, not_dot, alphasort);
	if (n < 0) {
		int err = errno;

		fprintf(stderr,
			"uvfio ls: cannot list %s: %s; is sysfs mounted there (see --sysfs)?\n",
			root, strerror(err));
		return -err;
	}
	ls->devs = calloc(n ? (size_t)n : 1, sizeof(*ls->devs));
	for (int i = 0; i < n; i++) {
		if (ls->devs)
			read_dev(root, names[i]->d_name, &ls->devs[i]);
		free(names[i]);
	}
	free(names);
	if (!ls->devs) {
		fprintf(stderr, "uvfio ls: out of memory.\n");
		return -ENOMEM;
	}
	ls->nr_devs = (size_t)n;
	return 0;
}

static void show_dev(struct out *o, const struct pcidev *d)
{
	out_obj(o, NULL);
	out_str(o, "address", "  %-13s", d->addr);
	if (d->vendor >= 0 && d->device >= 0) {
		out_num(o, "vendor_id", " %04" PRIx64, d->vendor);
		out_num(o, "device_id", ":%04" PRIx64 " ", d->device);
	} else {
		out_jnull(o, "vendor_id");
		out_jnull(o, "device_id");
		out_text(o, " %-10s", "?");
	}
	if (d->class >= 0) {
		out_num(o, "class", " %06" PRIx64, d->class);
		out_str(o, "class_name", " %-26s", pci_class_name((uint8_t)(d->class >> 16)));
	} else {
		out_jnull(o, "class");
		out_jnull(o, "class_name");
		out_text(o, " %-33s", "?");
	}
	if (d->driver[0])
		out_str(o, "driver", " %-12s", d->driver);
	else
		out_jnull(o, "driver");
	out_text(o, "%s", d->driver[0] ? "" : " -           ");
	if (d->group >= 0)
		out_num(o, "iommu_group", " %" PRIu64 "\n", d->group);
	else
		out_jnull(o, "iommu_group");
	out_text(o, "%s", d->group >= 0 ? "" : " no IOMMU group\n");
	out_end(o);
}

static void show_devices(struct ls *ls)
{
	struct out *o = &ls->out;

	out_text(o, "PCI devices (%s/bus/pci/devices):\n", ls->sysfs);
	if (ls->nr_devs)
		out_text(o, "  %-13s %-10s %-33s %-12s %s\n", "ADDRESS", "ID", "CLASS", "DRIVER",
			 "IOMMU GROUP");
	else
		out_text(o, "  none\n");
	out_arr(o, "devices");
	for (size_t i = 0; i < ls->nr_devs; i++)
		show_dev(o, &ls->devs[i]);
	out_end(o);
}

/*
 * @fix: the group's one command ("uvfio bind FIRST-BLOCKER"): bind takes
 * the whole group, so the first blocker's command clears them all.
 */
static void show_member(struct out *o, const struct uvfio_group_member *m, const char *fix,
			bool first)
{
	out_obj(o, NULL);
	out_str(o, "address", "    %-13s", m->name);
	if (m->driver[0])
		out_str(o, "driver", " bound to %s", m->driver);
	else
		out_jnull(o, "driver");
	out_text(o, "%s", m->driver[0] ? "" : " no driver");
	out_jbool(o, "blocker", m->blocker);
	if (m->blocker) {
		out_jstr(o, "fix", fix);
		out_text(o, ": blocks the group (%s does DMA on its own); ", m->driver);
		if (first)
			out_text(o, "run '%s'", fix);
		else
			out_text(o, "the same '%s' moves it too", fix);
	}
	out_text(o, "\n");
	out_end(o);
}

/* The group could not be opened: show its devices as sysfs lists them, viability unknown. */
static void show_unknown_group(struct ls *ls, long id, int err)
{
	struct out *o = &ls->out;

	ls->failed = true;
	out_jnull(o, "viable");
	out_str(o, "error", ": cannot tell whether it is viable: %s",
		ls->last_log[0] ? ls->last_log : strerror(-err));
	out_text(o, "\n");
	out_arr(o, "devices");
	for (size_t i = 0; i < ls->nr_devs; i++) {
		const struct pcidev *d = &ls->devs[i];

		if (d->group != id)
			continue;
		out_obj(o, NULL);
		out_str(o, "address", "    %-13s", d->addr);
		if (d->driver[0])
			out_str(o, "driver", " bound to %s\n", d->driver);
		else
			out_jnull(o, "driver");
		out_text(o, "%s", d->driver[0] ? "" : " no driver\n");
		out_jnull(o, "blocker");
		out_end(o);
	}
	out_end(o);
}

/* "its only device is", "both its devices are", "1 of its 3 devices is": spoiling the group. */
static const char *blockers_phrase(char *buf, size_t size, uint32_t n, uint32_t total)
{
	if (total == 1 && n == 1)
		snprintf(buf, size, "its only device is");
	else if (total == 2 && n == 2)
		snprintf(buf, size, "both its devices are");
	else if (n == total)
		snprintf(buf, size, "all %" PRIu32 " of its devices are", n);
	else
		snprintf(buf, size, "%" PRIu32 " of its %" PRIu32 " devices %s", n, total,
			 n == 1 ? "is" : "are");
	return buf;
}

static void show_group(struct ls *ls, long id)
{
	struct uvfio_open_opts oo = {
		.argsz = sizeof(oo),
		.log = keep_log,
		.log_priv = ls,
		.log_level = UVFIO_LOG_ERR,
		.sysfs = ls->sysfs,
	};
	struct uvfio_group_status st = { .argsz = sizeof(st) };
	struct out *o = &ls->out;
	struct uvfio_group *g;
	char name[24], fix[96], spoil[48];
	int ret;

	out_obj(o, NULL);
	out_num(o, "id", "  group %" PRIu64, id);
	snprintf(name, sizeof(name), "%ld", id);
	ls->last_log[0] = '\0';
	ret = uvfio_group_open(name, &oo, &g);
	if (!ret) {
		ret = uvfio_group_status(g, &st);
		if (ret)
			uvfio_group_close(g);
	}
	if (ret) {
		show_unknown_group(ls, id, ret);
		out_end(o);
		return;
	}
	fix[0] = '\0';
	for (uint32_t i = 0; i < st.nr_devices && !fix[0]; i++) {
		struct uvfio_group_member m;

		if (!uvfio_group_device(g, i, &m) && m.blocker)
			snprintf(fix, sizeof(fix), "uvfio bind %s", m.name);
	}
	out_jbool(o, "viable", st.flags & UVFIO_GROUP_VIABLE);
	if (st.flags & UVFIO_GROUP_VIABLE)
		out_text(o, ": viable\n");
	else if (!st.nr_blockers)
		out_text(o, ": not viable, though no member's driver explains why\n");
	else
		out_text(o, ": not viable (%s bound to a driver that does DMA)\n",
			 blockers_phrase(spoil, sizeof(spoil), st.nr_blockers, st.nr_devices));
	if (fix[0])
		out_jstr(o, "fix", fix);
	out_arr(o, "devices");
	for (uint32_t i = 0, shown = 0; i < st.nr_devices; i++) {
		struct uvfio_group_member m;

		if (uvfio_group_device(g, i, &m))
			continue;
		show_member(o, &m, fix, m.blocker && !shown);
		shown += m.blocker;
	}
	out_end(o);
	out_end(o);
	uvfio_group_close(g);
}

static int by_number(const struct dirent **a, const struct dirent **b)
{
	long x = strtol((*a)->d_name, NULL, 10), y = strtol((*b)->d_name, NULL, 10);

	return (x > y) - (x < y);
}

/* A group number small enough for an int32 (at most 9 digits keeps strtol exact). */
static bool is_number(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 9)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int group_entry(const struct dirent *e)
{
	return is_number(e->d_name);
}

static void show_groups(struct ls *ls)
{
	struct out *o = &ls->out;
	struct dirent **names;
	char root[PATH_MAX];
	int n;

	snprintf(root, sizeof(root), "%s/kernel/iommu_groups", ls->sysfs);
	n = scandir(root, &names, group_entry, by_number);
	out_jbool(o, "iommu", n > 0);
	out_arr(o, "groups");
	if (n > 0)
		out_text(o, "\nIOMMU groups:\n");
	for (int i = 0; i < n; i++) {
		show_group(ls, strtol(names[i]->d_name, NULL, 10));
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	out_end(o);
	if (n <= 0)
		out_str(o, "note", "\n%s\n", no_iommu_sentence);
}

static int parse(int argc, char **argv, bool *json, const char **sysfs)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "sysfs", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":js:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 's':
			*sysfs = optarg;
			break;
		case 'h':
			ls_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "uvfio ls: %s needs a directory (where sysfs is mounted).\n",
				argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "uvfio ls: '%s' is not an option of this command; run "
					"'uvfio ls --help' for the list.\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "uvfio ls: '%s' is not an option; 'uvfio ls' takes no device "
				"(use 'uvfio info %s' for one device).\n",
			argv[optind], argv[optind]);
		return 2;
	}
	return -1;
}

int cmd_ls(int argc, char **argv)
{
	struct ls ls = { .sysfs = "/sys" };
	bool json = false;
	int ret;

	ret = parse(argc, argv, &json, &ls.sysfs);
	if (ret >= 0)
		return ret;
	if (strlen(ls.sysfs) >= 256) {
		fprintf(stderr, "uvfio ls: the --sysfs path is too long (255 bytes at most).\n");
		return 2;
	}
	if (scan_devices(&ls))
		return 1;
	if (out_init(&ls.out, json, stdout)) {
		free(ls.devs);
		fprintf(stderr, "uvfio ls: out of memory.\n");
		return 1;
	}
	out_jstr(&ls.out, "sysfs", ls.sysfs);
	show_devices(&ls);
	show_groups(&ls);
	ret = out_finish(&ls.out);
	free(ls.devs);
	if (ret)
		fprintf(stderr, "uvfio ls: the output is incomplete: %s.\n", strerror(-ret));
	if (ls.failed)
		fprintf(stderr,
			"uvfio ls: some IOMMU groups could not be inspected (see above).\n");
	return ret || ls.failed ? 1 : 0;
}
