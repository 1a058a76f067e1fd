// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio bind DEVICE / uvfio unbind DEVICE: hand a device's whole IOMMU
 * group to vfio-pci and give it back. This file is the command line and
 * the output; kbind.c and kunbind.c do the work, and say in sentences why
 * something was refused or failed. The same description renders as text
 * and as JSON (out.h), so the two cannot drift apart.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kbind.h"
#include "out.h"

struct cmd {
	const char *name; /* "bind" or "unbind" */
	bool json;
	FILE *fout, *ferr; /* stdout and stderr, unless a test says otherwise */
	struct out out;
	struct kb k;
};

static void usage(const char *name, FILE *f)
{
	if (!strcmp(name, "bind"))
		fprintf(f,
			"usage: uvfio bind DEVICE... [--dry-run] [--force] [--json]\n"
			"                  [--sysfs DIR] [--proc DIR] [--state-dir DIR]\n\n"
			"Hand DEVICE's whole IOMMU group to vfio-pci: every member ends on vfio-pci,\n"
			"without a driver, or on a driver that leaves DMA to its user (pcieport,\n"
			"pci-stub) - or, if anything fails, everything is put back as it was.\n"
			"Refuses while a member that would lose its driver holds a mounted filesystem,\n"
			"swap or a routed network interface. Several DEVICEs must share one group.\n\n"
			"options:\n"
			"  -n, --dry-run        print the plan, change nothing\n"
			"  -f, --force          bind even though a filesystem, swap or route is in use\n"
			"  -j, --json           one JSON object instead of text (schema: docs/cli.md)\n"
			"  -s, --sysfs DIR      where sysfs is mounted (default /sys)\n"
			"      --proc DIR       where proc is mounted (default /proc): mounts, routes\n"
			"      --state-dir DIR  where the record for 'uvfio unbind' goes\n"
			"                       (default $UVFIO_STATE_DIR, else /run/uvfio)\n"
			"  -h, --help           this text\n");
	else
		fprintf(f,
			"usage: uvfio unbind DEVICE... [--dry-run] [--json] [--sysfs DIR]\n"
			"                    [--state-dir DIR]\n\n"
			"Give DEVICE's IOMMU group back to the drivers 'uvfio bind' recorded (members\n"
			"that had no driver stay without one). Without a record, clear driver_override\n"
			"on what is on vfio-pci and let the kernel choose.\n\n"
			"options:\n"
			"  -n, --dry-run        print the plan, change nothing\n"
			"  -j, --json           one JSON object instead of text (schema: docs/cli.md)\n"
			"  -s, --sysfs DIR      where sysfs is mounted (default /sys)\n"
			"      --state-dir DIR  where 'uvfio bind' left its record\n"
			"                       (default $UVFIO_STATE_DIR, else /run/uvfio)\n"
			"  -h, --help           this text\n");
}

enum { OPT_PROC = 0x100, OPT_STATE };

/*
 * The option getopt_long() just returned @val for (or rejected, @val its
 * optopt), as the user spelled it: "--proc", "-f", "--frobnicate". Not
 * argv[optind - 1], which is the option's argument once it took one, and
 * an earlier word while a cluster such as "-xn" is being read.
 */
static const char *opt_given(char *buf, size_t size, const struct option *opts, int li, int val,
			     char **argv)
{
	const char *arg = argv[optind - 1];

	if (li >= 0) {
		snprintf(buf, size, "--%s", opts[li].name);
		return buf;
	}
	if (!strncmp(arg, "--", 2) && arg[2]) {
		size_t len = strcspn(arg + 2, "=");

		/* Known but misused ("--json=1", "--sysfs" last): getopt gives its val. */
		for (const struct option *p = opts; val && p->name; p++)
			if (p->val == val && !strncmp(p->name, arg + 2, len)) {
				snprintf(buf, size, "--%s%s", p->name, arg + 2 + len);
				return buf;
			}
		/* An unknown long option: getopt gives 0, and optind is past it. */
		if (!val) {
			snprintf(buf, size, "--%.*s", (int)len, arg + 2);
			return buf;
		}
	}
	snprintf(buf, size, "-%c", val > 0 && val < 0x80 ? val : '?');
	return buf;
}

/* -1: go on; else the exit status. */
static int parse(struct cmd *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "sysfs", required_argument, NULL, 's' },
		{ "proc", required_argument, NULL, OPT_PROC },
		{ "state-dir", required_argument, NULL, OPT_STATE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool bind = !strcmp(c->name, "bind");
	char name[64];
	int o, li = -1;

	opterr = 0;
	optind = 0; /* GNU: start afresh, for tests that run several commands */
	while ((o = getopt_long(argc, argv, ":nfjs:h", opts, &li)) != -1) {
		switch (o) {
		case 'n':
			c->k.dry_run = true;
			break;
		case 'f':
			if (!bind)
				goto bad;
			c->k.force = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 's':
			c->k.sysfs = optarg;
			break;
		case OPT_PROC:
			if (!bind)
				goto bad;
			c->k.proc = optarg;
			break;
		case OPT_STATE:
			c->k.state_dir = optarg;
			break;
		case 'h':
			usage(c->name, c->fout);
			return 0;
		case ':':
			fprintf(c->ferr, "uvfio %s: %s needs a directory.\n", c->name,
				opt_given(name, sizeof(name), opts, -1, optopt, argv));
			return 2;
		default:
			o = optopt;
			goto bad;
		}
		li = -1;
	}
	if (optind >= argc) {
		fprintf(c->ferr, "uvfio %s: name a PCI device (e.g. 'uvfio %s 0000:01:00.0'); "
				"'uvfio ls' lists them.\n", c->name, c->name);
		return 2;
	}
	if (strlen(c->k.sysfs) >= 256 || strlen(c->k.proc) >= 256 ||
	    strlen(c->k.state_dir) >= 256) {
		fprintf(c->ferr, "uvfio %s: a directory given is too long (255 bytes at most).\n",
			c->name);
		return 2;
	}
	return -1;
bad:
	opt_given(name, sizeof(name), opts, li, o, argv);
	fprintf(c->ferr, "uvfio %s: '%s' is not an option of this command; run 'uvfio %s "
			"--help' for the list.\n", c->name, name, c->name);
	return 2;
}

/* A driver name, or JSON null when there is none. */
static void jname(struct out *o, const char *key, const char *s)
{
	if (s[0])
		out_jstr(o, key, s);
	else
		out_jnull(o, key);
}

static void show_plan_text(struct out *o, const struct kb_member *m)
{
	switch (m->action) {
	case KB_KEEP:
		out_text(o, "stays %s%s (%s)", m->driver[0] ? "on " : "without a driver",
			 m->driver, m->why);
		break;
	case KB_BIND:
		out_text(o, "-> vfio-pci");
		break;
	case KB_DETACH:
		out_text(o, "-> no driver (a bridge, which vfio-pci doesn't drive; driver_override "
			    "keeps other drivers away)");
		break;
	case KB_RESTORE:
		out_text(o, "-> %s", m->to[0] ? m->to : "no driver (it had none)");
		break;
	case KB_REPROBE:
		out_text(o, "-> whichever driver the kernel picks");
		break;
	}
}

static void show_member(struct cmd *c, const struct kb_member *m)
{
	struct out *o = &c->out;
	bool applied = c->k.result == KB_DONE || c->k.result == KB_ROLLED_BACK ||
		       c->k.result == KB_FAILED;

	out_obj(o, NULL);
	out_str(o, "address", "  %-13s", m->addr);
	jname(o, "driver", m->driver);
	out_text(o, " %-12s ", m->driver[0] ? m->driver : "-");
	jname(o, "driver_override", m->override);
	out_jbool(o, "bridge", m->bridge);
	out_jbool(o, "named", m->named);
	out_jstr(o, "action", kb_action_name(m->action));
	show_plan_text(o, m);
	if (m->action == KB_KEEP) {
		out_jstr(o, "reason", m->why);
	} else if (m->action != KB_REPROBE) {
		jname(o, "to", m->to);
		jname(o, "to_override", m->to_override);
	}
	if (applied && m->touched) {
		jname(o, "now", m->now);
		if (m->note)
			out_text(o, ": %s", m->note);
		else if (!m->ok)
			out_text(o, " (%s %s%s)", strcmp(m->now, m->driver) ? "now" : "still",
				 m->now[0] ? "on " : "without a driver", m->now);
	}
	if (m->note)
		out_jstr(o, "note", m->note);
	out_text(o, "\n");
	out_end(o);
}

static const char *kind_name(enum inuse_kind kind)
{
	return kind == INUSE_MOUNT ? "mount" : kind == INUSE_SWAP ? "swap" : "route";
}

/* JSON only: the text names these in the refusal (stderr) or the --force note. */
static void show_inuse(struct cmd *c)
{
	struct out *o = &c->out;

	out_arr(o, "in_use");
	for (size_t i = 0; i < c->k.inuse.n; i++) {
		const struct inuse *u = &c->k.inuse.v[i];
		char dev[32];

		out_obj(o, NULL);
		out_jstr(o, "address", u->addr);
		out_jstr(o, "kind", kind_name(u->kind));
		if (u->kind == INUSE_ROUTE) {
			out_jstr(o, "interface", u->what);
			out_jstr(o, "route", u->where);
			out_jnum(o, "more_routes", u->more_routes);
		} else {
			out_jstr(o, "block_device", u->what);
			snprintf(dev, sizeof(dev), "%u:%u", u->major, u->minor);
			out_jstr(o, "dev", dev);
			jname(o, "stacked_on", u->below);
			if (u->kind == INUSE_MOUNT) {
				out_jstr(o, "mount_point", u->where);
				out_jstr(o, "fstype", u->fstype);
			} else {
				out_jstr(o, "swap", u->where);
			}
		}
		out_end(o);
	}
	out_end(o);
}

static void show_header(struct cmd *c)
{
	struct out *o = &c->out;
	struct kb *k = &c->k;

	out_jstr(o, "command", c->name);
	out_arr(o, "devices");
	for (size_t i = 0; i < k->nr_named; i++)
		out_jstr(o, NULL, k->named[i]);
	out_end(o);
	out_jstr(o, "sysfs", k->sysfs);
	if (k->group >= 0) {
		out_num(o, "group", "IOMMU group %" PRIu64, k->group);
		/* No count when the members couldn't be listed: "0 devices" would be wrong. */
		if (k->m)
			out_text(o, " (%zu device%s)", k->n, k->n == 1 ? "" : "s");
		out_text(o, "%s\n", k->dry_run ? ", dry run" : "");
	} else {
		out_jnull(o, "group");
	}
	out_jbool(o, "dry_run", k->dry_run);
	if (!k->unbinding)
		out_jbool(o, "force", k->force);
}

static void show_outcome(struct cmd *c)
{
	struct out *o = &c->out;
	struct kb *k = &c->k;

	if (k->group >= 0)
		out_jstr(o, "state_file", k->record);
	else
		out_jnull(o, "state_file");
	out_jbool(o, "recorded", k->recorded);
	out_jstr(o, "result", kb_result_name(k));
	if (k->err[0])
		out_jstr(o, "error", k->err);
	if (k->note[0])
		out_str(o, "note", "%s\n", k->note);
	switch (k->result) {
	case KB_PLANNED:
		out_text(o, "Dry run: nothing was changed.\n");
		break;
	case KB_DONE:
		if (k->unbinding)
			out_text(o, "Done: IOMMU group %ld is back on %s.\n", k->group,
				 k->recorded ? "the drivers it had before 'uvfio bind'"
					     : "the drivers the kernel chose");
		else
			out_text(o, "Done: IOMMU group %ld is viable. The drivers it had are recorded "
				    "in %s; 'uvfio unbind %s' gives them back.\n",
				 k->group, k->record, k->named[0]);
		break;
	default:
		break;
	}
}

int cmd_bind_with(const char *name, int argc, char **argv, const struct kb_ops *ops, FILE *out,
		  FILE *err)
{
	struct cmd *c = calloc(1, sizeof(*c));
	struct kb *k;
	int ret, status;

	if (!c) {
		fprintf(err, "uvfio %s: out of memory.\n", name);
		return 1;
	}
	*c = (struct cmd){ .name = name, .fout = out, .ferr = err };
	k = &c->k;
	kb_init(k);
	if (ops)
		k->ops = *ops;
	ret = parse(c, argc, argv);
	if (ret >= 0)
		goto out;
	if (!strcmp(name, "bind"))
		kb_bind(k, (const char *const *)(argv + optind), (size_t)(argc - optind));
	else
		kb_unbind(k, (const char *const *)(argv + optind), (size_t)(argc - optind));
	status = kb_exit_status(k);
	if (out_init(&c->out, c->json, out)) {
		fprintf(err, "uvfio %s: out of memory.\n", name);
		ret = status ? status : 1;
		goto out;
	}
	show_header(c);
	out_arr(&c->out, "members");
	for (size_t i = 0; k->planned && i < k->n; i++)
		show_member(c, &k->m[i]);
	out_end(&c->out);
	if (!k->unbinding)
		show_inuse(c);
	show_outcome(c);
	ret = out_finish(&c->out);
	if (k->err[0])
		fprintf(err, "uvfio %s: %s\n", name, k->err);
	if (ret)
		fprintf(err, "uvfio %s: the output is incomplete: %s.\n", name, strerror(-ret));
	ret = status ? status : ret ? 1 : 0;
out:
	kb_fini(k);
	free(c);
	return ret;
}

int cmd_bind(int argc, char **argv)
{
	return cmd_bind_with("bind", argc, argv, NULL, stdout, stderr);
}

int cmd_unbind(int argc, char **argv)
{
	return cmd_bind_with("unbind", argc, argv, NULL, stdout, stderr);
}
