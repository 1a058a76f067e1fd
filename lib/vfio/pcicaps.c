// SPDX-License-Identifier: BSD-3-Clause
/*
 * Walking the capability lists of a configuration-space image.
 *
 * The image comes from a device, which may be hostile or broken: a next
 * pointer may point back (a loop), into the header, past the end, or at an
 * unaligned offset. Each list is walked at most as many steps as there is
 * room for capabilities, and only forward-or-elsewhere pointers that land
 * in the capability area are followed, so the walk always ends.
 */
#include "uvfio/vfio.h"
#include "util/util.h"

#define STD_MIN   UVFIO_PCI_STD_HEADER_SIZE
#define STD_STEPS ((UVFIO_PCI_CFG_SIZE - STD_MIN) / 4)
#define EXT_MIN   UVFIO_PCI_EXT_CAP_START
#define EXT_STEPS ((UVFIO_PCI_CFG_SIZE_PCIE - EXT_MIN) / 4)

static void add(struct uvfio_pci_cap *caps, unsigned max, int *n, struct uvfio_pci_cap c)
{
	if ((unsigned)*n < max)
		caps[*n] = c;
	(*n)++;
}

/* Fill in sizes as the distance to the next capability (by offset) or the end. */
static void sizes(struct uvfio_pci_cap *caps, int first, int last, unsigned limit)
{
	for (int i = first; i < last; i++) {
		unsigned end = limit;

		for (int j = first; j < last; j++)
			if (caps[j].offset > caps[i].offset && caps[j].offset < end)
				end = caps[j].offset;
		caps[i].size = (uint16_t)(end - caps[i].offset);
	}
}

int uvfio_pci_caps(const uint8_t *cfg, size_t len, struct uvfio_pci_cap *caps, unsigned max)
{
	bool seen[UVFIO_PCI_CFG_SIZE_PCIE / 4] = { false };
	int n = 0, std_first, ext_first;
	unsigned pos;

	if (len < UVFIO_PCI_CFG_SIZE)
		return 0;
	std_first = n;
	if (get_le16(cfg + UVFIO_PCI_STATUS) & UVFIO_PCI_STATUS_CAP_LIST) {
		pos = cfg[UVFIO_PCI_CAPABILITY_LIST] & ~3u;
		for (unsigned step = 0; pos >= STD_MIN && pos + 2 <= UVFIO_PCI_CFG_SIZE &&
					step < STD_STEPS && !seen[pos / 4];
		     step++) {
			seen[pos / 4] = true;
			add(caps, max, &n, (struct uvfio_pci_cap){ .id = cfg[pos], .offset = (uint16_t)pos });
			pos = cfg[pos + 1] & ~3u;
		}
	}
	sizes(caps, std_first, (int)MIN((unsigned)n, max), UVFIO_PCI_CFG_SIZE);
	ext_first = n;
	if (len >= UVFIO_PCI_CFG_SIZE_PCIE) {
		pos = EXT_MIN;
		for (unsigned step = 0; pos >= EXT_MIN && pos + 4 <= UVFIO_PCI_CFG_SIZE_PCIE &&
					step < EXT_STEPS && !seen[pos / 4];
		     step++) {
			uint32_t h = get_le32(cfg + pos);

			/* An empty list reads 0 (or all ones from a missing device). */
			if (!h || h == 0xffffffffu)
				break;
			seen[pos / 4] = true;
			add(caps, max, &n, (struct uvfio_pci_cap){ .id = (uint16_t)(h & 0xffff),
								   .extended = true,
								   .version = (uint8_t)((h >> 16) & 0xf),
								   .offset = (uint16_t)pos });
			pos = (h >> 20) & ~3u;
		}
	}
	if ((unsigned)ext_first < max)
		sizes(caps, ext_first, (int)MIN((unsigned)n, max), UVFIO_PCI_CFG_SIZE_PCIE);
	return n;
}

const char *uvfio_pci_cap_name(uint16_t id, bool extended)
{
	static const char *const std[] = {
		[0x01] = "Power Management", [0x02] = "AGP", [0x03] = "VPD",
		[0x04] = "Slot ID", [0x05] = "MSI", [0x06] = "CompactPCI Hot Swap",
		[0x07] = "PCI-X", [0x08] = "HyperTransport", [0x09] = "Vendor Specific",
		[0x0a] = "Debug Port", [0x0b] = "CompactPCI CRC", [0x0c] = "PCI Hot Plug",
		[0x0d] = "Bridge Subsystem VID", [0x0e] = "AGP 8x", [0x0f] = "Secure Device",
		[0x10] = "PCI Express", [0x11] = "MSI-X", [0x12] = "SATA",
		[0x13] = "Advanced Features", [0x14] = "Enhanced Allocation",
		[0x15] = "Flattening Portal Bridge",
	};
	static const char *const ext[] = {
		[0x01] = "Advanced Error Reporting", [0x02] = "Virtual Channel",
		[0x03] = "Device Serial Number", [0x04] = "Power Budgeting",
		[0x05] = "Root Complex Link Declaration", [0x06] = "Root Complex Internal Link",
		[0x07] = "Root Complex Event Collector", [0x08] = "Multi-Function VC",
		[0x09] = "Virtual Channel (MFVC)", [0x0a] = "Root Complex Register Block",
		[0x0b] = "Vendor Specific Extended", [0x0c] = "Config Access Correlation",
		[0x0d] = "Access Control Services", [0x0e] = "Alternative Routing-ID",
		[0x0f] = "Address Translation Services", [0x10] = "SR-IOV", [0x11] = "MR-IOV",
		[0x12] = "Multicast", [0x13] = "Page Request", [0x15] = "Resizable BAR",
		[0x16] = "Dynamic Power Allocation", [0x17] = "TPH Requester",
		[0x18] = "Latency Tolerance Reporting", [0x19] = "Secondary PCI Express",
		[0x1a] = "Protocol Multiplexing", [0x1b] = "PASID", [0x1c] = "LN Requester",
		[0x1d] = "Downstream Port Containment", [0x1e] = "L1 PM Substates",
		[0x1f] = "Precision Time Measurement", [0x23] = "Designated Vendor-Specific",
		[0x25] = "Data Link Feature", [0x26] = "Physical Layer 16 GT/s",
	};

	if (!extended && id < ARRAY_SIZE(std) && std[id])
		return std[id];
	if (extended && id < ARRAY_SIZE(ext) && ext[id])
		return ext[id];
	return "unknown";
}
