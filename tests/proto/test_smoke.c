// SPDX-License-Identifier: BSD-3-Clause
/* First end-to-end session against the dma model: negotiate, inspect, copy. */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

static void test_smoke(void **state)
{
	struct peer p;
	uint32_t v;
	uint16_t cmd;
	int mfd, efd;
	uint8_t *mem;

	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	assert_ret(peer_cfg_read(&p, 0, &v, 4), 0);
	assert_int_equal(v, DMA_PCI_VENDOR_ID | DMA_PCI_DEVICE_ID << 16);
	/* BAR access needs Memory Space enabled. */
	assert_ret(peer_region_read(&p, 0, DMA_REG_ID, &v, 4), -EIO);
	cmd = UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	assert_ret(peer_cfg_write(&p, UVFIO_PCI_COMMAND, &cmd, 2), 0);
	assert_ret(peer_region_read(&p, 0, DMA_REG_ID, &v, 4), 0);
	assert_int_equal(v, DMA_ID_MAGIC);

	mfd = memfd_create("guest", MFD_CLOEXEC);
	assert_true(mfd >= 0);
	assert_ret(ftruncate(mfd, 1 << 20), 0);
	mem = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	assert_true(mem != MAP_FAILED);
	for (int i = 0; i < 4096; i++)
		mem[i] = (uint8_t)i;
	assert_ret(peer_dma_map(&p, 0x100000, 1 << 20, 3, mfd, 0), 0);

	efd = eventfd(0, EFD_CLOEXEC);
	assert_ret(peer_set_irqs(&p, UVFIO_PCI_MSIX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, &efd,
				 1), 0);
	v = 0x100000;
	assert_ret(peer_region_write(&p, 0, DMA_REG_SRC_LO, &v, 4), 0);
	v = 0x180000;
	assert_ret(peer_region_write(&p, 0, DMA_REG_DST_LO, &v, 4), 0);
	v = 4096;
	assert_ret(peer_region_write(&p, 0, DMA_REG_LEN_LO, &v, 4), 0);
	v = DMA_CTRL_START | DMA_CTRL_IRQ;
	assert_ret(peer_region_write(&p, 0, DMA_REG_CTRL, &v, 4), 0);
	assert_int_equal(peer_wait_efd(efd, 2000), 1);
	assert_ret(peer_region_read(&p, 0, DMA_REG_STATUS, &v, 4), 0);
	assert_int_equal(v, DMA_STATUS_DONE);
	assert_memory_equal(mem, mem + 0x80000, 4096);

	munmap(mem, 1 << 20);
	close(mfd);
	close(efd);
	assert_int_equal(peer_stop(&p), 0);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_smoke))
