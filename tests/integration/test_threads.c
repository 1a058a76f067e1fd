// SPDX-License-Identifier: BSD-3-Clause
/*
 * <uvfio/vfio.h> promises that a device, group or container may be used
 * from several threads. Here one vfio-user device (the dma model in another
 * process) is driven from six threads at once: copies through messages
 * (the server's DMA_READ/WRITE requests arrive while other threads wait for
 * their own replies), copies between fd-backed buffers woken by MSI-X,
 * region reads and writes each in its own window, config space and info
 * queries, and mapping churn on the shared container. Every result is
 * checked. The TSan variant of `make check` runs this suite.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma_regs.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"
#include "uvfio/vfio.h"

#define KiB (1ull << 10)

static struct peer srv;
static struct uvfio_device *dev;
static atomic_uint failures;
static pthread_mutex_t engine = PTHREAD_MUTEX_INITIALIZER; /* one copy at a time */

#define CHECK(cond, ...)                                                                          \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			printf("# %s:%d: %s: ", __func__, __LINE__, #cond);                       \
			printf(__VA_ARGS__);                                                      \
			printf("\n");                                                             \
			atomic_fetch_add(&failures, 1);                                           \
			return NULL;                                                              \
		}                                                                                 \
	} while (0)

static void log_print(void *priv, int level, const char *msg)
{
	(void)priv;
	(void)level;
	printf("# uvfio: %s\n", msg);
}

static uint32_t reg_rd(uint32_t off, int *err)
{
	uint32_t v = 0;

	*err = uvfio_device_read(dev, DMA_BAR_REGS, off, &v, 4);
	return v;
}

static int reg_wr(uint32_t off, uint32_t v)
{
	return uvfio_device_write(dev, DMA_BAR_REGS, off, &v, 4);
}

/* One copy on the engine (serialised: it has one set of registers). */
static int copy(uint64_t src, uint64_t dst, uint64_t len, bool irq, uint32_t *status)
{
	int err = 0;

	pthread_mutex_lock(&engine);
	err = err ?: reg_wr(DMA_REG_SRC_LO, (uint32_t)src);
	err = err ?: reg_wr(DMA_REG_SRC_HI, (uint32_t)(src >> 32));
	err = err ?: reg_wr(DMA_REG_DST_LO, (uint32_t)dst);
	err = err ?: reg_wr(DMA_REG_DST_HI, (uint32_t)(dst >> 32));
	err = err ?: reg_wr(DMA_REG_LEN_LO, (uint32_t)len);
	err = err ?: reg_wr(DMA_REG_LEN_HI, (uint32_t)(len >> 32));
	err = err ?: reg_wr(DMA_REG_IRQ_VECTOR, 0);
	err = err ?: reg_wr(DMA_REG_CTRL, DMA_CTRL_START | (irq ? DMA_CTRL_IRQ : 0));
	if (!err && irq)
		err = uvfio_device_irq_wait(dev, UVFIO_PCI_MSIX_IRQ_INDEX, 0, 2000, NULL);
	if (!err)
		*status = reg_rd(DMA_REG_STATUS, &err);
	if (!err)
		err = reg_wr(DMA_REG_STATUS, *status & (DMA_STATUS_DONE | DMA_STATUS_ERROR));
	pthread_mutex_unlock(&engine);
	return err;
}

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 167 + seed + (i >> 8));
}

#define ITER_COPY 200
#define ITER_REGION 2000
#define ITER_INFO 2000
#define ITER_MAP 1000

/* Copies between malloc'ed memory: the server reads and writes it with messages. */
static void *copies_by_message(void *arg)
{
	struct uvfio_container *c = uvfio_device_container(dev);
	const uint64_t len = 64 * KiB;
	uint8_t *a = aligned_alloc(4096, len), *b = aligned_alloc(4096, len);
	uvfio_iova_t ia = 0, ib = 0;
	uint32_t st = 0;
	int ret;

	(void)arg;
	CHECK(a && b, "out of memory");
	fill(a, len, 1);
	CHECK(!uvfio_container_iova_alloc(c, len, 0, &ia), "iova");
	CHECK(!uvfio_container_iova_alloc(c, len, 0, &ib), "iova");
	CHECK(!uvfio_container_map(c, &(struct uvfio_mapping){
		.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ | UVFIO_DMA_WRITE,
		.vaddr = a, .size = len, .iova = ia, .fd = -1 }), "map a");
	CHECK(!uvfio_container_map(c, &(struct uvfio_mapping){
		.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ | UVFIO_DMA_WRITE,
		.vaddr = b, .size = len, .iova = ib, .fd = -1 }), "map b");
	for (unsigned i = 0; i < ITER_COPY; i++) {
		uint64_t off = (i * 4099) % (len / 2), n = len / 2 - (i % 7);

		memset(b, 0, len);
		fill(a, len, i);
		ret = copy(ia + off, ib + off / 2, n, false, &st);
		CHECK(!ret, "copy %u: %s", i, strerror(-ret));
		CHECK((st & (DMA_STATUS_DONE | DMA_STATUS_ERROR)) == DMA_STATUS_DONE,
		      "copy %u: status %#x", i, st);
		CHECK(!memcmp(b + off / 2, a + off, n), "copy %u: data differs", i);
	}
	CHECK(!uvfio_container_unmap(c, ia, len), "unmap a");
	CHECK(!uvfio_container_unmap(c, ib, len), "unmap b");
	CHECK(!uvfio_container_iova_free(c, ia, len), "free a");
	CHECK(!uvfio_container_iova_free(c, ib, len), "free b");
	free(a);
	free(b);
	return NULL;
}

/* Copies between uvfio_dma_alloc() buffers, completion by MSI-X. */
static void *copies_with_irq(void *arg)
{
	struct uvfio_container *c = uvfio_device_container(dev);
	const uint64_t len = 256 * KiB;
	struct uvfio_dma_buf s, d;
	uint32_t st = 0;
	int ret;

	(void)arg;
	CHECK(!uvfio_dma_alloc(c, len, UVFIO_DMA_READ, &s), "alloc");
	CHECK(!uvfio_dma_alloc(c, len, UVFIO_DMA_WRITE, &d), "alloc");
	for (unsigned i = 0; i < ITER_COPY; i++) {
		fill(s.vaddr, len, 77 + i);
		memset(d.vaddr, 0, len);
		ret = copy(s.iova, d.iova, len, true, &st);
		CHECK(!ret, "copy %u: %s", i, strerror(-ret));
		CHECK((st & (DMA_STATUS_DONE | DMA_STATUS_ERROR)) == DMA_STATUS_DONE,
		      "copy %u: status %#x", i, st);
		CHECK(!memcmp(d.vaddr, s.vaddr, len), "copy %u: data differs", i);
	}
	uvfio_dma_free(c, &s);
	uvfio_dma_free(c, &d);
	return NULL;
}

/* Region writes and reads in this thread's own window of BAR2, and the ID register. */
static void *region_rw(void *arg)
{
	unsigned slot = (unsigned)(uintptr_t)arg;
	uint64_t base = 0x1000 * (slot + 1);
	uint8_t out[96], in[96];
	int err;

	for (unsigned i = 0; i < ITER_REGION; i++) {
		fill(out, sizeof(out), slot * 1000 + i);
		err = uvfio_device_write(dev, DMA_BAR_MEM, base + i % 64, out, sizeof(out));
		CHECK(!err, "write %u: %s", i, strerror(-err));
		memset(in, 0, sizeof(in));
		err = uvfio_device_read(dev, DMA_BAR_MEM, base + i % 64, in, sizeof(in));
		CHECK(!err, "read %u: %s", i, strerror(-err));
		CHECK(!memcmp(in, out, sizeof(in)), "slot %u iteration %u: read back differs", slot, i);
		CHECK(reg_rd(DMA_REG_ID, &err) == DMA_ID_MAGIC && !err, "ID register (%d)", err);
	}
	return NULL;
}

/* Config space, capabilities, region and IRQ info. */
static void *queries(void *arg)
{
	struct uvfio_device_info di = { .argsz = sizeof(di) };
	uint16_t ids[2];
	int err;

	(void)arg;
	for (unsigned i = 0; i < ITER_INFO; i++) {
		struct uvfio_irq_info ii = { .argsz = sizeof(ii) };
		struct uvfio_region r = { .argsz = sizeof(r) };

		err = uvfio_device_cfg_read(dev, 0, ids, sizeof(ids));
		CHECK(!err, "cfg read: %s", strerror(-err));
		CHECK(ids[0] == DMA_PCI_VENDOR_ID && ids[1] == DMA_PCI_DEVICE_ID, "IDs %04x:%04x",
		      ids[0], ids[1]);
		CHECK(uvfio_device_find_cap(dev, UVFIO_PCI_CAP_ID_MSIX, false) > 0, "no MSI-X cap");
		err = uvfio_device_irq_info(dev, UVFIO_PCI_MSIX_IRQ_INDEX, &ii);
		CHECK(!err && ii.count == DMA_MSIX_VECS, "MSI-X info %d, %u vectors", err, ii.count);
		err = uvfio_device_region(dev, DMA_BAR_MEM, &r);
		CHECK(!err && r.size == DMA_MEM_SIZE, "BAR2 info %d, size %" PRIu64, err, r.size);
		err = uvfio_device_get_info(dev, &di);
		CHECK(!err && di.num_irqs >= 5, "device info %d", err);
	}
	return NULL;
}

/* Mapping churn on the shared container: fixed IOVAs, memfds and anonymous memory. */
static void *mapper(void *arg)
{
	struct uvfio_container *c = uvfio_device_container(dev);
	long page = sysconf(_SC_PAGESIZE);
	int err;

	(void)arg;
	for (unsigned i = 0; i < ITER_MAP; i++) {
		struct uvfio_dma_buf b;
		uvfio_iova_t iova;
		void *p;

		err = uvfio_dma_alloc(c, (uint64_t)page * (1 + i % 5), UVFIO_DMA_READ, &b);
		CHECK(!err, "alloc %u: %s", i, strerror(-err));
		p = mmap(NULL, (size_t)page * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		CHECK(p != MAP_FAILED, "mmap");
		err = uvfio_container_iova_alloc(c, (uint64_t)page * 4, 0, &iova);
		CHECK(!err, "iova %u: %s", i, strerror(-err));
		err = uvfio_container_map(c, &(struct uvfio_mapping){
			.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ,
			.vaddr = p, .size = (uint64_t)page * 4, .iova = iova, .fd = -1 });
		CHECK(!err, "map %u: %s", i, strerror(-err));
		/* The same range twice is refused, whoever else is mapping. */
		err = uvfio_container_map(c, &(struct uvfio_mapping){
			.argsz = sizeof(struct uvfio_mapping), .prot = UVFIO_DMA_READ,
			.vaddr = p, .size = (uint64_t)page, .iova = iova, .fd = -1 });
		CHECK(err == -EEXIST, "overlap %u: %d", i, err);
		CHECK(!uvfio_container_unmap(c, iova, (uint64_t)page * 4), "unmap %u", i);
		CHECK(!uvfio_container_iova_free(c, iova, (uint64_t)page * 4), "iova free %u", i);
		munmap(p, (size_t)page * 4);
		uvfio_dma_free(c, &b);
	}
	return NULL;
}

static void test_one_device_six_threads(void **state)
{
	static void *(*const fns[])(void *) = { copies_by_message, copies_with_irq, region_rw,
						   region_rw, queries, mapper };
	struct uvfio_open_opts o = { .argsz = sizeof(o), .log = log_print,
				     .log_level = UVFIO_LOG_ERR, .timeout_ms = 10000 };
	pthread_t t[ARRAY_SIZE(fns)];
	uint32_t ctrl = 0;
	uint16_t cmd;

	(void)state;
	assert_ret(peer_start_path(&srv, NULL), 0);
	close(srv.fd);
	srv.fd = -1;
	assert_ret(uvfio_device_open(srv.path, &o, &dev), 0);
	assert_ret(uvfio_device_cfg_read(dev, UVFIO_PCI_COMMAND, &cmd, 2), 0);
	cmd |= UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	assert_ret(uvfio_device_cfg_write(dev, UVFIO_PCI_COMMAND, &cmd, 2), 0);
	assert_ret(uvfio_device_irq_enable(dev, UVFIO_PCI_MSIX_IRQ_INDEX, 1), 0);
	assert_ret(uvfio_device_write(dev, DMA_BAR_REGS, DMA_REG_CTRL, &ctrl, 4), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(fns); i++)
		assert_int_equal(pthread_create(&t[i], NULL, fns[i], (void *)(uintptr_t)i), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(fns); i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&failures), 0);
	/* The device and the session are still sound. */
	assert_ret(uvfio_device_irq_disable(dev, UVFIO_PCI_MSIX_IRQ_INDEX), 0);
	assert_ret(uvfio_device_reset(dev), 0);
	uvfio_device_close(dev);
	dev = NULL;
	assert_int_equal(peer_stop(&srv), 0);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_device_six_threads, uvfio_test_fd_setup,
						uvfio_test_fd_teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	uvfio_test_tap();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
