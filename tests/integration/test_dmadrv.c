// SPDX-License-Identifier: BSD-3-Clause
/*
 * drivers/dma against the dma model in another process, over a real
 * socket: probing by IDs, copies through each interrupt type, errors the
 * device reports (surfacing as -EIO with the device's code and address),
 * an interrupt that doesn't come (-ETIMEDOUT, and the driver recovers
 * from the late one), and a server that dies under the driver.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmadrv.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define MiB (1ull << 20)

static struct peer srv;
static struct dmadrv *drv;

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void log_print(void *priv, int level, const char *msg)
{
	(void)priv;
	(void)level;
	printf("# uvfio: %s\n", msg);
}

static const struct uvfio_open_opts open_opts = {
	.argsz = sizeof(struct uvfio_open_opts), .log = log_print, .log_level = UVFIO_LOG_ERR,
	.timeout_ms = 2000,
};

/* A server on a fresh socket path; the test connects through the driver. */
static void server_start(const struct peer_server_opts *o)
{
	assert_ret(peer_start_path(&srv, o), 0);
	close(srv.fd); /* it serves one client at a time: the driver */
	srv.fd = -1;
}

static int teardown(void **state)
{
	int st;

	dmadrv_close(drv);
	drv = NULL;
	st = srv.server > 0 ? peer_stop(&srv) : 0;
	memset(&srv, 0, sizeof(srv));
	/* The server exits 0 only when it closed every fd it was given. */
	assert_int_equal(st, 0);
	return uvfio_test_fd_teardown(state);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, uvfio_test_fd_setup, teardown)

static void fill(void *p, size_t n, uint64_t seed)
{
	uint64_t *q = p;

	for (size_t i = 0; i < n / 8; i++)
		q[i] = (i + seed) * 0x9e3779b97f4a7c15ull;
}

static void bufs(struct uvfio_dma_buf *src, struct uvfio_dma_buf *dst, uint64_t size)
{
	assert_ret(uvfio_dma_alloc(dmadrv_container(drv), size, UVFIO_DMA_READ, src), 0);
	assert_ret(uvfio_dma_alloc(dmadrv_container(drv), size, UVFIO_DMA_WRITE, dst), 0);
	fill(src->vaddr, size, size);
	memset(dst->vaddr, 0, size);
}

static void bufs_free(struct uvfio_dma_buf *src, struct uvfio_dma_buf *dst)
{
	uvfio_dma_free(dmadrv_container(drv), src);
	uvfio_dma_free(dmadrv_container(drv), dst);
}

/* Every interrupt type: a 1 MiB copy and an odd-sized one at odd offsets. */
static void test_copy_each_irq_type(void **state)
{
	static const enum dmadrv_irq modes[] = { DMADRV_IRQ_AUTO, DMADRV_IRQ_MSIX, DMADRV_IRQ_MSI,
						 DMADRV_IRQ_INTX };
	struct uvfio_dma_buf src, dst;
	uint64_t at;

	server_start(NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(modes); i++) {
		assert_ret(dmadrv_open(srv.path, &open_opts, modes[i], &drv), 0);
		assert_int_equal(dmadrv_irq_mode(drv),
				 modes[i] == DMADRV_IRQ_AUTO ? DMADRV_IRQ_MSIX : modes[i]);
		bufs(&src, &dst, 2 * MiB);
		assert_ret(dmadrv_copy(drv, dst.iova, src.iova, MiB, 2000), 0);
		assert_memory_equal(dst.vaddr, src.vaddr, MiB);
		assert_int_equal(dmadrv_error(drv, &at), DMA_ERR_NONE);
		assert_int_equal(at, 0);
		assert_ret(dmadrv_copy(drv, dst.iova + MiB + 3, src.iova + 77, 12345, 2000), 0);
		assert_memory_equal((uint8_t *)dst.vaddr + MiB + 3, (uint8_t *)src.vaddr + 77, 12345);
		/* Nothing past the end was touched. */
		assert_int_equal(((uint8_t *)dst.vaddr)[MiB + 3 + 12345], 0);
		bufs_free(&src, &dst);
		dmadrv_close(drv);
		drv = NULL;
	}
}

/* Many copies in a row: one interrupt each, none lost or taken for the next. */
static void test_copy_sequence(void **state)
{
	struct uvfio_dma_buf src, dst;

	server_start(NULL);
	assert_ret(dmadrv_open(srv.path, &open_opts, DMADRV_IRQ_AUTO, &drv), 0);
	bufs(&src, &dst, MiB);
	for (unsigned i = 0; i < 300; i++) {
		uint64_t off = (i * 4099) % (MiB - 4096);

		assert_ret(dmadrv_copy(drv, dst.iova + off, src.iova + off, 1 + i * 13, 2000), 0);
		assert_memory_equal((uint8_t *)dst.vaddr + off, (uint8_t *)src.vaddr + off,
				    1 + i * 13);
	}
	bufs_free(&src, &dst);
}

/* What the device reports, the driver reports: -EIO, the code, the address. */
static void test_device_errors_surface(void **state)
{
	static uint8_t page[4096] __attribute__((aligned(4096)));
	struct uvfio_dma_buf src, dst;
	struct uvfio_container *c;
	uvfio_iova_t iova;
	uint64_t at;

	server_start(NULL);
	assert_ret(dmadrv_open(srv.path, &open_opts, DMADRV_IRQ_AUTO, &drv), 0);
	c = dmadrv_container(drv);
	bufs(&src, &dst, MiB);
	/* A source nobody mapped. */
	assert_ret(dmadrv_copy(drv, dst.iova, 0x1000, 4096, 2000), -EIO);
	assert_int_equal(dmadrv_error(drv, &at), DMA_ERR_SRC_FAULT);
	assert_int_equal(at, 0x1000);
	/* A destination the device may only read; a source it may only write. */
	assert_ret(dmadrv_copy(drv, src.iova + 4096, src.iova, 64, 2000), -EIO);
	assert_int_equal(dmadrv_error(drv, &at), DMA_ERR_DST_FAULT);
	assert_int_equal(at, src.iova + 4096);
	assert_ret(dmadrv_copy(drv, dst.iova + 4096, dst.iova, 64, 2000), -EIO);
	assert_int_equal(dmadrv_error(drv, &at), DMA_ERR_SRC_FAULT);
	assert_int_equal(at, dst.iova);
	/* Across the end of a mapping: the fault is where it stops. */
	assert_ret(uvfio_container_iova_alloc(c, 2 * 4096, 0, &iova), 0);
	assert_ret(uvfio_container_map(c, &(struct uvfio_mapping){
		.argsz = sizeof(struct uvfio_mapping), .vaddr = page, .size = 4096, .iova = iova,
		.prot = UVFIO_DMA_WRITE, .fd = -1 }), 0);
	assert_ret(dmadrv_copy(drv, iova + 4096 - 16, src.iova, 64, 2000), -EIO);
	assert_int_equal(dmadrv_error(drv, &at), DMA_ERR_DST_FAULT);
	assert_int_equal(at, iova + 4096);
	assert_int_equal(page[4096 - 16], 0);
	assert_ret(uvfio_container_unmap(c, iova, 4096), 0);
	assert_ret(uvfio_container_iova_free(c, iova, 2 * 4096), 0);
	/* Wrapping the bus address space. */
	assert_ret(dmadrv_copy(drv, dst.iova, UINT64_MAX - 15, 64, 2000), -EIO);
	assert_int_equal(dmadrv_error(drv, NULL), DMA_ERR_WRAP);
	/* Nothing of those reached memory, and the engine goes on. */
	for (size_t i = 0; i < MiB; i++)
		if (((uint8_t *)dst.vaddr)[i])
			fail_msg("byte %zu of the destination was written", i);
	assert_ret(dmadrv_copy(drv, dst.iova, src.iova, 4096, 2000), 0);
	assert_memory_equal(dst.vaddr, src.vaddr, 4096);
	assert_int_equal(dmadrv_error(drv, NULL), DMA_ERR_NONE);
	assert_string_equal(dmadrv_strerror(DMA_ERR_SRC_FAULT),
			    "the source is not mapped for the device to read");
	bufs_free(&src, &dst);
}

/* A masked vector: the copy is done but its interrupt stays pending. */
static void test_interrupt_timeout_then_recovery(void **state)
{
	struct uvfio_device *d;
	struct uvfio_dma_buf src, dst;
	uint64_t t;

	server_start(NULL);
	assert_ret(dmadrv_open(srv.path, &open_opts, DMADRV_IRQ_MSIX, &drv), 0);
	d = dmadrv_device(drv);
	bufs(&src, &dst, MiB);
	assert_ret(uvfio_device_irq_mask(d, UVFIO_PCI_MSIX_IRQ_INDEX, 0, 1), 0);
	t = now_ms();
	assert_ret(dmadrv_copy(drv, dst.iova, src.iova, 4096, 200), -ETIMEDOUT);
	t = now_ms() - t;
	assert_true(t >= 150 && t < 2000);
	/* The copy itself happened. */
	assert_memory_equal(dst.vaddr, src.vaddr, 4096);
	/* Unmasking delivers the pending interrupt late; the next copy isn't fooled by it. */
	assert_ret(uvfio_device_irq_unmask(d, UVFIO_PCI_MSIX_IRQ_INDEX, 0, 1), 0);
	assert_ret(dmadrv_copy(drv, dst.iova + 8192, 0x2000, 64, 2000), -EIO);
	assert_int_equal(dmadrv_error(drv, NULL), DMA_ERR_SRC_FAULT);
	assert_ret(dmadrv_copy(drv, dst.iova + 8192, src.iova + 8192, 4096, 2000), 0);
	assert_memory_equal((uint8_t *)dst.vaddr + 8192, (uint8_t *)src.vaddr + 8192, 4096);
	bufs_free(&src, &dst);
}

/* A device model with other IDs. */
static int other_model(const struct uvfio_emu_opts *eo, struct uvfio_emu **out)
{
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 0x1b36,
				       .device_id = 0x0005, .class_code = 0xff0000 };
	struct uvfio_emu_region r = { .argsz = sizeof(r), .size = 4096,
				      .flags = UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_WRITE |
					       UVFIO_EMU_REGION_MEM };
	struct uvfio_emu *emu;
	int ret = uvfio_emu_create(eo, &emu);

	if (ret)
		return ret;
	ret = uvfio_emu_setup_pci(emu, &id);
	if (!ret)
		ret = uvfio_emu_setup_region(emu, 0, &r);
	if (!ret)
		ret = uvfio_emu_realize(emu);
	if (ret) {
		uvfio_emu_destroy(emu);
		return ret;
	}
	*out = emu;
	return 0;
}

static void test_probe_refuses_other_device(void **state)
{
	struct peer_server_opts o = { .model = other_model };

	server_start(&o);
	assert_ret(dmadrv_open(srv.path, &open_opts, DMADRV_IRQ_AUTO, &drv), -ENODEV);
	assert_null(drv);
	/* Nothing there at all. */
	assert_ret(dmadrv_open("/nonexistent/dma.sock", &open_opts, DMADRV_IRQ_AUTO, &drv),
		   -ENOENT);
}

/* The server dies: the next copy fails at once, not after its timeout. */
static void test_server_dies(void **state)
{
	struct uvfio_dma_buf src, dst;
	uint64_t t;
	int ret;

	server_start(NULL);
	assert_ret(dmadrv_open(srv.path, &open_opts, DMADRV_IRQ_AUTO, &drv), 0);
	bufs(&src, &dst, MiB);
	assert_ret(dmadrv_copy(drv, dst.iova, src.iova, 4096, 2000), 0);
	kill(srv.server, SIGKILL);
	waitpid(srv.server, NULL, 0);
	srv.server = 0;
	t = now_ms();
	ret = dmadrv_copy(drv, dst.iova, src.iova, 4096, 10000);
	t = now_ms() - t;
	assert_true(ret == -ECONNRESET || ret == -EPIPE);
	assert_true(t < 1000);
	bufs_free(&src, &dst);
	dmadrv_close(drv);
	drv = NULL;
	/* The killed server left its socket behind. */
	unlink(srv.path);
	rmdir(srv.dir);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		TEST(test_copy_each_irq_type),
		TEST(test_copy_sequence),
		TEST(test_device_errors_surface),
		TEST(test_interrupt_timeout_then_recovery),
		TEST(test_probe_refuses_other_device),
		TEST(test_server_dies),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	uvfio_test_tap();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
