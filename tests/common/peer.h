/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A scripted raw vfio-user client for tests. It frames messages itself
 * (header read exactly, then payload) rather than through lib/transport, so
 * the server is tested against an independent implementation, and it can
 * send anything: truncated headers, lies about sizes, stray fds.
 *
 * peer_start() forks a server child running the "dma" device model (or a
 * test's own, peer_server_opts.model) on one end of a socketpair. The child checks at exit that every fd it opened
 * during the session is closed again and exits non-zero otherwise (and
 * LeakSanitizer adds leak checks in sanitizer builds); peer_stop() returns
 * that verdict.
 */
#ifndef UVFIO_TEST_PEER_H
#define UVFIO_TEST_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dma/dma_regs.h"
#include "uvfio/emu.h"
#include "uvfio/proto.h"

#define PEER_MAX_FDS      16 /* fds kept per received message */
#define PEER_MAX_SEND_FDS 128 /* fds one peer_send_raw() may attach */

struct peer {
	int fd;
	pid_t server;
	uint16_t next_id;
	int timeout_ms;
	char dir[64];   /* peer_start_path(): temporary directory, else "" */
	char path[128]; /* peer_start_path(): the server's socket path */
};

struct peer_msg {
	struct uvfio_hdr hdr;
	uint8_t *payload; /* malloc'ed, hdr.size - 16 bytes; free with peer_msg_free */
	size_t len;
	int fds[PEER_MAX_FDS];
	unsigned nfds;
};

struct peer_server_opts {
	uint32_t max_data_xfer_size; /* 0: default */
	uint64_t max_dma_maps;       /* 0: default */
	uint32_t reply_timeout_ms;   /* 0: default */
	int log_level;
	/*
	 * Another device model instead of "dma": build and realize a context
	 * on @eo (in the server child); the server runs and destroys it.
	 */
	int (*model)(const struct uvfio_emu_opts *eo, struct uvfio_emu **out);
};

/* Fork a dma-device server on a socketpair. Return 0 or -errno. */
int peer_start(struct peer *p, const struct peer_server_opts *o);

/*
 * Close the connection and reap the server. Return the server's exit
 * status: 0 when it shut down cleanly with no fd left open, else non-zero
 * (or -1 when it didn't exit within 10 s and was killed).
 */
int peer_stop(struct peer *p);

/*
 * Fork a dma-device server that listens on a socket path in a fresh
 * temporary directory (p->path) and serves clients one after another, and
 * connect p->fd to it. peer_stop() closes p->fd, tells the server to finish
 * (SIGTERM, honoured once no client is attached), reaps it (0: clean exit,
 * no fd leaked) and removes the directory. Return 0 or -errno.
 */
int peer_start_path(struct peer *p, const struct peer_server_opts *o);

/* A new connection to a path server. Return the fd or -errno. */
int peer_connect(const struct peer *p);

/*
 * Number of fds the server child has open right now (from /proc), or -1.
 * The server handles a request before it replies, but closes the fds the
 * request carried and nobody took just after replying: count those after
 * one more round trip (peer_in_sync).
 */
int peer_server_fds(const struct peer *p);

/* Resident memory of process @pid in KiB (VmRSS from /proc), or -1. */
long peer_rss_kb(pid_t pid);

/* Number of the server's memory mappings whose name contains @what, or -1. */
int peer_server_maps(const struct peer *p, const char *what);

/* Send raw bytes (with fds on the same sendmsg). Return 0 or -errno. */
int peer_send_raw(struct peer *p, const void *buf, size_t len, const int *fds, unsigned nfds);

/*
 * Send all @len bytes on socket @fd, the @nfds fds (at most
 * PEER_MAX_SEND_FDS) attached to the first sendmsg(). Return 0 or -errno.
 */
int peer_sendmsg(int fd, const void *buf, size_t len, const int *fds, unsigned nfds);

/* Send one message; h->size is filled in. Return 0 or -errno. */
int peer_send(struct peer *p, const struct uvfio_hdr *h, const void *payload, size_t len,
	      const int *fds, unsigned nfds);

/*
 * Receive one message (header exactly, then the payload).
 * Return 0; -ETIMEDOUT; -ECONNRESET when the server closed the connection.
 */
int peer_recv(struct peer *p, struct peer_msg *m);

/* As peer_recv, on another fd of the session (e.g. a twin socket). */
int peer_recv_fd(struct peer *p, int fd, struct peer_msg *m);

void peer_msg_free(struct peer_msg *m);

/*
 * Receive the reply to a request sent by hand with @id and @cmd. Return as
 * peer_call_rc (the message stays in @m; free it).
 */
int peer_recv_rc(struct peer *p, uint16_t id, uint16_t cmd, struct peer_msg *m);

/* True when nothing arrives on @fd within @ms (a bounded wait). */
bool peer_quiet(int fd, int ms);

/*
 * Send a command with the next id and wait for its reply. Asserts nothing;
 * the caller checks m->hdr. Return 0 when a message came back, else -errno.
 */
int peer_call(struct peer *p, uint16_t cmd, const void *payload, size_t len, const int *fds,
	      unsigned nfds, struct peer_msg *m);

/*
 * As peer_call, then check that the reply echoes id and cmd and return its
 * result: 0 for success, -errno for an error reply, -EPROTO when the reply
 * doesn't match (id, cmd or type).
 */
int peer_call_rc(struct peer *p, uint16_t cmd, const void *payload, size_t len, const int *fds,
		 unsigned nfds, struct peer_msg *m);

/* VERSION with @json (NULL: none). Return the reply's result as peer_call_rc. */
int peer_version(struct peer *p, uint16_t major, uint16_t minor, const char *json);

/*
 * VERSION with @jlen raw JSON bytes (NULL/0: none; a terminating NUL must be
 * included by the caller) and fds. The reply stays in @m. Return as
 * peer_call_rc.
 */
int peer_version_msg(struct peer *p, uint16_t major, uint16_t minor, const void *json,
		     size_t jlen, const int *fds, unsigned nfds, struct peer_msg *m);

/* Negotiate with reasonable capabilities (QEMU's set). Return as peer_call_rc. */
int peer_hello(struct peer *p);

/* Is the connection still in sync? A GET_IRQ_INFO round trip. */
bool peer_in_sync(struct peer *p);

/* Config space write/read helpers. */
int peer_cfg_write(struct peer *p, uint32_t off, const void *buf, uint32_t len);
int peer_cfg_read(struct peer *p, uint32_t off, void *buf, uint32_t len);
int peer_region_write(struct peer *p, uint32_t region, uint64_t off, const void *buf,
		      uint32_t len);
int peer_region_read(struct peer *p, uint32_t region, uint64_t off, void *buf, uint32_t len);

/* DMA_MAP/UNMAP; fd -1 for a message-based mapping. */
int peer_dma_map(struct peer *p, uint64_t iova, uint64_t size, uint32_t flags, int fd,
		 uint64_t offset);
int peer_dma_unmap(struct peer *p, uint64_t iova, uint64_t size, uint32_t flags);

/* SET_IRQS with eventfds (nfds may be 0) or no data. */
int peer_set_irqs(struct peer *p, uint32_t index, uint32_t flags, uint32_t start, uint32_t count,
		  const int *fds, unsigned nfds);

/* Wait up to @ms for an eventfd to fire; return its count (0 if it didn't). */
uint64_t peer_wait_efd(int efd, int ms);

/* SET_IRQS with every field and a data tail given (DATA_BOOL bytes). */
int peer_set_irqs_raw(struct peer *p, uint32_t argsz, uint32_t flags, uint32_t index,
		      uint32_t start, uint32_t count, const void *data, size_t dlen,
		      const int *fds, unsigned nfds);

/* DEVICE_GET_REGION_INFO with @argsz; the reply stays in @m. */
int peer_region_info(struct peer *p, uint32_t index, uint32_t argsz, struct peer_msg *m);

/* DEVICE_GET_IRQ_INFO; fills @out. */
int peer_irq_info(struct peer *p, uint32_t index, struct uvfio_irq_info *out);

/* --- serving the server's DMA_READ / DMA_WRITE ------------------------------ */

/* How the peer answers the server's requests. */
enum peer_dma_reply {
	PEER_DMA_ECHO = 0, /* DMA_READ: the data; DMA_WRITE: apply, echo address and count */
	PEER_DMA_HDR_ONLY, /* DMA_WRITE: apply, header-only reply (as QEMU) */
	PEER_DMA_ERROR,    /* an error reply with .error */
	PEER_DMA_SILENT,   /* never answer */
};

/* Client memory that the server reaches with messages (mapped without an fd). */
struct peer_dma_mem {
	uint64_t iova;      /* bus address of buf[0] */
	uint8_t *buf;
	size_t size;
	enum peer_dma_reply mode;
	int error;          /* errno for PEER_DMA_ERROR */
	int fd;             /* extra fd requests may come on (twin socket), or -1 */
	/* what was seen */
	unsigned reads, writes;
	unsigned on_main;   /* requests that came on the main socket */
	unsigned on_fd;     /* requests that came on @fd */
	unsigned bad;       /* malformed, out of range or unexpected messages */
	uint64_t max_count; /* largest single request */
};

/*
 * As peer_call_rc, but while waiting for the reply serve DMA_READ/DMA_WRITE
 * requests (on the main socket and on mem->fd) from @mem.
 */
int peer_call_dma(struct peer *p, struct peer_dma_mem *mem, uint16_t cmd, const void *payload,
		  size_t len, struct peer_msg *m);

/* --- the dma model, checked (failures fail the current cmocka test) ------- */

/* Write/read a 32-bit BAR0 register; assert success. */
void peer_reg_wr(struct peer *p, uint32_t off, uint32_t v);
uint32_t peer_reg_rd(struct peer *p, uint32_t off);

/* Read/write @len (1, 2 or 4) config bytes as a little-endian value; assert success. */
uint32_t peer_cfg_rd(struct peer *p, uint32_t off, uint32_t len);
void peer_cfg_wr(struct peer *p, uint32_t off, uint32_t v, uint32_t len);

/* Set the command register (e.g. MEMORY | MASTER); assert success. */
void peer_command(struct peer *p, uint16_t cmd);

/* Offset of standard capability @id, walking the chain from 0x34; 0 if absent. */
uint32_t peer_cap_find(struct peer *p, uint8_t id);

/* The dma model's MSI-X PBA (vectors 0-63) and vector control words; assert success. */
uint64_t peer_msix_pba(struct peer *p);
uint32_t peer_msix_vctrl(struct peer *p, uint32_t vector);
void peer_msix_set_vctrl(struct peer *p, uint32_t vector, uint32_t val);

/* The error code in a dma STATUS value (DMA_ERR_*). */
static inline uint32_t peer_dma_code(uint32_t status)
{
	return (status & DMA_STATUS_CODE_MASK) >> DMA_STATUS_CODE_SHIFT;
}

/*
 * Run one transfer of the dma model: program SRC, DST, LEN, write CTRL with
 * START | @ctrl and return STATUS. With @mem, serve message-based DMA while
 * the START write is handled. Asserts that every register access succeeds.
 */
uint32_t peer_copy(struct peer *p, struct peer_dma_mem *mem, uint64_t src, uint64_t dst,
		   uint64_t len, uint32_t ctrl);

/* Shared guest memory: a memfd mapped here. */
struct peer_memfd {
	int fd;
	uint8_t *mem;
	size_t size;
};

int peer_memfd_new(struct peer_memfd *m, size_t size);
void peer_memfd_free(struct peer_memfd *m);

#endif /* UVFIO_TEST_PEER_H */
