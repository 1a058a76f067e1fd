// SPDX-License-Identifier: BSD-3-Clause
/*
 * Clients going away: mid-session, mid-message, while the server waits for
 * a DMA_READ reply, with commands unanswered. The server must drop the
 * client's mappings and eventfds without leaking an fd. With a server on a
 * socket path, later clients are served in order and find the device state
 * (configuration space, MSI-X table, model registers) as the last client
 * left it, but none of its mappings or interrupts.
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define GUEST  0x100000ull
#define MSGMEM 0x800000ull
#define RW     (UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE)
#define CMD    (UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER)

static void efds_new(int *efd, int n)
{
	for (int i = 0; i < n; i++) {
		efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(efd[i] >= 0);
	}
}

static void efds_close(int *efd, int n)
{
	for (int i = 0; i < n; i++)
		close(efd[i]);
}

static void msix_on(struct peer *p, int *efd)
{
	assert_ret(peer_set_irqs(p, UVFIO_PCI_MSIX_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0,
				 DMA_MSIX_VECS, efd, DMA_MSIX_VECS),
		   0);
}

/* A session with everything set up, then the client just closes. */
static void test_close_mid_session(void **state)
{
	struct peer_memfd g;
	int efd[DMA_MSIX_VECS], err;
	struct peer p;

	efds_new(efd, DMA_MSIX_VECS);
	efds_new(&err, 1);
	assert_ret(peer_memfd_new(&g, 0x100000), 0);
	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	peer_command(&p, CMD);
	assert_ret(peer_dma_map(&p, GUEST, 0x40000, RW, g.fd, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST + 0x40000, 0x40000, RW, g.fd, 0x40000), 0);
	assert_ret(peer_dma_map(&p, MSGMEM, 0x10000, RW, -1, 0), 0);
	msix_on(&p, efd);
	assert_ret(peer_set_irqs(&p, UVFIO_PCI_ERR_IRQ_INDEX,
				 UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER, 0, 1,
				 &err, 1),
		   0);
	/* peer_stop(): the server must exit cleanly with every fd closed. */
	assert_int_equal(peer_stop(&p), 0);
	peer_memfd_free(&g);
	efds_close(efd, DMA_MSIX_VECS);
	efds_close(&err, 1);
}

/* Gone while the server waits for the reply to its DMA_READ. */
static void test_close_during_dma_read(void **state)
{
	uint8_t w[20];
	struct uvfio_region_access a = { .offset = DMA_REG_CTRL, .region = DMA_BAR_REGS,
					 .count = 4, .data = w + 16 };
	struct uvfio_hdr h = { .id = 1, .cmd = UVFIO_CMD_REGION_WRITE };
	struct peer_memfd g;
	struct peer_msg m;
	struct peer p;

	assert_ret(peer_memfd_new(&g, 0x10000), 0);
	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	peer_command(&p, CMD);
	assert_ret(peer_dma_map(&p, MSGMEM, 0x10000, RW, -1, 0), 0);
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RW, g.fd, 0), 0);
	peer_reg_wr(&p, DMA_REG_SRC_LO, (uint32_t)MSGMEM);
	peer_reg_wr(&p, DMA_REG_DST_LO, (uint32_t)GUEST);
	peer_reg_wr(&p, DMA_REG_LEN_LO, 0x1000);
	put_le32(w + 16, DMA_CTRL_START);
	uvfio_proto_region_access_encode(w, sizeof(w), true, &a);
	assert_ret(peer_send(&p, &h, w, sizeof(w), NULL, 0), 0);
	assert_ret(peer_recv(&p, &m), 0);
	assert_int_equal(m.hdr.cmd, UVFIO_CMD_DMA_READ);
	peer_msg_free(&m);
	assert_int_equal(peer_stop(&p), 0);
	peer_memfd_free(&g);
}

/* Gone with commands sent and never read, some carrying fds. */
static void test_close_with_unread_replies(void **state)
{
	uint8_t b[32] = { 0 };
	struct uvfio_region_access a = { .offset = 0, .region = DMA_BAR_MEM, .count = 0x10000 };
	struct uvfio_hdr h = { .cmd = UVFIO_CMD_REGION_READ };
	struct peer p;
	int efd;

	efds_new(&efd, 1);
	assert_ret(peer_start(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	peer_command(&p, CMD);
	uvfio_proto_region_access_encode(b, 16, false, &a);
	for (int i = 0; i < 32; i++) {
		h.id = (uint16_t)i;
		assert_ret(peer_send(&p, &h, b, 16, NULL, 0), 0);
	}
	h.cmd = UVFIO_CMD_DEVICE_SET_IRQS;
	put_le32(b, 20);
	put_le32(b + 4, UVFIO_IRQ_SET_DATA_EVENTFD | UVFIO_IRQ_SET_ACTION_TRIGGER);
	put_le32(b + 8, UVFIO_PCI_MSIX_IRQ_INDEX);
	put_le32(b + 12, 0);
	put_le32(b + 16, 1);
	assert_ret(peer_send(&p, &h, b, 20, &efd, 1), 0);
	assert_int_equal(peer_stop(&p), 0);
	close(efd);
}

/* Gone in the middle of a message that carries an fd. */
static void test_close_mid_message(void **state)
{
	uint8_t b[16 + 20];
	struct uvfio_hdr h = { .id = 3, .cmd = UVFIO_CMD_DEVICE_SET_IRQS, .size = sizeof(b) };
	struct peer p;
	int efd;

	efds_new(&efd, 1);
	for (int cut = 3; cut <= 30; cut += 9) {
		assert_ret(peer_start(&p, NULL), 0);
		assert_ret(peer_hello(&p), 0);
		memset(b, 0, sizeof(b));
		uvfio_proto_hdr_encode(b, &h);
		assert_ret(peer_send_raw(&p, b, (size_t)cut, &efd, 1), 0);
		assert_int_equal(peer_stop(&p), 0);
	}
	close(efd);
}

/* --- a server on a socket path, several clients --------------------------------- */

static uint32_t table_rd(struct peer *p, uint32_t off)
{
	uint8_t b[4];

	assert_ret(peer_region_read(p, DMA_BAR_MEM, DMA_MSIX_TABLE + off, b, 4), 0);
	return get_le32(b);
}

static void table_wr(struct peer *p, uint32_t off, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	assert_ret(peer_region_write(p, DMA_BAR_MEM, DMA_MSIX_TABLE + off, b, 4), 0);
}

/* Drop the current connection and make a new one. */
static void reconnect(struct peer *p)
{
	close(p->fd);
	p->fd = peer_connect(p);
	assert_true(p->fd >= 0);
	p->next_id = 0;
	assert_ret(peer_hello(p), 0);
}

static void test_next_client_keeps_device_state(void **state)
{
	int efd1[DMA_MSIX_VECS], efd2[DMA_MSIX_VECS], base, maps;
	struct peer_memfd g;
	struct peer p;
	uint32_t msix;

	efds_new(efd1, DMA_MSIX_VECS);
	efds_new(efd2, DMA_MSIX_VECS);
	assert_ret(peer_memfd_new(&g, 0x10000), 0);
	assert_ret(peer_start_path(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	base = peer_server_fds(&p);
	assert_true(base > 0);
	maps = peer_server_maps(&p, "memfd:guest"); /* ours, inherited at fork */
	assert_true(maps >= 0);

	/* Client 1 sets up the device and a session. */
	peer_cfg_wr(&p, 0x10, 0xfebf0000, 4);
	peer_cfg_wr(&p, UVFIO_PCI_INTERRUPT_LINE, 0x0a, 1);
	peer_command(&p, CMD);
	peer_reg_wr(&p, DMA_REG_SCRATCH, 0x5a5a5a5a);
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RW, g.fd, 0), 0);
	msix_on(&p, efd1);
	table_wr(&p, 0, 0xfee00000);
	table_wr(&p, 8, 0x41);
	table_wr(&p, 2 * 16 + 12, UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	peer_reg_wr(&p, DMA_REG_IRQ_VECTOR, 0);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x8000, 16, DMA_CTRL_IRQ),
			 DMA_STATUS_DONE);
	assert_int_equal(peer_wait_efd(efd1[0], 1000), 1);
	assert_int_equal(peer_server_fds(&p), base + DMA_MSIX_VECS);
	assert_int_equal(peer_server_maps(&p, "memfd:guest"), maps + 1);

	/* Client 2. */
	reconnect(&p);
	/* Client 1's eventfds and mappings are gone from the server. */
	assert_int_equal(peer_server_fds(&p), base);
	assert_int_equal(peer_server_maps(&p, "memfd:guest"), maps);
	msix = peer_cap_find(&p, UVFIO_PCI_CAP_ID_MSIX);
	/* Device state is kept: config space, the MSI-X table, the model's registers. */
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0xfebf0000);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_INTERRUPT_LINE, 1), 0x0a);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2), CMD);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0x5a5a5a5a);
	assert_int_equal(table_rd(&p, 0), 0xfee00000);
	assert_int_equal(table_rd(&p, 8), 0x41);
	assert_int_equal(table_rd(&p, 2 * 16 + 12), UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	/* Client 1's interrupts are gone: MSI-X disabled, its eventfd never signalled. */
	assert_false(peer_cfg_rd(&p, msix + UVFIO_PCI_MSIX_FLAGS, 2) & UVFIO_PCI_MSIX_FLAGS_ENABLE);
	/* Client 1's mappings are gone: the same copy faults. */
	assert_int_equal(peer_dma_code(peer_copy(&p, NULL, GUEST, GUEST + 0x8000, 16,
						 DMA_CTRL_IRQ)),
			 DMA_ERR_SRC_FAULT);
	for (int i = 0; i < DMA_MSIX_VECS; i++)
		assert_int_equal(peer_wait_efd(efd1[i], 0), 0);
	/* Client 2 maps the same range and has its own interrupts. */
	assert_ret(peer_dma_map(&p, GUEST, 0x10000, RW, g.fd, 0), 0);
	msix_on(&p, efd2);
	assert_int_equal(peer_copy(&p, NULL, GUEST, GUEST + 0x8000, 16, DMA_CTRL_IRQ),
			 DMA_STATUS_DONE);
	assert_int_equal(peer_wait_efd(efd2[0], 1000), 1);
	assert_int_equal(peer_wait_efd(efd1[0], 0), 0);

	/* Client 3 comes after a client that vanished in the middle of a message. */
	assert_ret(peer_send_raw(&p, "\x01\x00\x04\x00", 4, NULL, 0), 0);
	reconnect(&p);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0x5a5a5a5a);
	assert_true(peer_in_sync(&p));
	assert_int_equal(peer_stop(&p), 0);
	peer_memfd_free(&g);
	efds_close(efd1, DMA_MSIX_VECS);
	efds_close(efd2, DMA_MSIX_VECS);
}

/* Clients wait in the backlog and are served in order, one at a time. */
static void test_clients_served_in_order(void **state)
{
	struct peer p, q, r;
	struct uvfio_hdr h = { .id = 7, .cmd = UVFIO_CMD_VERSION };
	uint8_t v[4] = { 0, 0, 0, 0 };
	struct peer_msg m;

	assert_ret(peer_start_path(&p, NULL), 0);
	assert_ret(peer_hello(&p), 0);
	q = p;
	r = p;
	q.fd = peer_connect(&p);
	r.fd = peer_connect(&p);
	assert_true(q.fd >= 0 && r.fd >= 0);
	assert_ret(peer_send(&q, &h, v, sizeof(v), NULL, 0), 0);
	h.id = 8;
	assert_ret(peer_send(&r, &h, v, sizeof(v), NULL, 0), 0);
	/* Neither is served while the first client is attached. */
	assert_true(peer_quiet(q.fd, 100));
	assert_true(peer_quiet(r.fd, 0));
	assert_true(peer_in_sync(&p));
	close(p.fd);
	/* The first waiting client is served next; the other still waits. */
	assert_ret(peer_recv_rc(&q, 7, UVFIO_CMD_VERSION, &m), 0);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&q));
	assert_true(peer_quiet(r.fd, 100));
	close(q.fd);
	assert_ret(peer_recv_rc(&r, 8, UVFIO_CMD_VERSION, &m), 0);
	peer_msg_free(&m);
	assert_true(peer_in_sync(&r));
	p.fd = r.fd;
	assert_int_equal(peer_stop(&p), 0);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_close_mid_session), UVFIO_TEST(test_close_during_dma_read),
		UVFIO_TEST(test_close_with_unread_replies), UVFIO_TEST(test_close_mid_message),
		UVFIO_TEST(test_next_client_keeps_device_state),
		UVFIO_TEST(test_clients_served_in_order))
