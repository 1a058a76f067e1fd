// SPDX-License-Identifier: BSD-3-Clause
/*
 * The standard header of a configuration-space image: identity, class,
 * command and status, header type, interrupt, and the BARs and ROM BAR as
 * the device's registers describe them, next to the sizes its regions
 * report. Under VFIO both come from the same place (the kernel or the
 * server virtualizes the BAR registers), so a mismatch — say, a 64-bit BAR
 * whose region is empty — is worth showing as it is rather than
 * reconciling.
 */
#include "pcidecode.h"

#define HDR_TYPE_NORMAL  0
#define HDR_TYPE_BRIDGE  1
#define HDR_TYPE_CARDBUS 2
#define HDR_MULTIFUNCTION 0x80
#define BRIDGE_ROM_ADDRESS 0x38

static const struct out_flag command_flags[] = {
	{ 0x0001, "io" },
	{ 0x0002, "memory" },
	{ 0x0004, "bus_master" },
	{ 0x0008, "special_cycles" },
	{ 0x0010, "mwi" },
	{ 0x0020, "vga_snoop" },
	{ 0x0040, "parity" },
	{ 0x0080, "stepping" },
	{ 0x0100, "serr" },
	{ 0x0200, "fast_b2b" },
	{ 0x0400, "intx_disable" },
};

/* DEVSEL timing (bits 10:9) is a two-bit field, not a flag: left out here. */
#define STATUS_DEVSEL_MASK 0x0600

static const struct out_flag status_flags[] = {
	{ 0x0001, "immediate_readiness" },
	{ 0x0008, "interrupt" },
	{ 0x0010, "cap_list" },
	{ 0x0020, "66mhz" },
	{ 0x0080, "fast_b2b" },
	{ 0x0100, "master_parity_error" },
	{ 0x0800, "signaled_target_abort" },
	{ 0x1000, "received_target_abort" },
	{ 0x2000, "received_master_abort" },
	{ 0x4000, "signaled_system_error" },
	{ 0x8000, "detected_parity_error" },
};

const char *pci_class_name(uint8_t base)
{
	static const char *const names[] = {
		[0x00] = "unclassified device",
		[0x01] = "mass storage controller",
		[0x02] = "network controller",
		[0x03] = "display controller",
		[0x04] = "multimedia controller",
		[0x05] = "memory controller",
		[0x06] = "bridge",
		[0x07] = "communication controller",
		[0x08] = "system peripheral",
		[0x09] = "input device controller",
		[0x0a] = "docking station",
		[0x0b] = "processor",
		[0x0c] = "serial bus controller",
		[0x0d] = "wireless controller",
		[0x0e] = "intelligent controller",
		[0x0f] = "satellite communication controller",
		[0x10] = "encryption controller",
		[0x11] = "signal processing controller",
		[0x12] = "processing accelerator",
		[0x13] = "non-essential instrumentation",
	};

	if (base < sizeof(names) / sizeof(names[0]))
		return names[base];
	if (base == 0x40)
		return "coprocessor";
	if (base == 0xff)
		return "unassigned class";
	return "unknown class";
}

static void show_identity(struct out *o, const uint8_t *cfg, unsigned layout)
{
	uint32_t class = cfg32(cfg + UVFIO_PCI_REVISION_ID) >> 8;

	out_num(o, "vendor_id", "  ID %04" PRIx64, cfg16(cfg + UVFIO_PCI_VENDOR_ID));
	out_num(o, "device_id", ":%04" PRIx64, cfg16(cfg + UVFIO_PCI_DEVICE_ID));
	/* Bridges keep other registers where a type 0 header has its subsystem IDs. */
	if (layout == HDR_TYPE_NORMAL) {
		out_num(o, "subsystem_vendor_id", ", subsystem %04" PRIx64,
			cfg16(cfg + UVFIO_PCI_SUBSYSTEM_VENDOR_ID));
		out_num(o, "subsystem_id", ":%04" PRIx64, cfg16(cfg + UVFIO_PCI_SUBSYSTEM_ID));
	}
	out_num(o, "revision", ", revision 0x%02" PRIx64 "\n", cfg[UVFIO_PCI_REVISION_ID]);
	out_num(o, "class", "  class 0x%06" PRIx64, class);
	out_str(o, "class_name", ": %s", pci_class_name((uint8_t)(class >> 16)));
	out_jnum(o, "base_class", class >> 16);
	out_num(o, "subclass", " (subclass 0x%02" PRIx64, (class >> 8) & 0xff);
	out_num(o, "prog_if", ", prog-if 0x%02" PRIx64 ")\n", class & 0xff);
}

static void show_cmd_status(struct out *o, const uint8_t *cfg)
{
	uint16_t cmd = cfg16(cfg + UVFIO_PCI_COMMAND), sta = cfg16(cfg + UVFIO_PCI_STATUS);

	out_num(o, "command", "  command 0x%04" PRIx64 ": ", cmd);
	out_flags(o, "command_flags", command_flags,
		  sizeof(command_flags) / sizeof(command_flags[0]), cmd, "none");
	out_num(o, "status", "\n  status 0x%04" PRIx64 ": ", sta);
	out_flags(o, "status_flags", status_flags, sizeof(status_flags) / sizeof(status_flags[0]),
		  sta & ~STATUS_DEVSEL_MASK, "none");
	out_text(o, "\n");
}

static void show_header_type(struct out *o, const uint8_t *cfg, unsigned layout)
{
	static const char *const layouts[] = { "normal", "PCI-to-PCI bridge", "CardBus bridge" };
	uint8_t ht = cfg[UVFIO_PCI_HEADER_TYPE];
	const char *name = layout < 3 ? layouts[layout] : "unknown layout";

	out_num(o, "header_type", "  header type 0x%02" PRIx64, ht);
	out_str(o, "header_layout", ": %s", name);
	out_jbool(o, "multifunction", ht & HDR_MULTIFUNCTION);
	out_text(o, "%s\n", ht & HDR_MULTIFUNCTION ? ", multi-function" : "");
}

static void show_interrupt(struct out *o, const uint8_t *cfg)
{
	uint8_t pin = cfg[UVFIO_PCI_INTERRUPT_PIN];

	out_jnum(o, "interrupt_pin", pin);
	if (!pin)
		out_text(o, "  interrupt pin none");
	else if (pin <= 4)
		out_text(o, "  interrupt pin %c", 'A' + pin - 1);
	else
		out_text(o, "  interrupt pin %u (invalid)", pin);
	out_num(o, "interrupt_line", ", line %" PRIu64 "\n", cfg[UVFIO_PCI_INTERRUPT_LINE]);
}

static void show_size(struct out *o, uint64_t size)
{
	char buf[32];

	out_num(o, "size", ", size %" PRIu64, size);
	if (size >= 1024 && !(size % 1024))
		out_text(o, " (%s)", out_size(buf, size));
	out_text(o, "\n");
}

/*
 * One BAR; returns how many BAR slots it takes (2 for a 64-bit memory BAR,
 * whose upper half the next slot holds).
 */
static unsigned show_bar(struct out *o, const struct pci_image *img, unsigned i, unsigned nbars)
{
	unsigned off = UVFIO_PCI_BASE_ADDRESS_0 + 4 * i;
	uint32_t v = cfg32(img->cfg + off);
	uint64_t size = img->bar_size[i], addr;
	unsigned type = (v >> 1) & 3;
	bool is64 = !(v & UVFIO_PCI_BAR_SPACE_IO) && type == 2;

	if (!v && !size)
		return 1;
	out_obj(o, NULL);
	out_num(o, "index", "  BAR%" PRIu64, i);
	if (v & UVFIO_PCI_BAR_SPACE_IO) {
		out_jstr(o, "type", "io");
		out_num(o, "address", " I/O at 0x%04" PRIx64, v & UVFIO_PCI_BAR_IO_MASK);
		show_size(o, size);
		out_end(o);
		return 1;
	}
	out_jstr(o, "type", "memory");
	addr = v & UVFIO_PCI_BAR_MEM_MASK;
	/* A 64-bit BAR in the last slot has no upper half: show the lower one as it is. */
	if (is64 && i + 1 < nbars)
		addr |= (uint64_t)cfg32(img->cfg + off + 4) << 32;
	out_num(o, "address", is64 ? " memory at 0x%016" PRIx64 : " memory at 0x%08" PRIx64, addr);
	out_num(o, "bits", ", %" PRIu64 "-bit", is64 ? 64 : 32);
	if (is64 && i + 1 >= nbars)
		out_text(o, " (no upper half: the last BAR can't be 64-bit)");
	if (type == 1)
		out_text(o, " (below 1 MiB)");
	else if (type == 3)
		out_text(o, " (reserved type)");
	out_jbool(o, "prefetchable", v & UVFIO_PCI_BAR_MEM_PREFETCH);
	out_text(o, ", %s", v & UVFIO_PCI_BAR_MEM_PREFETCH ? "prefetchable" : "non-prefetchable");
	show_size(o, size);
	out_end(o);
	return is64 && i + 1 < nbars ? 2 : 1;
}

static void show_rom(struct out *o, const struct pci_image *img, unsigned layout)
{
	unsigned off = layout == HDR_TYPE_BRIDGE ? BRIDGE_ROM_ADDRESS : UVFIO_PCI_ROM_ADDRESS;
	uint32_t v;

	if (layout > HDR_TYPE_BRIDGE) {
		out_jnull(o, "rom");
		return;
	}
	v = cfg32(img->cfg + off);
	if (!v && !img->bar_size[PCI_NR_BAR_SIZES - 1]) {
		out_jnull(o, "rom");
		out_text(o, "  ROM none\n");
		return;
	}
	out_obj(o, "rom");
	out_num(o, "address", "  ROM at 0x%08" PRIx64, v & UVFIO_PCI_ROM_ADDRESS_MASK);
	out_jbool(o, "enabled", v & UVFIO_PCI_ROM_ENABLE);
	out_text(o, ", %s", v & UVFIO_PCI_ROM_ENABLE ? "enabled" : "disabled");
	show_size(o, img->bar_size[PCI_NR_BAR_SIZES - 1]);
	out_end(o);
}

void pci_show_header(struct out *o, const struct pci_image *img)
{
	static const unsigned nbars_of[] = { 6, 2, 1 };
	unsigned layout, nbars;

	if (!cfg_ok(img->len, 0, UVFIO_PCI_STD_HEADER_SIZE))
		return;
	layout = img->cfg[UVFIO_PCI_HEADER_TYPE] & 0x7f;
	show_identity(o, img->cfg, layout);
	show_cmd_status(o, img->cfg);
	show_header_type(o, img->cfg, layout);
	show_interrupt(o, img->cfg);
	nbars = layout < 3 ? nbars_of[layout] : 0;
	out_arr(o, "bars");
	for (unsigned i = 0; i < nbars;)
		i += show_bar(o, img, i, nbars);
	out_end(o);
	show_rom(o, img, layout);
}
