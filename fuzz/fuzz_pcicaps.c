// SPDX-License-Identifier: BSD-3-Clause
/*
 * fuzz_pcicaps: the configuration-space decoders on images a hostile
 * device chose: the library's capability walk (uvfio_pci_caps(), used by
 * uvfio_device_find_cap() and 'uvfio info'), and the 'uvfio info' decoder
 * (tools/uvfio/pcidecode.c, pcicap.c) in text and in JSON.
 *
 * Input: byte 0 picks the image length (4096, 256, or an odd length up to
 * 4096 from byte 1, as a short config region would give); bytes 2-8 pick
 * the seven BAR/ROM region sizes; the rest is the image (zeros where the
 * input ends). The image sits at the end of a heap block of exactly its
 * length, so a read past it is an ASan report.
 *
 * Properties: the walk ends, finds each capability once, only where the
 * lists may put one (standard: 0x40-0xff, 4-aligned; extended: 0x100 and
 * up, 4-aligned, 4096-byte images only), reports the ID and version the
 * image holds there and sizes that stay inside their space; a smaller
 * result array gets a prefix of the same answer and the same count. Every
 * capability has a name. The decoder's JSON parses, its text is printable
 * ASCII, and both come out the same when run twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "uvfio/vfio.h"
#include "fuzz_common.h"
#include "out.h"
#include "pcidecode.h"

#define MAX_CAPS 1100 /* more than both lists can hold: 48 + 960 */

static void check_walk(const uint8_t *cfg, size_t len)
{
	static struct uvfio_pci_cap caps[MAX_CAPS], few[8];
	static bool seen[4096];
	int n = uvfio_pci_caps(cfg, len, caps, MAX_CAPS), m;

	FZ_CHECK(n >= 0 && n <= (int)((256 - 0x40) / 4 + (4096 - 0x100) / 4), "%d capabilities", n);
	if (len < 256)
		FZ_CHECK(n == 0, "%d capabilities in a %zu-byte image", n, len);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < n; i++) {
		const struct uvfio_pci_cap *c = &caps[i];
		unsigned limit = c->extended ? 4096 : 256;

		FZ_CHECK(!(c->offset & 3) && !seen[c->offset], "capability %d at 0x%x", i, c->offset);
		seen[c->offset] = true;
		if (c->extended) {
			FZ_CHECK(len >= 4096 && c->offset >= 0x100 && c->offset <= 4096 - 4,
				 "extended capability at 0x%x", c->offset);
			FZ_CHECK(c->id == (cfg[c->offset] | cfg[c->offset + 1] << 8) &&
					 c->version == (cfg[c->offset + 2] & 0xf),
				 "extended capability 0x%x at 0x%x: the image says otherwise", c->id,
				 c->offset);
		} else {
			FZ_CHECK(c->offset >= 0x40 && c->offset <= 256 - 2,
				 "standard capability at 0x%x", c->offset);
			FZ_CHECK(c->id == cfg[c->offset], "standard capability 0x%x at 0x%x: the image says 0x%x",
				 c->id, c->offset, cfg[c->offset]);
			FZ_CHECK(i == 0 || !caps[i - 1].extended, "a standard capability after an extended one");
		}
		FZ_CHECK(c->size > 0 && c->offset + c->size <= limit,
			 "capability at 0x%x of %u bytes runs past 0x%x", c->offset, c->size, limit);
		FZ_CHECK(uvfio_pci_cap_name(c->id, c->extended) != NULL, "no name for 0x%x", c->id);
	}
	/* A small array: the same count, the same prefix. */
	m = uvfio_pci_caps(cfg, len, few, 8);
	FZ_CHECK(m == n, "%d capabilities with room for 8, %d with room for all", m, n);
	for (int i = 0; i < n && i < 8; i++)
		FZ_CHECK(few[i].id == caps[i].id && few[i].offset == caps[i].offset &&
				 few[i].extended == caps[i].extended,
			 "capability %d differs with a small array", i);
	FZ_CHECK(uvfio_pci_caps(cfg, len, NULL, 0) == n, "count without an array");
}

/* Decode @img the way 'uvfio info' does; the output, NUL-terminated. Free with free(). */
static char *decode(const struct pci_image *img, bool json, size_t *len)
{
	struct out o;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	FZ_CHECK(f, "open_memstream");
	FZ_CHECK(!out_init(&o, json, f), "out_init");
	out_obj(&o, "config");
	pci_show_header(&o, img);
	out_text(&o, "\n");
	pci_show_caps(&o, img);
	out_end(&o);
	FZ_CHECK(!out_finish(&o), "the decoder's output was lost");
	fclose(f);
	return buf;
}

static void check_decode(const struct pci_image *img)
{
	size_t tl, tl2, jl, jl2;
	char *t = decode(img, false, &tl), *t2 = decode(img, false, &tl2);
	char *j = decode(img, true, &jl), *j2 = decode(img, true, &jl2);
	struct json_object *doc;

	FZ_CHECK(tl == tl2 && !memcmp(t, t2, tl) && jl == jl2 && !memcmp(j, j2, jl),
		 "decoding the same image twice gave different output");
	for (size_t i = 0; i < tl; i++)
		FZ_CHECK(t[i] == '\n' || (t[i] >= 0x20 && t[i] < 0x7f),
			 "text output byte %zu is 0x%02x", i, (unsigned char)t[i]);
	FZ_CHECK(strlen(j) == jl, "NUL in the JSON output");
	doc = json_tokener_parse(j);
	FZ_CHECK(doc && json_object_is_type(doc, json_type_object), "the JSON output does not parse");
	json_object_put(doc);
	free(t);
	free(t2);
	free(j);
	free(j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 16, 128, 4096, 8192, 1u << 20, 1ull << 32, 1ull << 40 };
	struct pci_image img = { 0 };
	uint8_t sel, odd, *cfg;
	struct fz f;
	size_t len;

	fz_init(&f, data, size);
	sel = fz_u8(&f);
	odd = fz_u8(&f);
	len = sel < 0x80 ? 4096 : sel < 0xf0 ? 256 : (size_t)odd * 16 + (sel & 0xf);
	for (unsigned i = 0; i < PCI_NR_BAR_SIZES; i++) {
		uint8_t b = fz_u8(&f);

		img.bar_size[i] = b < 0xc0 ? sizes[b % 8] : 1ull << (b & 63);
	}
	cfg = malloc(len ? len : 1);
	FZ_CHECK(cfg, "out of memory");
	fz_bytes(&f, cfg, len);
	img.cfg = cfg;
	img.len = len;

	check_walk(cfg, len);
	check_decode(&img);
	FZ_CHECK(pci_class_name(len ? cfg[len - 1] : 0) != NULL, "no class name");
	free(cfg);
	return 0;
}
