// SPDX-License-Identifier: BSD-3-Clause
/*
 * uvfio_pci_caps() on crafted configuration-space images: ordinary chains,
 * loops, pointers into the header, unaligned pointers, extended lists with
 * loops and all-ones, the capability-list status bit, callers' arrays
 * smaller than the list, computed sizes; and uvfio_pci_cap_name().
 */
#include <errno.h>
#include <string.h>

#include "../common/test.h"
#include "uvfio/vfio.h"
#include "util/util.h"

#define CFG  UVFIO_PCI_CFG_SIZE
#define ECFG UVFIO_PCI_CFG_SIZE_PCIE

static uint8_t img[ECFG];

/* An image with the capability list enabled and the first pointer @first. */
static void image(uint8_t first)
{
	memset(img, 0, sizeof(img));
	put_le16(img + UVFIO_PCI_VENDOR_ID, 0x1234);
	put_le16(img + UVFIO_PCI_STATUS, UVFIO_PCI_STATUS_CAP_LIST);
	img[UVFIO_PCI_CAPABILITY_LIST] = first;
}

static void std_cap(unsigned off, uint8_t id, uint8_t next)
{
	img[off] = id;
	img[off + 1] = next;
}

static void ext_cap(unsigned off, uint16_t id, uint8_t ver, uint16_t next)
{
	put_le32(img + off, id | (uint32_t)(ver & 0xf) << 16 | (uint32_t)next << 20);
}

static void expect(const struct uvfio_pci_cap *c, uint16_t id, bool ext, uint16_t off,
		   uint16_t size)
{
	assert_int_equal(c->id, id);
	assert_int_equal(c->extended, ext);
	assert_int_equal(c->offset, off);
	assert_int_equal(c->size, size);
}

static void test_standard_chain(void **state)
{
	struct uvfio_pci_cap c[8];

	image(0x40);
	std_cap(0x40, UVFIO_PCI_CAP_ID_PM, 0x50);
	std_cap(0x50, UVFIO_PCI_CAP_ID_MSI, 0x70);
	std_cap(0x70, UVFIO_PCI_CAP_ID_MSIX, 0);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 3);
	expect(&c[0], UVFIO_PCI_CAP_ID_PM, false, 0x40, 0x10);
	expect(&c[1], UVFIO_PCI_CAP_ID_MSI, false, 0x50, 0x20);
	expect(&c[2], UVFIO_PCI_CAP_ID_MSIX, false, 0x70, 0x90);
	assert_int_equal(c[0].version, 0);
	/* The same image as 4 KiB with an empty extended list: nothing more. */
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 3);
}

/* Sizes go to the next capability by offset, not by list order. */
static void test_chain_out_of_order(void **state)
{
	struct uvfio_pci_cap c[8];

	image(0x40);
	std_cap(0x40, UVFIO_PCI_CAP_ID_EXP, 0x80);
	std_cap(0x80, UVFIO_PCI_CAP_ID_VNDR, 0x60);
	std_cap(0x60, UVFIO_PCI_CAP_ID_PM, 0);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 3);
	expect(&c[0], UVFIO_PCI_CAP_ID_EXP, false, 0x40, 0x20);
	expect(&c[1], UVFIO_PCI_CAP_ID_VNDR, false, 0x80, 0x80);
	expect(&c[2], UVFIO_PCI_CAP_ID_PM, false, 0x60, 0x20);
}

static void test_loops(void **state)
{
	struct uvfio_pci_cap c[8];

	/* Back to the first. */
	image(0x40);
	std_cap(0x40, 0x01, 0x50);
	std_cap(0x50, 0x05, 0x40);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 2);
	assert_int_equal(c[0].offset, 0x40);
	assert_int_equal(c[1].offset, 0x50);
	/* To itself. */
	image(0x40);
	std_cap(0x40, 0x01, 0x40);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 1);
	/* Into the middle of the chain. */
	image(0x40);
	std_cap(0x40, 0x01, 0x50);
	std_cap(0x50, 0x05, 0x60);
	std_cap(0x60, 0x11, 0x50);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 3);
	/* Through an unaligned alias of a visited one (0x41 is 0x40 masked). */
	image(0x40);
	std_cap(0x40, 0x01, 0x50);
	std_cap(0x50, 0x05, 0x41);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 2);
}

/* The longest possible list: every dword from 0x40 to 0xfc, once. */
static void test_longest_chain(void **state)
{
	struct uvfio_pci_cap c[64];

	image(0x40);
	for (unsigned off = 0x40; off < CFG; off += 4)
		std_cap(off, 0x09, off + 4 < CFG ? (uint8_t)(off + 4) : 0x40);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 64), 48);
	for (unsigned i = 0; i < 48; i++)
		expect(&c[i], 0x09, false, (uint16_t)(0x40 + 4 * i), 4);
}

static void test_pointer_into_header(void **state)
{
	struct uvfio_pci_cap c[8];

	/* The first pointer. */
	image(0x20);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 0);
	image(0x3c);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 0);
	/* A next pointer. */
	image(0x40);
	std_cap(0x40, 0x01, 0x10);
	std_cap(0x10, 0x05, 0);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 1);
	assert_int_equal(c[0].size, CFG - 0x40);
	/* A null first pointer. */
	image(0);
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 0);
}

/* Pointers are dword-aligned: the low two bits are ignored, as by the kernel. */
static void test_unaligned_pointers_masked(void **state)
{
	struct uvfio_pci_cap c[8];

	image(0x43);
	std_cap(0x40, 0x01, 0x52);
	std_cap(0x50, 0x05, 0xff);
	std_cap(0xfc, 0x11, 0x03); /* 0x03 masks to 0: the end */
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 3);
	expect(&c[0], 0x01, false, 0x40, 0x10);
	expect(&c[1], 0x05, false, 0x50, 0xac);
	expect(&c[2], 0x11, false, 0xfc, 4);
}

static void test_cap_list_bit_clear(void **state)
{
	struct uvfio_pci_cap c[8];

	image(0x40);
	std_cap(0x40, 0x01, 0);
	ext_cap(0x100, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0);
	put_le16(img + UVFIO_PCI_STATUS, 0);
	/* No standard list; the extended one doesn't depend on the bit. */
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 0);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 1);
	expect(&c[0], UVFIO_PCI_EXT_CAP_ID_DSN, true, 0x100, ECFG - 0x100);
}

static void test_extended_chain(void **state)
{
	struct uvfio_pci_cap c[8];

	image(0x40);
	std_cap(0x40, UVFIO_PCI_CAP_ID_EXP, 0);
	ext_cap(0x100, UVFIO_PCI_EXT_CAP_ID_ERR, 2, 0x148);
	ext_cap(0x148, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x200);
	ext_cap(0x200, UVFIO_PCI_EXT_CAP_ID_VNDR, 0xf, 0);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 4);
	expect(&c[0], UVFIO_PCI_CAP_ID_EXP, false, 0x40, 0xc0);
	expect(&c[1], UVFIO_PCI_EXT_CAP_ID_ERR, true, 0x100, 0x48);
	assert_int_equal(c[1].version, 2);
	expect(&c[2], UVFIO_PCI_EXT_CAP_ID_DSN, true, 0x148, 0xb8);
	assert_int_equal(c[2].version, 1);
	expect(&c[3], UVFIO_PCI_EXT_CAP_ID_VNDR, true, 0x200, ECFG - 0x200);
	assert_int_equal(c[3].version, 0xf);
	/* A 256-byte image has no extended list, whatever follows in memory. */
	assert_int_equal(uvfio_pci_caps(img, CFG, c, 8), 1);
	/* Shorter than a configuration space: nothing. */
	assert_int_equal(uvfio_pci_caps(img, CFG - 1, c, 8), 0);
	assert_int_equal(uvfio_pci_caps(img, 0, c, 8), 0);
}

static void test_extended_loop_and_all_ones(void **state)
{
	struct uvfio_pci_cap c[8];

	image(0);
	/* 0x100 -> 0x180 -> 0x100 */
	ext_cap(0x100, UVFIO_PCI_EXT_CAP_ID_ERR, 1, 0x180);
	ext_cap(0x180, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x100);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 2);
	/* -> itself */
	ext_cap(0x180, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x180);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 2);
	/* -> into standard space: the walk stops */
	ext_cap(0x180, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x40);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 2);
	/* -> unaligned (masked) */
	ext_cap(0x180, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x203);
	ext_cap(0x200, UVFIO_PCI_EXT_CAP_ID_VNDR, 1, 0);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 3);
	assert_int_equal(c[2].offset, 0x200);
	/* -> all ones (a device that went away) */
	ext_cap(0x180, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x300);
	put_le32(img + 0x300, 0xffffffffu);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 2);
	/* -> a zero header */
	ext_cap(0x180, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x400);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 2);
	/* An all-ones or zero list head: no extended capabilities. */
	put_le32(img + 0x100, 0xffffffffu);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 0);
	put_le32(img + 0x100, 0);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 0);
	/* A list through the last dword of the space. */
	ext_cap(0x100, 0x0d, 1, 0xffc);
	ext_cap(0xffc, 0x0e, 1, 0);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 2);
	expect(&c[1], 0x0e, true, 0xffc, 4);
}

/* The longest extended list: every dword from 0x100, once; the walk still ends. */
static void test_extended_longest(void **state)
{
	static struct uvfio_pci_cap c[1024];

	image(0);
	for (unsigned off = 0x100; off < ECFG; off += 4)
		ext_cap(off, 0x0b, 1, (uint16_t)(off + 4 < ECFG ? off + 4 : 0x100));
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, ARRAY_SIZE(c)), (ECFG - 0x100) / 4);
	assert_int_equal(c[0].size, 4);
	assert_int_equal(c[(ECFG - 0x100) / 4 - 1].offset, ECFG - 4);
}

/* The return value counts every capability; only @max are stored. */
static void test_max_smaller_than_count(void **state)
{
	struct uvfio_pci_cap c[8];
	struct uvfio_pci_cap guard;

	image(0x40);
	std_cap(0x40, 0x01, 0x50);
	std_cap(0x50, 0x05, 0x70);
	std_cap(0x70, 0x11, 0);
	ext_cap(0x100, UVFIO_PCI_EXT_CAP_ID_ERR, 1, 0x140);
	ext_cap(0x140, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0);
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 8), 5);
	/* Nothing stored at all. */
	assert_int_equal(uvfio_pci_caps(img, ECFG, NULL, 0), 5);
	/* Two of three standard ones. */
	memset(c, 0xa5, sizeof(c));
	memset(&guard, 0xa5, sizeof(guard));
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 2), 5);
	assert_int_equal(c[0].offset, 0x40);
	assert_int_equal(c[1].offset, 0x50);
	assert_memory_equal(&c[2], &guard, sizeof(guard));
	/* All standard ones and one extended. */
	memset(c, 0xa5, sizeof(c));
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 4), 5);
	expect(&c[0], 0x01, false, 0x40, 0x10);
	expect(&c[2], 0x11, false, 0x70, 0x90);
	assert_int_equal(c[3].id, UVFIO_PCI_EXT_CAP_ID_ERR);
	assert_true(c[3].extended);
	assert_int_equal(c[3].offset, 0x100);
	assert_true(c[3].size >= 0x40); /* an upper bound: the next one isn't stored */
	assert_memory_equal(&c[4], &guard, sizeof(guard));
	/* Exactly the standard ones. */
	memset(c, 0xa5, sizeof(c));
	assert_int_equal(uvfio_pci_caps(img, ECFG, c, 3), 5);
	expect(&c[2], 0x11, false, 0x70, 0x90);
	assert_memory_equal(&c[3], &guard, sizeof(guard));
}

static void test_cap_names(void **state)
{
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_CAP_ID_PM, false), "Power Management");
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_CAP_ID_MSI, false), "MSI");
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_CAP_ID_MSIX, false), "MSI-X");
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_CAP_ID_EXP, false), "PCI Express");
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_CAP_ID_VNDR, false), "Vendor Specific");
	assert_string_equal(uvfio_pci_cap_name(0x15, false), "Flattening Portal Bridge");
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_EXT_CAP_ID_ERR, true),
			    "Advanced Error Reporting");
	assert_string_equal(uvfio_pci_cap_name(UVFIO_PCI_EXT_CAP_ID_DSN, true),
			    "Device Serial Number");
	assert_string_equal(uvfio_pci_cap_name(0x10, true), "SR-IOV");
	assert_string_equal(uvfio_pci_cap_name(0x26, true), "Physical Layer 16 GT/s");
	/* The same number names different things in the two lists. */
	assert_string_equal(uvfio_pci_cap_name(0x03, false), "VPD");
	assert_string_equal(uvfio_pci_cap_name(0x11, true), "MR-IOV");
	/* Unknown: zero, gaps, past the tables, the largest numbers. */
	assert_string_equal(uvfio_pci_cap_name(0x00, false), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0x16, false), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0xff, false), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0xffff, false), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0x00, true), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0x14, true), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0x27, true), "unknown");
	assert_string_equal(uvfio_pci_cap_name(0xffff, true), "unknown");
}

UVFIO_TEST_MAIN(UVFIO_TEST(test_standard_chain), UVFIO_TEST(test_chain_out_of_order),
		UVFIO_TEST(test_loops), UVFIO_TEST(test_longest_chain),
		UVFIO_TEST(test_pointer_into_header), UVFIO_TEST(test_unaligned_pointers_masked),
		UVFIO_TEST(test_cap_list_bit_clear), UVFIO_TEST(test_extended_chain),
		UVFIO_TEST(test_extended_loop_and_all_ones), UVFIO_TEST(test_extended_longest),
		UVFIO_TEST(test_max_smaller_than_count), UVFIO_TEST(test_cap_names))
