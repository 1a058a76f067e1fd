// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio info DEVICE [--json]: everything a VFIO user sees of one device —
 * its regions with their mmap-able parts, its IRQ indexes, and its
 * configuration space decoded — printed the same way whether DEVICE is a
 * PCI address behind the kernel's VFIO or a vfio-user socket, because it
 * only goes through <uvfio/vfio.h>.
 * The device may be a hostile server: counts are capped before looping on
 * them, each query that fails is reported where its answer would have been
 * and the rest is still shown, and the configuration-space decoders read
 * only within the image (pcidecode.c, pcicap.c). Any such failure makes
 * the exit status 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <uvfio/vfio.h>

#include "cli.h"
#include "out.h"
#include "pcidecode.h"

/* More than any real device has; a server claiming billions is not asked about each. */
#define MAX_SHOWN 64

struct info {
	struct out out;
	struct uvfio_device *dev;
	struct uvfio_device_info di;
	uint64_t region_size[UVFIO_PCI_NUM_REGIONS]; /* 0 = absent or unknown */
	bool failed;                                 /* some query failed: exit 1 */
};

static const struct out_flag device_flags[] = {
	{ UVFIO_DEVICE_FLAGS_RESET, "reset" },
	{ UVFIO_DEVICE_FLAGS_PCI, "pci" },
};

static const struct out_flag region_flags[] = {
	{ UVFIO_REGION_INFO_FLAG_READ, "read" },
	{ UVFIO_REGION_INFO_FLAG_WRITE, "write" },
	{ UVFIO_REGION_INFO_FLAG_MMAP, "mmap" },
	{ UVFIO_REGION_INFO_FLAG_CAPS, "caps" },
};

static const struct out_flag irq_flags[] = {
	{ UVFIO_IRQ_INFO_EVENTFD, "eventfd" },
	{ UVFIO_IRQ_INFO_MASKABLE, "maskable" },
	{ UVFIO_IRQ_INFO_AUTOMASKED, "automasked" },
	{ UVFIO_IRQ_INFO_NORESIZE, "noresize" },
};

#define NFLAGS(t) (sizeof(t) / sizeof((t)[0]))

/* The library's own sentence, as this command's error. */
static void log_line(void *priv, int level, const char *msg)
{
	size_t n;

	(void)level;
	/* The library's generic prefix says nothing this command's own doesn't. */
	if (!strncmp(msg, "uvfio: ", 7))
		msg += 7;
	n = strlen(msg);
	*(bool *)priv = true;
	fprintf(stderr, "uvfio info: %s%s\n", msg, n && msg[n - 1] == '.' ? "" : ".");
}

static void info_usage(FILE *f)
{
	fprintf(f,
		"usage: uvfio info DEVICE [--json]\n\n"
		"Show a device's regions, interrupts and decoded configuration space.\n\n"
		"DEVICE is a PCI address (0000:01:00.0), a VFIO device node\n"
		"(/dev/vfio/devices/vfioN), vfio-user:PATH or the path of a vfio-user socket.\n\n"
		"options:\n"
		"  -j, --json   one JSON object instead of text (schema: docs/cli.md)\n"
		"  -h, --help   this text\n");
}

/* A query failed: say so where the answer would have been, and on stderr. */
static void failed(struct info *in, const char *what, int err)
{
	in->failed = true;
	out_jstr(&in->out, "error", strerror(-err));
	out_text(&in->out, " (cannot read: %s)\n", strerror(-err));
	fprintf(stderr, "uvfio info: reading %s failed: %s.\n", what, strerror(-err));
}

static const char *region_name(const struct info *in, uint32_t i, char buf[32])
{
	static const char *const names[] = { "BAR0", "BAR1", "BAR2", "BAR3", "BAR4",
					     "BAR5", "ROM",  "config", "VGA" };

	if (!(in->di.flags & UVFIO_DEVICE_FLAGS_PCI))
		snprintf(buf, 32, "region %u", i);
	else if (i < NFLAGS(names))
		snprintf(buf, 32, "%s", names[i]);
	else
		snprintf(buf, 32, "device-specific");
	return buf;
}

static void show_device(struct info *in)
{
	struct out *o = &in->out;

	out_obj(o, "device");
	out_str(o, "name", "Device %s\n", uvfio_device_name(in->dev));
	out_str(o, "backend", "  backend %s, flags: ", uvfio_device_backend(in->dev));
	out_flags(o, "flags", device_flags, NFLAGS(device_flags), in->di.flags, "none");
	out_num(o, "num_regions", ", %" PRIu64 " regions", in->di.num_regions);
	out_num(o, "num_irqs", ", %" PRIu64 " IRQ indexes\n", in->di.num_irqs);
	out_end(o);
}

static void show_areas(struct out *o, const struct uvfio_region *r)
{
	out_arr(o, "mmap_areas");
	if (r->nr_areas)
		out_text(o, "\n             mmap-able:");
	for (uint32_t a = 0; a < r->nr_areas; a++) {
		out_obj(o, NULL);
		out_num(o, "offset", " [0x%" PRIx64, r->areas[a].offset);
		out_num(o, "size", ", +0x%" PRIx64 ")", r->areas[a].size);
		out_end(o);
	}
	out_end(o);
}

static void show_region(struct info *in, const struct uvfio_region *r, const char *name)
{
	struct out *o = &in->out;
	char buf[32];

	out_obj(o, NULL);
	out_num(o, "index", "  %-2" PRIu64, r->index);
	out_str(o, "name", " %-8s", name);
	if (r->has_type) {
		out_num(o, "type", " (type 0x%" PRIx64, r->type);
		out_num(o, "subtype", ", subtype 0x%" PRIx64 ")", r->subtype);
	}
	out_num(o, "size", " size %" PRIu64, r->size);
	if (r->size >= 1024 && !(r->size % 1024))
		out_text(o, " (%s)", out_size(buf, r->size));
	out_text(o, ", ");
	out_flags(o, "flags", region_flags, NFLAGS(region_flags), r->flags, "no access");
	out_jbool(o, "msix_mappable", r->msix_mappable);
	if (r->msix_mappable)
		out_text(o, ", MSI-X table mmap-able");
	show_areas(o, r);
	out_text(o, "\n");
	out_end(o);
}

/* Print the present regions; return a bitmap of the absent ones among the first 64. */
static uint64_t show_present(struct info *in, uint32_t n)
{
	uint64_t absent = 0;
	char name[32];

	for (uint32_t i = 0; i < n; i++) {
		struct uvfio_region r = { .argsz = sizeof(r) };
		int ret = uvfio_device_region(in->dev, i, &r);

		if (!ret && !r.size) {
			absent |= 1ull << i;
			continue;
		}
		if (ret) {
			out_obj(&in->out, NULL);
			out_num(&in->out, "index", "  %-2" PRIu64, i);
			out_str(&in->out, "name", " %-8s", region_name(in, i, name));
			failed(in, name, ret);
			out_end(&in->out);
			continue;
		}
		if (i < UVFIO_PCI_NUM_REGIONS)
			in->region_size[i] = r.size;
		show_region(in, &r, region_name(in, i, name));
	}
	return absent;
}

static void show_regions(struct info *in)
{
	struct out *o = &in->out;
	uint32_t n = in->di.num_regions < MAX_SHOWN ? in->di.num_regions : MAX_SHOWN;
	uint64_t absent;
	char name[32];

	out_text(o, "\nRegions:\n");
	out_arr(o, "regions");
	absent = show_present(in, n);
	out_end(o);
	out_arr(o, "absent_regions");
	if (absent)
		out_text(o, "  absent:");
	for (uint32_t i = 0; i < n; i++) {
		if (!(absent & (1ull << i)))
			continue;
		out_obj(o, NULL);
		out_jnum(o, "index", i);
		out_str(o, "name", " %s", region_name(in, i, name));
		out_end(o);
	}
	out_end(o);
	if (absent)
		out_text(o, "\n");
	if (in->di.num_regions > n)
		out_text(o, "  (%u more regions not shown)\n", in->di.num_regions - n);
}

static void show_irqs(struct info *in)
{
	static const char *const names[] = { "INTx", "MSI", "MSI-X", "ERR", "REQ" };
	struct out *o = &in->out;
	uint32_t n = in->di.num_irqs < MAX_SHOWN ? in->di.num_irqs : MAX_SHOWN;
	char name[24];

	out_text(o, "\nIRQs:\n");
	out_arr(o, "irqs");
	for (uint32_t i = 0; i < n; i++) {
		struct uvfio_irq_info q = { .argsz = sizeof(q) };
		int ret = uvfio_device_irq_info(in->dev, i, &q);

		if (i < NFLAGS(names) && (in->di.flags & UVFIO_DEVICE_FLAGS_PCI))
			snprintf(name, sizeof(name), "%s", names[i]);
		else
			snprintf(name, sizeof(name), "index %u", i);
		out_obj(o, NULL);
		out_num(o, "index", "  %-2" PRIu64, i);
		out_str(o, "name", " %-8s", name);
		if (ret == -EINVAL && i == UVFIO_PCI_ERR_IRQ_INDEX &&
		    (in->di.flags & UVFIO_DEVICE_FLAGS_PCI)) {
			/* The kernel offers ERR only on PCI Express devices. */
			out_num(o, "count", " %" PRIu64, 0);
			out_text(o, " vectors (not offered: the device is not PCI Express)\n");
			out_end(o);
			continue;
		}
		if (ret) {
			failed(in, name, ret);
			out_end(o);
			continue;
		}
		out_num(o, "count", " %" PRIu64, q.count);
		out_text(o, " vector%s, ", q.count == 1 ? "" : "s");
		out_flags(o, "flags", irq_flags, NFLAGS(irq_flags), q.flags, "no flags");
		out_text(o, "\n");
		out_end(o);
	}
	out_end(o);
	if (in->di.num_irqs > n)
		out_text(o, "  (%u more IRQ indexes not shown)\n", in->di.num_irqs - n);
}

static void decode_config(struct info *in, const uint8_t *cfg, size_t len)
{
	struct pci_image img = { .cfg = cfg, .len = len };

	memcpy(img.bar_size, in->region_size, sizeof(img.bar_size));
	pci_show_header(&in->out, &img);
	out_text(&in->out, "\n");
	pci_show_caps(&in->out, &img);
}

static void show_config(struct info *in)
{
	struct out *o = &in->out;
	uint64_t size = in->region_size[UVFIO_PCI_CONFIG_REGION_INDEX];
	size_t len = size >= UVFIO_PCI_CFG_SIZE_PCIE ? UVFIO_PCI_CFG_SIZE_PCIE
		   : size >= UVFIO_PCI_CFG_SIZE      ? UVFIO_PCI_CFG_SIZE
						     : 0;
	uint8_t *cfg;
	int ret;

	if (!(in->di.flags & UVFIO_DEVICE_FLAGS_PCI) || !len) {
		out_jnull(o, "config");
		out_text(o, "\nNo configuration space: %s.\n",
			 len ? "not a PCI device"
			     : "the device reports no config region of 256 bytes or more");
		return;
	}
	cfg = calloc(1, len);
	out_obj(o, "config");
	out_num(o, "size", "\nConfiguration space (%" PRIu64 " bytes):\n", len);
	ret = cfg ? uvfio_device_cfg_read(in->dev, 0, cfg, len) : -ENOMEM;
	if (ret)
		failed(in, "configuration space", ret);
	else
		decode_config(in, cfg, len);
	out_end(o);
	free(cfg);
}

static int parse(int argc, char **argv, bool *json, const char **name)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = true;
			break;
		case 'h':
			info_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "uvfio info: '%s' is not an option of this command; run "
					"'uvfio info --help' for the list.\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "uvfio info: name one device (e.g. 'uvfio info 0000:01:00.0' or "
				"'uvfio info /tmp/dma.sock'); 'uvfio ls' lists PCI devices.\n");
		return 2;
	}
	*name = argv[optind];
	return -1;
}

int cmd_info(int argc, char **argv)
{
	struct info in = { .di.argsz = sizeof(in.di) };
	bool json = false, logged = false;
	struct uvfio_open_opts oo = {
		.argsz = sizeof(oo),
		.log = log_line,
		.log_priv = &logged,
		.log_level = UVFIO_LOG_ERR,
	};
	const char *name;
	int ret;

	ret = parse(argc, argv, &json, &name);
	if (ret >= 0)
		return ret;
	ret = uvfio_device_open(name, &oo, &in.dev);
	if (ret) {
		if (!logged)
			fprintf(stderr, "uvfio info: cannot open %s: %s.\n", name, strerror(-ret));
		return 1;
	}
	ret = uvfio_device_get_info(in.dev, &in.di);
	if (ret) {
		fprintf(stderr, "uvfio info: %s did not describe itself: %s.\n", name,
			strerror(-ret));
		uvfio_device_close(in.dev);
		return 1;
	}
	if (out_init(&in.out, json, stdout)) {
		uvfio_device_close(in.dev);
		fprintf(stderr, "uvfio info: out of memory.\n");
		return 1;
	}
	show_device(&in);
	show_regions(&in);
	show_irqs(&in);
	show_config(&in);
	ret = out_finish(&in.out);
	uvfio_device_close(in.dev);
	if (ret)
		fprintf(stderr, "uvfio info: the output is incomplete: %s.\n", strerror(-ret));
	return ret || in.failed ? 1 : 0;
}
