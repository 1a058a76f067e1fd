// SPDX-License-Identifier: BSD-3-Clause
/*
 * Interrupts: DEVICE_GET_IRQ_INFO, every SET_IRQS validation rule, and
 * delivery driven by the dma model (a copy with CTRL_IRQ raises
 * IRQ_VECTOR): MSI-X with table masks, the function mask, the PBA and
 * SET_IRQS MASK/UNMASK; MSI with per-vector masks; INTx with automasking
 * and Interrupt Disable; one type at a time; loopback triggers; ERR/REQ;
 * Bus Master. An interrupt is signalled before the reply to the register
 * write that caused it, so "not signalled" is checked without waiting.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define INTX UVFIO_PCI_INTX_IRQ_INDEX
#define MSI  UVFIO_PCI_MSI_IRQ_INDEX
#define MSIX UVFIO_PCI_MSIX_IRQ_INDEX
#define ERR  UVFIO_PCI_ERR_IRQ_INDEX
#define REQ  UVFIO_PCI_REQ_IRQ_INDEX

#define EFD_TRIGGER  (UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER)
#define NONE_TRIGGER (UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_TRIGGER)
#define BOOL_TRIGGER (UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_TRIGGER)
#define NONE_MASK    (UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_MASK)
#define NONE_UNMASK  (UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_UNMASK)
#define BOOL_MASK    (UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_ACTION_MASK)

#define GUEST 0x100000ull

struct ctx {
	struct peer p;
	struct peer_memfd g;
	int efd[DMA_MSIX_VECS];
};

static void start(struct ctx *c)
{
	assert_ret(peer_start(&c->p, NULL), 0);
	assert_ret(peer_hello(&c->p), 0);
	peer_command(&c->p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	assert_ret(peer_memfd_new(&c->g, 0x10000), 0);
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

/* A completed transfer raising @vector. */
static void raise_vec(struct ctx *c, uint32_t vector)
{
	uint32_t st;

	peer_reg_wr(&c->p, DMA_REG_IRQ_VECTOR, vector);
	st = peer_copy(&c->p, NULL, GUEST, GUEST + 0x8000, 16, DMA_CTRL_IRQ);
	assert_true(st & DMA_STATUS_DONE);
}

/* Eventfd counts: signalled already (no waiting: delivery precedes the reply). */
static uint64_t fired(int efd)
{
	return peer_wait_efd(efd, 0);
}

static void assert_none_fired(struct ctx *c)
{
	for (int i = 0; i < DMA_MSIX_VECS; i++)
		assert_int_equal(fired(c->efd[i]), 0);
}

static int set(struct ctx *c, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
	       const int *fds, unsigned nfds)
{
	return peer_set_irqs_raw(&c->p, 20, flags, index, start, count, NULL, 0, fds, nfds);
}

static int set_bool(struct ctx *c, uint32_t index, uint32_t flags, uint32_t start,
		    const uint8_t *data, uint32_t count)
{
	return peer_set_irqs_raw(&c->p, 20 + count, flags, index, start, count, data, count, NULL,
				 0);
}

static void enable_msix(struct ctx *c)
{
	assert_ret(set(c, MSIX, EFD_TRIGGER, 0, DMA_MSIX_VECS, c->efd, DMA_MSIX_VECS), 0);
}

static bool msix_enabled(struct ctx *c)
{
	uint32_t off = peer_cap_find(&c->p, UVFIO_PCI_CAP_ID_MSIX) + UVFIO_PCI_MSIX_FLAGS;

	return peer_cfg_rd(&c->p, off, 2) & UVFIO_PCI_MSIX_FLAGS_ENABLE;
}

static bool msi_enabled(struct ctx *c)
{
	uint32_t off = peer_cap_find(&c->p, UVFIO_PCI_CAP_ID_MSI) + UVFIO_PCI_MSI_FLAGS;

	return peer_cfg_rd(&c->p, off, 2) & UVFIO_PCI_MSI_FLAGS_ENABLE;
}

static void test_irq_info(void **state)
{
	static const struct { uint32_t flags, count; } want[UVFIO_PCI_NUM_IRQS] = {
		[INTX] = { UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE |
				   UVFIO_IRQ_INFO_AUTOMASKED, 1 },
		[MSI] = { UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE |
				  UVFIO_IRQ_INFO_MASKABLE, 1 },
		[MSIX] = { UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE, DMA_MSIX_VECS },
		[ERR] = { UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE, 1 },
		[REQ] = { UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE, 1 },
	};
	struct uvfio_irq_info info;
	uint8_t b[16] = { 0 };
	struct peer_msg m;
	struct peer p;

	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	for (uint32_t i = 0; i < UVFIO_PCI_NUM_IRQS; i++) {
		assert_ret(peer_irq_info(&p, i, &info), 0);
		assert_int_equal(info.argsz, 16);
		assert_int_equal(info.index, i);
		assert_int_equal(info.flags, want[i].flags);
		assert_int_equal(info.count, want[i].count);
	}
	assert_ret(peer_irq_info(&p, UVFIO_PCI_NUM_IRQS, &info), -EINVAL);
	assert_ret(peer_irq_info(&p, 0xffffffff, &info), -EINVAL);
	put_le32(b, 15);
	put_le32(b + 8, MSIX);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_IRQ_INFO, b, 16, NULL, 0, &m), -EINVAL);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&p));
	assert_int_equal(peer_stop(&p), 0);
}

static void test_set_irqs_validation(void **state)
{
	static const uint8_t one[1] = { 1 }, three[3] = { 1, 1, 1 };
	struct ctx c;

	start(&c);
	/* Data and action: exactly one of each, no unknown bits. */
	assert_ret(set(&c, MSIX, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_DATA_BOOL |
				      UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0),
		   -EINVAL);
	assert_ret(set(&c, MSIX, UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_ACTION_MASK |
				      UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0),
		   -EINVAL);
	assert_ret(set(&c, MSIX, UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, UVFIO_IRQ_SET_DATA_NONE, 0, 1, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_TRIGGER | 0x40, 0, 1, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_TRIGGER | 0x80000000u, 0, 1, NULL, 0), -EINVAL);
	assert_ret(peer_set_irqs_raw(&c.p, 19, NONE_TRIGGER, MSIX, 0, 1, NULL, 0, NULL, 0),
		   -EINVAL);
	/* Index and range. */
	assert_ret(set(&c, UVFIO_PCI_NUM_IRQS, NONE_TRIGGER, 0, 1, NULL, 0), -EINVAL);
	assert_ret(set(&c, 0xffffffff, NONE_TRIGGER, 0, 0, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 3, 2, c.efd, 2), -EINVAL);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, DMA_MSIX_VECS, 1, c.efd, 1), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 1, 0xffffffff, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0xffffffff, 2, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSI, EFD_TRIGGER, 0, 2, c.efd, 2), -EINVAL);
	assert_ret(set(&c, INTX, EFD_TRIGGER, 0, 2, c.efd, 2), -EINVAL);
	assert_ret(set(&c, ERR, EFD_TRIGGER, 1, 1, c.efd, 1), -EINVAL);
	/* Count 0 only as DATA_NONE + TRIGGER at start 0. */
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 1, 0, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, BOOL_TRIGGER, 0, 0, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 0, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_MASK, 0, 0, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_UNMASK, 0, 0, NULL, 0), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	/* DATA_BOOL carries exactly count bytes; the others none. (ERR takes a
	 * well-formed BOOL trigger without being enabled: the control case.) */
	assert_ret(set_bool(&c, UVFIO_PCI_ERR_IRQ_INDEX, BOOL_TRIGGER, 0, one, 1), 0);
	assert_ret(peer_set_irqs_raw(&c.p, 22, BOOL_TRIGGER, MSIX, 0, 2, one, 1, NULL, 0), -EINVAL);
	assert_ret(peer_set_irqs_raw(&c.p, 22, BOOL_TRIGGER, MSIX, 0, 2, three, 3, NULL, 0),
		   -EINVAL);
	assert_ret(peer_set_irqs_raw(&c.p, 21, NONE_TRIGGER, MSIX, 0, 1, one, 1, NULL, 0), -EINVAL);
	assert_ret(peer_set_irqs_raw(&c.p, 21, EFD_TRIGGER, MSIX, 0, 1, one, 1, c.efd, 1),
		   -EINVAL);
	/* DATA_EVENTFD: count fds or none; fds with other data types are refused. */
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 2, c.efd, 1), -EINVAL);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 2, c.efd, 3), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	assert_ret(set(&c, MSIX, NONE_MASK, 0, 1, c.efd, 1), -EINVAL);
	assert_ret(peer_set_irqs_raw(&c.p, 21, BOOL_TRIGGER, MSIX, 0, 1, one, 1, c.efd, 1),
		   -EINVAL);
	/* None of the refused requests enabled anything or kept an fd. */
	assert_false(msix_enabled(&c));
	assert_false(msi_enabled(&c));
	raise_vec(&c, 0);
	assert_none_fired(&c);
	stop(&c);
}

static void test_msix_delivery(void **state)
{
	struct ctx c;

	start(&c);
	for (uint32_t v = 0; v < DMA_MSIX_VECS; v++)
		assert_int_equal(peer_msix_vctrl(&c.p, v), UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	enable_msix(&c);
	assert_true(msix_enabled(&c));
	/* Enabling unmasks the vectors, as the kernel's enable does. */
	for (uint32_t v = 0; v < DMA_MSIX_VECS; v++)
		assert_int_equal(peer_msix_vctrl(&c.p, v), 0);
	for (uint32_t v = 0; v < DMA_MSIX_VECS; v++) {
		raise_vec(&c, v);
		for (uint32_t w = 0; w < DMA_MSIX_VECS; w++)
			assert_int_equal(fired(c.efd[w]), v == w);
	}
	/* A vector past the table raises nothing. */
	raise_vec(&c, DMA_MSIX_VECS);
	assert_none_fired(&c);
	assert_int_equal(peer_msix_pba(&c.p), 0);
	/* Disable: the enable bit clears and nothing is delivered. */
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_false(msix_enabled(&c));
	raise_vec(&c, 0);
	assert_none_fired(&c);
	stop(&c);
}

/* Vectors may be added while MSI-X is enabled; a vector may be unbound. */
static void test_msix_vectors_added_and_unbound(void **state)
{
	int extra, base;
	struct ctx c;

	start(&c);
	base = peer_server_fds(&c.p);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 2, c.efd, 2), 0);
	assert_int_equal(peer_server_fds(&c.p), base + 2);
	raise_vec(&c, 3);
	assert_none_fired(&c);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 2, 2, c.efd + 2, 2), 0);
	assert_int_equal(peer_server_fds(&c.p), base + 4);
	raise_vec(&c, 3);
	assert_int_equal(fired(c.efd[3]), 1);
	/* Unbind vector 1 (DATA_EVENTFD without fds): its interrupts go nowhere. */
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 1, 1, NULL, 0), 0);
	assert_int_equal(peer_server_fds(&c.p), base + 3);
	raise_vec(&c, 1);
	assert_none_fired(&c);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[0]), 1);
	/* Rebinding replaces (and the server closes what it held). */
	extra = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(extra >= 0);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 1, 1, &extra, 1), 0);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 1, &extra, 1), 0);
	assert_int_equal(peer_server_fds(&c.p), base + 4);
	raise_vec(&c, 1);
	assert_int_equal(fired(extra), 1);
	raise_vec(&c, 0);
	assert_int_equal(fired(extra), 1);
	assert_none_fired(&c);
	/* Disabling closes them all. */
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_int_equal(peer_server_fds(&c.p), base);
	stop(&c);
	close(extra);
}

static void test_msix_table_mask(void **state)
{
	struct ctx c;

	start(&c);
	enable_msix(&c);
	peer_msix_set_vctrl(&c.p, 1, UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	raise_vec(&c, 1);
	assert_none_fired(&c);
	assert_int_equal(peer_msix_pba(&c.p), 1u << 1);
	/* Other vectors are unaffected. */
	raise_vec(&c, 2);
	assert_int_equal(fired(c.efd[2]), 1);
	/* Unmasking delivers the pending interrupt, once, and clears its bit. */
	peer_msix_set_vctrl(&c.p, 1, 0);
	assert_int_equal(fired(c.efd[1]), 1);
	assert_int_equal(peer_msix_pba(&c.p), 0);
	assert_none_fired(&c);
	stop(&c);
}

static void test_msix_function_mask(void **state)
{
	uint32_t ctl;
	struct ctx c;

	start(&c);
	ctl = peer_cap_find(&c.p, UVFIO_PCI_CAP_ID_MSIX) + UVFIO_PCI_MSIX_FLAGS;
	enable_msix(&c);
	peer_cfg_wr(&c.p, ctl, UVFIO_PCI_MSIX_FLAGS_MASKALL, 2);
	raise_vec(&c, 0);
	raise_vec(&c, 2);
	raise_vec(&c, 2);
	assert_none_fired(&c);
	assert_int_equal(peer_msix_pba(&c.p), 1u << 0 | 1u << 2);
	/* The enable bit is untouched by writes of the control word. */
	assert_true(msix_enabled(&c));
	/* A vector also masked in the table stays pending after the function unmask. */
	peer_msix_set_vctrl(&c.p, 2, UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	peer_cfg_wr(&c.p, ctl, 0, 2);
	assert_int_equal(fired(c.efd[0]), 1);
	assert_int_equal(fired(c.efd[2]), 0);
	assert_int_equal(peer_msix_pba(&c.p), 1u << 2);
	peer_msix_set_vctrl(&c.p, 2, 0);
	assert_int_equal(fired(c.efd[2]), 1); /* pending is one bit: one signal */
	assert_int_equal(peer_msix_pba(&c.p), 0);
	stop(&c);
}

static void test_msix_set_irqs_mask(void **state)
{
	static const uint8_t sel[DMA_MSIX_VECS] = { 1, 0, 1, 0 };
	struct ctx c;

	start(&c);
	enable_msix(&c);
	assert_ret(set(&c, MSIX, NONE_MASK, 3, 1, NULL, 0), 0);
	assert_int_equal(peer_msix_vctrl(&c.p, 3), UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	raise_vec(&c, 3);
	assert_none_fired(&c);
	assert_int_equal(peer_msix_pba(&c.p), 1u << 3);
	assert_ret(set(&c, MSIX, NONE_UNMASK, 3, 1, NULL, 0), 0);
	assert_int_equal(fired(c.efd[3]), 1);
	assert_int_equal(peer_msix_vctrl(&c.p, 3), 0);
	assert_int_equal(peer_msix_pba(&c.p), 0);
	/* DATA_BOOL picks the vectors. */
	assert_ret(set_bool(&c, MSIX, BOOL_MASK, 0, sel, DMA_MSIX_VECS), 0);
	for (uint32_t v = 0; v < DMA_MSIX_VECS; v++)
		assert_int_equal(peer_msix_vctrl(&c.p, v), sel[v]);
	for (uint32_t v = 0; v < DMA_MSIX_VECS; v++)
		raise_vec(&c, v);
	assert_int_equal(fired(c.efd[0]), 0);
	assert_int_equal(fired(c.efd[1]), 1);
	assert_int_equal(fired(c.efd[2]), 0);
	assert_int_equal(fired(c.efd[3]), 1);
	assert_int_equal(peer_msix_pba(&c.p), 0x5);
	/* Unmask all; masked and unmasked with no eventfd work on the table. */
	assert_ret(set(&c, MSIX, NONE_UNMASK, 0, DMA_MSIX_VECS, NULL, 0), 0);
	assert_int_equal(fired(c.efd[0]), 1);
	assert_int_equal(fired(c.efd[2]), 1);
	assert_int_equal(peer_msix_pba(&c.p), 0);
	/* EVENTFD-based masking is not supported. */
	assert_ret(set(&c, MSIX, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_MASK, 0, 1,
		       c.efd, 1),
		   -ENOTTY);
	stop(&c);
}

static void test_msi(void **state)
{
	uint32_t msi, ctl, mask, pend;
	struct ctx c;

	start(&c);
	msi = peer_cap_find(&c.p, UVFIO_PCI_CAP_ID_MSI);
	ctl = msi + UVFIO_PCI_MSI_FLAGS;
	mask = msi + 16; /* 64-bit capability: mask bits at 0x10, pending at 0x14 */
	pend = msi + 20;
	assert_false(msi_enabled(&c));
	assert_ret(set(&c, MSI, EFD_TRIGGER, 0, 1, c.efd, 1), 0);
	assert_true(msi_enabled(&c));
	assert_int_equal(peer_cfg_rd(&c.p, ctl, 2) & UVFIO_PCI_MSI_FLAGS_QSIZE, 0);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[0]), 1);
	raise_vec(&c, 1); /* beyond the enabled vectors */
	assert_none_fired(&c);
	/* Per-vector mask through config space: pending, then delivered on unmask. */
	peer_cfg_wr(&c.p, mask, 1, 4);
	raise_vec(&c, 0);
	assert_none_fired(&c);
	assert_int_equal(peer_cfg_rd(&c.p, pend, 4), 1);
	peer_cfg_wr(&c.p, mask, 0, 4);
	assert_int_equal(fired(c.efd[0]), 1);
	assert_int_equal(peer_cfg_rd(&c.p, pend, 4), 0);
	/* The same mask through SET_IRQS. */
	assert_ret(set(&c, MSI, NONE_MASK, 0, 1, NULL, 0), 0);
	assert_int_equal(peer_cfg_rd(&c.p, mask, 4), 1);
	raise_vec(&c, 0);
	assert_none_fired(&c);
	assert_int_equal(peer_cfg_rd(&c.p, pend, 4), 1);
	assert_ret(set(&c, MSI, NONE_UNMASK, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(c.efd[0]), 1);
	assert_int_equal(peer_cfg_rd(&c.p, mask, 4), 0);
	/* Disable. */
	assert_ret(set(&c, MSI, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_false(msi_enabled(&c));
	raise_vec(&c, 0);
	assert_none_fired(&c);
	stop(&c);
}

static void test_intx(void **state)
{
	struct ctx c;
	int efd;

	start(&c);
	efd = c.efd[0];
	/* Masking INTx before it's enabled is refused. */
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), -EINVAL);
	assert_ret(set(&c, INTX, EFD_TRIGGER, 0, 1, &efd, 1), 0);
	raise_vec(&c, 0);
	assert_int_equal(fired(efd), 1);
	assert_true(peer_cfg_rd(&c.p, UVFIO_PCI_STATUS, 2) & UVFIO_PCI_STATUS_INTERRUPT);
	/* Automasked: the next interrupt waits for UNMASK. */
	raise_vec(&c, 0);
	assert_int_equal(fired(efd), 0);
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(efd), 1);
	/* Delivered again means masked again. */
	raise_vec(&c, 0);
	assert_int_equal(fired(efd), 0);
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(efd), 1);
	/* Unmask with nothing pending: the line drops. */
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(efd), 0);
	assert_false(peer_cfg_rd(&c.p, UVFIO_PCI_STATUS, 2) & UVFIO_PCI_STATUS_INTERRUPT);
	/* Interrupt Disable in the command register holds it back. */
	peer_command(&c.p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER |
				   UVFIO_PCI_COMMAND_INTX_DISABLE);
	raise_vec(&c, 0);
	assert_int_equal(fired(efd), 0);
	assert_true(peer_cfg_rd(&c.p, UVFIO_PCI_STATUS, 2) & UVFIO_PCI_STATUS_INTERRUPT);
	peer_command(&c.p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	assert_int_equal(fired(efd), 1);
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), 0);
	/* MASK action. */
	assert_ret(set(&c, INTX, NONE_MASK, 0, 1, NULL, 0), 0);
	raise_vec(&c, 0);
	assert_int_equal(fired(efd), 0);
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(efd), 1);
	/* The resample (unmask) eventfd isn't implemented; masking by fd isn't a thing. */
	assert_ret(set(&c, INTX, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
		       &c.efd[1], 1),
		   -ENOTSUP);
	assert_ret(set(&c, INTX, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_MASK, 0, 1,
		       &c.efd[1], 1),
		   -ENOTTY);
	/* Loopback. */
	assert_ret(set(&c, INTX, NONE_TRIGGER, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(efd), 1);
	/* Disable. */
	assert_ret(set(&c, INTX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_ret(set(&c, INTX, NONE_UNMASK, 0, 1, NULL, 0), -EINVAL);
	raise_vec(&c, 0);
	assert_none_fired(&c);
	stop(&c);
}

static void test_one_type_at_a_time(void **state)
{
	struct ctx c;

	start(&c);
	enable_msix(&c);
	assert_ret(set(&c, MSI, EFD_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	assert_ret(set(&c, INTX, EFD_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	assert_false(msi_enabled(&c));
	raise_vec(&c, 1);
	assert_int_equal(fired(c.efd[1]), 1);
	/* Disable with count 0, then switch. */
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_ret(set(&c, MSI, EFD_TRIGGER, 0, 1, &c.efd[2], 1), 0);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	assert_ret(set(&c, INTX, EFD_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[2]), 1);
	assert_none_fired(&c);
	assert_ret(set(&c, MSI, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_ret(set(&c, INTX, EFD_TRIGGER, 0, 1, &c.efd[3], 1), 0);
	assert_ret(set(&c, MSIX, EFD_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	assert_ret(set(&c, MSI, EFD_TRIGGER, 0, 1, c.efd, 1), -EINVAL);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[3]), 1);
	assert_ret(set(&c, INTX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	enable_msix(&c);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[0]), 1);
	assert_none_fired(&c);
	stop(&c);
}

static void test_loopback_trigger(void **state)
{
	static const uint8_t sel[DMA_MSIX_VECS] = { 0, 1, 0, 1 };
	struct ctx c;

	start(&c);
	/* Not enabled: refused, as the kernel does. */
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, DMA_MSIX_VECS, NULL, 0), -EINVAL);
	enable_msix(&c);
	assert_none_fired(&c);
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 2, 1, NULL, 0), 0);
	assert_int_equal(fired(c.efd[2]), 1);
	assert_none_fired(&c);
	assert_ret(set_bool(&c, MSIX, BOOL_TRIGGER, 0, sel, DMA_MSIX_VECS), 0);
	assert_int_equal(fired(c.efd[0]), 0);
	assert_int_equal(fired(c.efd[1]), 1);
	assert_int_equal(fired(c.efd[2]), 0);
	assert_int_equal(fired(c.efd[3]), 1);
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, DMA_MSIX_VECS, NULL, 0), 0);
	for (int v = 0; v < DMA_MSIX_VECS; v++)
		assert_int_equal(fired(c.efd[v]), 1);
	stop(&c);
}

static void err_req(struct ctx *c, uint32_t index)
{
	static const uint8_t yes[1] = { 1 };

	assert_ret(set(c, index, EFD_TRIGGER, 0, 1, c->efd, 2), -EINVAL);
	assert_ret(set(c, index, EFD_TRIGGER, 0, 1, c->efd, 1), 0);
	assert_ret(set(c, index, NONE_TRIGGER, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(c->efd[0]), 1);
	assert_ret(set_bool(c, index, BOOL_TRIGGER, 0, yes, 1), 0);
	assert_int_equal(fired(c->efd[0]), 1);
	assert_ret(set(c, index, NONE_MASK, 0, 1, NULL, 0), -ENOTTY);
	assert_ret(set(c, index, NONE_UNMASK, 0, 1, NULL, 0), -ENOTTY);
	assert_ret(set(c, index, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_UNMASK, 0, 1,
		       c->efd, 1),
		   -ENOTTY);
	/* Replace, then unbind (no fds), then disable. */
	assert_ret(set(c, index, EFD_TRIGGER, 0, 1, &c->efd[1], 1), 0);
	assert_ret(set(c, index, NONE_TRIGGER, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(c->efd[1]), 1);
	assert_ret(set(c, index, EFD_TRIGGER, 0, 1, NULL, 0), 0);
	assert_ret(set(c, index, NONE_TRIGGER, 0, 1, NULL, 0), 0);
	assert_ret(set(c, index, EFD_TRIGGER, 0, 1, &c->efd[2], 1), 0);
	assert_ret(set(c, index, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_ret(set(c, index, NONE_TRIGGER, 0, 1, NULL, 0), 0);
	assert_none_fired(c);
}

static void test_err_req(void **state)
{
	struct ctx c;

	start(&c);
	err_req(&c, ERR);
	err_req(&c, REQ);
	/* ERR/REQ live beside the MSI-X setup. */
	enable_msix(&c);
	assert_ret(set(&c, ERR, EFD_TRIGGER, 0, 1, &c.efd[3], 1), 0);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[0]), 1);
	assert_ret(set(&c, ERR, NONE_TRIGGER, 0, 1, NULL, 0), 0);
	assert_int_equal(fired(c.efd[3]), 1);
	stop(&c);
}

static void test_bus_master_off(void **state)
{
	struct ctx c;

	start(&c);
	enable_msix(&c);
	peer_command(&c.p, UVFIO_PCI_COMMAND_MEMORY);
	raise_vec(&c, 0);
	assert_int_equal(peer_dma_code(peer_reg_rd(&c.p, DMA_REG_STATUS)), DMA_ERR_NO_MASTER);
	assert_none_fired(&c);
	peer_command(&c.p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	raise_vec(&c, 0);
	assert_int_equal(fired(c.efd[0]), 1);
	/* MSI too. */
	assert_ret(set(&c, MSIX, NONE_TRIGGER, 0, 0, NULL, 0), 0);
	assert_ret(set(&c, MSI, EFD_TRIGGER, 0, 1, &c.efd[1], 1), 0);
	peer_command(&c.p, UVFIO_PCI_COMMAND_MEMORY);
	raise_vec(&c, 0);
	assert_none_fired(&c);
	stop(&c);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_irq_info), UVFIO_TEST(test_set_irqs_validation),
		UVFIO_TEST(test_msix_delivery), UVFIO_TEST(test_msix_vectors_added_and_unbound),
		UVFIO_TEST(test_msix_table_mask), UVFIO_TEST(test_msix_function_mask),
		UVFIO_TEST(test_msix_set_irqs_mask), UVFIO_TEST(test_msi), UVFIO_TEST(test_intx),
		UVFIO_TEST(test_one_type_at_a_time), UVFIO_TEST(test_loopback_trigger),
		UVFIO_TEST(test_err_req), UVFIO_TEST(test_bus_master_off))
