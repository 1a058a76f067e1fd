/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device-side internals shared by the files of lib/emu.
 *
 * One struct uvfio_emu holds three kinds of state with different lifetimes:
 * the device description (fixed at realize), the device state (config
 * space, interrupt masks, region memory — kept across client connections,
 * reset only by a function reset), and the per-client state (connection,
 * negotiated limits, DMA mappings, eventfds — dropped at disconnect).
 */
#ifndef UVFIO_EMU_PRIV_H
#define UVFIO_EMU_PRIV_H

#include <signal.h>
#include <sys/uio.h>

#include "uvfio/emu.h"
#include "dmatable.h"
#include "transport/transport.h"
#include "util/log.h"

#define EMU_MAX_REGIONS   16  /* indexes 0-15: 9 standard + 7 device-specific */
#define EMU_MAX_CAPS      32
#define EMU_MAX_AREAS     16  /* sparse mmap areas per region */
#define EMU_MAX_MSIX      2048
#define EMU_MAX_MSI       32
#define EMU_QUEUE_MAX     64  /* commands buffered while waiting on the client */

#define EMU_DEF_XFER      (1u << 20)
#define EMU_DEF_FDS       16
#define EMU_DEF_DMA_MAPS  (1u << 20)
#define EMU_DEF_TIMEOUT   5000
#define EMU_MAX_CLIENT_FDS 1024
#define EMU_WAKE_MS       1000 /* how often a blocked run looks at interrupted */

struct emu_region {
	bool present;
	bool upper_half;        /* the slot after a 64-bit BAR */
	uint32_t flags;         /* UVFIO_EMU_REGION_* | UVFIO_EMU_BAR_* */
	uint64_t size;          /* bytes; 0 = absent */
	const struct uvfio_emu_region_ops *ops;
	struct uvfio_sparse_area req_areas[EMU_MAX_AREAS]; /* as asked */
	uint32_t nr_req_areas;  /* 0 = whole region */
	struct uvfio_sparse_area areas[EMU_MAX_AREAS];     /* after removing MSI-X pages */
	uint32_t nr_areas;
	bool whole_mmap;        /* areas cover the region entirely */
	uint32_t type, subtype;
	int memfd;              /* backing memory, or -1 */
	uint8_t *mem;           /* its mapping, or NULL */
	uint64_t mem_size;      /* size rounded up to a page */
};

struct emu_cap;

/*
 * Internal hooks of library-built capabilities. write runs after the
 * per-byte masks were applied; @old holds the bytes before the write.
 */
struct emu_cap_hooks {
	void (*write)(struct uvfio_emu *emu, struct emu_cap *cap, uint32_t off, uint32_t len,
		      const uint8_t *old);
};

struct emu_cap {
	uint16_t id;
	bool ext;
	uint8_t version;
	uint32_t flags;         /* UVFIO_EMU_CAP_* */
	uint16_t offset;        /* 0 until placed */
	uint16_t next;          /* offset of the next capability in its list, 0 = last */
	uint16_t size;
	uint8_t *data;          /* contents after the header, size - hdr bytes */
	uint8_t *wmask;
	uint8_t *w1c;
	const struct emu_cap_hooks *hooks;
};

struct emu_cfg {
	uint32_t size;          /* 256 or 4096 */
	uint8_t *data;          /* current contents */
	uint8_t *wmask;         /* bits the client may write */
	uint8_t *w1c;           /* write-1-to-clear bits */
	uint8_t *owner;         /* per byte: 0 = header/unassigned, n = caps[n - 1] */
	struct emu_cap caps[EMU_MAX_CAPS];
	unsigned ncaps;
	bool pcie;
};

struct emu_vec {
	int efd;                /* eventfd to signal, or -1 */
	bool masked;
	bool pending;
};

struct emu_irq {
	uint32_t count;         /* vectors offered; 0 = absent */
	struct emu_vec *vec;    /* count entries (MSI-X: allocated at setup) */
};

struct emu_irqs {
	struct emu_irq idx[UVFIO_PCI_NUM_IRQS];
	int active_type;        /* INTx, MSI or MSI-X index, or -1 */
	/* MSI */
	uint32_t msi_flags;     /* UVFIO_EMU_MSI_* */
	int msi_capi;           /* index in cfg.caps, -1 = none */
	uint32_t msi_nvec;      /* vectors the client enabled */
	/* MSI-X */
	int msix_capi;          /* index in cfg.caps, -1 = none */
	uint32_t msix_table_bar, msix_table_off;
	uint32_t msix_pba_bar, msix_pba_off;
	uint8_t *msix_table;    /* nvec * 16 bytes: address, data, vector control */
};

struct queued_msg {
	struct queued_msg *next;
	struct uvfio_hdr hdr;
	int status;
	unsigned nfds;
	int fds[UVFIO__MAX_FDS];
	size_t len;
	uint8_t payload[];
};

struct uvfio_emu {
	struct uvfio__log log;
	char *name;
	char *socket_path;
	bool unlink_path;       /* we created socket_path */
	uint32_t flags;
	int given_fd;
	const struct uvfio_emu_ops *ops;
	void *priv;
	uint32_t max_xfer;
	uint32_t max_fds;
	uint64_t max_dma_maps;
	uint32_t reply_timeout_ms;
	bool realized;
	volatile sig_atomic_t interrupted; /* uvfio_emu_interrupt() was called */

	/* device description and state */
	struct uvfio_emu_pci_id id;
	bool id_set;
	struct emu_region regions[EMU_MAX_REGIONS];
	uint32_t nregions;      /* reported num_regions (>= 9) */
	struct emu_cfg cfg;
	struct emu_irqs irqs;

	/* connection */
	int epfd;               /* what the caller polls */
	int lfd;                /* listening socket, or -1 */
	int kick_fd;            /* eventfd: "messages are buffered" */
	struct uvfio__conn *conn;
	struct uvfio__conn *twin; /* server-to-client channel if negotiated */
	bool conn_was_given;    /* F_FD_CONNECTED: no further clients */
	bool negotiated;
	bool attached_cb;       /* ops->attach ran */
	bool drop;              /* disconnect after the current message */
	struct uvfio_caps peer; /* what the client announced */
	bool write_multi;
	uint16_t next_id;
	struct uvfio__dma_table *dma;

	struct queued_msg *q_head, *q_tail;
	unsigned q_count;
	size_t q_bytes;

	uint8_t *scratch;       /* reply payloads */
	size_t scratch_cap;
	uint8_t *bounce;        /* message-based DMA transfers */
	size_t bounce_cap;
};

/* A request being handled and the reply being built. */
struct emu_req {
	struct uvfio_hdr hdr;
	const uint8_t *p;
	size_t len;
	int *fds;               /* handlers take an fd by setting its slot to -1 */
	unsigned nfds;
};

struct emu_reply {
	struct iovec iov[3];
	int iovcnt;
	int fds[2];
	unsigned nfds;
	bool close_fds;         /* close fds[] after sending */
};

static inline void reply_add(struct emu_reply *r, const void *p, size_t len)
{
	r->iov[r->iovcnt].iov_base = (void *)p;
	r->iov[r->iovcnt].iov_len = len;
	r->iovcnt++;
}

/* ctx.c */
int uvfio__emu_scratch(struct uvfio_emu *emu, size_t len, uint8_t **out);
void uvfio__emu_detach(struct uvfio_emu *emu);
int uvfio__emu_s2c(struct uvfio_emu *emu, uint16_t cmd, const struct iovec *iov, int iovcnt,
		   void *rbuf, size_t rlen);
void uvfio__emu_function_reset_state(struct uvfio_emu *emu);
int uvfio__emu_function_reset(struct uvfio_emu *emu, enum uvfio_emu_reset_reason why);

/* dispatch.c */
void uvfio__emu_handle(struct uvfio_emu *emu, struct uvfio_hdr *hdr, const uint8_t *p,
		       size_t len, int *fds, unsigned nfds, int status);

/* region.c */
int uvfio__emu_regions_realize(struct uvfio_emu *emu);
void uvfio__emu_regions_free(struct uvfio_emu *emu);
int uvfio__emu_get_region_info(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
int uvfio__emu_region_read(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
int uvfio__emu_region_write(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
int uvfio__emu_region_write_multi(struct uvfio_emu *emu, struct emu_req *req,
				  struct emu_reply *rep);
int uvfio__emu_region_access(struct uvfio_emu *emu, uint32_t index, uint64_t off, void *buf,
			     uint32_t len, bool write);

/* config.c */
int uvfio__emu_cfg_realize(struct uvfio_emu *emu);
void uvfio__emu_cfg_free(struct uvfio_emu *emu);
int uvfio__emu_cfg_access(struct uvfio_emu *emu, uint64_t off, void *buf, uint32_t len, bool write);
void uvfio__emu_cfg_reset(struct uvfio_emu *emu);
uint16_t uvfio__emu_cfg_get16(const struct uvfio_emu *emu, uint32_t off);
uint32_t uvfio__emu_cfg_get32(const struct uvfio_emu *emu, uint32_t off);
void uvfio__emu_cfg_set16(struct uvfio_emu *emu, uint32_t off, uint16_t v);
void uvfio__emu_cfg_set32(struct uvfio_emu *emu, uint32_t off, uint32_t v);

/* caps.c */
int uvfio__emu_caps_layout(struct uvfio_emu *emu);
struct emu_cap *uvfio__emu_cap_new(struct uvfio_emu *emu, uint16_t id, bool ext, uint16_t size);
void uvfio__emu_caps_free(struct uvfio_emu *emu);

/* irq.c */
int uvfio__emu_irqs_realize(struct uvfio_emu *emu);
int uvfio__emu_get_irq_info(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
int uvfio__emu_set_irqs(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
void uvfio__emu_irqs_drop(struct uvfio_emu *emu);
void uvfio__emu_irqs_reset(struct uvfio_emu *emu);
void uvfio__emu_irqs_free(struct uvfio_emu *emu);
void uvfio__emu_intx_update(struct uvfio_emu *emu);
bool uvfio__emu_msix_hit(const struct uvfio_emu *emu, uint32_t index, uint64_t off, uint32_t len,
			 uint32_t *chunk);
int uvfio__emu_msix_access(struct uvfio_emu *emu, uint32_t index, uint64_t off, void *buf,
			   uint32_t len, bool write);
extern const struct emu_cap_hooks uvfio__emu_msi_hooks;
extern const struct emu_cap_hooks uvfio__emu_msix_hooks;

/* dma.c */
int uvfio__emu_dma_map(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
int uvfio__emu_dma_unmap(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
void uvfio__emu_dma_drop(struct uvfio_emu *emu);

/*
 * The value a 16-bit register at @reg had before a write of @len bytes at
 * @off whose previous bytes are @old (offsets in the same space), given its
 * value @now after the write.
 */
static inline uint16_t prev_le16(uint16_t now, uint32_t reg, uint32_t off, uint32_t len,
				 const uint8_t *old)
{
	uint8_t b[2];

	put_le16(b, now);
	for (uint32_t i = 0; i < 2; i++)
		if (reg + i >= off && reg + i < off + len)
			b[i] = old[reg + i - off];
	return get_le16(b);
}

/* True when a write of [off, off + len) touches the 16-bit register at @reg. */
static inline bool hits16(uint32_t reg, uint32_t off, uint32_t len)
{
	return off < reg + 2 && off + len > reg;
}

static inline bool emu_bus_master(const struct uvfio_emu *emu)
{
	return uvfio__emu_cfg_get16(emu, UVFIO_PCI_COMMAND) & UVFIO_PCI_COMMAND_MASTER;
}

#endif /* UVFIO_EMU_PRIV_H */
