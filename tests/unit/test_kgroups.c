// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the kernel backends' group handling, against a fake sysfs
 * and devfs built in a temporary directory (uvfio_open_opts.sysfs/.devfs):
 * IOMMU group 2 holds a pci-bridge (unbound), an edu device bound to
 * vfio-pci and an NVMe controller bound to "nvme", laid out with the
 * kernel's symlinks. No kernel VFIO is needed: everything up to the first
 * ioctl is exercised, and regular files stand in for device nodes so the
 * error paths after open() run too (and must not leak fds).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "uvfio/vfio.h"
#include "vfio/vfio_priv.h"

#define EDU    "0000:01:01.0"
#define NVME   "0000:01:02.0"
#define BRIDGE "0000:00:04.0"

struct tree {
	char root[200];
	char sys[224]; /* uvfio_open_opts paths must stay below 256 */
	char dev[224];
};

struct logcap {
	char buf[16384];
	size_t len;
};

static void cap_log(void *priv, int level, const char *msg)
{
	struct logcap *l = priv;
	int n;

	(void)level;
	n = snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s\n", msg);
	if (n > 0)
		l->len = MIN(sizeof(l->buf) - 1, l->len + (size_t)n);
}

static void mkdirs(const char *path)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void __attribute__((format(printf, 2, 3))) link_at(const char *target, const char *fmt,
							    ...)
{
	char path[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	unlink(path);
	assert_ret(symlink(target, path), 0);
}

static void __attribute__((format(printf, 1, 2))) touch(const char *fmt, ...)
{
	char path[PATH_MAX];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
	assert_true(fd >= 0);
	close(fd);
}

/* A PCI device as the kernel shows it; @group < 0: no IOMMU group; @driver NULL: unbound. */
static void add_dev(struct tree *t, const char *bdf, int group, const char *driver)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/devices/pci0000:00/%s", t->sys, bdf);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/bus/pci/devices", t->sys);
	mkdirs(p);
	snprintf(p, sizeof(p), "../../../devices/pci0000:00/%s", bdf);
	link_at(p, "%s/bus/pci/devices/%s", t->sys, bdf);
	if (group >= 0) {
		snprintf(p, sizeof(p), "%s/kernel/iommu_groups/%d/devices", t->sys, group);
		mkdirs(p);
		snprintf(p, sizeof(p), "../../../kernel/iommu_groups/%d", group);
		link_at(p, "%s/devices/pci0000:00/%s/iommu_group", t->sys, bdf);
		snprintf(p, sizeof(p), "../../../../devices/pci0000:00/%s", bdf);
		link_at(p, "%s/kernel/iommu_groups/%d/devices/%s", t->sys, group, bdf);
	}
	if (driver) {
		snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", t->sys, driver);
		mkdirs(p);
		snprintf(p, sizeof(p), "../../../bus/pci/drivers/%s", driver);
		link_at(p, "%s/devices/pci0000:00/%s/driver", t->sys, bdf);
	}
}

static void bind_to(struct tree *t, const char *bdf, const char *driver)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", t->sys, driver);
	mkdirs(p);
	snprintf(p, sizeof(p), "../../../bus/pci/drivers/%s", driver);
	link_at(p, "%s/devices/pci0000:00/%s/driver", t->sys, bdf);
}

/* Group 2: the bridge (unbound), edu on vfio-pci, NVMe on nvme. No /dev/vfio at all. */
static void tree_new(struct tree *t)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(t->root, sizeof(t->root), "%s/uvfio-kgroups-XXXXXX", tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->root));
	snprintf(t->sys, sizeof(t->sys), "%s/sys", t->root);
	snprintf(t->dev, sizeof(t->dev), "%s/dev", t->root);
	mkdirs(t->sys);
	mkdirs(t->dev);
	add_dev(t, BRIDGE, 2, NULL);
	add_dev(t, EDU, 2, "vfio-pci");
	add_dev(t, NVME, 2, "nvme");
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tree_free(struct tree *t)
{
	nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct uvfio_open_opts opts_of(struct tree *t, struct logcap *lc)
{
	return (struct uvfio_open_opts){ .argsz = sizeof(struct uvfio_open_opts),
					 .log = cap_log,
					 .log_priv = lc,
					 .log_level = UVFIO_LOG_ERR,
					 .sysfs = t->sys,
					 .devfs = t->dev };
}

static void assert_logged(const struct logcap *lc, const char *what)
{
	if (!strstr(lc->buf, what)) {
		printf("# log lacks '%s':\n# %s\n", what, lc->buf);
		fail();
	}
}

/* Each test's world: the tree, the captured log, options pointing at both. */
static struct tree t;
static struct logcap lc;
static struct uvfio_open_opts o;

static void log_reset(void)
{
	lc.len = 0;
	lc.buf[0] = '\0';
}

static void world_new(void)
{
	tree_new(&t);
	log_reset();
	o = opts_of(&t, &lc);
}

/* --- tests -------------------------------------------------------------------------- */

static void test_group_without_devfs(void **state)
{
	struct uvfio_group_status st = { .argsz = sizeof(st) };
	struct uvfio_group_member m;
	struct uvfio_container *c;
	struct uvfio_group *g;
	struct uvfio_iommu_info info = { .argsz = sizeof(info) };
	static const char *const names[] = { BRIDGE, EDU, NVME };
	static const char *const drivers[] = { "", "vfio-pci", "nvme" };

	(void)state;
	world_new();
	/* Status and members work without owning the group: no /dev/vfio exists. */
	assert_ret(uvfio_group_open("2", &o, &g), 0);
	assert_ret(uvfio_group_status(g, &st), 0);
	assert_int_equal(st.id, 2);
	assert_int_equal(st.nr_devices, 3);
	assert_int_equal(st.nr_blockers, 1);
	assert_false(st.flags & UVFIO_GROUP_VIABLE);
	assert_false(st.flags & UVFIO_GROUP_ATTACHED);
	for (uint32_t i = 0; i < 3; i++) {
		assert_ret(uvfio_group_device(g, i, &m), 0);
		assert_string_equal(m.name, names[i]);
		assert_string_equal(m.driver, drivers[i]);
		assert_int_equal(m.blocker, i == 2);
	}
	assert_ret(uvfio_group_device(g, 3, &m), -EINVAL);

	/* Attaching is refused before any node is touched, naming the culprit. */
	assert_ret(uvfio_container_create(&o, &c), 0);
	assert_ret(uvfio_group_attach(g, c), -EPERM);
	assert_logged(&lc, NVME);
	assert_logged(&lc, "nvme");
	assert_ret(uvfio_container_info(c, &info), 0);
	assert_null(info.backend);
	uvfio_container_destroy(c);
	uvfio_group_close(g);

	/* The node's path names the same group. */
	{
		char name[PATH_MAX + 16];

		snprintf(name, sizeof(name), "%s/vfio/2", t.dev);
		assert_ret(uvfio_group_open(name, &o, &g), 0);
		assert_int_equal(g->id, 2);
		uvfio_group_close(g);
	}
	tree_free(&t);
}

static void test_group_unknown(void **state)
{
	struct uvfio_group *g = NULL;

	(void)state;
	world_new();
	assert_ret(uvfio_group_open("9", &o, &g), -ENOENT);
	assert_null(g);
	assert_logged(&lc, "no IOMMU group 9");
	tree_free(&t);
}

static void test_open_not_viable(void **state)
{
	struct uvfio_device *d = NULL;

	(void)state;
	world_new();
	assert_ret(uvfio_device_open(EDU, &o, &d), -EPERM);
	assert_null(d);
	assert_logged(&lc, NVME);
	assert_logged(&lc, "nvme");
	assert_logged(&lc, "uvfio bind " NVME);
	/* The short form of the address finds the same device. */
	log_reset();
	assert_ret(uvfio_device_open("01:01.0", &o, &d), -EPERM);
	assert_logged(&lc, NVME);
	tree_free(&t);
}

static void test_open_node_missing(void **state)
{
	struct uvfio_group_status st = { .argsz = sizeof(st) };
	struct uvfio_group_member before;
	struct uvfio_device *d = NULL;
	struct uvfio_group *g;

	(void)state;
	world_new();
	assert_ret(uvfio_group_open("2", &o, &g), 0);
	assert_ret(uvfio_group_device(g, 2, &before), 0);
	assert_string_equal(before.driver, "nvme");

	/* The user follows the advice: the NVMe goes to vfio-pci. */
	bind_to(&t, NVME, "vfio-pci");
	assert_ret(uvfio_group_status(g, &st), 0);
	assert_true(st.flags & UVFIO_GROUP_VIABLE);
	assert_int_equal(st.nr_blockers, 0);
	assert_int_equal(st.nr_devices, 3);
	/* Strings handed out earlier stay valid until the group is closed. */
	assert_string_equal(before.driver, "nvme");
	assert_ret(uvfio_group_device(g, 2, &before), 0);
	assert_string_equal(before.driver, "vfio-pci");
	assert_false(before.blocker);
	uvfio_group_close(g);

	/* Viable now, but there is no /dev/vfio/2 in the fake devfs. */
	assert_ret(uvfio_device_open(EDU, &o, &d), -ENOENT);
	assert_null(d);
	assert_logged(&lc, "group node");
	assert_logged(&lc, "vfio/2 is missing");
	tree_free(&t);
}

static void test_open_unknown_address(void **state)
{
	struct uvfio_device *d = NULL;

	(void)state;
	world_new();
	assert_ret(uvfio_device_open("0000:09:00.0", &o, &d), -ENOENT);
	assert_null(d);
	assert_logged(&lc, "0000:09:00.0");
	tree_free(&t);
}

static void test_open_no_iommu(void **state)
{
	struct uvfio_device *d = NULL;

	(void)state;
	world_new();
	add_dev(&t, "0000:00:05.0", -1, "vfio-pci");
	assert_ret(uvfio_device_open("0000:00:05.0", &o, &d), -ENODEV);
	assert_null(d);
	assert_logged(&lc, "0000:00:05.0");
	assert_logged(&lc, "no IOMMU");
	tree_free(&t);
}

static void test_cdev_name_resolves(void **state)
{
	struct uvfio_device *d = NULL;
	struct uvfio__opts io;
	char bdf[16], p[PATH_MAX];

	(void)state;
	world_new();
	snprintf(p, sizeof(p), "%s/class/vfio-dev/vfio7", t.sys);
	mkdirs(p);
	link_at("../../../devices/pci0000:00/" EDU, "%s/class/vfio-dev/vfio7/device", t.sys);
	assert_ret(uvfio__opts_copy(&o, &io), 0);
	assert_ret(uvfio__sysfs_cdev_bdf(&io, "/dev/vfio/devices/vfio7", bdf), 0);
	assert_string_equal(bdf, EDU);
	assert_ret(uvfio__sysfs_cdev_bdf(&io, "vfio7", bdf), 0);
	assert_string_equal(bdf, EDU);

	/* The whole way: to group 2, which the NVMe still spoils. */
	assert_ret(uvfio_device_open("/dev/vfio/devices/vfio7", &o, &d), -EPERM);
	assert_null(d);
	assert_logged(&lc, NVME);
	assert_logged(&lc, "nvme");
	/* And under the devfs the options name. */
	snprintf(p, sizeof(p), "%s/vfio/devices/vfio7", t.dev);
	assert_ret(uvfio_device_open(p, &o, &d), -EPERM);

	assert_ret(uvfio__sysfs_cdev_bdf(&io, "/dev/vfio/devices/vfio8", bdf), -ENOENT);
	assert_ret(uvfio_device_open("/dev/vfio/devices/vfio8", &o, &d), -ENOENT);
	tree_free(&t);
}

static void test_cdev_usable(void **state)
{
	struct uvfio_device *d = NULL;
	struct uvfio__opts io;
	char p[PATH_MAX];

	(void)state;
	world_new();
	assert_ret(uvfio__opts_copy(&o, &io), 0);
	assert_false(uvfio__cdev_usable(&io, EDU));
	snprintf(p, sizeof(p), "%s/devices/pci0000:00/%s/vfio-dev/vfio7", t.sys, EDU);
	mkdirs(p);
	assert_false(uvfio__cdev_usable(&io, EDU)); /* no <devfs>/iommu */
	touch("%s/iommu", t.dev);
	assert_true(uvfio__cdev_usable(&io, EDU));
	assert_false(uvfio__cdev_usable(&io, NVME));

	/* Blockers are refused on the cdev path too. */
	assert_ret(uvfio_device_open(EDU, &o, &d), -EPERM);
	assert_logged(&lc, "nvme");

	/*
	 * Viable: the cdev path opens <devfs>/iommu, a regular file here, and
	 * IOAS_ALLOC fails; everything opened on the way must be closed.
	 */
	bind_to(&t, NVME, "vfio-pci");
	log_reset();
	assert_ret(uvfio_device_open(EDU, &o, &d), -ENOTTY);
	assert_null(d);
	assert_logged(&lc, "IOMMU_IOAS_ALLOC");

	/* The legacy path when asked for. */
	o.flags = UVFIO_OPEN_F_NO_IOMMUFD;
	assert_ret(uvfio_device_open(EDU, &o, &d), -ENOENT);
	assert_logged(&lc, "group node");
	tree_free(&t);
}

static void test_group_node_not_vfio(void **state)
{
	struct uvfio_device *d = NULL;
	char p[PATH_MAX];

	(void)state;
	world_new();
	bind_to(&t, NVME, "vfio-pci");
	snprintf(p, sizeof(p), "%s/vfio", t.dev);
	mkdirs(p);
	touch("%s/vfio/2", t.dev);
	/* The node opens but is no VFIO group: GET_STATUS fails, the fd is closed. */
	assert_ret(uvfio_device_open(EDU, &o, &d), -ENOTTY);
	assert_null(d);
	assert_logged(&lc, "VFIO_GROUP_GET_STATUS");

	if (geteuid() != 0) {
		/* Permissions: the message says which node and what to run. */
		snprintf(p, sizeof(p), "%s/vfio/2", t.dev);
		assert_ret(chmod(p, 0), 0);
		log_reset();
		assert_ret(uvfio_device_open(EDU, &o, &d), -EACCES);
		assert_logged(&lc, "chown");
		assert_logged(&lc, p);
	}
	tree_free(&t);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_group_without_devfs), UVFIO_TEST(test_group_unknown),
		UVFIO_TEST(test_open_not_viable), UVFIO_TEST(test_open_node_missing),
		UVFIO_TEST(test_open_unknown_address), UVFIO_TEST(test_open_no_iommu),
		UVFIO_TEST(test_cdev_name_resolves), UVFIO_TEST(test_cdev_usable),
		UVFIO_TEST(test_group_node_not_vfio))
