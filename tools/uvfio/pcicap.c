// SPDX-License-Identifier: BSD-3-Clause
/*
 * The capabilities of a configuration-space image, as uvfio_pci_caps()
 * finds them, each with the fields a VFIO user cares about: power state
 * and No_Soft_Reset (does a reset through D3hot work?), MSI and MSI-X
 * (how many vectors, where the MSI-X table sits — the part of the BAR that
 * may not be mmap-able), PCI Express (FLR, payload sizes, link), and the
 * extended ones' headers.
 * The list walk is bounded by the library; the fields are not, so every
 * decoder asks need() before it reads. Standard capabilities live in the
 * first 256 bytes, so their fields are bounded by 256 even when the image
 * is 4096 bytes long: a capability at 0xfc cannot spill into extended
 * space.
 */
#include <uvfio/vfio.h>

#include "pcidecode.h"

/* What one decoder works on. */
struct cap_ctx {
	struct out *o;
	const uint8_t *cfg;
	size_t limit;           /* the capability's fields end before this offset */
	unsigned off;           /* where the capability starts */
};

/* Are the @n bytes at @rel inside the space? If not, say the capability is cut short. */
static bool need(const struct cap_ctx *c, unsigned rel, unsigned n)
{
	if (cfg_ok(c->limit, (size_t)c->off + rel, n))
		return true;
	out_jbool(c->o, "truncated", true);
	out_text(c->o, " (truncated: runs past the end of configuration space)");
	return false;
}

static uint16_t r16(const struct cap_ctx *c, unsigned rel)
{
	return cfg16(c->cfg + c->off + rel);
}

static uint32_t r32(const struct cap_ctx *c, unsigned rel)
{
	return cfg32(c->cfg + c->off + rel);
}

#define NFLAGS(t) (sizeof(t) / sizeof((t)[0]))

static void show_pm(const struct cap_ctx *c)
{
	static const char *const states[] = { "D0", "D1", "D2", "D3hot" };
	static const struct out_flag pme[] = {
		{ 1u << 11, "D0" }, { 1u << 12, "D1" }, { 1u << 13, "D2" },
		{ 1u << 14, "D3hot" }, { 1u << 15, "D3cold" },
	};
	uint16_t pmc, csr;

	if (!need(c, UVFIO_PCI_PM_PMC, 4))
		return;
	pmc = r16(c, UVFIO_PCI_PM_PMC);
	csr = r16(c, UVFIO_PCI_PM_CTRL);
	out_num(c->o, "version", " version %" PRIu64 ", PME from ", pmc & 7);
	out_flags(c->o, "pme_support", pme, NFLAGS(pme), pmc & 0xf800, "none");
	out_str(c->o, "power_state", ", state %s", states[csr & UVFIO_PCI_PM_CTRL_STATE_MASK]);
	out_jbool(c->o, "no_soft_reset", csr & UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	out_text(c->o, ", No_Soft_Reset%c", csr & UVFIO_PCI_PM_CTRL_NO_SOFT_RESET ? '+' : '-');
	out_jbool(c->o, "pme_enabled", csr & UVFIO_PCI_PM_CTRL_PME_ENABLE);
	out_text(c->o, ", PME_En%c", csr & UVFIO_PCI_PM_CTRL_PME_ENABLE ? '+' : '-');
}

static void show_msi(const struct cap_ctx *c)
{
	uint16_t ctl;
	bool is64, mask;
	unsigned data_off;

	if (!need(c, UVFIO_PCI_MSI_FLAGS, 2))
		return;
	ctl = r16(c, UVFIO_PCI_MSI_FLAGS);
	is64 = ctl & UVFIO_PCI_MSI_FLAGS_64BIT;
	mask = ctl & UVFIO_PCI_MSI_FLAGS_MASKBIT;
	out_jbool(c->o, "enabled", ctl & UVFIO_PCI_MSI_FLAGS_ENABLE);
	out_text(c->o, " %s", ctl & UVFIO_PCI_MSI_FLAGS_ENABLE ? "enabled" : "disabled");
	out_num(c->o, "vectors_capable", ", vectors: %" PRIu64 " capable",
		1u << ((ctl & UVFIO_PCI_MSI_FLAGS_QMASK) >> 1));
	out_num(c->o, "vectors_enabled", ", %" PRIu64 " enabled",
		1u << ((ctl & UVFIO_PCI_MSI_FLAGS_QSIZE) >> 4));
	out_jbool(c->o, "address_64bit", is64);
	out_text(c->o, ", %s", is64 ? "64-bit" : "32-bit");
	out_jbool(c->o, "per_vector_masking", mask);
	out_text(c->o, "%s", mask ? ", per-vector masking" : "");
	data_off = UVFIO_PCI_MSI_ADDRESS_LO + (is64 ? 8 : 4);
	if (!need(c, UVFIO_PCI_MSI_ADDRESS_LO, data_off + 2 - UVFIO_PCI_MSI_ADDRESS_LO))
		return;
	out_num(c->o, "address", "\n        address 0x%" PRIx64,
		r32(c, UVFIO_PCI_MSI_ADDRESS_LO) |
			(is64 ? (uint64_t)r32(c, UVFIO_PCI_MSI_ADDRESS_LO + 4) << 32 : 0));
	out_num(c->o, "data", ", data 0x%04" PRIx64, r16(c, data_off));
	/* Mask and pending bits follow the data word, 4-byte aligned. */
	if (mask && need(c, data_off + 4, 8)) {
		out_num(c->o, "mask", ", mask 0x%08" PRIx64, r32(c, data_off + 4));
		out_num(c->o, "pending", ", pending 0x%08" PRIx64, r32(c, data_off + 8));
	}
}

/* Does [off, off + len) fit in BAR @bir, as its region reports it? */
static bool in_bar(const struct pci_image *img, unsigned bir, uint64_t off, uint64_t len)
{
	return bir < 6 && off <= img->bar_size[bir] && len <= img->bar_size[bir] - off;
}

static void show_msix_place(const struct cap_ctx *c, const struct pci_image *img,
			    const char *what, unsigned rel, uint64_t len)
{
	uint32_t v = r32(c, rel);
	unsigned bir = v & UVFIO_PCI_MSIX_BIR;
	bool fits = in_bar(img, bir, v & ~UVFIO_PCI_MSIX_BIR, len);
	char key[24];

	snprintf(key, sizeof(key), "%s_bir", what);
	out_num(c->o, key, " BIR %" PRIu64, bir);
	snprintf(key, sizeof(key), "%s_offset", what);
	out_num(c->o, key, " offset 0x%" PRIx64, v & ~UVFIO_PCI_MSIX_BIR);
	snprintf(key, sizeof(key), "%s_in_bar", what);
	out_jbool(c->o, key, fits);
	if (!fits)
		out_text(c->o, " (outside BAR%u as its region reports it)", bir);
}

static void show_msix(const struct cap_ctx *c, const struct pci_image *img)
{
	uint16_t ctl;
	unsigned n;

	if (!need(c, UVFIO_PCI_MSIX_FLAGS, UVFIO_PCI_MSIX_SIZEOF - UVFIO_PCI_MSIX_FLAGS))
		return;
	ctl = r16(c, UVFIO_PCI_MSIX_FLAGS);
	n = (ctl & UVFIO_PCI_MSIX_FLAGS_QSIZE) + 1;
	out_jbool(c->o, "enabled", ctl & UVFIO_PCI_MSIX_FLAGS_ENABLE);
	out_text(c->o, " %s", ctl & UVFIO_PCI_MSIX_FLAGS_ENABLE ? "enabled" : "disabled");
	out_jbool(c->o, "function_mask", ctl & UVFIO_PCI_MSIX_FLAGS_MASKALL);
	out_text(c->o, ", function mask %s", ctl & UVFIO_PCI_MSIX_FLAGS_MASKALL ? "on" : "off");
	out_num(c->o, "table_size", ", table size %" PRIu64 "\n        table", n);
	show_msix_place(c, img, "table", UVFIO_PCI_MSIX_TABLE,
			(uint64_t)n * UVFIO_PCI_MSIX_ENTRY_SIZE);
	out_text(c->o, ", PBA");
	show_msix_place(c, img, "pba", UVFIO_PCI_MSIX_PBA, (uint64_t)(n + 63) / 64 * 8);
}

static const char *port_type_name(unsigned t)
{
	static const char *const names[] = {
		[0x0] = "Endpoint", [0x1] = "Legacy Endpoint", [0x4] = "Root Port",
		[0x5] = "Upstream Port", [0x6] = "Downstream Port",
		[0x7] = "PCIe-to-PCI bridge", [0x8] = "PCI-to-PCIe bridge",
		[0x9] = "Root Complex Integrated Endpoint", [0xa] = "Root Complex Event Collector",
	};

	return t < NFLAGS(names) && names[t] ? names[t] : "unknown type";
}

/* One speed/width pair from Link Capabilities or Link Status. */
static void show_link_pair(const struct cap_ctx *c, const char *skey, const char *wkey,
			   unsigned speed, unsigned width)
{
	static const double gts[] = { 0, 2.5, 5.0, 8.0, 16.0, 32.0, 64.0 };

	if (speed && speed < NFLAGS(gts)) {
		out_jdouble(c->o, skey, gts[speed]);
		out_text(c->o, " %gGT/s", gts[speed]);
	} else {
		out_jnull(c->o, skey);
		out_text(c->o, " speed %u (unknown)", speed);
	}
	out_num(c->o, wkey, " x%" PRIu64, width);
}

static void show_link(const struct cap_ctx *c, unsigned type)
{
	uint32_t cap;
	uint16_t sta;

	/* Integrated endpoints and event collectors have no link: the registers are reserved. */
	if (type == UVFIO_PCI_EXP_TYPE_RC_END || type == 0xa) {
		out_jnull(c->o, "link");
		out_text(c->o, "\n        link: none (integrated in the root complex)");
		return;
	}
	if (!need(c, UVFIO_PCI_EXP_LNKCAP, UVFIO_PCI_EXP_LNKSTA + 2 - UVFIO_PCI_EXP_LNKCAP))
		return;
	cap = r32(c, UVFIO_PCI_EXP_LNKCAP);
	sta = r16(c, UVFIO_PCI_EXP_LNKSTA);
	out_obj(c->o, "link");
	out_text(c->o, "\n        link: capable");
	show_link_pair(c, "max_speed_gts", "max_width", cap & 0xf, (cap >> 4) & 0x3f);
	out_text(c->o, ", now");
	show_link_pair(c, "speed_gts", "width", sta & 0xf, (sta >> 4) & 0x3f);
	out_end(c->o);
}

static void show_exp(const struct cap_ctx *c)
{
	uint16_t flags, ctl;
	uint32_t devcap;
	unsigned type;

	if (!need(c, UVFIO_PCI_EXP_FLAGS, UVFIO_PCI_EXP_DEVSTA - UVFIO_PCI_EXP_FLAGS))
		return;
	flags = r16(c, UVFIO_PCI_EXP_FLAGS);
	devcap = r32(c, UVFIO_PCI_EXP_DEVCAP);
	ctl = r16(c, UVFIO_PCI_EXP_DEVCTL);
	type = (flags & UVFIO_PCI_EXP_FLAGS_TYPE) >> 4;
	out_num(c->o, "version", " version %" PRIu64, flags & UVFIO_PCI_EXP_FLAGS_VERS);
	out_jnum(c->o, "port_type", type);
	out_str(c->o, "port_type_name", ", %s", port_type_name(type));
	out_jbool(c->o, "flr", devcap & UVFIO_PCI_EXP_DEVCAP_FLR);
	out_text(c->o, "\n        device: FLR%c", devcap & UVFIO_PCI_EXP_DEVCAP_FLR ? '+' : '-');
	out_num(c->o, "max_payload", ", max payload %" PRIu64 " bytes",
		128u << ((ctl & UVFIO_PCI_EXP_DEVCTL_PAYLOAD) >> 5));
	out_num(c->o, "max_payload_supported", " (capable %" PRIu64 ")", 128u << (devcap & 7));
	out_num(c->o, "max_read_request", ", max read request %" PRIu64 " bytes",
		128u << ((ctl & UVFIO_PCI_EXP_DEVCTL_READRQ) >> 12));
	show_link(c, type);
}

static void show_hex(const struct cap_ctx *c, const char *key, unsigned rel, unsigned n)
{
	char hex[2 * 256 + 1];
	unsigned i;

	for (i = 0; i < n && i < 256; i++) {
		snprintf(hex + 2 * i, 3, "%02x", c->cfg[c->off + rel + i]);
		out_text(c->o, " %02x", c->cfg[c->off + rel + i]);
	}
	hex[2 * i] = '\0';
	out_jstr(c->o, key, hex);
}

static void show_vndr(const struct cap_ctx *c)
{
	unsigned len;

	if (!need(c, UVFIO_PCI_VNDR_LEN, 1))
		return;
	len = c->cfg[c->off + UVFIO_PCI_VNDR_LEN];
	out_num(c->o, "length", " length %" PRIu64, len);
	if (len < UVFIO_PCI_VNDR_LEN + 1) {
		out_text(c->o, " (too short to hold its own header)");
		return;
	}
	out_text(c->o, ", data");
	/* Show what is there even when the length claims more than the space has. */
	if (!cfg_ok(c->limit, (size_t)c->off, len)) {
		show_hex(c, "data", 3, (unsigned)(c->limit - c->off - 3));
		need(c, 0, len);
		return;
	}
	show_hex(c, "data", 3, len - 3);
}

static void show_std(const struct cap_ctx *c, const struct pci_image *img, uint16_t id)
{
	switch (id) {
	case UVFIO_PCI_CAP_ID_PM:
		show_pm(c);
		break;
	case UVFIO_PCI_CAP_ID_MSI:
		show_msi(c);
		break;
	case UVFIO_PCI_CAP_ID_MSIX:
		show_msix(c, img);
		break;
	case UVFIO_PCI_CAP_ID_EXP:
		show_exp(c);
		break;
	case UVFIO_PCI_CAP_ID_VNDR:
		show_vndr(c);
		break;
	}
}

/* --- extended capabilities: the fields after the 4-byte header -------------------- */

#define EXT_ID_ACS   0x000d
#define EXT_ID_SRIOV 0x0010

static void show_dsn(const struct cap_ctx *c)
{
	uint64_t sn;
	char text[24];

	if (!need(c, 4, 8))
		return;
	sn = r32(c, 4) | (uint64_t)r32(c, 8) << 32;
	/* Most significant byte first, as lspci prints it. */
	for (int i = 0; i < 8; i++)
		snprintf(text + 3 * i, 4, "%02x%s", (unsigned)(sn >> (56 - 8 * i)) & 0xff,
			 i < 7 ? "-" : "");
	out_jnum(c->o, "serial", sn);
	out_str(c->o, "serial_text", " serial number %s", text);
}

static void show_aer(const struct cap_ctx *c)
{
	if (!need(c, 4, 0x18 - 4))
		return;
	out_num(c->o, "uncorrectable_status", " uncorrectable status 0x%08" PRIx64, r32(c, 0x04));
	out_num(c->o, "uncorrectable_mask", ", mask 0x%08" PRIx64, r32(c, 0x08));
	out_num(c->o, "uncorrectable_severity", ", severity 0x%08" PRIx64, r32(c, 0x0c));
	out_num(c->o, "correctable_status", "\n        correctable status 0x%08" PRIx64,
		r32(c, 0x10));
	out_num(c->o, "correctable_mask", ", mask 0x%08" PRIx64, r32(c, 0x14));
}

static void show_acs(const struct cap_ctx *c)
{
	static const struct out_flag acs[] = {
		{ 0x01, "SV" }, { 0x02, "TB" }, { 0x04, "RR" }, { 0x08, "CR" },
		{ 0x10, "UF" }, { 0x20, "EC" }, { 0x40, "DT" },
	};

	if (!need(c, 4, 4))
		return;
	out_text(c->o, " capable: ");
	out_flags(c->o, "capability", acs, NFLAGS(acs), r16(c, 4), "none");
	out_text(c->o, "; enabled: ");
	out_flags(c->o, "control", acs, NFLAGS(acs), r16(c, 6), "none");
}

static void show_sriov(const struct cap_ctx *c)
{
	uint16_t ctl;

	if (!need(c, 4, 0x1c - 4))
		return;
	ctl = r16(c, 0x08);
	out_jbool(c->o, "vf_enable", ctl & 1);
	out_text(c->o, " VF Enable%c", ctl & 1 ? '+' : '-');
	out_num(c->o, "total_vfs", ", VFs: total %" PRIu64, r16(c, 0x0e));
	out_num(c->o, "initial_vfs", ", initial %" PRIu64, r16(c, 0x0c));
	out_num(c->o, "num_vfs", ", enabled %" PRIu64, r16(c, 0x10));
	out_num(c->o, "vf_offset", "\n        first VF offset %" PRIu64, r16(c, 0x14));
	out_num(c->o, "vf_stride", ", stride %" PRIu64, r16(c, 0x16));
	out_num(c->o, "vf_device_id", ", VF device ID %04" PRIx64, r16(c, 0x1a));
}

static void show_vsec(const struct cap_ctx *c)
{
	uint32_t h;

	if (!need(c, 4, 4))
		return;
	h = r32(c, 4);
	out_num(c->o, "vsec_id", " VSEC ID 0x%04" PRIx64, h & 0xffff);
	out_num(c->o, "vsec_rev", ", rev %" PRIu64, (h >> 16) & 0xf);
	out_num(c->o, "length", ", length %" PRIu64, h >> 20);
}

static void show_ext(const struct cap_ctx *c, uint16_t id)
{
	switch (id) {
	case UVFIO_PCI_EXT_CAP_ID_DSN:
		show_dsn(c);
		break;
	case UVFIO_PCI_EXT_CAP_ID_ERR:
		show_aer(c);
		break;
	case EXT_ID_ACS:
		show_acs(c);
		break;
	case EXT_ID_SRIOV:
		show_sriov(c);
		break;
	case UVFIO_PCI_EXT_CAP_ID_VNDR:
		show_vsec(c);
		break;
	}
}

static void show_one(struct out *o, const struct pci_image *img, const struct uvfio_pci_cap *cap)
{
	struct cap_ctx c = {
		.o = o,
		.cfg = img->cfg,
		.limit = cap->extended ? img->len : UVFIO_PCI_CFG_SIZE,
		.off = cap->offset,
	};

	out_obj(o, NULL);
	out_num(o, "offset", "  [0x%02" PRIx64 "]", cap->offset);
	out_str(o, "name", " %s", uvfio_pci_cap_name(cap->id, cap->extended));
	out_jnum(o, "id", cap->id);
	out_jbool(o, "extended", cap->extended);
	if (cap->extended) {
		out_text(o, " (ext 0x%04x, v%u):", cap->id, cap->version);
		out_jnum(o, "version", cap->version);
		show_ext(&c, cap->id);
	} else {
		out_text(o, " (0x%02x):", cap->id);
		show_std(&c, img, cap->id);
	}
	out_text(o, "\n");
	out_end(o);
}

/* Both lists have room for at most 48 + 960 entries (one per dword). */
#define MAX_CAPS 1024

void pci_show_caps(struct out *o, const struct pci_image *img)
{
	struct uvfio_pci_cap caps[MAX_CAPS];
	int n = uvfio_pci_caps(img->cfg, img->len, caps, MAX_CAPS);

	if (n > MAX_CAPS)
		n = MAX_CAPS;
	out_arr(o, "capabilities");
	out_text(o, "Capabilities:%s\n", n > 0 ? "" : " none");
	for (int i = 0; i < n; i++)
		show_one(o, img, &caps[i]);
	out_end(o);
}
