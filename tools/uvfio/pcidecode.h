/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Decoding a PCI configuration-space image for 'uvfio info' (and class
 * names for 'uvfio ls'). The image comes from the device, which may be a
 * hostile vfio-user server: every decoder reads only through cfg_ok(),
 * which checks the offset against the image's length, so garbage yields
 * odd output, never a read outside the buffer.
 */
#ifndef UVFIO_TOOLS_PCIDECODE_H
#define UVFIO_TOOLS_PCIDECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uvfio/pci.h>

#include "out.h"

/* BAR0-5 and the ROM, the seven regions whose sizes the decoder needs. */
#define PCI_NR_BAR_SIZES 7

/* A configuration-space image and what the regions say about the BARs. */
struct pci_image {
	const uint8_t *cfg;
	size_t len;                              /* 256 or 4096 */
	uint64_t bar_size[PCI_NR_BAR_SIZES];     /* region sizes: BAR0-5, ROM; 0 = absent */
};

/* Is [@off, @off + @n) inside @limit bytes (no overflow)? */
static inline bool cfg_ok(size_t limit, size_t off, size_t n)
{
	return off <= limit && n <= limit - off;
}

/* Little-endian reads; the caller has checked the range with cfg_ok(). */
static inline uint16_t cfg16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t cfg32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* "mass storage controller" for base class 0x01, "unassigned" for 0xff, ... */
const char *pci_class_name(uint8_t base);

/* The header: IDs, class, command/status, header type, interrupt, BARs, ROM. */
void pci_show_header(struct out *o, const struct pci_image *img);

/* Every capability of both lists, with the fields the decoder knows. */
void pci_show_caps(struct out *o, const struct pci_image *img);

#endif /* UVFIO_TOOLS_PCIDECODE_H */
