// SPDX-License-Identifier: BSD-3-Clause
/*
 * Regions: DEVICE_GET_INFO, DEVICE_GET_REGION_INFO for every index (sizes,
 * flags, the sparse-mmap chain, the fd and its truncated form), and
 * REGION_READ / REGION_WRITE / REGION_WRITE_MULTI: index, range, size and
 * permission checks, the command register's Memory/I/O gates, the I/O BAR
 * alias, the ROM, and the MSI-X table and PBA served by the library.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dma/dma.h"
#include "peer.h"
#include "test.h"
#include "util/util.h"

#define CFG UVFIO_PCI_CONFIG_REGION_INDEX
#define ROM UVFIO_PCI_ROM_REGION_INDEX
#define F_R UVFIO_REGION_INFO_FLAG_READ
#define F_W UVFIO_REGION_INFO_FLAG_WRITE
#define F_M UVFIO_REGION_INFO_FLAG_MMAP
#define F_C UVFIO_REGION_INFO_FLAG_CAPS

static void start(struct peer *p, const char *json)
{
	assert_ret(peer_start(p, NULL), 0);
	if (json)
		assert_ret(peer_version(p, 0, 0, json), 0);
	else
		assert_ret(peer_hello(p), 0);
}

static void stop(struct peer *p)
{
	assert_true(peer_in_sync(p));
	assert_int_equal(peer_stop(p), 0);
}

static void test_device_info(void **state)
{
	uint8_t b[16] = { 0 };
	struct peer_msg m;
	struct peer p;

	start(&p, NULL);
	put_le32(b, 16);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_INFO, b, 16, NULL, 0, &m), 0);
	assert_int_equal(m.len, 16);
	assert_int_equal(get_le32(m.payload), 16);
	assert_int_equal(get_le32(m.payload + 4),
			 UVFIO_DEVICE_FLAGS_PCI | UVFIO_DEVICE_FLAGS_RESET);
	assert_int_equal(get_le32(m.payload + 8), UVFIO_PCI_NUM_REGIONS);
	assert_int_equal(get_le32(m.payload + 12), UVFIO_PCI_NUM_IRQS);
	peer_msg_free(&m);
	put_le32(b, 15);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_INFO, b, 16, NULL, 0, &m), -EINVAL);
	peer_msg_free(&m);
	put_le32(b, 4096);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_DEVICE_GET_INFO, b, 16, NULL, 0, &m), 0);
	assert_int_equal(get_le32(m.payload), 16);
	peer_msg_free(&m);
	stop(&p);
}

struct region_want {
	uint64_t size;
	uint32_t flags;
};

static const struct region_want regions[UVFIO_PCI_NUM_REGIONS] = {
	[0] = { DMA_REGS_SIZE, F_R | F_W },
	[1] = { 0, 0 },
	[2] = { DMA_MEM_SIZE, F_R | F_W | F_M | F_C },
	[3] = { 0, 0 }, /* the upper half of BAR2 */
	[4] = { DMA_IO_SIZE, F_R | F_W },
	[5] = { 0, 0 },
	[6] = { DMA_ROM_SIZE, F_R },
	[7] = { UVFIO_PCI_CFG_SIZE_PCIE, F_R | F_W },
	[8] = { 0, 0 },
};

static void test_region_info_each(void **state)
{
	struct peer_msg m;
	struct peer p;

	start(&p, NULL);
	for (uint32_t i = 0; i < UVFIO_PCI_NUM_REGIONS; i++) {
		assert_ret(peer_region_info(&p, i, 256, &m), 0);
		assert_true(m.len >= 32);
		assert_int_equal(get_le32(m.payload + 4), regions[i].flags);
		assert_int_equal(get_le32(m.payload + 8), i);
		assert_int_equal(get_le64(m.payload + 16), regions[i].size);
		if (regions[i].flags & F_C) {
			assert_int_equal(m.nfds, 1);
			assert_int_equal(get_le32(m.payload + 12), 32);
		} else {
			/* No chain: the fixed part only, argsz 32, no fd. */
			assert_int_equal(m.len, 32);
			assert_int_equal(get_le32(m.payload), 32);
			assert_int_equal(get_le32(m.payload + 12), 0);
			assert_int_equal(m.nfds, 0);
		}
		peer_msg_free(&m);
	}
	stop(&p);
}

static void test_region_info_errors(void **state)
{
	static const uint32_t bad_index[] = { UVFIO_PCI_NUM_REGIONS, 15, 16, 0xffffffff };
	struct peer_msg m;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_region_info(&p, 0, 31, &m), -EINVAL);
	peer_msg_free(&m);
	assert_ret(peer_region_info(&p, 2, 0, &m), -EINVAL);
	peer_msg_free(&m);
	for (unsigned i = 0; i < ARRAY_SIZE(bad_index); i++) {
		assert_ret(peer_region_info(&p, bad_index[i], 256, &m), -EINVAL);
		peer_msg_free(&m);
	}
	stop(&p);
}

/* The chain doesn't fit: fixed part, argsz raised, CAPS set, no chain, no fd. */
static void test_region_info_truncated(void **state)
{
	static const uint32_t small[] = { 32, 48, 63 };
	struct peer_msg m;
	struct peer p;

	start(&p, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(small); i++) {
		assert_ret(peer_region_info(&p, DMA_BAR_MEM, small[i], &m), 0);
		assert_int_equal(m.len, 32);
		assert_int_equal(get_le32(m.payload), 32 + 16 + 16);
		assert_int_equal(get_le32(m.payload + 4), F_R | F_W | F_M | F_C);
		assert_int_equal(get_le32(m.payload + 12), 0);
		assert_int_equal(get_le64(m.payload + 16), DMA_MEM_SIZE);
		assert_int_equal(m.nfds, 0);
		peer_msg_free(&m);
	}
	/* The retry with the argsz asked for gets it all. */
	assert_ret(peer_region_info(&p, DMA_BAR_MEM, 64, &m), 0);
	assert_int_equal(m.len, 64);
	assert_int_equal(m.nfds, 1);
	peer_msg_free(&m);
	stop(&p);
}

static void test_bar2_sparse_mmap(void **state)
{
	uint8_t buf[64], *bar;
	struct peer_msg m;
	struct stat st;
	uint64_t off;
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_region_info(&p, DMA_BAR_MEM, 4096, &m), 0);
	assert_int_equal(m.len, 64);
	assert_int_equal(get_le32(m.payload), 64);
	assert_int_equal(get_le32(m.payload + 12), 32);
	/* SPARSE_MMAP cap: id, version, next; nr_areas, reserved; one area. */
	assert_int_equal(get_le16(m.payload + 32), UVFIO_REGION_INFO_CAP_SPARSE_MMAP);
	assert_int_equal(get_le16(m.payload + 34), 1);
	assert_int_equal(get_le32(m.payload + 36), 0);
	assert_int_equal(get_le32(m.payload + 40), 1);
	assert_int_equal(get_le64(m.payload + 48), 0);
	assert_int_equal(get_le64(m.payload + 56), DMA_MEM_MMAP);
	assert_int_equal(m.nfds, 1);
	off = get_le64(m.payload + 24);
	assert_ret(fstat(m.fds[0], &st), 0);
	assert_true((uint64_t)st.st_size >= off + DMA_MEM_SIZE);
	bar = mmap(NULL, DMA_MEM_MMAP, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[0], (off_t)off);
	assert_true(bar != MAP_FAILED);
	peer_msg_free(&m); /* the mapping keeps the memory */

	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	/* Written through the mapping, read through the server, and back. */
	for (int i = 0; i < 64; i++)
		bar[0x1000 + i] = (uint8_t)(0xc0 + i);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, 0x1000, buf, 64), 0);
	assert_memory_equal(buf, bar + 0x1000, 64);
	memset(buf, 0x3c, sizeof(buf));
	assert_ret(peer_region_write(&p, DMA_BAR_MEM, DMA_MEM_MMAP - 64, buf, 64), 0);
	assert_memory_equal(bar + DMA_MEM_MMAP - 64, buf, 64);
	munmap(bar, DMA_MEM_MMAP);
	stop(&p);
}

/* A client that accepts no fds can't mmap: no MMAP flag, no chain, no fd. */
static void test_no_fds_no_mmap(void **state)
{
	struct peer_msg m;
	struct peer p;

	start(&p, "{\"capabilities\":{\"max_msg_fds\":0}}");
	assert_ret(peer_region_info(&p, DMA_BAR_MEM, 4096, &m), 0);
	assert_int_equal(m.len, 32);
	assert_int_equal(get_le32(m.payload + 4), F_R | F_W);
	assert_int_equal(get_le32(m.payload + 12), 0);
	assert_int_equal(m.nfds, 0);
	peer_msg_free(&m);
	stop(&p);
}

static void test_rom(void **state)
{
	static const char text[] = "uvfio dma engine";
	uint8_t b[sizeof(text)];
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_region_read(&p, ROM, 0, b, 2), 0);
	assert_int_equal(b[0], 0x55);
	assert_int_equal(b[1], 0xaa);
	assert_ret(peer_region_read(&p, ROM, 0x20, b, sizeof(text)), 0);
	assert_memory_equal(b, text, sizeof(text));
	assert_ret(peer_region_write(&p, ROM, 0, b, 2), -EINVAL);
	assert_ret(peer_region_read(&p, ROM, 0, b, 2), 0);
	assert_int_equal(b[0], 0x55);
	assert_ret(peer_region_read(&p, ROM, DMA_ROM_SIZE - 1, b, 2), -EINVAL);
	assert_ret(peer_region_read(&p, ROM, DMA_ROM_SIZE - 2, b, 2), 0);
	stop(&p);
}

/* REGION_WRITE with @n payload bytes after the 16-byte header that claims @count. */
static int write_len(struct peer *p, uint32_t region, uint64_t off, uint32_t count, size_t n)
{
	uint8_t b[64] = { 0 };
	struct peer_msg m;
	int ret;

	put_le64(b, off);
	put_le32(b + 8, region);
	put_le32(b + 12, count);
	ret = peer_call_rc(p, UVFIO_CMD_REGION_WRITE, b, 16 + n, NULL, 0, &m);
	peer_msg_free(&m);
	return ret;
}

static void test_access_errors(void **state)
{
	static const uint32_t bad[] = { 1, 3, 5, 8, 9, 15, 16, 100, 0xffffffff };
	uint8_t *big = malloc((1u << 20) + 1);
	uint8_t b[16] = { 0 };
	struct peer_msg m;
	struct peer p;

	assert_non_null(big);
	start(&p, NULL);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_IO);
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_ret(peer_region_read(&p, bad[i], 0, b, 4), -EINVAL);
		assert_ret(peer_region_write(&p, bad[i], 0, b, 4), -EINVAL);
	}
	/* Past the end, straddling the end, wrapping. */
	assert_ret(peer_region_read(&p, 0, DMA_REGS_SIZE, b, 4), -EINVAL);
	assert_ret(peer_region_read(&p, 0, DMA_REGS_SIZE - 4, b, 8), -EINVAL);
	assert_ret(peer_region_write(&p, 0, DMA_REGS_SIZE - 2, b, 4), -EINVAL);
	assert_ret(peer_region_read(&p, CFG, UVFIO_PCI_CFG_SIZE_PCIE - 1, b, 2), -EINVAL);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, DMA_IO_SIZE - 2, b, 4), -EINVAL);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, 0xffffffffffffff00ull, b, 16), -EINVAL);
	assert_ret(peer_region_read(&p, CFG, 0xfffffffffffffffcull, b, 8), -EINVAL);
	assert_ret(peer_region_write(&p, DMA_BAR_MEM, 0xfffffffffffffff8ull, b, 16), -EINVAL);
	/* A read larger than max_data_xfer_size: E2BIG, before anything else. */
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, 0, big, (1u << 20) + 1), -E2BIG);
	assert_ret(peer_region_read(&p, 100, 0, big, 0xffffffff), -E2BIG);
	/* Count 0 succeeds and touches nothing. */
	assert_ret(peer_region_read(&p, 0, DMA_REG_SCRATCH, b, 0), 0);
	assert_ret(peer_region_write(&p, 0, DMA_REG_SCRATCH, b, 0), 0);
	assert_ret(peer_region_read(&p, CFG, 0, b, 0), 0);
	/* The write payload must be exactly 16 + count. */
	assert_ret(write_len(&p, 0, DMA_REG_SCRATCH, 4, 5), -EINVAL);
	assert_ret(write_len(&p, 0, DMA_REG_SCRATCH, 4, 3), -EINVAL);
	assert_ret(write_len(&p, 0, DMA_REG_SCRATCH, 8, 4), -EINVAL);
	assert_ret(write_len(&p, 0, DMA_REG_SCRATCH, 0, 4), -EINVAL);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0);
	assert_ret(write_len(&p, 0, DMA_REG_SCRATCH, 4, 4), 0);
	/* Read replies carry 16 + count bytes, the header echoed. */
	put_le64(b, DMA_REG_ID);
	put_le32(b + 8, 0);
	put_le32(b + 12, 4);
	assert_ret(peer_call_rc(&p, UVFIO_CMD_REGION_READ, b, 16, NULL, 0, &m), 0);
	assert_int_equal(m.len, 20);
	assert_memory_equal(m.payload, b, 16);
	assert_int_equal(get_le32(m.payload + 16), DMA_ID_MAGIC);
	peer_msg_free(&m);
	stop(&p);
	free(big);
}

/* Memory BARs need COMMAND.MEMORY, I/O BARs COMMAND.IO (EIO otherwise). */
static void test_command_gates(void **state)
{
	uint8_t b[4] = { 1, 2, 3, 4 };
	struct peer p;

	start(&p, NULL);
	assert_ret(peer_region_read(&p, DMA_BAR_REGS, 0, b, 4), -EIO);
	assert_ret(peer_region_write(&p, DMA_BAR_REGS, DMA_REG_SCRATCH, b, 4), -EIO);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, 0, b, 4), -EIO);
	assert_ret(peer_region_write(&p, DMA_BAR_MEM, DMA_MSIX_TABLE, b, 4), -EIO);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, 0, b, 4), -EIO);
	/* Config space and ROM don't depend on it. */
	assert_ret(peer_region_read(&p, CFG, 0, b, 4), 0);
	assert_ret(peer_region_read(&p, ROM, 0, b, 4), 0);

	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_ID), DMA_ID_MAGIC);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0); /* the refused write did nothing */
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, 0, b, 4), 0);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, 0, b, 4), -EIO);
	assert_ret(peer_region_write(&p, DMA_BAR_IO, 0x10, b, 4), -EIO);

	peer_command(&p, UVFIO_PCI_COMMAND_IO);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, 0, b, 4), 0);
	assert_int_equal(get_le32(b), DMA_ID_MAGIC);
	assert_ret(peer_region_read(&p, DMA_BAR_REGS, 0, b, 4), -EIO);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, 0, b, 4), -EIO);
	stop(&p);
}

static void test_io_bar_alias(void **state)
{
	uint8_t b[8];
	struct peer p;

	start(&p, NULL);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_IO);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, DMA_REG_ID, b, 8), 0);
	assert_int_equal(get_le32(b), DMA_ID_MAGIC);
	assert_int_equal(get_le32(b + 4), DMA_VERSION);
	put_le32(b, 0xcafe0000);
	assert_ret(peer_region_write(&p, DMA_BAR_IO, DMA_REG_SRC_LO, b, 4), 0);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SRC_LO), 0xcafe0000);
	peer_reg_wr(&p, DMA_REG_DST_HI, 0x77);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, DMA_REG_DST_HI, b, 4), 0);
	assert_int_equal(get_le32(b), 0x77);
	/* Byte accesses: the model merges them into the dword. */
	b[0] = 0xef;
	assert_ret(peer_region_write(&p, DMA_BAR_IO, DMA_REG_SRC_LO + 1, b, 1), 0);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SRC_LO), 0xcafeef00);
	assert_ret(peer_region_read(&p, DMA_BAR_IO, DMA_IO_SIZE, b, 1), -EINVAL);
	stop(&p);
}

static void test_msix_table_and_pba(void **state)
{
	uint8_t t[DMA_MSIX_VECS * 16], e[16], pba[8];
	struct peer p;

	start(&p, NULL);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, DMA_MSIX_TABLE, t, sizeof(t)), 0);
	for (int v = 0; v < DMA_MSIX_VECS; v++)
		assert_int_equal(get_le32(t + v * 16 + 12), UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	/* Entry 1: address, data, vector control, written and read back. */
	put_le32(e, 0xfee00000);
	put_le32(e + 4, 0x1);
	put_le32(e + 8, 0x4041);
	put_le32(e + 12, 0);
	assert_ret(peer_region_write(&p, DMA_BAR_MEM, DMA_MSIX_TABLE + 16, e, 16), 0);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, DMA_MSIX_TABLE, t, sizeof(t)), 0);
	assert_memory_equal(t + 16, e, 16);
	assert_int_equal(get_le32(t + 12), 1); /* neighbours untouched */
	assert_int_equal(get_le32(t + 32 + 12), 1);
	/* A read spanning the end of the mmap-able memory and the table's start. */
	{
		uint8_t x[32], mem[16];

		memset(mem, 0x5a, sizeof(mem));
		assert_ret(peer_region_write(&p, DMA_BAR_MEM, DMA_MSIX_TABLE - 16, mem, 16), 0);
		assert_ret(peer_region_read(&p, DMA_BAR_MEM, DMA_MSIX_TABLE - 16, x, 32), 0);
		assert_memory_equal(x, mem, 16);
		assert_int_equal(get_le32(x + 16 + 12), 1);
	}
	/* The PBA: nothing pending, and writes are ignored. */
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, DMA_MSIX_PBA, pba, 8), 0);
	assert_int_equal(get_le64(pba), 0);
	memset(pba, 0xff, sizeof(pba));
	assert_ret(peer_region_write(&p, DMA_BAR_MEM, DMA_MSIX_PBA, pba, 8), 0);
	assert_ret(peer_region_read(&p, DMA_BAR_MEM, DMA_MSIX_PBA, pba, 8), 0);
	assert_int_equal(get_le64(pba), 0);
	stop(&p);
}

struct wm_entry {
	uint64_t off;
	uint32_t region, count;
	uint32_t value;
};

static int write_multi(struct peer *p, const struct wm_entry *e, unsigned n, uint64_t wr_cnt)
{
	uint8_t b[8 + 8 * 24];
	struct peer_msg m;
	int ret;

	assert_true(n <= 8);
	memset(b, 0, sizeof(b));
	put_le64(b, wr_cnt);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *x = b + 8 + 24 * i;

		put_le64(x, e[i].off);
		put_le32(x + 8, e[i].region);
		put_le32(x + 12, e[i].count);
		put_le32(x + 16, e[i].value);
	}
	ret = peer_call_rc(p, UVFIO_CMD_REGION_WRITE_MULTI, b, 8 + 24 * n, NULL, 0, &m);
	if (!ret && (m.len != 8 || get_le64(m.payload) != wr_cnt))
		ret = -EPROTO;
	peer_msg_free(&m);
	return ret;
}

static void test_write_multi_needs_negotiation(void **state)
{
	static const struct wm_entry e = { DMA_REG_SCRATCH, 0, 4, 9 };
	struct peer p;

	start(&p, NULL);
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	assert_ret(write_multi(&p, &e, 1, 1), -ENOTSUP);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0);
	stop(&p);
	start(&p, "{\"capabilities\":{\"write_multiple\":false}}");
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	assert_ret(write_multi(&p, &e, 1, 1), -ENOTSUP);
	stop(&p);
}

static void test_write_multi(void **state)
{
	static const struct wm_entry ok[] = {
		{ DMA_REG_SCRATCH, 0, 4, 0x11111111 },
		{ DMA_REG_SRC_LO, 0, 4, 0x00345000 },
		{ DMA_REG_SCRATCH, 0, 4, 0x22222222 }, /* later entries win */
		{ DMA_REG_SCRATCH + 3, 0, 1, 0x99 },
		{ UVFIO_PCI_INTERRUPT_LINE, CFG, 1, 0x0b },
		{ DMA_REG_DST_LO, 0, 0, 0xffffffff }, /* count 0: nothing */
	};
	static const struct wm_entry bad_count[] = {
		{ DMA_REG_SCRATCH, 0, 4, 5 },
		{ DMA_REG_SCRATCH, 0, 9, 6 },
		{ DMA_REG_SCRATCH, 0, 4, 7 },
	};
	static const struct wm_entry bad_region[] = {
		{ DMA_REG_SCRATCH, 0, 4, 8 },
		{ 0, 9, 4, 9 },
	};
	static const struct wm_entry ro[] = { { 0, ROM, 2, 0 } };
	struct peer p;

	start(&p, "{\"capabilities\":{\"max_msg_fds\":16,\"write_multiple\":true}}");
	peer_command(&p, UVFIO_PCI_COMMAND_MEMORY);
	assert_ret(write_multi(&p, ok, ARRAY_SIZE(ok), ARRAY_SIZE(ok)), 0);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 0x99222222);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SRC_LO), 0x00345000);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_DST_LO), 0);
	assert_int_equal(peer_cfg_rd(&p, UVFIO_PCI_INTERRUPT_LINE, 1), 0x0b);
	/* The first bad entry ends the command; the ones before it stay applied. */
	assert_ret(write_multi(&p, bad_count, ARRAY_SIZE(bad_count), ARRAY_SIZE(bad_count)),
		   -EINVAL);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 5);
	assert_ret(write_multi(&p, bad_region, ARRAY_SIZE(bad_region), ARRAY_SIZE(bad_region)),
		   -EINVAL);
	assert_int_equal(peer_reg_rd(&p, DMA_REG_SCRATCH), 8);
	assert_ret(write_multi(&p, ro, 1, 1), -EINVAL);
	/* The entry count must match the payload. */
	assert_ret(write_multi(&p, ok, 2, 3), -EINVAL);
	assert_ret(write_multi(&p, ok, 2, 1), -EINVAL);
	assert_ret(write_multi(&p, ok, 0, 0), 0);
	/* BAR rules hold for each entry. */
	peer_command(&p, 0);
	assert_ret(write_multi(&p, ok, 1, 1), -EIO);
	stop(&p);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_device_info), UVFIO_TEST(test_region_info_each),
		UVFIO_TEST(test_region_info_errors), UVFIO_TEST(test_region_info_truncated),
		UVFIO_TEST(test_bar2_sparse_mmap), UVFIO_TEST(test_no_fds_no_mmap),
		UVFIO_TEST(test_rom), UVFIO_TEST(test_access_errors),
		UVFIO_TEST(test_command_gates), UVFIO_TEST(test_io_bar_alias),
		UVFIO_TEST(test_msix_table_and_pba), UVFIO_TEST(test_write_multi_needs_negotiation),
		UVFIO_TEST(test_write_multi))
