// SPDX-License-Identifier: BSD-3-Clause
/*
 * The capability and header decoder behind 'uvfio info' (tools/uvfio/
 * pcicap.c, pcidecode.c) on crafted configuration-space images, read back
 * through its JSON rendering: the fields of PM, MSI (32/64-bit, masking),
 * MSI-X (table and PBA inside or outside their BAR), PCI Express (FLR,
 * payload, link), vendor-specific, DSN, AER and SR-IOV; capabilities cut
 * short by the end of configuration space; the text rendering agreeing
 * with the JSON; and random images, which must decode without reading
 * outside the buffer (ASan watches that in the sanitizer build).
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/test.h"
#include "../../tools/uvfio/pcidecode.h"
#include "util/util.h"

static uint8_t img[UVFIO_PCI_CFG_SIZE_PCIE];
static struct pci_image pi;

static void image(size_t len)
{
	memset(img, 0, sizeof(img));
	memset(&pi, 0, sizeof(pi));
	put_le16(img + UVFIO_PCI_VENDOR_ID, 0x1af4);
	put_le16(img + UVFIO_PCI_DEVICE_ID, 0x1041);
	put_le16(img + UVFIO_PCI_STATUS, UVFIO_PCI_STATUS_CAP_LIST);
	pi.cfg = img;
	pi.len = len;
}

/* A standard capability at @off with @id, chained to @next. */
static uint8_t *cap(unsigned off, uint8_t id, uint8_t next)
{
	if (!img[UVFIO_PCI_CAPABILITY_LIST])
		img[UVFIO_PCI_CAPABILITY_LIST] = (uint8_t)off;
	img[off] = id;
	img[off + 1] = next;
	return img + off;
}

static uint8_t *ext_cap(unsigned off, uint16_t id, uint8_t ver, unsigned next)
{
	put_le32(img + off, id | (uint32_t)ver << 16 | (uint32_t)next << 20);
	return img + off;
}

/* Decode the capabilities (or the header) as JSON; the caller puts the result. */
static struct json_object *decode(bool header, bool json, char **text)
{
	struct json_object *doc;
	struct out o;
	size_t len;
	char *buf;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_ret(out_init(&o, json, f), 0);
	if (header)
		pci_show_header(&o, &pi);
	else
		pci_show_caps(&o, &pi);
	assert_ret(out_finish(&o), 0);
	fclose(f);
	if (!json) {
		*text = buf;
		return NULL;
	}
	doc = json_tokener_parse(buf);
	if (!doc)
		fail_msg("not JSON: %s", buf);
	free(buf);
	return doc;
}

static struct json_object *caps_json(void)
{
	return decode(false, true, NULL);
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no \"%s\" in %s", key, json_object_to_json_string(o));
	return v;
}

static bool has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

static int64_t num(struct json_object *o, const char *key)
{
	return json_object_get_int64(get(o, key));
}

static bool flag(struct json_object *o, const char *key)
{
	return json_object_get_boolean(get(o, key));
}

static struct json_object *nth_cap(struct json_object *doc, size_t i)
{
	struct json_object *arr = get(doc, "capabilities");

	assert_true(i < json_object_array_length(arr));
	return json_object_array_get_idx(arr, i);
}

static size_t ncaps(struct json_object *doc)
{
	return json_object_array_length(get(doc, "capabilities"));
}

/* Is @name among the names in array @key of @o? */
static bool in_flags(struct json_object *o, const char *key, const char *name)
{
	struct json_object *arr = get(o, key);

	for (size_t i = 0; i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), name))
			return true;
	return false;
}

static void test_pm_and_msi(void **state)
{
	struct json_object *doc, *c;
	uint8_t *p;

	image(UVFIO_PCI_CFG_SIZE);
	p = cap(0x40, UVFIO_PCI_CAP_ID_PM, 0x50);
	put_le16(p + UVFIO_PCI_PM_PMC, 3 | 1u << 14 | 1u << 15); /* v3, PME from D3hot, D3cold */
	put_le16(p + UVFIO_PCI_PM_CTRL, 3 | UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	/* 64-bit, maskable, 8 capable, 4 enabled. */
	p = cap(0x50, UVFIO_PCI_CAP_ID_MSI, 0x70);
	put_le16(p + UVFIO_PCI_MSI_FLAGS, UVFIO_PCI_MSI_FLAGS_ENABLE | UVFIO_PCI_MSI_FLAGS_64BIT |
						  UVFIO_PCI_MSI_FLAGS_MASKBIT | 3 << 1 | 2 << 4);
	put_le32(p + 4, 0xfee01000);
	put_le32(p + 8, 0x1);
	put_le16(p + 12, 0x4041);
	put_le32(p + 16, 0x5);
	put_le32(p + 20, 0x2);
	/* 32-bit, no masking. */
	p = cap(0x70, UVFIO_PCI_CAP_ID_MSI, 0);
	put_le16(p + UVFIO_PCI_MSI_FLAGS, 0);
	put_le32(p + 4, 0xfee00000);
	put_le16(p + 8, 0x0033);
	doc = caps_json();
	assert_int_equal(ncaps(doc), 3);
	c = nth_cap(doc, 0);
	assert_int_equal(num(c, "offset"), 0x40);
	assert_string_equal(json_object_get_string(get(c, "name")), "Power Management");
	assert_int_equal(num(c, "version"), 3);
	assert_string_equal(json_object_get_string(get(c, "power_state")), "D3hot");
	assert_true(flag(c, "no_soft_reset"));
	assert_false(flag(c, "pme_enabled"));
	assert_true(in_flags(c, "pme_support", "D3hot"));
	assert_true(in_flags(c, "pme_support", "D3cold"));
	assert_false(in_flags(c, "pme_support", "D0"));
	c = nth_cap(doc, 1);
	assert_true(flag(c, "enabled"));
	assert_int_equal(num(c, "vectors_capable"), 8);
	assert_int_equal(num(c, "vectors_enabled"), 4);
	assert_true(flag(c, "address_64bit"));
	assert_true(flag(c, "per_vector_masking"));
	assert_int_equal(num(c, "address"), 0x1fee01000ll);
	assert_int_equal(num(c, "data"), 0x4041);
	assert_int_equal(num(c, "mask"), 0x5);
	assert_int_equal(num(c, "pending"), 0x2);
	c = nth_cap(doc, 2);
	assert_false(flag(c, "enabled"));
	assert_int_equal(num(c, "vectors_capable"), 1);
	assert_false(flag(c, "address_64bit"));
	assert_int_equal(num(c, "address"), 0xfee00000);
	assert_int_equal(num(c, "data"), 0x33);
	assert_false(has(c, "mask"));
	json_object_put(doc);
}

static void test_msix_placement(void **state)
{
	struct json_object *doc, *c;
	uint8_t *p;

	image(UVFIO_PCI_CFG_SIZE);
	pi.bar_size[2] = 0x4000;
	/* 32 vectors: table 512 bytes at 0x2000 of BAR2, PBA at 0x3000 of BAR2. */
	p = cap(0x60, UVFIO_PCI_CAP_ID_MSIX, 0x70);
	put_le16(p + UVFIO_PCI_MSIX_FLAGS, UVFIO_PCI_MSIX_FLAGS_MASKALL | 31);
	put_le32(p + UVFIO_PCI_MSIX_TABLE, 0x2000 | 2);
	put_le32(p + UVFIO_PCI_MSIX_PBA, 0x3000 | 2);
	/* Table in BAR2 but running past its end; PBA in a BAR that doesn't exist. */
	p = cap(0x70, UVFIO_PCI_CAP_ID_MSIX, 0);
	put_le16(p + UVFIO_PCI_MSIX_FLAGS, UVFIO_PCI_MSIX_FLAGS_ENABLE | 2047);
	put_le32(p + UVFIO_PCI_MSIX_TABLE, 0x3000 | 2);
	put_le32(p + UVFIO_PCI_MSIX_PBA, 0 | 7);
	doc = caps_json();
	c = nth_cap(doc, 0);
	assert_false(flag(c, "enabled"));
	assert_true(flag(c, "function_mask"));
	assert_int_equal(num(c, "table_size"), 32);
	assert_int_equal(num(c, "table_bir"), 2);
	assert_int_equal(num(c, "table_offset"), 0x2000);
	assert_true(flag(c, "table_in_bar"));
	assert_int_equal(num(c, "pba_bir"), 2);
	assert_int_equal(num(c, "pba_offset"), 0x3000);
	assert_true(flag(c, "pba_in_bar"));
	c = nth_cap(doc, 1);
	assert_int_equal(num(c, "table_size"), 2048);
	assert_false(flag(c, "table_in_bar"));
	assert_int_equal(num(c, "pba_bir"), 7);
	assert_false(flag(c, "pba_in_bar"));
	json_object_put(doc);
}

static void test_express_and_extended(void **state)
{
	struct json_object *doc, *c, *link;
	uint8_t *p;

	image(UVFIO_PCI_CFG_SIZE_PCIE);
	p = cap(0x40, UVFIO_PCI_CAP_ID_EXP, 0xa0);
	put_le16(p + UVFIO_PCI_EXP_FLAGS, 2); /* v2 endpoint */
	put_le32(p + UVFIO_PCI_EXP_DEVCAP, UVFIO_PCI_EXP_DEVCAP_FLR | 2); /* 512 capable */
	put_le16(p + UVFIO_PCI_EXP_DEVCTL, 1 << 5 | 2 << 12); /* payload 256, read request 512 */
	put_le32(p + UVFIO_PCI_EXP_LNKCAP, 4 | 16 << 4);     /* 16 GT/s x16 */
	put_le16(p + UVFIO_PCI_EXP_LNKSTA, 3 | 8 << 4);      /* 8 GT/s x8 */
	p = cap(0xa0, UVFIO_PCI_CAP_ID_VNDR, 0);
	p[UVFIO_PCI_VNDR_LEN] = 6;
	p[3] = 0xde;
	p[4] = 0xad;
	p[5] = 0x01;
	ext_cap(0x100, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0x110);
	put_le32(img + 0x104, 0x55560001);
	put_le32(img + 0x108, 0x0dd00000);
	ext_cap(0x110, UVFIO_PCI_EXT_CAP_ID_ERR, 2, 0x140);
	put_le32(img + 0x114, 0x00100000);
	put_le32(img + 0x124, 0x00002000);
	ext_cap(0x140, 0x0010 /* SR-IOV */, 1, 0);
	put_le16(img + 0x148, 1);
	put_le16(img + 0x14c, 8);
	put_le16(img + 0x14e, 64);
	put_le16(img + 0x150, 4);
	put_le16(img + 0x154, 0x80);
	put_le16(img + 0x156, 2);
	put_le16(img + 0x15a, 0x10ed);
	doc = caps_json();
	assert_int_equal(ncaps(doc), 5);
	c = nth_cap(doc, 0);
	assert_int_equal(num(c, "version"), 2);
	assert_int_equal(num(c, "port_type"), 0);
	assert_string_equal(json_object_get_string(get(c, "port_type_name")), "Endpoint");
	assert_true(flag(c, "flr"));
	assert_int_equal(num(c, "max_payload"), 256);
	assert_int_equal(num(c, "max_payload_supported"), 512);
	assert_int_equal(num(c, "max_read_request"), 512);
	link = get(c, "link");
	assert_true(json_object_get_double(get(link, "max_speed_gts")) == 16.0);
	assert_int_equal(num(link, "max_width"), 16);
	assert_true(json_object_get_double(get(link, "speed_gts")) == 8.0);
	assert_int_equal(num(link, "width"), 8);
	c = nth_cap(doc, 1);
	assert_int_equal(num(c, "length"), 6);
	assert_string_equal(json_object_get_string(get(c, "data")), "dead01");
	c = nth_cap(doc, 2);
	assert_true(flag(c, "extended"));
	assert_int_equal(num(c, "version"), 1);
	assert_string_equal(json_object_get_string(get(c, "serial_text")),
			    "0d-d0-00-00-55-56-00-01");
	c = nth_cap(doc, 3);
	assert_int_equal(num(c, "uncorrectable_status"), 0x00100000);
	assert_int_equal(num(c, "correctable_mask"), 0x2000);
	c = nth_cap(doc, 4);
	assert_true(flag(c, "vf_enable"));
	assert_int_equal(num(c, "initial_vfs"), 8);
	assert_int_equal(num(c, "total_vfs"), 64);
	assert_int_equal(num(c, "num_vfs"), 4);
	assert_int_equal(num(c, "vf_offset"), 0x80);
	assert_int_equal(num(c, "vf_stride"), 2);
	assert_int_equal(num(c, "vf_device_id"), 0x10ed);
	json_object_put(doc);
}

/* Capabilities whose fields run past the end of their space say so; nothing past is read. */
static void test_truncated(void **state)
{
	struct json_object *doc, *c;
	uint8_t *p;

	image(UVFIO_PCI_CFG_SIZE_PCIE);
	/* MSI-X needs 12 bytes: at 0xf8 it would reach into extended space. */
	cap(0xf8, UVFIO_PCI_CAP_ID_MSIX, 0xfc);
	p = cap(0xfc, UVFIO_PCI_CAP_ID_VNDR, 0);
	p[UVFIO_PCI_VNDR_LEN] = 40; /* claims more than the 4 bytes left */
	img[0xff] = 0x77;
	/* Extended space right after: none of it may show up as the vendor data. */
	ext_cap(0x100, UVFIO_PCI_EXT_CAP_ID_DSN, 1, 0xffc);
	ext_cap(0xffc, UVFIO_PCI_EXT_CAP_ID_ERR, 1, 0);
	doc = caps_json();
	assert_int_equal(ncaps(doc), 4);
	c = nth_cap(doc, 0);
	assert_true(flag(c, "truncated"));
	assert_false(has(c, "table_size"));
	c = nth_cap(doc, 1);
	assert_true(flag(c, "truncated"));
	assert_string_equal(json_object_get_string(get(c, "data")), "77");
	/* DSN at 0x100 is whole; AER at 0xffc has only its header. */
	c = nth_cap(doc, 2);
	assert_false(has(c, "truncated"));
	c = nth_cap(doc, 3);
	assert_true(flag(c, "truncated"));
	assert_false(has(c, "uncorrectable_status"));
	json_object_put(doc);
}

/* The text rendering carries the same facts as the JSON. */
static void test_text_matches(void **state)
{
	char *text;
	uint8_t *p;

	image(UVFIO_PCI_CFG_SIZE);
	pi.bar_size[0] = 0x1000;
	put_le32(img + UVFIO_PCI_BASE_ADDRESS_0, 0xfebd0000);
	p = cap(0x48, UVFIO_PCI_CAP_ID_MSIX, 0);
	put_le16(p + UVFIO_PCI_MSIX_FLAGS, 3);
	put_le32(p + UVFIO_PCI_MSIX_TABLE, 0x800);
	put_le32(p + UVFIO_PCI_MSIX_PBA, 0xc00);
	decode(false, false, &text);
	assert_non_null(strstr(text, "[0x48] MSI-X (0x11): disabled, function mask off, table size 4"));
	assert_non_null(strstr(text, "table BIR 0 offset 0x800, PBA BIR 0 offset 0xc00"));
	free(text);
	decode(true, false, &text);
	assert_non_null(strstr(text, "1af4:1041"));
	assert_non_null(strstr(text, "BAR0 memory at 0xfebd0000, 32-bit, non-prefetchable"));
	free(text);
}

/* Random images, with and without a plausible chain: decoded, both ways, without faults. */
static void test_random_images(void **state)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	for (unsigned round = 0; round < 2000; round++) {
		struct json_object *doc;
		char *text;

		image(round & 1 ? UVFIO_PCI_CFG_SIZE_PCIE : UVFIO_PCI_CFG_SIZE);
		for (size_t i = 0; i < sizeof(img); i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			img[i] = (uint8_t)x;
		}
		/* Half the time, a chain that really starts and goes somewhere. */
		if (round & 2) {
			put_le16(img + UVFIO_PCI_STATUS, UVFIO_PCI_STATUS_CAP_LIST);
			img[UVFIO_PCI_CAPABILITY_LIST] = (uint8_t)(0x40 + (x & 0xbc));
		}
		for (unsigned b = 0; b < PCI_NR_BAR_SIZES; b++)
			pi.bar_size[b] = (x >> (b * 8)) & 1 ? 1ull << ((x >> (b * 8 + 1)) & 31) : 0;
		doc = decode(round & 4, true, NULL);
		assert_non_null(doc);
		json_object_put(doc);
		decode(round & 4, false, &text);
		free(text);
	}
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pm_and_msi),
		cmocka_unit_test(test_msix_placement),
		cmocka_unit_test(test_express_and_extended),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_text_matches),
		cmocka_unit_test(test_random_images),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	uvfio_test_tap();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
