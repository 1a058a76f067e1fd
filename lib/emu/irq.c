// SPDX-License-Identifier: BSD-3-Clause
/*
 * Interrupts: INTx, MSI, MSI-X, ERR and REQ, delivered by writing to the
 * client's eventfds, with every masking rule done here so a model only
 * says "raise vector N".
 *
 * The rules follow the kernel's vfio-pci where the client can see them:
 * one of INTx/MSI/MSI-X is active at a time and is enabled and disabled
 * through SET_IRQS; INTx masks itself after each delivery until the client
 * unmasks it (and Interrupt Disable in the command register masks it too);
 * enabling MSI-X unmasks its vectors, as the kernel's enable does. Beyond
 * the kernel, the device keeps a real MSI-X table and PBA: a vector masked
 * in the table (or through SET_IRQS MASK) or by the function mask collects
 * a pending bit and is delivered when unmasked; MSI per-vector masks work
 * the same way through the capability's mask and pending bits.
 *
 * Eventfds are the client's; they are closed when replaced, on disable and
 * when the client goes. Masks and the table are device state and survive
 * the client; pending bits do not.
 */
#include <stdlib.h>

#include "emu_priv.h"

#define INTX UVFIO_PCI_INTX_IRQ_INDEX
#define MSI  UVFIO_PCI_MSI_IRQ_INDEX
#define MSIX UVFIO_PCI_MSIX_IRQ_INDEX
#define ERR  UVFIO_PCI_ERR_IRQ_INDEX
#define REQ  UVFIO_PCI_REQ_IRQ_INDEX

static int signal_efd(int efd)
{
	uint64_t one = 1;

	if (efd < 0)
		return -ENOLINK;
	/* Only EAGAIN (counter saturated) can fail here, and it is still raised. */
	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}

static struct emu_vec *vec(struct uvfio_emu *emu, uint32_t index, uint32_t v)
{
	return &emu->irqs.idx[index].vec[v];
}

static uint16_t cap_off(const struct uvfio_emu *emu, int capi)
{
	return capi >= 0 ? emu->cfg.caps[capi].offset : 0;
}

static int alloc_vecs(struct emu_irq *irq, uint32_t count)
{
	irq->vec = calloc(count, sizeof(*irq->vec));
	if (!irq->vec)
		return -ENOMEM;
	for (uint32_t i = 0; i < count; i++)
		irq->vec[i].efd = -1;
	irq->count = count;
	return 0;
}

/* --- setup ---------------------------------------------------------------------- */

int uvfio_emu_setup_irq(struct uvfio_emu *emu, uint32_t index, uint32_t count)
{
	struct emu_irq *irq;

	if (emu->realized)
		return -EBUSY;
	if ((index != INTX && index != ERR && index != REQ) || count > 1)
		return -EINVAL;
	irq = &emu->irqs.idx[index];
	if (irq->count)
		return -EEXIST;
	return count ? alloc_vecs(irq, count) : 0;
}

int uvfio_emu_setup_msi(struct uvfio_emu *emu, uint32_t nvec, uint32_t flags)
{
	struct emu_irqs *irqs = &emu->irqs;
	bool b64 = flags & UVFIO_EMU_MSI_64BIT, pvm = flags & UVFIO_EMU_MSI_MASKABLE;
	uint16_t size = (uint16_t)(10 + (b64 ? 4 : 0) + (pvm ? 10 : 0));
	uint32_t data_reg = b64 ? 12 : 8, mask_reg = data_reg + 4;
	struct emu_cap *cap;
	uint16_t ctl;
	int ret;

	if (emu->realized)
		return -EBUSY;
	if (!is_pow2_u64(nvec) || nvec > EMU_MAX_MSI ||
	    (flags & ~(UVFIO_EMU_MSI_64BIT | UVFIO_EMU_MSI_MASKABLE)))
		return -EINVAL;
	if (irqs->msi_capi >= 0)
		return -EEXIST;
	ret = alloc_vecs(&irqs->idx[MSI], nvec);
	if (ret)
		return ret;
	cap = uvfio__emu_cap_new(emu, UVFIO_PCI_CAP_ID_MSI, false, size);
	if (!cap) {
		free(irqs->idx[MSI].vec);
		irqs->idx[MSI] = (struct emu_irq){ 0 };
		return -ENOMEM;
	}
	ctl = (uint16_t)((__builtin_ctz(nvec) << 1) | (b64 ? UVFIO_PCI_MSI_FLAGS_64BIT : 0) |
			 (pvm ? UVFIO_PCI_MSI_FLAGS_MASKBIT : 0));
	/* cap->data starts at offset 2 (after ID and next). */
	put_le16(cap->data, ctl);
	put_le16(cap->wmask, UVFIO_PCI_MSI_FLAGS_QSIZE);
	put_le32(cap->wmask + 2, 0xfffffffc);
	if (b64)
		put_le32(cap->wmask + 6, 0xffffffff);
	put_le16(cap->wmask + data_reg - 2, 0xffff);
	if (pvm)
		put_le32(cap->wmask + mask_reg - 2, nvec == 32 ? 0xffffffffu : (1u << nvec) - 1);
	cap->hooks = &uvfio__emu_msi_hooks;
	irqs->msi_flags = flags;
	irqs->msi_capi = (int)(cap - emu->cfg.caps);
	return 0;
}

int uvfio_emu_setup_msix(struct uvfio_emu *emu, uint32_t nvec, uint32_t table_bar,
			 uint32_t table_off, uint32_t pba_bar, uint32_t pba_off)
{
	struct emu_irqs *irqs = &emu->irqs;
	struct emu_cap *cap;
	int ret;

	if (emu->realized)
		return -EBUSY;
	if (!nvec || nvec > EMU_MAX_MSIX || table_bar > UVFIO_PCI_BAR5_REGION_INDEX ||
	    pba_bar > UVFIO_PCI_BAR5_REGION_INDEX || (table_off & 7) || (pba_off & 7))
		return -EINVAL;
	if (irqs->msix_capi >= 0)
		return -EEXIST;
	irqs->msix_table = calloc(nvec, UVFIO_PCI_MSIX_ENTRY_SIZE);
	if (!irqs->msix_table)
		return -ENOMEM;
	ret = alloc_vecs(&irqs->idx[MSIX], nvec);
	cap = ret ? NULL : uvfio__emu_cap_new(emu, UVFIO_PCI_CAP_ID_MSIX, false,
					       UVFIO_PCI_MSIX_SIZEOF);
	if (!cap) {
		free(irqs->msix_table);
		irqs->msix_table = NULL;
		free(irqs->idx[MSIX].vec);
		irqs->idx[MSIX] = (struct emu_irq){ 0 };
		return -ENOMEM;
	}
	/* Every vector is masked at reset (PCI spec). */
	for (uint32_t v = 0; v < nvec; v++)
		irqs->msix_table[v * UVFIO_PCI_MSIX_ENTRY_SIZE + UVFIO_PCI_MSIX_ENTRY_VECTOR_CTRL] =
			UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT;
	put_le16(cap->data, (uint16_t)(nvec - 1));
	put_le16(cap->wmask, UVFIO_PCI_MSIX_FLAGS_MASKALL);
	put_le32(cap->data + 2, table_off | table_bar);
	put_le32(cap->data + 6, pba_off | pba_bar);
	cap->hooks = &uvfio__emu_msix_hooks;
	irqs->msix_table_bar = table_bar;
	irqs->msix_table_off = table_off;
	irqs->msix_pba_bar = pba_bar;
	irqs->msix_pba_off = pba_off;
	irqs->msix_capi = (int)(cap - emu->cfg.caps);
	return 0;
}

static uint64_t msix_table_size(const struct uvfio_emu *emu)
{
	return (uint64_t)emu->irqs.idx[MSIX].count * UVFIO_PCI_MSIX_ENTRY_SIZE;
}

static uint64_t msix_pba_size(const struct uvfio_emu *emu)
{
	return ((uint64_t)emu->irqs.idx[MSIX].count + 63) / 64 * 8;
}

int uvfio__emu_irqs_realize(struct uvfio_emu *emu)
{
	struct emu_irqs *irqs = &emu->irqs;
	const struct emu_region *tb, *pb;
	uint64_t t0, t1, p0, p1;

	if (!irqs->msix_table)
		return 0;
	tb = &emu->regions[irqs->msix_table_bar];
	pb = &emu->regions[irqs->msix_pba_bar];
	t0 = irqs->msix_table_off;
	t1 = t0 + msix_table_size(emu);
	p0 = irqs->msix_pba_off;
	p1 = p0 + msix_pba_size(emu);
	if (!tb->present || !pb->present || (tb->flags & UVFIO_EMU_BAR_IO) ||
	    (pb->flags & UVFIO_EMU_BAR_IO) || t1 > tb->size || p1 > pb->size ||
	    (irqs->msix_table_bar == irqs->msix_pba_bar && t0 < p1 && p0 < t1)) {
		log_err(&emu->log, "the MSI-X table and PBA must lie, apart, inside memory BARs "
				   "that were set up");
		return -EINVAL;
	}
	return 0;
}

void uvfio__emu_irqs_free(struct uvfio_emu *emu)
{
	for (unsigned i = 0; i < UVFIO_PCI_NUM_IRQS; i++) {
		struct emu_irq *irq = &emu->irqs.idx[i];

		for (uint32_t v = 0; irq->vec && v < irq->count; v++)
			close_fd(&irq->vec[v].efd);
		free(irq->vec);
		irq->vec = NULL;
	}
	free(emu->irqs.msix_table);
	emu->irqs.msix_table = NULL;
}

/* --- INTx ------------------------------------------------------------------------- */

static void set_status_intx(struct uvfio_emu *emu, bool on)
{
	uint16_t st = uvfio__emu_cfg_get16(emu, UVFIO_PCI_STATUS);

	st = (uint16_t)(on ? st | UVFIO_PCI_STATUS_INTERRUPT : st & ~UVFIO_PCI_STATUS_INTERRUPT);
	uvfio__emu_cfg_set16(emu, UVFIO_PCI_STATUS, st);
}

static bool intx_disabled(const struct uvfio_emu *emu)
{
	return uvfio__emu_cfg_get16(emu, UVFIO_PCI_COMMAND) & UVFIO_PCI_COMMAND_INTX_DISABLE;
}

static int intx_deliver(struct uvfio_emu *emu)
{
	struct emu_vec *v = vec(emu, INTX, 0);
	int ret;

	set_status_intx(emu, true);
	if (v->masked || intx_disabled(emu)) {
		v->pending = true;
		return 0;
	}
	v->pending = false;
	v->masked = true; /* automasked until the client unmasks */
	ret = signal_efd(v->efd);
	return ret == -ENOLINK ? 0 : ret;
}

static void intx_unmask(struct uvfio_emu *emu)
{
	struct emu_vec *v = vec(emu, INTX, 0);

	v->masked = false;
	if (v->pending)
		intx_deliver(emu);
	else
		set_status_intx(emu, false);
}

void uvfio__emu_intx_update(struct uvfio_emu *emu)
{
	if (emu->irqs.active_type == INTX && !intx_disabled(emu) && !vec(emu, INTX, 0)->masked &&
	    vec(emu, INTX, 0)->pending)
		intx_deliver(emu);
}

/* --- MSI ---------------------------------------------------------------------------- */

static uint32_t msi_reg(const struct uvfio_emu *emu, uint32_t which)
{
	bool b64 = emu->irqs.msi_flags & UVFIO_EMU_MSI_64BIT;

	/* which: 0 = mask bits, 1 = pending bits */
	return cap_off(emu, emu->irqs.msi_capi) + (b64 ? 16 : 12) + 4 * which;
}

static bool msi_masked(const struct uvfio_emu *emu, uint32_t v)
{
	if (!(emu->irqs.msi_flags & UVFIO_EMU_MSI_MASKABLE))
		return false;
	return uvfio__emu_cfg_get32(emu, msi_reg(emu, 0)) & (1u << v);
}

static void msi_set_pending(struct uvfio_emu *emu, uint32_t v, bool on)
{
	uint32_t r = msi_reg(emu, 1), p = uvfio__emu_cfg_get32(emu, r);

	uvfio__emu_cfg_set32(emu, r, on ? p | (1u << v) : p & ~(1u << v));
}

static int msi_deliver(struct uvfio_emu *emu, uint32_t v)
{
	if (v >= emu->irqs.msi_nvec)
		return -EINVAL;
	if (!emu_bus_master(emu))
		return -EPERM;
	if (msi_masked(emu, v)) {
		msi_set_pending(emu, v, true);
		return 0;
	}
	return signal_efd(vec(emu, MSI, v)->efd);
}

static void msi_flush_pending(struct uvfio_emu *emu)
{
	uint32_t pend;

	if (!(emu->irqs.msi_flags & UVFIO_EMU_MSI_MASKABLE) || emu->irqs.active_type != MSI ||
	    !emu_bus_master(emu))
		return;
	pend = uvfio__emu_cfg_get32(emu, msi_reg(emu, 1));
	for (uint32_t v = 0; v < emu->irqs.msi_nvec; v++) {
		if ((pend & (1u << v)) && !msi_masked(emu, v)) {
			msi_set_pending(emu, v, false);
			signal_efd(vec(emu, MSI, v)->efd);
		}
	}
}

static void msi_write(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, uint32_t len,
		      const uint8_t *old)
{
	uint32_t ctl_reg = cap->offset + UVFIO_PCI_MSI_FLAGS;
	uint16_t ctl = uvfio__emu_cfg_get16(emu, ctl_reg);
	uint16_t mmc = (ctl & UVFIO_PCI_MSI_FLAGS_QMASK) >> 1;

	/* Multiple Message Enable can't exceed Multiple Message Capable. */
	if (((ctl & UVFIO_PCI_MSI_FLAGS_QSIZE) >> 4) > mmc)
		uvfio__emu_cfg_set16(emu, ctl_reg,
				     (uint16_t)((ctl & ~UVFIO_PCI_MSI_FLAGS_QSIZE) | mmc << 4));
	msi_flush_pending(emu);
}

const struct emu_cap_hooks uvfio__emu_msi_hooks = { .write = msi_write };

static void msi_set_enable(struct uvfio_emu *emu, bool on, uint32_t nvec)
{
	uint32_t reg = cap_off(emu, emu->irqs.msi_capi) + UVFIO_PCI_MSI_FLAGS;
	uint16_t ctl = uvfio__emu_cfg_get16(emu, reg);

	ctl &= (uint16_t)~(UVFIO_PCI_MSI_FLAGS_ENABLE | UVFIO_PCI_MSI_FLAGS_QSIZE);
	if (on) {
		uint32_t mme = 0;

		while ((1u << mme) < nvec)
			mme++;
		ctl |= (uint16_t)(UVFIO_PCI_MSI_FLAGS_ENABLE | mme << 4);
	}
	uvfio__emu_cfg_set16(emu, reg, ctl);
	emu->irqs.msi_nvec = on ? nvec : 0;
	if (!on && (emu->irqs.msi_flags & UVFIO_EMU_MSI_MASKABLE))
		uvfio__emu_cfg_set32(emu, msi_reg(emu, 1), 0);
}

/* --- MSI-X -------------------------------------------------------------------------- */

static uint8_t *msix_ctrl(struct uvfio_emu *emu, uint32_t v)
{
	return &emu->irqs.msix_table[v * UVFIO_PCI_MSIX_ENTRY_SIZE +
				     UVFIO_PCI_MSIX_ENTRY_VECTOR_CTRL];
}

static uint16_t msix_flags(const struct uvfio_emu *emu)
{
	return uvfio__emu_cfg_get16(emu, cap_off(emu, emu->irqs.msix_capi) + UVFIO_PCI_MSIX_FLAGS);
}

static bool msix_masked(struct uvfio_emu *emu, uint32_t v)
{
	return (msix_flags(emu) & UVFIO_PCI_MSIX_FLAGS_MASKALL) ||
	       (*msix_ctrl(emu, v) & UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

static int msix_deliver(struct uvfio_emu *emu, uint32_t v)
{
	if (v >= emu->irqs.idx[MSIX].count)
		return -EINVAL;
	if (!emu_bus_master(emu))
		return -EPERM;
	if (msix_masked(emu, v)) {
		vec(emu, MSIX, v)->pending = true;
		return 0;
	}
	return signal_efd(vec(emu, MSIX, v)->efd);
}

static void msix_flush_pending(struct uvfio_emu *emu)
{
	if (emu->irqs.active_type != MSIX || !emu_bus_master(emu))
		return;
	for (uint32_t v = 0; v < emu->irqs.idx[MSIX].count; v++) {
		struct emu_vec *e = vec(emu, MSIX, v);

		if (e->pending && !msix_masked(emu, v)) {
			e->pending = false;
			signal_efd(e->efd);
		}
	}
}

static void msix_write(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, uint32_t len,
		       const uint8_t *old)
{
	msix_flush_pending(emu);
}

const struct emu_cap_hooks uvfio__emu_msix_hooks = { .write = msix_write };

static void msix_set_enable(struct uvfio_emu *emu, bool on)
{
	uint32_t reg = cap_off(emu, emu->irqs.msix_capi) + UVFIO_PCI_MSIX_FLAGS;
	uint16_t f = uvfio__emu_cfg_get16(emu, reg);

	f = (uint16_t)(on ? f | UVFIO_PCI_MSIX_FLAGS_ENABLE : f & ~UVFIO_PCI_MSIX_FLAGS_ENABLE);
	uvfio__emu_cfg_set16(emu, reg, f);
	for (uint32_t v = 0; v < emu->irqs.idx[MSIX].count; v++) {
		vec(emu, MSIX, v)->pending = false;
		/* The kernel's MSI-X enable leaves the vectors unmasked. */
		if (on)
			*msix_ctrl(emu, v) &= (uint8_t)~UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT;
	}
}

bool uvfio__emu_msix_hit(const struct uvfio_emu *emu, uint32_t index, uint64_t off, uint32_t len,
			 uint32_t *chunk)
{
	const struct emu_irqs *irqs = &emu->irqs;
	uint64_t next = UINT64_MAX;
	struct { uint32_t bar; uint64_t s, e; } r[2];

	*chunk = len;
	if (!irqs->msix_table)
		return false;
	r[0].bar = irqs->msix_table_bar;
	r[0].s = irqs->msix_table_off;
	r[0].e = r[0].s + msix_table_size(emu);
	r[1].bar = irqs->msix_pba_bar;
	r[1].s = irqs->msix_pba_off;
	r[1].e = r[1].s + msix_pba_size(emu);
	for (int i = 0; i < 2; i++) {
		if (r[i].bar != index)
			continue;
		if (off >= r[i].s && off < r[i].e) {
			*chunk = (uint32_t)MIN((uint64_t)len, r[i].e - off);
			return true;
		}
		if (r[i].s > off)
			next = MIN(next, r[i].s);
	}
	*chunk = (uint32_t)MIN((uint64_t)len, next - off);
	return false;
}

int uvfio__emu_msix_access(struct uvfio_emu *emu, uint32_t index, uint64_t off, void *buf,
			   uint32_t len, bool write)
{
	struct emu_irqs *irqs = &emu->irqs;
	uint8_t *b = buf;

	if (index == irqs->msix_table_bar && off >= irqs->msix_table_off &&
	    off < irqs->msix_table_off + msix_table_size(emu)) {
		uint64_t rel = off - irqs->msix_table_off;

		if (!write) {
			memcpy(b, irqs->msix_table + rel, len);
			return 0;
		}
		memcpy(irqs->msix_table + rel, b, len);
		msix_flush_pending(emu);
		return 0;
	}
	/* The PBA: read-only, computed from the pending bits. */
	if (write)
		return 0;
	for (uint32_t i = 0; i < len; i++) {
		uint64_t byte = off - irqs->msix_pba_off + i;
		uint8_t bits = 0;

		for (uint32_t k = 0; k < 8; k++) {
			uint64_t v = byte * 8 + k;

			if (v < irqs->idx[MSIX].count && vec(emu, MSIX, (uint32_t)v)->pending)
				bits |= (uint8_t)(1u << k);
		}
		b[i] = bits;
	}
	return 0;
}

/* --- raising ---------------------------------------------------------------------------- */

int uvfio_emu_irq_raise(struct uvfio_emu *emu, uint32_t v)
{
	switch (emu->irqs.active_type) {
	case MSIX:
		return msix_deliver(emu, v);
	case MSI:
		return msi_deliver(emu, v);
	case INTX:
		return intx_deliver(emu);
	default:
		return -ENOLINK;
	}
}

int uvfio_emu_irq_signal(struct uvfio_emu *emu, uint32_t index)
{
	if (index != ERR && index != REQ)
		return -EINVAL;
	if (!emu->irqs.idx[index].count)
		return -ENOLINK;
	return signal_efd(vec(emu, index, 0)->efd);
}

/* --- client control ------------------------------------------------------------------- */

static void close_vecs(struct uvfio_emu *emu, uint32_t index, uint32_t start, uint32_t count)
{
	for (uint32_t v = start; v < start + count; v++)
		close_fd(&vec(emu, index, v)->efd);
}

static void disable_index(struct uvfio_emu *emu, uint32_t index)
{
	struct emu_irq *irq = &emu->irqs.idx[index];

	close_vecs(emu, index, 0, irq->count);
	for (uint32_t v = 0; v < irq->count; v++)
		irq->vec[v].pending = irq->vec[v].masked = false;
	if (emu->irqs.active_type == (int)index) {
		emu->irqs.active_type = -1;
		if (index == MSI)
			msi_set_enable(emu, false, 0);
		else if (index == MSIX)
			msix_set_enable(emu, false);
		else if (index == INTX)
			set_status_intx(emu, false);
	}
}

/* Give vectors [start, start + nfds) the received fds (taken from @fds). */
static void bind_fds(struct uvfio_emu *emu, uint32_t index, uint32_t start, int *fds,
		     unsigned nfds)
{
	for (unsigned i = 0; i < nfds; i++) {
		struct emu_vec *e = vec(emu, index, start + i);

		close_fd(&e->efd);
		e->efd = fds[i];
		fds[i] = -1;
	}
}

static bool selected(const struct uvfio_irq_set *s, uint32_t i)
{
	return !(s->flags & UVFIO_IRQ_SET_DATA_BOOL) || s->data[i];
}

static int set_intx(struct uvfio_emu *emu, const struct uvfio_irq_set *s, struct emu_req *req)
{
	uint32_t data = s->flags & UVFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t action = s->flags & UVFIO_IRQ_SET_ACTION_TYPE_MASK;
	struct emu_vec *v = vec(emu, INTX, 0);

	if (action != UVFIO_IRQ_SET_ACTION_TRIGGER) {
		if (data == UVFIO_IRQ_SET_DATA_EVENTFD)
			/* The unmask irqfd (KVM resample) isn't implemented yet. */
			return action == UVFIO_IRQ_SET_ACTION_UNMASK ? -ENOTSUP : -ENOTTY;
		if (emu->irqs.active_type != INTX)
			return -EINVAL;
		if (!selected(s, 0))
			return 0;
		if (action == UVFIO_IRQ_SET_ACTION_MASK)
			v->masked = true;
		else
			intx_unmask(emu);
		return 0;
	}
	if (!s->count) {
		disable_index(emu, INTX);
		return 0;
	}
	if (data == UVFIO_IRQ_SET_DATA_EVENTFD) {
		if (!req->nfds) {
			close_fd(&v->efd);
			return 0;
		}
		if (emu->irqs.active_type >= 0 && emu->irqs.active_type != INTX)
			return -EINVAL;
		bind_fds(emu, INTX, 0, req->fds, 1);
		if (emu->irqs.active_type != INTX) {
			emu->irqs.active_type = INTX;
			v->masked = v->pending = false;
		}
		return 0;
	}
	if (emu->irqs.active_type == INTX && selected(s, 0))
		signal_efd(v->efd);
	return 0;
}

static void set_vector_mask(struct uvfio_emu *emu, uint32_t index, uint32_t v, bool mask)
{
	if (index == MSIX) {
		uint8_t *c = msix_ctrl(emu, v);

		*c = (uint8_t)(mask ? *c | UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT
				    : *c & ~UVFIO_PCI_MSIX_ENTRY_CTRL_MASKBIT);
	} else {
		uint32_t r = msi_reg(emu, 0), m = uvfio__emu_cfg_get32(emu, r);

		uvfio__emu_cfg_set32(emu, r, mask ? m | (1u << v) : m & ~(1u << v));
	}
}

static int set_msi(struct uvfio_emu *emu, uint32_t index, const struct uvfio_irq_set *s,
		   struct emu_req *req)
{
	uint32_t data = s->flags & UVFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t action = s->flags & UVFIO_IRQ_SET_ACTION_TYPE_MASK;
	bool active = emu->irqs.active_type == (int)index;

	if (action != UVFIO_IRQ_SET_ACTION_TRIGGER) {
		if (data == UVFIO_IRQ_SET_DATA_EVENTFD ||
		    (index == MSI && !(emu->irqs.msi_flags & UVFIO_EMU_MSI_MASKABLE)))
			return -ENOTTY;
		for (uint32_t i = 0; i < s->count; i++)
			if (selected(s, i))
				set_vector_mask(emu, index, s->start + i,
						action == UVFIO_IRQ_SET_ACTION_MASK);
		if (index == MSIX)
			msix_flush_pending(emu);
		else
			msi_flush_pending(emu);
		return 0;
	}
	if (!s->count) {
		disable_index(emu, index);
		return 0;
	}
	if (data == UVFIO_IRQ_SET_DATA_EVENTFD) {
		if (!req->nfds) {
			close_vecs(emu, index, s->start, s->count);
			return 0;
		}
		if (emu->irqs.active_type >= 0 && !active)
			return -EINVAL;
		/* MSI vectors come as one block (NORESIZE); MSI-X may grow. */
		if (index == MSI && active && s->start + s->count > emu->irqs.msi_nvec)
			return -EINVAL;
		if (!active) {
			emu->irqs.active_type = (int)index;
			if (index == MSI)
				msi_set_enable(emu, true, s->start + s->count);
			else
				msix_set_enable(emu, true);
		}
		bind_fds(emu, index, s->start, req->fds, req->nfds);
		return 0;
	}
	/* Loopback: only on the enabled index, as the kernel. */
	if (!active)
		return -EINVAL;
	for (uint32_t i = 0; i < s->count; i++)
		if (selected(s, i))
			signal_efd(vec(emu, index, s->start + i)->efd);
	return 0;
}

static int set_simple(struct uvfio_emu *emu, uint32_t index, const struct uvfio_irq_set *s,
		      struct emu_req *req)
{
	uint32_t data = s->flags & UVFIO_IRQ_SET_DATA_TYPE_MASK;
	struct emu_vec *v = vec(emu, index, 0);

	if ((s->flags & UVFIO_IRQ_SET_ACTION_TYPE_MASK) != UVFIO_IRQ_SET_ACTION_TRIGGER)
		return -ENOTTY;
	if (!s->count) {
		close_fd(&v->efd);
		return 0;
	}
	if (data == UVFIO_IRQ_SET_DATA_EVENTFD) {
		if (req->nfds)
			bind_fds(emu, index, 0, req->fds, 1);
		else
			close_fd(&v->efd);
		return 0;
	}
	if (selected(s, 0))
		signal_efd(v->efd);
	return 0;
}

int uvfio__emu_set_irqs(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_irq_set s;
	struct emu_irq *irq;
	uint32_t data;
	int ret = uvfio_proto_irq_set_decode(req->p, req->len, &s);

	if (ret)
		return ret;
	if (s.index >= UVFIO_PCI_NUM_IRQS)
		return -EINVAL;
	irq = &emu->irqs.idx[s.index];
	data = s.flags & UVFIO_IRQ_SET_DATA_TYPE_MASK;
	/* As the kernel: an index without vectors can't be touched at all. */
	if (!irq->count)
		return -EINVAL;
	if (!s.count) {
		if (s.start || data != UVFIO_IRQ_SET_DATA_NONE ||
		    !(s.flags & UVFIO_IRQ_SET_ACTION_TRIGGER))
			return -EINVAL;
	} else if (s.start >= irq->count || s.count > irq->count - s.start) {
		return -EINVAL;
	}
	if (data == UVFIO_IRQ_SET_DATA_EVENTFD) {
		if (req->nfds && req->nfds != s.count)
			return -EINVAL;
	} else if (req->nfds) {
		return -EINVAL;
	}
	switch (s.index) {
	case INTX:
		return set_intx(emu, &s, req);
	case MSI:
	case MSIX:
		return set_msi(emu, s.index, &s, req);
	default:
		return set_simple(emu, s.index, &s, req);
	}
}

int uvfio__emu_get_irq_info(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	static const uint32_t flags[UVFIO_PCI_NUM_IRQS] = {
		[INTX] = UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE | UVFIO_IRQ_INFO_AUTOMASKED,
		[MSI] = UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE,
		[MSIX] = UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_MASKABLE,
		[ERR] = UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE,
		[REQ] = UVFIO_IRQ_INFO_EVENTFD | UVFIO_IRQ_INFO_NORESIZE,
	};
	struct uvfio_irq_info in, out;
	uint8_t *buf;
	int ret = uvfio_proto_irq_info_decode(req->p, req->len, &in);

	if (ret)
		return ret;
	if (in.argsz < UVFIO_IRQ_INFO_SIZE || in.index >= UVFIO_PCI_NUM_IRQS)
		return -EINVAL;
	out = (struct uvfio_irq_info){
		.argsz = UVFIO_IRQ_INFO_SIZE,
		.flags = flags[in.index],
		.index = in.index,
		.count = emu->irqs.idx[in.index].count,
	};
	if (in.index == MSI && (emu->irqs.msi_flags & UVFIO_EMU_MSI_MASKABLE))
		out.flags |= UVFIO_IRQ_INFO_MASKABLE;
	ret = uvfio__emu_scratch(emu, UVFIO_IRQ_INFO_SIZE, &buf);
	if (ret)
		return ret;
	uvfio_proto_irq_info_encode(buf, UVFIO_IRQ_INFO_SIZE, &out);
	reply_add(rep, buf, UVFIO_IRQ_INFO_SIZE);
	return 0;
}

/* The client went away: its eventfds go, and with them every enabled index. */
void uvfio__emu_irqs_drop(struct uvfio_emu *emu)
{
	for (uint32_t i = 0; i < UVFIO_PCI_NUM_IRQS; i++)
		if (emu->irqs.idx[i].count)
			disable_index(emu, i);
}

/* Function reset: pending interrupts are forgotten; the client's setup stays. */
void uvfio__emu_irqs_reset(struct uvfio_emu *emu)
{
	for (uint32_t i = 0; i < UVFIO_PCI_NUM_IRQS; i++)
		for (uint32_t v = 0; v < emu->irqs.idx[i].count; v++)
			emu->irqs.idx[i].vec[v].pending = false;
	if (emu->irqs.msi_capi >= 0 && (emu->irqs.msi_flags & UVFIO_EMU_MSI_MASKABLE))
		uvfio__emu_cfg_set32(emu, msi_reg(emu, 1), 0);
	if (emu->cfg.data)
		set_status_intx(emu, false);
}
