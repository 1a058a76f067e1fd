// SPDX-License-Identifier: BSD-3-Clause
/*
 * Configuration space, virtualized the way the kernel's vfio-pci does it:
 * a copy of the registers plus, for every byte, a mask of the bits the
 * client may write and a mask of write-1-to-clear bits. A write changes
 * only writable bits and clears W1C bits written as 1; everything else is
 * read-only. With that, BAR sizing needs no special case: a BAR's writable
 * bits are exactly the address bits above its size, so writing all ones
 * and reading back yields the size and the type bits.
 *
 * Accesses are split so no piece crosses a dword or a capability boundary;
 * each piece then goes to the capability that owns it, whose hook applies
 * side effects (MSI-X function mask, FLR, power state, ...). Bytes outside
 * the header and every capability read as zero and ignore writes.
 *
 * Configuration space is little-endian.
 */
#include <stdlib.h>

#include "emu_priv.h"

uint16_t uvfio__emu_cfg_get16(const struct uvfio_emu *emu, uint32_t off)
{
	return emu->cfg.data ? get_le16(emu->cfg.data + off) : 0;
}

uint32_t uvfio__emu_cfg_get32(const struct uvfio_emu *emu, uint32_t off)
{
	return emu->cfg.data ? get_le32(emu->cfg.data + off) : 0;
}

void uvfio__emu_cfg_set16(struct uvfio_emu *emu, uint32_t off, uint16_t v)
{
	put_le16(emu->cfg.data + off, v);
}

void uvfio__emu_cfg_set32(struct uvfio_emu *emu, uint32_t off, uint32_t v)
{
	put_le32(emu->cfg.data + off, v);
}

static void set_mask16(struct emu_cfg *cfg, uint32_t off, uint16_t wmask)
{
	put_le16(cfg->wmask + off, wmask);
}

static void set_mask32(struct emu_cfg *cfg, uint32_t off, uint32_t wmask)
{
	put_le32(cfg->wmask + off, wmask);
}

static void init_bars(struct uvfio_emu *emu)
{
	struct emu_cfg *cfg = &emu->cfg;

	for (uint32_t i = 0; i <= UVFIO_PCI_BAR5_REGION_INDEX; i++) {
		const struct emu_region *reg = &emu->regions[i];
		uint32_t off = UVFIO_PCI_BASE_ADDRESS_0 + 4 * i;
		uint64_t addr_mask = ~(reg->size - 1);

		if (!reg->present)
			continue;
		if (reg->flags & UVFIO_EMU_BAR_IO) {
			put_le32(cfg->data + off, UVFIO_PCI_BAR_SPACE_IO);
			set_mask32(cfg, off, (uint32_t)addr_mask & UVFIO_PCI_BAR_IO_MASK);
			continue;
		}
		put_le32(cfg->data + off, ((reg->flags & UVFIO_EMU_BAR_64) ? UVFIO_PCI_BAR_MEM_TYPE_64 : 0) |
					  ((reg->flags & UVFIO_EMU_BAR_PREFETCH) ? UVFIO_PCI_BAR_MEM_PREFETCH : 0));
		set_mask32(cfg, off, (uint32_t)addr_mask & UVFIO_PCI_BAR_MEM_MASK);
		if (reg->flags & UVFIO_EMU_BAR_64)
			set_mask32(cfg, off + 4, (uint32_t)(addr_mask >> 32));
	}
	if (emu->regions[UVFIO_PCI_ROM_REGION_INDEX].present) {
		uint64_t size = emu->regions[UVFIO_PCI_ROM_REGION_INDEX].size;

		set_mask32(cfg, UVFIO_PCI_ROM_ADDRESS,
			   ((uint32_t)~(size - 1) & UVFIO_PCI_ROM_ADDRESS_MASK) | UVFIO_PCI_ROM_ENABLE);
	}
}

static bool has_io_bar(const struct uvfio_emu *emu)
{
	for (uint32_t i = 0; i <= UVFIO_PCI_BAR5_REGION_INDEX; i++)
		if (emu->regions[i].present && (emu->regions[i].flags & UVFIO_EMU_BAR_IO))
			return true;
	return false;
}

static void init_header(struct uvfio_emu *emu)
{
	struct emu_cfg *cfg = &emu->cfg;
	uint16_t cmd_mask = UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER |
			    UVFIO_PCI_COMMAND_PARITY | UVFIO_PCI_COMMAND_SERR;
	uint16_t status = 0;

	if (has_io_bar(emu))
		cmd_mask |= UVFIO_PCI_COMMAND_IO;
	if (emu->irqs.idx[UVFIO_PCI_INTX_IRQ_INDEX].count)
		cmd_mask |= UVFIO_PCI_COMMAND_INTX_DISABLE;
	for (unsigned i = 0; i < cfg->ncaps; i++)
		if (!cfg->caps[i].ext)
			status |= UVFIO_PCI_STATUS_CAP_LIST;

	put_le16(cfg->data + UVFIO_PCI_VENDOR_ID, emu->id.vendor_id);
	put_le16(cfg->data + UVFIO_PCI_DEVICE_ID, emu->id.device_id);
	set_mask16(cfg, UVFIO_PCI_COMMAND, cmd_mask);
	put_le16(cfg->data + UVFIO_PCI_STATUS, status);
	put_le16(cfg->w1c + UVFIO_PCI_STATUS, UVFIO_PCI_STATUS_RW1C);
	cfg->data[UVFIO_PCI_REVISION_ID] = emu->id.revision;
	cfg->data[UVFIO_PCI_CLASS_PROG] = emu->id.class_code & 0xff;
	put_le16(cfg->data + UVFIO_PCI_CLASS_DEVICE, (uint16_t)(emu->id.class_code >> 8));
	cfg->wmask[UVFIO_PCI_CACHE_LINE_SIZE] = 0xff;
	if (!cfg->pcie)
		cfg->wmask[UVFIO_PCI_LATENCY_TIMER] = 0xff;
	put_le16(cfg->data + UVFIO_PCI_SUBSYSTEM_VENDOR_ID, emu->id.subsys_vendor_id);
	put_le16(cfg->data + UVFIO_PCI_SUBSYSTEM_ID, emu->id.subsys_id);
	cfg->wmask[UVFIO_PCI_INTERRUPT_LINE] = 0xff;
	cfg->data[UVFIO_PCI_INTERRUPT_PIN] = emu->irqs.idx[UVFIO_PCI_INTX_IRQ_INDEX].count ? 1 : 0;
	init_bars(emu);
}

static void place_caps(struct uvfio_emu *emu)
{
	struct emu_cfg *cfg = &emu->cfg;
	uint16_t first = 0;

	for (unsigned i = 0; i < cfg->ncaps; i++) {
		struct emu_cap *cap = &cfg->caps[i];
		uint32_t hdr = cap->ext ? 4 : 2;
		uint8_t *d = cfg->data + cap->offset;

		if (cap->ext) {
			put_le32(d, cap->id | (uint32_t)(cap->version & 0xf) << 16 |
					    (uint32_t)cap->next << 20);
		} else {
			d[0] = (uint8_t)cap->id;
			d[1] = (uint8_t)cap->next;
			if (!first || cap->offset < first)
				first = cap->offset;
		}
		memcpy(d + hdr, cap->data, cap->size - hdr);
		memcpy(cfg->wmask + cap->offset + hdr, cap->wmask, cap->size - hdr);
		memcpy(cfg->w1c + cap->offset + hdr, cap->w1c, cap->size - hdr);
		memset(cfg->owner + cap->offset, (int)(i + 1), cap->size);
	}
	cfg->data[UVFIO_PCI_CAPABILITY_LIST] = (uint8_t)first;
}

int uvfio__emu_cfg_realize(struct uvfio_emu *emu)
{
	struct emu_cfg *cfg = &emu->cfg;

	cfg->size = cfg->pcie ? UVFIO_PCI_CFG_SIZE_PCIE : UVFIO_PCI_CFG_SIZE;
	cfg->data = calloc(1, cfg->size);
	cfg->wmask = calloc(1, cfg->size);
	cfg->w1c = calloc(1, cfg->size);
	cfg->owner = calloc(1, cfg->size);
	if (!cfg->data || !cfg->wmask || !cfg->w1c || !cfg->owner)
		return -ENOMEM;
	init_header(emu);
	place_caps(emu);
	return 0;
}

void uvfio__emu_cfg_free(struct uvfio_emu *emu)
{
	free(emu->cfg.data);
	free(emu->cfg.wmask);
	free(emu->cfg.w1c);
	free(emu->cfg.owner);
	emu->cfg.data = emu->cfg.wmask = emu->cfg.w1c = emu->cfg.owner = NULL;
}

/* Function reset: device-status bits clear; the client's setup stays. */
void uvfio__emu_cfg_reset(struct uvfio_emu *emu)
{
	struct emu_cfg *cfg = &emu->cfg;

	for (uint32_t i = 0; i < cfg->size; i++)
		cfg->data[i] &= ~cfg->w1c[i];
	for (unsigned i = 0; i < cfg->ncaps; i++) {
		struct emu_cap *cap = &cfg->caps[i];

		if (!cap->ext && cap->id == UVFIO_PCI_CAP_ID_PM) {
			uint32_t o = cap->offset + UVFIO_PCI_PM_CTRL;

			put_le16(cfg->data + o, get_le16(cfg->data + o) & ~UVFIO_PCI_PM_CTRL_STATE_MASK);
		}
	}
}

/* @prev holds the bytes [off, off + len) as they were before the write. */
static void header_written(struct uvfio_emu *emu, uint32_t off, uint32_t len, const uint8_t *prev)
{
	uint16_t now = uvfio__emu_cfg_get16(emu, UVFIO_PCI_COMMAND);

	if (!hits16(UVFIO_PCI_COMMAND, off, len))
		return;
	if ((prev_le16(now, UVFIO_PCI_COMMAND, off, len, prev) ^ now) &
	    UVFIO_PCI_COMMAND_INTX_DISABLE)
		uvfio__emu_intx_update(emu);
}

static int piece_write(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, const uint8_t *v,
		       uint32_t len)
{
	struct emu_cfg *cfg = &emu->cfg;
	uint8_t prev[4];

	memcpy(prev, cfg->data + off, len);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t d = (uint8_t)((cfg->data[o] & ~cfg->wmask[o]) | (v[i] & cfg->wmask[o]));

		cfg->data[o] = (uint8_t)(d & ~(v[i] & cfg->w1c[o]));
	}
	if (!cap) {
		if (off < UVFIO_PCI_STD_HEADER_SIZE)
			header_written(emu, off, len, prev);
		return 0;
	}
	if (cap->flags & UVFIO_EMU_CAP_HOOK)
		return emu->ops && emu->ops->cfg_write ? emu->ops->cfg_write(emu->priv, off, v, len)
						       : 0;
	if (cap->hooks && cap->hooks->write)
		cap->hooks->write(emu, cap, off - cap->offset, len, prev);
	return 0;
}

static int piece_read(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, uint8_t *buf,
		      uint32_t len)
{
	uint32_t hdr_end;

	memcpy(buf, emu->cfg.data + off, len);
	if (!cap || !(cap->flags & UVFIO_EMU_CAP_HOOK) || !emu->ops || !emu->ops->cfg_read)
		return 0;
	/* The header (ID, next pointer) stays the library's. */
	hdr_end = cap->offset + (cap->ext ? 4u : 2u);
	if (off + len <= hdr_end)
		return 0;
	if (off < hdr_end) {
		buf += hdr_end - off;
		len -= hdr_end - off;
		off = hdr_end;
	}
	return emu->ops->cfg_read(emu->priv, off, buf, len);
}

int uvfio__emu_cfg_access(struct uvfio_emu *emu, uint64_t off, void *buf, uint32_t len, bool write)
{
	struct emu_cfg *cfg = &emu->cfg;
	uint8_t *b = buf;

	if (!range_within(off, len, cfg->size))
		return -EINVAL;
	while (len) {
		uint32_t o = (uint32_t)off;
		uint32_t n = MIN(len, 4 - (o & 3));
		uint8_t owner = cfg->owner[o];
		struct emu_cap *cap = owner ? &cfg->caps[owner - 1] : NULL;
		int ret;

		for (uint32_t i = 1; i < n; i++) {
			if (cfg->owner[o + i] != owner) {
				n = i;
				break;
			}
		}
		ret = write ? piece_write(emu, cap, o, b, n) : piece_read(emu, cap, o, b, n);
		if (ret)
			return ret;
		off += n;
		b += n;
		len -= n;
	}
	return 0;
}

int uvfio_emu_cfg_read(const struct uvfio_emu *emu, uint32_t offset, void *buf, uint32_t len)
{
	if (!emu->cfg.data || !range_within(offset, len, emu->cfg.size))
		return -EINVAL;
	memcpy(buf, emu->cfg.data + offset, len);
	return 0;
}

int uvfio_emu_cfg_write(struct uvfio_emu *emu, uint32_t offset, const void *buf, uint32_t len)
{
	if (!emu->cfg.data || !range_within(offset, len, emu->cfg.size))
		return -EINVAL;
	memcpy(emu->cfg.data + offset, buf, len);
	return 0;
}
