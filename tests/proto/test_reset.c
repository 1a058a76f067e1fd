// SPDX-License-Identifier: BSD-3-Clause
/*
 * DEVICE_RESET (and the Function-Level Reset that behaves the same): the
 * model's registers, pending interrupts and the power state go back to
 * their power-on values; BAR addresses, the command register, DMA mappings
 * and the client's interrupt setup survive.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define GUEST 0x100000ull
#define CMD   (UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER)

struct ctx {
	struct peer p;
	struct peer_memfd g;
	int efd[DMA_MSIX_VECS];
};

static void start(struct ctx *c)
{
	assert_ret(peer_start(&c->p, NULL), 0);
	assert_ret(peer_hello(&c->p), 0);
	peer_cfg_wr(&c->p, 0x10, 0xfebf0000, 4);
	peer_cfg_wr(&c->p, 0x18, 0xc0000000, 4);
	peer_cfg_wr(&c->p, 0x1c, 0x1, 4);
	peer_command(&c->p, CMD);
	assert_ret(peer_memfd_new(&c->g, 0x10000), 0);
	memset(c->g.mem, 0x42, 0x1000);
	assert_ret(peer_dma_map(&c->p, GUEST, 0x10000, UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE,
				c->g.fd, 0),
		   0);
	for (int i = 0; i < DMA_MSIX_VECS; i++) {
		c->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(c->efd[i] >= 0);
	}
}

static void stop(struct ctx *c)
{
	assert_true(peer_in_sync(&c->p));
	assert_int_equal(peer_stop(&c->p), 0);
	peer_memfd_free(&c->g);
	for (int i = 0; i < DMA_MSIX_VECS; i++)
		close(c->efd[i]);
}

static void device_reset(struct peer *p)
{
	struct peer_msg m;

	assert_ret(peer_call_rc(p, UVFIO_CMD_DEVICE_RESET, NULL, 0, NULL, 0, &m), 0);
	assert_int_equal(m.len, 0);
	peer_msg_free(&m);
}

static void raise_vec(struct ctx *c, uint32_t v)
{
	peer_reg_wr(&c->p, DMA_REG_IRQ_VECTOR, v);
	assert_int_equal(peer_copy(&c->p, NULL, GUEST, GUEST + 0x8000, 0x1000, DMA_CTRL_IRQ),
			 DMA_STATUS_DONE);
}

/* Registers written, an error status, a pending MSI-X vector: reset state to check. */
static void dirty_device(struct ctx *c)
{
	assert_ret(peer_set_irqs(&c->p, UVFIO_PCI_MSIX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0,
				 DMA_MSIX_VECS, c->efd, DMA_MSIX_VECS),
		   0);
	peer_reg_wr(&c->p, DMA_REG_SCRATCH, 0x1234);
	peer_msix_set_vctrl(&c->p, 1, UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	raise_vec(c, 1);
	assert_int_equal(peer_msix_pba(&c->p), 1u << 1);
	assert_int_equal(peer_copy(&c->p, NULL, 0x9000000, GUEST, 16, 0) & DMA_STATUS_ERROR,
			 DMA_STATUS_ERROR);
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_XFERS), 2);
}

/* What must have survived, and what must have been reset. */
static void check_after_reset(struct ctx *c)
{
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_SCRATCH), 0);
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_STATUS), 0);
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_XFERS), 0);
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_SRC_LO), 0);
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_ERR_LO), 0);
	assert_int_equal(peer_reg_rd(&c->p, DMA_REG_IRQ_VECTOR), 0);
	/* The pending vector is forgotten: unmasking delivers nothing. */
	assert_int_equal(peer_msix_pba(&c->p), 0);
	peer_msix_set_vctrl(&c->p, 1, 0);
	assert_int_equal(peer_wait_efd(c->efd[1], 0), 0);
	/* BARs and the command register are as the client left them. */
	assert_int_equal(peer_cfg_rd(&c->p, 0x10, 4), 0xfebf0000);
	assert_int_equal(peer_cfg_rd(&c->p, 0x18, 4), 0xc000000c);
	assert_int_equal(peer_cfg_rd(&c->p, 0x1c, 4), 0x1);
	assert_int_equal(peer_cfg_rd(&c->p, UVFIO_PCI_COMMAND, 2), CMD);
	/* MSI-X is still enabled with the same eventfds; the mapping still works. */
	assert_true(peer_cfg_rd(&c->p, peer_cap_find(&c->p, UVFIO_PCI_CAP_ID_MSIX) +
					UVFIO_PCI_MSIX_FLAGS, 2) &
		    UVFIO_PCI_MSIX_FLAGS_ENABLE);
	memset(c->g.mem + 0x8000, 0, 0x1000);
	raise_vec(c, 2);
	assert_int_equal(peer_wait_efd(c->efd[2], 1000), 1);
	assert_memory_equal(c->g.mem, c->g.mem + 0x8000, 0x1000);
	raise_vec(c, 1);
	assert_int_equal(peer_wait_efd(c->efd[1], 1000), 1);
}

static void test_device_reset(void **state)
{
	struct ctx c;

	start(&c);
	dirty_device(&c);
	device_reset(&c.p);
	check_after_reset(&c);
	/* Twice in a row is fine. */
	device_reset(&c.p);
	device_reset(&c.p);
	raise_vec(&c, 0);
	assert_int_equal(peer_wait_efd(c.efd[0], 1000), 1);
	stop(&c);
}

static void test_flr_resets_the_same(void **state)
{
	uint32_t devctl;
	struct ctx c;

	start(&c);
	devctl = peer_cap_find(&c.p, UVFIO_PCI_CAP_ID_EXP) + UVFIO_PCI_EXP_DEVCTL;
	dirty_device(&c);
	peer_cfg_wr(&c.p, devctl, peer_cfg_rd(&c.p, devctl, 2) | UVFIO_PCI_EXP_DEVCTL_BCR_FLR, 2);
	check_after_reset(&c);
	stop(&c);
}

static void test_reset_intx(void **state)
{
	struct ctx c;

	start(&c);
	assert_ret(peer_set_irqs(&c.p, UVFIO_PCI_INTX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
				 c.efd, 1),
		   0);
	raise_vec(&c, 0);
	assert_int_equal(peer_wait_efd(c.efd[0], 0), 1);
	raise_vec(&c, 0); /* automasked: pending */
	assert_true(peer_cfg_rd(&c.p, UVFIO_PCI_STATUS, 2) & UVFIO_PCI_STATUS_INTERRUPT);
	device_reset(&c.p);
	assert_false(peer_cfg_rd(&c.p, UVFIO_PCI_STATUS, 2) & UVFIO_PCI_STATUS_INTERRUPT);
	assert_ret(peer_set_irqs(&c.p, UVFIO_PCI_INTX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK, 0, 1, NULL,
				 0),
		   0);
	assert_int_equal(peer_wait_efd(c.efd[0], 0), 0);
	/* INTx is still enabled with its eventfd. */
	raise_vec(&c, 0);
	assert_int_equal(peer_wait_efd(c.efd[0], 1000), 1);
	stop(&c);
}

static void test_reset_msi_pending(void **state)
{
	uint32_t msi;
	struct ctx c;

	start(&c);
	msi = peer_cap_find(&c.p, UVFIO_PCI_CAP_ID_MSI);
	assert_ret(peer_set_irqs(&c.p, UVFIO_PCI_MSI_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
				 c.efd, 1),
		   0);
	peer_cfg_wr(&c.p, msi + 16, 1, 4);
	raise_vec(&c, 0);
	assert_int_equal(peer_cfg_rd(&c.p, msi + 20, 4), 1);
	device_reset(&c.p);
	assert_int_equal(peer_cfg_rd(&c.p, msi + 20, 4), 0);
	peer_cfg_wr(&c.p, msi + 16, 0, 4);
	assert_int_equal(peer_wait_efd(c.efd[0], 0), 0);
	assert_true(peer_cfg_rd(&c.p, msi + UVFIO_PCI_MSI_FLAGS, 2) & UVFIO_PCI_MSI_FLAGS_ENABLE);
	raise_vec(&c, 0);
	assert_int_equal(peer_wait_efd(c.efd[0], 1000), 1);
	stop(&c);
}

static void test_reset_power_state(void **state)
{
	uint32_t ctl;
	struct ctx c;

	start(&c);
	ctl = peer_cap_find(&c.p, UVFIO_PCI_CAP_ID_PM) + UVFIO_PCI_PM_CTRL;
	peer_cfg_wr(&c.p, ctl, 3, 2);
	assert_int_equal(peer_cfg_rd(&c.p, ctl, 2) & UVFIO_PCI_PM_CTRL_STATE_MASK, 3);
	device_reset(&c.p);
	assert_int_equal(peer_cfg_rd(&c.p, ctl, 2) & UVFIO_PCI_PM_CTRL_STATE_MASK, 0);
	stop(&c);
}

/* A posted reset is applied and not answered. */
static void test_reset_no_reply(void **state)
{
	struct uvfio_hdr h = { .id = 0x4444, .cmd = UVFIO_CMD_DEVICE_RESET,
			       .flags = UVFIO_F_NO_REPLY };
	struct ctx c;

	start(&c);
	peer_reg_wr(&c.p, DMA_REG_SCRATCH, 0x99);
	assert_ret(peer_send(&c.p, &h, NULL, 0, NULL, 0), 0);
	assert_int_equal(peer_reg_rd(&c.p, DMA_REG_SCRATCH), 0);
	stop(&c);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_device_reset), UVFIO_TEST(test_flr_resets_the_same),
		UVFIO_TEST(test_reset_intx), UVFIO_TEST(test_reset_msi_pending),
		UVFIO_TEST(test_reset_power_state), UVFIO_TEST(test_reset_no_reply))
