// SPDX-License-Identifier: BSD-3-Clause
/*
 * The NVMe driver. Bring-up follows the specification's order (NVMe 1.4,
 * 7.6.1): disable and wait for CSTS.RDY to clear, program the admin queue
 * attributes and addresses, enable with 4 KiB pages and the NVM command
 * set, wait for RDY, identify, ask for one I/O queue pair, create its
 * completion queue and then its submission queue. Teardown runs the other
 * way, and the controller is disabled before any memory it could write is
 * given back: unmapped memory is safe from the device, freed-and-reused
 * memory would not be.
 *
 * Registers and doorbells are reached through an mmap of BAR0 when the
 * region allows one, else through uvfio_device_read/write; both work over
 * every backend. 64-bit registers are accessed as two 32-bit halves, low
 * first, which the specification allows.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "nvme_regs.h"
#include "nvmedrv.h"

#define PAGE           4096u
#define PAGE_SHIFT     12
#define ADMIN_DEPTH    32u
#define IO_DEPTH       64u
#define IO_QID         1u
#define BOUNCE_SIZE    (128u * 1024) /* its PRP list fits in one page */
#define CMD_TIMEOUT_MS 5000
#define NO_VECTOR      UINT32_MAX

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

struct queue {
	struct uvfio_dma_buf sq; /* depth entries of 64 bytes, read by the controller */
	struct uvfio_dma_buf cq; /* depth entries of 16 bytes, written by it */
	uint16_t qid;
	uint16_t depth;
	uint16_t sq_tail;
	uint16_t cq_head;
	uint16_t next_cid;
	uint8_t phase;           /* phase tag that marks a new completion */
	uint32_t vector;         /* MSI-X vector, or NO_VECTOR when polled */
};

struct nvmedrv {
	struct uvfio_device *dev;
	struct uvfio_container *ctr;
	volatile uint8_t *regs;  /* BAR0 mmap covering our doorbells, or NULL */
	size_t regs_len;         /* bytes of it */
	uint64_t bar_size;
	uint64_t cap;
	uint32_t db_stride;      /* bytes between doorbells */
	uint32_t ready_ms;       /* how long CSTS.RDY may take to change */
	enum nvmedrv_completion mode;
	bool irq_on;             /* MSI-X enabled through the library */
	bool enabled;            /* CC was written: disable before freeing memory */
	bool cq_live, sq_live;   /* the I/O queues exist on the controller */
	bool dead;               /* a timeout or nonsense: no more commands */
	struct queue admin, io;
	struct uvfio_dma_buf bounce; /* identify data and reads */
	struct uvfio_dma_buf prps;   /* the PRP list for the bounce buffer */
	struct nvmedrv_ctrl ctrl;
	uint16_t status;         /* SCT << 8 | SC of the last failed command */
	uint64_t irqs;
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void pause_us(long us)
{
	struct timespec t = { .tv_sec = 0, .tv_nsec = us * 1000 };

	nanosleep(&t, NULL);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* --- registers ------------------------------------------------------------------ */

static int rd32(struct nvmedrv *n, uint32_t off, uint32_t *v)
{
	uint32_t le;
	int ret = 0;

	if (n->regs && off + 4 <= n->regs_len)
		le = *(volatile uint32_t *)(n->regs + off);
	else
		ret = uvfio_device_read(n->dev, UVFIO_PCI_BAR0_REGION_INDEX, off, &le, 4);
	if (!ret)
		*v = le32toh(le);
	return ret;
}

static int wr32(struct nvmedrv *n, uint32_t off, uint32_t v)
{
	uint32_t le = htole32(v);

	if (n->regs && off + 4 <= n->regs_len) {
		*(volatile uint32_t *)(n->regs + off) = le;
		return 0;
	}
	return uvfio_device_write(n->dev, UVFIO_PCI_BAR0_REGION_INDEX, off, &le, 4);
}

static int rd64(struct nvmedrv *n, uint32_t off, uint64_t *v)
{
	uint32_t lo, hi;
	int ret = rd32(n, off, &lo);

	if (!ret)
		ret = rd32(n, off + 4, &hi);
	if (!ret)
		*v = (uint64_t)hi << 32 | lo;
	return ret;
}

static int wr64(struct nvmedrv *n, uint32_t off, uint64_t v)
{
	int ret = wr32(n, off, (uint32_t)v);

	return ret ? ret : wr32(n, off + 4, (uint32_t)(v >> 32));
}

static uint32_t doorbell(const struct nvmedrv *n, uint16_t qid, bool cq)
{
	return NVME_REG_DBS + (2u * qid + (cq ? 1u : 0u)) * n->db_stride;
}

/* Wait until (CSTS & @mask) == @want. */
static int wait_csts(struct nvmedrv *n, uint32_t mask, uint32_t want)
{
	uint64_t end = now_ms() + n->ready_ms;
	uint32_t csts;
	int ret;

	for (;;) {
		ret = rd32(n, NVME_REG_CSTS, &csts);
		if (ret)
			return ret;
		if (csts == UINT32_MAX)
			return -EIO; /* the device is gone or its memory space is off */
		if ((csts & mask) == want)
			return 0;
		if ((csts & NVME_CSTS_CFS) && (want & NVME_CSTS_RDY))
			return -EIO;
		if (now_ms() > end)
			return -ETIMEDOUT;
		pause_us(1000);
	}
}

static int ctrl_disable(struct nvmedrv *n)
{
	uint32_t cc;
	int ret = rd32(n, NVME_REG_CC, &cc);

	if (!ret && (cc & NVME_CC_EN))
		ret = wr32(n, NVME_REG_CC, cc & ~NVME_CC_EN);
	return ret ? ret : wait_csts(n, NVME_CSTS_RDY, 0);
}

static int ctrl_enable(struct nvmedrv *n)
{
	uint32_t aqa = (uint32_t)(n->admin.depth - 1) << 16 | (uint32_t)(n->admin.depth - 1);
	uint32_t cc = NVME_CC_CSS_NVM | NVME_CC_MPS(PAGE_SHIFT) | NVME_CC_AMS_RR |
		      NVME_CC_IOSQES(NVME_SQE_LOG) | NVME_CC_IOCQES(NVME_CQE_LOG) | NVME_CC_EN;
	int ret = wr32(n, NVME_REG_AQA, aqa);

	if (!ret)
		ret = wr64(n, NVME_REG_ASQ, n->admin.sq.iova);
	if (!ret)
		ret = wr64(n, NVME_REG_ACQ, n->admin.cq.iova);
	if (ret)
		return ret;
	n->enabled = true;
	ret = wr32(n, NVME_REG_CC, cc);
	if (!ret)
		ret = wait_csts(n, NVME_CSTS_RDY, NVME_CSTS_RDY);
	/* Polled: keep pin and MSI interrupts masked (MSI-X ignores INTMS). */
	if (!ret && n->mode == NVMEDRV_POLL)
		ret = wr32(n, NVME_REG_INTMS, UINT32_MAX);
	return ret;
}

/* --- queues and commands -------------------------------------------------------------- */

static int queue_alloc(struct nvmedrv *n, struct queue *q, uint16_t qid, uint16_t depth,
		       uint32_t vector)
{
	int ret = uvfio_dma_alloc(n->ctr, (uint64_t)depth * sizeof(struct nvme_sqe),
				  UVFIO_DMA_READ, &q->sq);

	if (!ret)
		ret = uvfio_dma_alloc(n->ctr, (uint64_t)depth * sizeof(struct nvme_cqe),
				      UVFIO_DMA_WRITE, &q->cq);
	q->qid = qid;
	q->depth = depth;
	q->sq_tail = 0;
	q->cq_head = 0;
	q->next_cid = 0;
	q->phase = 1;
	q->vector = vector;
	return ret;
}

static void queue_free(struct nvmedrv *n, struct queue *q)
{
	uvfio_dma_free(n->ctr, &q->sq);
	uvfio_dma_free(n->ctr, &q->cq);
}

/* Take the completion at the head of @q, which must be for command @cid. */
static int reap(struct nvmedrv *n, struct queue *q, uint16_t cid, uint32_t *dw0)
{
	struct nvme_cqe c;
	uint16_t sf;
	int ret;

	memcpy(&c, (const struct nvme_cqe *)q->cq.vaddr + q->cq_head, sizeof(c));
	if (++q->cq_head == q->depth) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	ret = wr32(n, doorbell(n, q->qid, true), q->cq_head);
	if (ret) {
		n->dead = true;
		return ret;
	}
	if (le16toh(c.cid) != cid || le16toh(c.sq_id) != q->qid ||
	    le16toh(c.sq_head) >= q->depth) {
		n->dead = true;
		return -EPROTO;
	}
	sf = le16toh(c.status) >> 1;
	n->status = sf & 0x7ff;
	if (n->status)
		return -EIO;
	if (dw0)
		*dw0 = le32toh(c.dw0);
	return 0;
}

/*
 * Submit @cmd on @q and wait for its completion. Polled: look at the phase
 * tag, backing off after a while. MSI-X: sleep on the queue's eventfd
 * first and look when it fires, so every completion consumes its own
 * interrupt and none is left to wake the next command early. After the
 * deadline the queue gets one last look either way.
 */
static int exec(struct nvmedrv *n, struct queue *q, struct nvme_sqe *cmd, uint32_t *dw0)
{
	uint64_t end = now_ms() + CMD_TIMEOUT_MS;
	uint16_t cid = q->next_cid++;
	bool late = false;
	int ret;

	if (n->dead)
		return -EIO;
	cmd->cid = htole16(cid);
	memcpy((struct nvme_sqe *)q->sq.vaddr + q->sq_tail, cmd, sizeof(*cmd));
	q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->depth);
	/* The entry must be in memory before the controller hears of it. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	ret = wr32(n, doorbell(n, q->qid, false), q->sq_tail);
	if (ret) {
		n->dead = true;
		return ret;
	}
	for (unsigned looks = 0;; looks++) {
		const volatile struct nvme_cqe *c;

		if (q->vector != NO_VECTOR && !late) {
			uint64_t now = now_ms(), count = 0;

			ret = uvfio_device_irq_wait(n->dev, UVFIO_PCI_MSIX_IRQ_INDEX, q->vector,
						    now < end ? (int)(end - now) : 0, &count);
			if (!ret)
				n->irqs += count;
			else if (ret != -ETIMEDOUT)
				break;
		}
		c = (const volatile struct nvme_cqe *)q->cq.vaddr + q->cq_head;
		if ((le16toh(c->status) & 1) == q->phase) {
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			return reap(n, q, cid, dw0);
		}
		if (late)
			break;
		if (q->vector == NO_VECTOR && looks > 100)
			pause_us(looks > 1000 ? 1000 : 20);
		late = now_ms() >= end;
	}
	n->dead = true;
	return ret && ret != -ETIMEDOUT ? ret : -ETIMEDOUT;
}

static int admin(struct nvmedrv *n, struct nvme_sqe *cmd, uint32_t *dw0)
{
	return exec(n, &n->admin, cmd, dw0);
}

static int identify(struct nvmedrv *n, uint32_t nsid, uint32_t cns)
{
	struct nvme_sqe c = { .opc = NVME_ADM_IDENTIFY, .nsid = htole32(nsid),
			      .prp1 = htole64(n->bounce.iova), .cdw10 = htole32(cns) };

	memset(n->bounce.vaddr, 0, NVME_ID_SIZE);
	return admin(n, &c, NULL);
}

/* An identify string: trailing spaces (and NULs) dropped, the unprintable shown as '?'. */
static void id_string(char *dst, const uint8_t *src, size_t len)
{
	while (len && (src[len - 1] == ' ' || src[len - 1] == 0))
		len--;
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[len] = 0;
}

static int identify_ctrl(struct nvmedrv *n)
{
	const uint8_t *id = n->bounce.vaddr;
	uint8_t mdts;
	int ret = identify(n, 0, NVME_ID_CNS_CTRL);

	if (ret)
		return ret;
	n->ctrl.vid = get16(id + NVME_IDC_VID);
	n->ctrl.ssvid = get16(id + NVME_IDC_SSVID);
	id_string(n->ctrl.serial, id + NVME_IDC_SN, 20);
	id_string(n->ctrl.model, id + NVME_IDC_MN, 40);
	id_string(n->ctrl.firmware, id + NVME_IDC_FR, 8);
	n->ctrl.namespaces = get32(id + NVME_IDC_NN);
	/* MDTS counts minimum-size pages, which are ours (MPSMIN is 0). */
	mdts = id[NVME_IDC_MDTS];
	n->ctrl.max_transfer = BOUNCE_SIZE;
	if (mdts && mdts < 32 && ((uint64_t)PAGE << mdts) < BOUNCE_SIZE)
		n->ctrl.max_transfer = PAGE << mdts;
	return 0;
}

static int create_io(struct nvmedrv *n)
{
	uint32_t mqes = NVME_CAP_MQES(n->cap), vector = NO_VECTOR, cq_flags = NVME_QUEUE_PC;
	uint16_t depth = (uint16_t)MIN(IO_DEPTH, mqes + 1);
	struct nvme_sqe c;
	uint32_t got;
	int ret;

	if (n->irq_on) {
		struct uvfio_irq_info ii = { .argsz = sizeof(ii) };

		ret = uvfio_device_irq_info(n->dev, UVFIO_PCI_MSIX_IRQ_INDEX, &ii);
		if (ret)
			return ret;
		vector = ii.count > 1 ? 1 : 0;
		cq_flags |= NVME_CQ_IEN | vector << 16;
	}
	ret = queue_alloc(n, &n->io, IO_QID, depth, vector);
	if (ret)
		return ret;
	n->ctrl.queue_depth = depth;
	/* One submission and one completion queue (both counts 0-based). */
	c = (struct nvme_sqe){ .opc = NVME_ADM_SET_FEATURES, .cdw10 = htole32(NVME_FEAT_NUM_QUEUES),
			       .cdw11 = 0 };
	ret = admin(n, &c, &got);
	if (ret)
		return ret;
	c = (struct nvme_sqe){ .opc = NVME_ADM_CREATE_CQ, .prp1 = htole64(n->io.cq.iova),
			       .cdw10 = htole32((uint32_t)(depth - 1) << 16 | IO_QID),
			       .cdw11 = htole32(cq_flags) };
	ret = admin(n, &c, NULL);
	if (ret)
		return ret;
	n->cq_live = true;
	c = (struct nvme_sqe){ .opc = NVME_ADM_CREATE_SQ, .prp1 = htole64(n->io.sq.iova),
			       .cdw10 = htole32((uint32_t)(depth - 1) << 16 | IO_QID),
			       .cdw11 = htole32(IO_QID << 16 | NVME_QUEUE_PC) };
	ret = admin(n, &c, NULL);
	if (!ret)
		n->sq_live = true;
	return ret;
}

/* --- open and close ------------------------------------------------------------------- */

static int probe(struct nvmedrv *n)
{
	struct uvfio_region r = { .argsz = sizeof(r) };
	uint8_t cls[3];
	uint16_t cmd;
	int ret = uvfio_device_cfg_read(n->dev, UVFIO_PCI_CLASS_PROG, cls, sizeof(cls));

	if (ret)
		return ret;
	if (((uint32_t)cls[2] << 16 | (uint32_t)cls[1] << 8 | cls[0]) != NVME_CLASS)
		return -ENODEV;
	ret = uvfio_device_region(n->dev, UVFIO_PCI_BAR0_REGION_INDEX, &r);
	if (ret)
		return ret;
	if ((r.flags & (UVFIO_REGION_INFO_FLAG_READ | UVFIO_REGION_INFO_FLAG_WRITE)) !=
	    (UVFIO_REGION_INFO_FLAG_READ | UVFIO_REGION_INFO_FLAG_WRITE) ||
	    r.size < NVME_REG_DBS + 8)
		return -ENODEV;
	n->bar_size = r.size;
	ret = uvfio_device_cfg_read(n->dev, UVFIO_PCI_COMMAND, &cmd, 2);
	if (ret)
		return ret;
	cmd |= UVFIO_PCI_COMMAND_MEMORY | UVFIO_PCI_COMMAND_MASTER;
	return uvfio_device_cfg_write(n->dev, UVFIO_PCI_COMMAND, &cmd, 2);
}

/* Read CAP; mmap what holds the registers and the two queue pairs' doorbells. */
static int map_regs(struct nvmedrv *n)
{
	struct uvfio_region r = { .argsz = sizeof(r) };
	uint64_t need, len;
	void *p;
	int ret = rd64(n, NVME_REG_CAP, &n->cap);

	if (ret)
		return ret;
	if (n->cap == UINT64_MAX)
		return -EIO;
	if (!NVME_CAP_CSS_NVM(n->cap) || NVME_CAP_MPSMIN(n->cap) != 0)
		return -ENOTSUP;
	if (NVME_CAP_MQES(n->cap) < 1)
		return -EPROTO;
	n->db_stride = 4u << NVME_CAP_DSTRD(n->cap);
	n->ready_ms = NVME_CAP_TO(n->cap) ? NVME_CAP_TO(n->cap) * 500u : 500u;
	need = NVME_REG_DBS + 4ull * n->db_stride;
	if (need > n->bar_size)
		return -EPROTO;
	ret = rd32(n, NVME_REG_VS, &n->ctrl.version);
	if (ret)
		return ret;
	ret = uvfio_device_region(n->dev, UVFIO_PCI_BAR0_REGION_INDEX, &r);
	if (ret)
		return ret;
	len = (need + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	if ((r.flags & UVFIO_REGION_INFO_FLAG_MMAP) && r.nr_areas && r.areas[0].offset == 0 &&
	    r.areas[0].size >= len &&
	    !uvfio_device_mmap(n->dev, UVFIO_PCI_BAR0_REGION_INDEX, 0, (size_t)len,
			       PROT_READ | PROT_WRITE, &p)) {
		n->regs = p;
		n->regs_len = (size_t)len;
	}
	return 0;
}

static int setup(struct nvmedrv *n)
{
	uint32_t admin_vector = NO_VECTOR;
	int ret = probe(n);

	if (!ret)
		ret = map_regs(n);
	if (!ret && n->mode == NVMEDRV_MSIX) {
		struct uvfio_irq_info ii = { .argsz = sizeof(ii) };

		ret = uvfio_device_irq_info(n->dev, UVFIO_PCI_MSIX_IRQ_INDEX, &ii);
		if (!ret && !ii.count)
			ret = -ENOTSUP;
		if (!ret)
			ret = uvfio_device_irq_enable(n->dev, UVFIO_PCI_MSIX_IRQ_INDEX,
						      MIN(ii.count, 2u));
		n->irq_on = !ret;
		admin_vector = 0;
	}
	if (!ret)
		ret = queue_alloc(n, &n->admin, 0, ADMIN_DEPTH, admin_vector);
	if (!ret)
		ret = uvfio_dma_alloc(n->ctr, BOUNCE_SIZE, UVFIO_DMA_READ | UVFIO_DMA_WRITE,
				      &n->bounce);
	if (!ret)
		ret = uvfio_dma_alloc(n->ctr, PAGE, UVFIO_DMA_READ, &n->prps);
	if (!ret)
		ret = ctrl_disable(n);
	if (!ret)
		ret = ctrl_enable(n);
	if (!ret)
		ret = identify_ctrl(n);
	if (!ret)
		ret = create_io(n);
	return ret;
}

int nvmedrv_open(const char *name, const struct uvfio_open_opts *opts,
		 enum nvmedrv_completion mode, struct nvmedrv **out)
{
	struct nvmedrv *n;
	int ret;

	if (!name || !out || (mode != NVMEDRV_POLL && mode != NVMEDRV_MSIX))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->mode = mode;
	ret = uvfio_device_open(name, opts, &n->dev);
	if (!ret) {
		n->ctr = uvfio_device_container(n->dev);
		ret = setup(n);
	}
	if (ret) {
		nvmedrv_close(n);
		return ret;
	}
	*out = n;
	return 0;
}

void nvmedrv_close(struct nvmedrv *n)
{
	if (!n)
		return;
	if (n->sq_live) {
		struct nvme_sqe c = { .opc = NVME_ADM_DELETE_SQ, .cdw10 = htole32(IO_QID) };

		admin(n, &c, NULL);
	}
	if (n->cq_live) {
		struct nvme_sqe c = { .opc = NVME_ADM_DELETE_CQ, .cdw10 = htole32(IO_QID) };

		admin(n, &c, NULL);
	}
	/* Stop the controller before its queues and buffers go. */
	if (n->enabled)
		ctrl_disable(n);
	if (n->irq_on)
		uvfio_device_irq_disable(n->dev, UVFIO_PCI_MSIX_IRQ_INDEX);
	if (n->regs)
		uvfio_device_munmap(n->dev, (void *)n->regs, n->regs_len);
	if (n->ctr) {
		queue_free(n, &n->io);
		queue_free(n, &n->admin);
		uvfio_dma_free(n->ctr, &n->bounce);
		uvfio_dma_free(n->ctr, &n->prps);
	}
	uvfio_device_close(n->dev);
	free(n);
}

struct uvfio_device *nvmedrv_device(struct nvmedrv *n)
{
	return n->dev;
}

const struct nvmedrv_ctrl *nvmedrv_ctrl(const struct nvmedrv *n)
{
	return &n->ctrl;
}

uint16_t nvmedrv_status(const struct nvmedrv *n)
{
	return n->status;
}

uint64_t nvmedrv_interrupts(const struct nvmedrv *n)
{
	return n->irqs;
}

/* --- namespaces and reads --------------------------------------------------------------- */

int nvmedrv_identify_ns(struct nvmedrv *n, uint32_t nsid, struct nvmedrv_ns *out)
{
	const uint8_t *id;
	uint32_t lbaf;
	uint8_t fmt, lbads;
	uint64_t blocks;
	int ret;

	if (!n || !out || !nsid || nsid > n->ctrl.namespaces)
		return -EINVAL;
	ret = identify(n, nsid, NVME_ID_CNS_NS);
	if (ret)
		return ret;
	id = n->bounce.vaddr;
	blocks = get64(id + NVME_IDN_NSZE);
	if (!blocks)
		return -ENOENT;
	fmt = id[NVME_IDN_FLBAS] & 0xf;
	if (fmt > id[NVME_IDN_NLBAF])
		return -EPROTO;
	lbaf = get32(id + NVME_IDN_LBAF + 4u * fmt);
	lbads = (uint8_t)(lbaf >> 16);
	if (lbads < 9 || lbads > 16 || (1u << lbads) > n->ctrl.max_transfer)
		return -EPROTO;
	out->nsid = nsid;
	out->blocks = blocks;
	out->block_size = 1u << lbads;
	return 0;
}

/* PRP1 and PRP2 for @len bytes at the start of the bounce buffer. */
static void prps_for(struct nvmedrv *n, uint32_t len, uint64_t *prp1, uint64_t *prp2)
{
	uint32_t pages = (len + PAGE - 1) / PAGE;
	uint64_t *list = n->prps.vaddr;

	*prp1 = n->bounce.iova;
	*prp2 = 0;
	if (pages == 2) {
		*prp2 = n->bounce.iova + PAGE;
	} else if (pages > 2) {
		for (uint32_t i = 1; i < pages; i++)
			list[i - 1] = htole64(n->bounce.iova + (uint64_t)i * PAGE);
		*prp2 = n->prps.iova;
	}
}

int nvmedrv_read(struct nvmedrv *n, const struct nvmedrv_ns *ns, uint64_t lba,
		 uint32_t nblocks, void *buf)
{
	uint8_t *dst = buf;
	uint32_t per;

	if (!n || !ns || !buf || !nblocks || !ns->block_size ||
	    ns->block_size > n->ctrl.max_transfer || lba > UINT64_MAX - nblocks)
		return -EINVAL;
	if (!n->sq_live)
		return -EIO;
	per = MIN(n->ctrl.max_transfer / ns->block_size, 65536u);
	while (nblocks) {
		uint32_t cnt = MIN(nblocks, per), len = cnt * ns->block_size;
		struct nvme_sqe c = { .opc = NVME_CMD_READ, .nsid = htole32(ns->nsid),
				      .cdw10 = htole32((uint32_t)lba),
				      .cdw11 = htole32((uint32_t)(lba >> 32)),
				      .cdw12 = htole32(cnt - 1) };
		uint64_t prp1, prp2;
		int ret;

		prps_for(n, len, &prp1, &prp2);
		c.prp1 = htole64(prp1);
		c.prp2 = htole64(prp2);
		/* Stale bytes must not pass for data the controller never wrote. */
		memset(n->bounce.vaddr, 0, len);
		ret = exec(n, &n->io, &c, NULL);
		if (ret)
			return ret;
		memcpy(dst, n->bounce.vaddr, len);
		dst += len;
		lba += cnt;
		nblocks -= cnt;
	}
	return 0;
}
