// SPDX-License-Identifier: BSD-3-Clause
/*
 * The capability-chain builder. Models queue capabilities; realize places
 * them (standard ones from 0x40, extended ones from 0x100, dword-aligned,
 * in the order added unless the model fixed an offset), links the chains
 * and hands every capability its permission masks and hooks.
 *
 * The library knows the contents of the capabilities whose registers carry
 * PCI rules: PM (power state; D3hot to D0 without No_Soft_Reset resets the
 * function), PCI Express (Function-Level Reset through Device Control),
 * MSI and MSI-X (built by irq.c). Other capabilities are bytes with the
 * write mask the model gives, or are handed to the model's hooks.
 */
#include <stdlib.h>

#include "emu_priv.h"

#define STD_START  UVFIO_PCI_STD_HEADER_SIZE
#define STD_END    UVFIO_PCI_CFG_SIZE
#define EXT_START  UVFIO_PCI_EXT_CAP_START
#define EXT_END    UVFIO_PCI_CFG_SIZE_PCIE

struct emu_cap *uvfio__emu_cap_new(struct uvfio_emu *emu, uint16_t id, bool ext, uint16_t size)
{
	struct emu_cfg *cfg = &emu->cfg;
	uint16_t hdr = ext ? 4 : 2;
	struct emu_cap *cap;

	if (cfg->ncaps >= EMU_MAX_CAPS || size <= hdr)
		return NULL;
	cap = &cfg->caps[cfg->ncaps];
	memset(cap, 0, sizeof(*cap));
	cap->data = calloc(1, size - hdr);
	cap->wmask = calloc(1, size - hdr);
	cap->w1c = calloc(1, size - hdr);
	if (!cap->data || !cap->wmask || !cap->w1c) {
		free(cap->data);
		free(cap->wmask);
		free(cap->w1c);
		return NULL;
	}
	cap->id = id;
	cap->ext = ext;
	cap->size = size;
	cfg->ncaps++;
	return cap;
}

void uvfio__emu_caps_free(struct uvfio_emu *emu)
{
	for (unsigned i = 0; i < emu->cfg.ncaps; i++) {
		free(emu->cfg.caps[i].data);
		free(emu->cfg.caps[i].wmask);
		free(emu->cfg.caps[i].w1c);
	}
	emu->cfg.ncaps = 0;
}

/* Offsets inside cap->data are register offsets minus the header. */
#define D(cap, reg) ((cap)->data + (reg) - ((cap)->ext ? 4 : 2))
#define W(cap, reg) ((cap)->wmask + (reg) - ((cap)->ext ? 4 : 2))
#define C(cap, reg) ((cap)->w1c + (reg) - ((cap)->ext ? 4 : 2))

/* --- power management ---------------------------------------------------------- */

static void pm_write(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, uint32_t len,
		     const uint8_t *old)
{
	uint32_t reg = cap->offset + UVFIO_PCI_PM_CTRL;
	uint16_t now, before, state;

	if (!hits16(UVFIO_PCI_PM_CTRL, off, len))
		return;
	now = uvfio__emu_cfg_get16(emu, reg);
	before = prev_le16(now, UVFIO_PCI_PM_CTRL, off, len, old);
	state = now & UVFIO_PCI_PM_CTRL_STATE_MASK;
	/* D1 and D2 aren't advertised: such writes keep the current state. */
	if (state == 1 || state == 2) {
		state = before & UVFIO_PCI_PM_CTRL_STATE_MASK;
		now = (uint16_t)((now & ~UVFIO_PCI_PM_CTRL_STATE_MASK) | state);
		uvfio__emu_cfg_set16(emu, reg, now);
	}
	if ((before & UVFIO_PCI_PM_CTRL_STATE_MASK) == 3 && state == 0 &&
	    !(now & UVFIO_PCI_PM_CTRL_NO_SOFT_RESET))
		uvfio__emu_function_reset(emu, UVFIO_EMU_RESET_PM);
}

static const struct emu_cap_hooks pm_hooks = { .write = pm_write };

static void pm_defaults(struct emu_cap *cap)
{
	put_le16(D(cap, UVFIO_PCI_PM_PMC), 0x0003); /* version 3, no D1/D2, no PME */
	put_le16(D(cap, UVFIO_PCI_PM_CTRL), UVFIO_PCI_PM_CTRL_NO_SOFT_RESET);
	put_le16(W(cap, UVFIO_PCI_PM_CTRL), UVFIO_PCI_PM_CTRL_STATE_MASK);
	put_le16(C(cap, UVFIO_PCI_PM_CTRL), UVFIO_PCI_PM_CTRL_PME_STATUS);
}

/* --- PCI Express ------------------------------------------------------------------ */

static void exp_write(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, uint32_t len,
		      const uint8_t *old)
{
	uint32_t reg = cap->offset + UVFIO_PCI_EXP_DEVCTL;
	uint16_t ctl;

	if (!hits16(UVFIO_PCI_EXP_DEVCTL, off, len))
		return;
	ctl = uvfio__emu_cfg_get16(emu, reg);
	if (!(ctl & UVFIO_PCI_EXP_DEVCTL_BCR_FLR))
		return;
	/* Initiate FLR: the bit always reads back as 0. */
	uvfio__emu_cfg_set16(emu, reg, ctl & ~UVFIO_PCI_EXP_DEVCTL_BCR_FLR);
	uvfio__emu_function_reset(emu, UVFIO_EMU_RESET_FLR);
}

static const struct emu_cap_hooks exp_hooks = { .write = exp_write };

static void exp_defaults(struct emu_cap *cap)
{
	put_le16(D(cap, UVFIO_PCI_EXP_FLAGS), 2 | UVFIO_PCI_EXP_TYPE_ENDPOINT << 4);
	put_le32(D(cap, UVFIO_PCI_EXP_DEVCAP), UVFIO_PCI_EXP_DEVCAP_FLR);
	/* Relaxed ordering, no snoop, MPS 128, MRRS 512: the PCIe defaults. */
	put_le16(D(cap, UVFIO_PCI_EXP_DEVCTL), 0x2810);
	/* Everything but Phantom Functions Enable (bit 9), as vfio-pci. */
	put_le16(W(cap, UVFIO_PCI_EXP_DEVCTL), 0xfdff);
	put_le16(C(cap, UVFIO_PCI_EXP_DEVSTA), 0x000f);
	put_le32(D(cap, UVFIO_PCI_EXP_LNKCAP), 0x11);  /* x1, 2.5 GT/s */
	put_le16(D(cap, UVFIO_PCI_EXP_LNKSTA), 0x11);
	put_le16(W(cap, UVFIO_PCI_EXP_DEVCTL2), 0x071f);
}

/* --- adding ------------------------------------------------------------------------ */

static bool has_cap(const struct uvfio_emu *emu, uint16_t id, bool ext)
{
	for (unsigned i = 0; i < emu->cfg.ncaps; i++)
		if (emu->cfg.caps[i].id == id && emu->cfg.caps[i].ext == ext)
			return true;
	return false;
}

int uvfio_emu_add_cap(struct uvfio_emu *emu, const struct uvfio_emu_cap *c, uint16_t *offset_out)
{
	bool ext;
	uint16_t hdr, size;
	struct emu_cap *cap;

	if (emu->realized)
		return -EBUSY;
	if (!c || c->argsz < sizeof(*c) || (c->flags & ~(UVFIO_EMU_CAP_EXTENDED | UVFIO_EMU_CAP_HOOK)))
		return -EINVAL;
	ext = c->flags & UVFIO_EMU_CAP_EXTENDED;
	hdr = ext ? 4 : 2;
	size = c->size;
	if (!ext && (c->id == UVFIO_PCI_CAP_ID_MSI || c->id == UVFIO_PCI_CAP_ID_MSIX))
		return -EINVAL; /* use uvfio_emu_setup_msi / _msix */
	if (!ext && (c->id == 0 || c->id > 0xff))
		return -EINVAL;
	if (ext && (c->id == 0 || c->version > 0xf))
		return -EINVAL;
	if (!ext && !c->data && !size && c->id == UVFIO_PCI_CAP_ID_PM)
		size = UVFIO_PCI_PM_SIZEOF;
	if (!ext && !c->data && !size && c->id == UVFIO_PCI_CAP_ID_EXP)
		size = UVFIO_PCI_EXP_SIZEOF;
	if (size <= hdr || size > (ext ? EXT_END - EXT_START : STD_END - STD_START))
		return -EINVAL;
	if (!ext && c->id == UVFIO_PCI_CAP_ID_VNDR && size < 3)
		return -EINVAL;
	if (c->offset && (c->offset & 3 || c->offset < (ext ? EXT_START : STD_START) ||
			  c->offset + size > (ext ? EXT_END : STD_END)))
		return -EINVAL;
	if (!ext && (c->id == UVFIO_PCI_CAP_ID_PM || c->id == UVFIO_PCI_CAP_ID_EXP) &&
	    has_cap(emu, c->id, false))
		return -EEXIST;

	cap = uvfio__emu_cap_new(emu, c->id, ext, size);
	if (!cap)
		return -ENOMEM;
	cap->version = c->version;
	cap->flags = c->flags;
	cap->offset = c->offset;
	if (c->data) {
		memcpy(cap->data, c->data, size - hdr);
		if (c->wmask)
			memcpy(cap->wmask, c->wmask, size - hdr);
	} else if (!ext && c->id == UVFIO_PCI_CAP_ID_PM) {
		pm_defaults(cap);
	} else if (!ext && c->id == UVFIO_PCI_CAP_ID_EXP) {
		exp_defaults(cap);
	} else if (c->wmask) {
		memcpy(cap->wmask, c->wmask, size - hdr);
	}
	if (!ext && c->id == UVFIO_PCI_CAP_ID_PM)
		cap->hooks = &pm_hooks;
	if (!ext && c->id == UVFIO_PCI_CAP_ID_EXP) {
		cap->hooks = &exp_hooks;
		emu->cfg.pcie = true;
	}
	if (!ext && c->id == UVFIO_PCI_CAP_ID_VNDR) {
		cap->data[0] = (uint8_t)size; /* the length byte */
		cap->wmask[0] = 0;
	}
	if (offset_out)
		*offset_out = c->offset;
	return 0;
}

int uvfio_emu_find_cap(const struct uvfio_emu *emu, uint16_t id, bool extended)
{
	for (unsigned i = 0; i < emu->cfg.ncaps; i++) {
		const struct emu_cap *cap = &emu->cfg.caps[i];

		if (cap->id == id && cap->ext == extended && cap->offset)
			return cap->offset;
	}
	return -ENOENT;
}

/* --- layout ------------------------------------------------------------------------- */

static int cmp_offset(const void *a, const void *b)
{
	const struct emu_cap *const *x = a, *const *y = b;

	return (int)(*x)->offset - (int)(*y)->offset;
}

/* Place one list (standard or extended) and link it. */
static int layout_list(struct uvfio_emu *emu, bool ext)
{
	struct emu_cap *list[EMU_MAX_CAPS];
	uint32_t start = ext ? EXT_START : STD_START, end = ext ? EXT_END : STD_END;
	uint32_t cursor = start;
	unsigned n = 0;

	for (unsigned i = 0; i < emu->cfg.ncaps; i++) {
		struct emu_cap *cap = &emu->cfg.caps[i];

		if (cap->ext != ext)
			continue;
		list[n++] = cap;
		if (cap->offset)
			cursor = MAX(cursor, (uint32_t)cap->offset + cap->size);
	}
	if (!n)
		return 0;
	/* Automatic ones go after the fixed ones, in the order they were added. */
	for (unsigned i = 0; i < n; i++) {
		if (list[i]->offset)
			continue;
		cursor = (uint32_t)align_up_u64(cursor, 4);
		if (cursor + list[i]->size > end) {
			log_err(&emu->log, "capabilities do not fit in %s configuration space",
				ext ? "extended" : "standard");
			return -EINVAL;
		}
		list[i]->offset = (uint16_t)cursor;
		cursor += list[i]->size;
	}
	qsort(list, n, sizeof(list[0]), cmp_offset);
	for (unsigned i = 0; i < n; i++) {
		if (i + 1 < n && list[i]->offset + list[i]->size > list[i + 1]->offset) {
			log_err(&emu->log, "capabilities at 0x%x and 0x%x overlap", list[i]->offset,
				list[i + 1]->offset);
			return -EINVAL;
		}
		list[i]->next = i + 1 < n ? list[i + 1]->offset : 0;
	}
	if (ext && list[0]->offset != EXT_START) {
		log_err(&emu->log, "the first extended capability must sit at 0x100");
		return -EINVAL;
	}
	return 0;
}

int uvfio__emu_caps_layout(struct uvfio_emu *emu)
{
	int ret;

	if (!emu->cfg.pcie) {
		for (unsigned i = 0; i < emu->cfg.ncaps; i++) {
			if (emu->cfg.caps[i].ext) {
				log_err(&emu->log, "extended capabilities need a PCI Express capability");
				return -EINVAL;
			}
		}
	}
	ret = layout_list(emu, false);
	return ret ? ret : layout_list(emu, true);
}
