// SPDX-License-Identifier: BSD-3-Clause
/*
 * White-box tests of configuration-space virtualization (lib/emu/config.c,
 * caps.c): contexts are built and realized without a client and accessed
 * through uvfio__emu_cfg_access() as the dispatcher does. Covered: per-byte
 * write masks, write-1-to-clear bits, BAR and ROM sizing for every type and
 * size, capability placement (explicit and automatic offsets, overlaps,
 * extended capabilities), vendor length bytes, capabilities hooked to the
 * model, resets triggered from config space, and the setup API's argument
 * and ordering errors.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "emu/emu_priv.h"
#include "test.h"

#define VID 0x1af4
#define DID 0x10f0

static struct uvfio_emu *emu_new_ops(const struct uvfio_emu_ops *ops, void *priv)
{
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = VID, .device_id = DID,
				       .subsys_vendor_id = 0x1111, .subsys_id = 0x2222,
				       .revision = 7, .class_code = 0x020000 };
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED,
				    .ops = ops, .priv = priv };
	struct uvfio_emu *emu = NULL;
	int sv[2];

	assert_ret(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	o.fd = sv[0];
	assert_ret(uvfio_emu_create(&o, &emu), 0);
	close(sv[1]);
	assert_ret(uvfio_emu_setup_pci(emu, &id), 0);
	return emu;
}

static struct uvfio_emu *emu_new(void)
{
	return emu_new_ops(NULL, NULL);
}

static uint32_t rd(struct uvfio_emu *emu, uint32_t off, uint32_t len)
{
	uint8_t b[4] = { 0 };

	assert_ret(uvfio__emu_cfg_access(emu, off, b, len, false), 0);
	return get_le32(b);
}

static void wr(struct uvfio_emu *emu, uint32_t off, uint32_t v, uint32_t len)
{
	uint8_t b[4];

	put_le32(b, v);
	assert_ret(uvfio__emu_cfg_access(emu, off, b, len, true), 0);
}

/* Write @v, return what reads back. */
static uint32_t probe(struct uvfio_emu *emu, uint32_t off, uint32_t v, uint32_t len)
{
	wr(emu, off, v, len);
	return rd(emu, off, len);
}

static int add_cap(struct uvfio_emu *emu, uint32_t flags, uint16_t id, uint16_t size,
		   const void *data, const void *wmask, uint16_t offset)
{
	struct uvfio_emu_cap c = { .argsz = sizeof(c), .flags = flags, .id = id, .size = size,
				   .data = data, .wmask = wmask, .offset = offset,
				   .version = (flags & UVFIO_EMU_CAP_EXTENDED) ? 1 : 0 };

	return uvfio_emu_add_cap(emu, &c, NULL);
}

static int add_region(struct uvfio_emu *emu, uint32_t index, uint32_t flags, uint64_t size)
{
	struct uvfio_emu_region r = { .argsz = sizeof(r), .flags = flags, .size = size };

	return uvfio_emu_setup_region(emu, index, &r);
}

static void test_header_defaults(void **state)
{
	struct uvfio_emu *emu = emu_new();
	uint8_t b[8];

	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(rd(emu, UVFIO_PCI_VENDOR_ID, 2), VID);
	assert_int_equal(rd(emu, UVFIO_PCI_DEVICE_ID, 2), DID);
	assert_int_equal(rd(emu, UVFIO_PCI_REVISION_ID, 1), 7);
	assert_int_equal(rd(emu, UVFIO_PCI_CLASS_PROG, 4) & 0xffffff, 0x020000);
	assert_int_equal(rd(emu, UVFIO_PCI_SUBSYSTEM_VENDOR_ID, 4), 0x22221111);
	/* No capabilities, no INTx, no I/O BAR. */
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2), 0);
	assert_int_equal(rd(emu, UVFIO_PCI_CAPABILITY_LIST, 1), 0);
	assert_int_equal(rd(emu, UVFIO_PCI_INTERRUPT_PIN, 1), 0);
	assert_int_equal(probe(emu, UVFIO_PCI_COMMAND, 0xffff, 2),
			 UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER |
				 UVFIO_PCI_COMMAND_PARITY | UVFIO_PCI_COMMAND_SERR);
	/* Conventional PCI: 256 bytes, Latency Timer writable. */
	assert_int_equal(probe(emu, UVFIO_PCI_LATENCY_TIMER, 0xff, 1), 0xff);
	assert_int_equal(probe(emu, UVFIO_PCI_CACHE_LINE_SIZE, 0xff, 1), 0xff);
	assert_int_equal(probe(emu, UVFIO_PCI_INTERRUPT_LINE, 0xff, 1), 0xff);
	assert_int_equal(probe(emu, UVFIO_PCI_HEADER_TYPE, 0xff, 1), 0);
	assert_ret(uvfio__emu_cfg_access(emu, 255, b, 1, false), 0);
	assert_ret(uvfio__emu_cfg_access(emu, 256, b, 1, false), -EINVAL);
	assert_ret(uvfio__emu_cfg_access(emu, 252, b, 8, true), -EINVAL);
	assert_ret(uvfio__emu_cfg_access(emu, UINT64_MAX - 1, b, 4, false), -EINVAL);
	uvfio_emu_destroy(emu);

	/* INTx and an I/O BAR add their command bits and the interrupt pin. */
	emu = emu_new();
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_INTX_IRQ_INDEX, 1), 0);
	assert_ret(add_region(emu, 1, UVFIO_EMU_REGION_READ | UVFIO_EMU_BAR_IO, 16), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(rd(emu, UVFIO_PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(probe(emu, UVFIO_PCI_COMMAND, 0xffff, 2),
			 UVFIO_PCI_COMMAND_IO | UVFIO_PCI_COMMAND_MEMORY |
				 UVFIO_PCI_COMMAND_MASTER | UVFIO_PCI_COMMAND_PARITY |
				 UVFIO_PCI_COMMAND_SERR | UVFIO_PCI_COMMAND_INTX_DISABLE);
	uvfio_emu_destroy(emu);
}

static void test_per_byte_masks(void **state)
{
	static const uint8_t data[6] = { 0x00, 0xa0, 0x05, 0x77, 0x00, 0x3c };
	static const uint8_t mask[6] = { 0xff, 0x0f, 0xf0, 0x00, 0x81, 0x00 };
	struct uvfio_emu *emu = emu_new();
	uint8_t b[8], ones[8];

	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, data, mask, 0x40), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(rd(emu, UVFIO_PCI_CAPABILITY_LIST, 1), 0x40);
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2), UVFIO_PCI_STATUS_CAP_LIST);
	memset(ones, 0xff, sizeof(ones));
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, ones, 8, true), 0);
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, b, 8, false), 0);
	assert_memory_equal(b, ((uint8_t[]){ UVFIO_PCI_CAP_ID_AF, 0, 0xff, 0xaf, 0xf5, 0x77,
					     0x81, 0x3c }),
			    8);
	memset(ones, 0, sizeof(ones));
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, ones, 8, true), 0);
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, b, 8, false), 0);
	assert_memory_equal(b, ((uint8_t[]){ UVFIO_PCI_CAP_ID_AF, 0, 0x00, 0xa0, 0x05, 0x77,
					     0x00, 0x3c }),
			    8);
	/* A capability given no mask is read-only. */
	uvfio_emu_destroy(emu);
	emu = emu_new();
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, data, NULL, 0), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(probe(emu, 0x42, 0xffffffff, 4), 0x7705a000);
	uvfio_emu_destroy(emu);
}

static void test_w1c(void **state)
{
	struct uvfio_emu *emu = emu_new();
	uint16_t st, exp;
	uint8_t b[2];
	int off;

	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_EXP, 0, NULL, NULL, 0), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 0, NULL, NULL, 0), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	/* The device sets error bits; the client clears them by writing ones. */
	st = UVFIO_PCI_STATUS_RW1C | UVFIO_PCI_STATUS_CAP_LIST | UVFIO_PCI_STATUS_INTERRUPT;
	put_le16(b, st);
	assert_ret(uvfio_emu_cfg_write(emu, UVFIO_PCI_STATUS, b, 2), 0);
	wr(emu, UVFIO_PCI_STATUS, 0, 2);
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2), st);
	wr(emu, UVFIO_PCI_STATUS, UVFIO_PCI_STATUS_PARITY, 2);
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2), st & ~UVFIO_PCI_STATUS_PARITY);
	wr(emu, UVFIO_PCI_STATUS + 1, 0x80, 1);
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2),
			 st & ~(UVFIO_PCI_STATUS_PARITY | UVFIO_PCI_STATUS_DETECTED_PARITY));
	wr(emu, UVFIO_PCI_STATUS, 0xffff, 2);
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2),
			 UVFIO_PCI_STATUS_CAP_LIST | UVFIO_PCI_STATUS_INTERRUPT);
	/* PCIe Device Status: the four error bits are W1C. */
	off = uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_EXP, false);
	assert_true(off > 0);
	exp = (uint16_t)(off + UVFIO_PCI_EXP_DEVSTA);
	put_le16(b, 0x002f);
	assert_ret(uvfio_emu_cfg_write(emu, exp, b, 2), 0);
	wr(emu, exp, 0x0005, 2);
	assert_int_equal(rd(emu, exp, 2), 0x002a);
	wr(emu, exp, 0xffff, 2);
	assert_int_equal(rd(emu, exp, 2), 0x0020);
	/* PM: PME_Status is W1C. */
	off = uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_PM, false);
	assert_true(off > 0);
	put_le16(b, UVFIO_PCI_PM_CTRL_PME_STATUS | UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	assert_ret(uvfio_emu_cfg_write(emu, (uint32_t)off + UVFIO_PCI_PM_CTRL, b, 2), 0);
	wr(emu, (uint32_t)off + UVFIO_PCI_PM_CTRL, UVFIO_PCI_PM_CTRL_PME_STATUS, 2);
	assert_int_equal(rd(emu, (uint32_t)off + UVFIO_PCI_PM_CTRL, 2),
			 UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	/* A function reset clears W1C bits the device set. */
	put_le16(b, st);
	assert_ret(uvfio_emu_cfg_write(emu, UVFIO_PCI_STATUS, b, 2), 0);
	assert_ret(uvfio__emu_function_reset(emu, UVFIO_EMU_RESET_DEVICE), 0);
	assert_int_equal(rd(emu, UVFIO_PCI_STATUS, 2), UVFIO_PCI_STATUS_CAP_LIST);
	uvfio_emu_destroy(emu);
}

struct bar_case {
	uint32_t index;
	uint32_t flags;
	uint64_t size;
};

static void check_bar(const struct bar_case *c)
{
	struct uvfio_emu *emu = emu_new();
	uint32_t off = UVFIO_PCI_BASE_ADDRESS_0 + 4 * c->index, type, lo;
	uint64_t mask = ~(c->size - 1);
	bool io = c->flags & UVFIO_EMU_BAR_IO, b64 = c->flags & UVFIO_EMU_BAR_64;

	assert_ret(add_region(emu, c->index, UVFIO_EMU_REGION_READ | c->flags, c->size), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	type = io ? UVFIO_PCI_BAR_SPACE_IO
		  : (b64 ? UVFIO_PCI_BAR_MEM_TYPE_64 : 0) |
			    ((c->flags & UVFIO_EMU_BAR_PREFETCH) ? UVFIO_PCI_BAR_MEM_PREFETCH : 0);
	assert_int_equal(rd(emu, off, 4), type);
	/* Sizing: all ones reads back the address mask and the type bits. */
	lo = (uint32_t)mask & (io ? UVFIO_PCI_BAR_IO_MASK : UVFIO_PCI_BAR_MEM_MASK);
	assert_int_equal(probe(emu, off, 0xffffffff, 4), lo | type);
	if (b64)
		assert_int_equal(probe(emu, off + 4, 0xffffffff, 4), (uint32_t)(mask >> 32));
	/* An address: bits below the size are dropped, the type stays. */
	assert_int_equal(probe(emu, off, 0x12345677, 4), (0x12345677 & lo) | type);
	if (b64)
		assert_int_equal(probe(emu, off + 4, 0xabcdef01, 4),
				 0xabcdef01 & (uint32_t)(mask >> 32));
	assert_int_equal(probe(emu, off, 0, 4), type);
	/* The other BAR slots stay absent. */
	for (uint32_t i = 0; i < 6; i++)
		if (i != c->index && !(b64 && i == c->index + 1))
			assert_int_equal(probe(emu, UVFIO_PCI_BASE_ADDRESS_0 + 4 * i, 0xffffffff,
					       4),
					 0);
	uvfio_emu_destroy(emu);
}

static void test_bar_sizing(void **state)
{
	static const struct bar_case cases[] = {
		{ 0, 0, 16 },
		{ 0, 0, 4096 },
		{ 1, UVFIO_EMU_BAR_PREFETCH, 1u << 20 },
		{ 5, 0, 1ull << 31 },
		{ 0, UVFIO_EMU_BAR_64, 16 },
		{ 2, UVFIO_EMU_BAR_64 | UVFIO_EMU_BAR_PREFETCH, 65536 },
		{ 4, UVFIO_EMU_BAR_64, 1ull << 32 },
		{ 1, UVFIO_EMU_BAR_64 | UVFIO_EMU_BAR_PREFETCH, 1ull << 40 },
		{ 0, UVFIO_EMU_BAR_64, 1ull << 63 },
		{ 0, UVFIO_EMU_BAR_IO, 4 },
		{ 3, UVFIO_EMU_BAR_IO, 32 },
		{ 5, UVFIO_EMU_BAR_IO, 256 },
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		check_bar(&cases[i]);
}

static void test_region_setup_errors(void **state)
{
	struct uvfio_sparse_area bad_area = { 0x800, 0x1000 }, far_area = { 0x1000, 0x1000 };
	struct uvfio_emu_region r = { .argsz = sizeof(r) - 1, .flags = UVFIO_EMU_REGION_READ,
				      .size = 4096 };
	struct uvfio_emu *emu = emu_new();
	const uint32_t rd_ = UVFIO_EMU_REGION_READ;

	assert_ret(uvfio_emu_setup_region(emu, 0, &r), -EINVAL);
	assert_ret(uvfio_emu_setup_region(emu, 0, NULL), -EINVAL);
	assert_ret(add_region(emu, 0, rd_ | (1u << 20), 4096), -EINVAL);
	assert_ret(add_region(emu, 0, rd_, 0), -EINVAL);
	assert_ret(add_region(emu, 0, rd_, 8), -EINVAL);          /* memory BAR below 16 */
	assert_ret(add_region(emu, 0, rd_, 3000), -EINVAL);       /* not a power of two */
	assert_ret(add_region(emu, 0, rd_, 1ull << 32), -EINVAL); /* 32-bit BAR too big */
	assert_ret(add_region(emu, 0, rd_ | UVFIO_EMU_BAR_IO, 2), -EINVAL);
	assert_ret(add_region(emu, 0, rd_ | UVFIO_EMU_BAR_IO, 512), -EINVAL);
	assert_ret(add_region(emu, 0, rd_ | UVFIO_EMU_BAR_IO | UVFIO_EMU_BAR_64, 16), -EINVAL);
	assert_ret(add_region(emu, 0, rd_ | UVFIO_EMU_BAR_IO | UVFIO_EMU_BAR_PREFETCH, 16),
		   -EINVAL);
	assert_ret(add_region(emu, 5, rd_ | UVFIO_EMU_BAR_64, 4096), -EINVAL);
	assert_ret(add_region(emu, 0, rd_ | UVFIO_EMU_REGION_MMAP, 4096), -EINVAL); /* no MEM */
	assert_ret(add_region(emu, UVFIO_PCI_CONFIG_REGION_INDEX, rd_, 256), -EINVAL);
	assert_ret(add_region(emu, UVFIO_PCI_VGA_REGION_INDEX, rd_, 4096), -EINVAL);
	assert_ret(add_region(emu, EMU_MAX_REGIONS, rd_, 4096), -EINVAL);
	assert_ret(add_region(emu, 9, rd_ | UVFIO_EMU_BAR_64, 4096), -EINVAL);
	/* ROM: read-only, not mmap-able, a power of two of at least 2 KiB. */
	assert_ret(add_region(emu, 6, rd_, 1024), -EINVAL);
	assert_ret(add_region(emu, 6, rd_, 3072), -EINVAL);
	assert_ret(add_region(emu, 6, rd_ | UVFIO_EMU_REGION_WRITE, 2048), -EINVAL);
	assert_ret(add_region(emu, 6, rd_ | UVFIO_EMU_REGION_MEM | UVFIO_EMU_REGION_MMAP, 2048),
		   -EINVAL);
	assert_ret(add_region(emu, 6, rd_ | UVFIO_EMU_BAR_PREFETCH, 2048), -EINVAL);
	/* mmap areas: page-aligned and inside. */
	r = (struct uvfio_emu_region){ .argsz = sizeof(r), .size = 8192,
				       .flags = rd_ | UVFIO_EMU_REGION_MEM | UVFIO_EMU_REGION_MMAP,
				       .mmap_areas = &bad_area, .nr_mmap_areas = 1 };
	assert_ret(uvfio_emu_setup_region(emu, 0, &r), -EINVAL);
	r.size = 4096;
	r.mmap_areas = &far_area;
	assert_ret(uvfio_emu_setup_region(emu, 0, &r), -EINVAL);
	r.mmap_areas = NULL;
	assert_ret(uvfio_emu_setup_region(emu, 0, &r), -EINVAL);
	r.nr_mmap_areas = EMU_MAX_AREAS + 1;
	r.mmap_areas = &far_area;
	assert_ret(uvfio_emu_setup_region(emu, 0, &r), -EINVAL);
	/* 64-bit BARs take the next slot; slots are set up once. */
	assert_ret(add_region(emu, 1, rd_, 4096), 0);
	assert_ret(add_region(emu, 0, rd_ | UVFIO_EMU_BAR_64, 4096), -EINVAL);
	assert_ret(add_region(emu, 1, rd_, 4096), -EEXIST);
	assert_ret(add_region(emu, 2, rd_ | UVFIO_EMU_BAR_64, 4096), 0);
	assert_ret(add_region(emu, 3, rd_, 4096), -EINVAL);
	assert_ret(add_region(emu, 2, rd_, 4096), -EEXIST);
	assert_ret(add_region(emu, 6, rd_, 2048), 0);
	assert_ret(add_region(emu, 6, rd_, 2048), -EEXIST);
	assert_ret(add_region(emu, 10, rd_ | UVFIO_EMU_REGION_WRITE, 100), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	uvfio_emu_destroy(emu);
}

static void test_rom_bar(void **state)
{
	static const uint64_t sizes[] = { 2048, 65536, 1u << 24 };
	struct uvfio_emu *emu;

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint32_t mask = (uint32_t)~(sizes[i] - 1);

		emu = emu_new();
		assert_ret(add_region(emu, UVFIO_PCI_ROM_REGION_INDEX, UVFIO_EMU_REGION_READ,
				      sizes[i]),
			   0);
		assert_ret(uvfio_emu_realize(emu), 0);
		assert_int_equal(rd(emu, UVFIO_PCI_ROM_ADDRESS, 4), 0);
		assert_int_equal(probe(emu, UVFIO_PCI_ROM_ADDRESS, 0xffffffff, 4),
				 mask | UVFIO_PCI_ROM_ENABLE);
		assert_int_equal(probe(emu, UVFIO_PCI_ROM_ADDRESS, 0xfffffffe, 4), mask);
		assert_int_equal(probe(emu, UVFIO_PCI_ROM_ADDRESS, 0x87654321, 4),
				 (0x87654321 & mask) | 1);
		uvfio_emu_destroy(emu);
	}
	/* No ROM: the register is read-only zero. */
	emu = emu_new();
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(probe(emu, UVFIO_PCI_ROM_ADDRESS, 0xffffffff, 4), 0);
	uvfio_emu_destroy(emu);
}

/* The standard list from CAPABILITY_LIST: offsets in order, 0-terminated. */
static unsigned chain(struct uvfio_emu *emu, uint32_t *offs, unsigned max)
{
	uint32_t off = rd(emu, UVFIO_PCI_CAPABILITY_LIST, 1);
	unsigned n = 0;

	while (off && n < max) {
		offs[n++] = off;
		off = rd(emu, off + 1, 1);
	}
	return n;
}

static void test_cap_layout(void **state)
{
	uint8_t v[6] = { 0 };
	struct uvfio_emu_cap c = { .argsz = sizeof(c), .id = UVFIO_PCI_CAP_ID_VNDR, .size = 8,
				   .data = v, .offset = 0x80 };
	struct uvfio_emu *emu = emu_new();
	uint16_t where = 1;
	uint32_t offs[8];

	/* A fixed offset is reported at once; an automatic one at realize. */
	assert_ret(uvfio_emu_add_cap(emu, &c, &where), 0);
	assert_int_equal(where, 0x80);
	c.offset = 0;
	c.id = UVFIO_PCI_CAP_ID_PM;
	c.size = 0;
	c.data = NULL;
	assert_ret(uvfio_emu_add_cap(emu, &c, &where), 0);
	assert_int_equal(where, 0);
	assert_ret(uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_PM, false), -ENOENT);
	assert_ret(uvfio_emu_realize(emu), 0);
	/* Automatic placement goes after the fixed ones; the chain is sorted. */
	assert_int_equal(uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_VNDR, false), 0x80);
	assert_int_equal(uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_PM, false), 0x88);
	assert_int_equal(chain(emu, offs, 8), 2);
	assert_int_equal(offs[0], 0x80);
	assert_int_equal(offs[1], 0x88);
	assert_int_equal(rd(emu, 0x88, 1), UVFIO_PCI_CAP_ID_PM);
	assert_ret(uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_EXP, false), -ENOENT);
	uvfio_emu_destroy(emu);

	/* Several fixed, several automatic, MSI and MSI-X among them. */
	emu = emu_new();
	assert_ret(add_region(emu, 0, UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_MEM, 8192), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 6, v, NULL, 0xc0), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_VNDR, 5, v, NULL, 0x40), 0);
	assert_ret(uvfio_emu_setup_msi(emu, 2, 0), 0);
	assert_ret(uvfio_emu_setup_msix(emu, 8, 0, 0, 0, 0x1000), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(chain(emu, offs, 8), 4);
	assert_int_equal(offs[0], 0x40);
	assert_int_equal(offs[1], 0xc0);
	assert_int_equal(offs[2], 0xc8); /* MSI (32-bit: 10 bytes) after 0xc0 + 6, aligned */
	assert_int_equal(rd(emu, offs[2], 1), UVFIO_PCI_CAP_ID_MSI);
	assert_int_equal(offs[3], 0xd4); /* MSI-X after 0xc8 + 10, aligned */
	assert_int_equal(rd(emu, offs[3], 1), UVFIO_PCI_CAP_ID_MSIX);
	assert_int_equal(rd(emu, 0x42, 1), 5); /* vendor length byte */
	uvfio_emu_destroy(emu);
}

static void test_ext_caps(void **state)
{
	uint8_t d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct uvfio_emu *emu;
	uint32_t h;

	/* Extended capabilities need a PCI Express capability. */
	emu = emu_new();
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, UVFIO_PCI_EXT_CAP_ID_DSN, 12, d, NULL, 0),
		   0);
	assert_ret(uvfio_emu_realize(emu), -EINVAL);
	uvfio_emu_destroy(emu);

	/* Placed from 0x100, linked with version and next in the header. */
	emu = emu_new();
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_EXP, 0, NULL, NULL, 0), 0);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, UVFIO_PCI_EXT_CAP_ID_DSN, 12, d, NULL, 0),
		   0);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, UVFIO_PCI_EXT_CAP_ID_VNDR, 10, d, NULL,
			   0x400),
		   0);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, UVFIO_PCI_EXT_CAP_ID_ERR, 8, d, NULL,
			   0x100),
		   0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(uvfio_emu_find_cap(emu, UVFIO_PCI_EXT_CAP_ID_ERR, true), 0x100);
	assert_int_equal(uvfio_emu_find_cap(emu, UVFIO_PCI_EXT_CAP_ID_VNDR, true), 0x400);
	/* Automatic placement after the last fixed one. */
	assert_int_equal(uvfio_emu_find_cap(emu, UVFIO_PCI_EXT_CAP_ID_DSN, true), 0x40c);
	h = rd(emu, 0x100, 4);
	assert_int_equal(h, UVFIO_PCI_EXT_CAP_ID_ERR | 1u << 16 | 0x400u << 20);
	assert_int_equal(rd(emu, 0x400, 4), UVFIO_PCI_EXT_CAP_ID_VNDR | 1u << 16 | 0x40cu << 20);
	assert_int_equal(rd(emu, 0x40c, 4), UVFIO_PCI_EXT_CAP_ID_DSN | 1u << 16);
	assert_int_equal(rd(emu, 0x410, 4), 0x04030201);
	/* Headers are read-only; the space is 4096 bytes. */
	assert_int_equal(probe(emu, 0x100, 0xffffffff, 4), h);
	assert_int_equal(rd(emu, 0xffc, 4), 0);
	uvfio_emu_destroy(emu);

	/* Nothing at 0x100 is refused. */
	emu = emu_new();
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_EXP, 0, NULL, NULL, 0), 0);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, UVFIO_PCI_EXT_CAP_ID_DSN, 12, d, NULL,
			   0x200),
		   0);
	assert_ret(uvfio_emu_realize(emu), -EINVAL);
	uvfio_emu_destroy(emu);
}

static void test_cap_overlap(void **state)
{
	uint8_t d[64] = { 0 };
	struct uvfio_emu *emu;

	emu = emu_new();
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, d, NULL, 0x40), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_VNDR, 8, d, NULL, 0x44), 0);
	assert_ret(uvfio_emu_realize(emu), -EINVAL);
	uvfio_emu_destroy(emu);

	/* Touching is fine. */
	emu = emu_new();
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, d, NULL, 0x48), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_VNDR, 8, d, NULL, 0x40), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	uvfio_emu_destroy(emu);

	/* Extended ones overlap the same way. */
	emu = emu_new();
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_EXP, 0, NULL, NULL, 0), 0);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, 0x0b, 16, d, NULL, 0x100), 0);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, 0x03, 12, d, NULL, 0x10c), 0);
	assert_ret(uvfio_emu_realize(emu), -EINVAL);
	uvfio_emu_destroy(emu);

	/* Automatic placement that runs out of room. */
	emu = emu_new();
	for (int i = 0; i < 4; i++)
		assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 60, d, NULL, 0), 0);
	assert_ret(uvfio_emu_realize(emu), -EINVAL);
	uvfio_emu_destroy(emu);
}

static void test_vendor_length(void **state)
{
	uint8_t d[10], m[10];
	struct uvfio_emu *emu = emu_new();

	memset(d, 0x11, sizeof(d));
	memset(m, 0xff, sizeof(m));
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_VNDR, 12, d, m, 0x50), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(rd(emu, 0x52, 1), 12);
	assert_int_equal(probe(emu, 0x52, 0x00, 1), 12);
	/* Its other bytes keep the model's mask. */
	assert_int_equal(probe(emu, 0x53, 0xabcdef, 3), 0xabcdef);
	assert_int_equal(probe(emu, 0x50, 0xffffffff, 4), 0xff0c0009);
	uvfio_emu_destroy(emu);
}

/* --- capabilities routed to the model -------------------------------------- */

struct hook_log {
	unsigned reads, writes;
	uint32_t read_off[8], read_len[8];
	uint32_t write_off, write_len;
	uint8_t written[4];
	int fail;
};

static int hook_read(void *priv, uint32_t offset, void *buf, uint32_t len)
{
	struct hook_log *l = priv;
	uint8_t *b = buf;

	if (l->fail)
		return l->fail;
	if (l->reads < 8) {
		l->read_off[l->reads] = offset;
		l->read_len[l->reads] = len;
	}
	l->reads++;
	for (uint32_t i = 0; i < len; i++)
		b[i] = (uint8_t)(0xa0 + offset + i);
	return 0;
}

static int hook_write(void *priv, uint32_t offset, const void *buf, uint32_t len)
{
	struct hook_log *l = priv;

	if (l->fail)
		return l->fail;
	l->writes++;
	l->write_off = offset;
	l->write_len = len;
	memcpy(l->written, buf, len);
	return 0;
}

static void test_hook_caps(void **state)
{
	static const struct uvfio_emu_ops ops = { .cfg_read = hook_read, .cfg_write = hook_write };
	uint8_t d[6] = { 0 }, m[6] = { 0, 0xff, 0, 0, 0, 0 }, b[8], v[4] = { 1, 2, 3, 4 };
	struct hook_log l = { 0 };
	struct uvfio_emu *emu = emu_new_ops(&ops, &l);

	assert_ret(add_cap(emu, UVFIO_EMU_CAP_HOOK, UVFIO_PCI_CAP_ID_VNDR, 8, d, m, 0x40), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 6, d, NULL, 0x48), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	/* Reads: the header (ID, next) is the library's, the rest the model's. */
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, b, 8, false), 0);
	assert_int_equal(b[0], UVFIO_PCI_CAP_ID_VNDR);
	assert_int_equal(b[1], 0x48);
	for (uint32_t i = 2; i < 8; i++)
		assert_int_equal(b[i], 0xa0 + 0x40 + i);
	assert_int_equal(l.reads, 2); /* one call per dword piece */
	assert_int_equal(l.read_off[0], 0x42);
	assert_int_equal(l.read_len[0], 2);
	assert_int_equal(l.read_off[1], 0x44);
	assert_int_equal(l.read_len[1], 4);
	/* Header-only reads don't reach the model; others' capabilities never do. */
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, b, 2, false), 0);
	assert_ret(uvfio__emu_cfg_access(emu, 0x48, b, 4, false), 0);
	assert_int_equal(l.reads, 2);
	/* Writes: the mask applies to the library's copy, then the model is told. */
	assert_ret(uvfio__emu_cfg_access(emu, 0x40, v, 4, true), 0);
	assert_int_equal(l.writes, 1);
	assert_int_equal(l.write_off, 0x40);
	assert_int_equal(l.write_len, 4);
	assert_memory_equal(l.written, v, 4);
	assert_ret(uvfio_emu_cfg_read(emu, 0x40, b, 4), 0);
	assert_memory_equal(b, ((uint8_t[]){ UVFIO_PCI_CAP_ID_VNDR, 0x48, 8, 4 }), 4);
	wr(emu, 0x48, 0xffffffff, 4);
	assert_int_equal(l.writes, 1);
	/* The model's errors go back to the caller. */
	l.fail = -EIO;
	assert_ret(uvfio__emu_cfg_access(emu, 0x44, b, 4, false), -EIO);
	assert_ret(uvfio__emu_cfg_access(emu, 0x44, b, 4, true), -EIO);
	uvfio_emu_destroy(emu);
}

/* --- resets started from configuration space ------------------------------------- */

struct reset_log {
	unsigned n;
	enum uvfio_emu_reset_reason why;
};

static int on_reset(void *priv, enum uvfio_emu_reset_reason why)
{
	struct reset_log *l = priv;

	l->n++;
	l->why = why;
	return 0;
}

static void test_config_resets(void **state)
{
	static const struct uvfio_emu_ops ops = { .reset = on_reset };
	/* PM without No_Soft_Reset: PMC version 3, PMCSR 0. */
	static const uint8_t pm[6] = { 0x03, 0x00, 0x00, 0x00, 0x00, 0x00 };
	static const uint8_t pm_mask[6] = { 0x00, 0x00, 0x03, 0x00, 0x00, 0x00 };
	struct reset_log l = { 0 };
	struct uvfio_emu *emu = emu_new_ops(&ops, &l);
	uint32_t exp, pmc;

	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 8, pm, pm_mask, 0), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_EXP, 0, NULL, NULL, 0), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	exp = (uint32_t)uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_EXP, false) + UVFIO_PCI_EXP_DEVCTL;
	pmc = (uint32_t)uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_PM, false) + UVFIO_PCI_PM_CTRL;
	/* FLR: one reset, the bit reads back 0; other Device Control bits don't reset. */
	wr(emu, exp, rd(emu, exp, 2) | 1, 2);
	assert_int_equal(l.n, 0);
	wr(emu, exp, rd(emu, exp, 2) | UVFIO_PCI_EXP_DEVCTL_BCR_FLR, 2);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.why, UVFIO_EMU_RESET_FLR);
	assert_int_equal(rd(emu, exp, 2) & UVFIO_PCI_EXP_DEVCTL_BCR_FLR, 0);
	assert_int_equal(rd(emu, exp, 2) & 1, 1);
	/* D3hot -> D0 without No_Soft_Reset resets; D0 -> D0 doesn't. */
	wr(emu, pmc, 0, 2);
	assert_int_equal(l.n, 1);
	wr(emu, pmc, 3, 2);
	assert_int_equal(l.n, 1);
	wr(emu, pmc, 0, 2);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.why, UVFIO_EMU_RESET_PM);
	assert_int_equal(rd(emu, pmc, 2) & 3, 0);
	uvfio_emu_destroy(emu);

	/* The library's PM defaults set No_Soft_Reset: no reset. */
	l.n = 0;
	emu = emu_new_ops(&ops, &l);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 0, NULL, NULL, 0x40), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	wr(emu, 0x44, 3, 2);
	wr(emu, 0x44, 0, 2);
	assert_int_equal(l.n, 0);
	assert_int_equal(rd(emu, 0x44, 2), UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	uvfio_emu_destroy(emu);
}

static void test_msi_caps(void **state)
{
	struct uvfio_emu *emu;
	uint32_t off;

	/* 4 vectors, 32-bit address, no masking: 10 bytes. */
	emu = emu_new();
	assert_ret(uvfio_emu_setup_msi(emu, 4, 0), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 0, NULL, NULL, 0), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	off = (uint32_t)uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_MSI, false);
	assert_int_equal(off, 0x40);
	assert_int_equal(uvfio_emu_find_cap(emu, UVFIO_PCI_CAP_ID_PM, false), 0x4c);
	assert_int_equal(rd(emu, off + 2, 2), 2 << 1);
	/* MME up to what is capable (4 = 2), clamped above. */
	assert_int_equal(probe(emu, off + 2, 0x0020, 2), 0x0024);
	assert_int_equal(probe(emu, off + 2, 0x0070, 2), 0x0024);
	assert_int_equal(probe(emu, off + 4, 0xffffffff, 4), 0xfffffffc);
	assert_int_equal(probe(emu, off + 8, 0xffffffff, 4), 0xffff);
	uvfio_emu_destroy(emu);

	/* 32 vectors, 32-bit, maskable: mask at +12, pending at +16, all 32 bits. */
	emu = emu_new();
	assert_ret(uvfio_emu_setup_msi(emu, 32, UVFIO_EMU_MSI_MASKABLE), 0);
	assert_ret(uvfio_emu_realize(emu), 0);
	assert_int_equal(rd(emu, 0x42, 2), 5 << 1 | UVFIO_PCI_MSI_FLAGS_MASKBIT);
	assert_int_equal(probe(emu, 0x4c, 0xffffffff, 4), 0xffffffff);
	assert_int_equal(probe(emu, 0x50, 0xffffffff, 4), 0);
	assert_int_equal(rd(emu, 0x40, 1), UVFIO_PCI_CAP_ID_MSI);
	assert_int_equal(rd(emu, 0x41, 1), 0);
	uvfio_emu_destroy(emu);
}

static void test_setup_after_realize(void **state)
{
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 1 };
	struct uvfio_emu *emu = emu_new();

	assert_ret(uvfio_emu_realize(emu), 0);
	assert_ret(uvfio_emu_realize(emu), -EBUSY);
	assert_ret(uvfio_emu_setup_pci(emu, &id), -EBUSY);
	assert_ret(add_region(emu, 0, UVFIO_EMU_REGION_READ, 4096), -EBUSY);
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_INTX_IRQ_INDEX, 1), -EBUSY);
	assert_ret(uvfio_emu_setup_msi(emu, 1, 0), -EBUSY);
	assert_ret(uvfio_emu_setup_msix(emu, 1, 0, 0, 0, 8), -EBUSY);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 0, NULL, NULL, 0), -EBUSY);
	/* Nothing changed. */
	assert_int_equal(rd(emu, UVFIO_PCI_VENDOR_ID, 2), VID);
	assert_int_equal(rd(emu, UVFIO_PCI_CAPABILITY_LIST, 1), 0);
	uvfio_emu_destroy(emu);
}

static void test_bad_setup_arguments(void **state)
{
	struct uvfio_emu_pci_id id = { .argsz = sizeof(id), .vendor_id = 0xffff };
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED,
				    .fd = -1 };
	uint8_t d[300] = { 0 };
	struct uvfio_emu_cap c = { .argsz = sizeof(c) - 1, .id = UVFIO_PCI_CAP_ID_VNDR,
				   .size = 4, .data = d };
	struct uvfio_emu *emu = NULL;

	/* Options. */
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	o.fd = 0;
	o.argsz = sizeof(o) - 1;
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	o.argsz = sizeof(o);
	o.flags = UVFIO_EMU_F_FD_CONNECTED | UVFIO_EMU_F_FD_LISTENING;
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	o.flags = 1u << 7;
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	o.flags = 0; /* a path is then needed */
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	o.socket_path = "";
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	o.flags = UVFIO_EMU_F_FD_CONNECTED;
	o.max_msg_fds = UVFIO__MAX_FDS + 1;
	assert_ret(uvfio_emu_create(&o, &emu), -EINVAL);
	assert_ret(uvfio_emu_create(NULL, &emu), -EINVAL);
	assert_null(emu);

	emu = emu_new();
	/* Identity. */
	assert_ret(uvfio_emu_setup_pci(emu, &id), -EINVAL);
	id.vendor_id = 1;
	id.class_code = 0x1000000;
	assert_ret(uvfio_emu_setup_pci(emu, &id), -EINVAL);
	id.class_code = 0;
	id.argsz = sizeof(id) - 1;
	assert_ret(uvfio_emu_setup_pci(emu, &id), -EINVAL);
	assert_ret(uvfio_emu_setup_pci(emu, NULL), -EINVAL);
	/* Capabilities. */
	assert_ret(uvfio_emu_add_cap(emu, &c, NULL), -EINVAL);
	assert_ret(uvfio_emu_add_cap(emu, NULL, NULL), -EINVAL);
	assert_ret(add_cap(emu, 1u << 5, UVFIO_PCI_CAP_ID_VNDR, 4, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, 0, 4, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, 0x100, 4, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_MSI, 10, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_MSIX, 12, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 2, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 0, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 193, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, d, NULL, 0x42), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, d, NULL, 0x3c), -EINVAL);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_AF, 8, d, NULL, 0xfc), -EINVAL);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, 0x3, 4, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, 0, 8, d, NULL, 0), -EINVAL);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, 0x3, 8, d, NULL, 0xfc), -EINVAL);
	assert_ret(add_cap(emu, UVFIO_EMU_CAP_EXTENDED, 0x3, 8, d, NULL, 0xffc), -EINVAL);
	c = (struct uvfio_emu_cap){ .argsz = sizeof(c), .flags = UVFIO_EMU_CAP_EXTENDED,
				    .id = 3, .version = 16, .size = 8, .data = d };
	assert_ret(uvfio_emu_add_cap(emu, &c, NULL), -EINVAL);
	/* PM and PCIe once each. */
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 0, NULL, NULL, 0), 0);
	assert_ret(add_cap(emu, 0, UVFIO_PCI_CAP_ID_PM, 0, NULL, NULL, 0), -EEXIST);
	/* Interrupts. */
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_MSI_IRQ_INDEX, 1), -EINVAL);
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_MSIX_IRQ_INDEX, 1), -EINVAL);
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_INTX_IRQ_INDEX, 2), -EINVAL);
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_NUM_IRQS, 1), -EINVAL);
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_ERR_IRQ_INDEX, 1), 0);
	assert_ret(uvfio_emu_setup_irq(emu, UVFIO_PCI_ERR_IRQ_INDEX, 1), -EEXIST);
	assert_ret(uvfio_emu_setup_msi(emu, 3, 0), -EINVAL);
	assert_ret(uvfio_emu_setup_msi(emu, 0, 0), -EINVAL);
	assert_ret(uvfio_emu_setup_msi(emu, 64, 0), -EINVAL);
	assert_ret(uvfio_emu_setup_msi(emu, 1, 1u << 5), -EINVAL);
	assert_ret(uvfio_emu_setup_msi(emu, 1, 0), 0);
	assert_ret(uvfio_emu_setup_msi(emu, 1, 0), -EEXIST);
	assert_ret(uvfio_emu_setup_msix(emu, 0, 0, 0, 0, 8), -EINVAL);
	assert_ret(uvfio_emu_setup_msix(emu, 2049, 0, 0, 0, 0x8000), -EINVAL);
	assert_ret(uvfio_emu_setup_msix(emu, 1, 6, 0, 0, 8), -EINVAL);
	assert_ret(uvfio_emu_setup_msix(emu, 1, 0, 0, 6, 8), -EINVAL);
	assert_ret(uvfio_emu_setup_msix(emu, 1, 0, 4, 0, 8), -EINVAL);
	assert_ret(uvfio_emu_setup_msix(emu, 1, 0, 0, 0, 12), -EINVAL);
	uvfio_emu_destroy(emu);
}

/* MSI-X table and PBA must lie, apart, inside memory BARs that exist. */
static void test_msix_placement(void **state)
{
	static const struct {
		uint32_t tbar, toff, pbar, poff;
		int want;
	} cases[] = {
		{ 0, 0, 0, 0x100, 0 },         /* 16 vectors * 16 = 0x100 */
		{ 0, 0, 0, 0xf8, -EINVAL },    /* PBA inside the table */
		{ 0, 0xf08, 0, 0, -EINVAL },   /* table past the BAR's end */
		{ 0, 0, 0, 0x1000, -EINVAL },  /* PBA past the end */
		{ 1, 0, 0, 0x800, -EINVAL },   /* no such BAR */
		{ 2, 0, 0, 0x800, -EINVAL },   /* I/O BAR */
		{ 0, 0, 3, 0, 0 },             /* PBA in another BAR */
	};

	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		struct uvfio_emu *emu = emu_new();

		assert_ret(add_region(emu, 0, UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_MEM, 4096),
			   0);
		assert_ret(add_region(emu, 2, UVFIO_EMU_REGION_READ | UVFIO_EMU_BAR_IO, 256), 0);
		assert_ret(add_region(emu, 3, UVFIO_EMU_REGION_READ | UVFIO_EMU_REGION_MEM, 16), 0);
		assert_ret(uvfio_emu_setup_msix(emu, 16, cases[i].tbar, cases[i].toff,
						cases[i].pbar, cases[i].poff),
			   0);
		assert_ret(uvfio_emu_realize(emu), cases[i].want);
		uvfio_emu_destroy(emu);
	}
}

/* Realize needs an identity; destroy takes contexts in any state. */
static void test_realize_needs_identity(void **state)
{
	struct uvfio_emu_opts o = { .argsz = sizeof(o), .flags = UVFIO_EMU_F_FD_CONNECTED };
	struct uvfio_emu *emu;
	int sv[2];

	assert_ret(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	o.fd = sv[0];
	assert_ret(uvfio_emu_create(&o, &emu), 0);
	close(sv[1]);
	assert_ret(uvfio_emu_realize(emu), -EINVAL);
	uvfio_emu_destroy(emu);
	uvfio_emu_destroy(NULL);
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_header_defaults), UVFIO_TEST(test_per_byte_masks),
		UVFIO_TEST(test_w1c), UVFIO_TEST(test_bar_sizing),
		UVFIO_TEST(test_region_setup_errors), UVFIO_TEST(test_rom_bar),
		UVFIO_TEST(test_cap_layout), UVFIO_TEST(test_ext_caps),
		UVFIO_TEST(test_cap_overlap), UVFIO_TEST(test_vendor_length),
		UVFIO_TEST(test_hook_caps), UVFIO_TEST(test_config_resets),
		UVFIO_TEST(test_msi_caps), UVFIO_TEST(test_setup_after_realize),
		UVFIO_TEST(test_bad_setup_arguments), UVFIO_TEST(test_msix_placement),
		UVFIO_TEST(test_realize_needs_identity))
