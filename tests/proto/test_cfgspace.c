// SPDX-License-Identifier: BSD-3-Clause
/*
 * Configuration space through region 7, as a client sees it: read-only
 * identity, the command and status registers, BAR and ROM sizing, the
 * capability chains and their read-only headers, MSI and MSI-X control,
 * PCIe Function-Level Reset, power states, accesses that cross dword and
 * capability boundaries, and the region's bounds.
 */
#include <errno.h>
#include <string.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define CMD_ALL                                                                                    \
	(UVFIO_PCI_COMMAND_IO | UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER |             \
	 UVFIO_PCI_COMMAND_PARITY | UVFIO_PCI_COMMAND_SERR | UVFIO_PCI_COMMAND_INTX_DISABLE)

static void start(struct peer *p)
{
	assert_ret(peer_start(p, NULL), 0);
	assert_ret(peer_hello(p), 0);
}

static void stop(struct peer *p)
{
	assert_true(peer_in_sync(p));
	assert_int_equal(peer_stop(p), 0);
}

/* Write @v, read back, restore; return what was read. */
static uint32_t probe(struct peer *p, uint32_t off, uint32_t v, uint32_t len)
{
	uint32_t old = peer_cfg_rd(p, off, len), got;

	peer_cfg_wr(p, off, v, len);
	got = peer_cfg_rd(p, off, len);
	peer_cfg_wr(p, off, old, len);
	return got;
}

static void test_identity_readonly(void **state)
{
	uint8_t hdr[64], again[64], ones[64];
	struct peer p;

	start(&p);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_VENDOR_ID, 2), DMA_PCI_VENDOR_ID);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_DEVICE_ID, 2), DMA_PCI_DEVICE_ID);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_REVISION_ID, 1), DMA_PCI_REVISION);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_CLASS_PROG, 4) & 0xffffff, DMA_PCI_CLASS);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_SUBSYSTEM_VENDOR_ID, 2), DMA_PCI_VENDOR_ID);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_SUBSYSTEM_ID, 2), DMA_PCI_DEVICE_ID);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_INTERRUPT_PIN, 1), 1);
	/* Read-only bytes keep their value whatever is written. */
	assert_ret(peer_cfg_read(&p, 0, hdr, sizeof(hdr)), 0);
	memset(ones, 0xff, sizeof(ones));
	for (uint32_t off = 0; off < 0x40; off += 4) {
		if (off == UVFIO_PCI_COMMAND || (off >= 0x10 && off <= 0x24) ||
		    off == UVFIO_PCI_CACHE_LINE_SIZE || off == UVFIO_PCI_ROM_ADDRESS ||
		    off == UVFIO_PCI_INTERRUPT_LINE)
			continue;
		assert_ret(peer_cfg_write(&p, off, ones, 4), 0);
	}
	assert_ret(peer_cfg_read(&p, 0, again, sizeof(again)), 0);
	assert_memory_equal(hdr, again, 0x04);
	assert_memory_equal(hdr + 0x08, again + 0x08, 4);
	assert_memory_equal(hdr + 0x28, again + 0x28, 8);
	assert_memory_equal(hdr + 0x34, again + 0x34, 8);
	/* Interrupt Line and Cache Line Size are plain read-write bytes. */
	assert_int_equal(probe(&p, UVFIO_PCI_INTERRUPT_LINE, 0x5a, 1), 0x5a);
	assert_int_equal(probe(&p, UVFIO_PCI_CACHE_LINE_SIZE, 0x10, 1), 0x10);
	/* PCI Express: Latency Timer is read-only zero. */
	assert_int_equal(probe(&p, UVFIO_PCI_LATENCY_TIMER, 0xff, 1), 0);
	stop(&p);
}

static void test_command_register(void **state)
{
	struct peer p;

	start(&p);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2), 0);
	peer_cfg_wr(&p, UVFIO_PCI_COMMAND, 0xffff, 2);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2), CMD_ALL);
	peer_cfg_wr(&p, UVFIO_PCI_COMMAND, 0, 2);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2), 0);
	/* Single bytes. */
	peer_cfg_wr(&p, UVFIO_PCI_COMMAND + 1, 0xff, 1);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2),
			 UVFIO_PCI_COMMAND_SERR | UVFIO_PCI_COMMAND_INTX_DISABLE);
	stop(&p);
}

static void test_status_register(void **state)
{
	struct peer p;

	start(&p);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_STATUS, 2), UVFIO_PCI_STATUS_CAP_LIST);
	/* Ones don't set anything (RW1C bits clear, the rest are read-only). */
	peer_cfg_wr(&p, UVFIO_PCI_STATUS, 0xffff, 2);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_STATUS, 2), UVFIO_PCI_STATUS_CAP_LIST);
	peer_cfg_wr(&p, UVFIO_PCI_COMMAND, 0xffff0000 | UVFIO_PCI_COMMAND_MEMORY, 4);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 4),
			 UVFIO_PCI_STATUS_CAP_LIST << 16 | UVFIO_PCI_COMMAND_MEMORY);
	stop(&p);
}

static void test_bar_sizing(void **state)
{
	struct peer p;

	start(&p);
	/* BAR0: 4 KiB 32-bit memory. */
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0);
	peer_cfg_wr(&p, 0x10, 0xffffffff, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0xfffff000);
	peer_cfg_wr(&p, 0x10, 0xfebf1234, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0xfebf1000);
	/* BAR2/3: 64 KiB 64-bit prefetchable memory. */
	assert_int_equal(peer_cfg_rd(&p, 0x18, 4), 0xc);
	peer_cfg_wr(&p, 0x18, 0xffffffff, 4);
	peer_cfg_wr(&p, 0x1c, 0xffffffff, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x18, 4), 0xffff000c);
	assert_int_equal(peer_cfg_rd(&p, 0x1c, 4), 0xffffffff);
	peer_cfg_wr(&p, 0x18, 0xc0010000, 4);
	peer_cfg_wr(&p, 0x1c, 0x8, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x18, 4), 0xc001000c);
	assert_int_equal(peer_cfg_rd(&p, 0x1c, 4), 0x8);
	/* BAR4: 32 bytes of I/O. */
	assert_int_equal(peer_cfg_rd(&p, 0x20, 4), 1);
	peer_cfg_wr(&p, 0x20, 0xffffffff, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x20, 4), 0xffffffe1);
	peer_cfg_wr(&p, 0x20, 0xc05f, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x20, 4), 0xc041);
	/* Absent BARs read 0 and ignore writes. */
	peer_cfg_wr(&p, 0x14, 0xffffffff, 4);
	peer_cfg_wr(&p, 0x24, 0xffffffff, 4);
	assert_int_equal(peer_cfg_rd(&p, 0x14, 4), 0);
	assert_int_equal(peer_cfg_rd(&p, 0x24, 4), 0);
	/* Sizing didn't disturb the others. */
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0xfebf1000);
	stop(&p);
}

static void test_rom_bar(void **state)
{
	struct peer p;

	start(&p);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_ROM_ADDRESS, 4), 0);
	peer_cfg_wr(&p, UVFIO_PCI_ROM_ADDRESS, 0xffffffff, 4);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_ROM_ADDRESS, 4), 0xfffff801);
	peer_cfg_wr(&p, UVFIO_PCI_ROM_ADDRESS, 0xfffffffe, 4);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_ROM_ADDRESS, 4), 0xfffff800);
	peer_cfg_wr(&p, UVFIO_PCI_ROM_ADDRESS, 0xfe000001, 4);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_ROM_ADDRESS, 4), 0xfe000001);
	stop(&p);
}

static void test_cap_chain(void **state)
{
	static const uint8_t want[] = { UVFIO_PCI_CAP_ID_PM, UVFIO_PCI_CAP_ID_MSI,
					UVFIO_PCI_CAP_ID_MSIX, UVFIO_PCI_CAP_ID_EXP,
					UVFIO_PCI_CAP_ID_VNDR };
	uint32_t off, prev = 0, n = 0, ext, vndr;
	uint8_t v[10];
	struct peer p;

	start(&p);
	assert_true(peer_cfg_rd(&p, UVFIO_PCI_STATUS, 2) & UVFIO_PCI_STATUS_CAP_LIST);
	off = peer_cfg_rd(&p, UVFIO_PCI_CAPABILITY_LIST, 1);
	while (off) {
		assert_true(n < ARRAY_SIZE(want));
		assert_true(off >= UVFIO_PCI_STD_HEADER_SIZE && off < 0x100);
		assert_int_equal(off & 3, 0);
		assert_true(off > prev);
		assert_int_equal(peer_cfg_rd(&p, off, 1), want[n]);
		prev = off;
		off = peer_cfg_rd(&p, off + 1, 1);
		n++;
	}
	assert_int_equal(n, ARRAY_SIZE(want));
	/* The vendor capability: its length byte, then the model's bytes. */
	vndr = peer_cap_find(&p, UVFIO_PCI_CAP_ID_VNDR);
	assert_ret(peer_cfg_read(&p, vndr, v, sizeof(v)), 0);
	assert_int_equal(v[2], 10);
	assert_memory_equal(v + 3, "UVDMA", 5);
	/* PCIe: version 2 endpoint with FLR. */
	off = peer_cap_find(&p, UVFIO_PCI_CAP_ID_EXP);
	assert_int_equal(peer_cfg_rd(&p, off + UVFIO_PCI_EXP_FLAGS, 2), 0x0002);
	assert_true(peer_cfg_rd(&p, off + UVFIO_PCI_EXP_DEVCAP, 4) & UVFIO_PCI_EXP_DEVCAP_FLR);
	/* The extended list: one DSN at 0x100, last in its list. */
	ext = peer_cfg_rd(&p, UVFIO_PCI_EXT_CAP_START, 4);
	assert_int_equal(ext & 0xffff, UVFIO_PCI_EXT_CAP_ID_DSN);
	assert_int_equal((ext >> 16) & 0xf, 1);
	assert_int_equal(ext >> 20, 0);
	assert_int_equal(peer_cfg_rd(&p, 0x104, 4), 0x00000001);
	assert_int_equal(peer_cfg_rd(&p, 0x108, 4), 0x0dd05556);
	/* Unused space reads zero. */
	assert_int_equal(peer_cfg_rd(&p, 0xfc, 4), 0);
	assert_int_equal(peer_cfg_rd(&p, 0x10c, 4), 0);
	assert_int_equal(peer_cfg_rd(&p, 0xffc, 4), 0);
	stop(&p);
}

static void test_cap_headers_readonly(void **state)
{
	uint8_t before[256], after[256];
	uint32_t off, vndr;
	struct peer p;

	start(&p);
	assert_ret(peer_cfg_read(&p, 0, before, sizeof(before)), 0);
	peer_cfg_wr(&p, UVFIO_PCI_CAPABILITY_LIST, 0x80, 1);
	for (off = before[UVFIO_PCI_CAPABILITY_LIST]; off; off = before[off + 1])
		peer_cfg_wr(&p, off, 0xffff, 2);
	/* The vendor capability has no writable byte at all. */
	vndr = peer_cap_find(&p, UVFIO_PCI_CAP_ID_VNDR);
	for (uint32_t i = 2; i < 10; i++)
		peer_cfg_wr(&p, vndr + i, 0xff, 1);
	peer_cfg_wr(&p, UVFIO_PCI_EXT_CAP_START, 0xffffffff, 4);
	peer_cfg_wr(&p, 0x104, 0xffffffff, 4);
	/* Unused space ignores writes. */
	peer_cfg_wr(&p, 0xfc, 0xffffffff, 4);
	peer_cfg_wr(&p, 0x200, 0xffffffff, 4);
	assert_ret(peer_cfg_read(&p, 0, after, sizeof(after)), 0);
	assert_memory_equal(before, after, sizeof(before));
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_EXT_CAP_START, 4),
			 UVFIO_PCI_EXT_CAP_ID_DSN | 1 << 16);
	assert_int_equal(peer_cfg_rd(&p, 0x104, 4), 1);
	assert_int_equal(peer_cfg_rd(&p, 0x200, 4), 0);
	stop(&p);
}

static void test_msix_control(void **state)
{
	uint32_t msix, ctl;
	struct peer p;

	start(&p);
	msix = peer_cap_find(&p, UVFIO_PCI_CAP_ID_MSIX);
	assert_true(msix);
	ctl = msix + UVFIO_PCI_MSIX_FLAGS;
	assert_int_equal(peer_cfg_rd(&p, ctl, 2), DMA_MSIX_VECS - 1);
	/* Enable is the client's SET_IRQS business: read-only here. */
	peer_cfg_wr(&p, ctl, UVFIO_PCI_MSIX_FLAGS_ENABLE, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2), DMA_MSIX_VECS - 1);
	/* Function Mask is writable; the table size is not. */
	peer_cfg_wr(&p, ctl, 0xffff, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2),
			 UVFIO_PCI_MSIX_FLAGS_MASKALL | (DMA_MSIX_VECS - 1));
	peer_cfg_wr(&p, ctl, 0, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2), DMA_MSIX_VECS - 1);
	/* Table and PBA location: BAR2 at 0xe000 and 0xf000, read-only. */
	assert_int_equal(peer_cfg_rd(&p, msix + UVFIO_PCI_MSIX_TABLE, 4), DMA_MSIX_TABLE | 2);
	assert_int_equal(peer_cfg_rd(&p, msix + UVFIO_PCI_MSIX_PBA, 4), DMA_MSIX_PBA | 2);
	peer_cfg_wr(&p, msix + UVFIO_PCI_MSIX_TABLE, 0, 4);
	peer_cfg_wr(&p, msix + UVFIO_PCI_MSIX_PBA, 0xffffffff, 4);
	assert_int_equal(peer_cfg_rd(&p, msix + UVFIO_PCI_MSIX_TABLE, 4), DMA_MSIX_TABLE | 2);
	assert_int_equal(peer_cfg_rd(&p, msix + UVFIO_PCI_MSIX_PBA, 4), DMA_MSIX_PBA | 2);
	stop(&p);
}

static void test_msi_control(void **state)
{
	uint32_t msi, ctl;
	struct peer p;

	start(&p);
	msi = peer_cap_find(&p, UVFIO_PCI_CAP_ID_MSI);
	assert_true(msi);
	ctl = msi + UVFIO_PCI_MSI_FLAGS;
	/* 1 vector, 64-bit, per-vector masking, disabled. */
	assert_int_equal(peer_cfg_rd(&p, ctl, 2),
			 UVFIO_PCI_MSI_FLAGS_64BIT | UVFIO_PCI_MSI_FLAGS_MASKBIT);
	/* Multiple Message Enable is clamped to what is capable (1 vector). */
	peer_cfg_wr(&p, ctl, UVFIO_PCI_MSI_FLAGS_QSIZE, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2) & UVFIO_PCI_MSI_FLAGS_QSIZE, 0);
	peer_cfg_wr(&p, ctl, 0x10, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2) & UVFIO_PCI_MSI_FLAGS_QSIZE, 0);
	/* Enable and the capability bits are read-only. */
	peer_cfg_wr(&p, ctl, 0xffff, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2),
			 UVFIO_PCI_MSI_FLAGS_64BIT | UVFIO_PCI_MSI_FLAGS_MASKBIT);
	/* Address (dword-aligned), upper address, data, mask (one bit), pending (read-only). */
	assert_int_equal(probe(&p, msi + 4, 0xffffffff, 4), 0xfffffffc);
	assert_int_equal(probe(&p, msi + 8, 0xffffffff, 4), 0xffffffff);
	assert_int_equal(probe(&p, msi + 12, 0xffff, 2), 0xffff);
	assert_int_equal(probe(&p, msi + 16, 0xffffffff, 4), 1);
	assert_int_equal(probe(&p, msi + 20, 0xffffffff, 4), 0);
	stop(&p);
}

static void test_pcie_flr(void **state)
{
	uint32_t exp, devctl;
	struct peer p;

	start(&p);
	exp = peer_cap_find(&p, UVFIO_PCI_CAP_ID_EXP);
	devctl = exp + UVFIO_PCI_EXP_DEVCTL;
	peer_cfg_wr(&p, 0x10, 0xfebf0000, 4);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	peer_reg_wr(&p, DMA_REG_SCRATCH, 0x1234);
	peer_reg_wr(&p, DMA_REG_SRC_LO, 0x5000);
	/* Ordinary Device Control bits stick. */
	peer_cfg_wr(&p, devctl, peer_cfg_rd(&p, devctl, 2) | 0x000f, 2);
	assert_int_equal(peer_cfg_rd(&p, devctl, 2) & 0xf, 0xf);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0x1234);
	/* Initiate FLR: the bit reads 0, the device's registers reset. */
	peer_cfg_wr(&p, devctl, peer_cfg_rd(&p, devctl, 2) | UVFIO_PCI_EXP_DEVCTL_BCR_FLR, 2);
	assert_int_equal(peer_cfg_rd(&p, devctl, 2) & UVFIO_PCI_EXP_DEVCTL_BCR_FLR, 0);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SRC_LO), 0);
	/* BAR addresses and the command register survive. */
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0xfebf0000);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2), UVFIO_PCI_COMMAND_MEMORY);
	stop(&p);
}

static void test_power_states(void **state)
{
	uint32_t pm, ctl;
	struct peer p;

	start(&p);
	pm = peer_cap_find(&p, UVFIO_PCI_CAP_ID_PM);
	assert_true(pm);
	ctl = pm + UVFIO_PCI_PM_CTRL;
	assert_int_equal(peer_cfg_rd(&p, pm + UVFIO_PCI_PM_PMC, 2) & 0x7, 3);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2), UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	peer_reg_wr(&p, DMA_REG_SCRATCH, 0xabcd);
	/* D3hot sticks; D1 and D2 aren't supported, so such writes are ignored. */
	peer_cfg_wr(&p, ctl, 3, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2) & UVFIO_PCI_PM_CTRL_STATE_MASK, 3);
	peer_cfg_wr(&p, ctl, 1, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2) & UVFIO_PCI_PM_CTRL_STATE_MASK, 3);
	peer_cfg_wr(&p, ctl, 2, 1);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2) & UVFIO_PCI_PM_CTRL_STATE_MASK, 3);
	/* Back to D0: No_Soft_Reset is set, so the registers stay. */
	peer_cfg_wr(&p, ctl, 0, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2), UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0xabcd);
	peer_cfg_wr(&p, ctl, 1, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2) & UVFIO_PCI_PM_CTRL_STATE_MASK, 0);
	/* No_Soft_Reset and PMC are read-only. */
	peer_cfg_wr(&p, ctl, 0, 2);
	peer_cfg_wr(&p, pm + UVFIO_PCI_PM_PMC, 0xffff, 2);
	assert_int_equal(peer_cfg_rd(&p, ctl, 2), UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	assert_int_equal(peer_cfg_rd(&p, pm + UVFIO_PCI_PM_PMC, 2) & 0x7, 3);
	stop(&p);
}

static void test_crossing_accesses(void **state)
{
	uint8_t whole[256], piece[16];
	uint32_t pm, msi;
	struct peer p;

	start(&p);
	assert_ret(peer_cfg_read(&p, 0, whole, sizeof(whole)), 0);
	/* Reads of any length and alignment agree with one big read. */
	for (uint32_t off = 0; off + 16 <= sizeof(whole); off += 5) {
		uint32_t len = 1 + off % 13;

		assert_ret(peer_cfg_read(&p, off, piece, len), 0);
		assert_memory_equal(piece, whole + off, len);
	}
	/* A write from Device ID into Command: only the command byte changes. */
	piece[0] = 0xff;
	piece[1] = UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	assert_ret(peer_cfg_write(&p, UVFIO_PCI_DEVICE_ID + 1, piece, 2), 0);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_DEVICE_ID, 2), DMA_PCI_DEVICE_ID);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_COMMAND, 2),
			 UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER);
	/* Across a dword: status, revision, class: nothing writable. */
	memset(piece, 0xff, sizeof(piece));
	assert_ret(peer_cfg_write(&p, UVFIO_PCI_STATUS, piece, 4), 0);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_STATUS, 4),
			 get_le32(whole + UVFIO_PCI_STATUS));
	/* BAR0 and BAR1 in one write: BAR0 sizes, BAR1 stays absent. */
	assert_ret(peer_cfg_write(&p, 0x10, piece, 8), 0);
	assert_int_equal(peer_cfg_rd(&p, 0x10, 4), 0xfffff000);
	assert_int_equal(peer_cfg_rd(&p, 0x14, 4), 0);
	/* From the end of PM into the MSI header: the header stays, MSI control too. */
	pm = peer_cap_find(&p, UVFIO_PCI_CAP_ID_PM);
	msi = peer_cap_find(&p, UVFIO_PCI_CAP_ID_MSI);
	assert_int_equal(msi, pm + 8);
	assert_ret(peer_cfg_write(&p, pm + 6, piece, 6), 0);
	assert_ret(peer_cfg_read(&p, pm + 6, piece, 6), 0);
	assert_memory_equal(piece, whole + pm + 6, 6);
	/* From the MSI data register over the mask bits: each keeps its own mask. */
	memset(piece, 0xff, sizeof(piece));
	assert_ret(peer_cfg_write(&p, msi + 12, piece, 8), 0);
	assert_int_equal(peer_cfg_rd(&p, msi + 12, 4), 0xffff);
	assert_int_equal(peer_cfg_rd(&p, msi + 16, 4), 1);
	/* All of configuration space in one read. */
	{
		uint8_t *all = malloc(UVFIO_PCI_CFG_SIZE_PCIE);

		assert_non_null(all);
		assert_ret(peer_cfg_read(&p, 0, all, UVFIO_PCI_CFG_SIZE_PCIE), 0);
		assert_int_equal(get_le16(all), DMA_PCI_VENDOR_ID);
		assert_int_equal(get_le16(all + 0x100), UVFIO_PCI_EXT_CAP_ID_DSN);
		free(all);
	}
	stop(&p);
}

static void test_out_of_range(void **state)
{
	uint8_t b[8] = { 0 };
	struct peer p;

	start(&p);
	assert_ret(peer_cfg_read(&p, UVFIO_PCI_CFG_SIZE_PCIE, b, 1), -EINVAL);
	assert_ret(peer_cfg_read(&p, UVFIO_PCI_CFG_SIZE_PCIE - 1, b, 2), -EINVAL);
	assert_ret(peer_cfg_write(&p, UVFIO_PCI_CFG_SIZE_PCIE - 2, b, 4), -EINVAL);
	assert_ret(peer_cfg_write(&p, 0x10000, b, 4), -EINVAL);
	assert_ret(peer_region_read(&p, UVFIO_PCI_CONFIG_REGION_INDEX, 0xffffffff00000000ull, b, 4),
		   -EINVAL);
	assert_ret(peer_region_read(&p, UVFIO_PCI_CONFIG_REGION_INDEX, 0xfffffffffffffffeull, b, 4),
		   -EINVAL);
	assert_ret(peer_cfg_read(&p, UVFIO_PCI_CFG_SIZE_PCIE - 1, b, 1), 0);
	stop(&p);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_identity_readonly), UVFIO_TEST(test_command_register),
		UVFIO_TEST(test_status_register), UVFIO_TEST(test_bar_sizing),
		UVFIO_TEST(test_rom_bar), UVFIO_TEST(test_cap_chain),
		UVFIO_TEST(test_cap_headers_readonly), UVFIO_TEST(test_msix_control),
		UVFIO_TEST(test_msi_control), UVFIO_TEST(test_pcie_flr),
		UVFIO_TEST(test_power_states), UVFIO_TEST(test_crossing_accesses),
		UVFIO_TEST(test_out_of_range))
