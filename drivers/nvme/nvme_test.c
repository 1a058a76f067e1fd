// SPDX-License-Identifier: BSD-3-Clause
/*
 * nvme-test: drive an NVMe controller through drivers/nvme and print TAP.
 *
 *   nvme-test DEVICE [--serial S] [--marker TEXT] [--not-nvme OTHER]
 *
 * DEVICE is anything uvfio_device_open() takes. The controller is opened
 * twice: with polled completions (identify controller and namespaces, a
 * one-block read that must start with TEXT, a long read split into
 * commands with PRP lists, a read past the end that the controller must
 * refuse), then with MSI-X completions (the same read, woken by the
 * eventfd). OTHER, a device that is no NVMe controller, must be refused.
 * Each close must leave no file descriptor behind.
 *
 * The test itself trusts nothing either: every check is a TAP line, and a
 * step that could not run is reported as failed, never skipped silently.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_regs.h"
#include "nvmedrv.h"

#define LONG_READ (256u * 1024) /* two commands of the driver's largest transfer */
#define EXT2_MAGIC_OFF 1080u    /* superblock at 1024, s_magic at +56 */

static unsigned tap_n;
static unsigned tap_failed;

__attribute__((format(printf, 2, 3))) static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %u - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	tap_failed += !ok;
}

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void log_hook(void *priv, int level, const char *msg)
{
	diag("uvfio: %s", msg);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

struct args {
	const char *dev;
	const char *serial;
	const char *marker;
	const char *other;
};

/* The polled pass: 8 TAP lines. */
static void polled(const struct args *a, const struct uvfio_open_opts *o, uint8_t *lba0)
{
	struct nvmedrv *n = NULL;
	struct nvmedrv_ns ns = { 0 };
	const struct nvmedrv_ctrl *c;
	uint8_t *big = calloc(1, LONG_READ), one[4096];
	int fds = count_fds(), ret;
	bool ok;

	ret = big ? nvmedrv_open(a->dev, o, NVMEDRV_POLL, &n) : -ENOMEM;
	tap(!ret, "open %s with polled completions%s%s%s", a->dev, ret ? ": " : " (backend ",
	    ret ? strerror(-ret) : uvfio_device_backend(nvmedrv_device(n)), ret ? "" : ")");
	if (ret) {
		for (int i = 0; i < 7; i++)
			tap(false, "not run: the controller did not open");
		free(big);
		return;
	}
	c = nvmedrv_ctrl(n);
	diag("controller %04x: \"%s\", serial \"%s\", firmware \"%s\", NVMe %u.%u, %u namespaces, "
	     "%u-byte transfers, I/O queues of %u", c->vid, c->model, c->serial, c->firmware,
	     c->version >> 16, (c->version >> 8) & 0xff, c->namespaces, c->max_transfer,
	     c->queue_depth);
	tap(c->model[0] && c->namespaces > 0 && (!a->serial || !strcmp(c->serial, a->serial)),
	    "identify controller: model \"%s\", serial \"%s\"%s", c->model, c->serial,
	    a->serial ? " as given" : "");

	ret = nvmedrv_identify_ns(n, 1, &ns);
	tap(!ret && ns.blocks > 0, "identify namespace 1: %" PRIu64 " blocks of %u bytes",
	    ns.blocks, ns.block_size);
	/* Namespace 0 is no namespace; 2 is inactive on a one-namespace controller. */
	ok = nvmedrv_identify_ns(n, 0, &(struct nvmedrv_ns){ 0 }) == -EINVAL;
	if (c->namespaces >= 2)
		ok &= nvmedrv_identify_ns(n, 2, &(struct nvmedrv_ns){ 0 }) == -ENOENT;
	tap(ok, "identify refuses namespace 0%s", c->namespaces >= 2 ? ", namespace 2 is inactive" :
	    "");

	ret = ns.blocks ? nvmedrv_read(n, &ns, 0, 1, lba0) : -ENOENT;
	ok = !ret && (!a->marker || !memcmp(lba0, a->marker, strlen(a->marker)));
	tap(ok, "read LBA 0%s%s%s", a->marker ? ": it starts with the host's marker" : "",
	    ret ? ": " : "", ret ? strerror(-ret) : "");
	if (!ok && !ret)
		diag("LBA 0 starts with \"%.40s\"", (const char *)lba0);

	/* Long: two commands, each with a PRP list; compared with one-block reads. */
	ok = false;
	if (ns.blocks * ns.block_size >= LONG_READ && ns.block_size <= sizeof(one)) {
		uint32_t nb = LONG_READ / ns.block_size, probe[] = { 0, 1, 2, nb / 2 - 1, nb / 2,
								     nb - 1 };

		ret = nvmedrv_read(n, &ns, 0, nb, big);
		ok = !ret;
		for (size_t i = 0; ok && i < sizeof(probe) / sizeof(probe[0]); i++) {
			ok = !nvmedrv_read(n, &ns, probe[i], 1, one) &&
			     !memcmp(one, big + (size_t)probe[i] * ns.block_size, ns.block_size);
			if (!ok)
				diag("block %u differs between the long read and a one-block read",
				     probe[i]);
		}
		ok = ok && big[EXT2_MAGIC_OFF] == 0x53 && big[EXT2_MAGIC_OFF + 1] == 0xef;
	}
	tap(ok, "read %u KiB in %u-byte commands with PRP lists; blocks match one-block reads, "
	    "ext2 superblock magic at byte %u", LONG_READ / 1024, c->max_transfer, EXT2_MAGIC_OFF);

	ret = ns.blocks ? nvmedrv_read(n, &ns, ns.blocks, 1, one) : 0;
	tap(ret == -EIO && nvmedrv_status(n) == NVME_SC_LBA_RANGE,
	    "a read past the end fails: status 0x%03x (LBA out of range is 0x%03x)",
	    nvmedrv_status(n), NVME_SC_LBA_RANGE);

	nvmedrv_close(n);
	free(big);
	tap(count_fds() == fds, "controller disabled and closed, no fd left (%d before, %d after)",
	    fds, count_fds());
}

/* The MSI-X pass: 3 TAP lines. */
static void msix(const struct args *a, const struct uvfio_open_opts *o, const uint8_t *lba0)
{
	struct nvmedrv *n = NULL;
	struct nvmedrv_ns ns = { 0 };
	uint8_t buf[4096];
	int fds = count_fds(), ret;
	uint64_t irqs;

	ret = nvmedrv_open(a->dev, o, NVMEDRV_MSIX, &n);
	tap(!ret, "open again with MSI-X completions%s%s", ret ? ": " : "",
	    ret ? strerror(-ret) : "");
	if (ret) {
		tap(false, "not run: the controller did not open");
		tap(false, "not run: the controller did not open");
		return;
	}
	irqs = nvmedrv_interrupts(n);
	ret = nvmedrv_identify_ns(n, 1, &ns);
	if (!ret)
		ret = ns.block_size <= sizeof(buf) ? nvmedrv_read(n, &ns, 0, 1, buf) : -EPROTO;
	tap(!ret && !memcmp(buf, lba0, ns.block_size) && nvmedrv_interrupts(n) > irqs,
	    "identify and read LBA 0 woken by MSI-X: same data, %" PRIu64 " interrupts in all%s%s",
	    nvmedrv_interrupts(n), ret ? ": " : "", ret ? strerror(-ret) : "");
	nvmedrv_close(n);
	tap(count_fds() == fds, "closed, no fd left (%d before, %d after)", fds, count_fds());
}

int main(int argc, char **argv)
{
	struct uvfio_open_opts o = { .argsz = sizeof(o), .log = log_hook,
				     .log_level = UVFIO_LOG_WARN };
	struct args a = { 0 };
	uint8_t lba0[4096] = { 0 };

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--serial") && i + 1 < argc)
			a.serial = argv[++i];
		else if (!strcmp(argv[i], "--marker") && i + 1 < argc)
			a.marker = argv[++i];
		else if (!strcmp(argv[i], "--not-nvme") && i + 1 < argc)
			a.other = argv[++i];
		else if (argv[i][0] != '-' && !a.dev)
			a.dev = argv[i];
		else {
			fprintf(stderr, "usage: nvme-test DEVICE [--serial S] [--marker TEXT] "
				"[--not-nvme OTHER]\n");
			return 2;
		}
	}
	if (!a.dev) {
		fprintf(stderr, "usage: nvme-test DEVICE [--serial S] [--marker TEXT] "
			"[--not-nvme OTHER]\n");
		return 2;
	}
	if (a.marker && strlen(a.marker) > 512) {
		fprintf(stderr, "nvme-test: the marker must fit in one 512-byte block\n");
		return 2;
	}
	printf("1..%u\n", 11u + (a.other ? 1 : 0));
	polled(&a, &o, lba0);
	msix(&a, &o, lba0);
	if (a.other) {
		struct nvmedrv *n = NULL;
		int fds = count_fds(), ret = nvmedrv_open(a.other, &o, NVMEDRV_POLL, &n);

		tap(ret == -ENODEV && !n && count_fds() == fds,
		    "%s is no NVMe controller: refused (%s), nothing left open", a.other,
		    ret ? strerror(-ret) : "opened!");
		nvmedrv_close(ret ? NULL : n);
	}
	return tap_failed ? 1 : 0;
}
