/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uvfio — the vfio-user wire format.
 *
 * Every vfio-user message is a 16-byte header followed by a payload whose
 * layout depends on the command (see docs/protocol.md and the vfio-user
 * specification). This header names the commands and flags, gives a decoded
 * host-order struct for each payload, and declares the one codec both sides
 * of uvfio use: nothing else in the project builds or parses a message.
 *
 * Byte order: the current specification says "host order" and its 2023
 * revision said little-endian; every known peer is little-endian. uvfio
 * encodes and decodes little-endian explicitly, which is the same bytes on
 * x86-64 and arm64.
 *
 * Decoders treat their input as hostile: they check lengths before reading,
 * reject unknown flag bits where the protocol defines none, and return
 * -EINVAL for anything malformed. Encoders return the number of bytes
 * written, or a negative errno when the buffer is too small.
 */
#ifndef UVFIO_PROTO_H
#define UVFIO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uvfio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol version this implementation speaks (libvfio-user's is also 0.2). */
#define UVFIO_PROTO_MAJOR 0
#define UVFIO_PROTO_MINOR 2

#define UVFIO_HDR_SIZE 16

/* Header flags. */
#define UVFIO_F_TYPE_MASK    0x0fu
#define UVFIO_F_TYPE_COMMAND 0x00u
#define UVFIO_F_TYPE_REPLY   0x01u
#define UVFIO_F_NO_REPLY     0x10u
#define UVFIO_F_ERROR        0x20u
#define UVFIO_F_KNOWN        (UVFIO_F_TYPE_MASK | UVFIO_F_NO_REPLY | UVFIO_F_ERROR)

enum uvfio_cmd {
	UVFIO_CMD_VERSION = 1,
	UVFIO_CMD_DMA_MAP = 2,
	UVFIO_CMD_DMA_UNMAP = 3,
	UVFIO_CMD_DEVICE_GET_INFO = 4,
	UVFIO_CMD_DEVICE_GET_REGION_INFO = 5,
	UVFIO_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	UVFIO_CMD_DEVICE_GET_IRQ_INFO = 7,
	UVFIO_CMD_DEVICE_SET_IRQS = 8,
	UVFIO_CMD_REGION_READ = 9,
	UVFIO_CMD_REGION_WRITE = 10,
	UVFIO_CMD_DMA_READ = 11,
	UVFIO_CMD_DMA_WRITE = 12,
	UVFIO_CMD_DEVICE_RESET = 13,
	UVFIO_CMD_DIRTY_PAGES = 14, /* legacy (migration v1); unused since 2023 */
	UVFIO_CMD_REGION_WRITE_MULTI = 15,
	UVFIO_CMD_DEVICE_FEATURE = 16,
	UVFIO_CMD_MIG_DATA_READ = 17,
	UVFIO_CMD_MIG_DATA_WRITE = 18,
	UVFIO_CMD_MAX = 18,
};

/**
 * struct uvfio_hdr - the 16-byte header of every message, decoded.
 * @id:    chosen by the sender of a command, echoed in its reply
 * @cmd:   enum uvfio_cmd, echoed in the reply
 * @size:  whole message in bytes, header included
 * @flags: UVFIO_F_* bits
 * @error: positive errno in an error reply; 0 in commands
 */
struct uvfio_hdr {
	uint16_t id;
	uint16_t cmd;
	uint32_t size;
	uint32_t flags;
	uint32_t error;
};

/* --- capabilities negotiated by VERSION ---------------------------------- */

/* Defaults the specification gives for capabilities a peer leaves out. */
#define UVFIO_DEFAULT_MAX_MSG_FDS        1
#define UVFIO_DEFAULT_MAX_DATA_XFER_SIZE (1u << 20)
#define UVFIO_DEFAULT_MAX_DMA_MAPS       65535
#define UVFIO_DEFAULT_PGSIZES            4096

/* Largest VERSION JSON (NUL included) uvfio accepts or sends. */
#define UVFIO_PROTO_JSON_MAX 4096

/* Bits of struct uvfio_caps.present: which keys the JSON carried. */
#define UVFIO_CAP_MAX_MSG_FDS        (1u << 0)
#define UVFIO_CAP_MAX_DATA_XFER_SIZE (1u << 1)
#define UVFIO_CAP_MAX_DMA_MAPS       (1u << 2)
#define UVFIO_CAP_PGSIZES            (1u << 3)
#define UVFIO_CAP_TWIN_SOCKET        (1u << 4)
#define UVFIO_CAP_WRITE_MULTIPLE     (1u << 5)
#define UVFIO_CAP_MIGRATION          (1u << 6)

/**
 * struct uvfio_caps - the "capabilities" object of a VERSION message.
 *
 * Only fields whose bit is set in @present were in the JSON; the decoder
 * fills the others with the specification's defaults.
 */
struct uvfio_caps {
	uint32_t present;             /* UVFIO_CAP_* */
	uint32_t max_msg_fds;         /* fds the sender accepts per message */
	uint64_t max_data_xfer_size;  /* bytes per READ/WRITE the sender accepts */
	uint64_t max_dma_maps;        /* simultaneous DMA mappings */
	uint64_t pgsizes;             /* OR of supported DMA page sizes */
	bool twin_socket;             /* twin_socket.supported */
	uint32_t twin_fd_index;       /* twin_socket.fd_index (replies only) */
	bool write_multiple;          /* REGION_WRITE_MULTI accepted */
	uint64_t migration_pgsize;    /* legacy migration.pgsize */
	uint64_t migration_max_bitmap; /* migration.max_bitmap_size (QEMU) */
};

/* --- payloads ------------------------------------------------------------ */

/* DMA_MAP flags (device's point of view). */
#define UVFIO_DMA_MAP_READ  (1u << 0)
#define UVFIO_DMA_MAP_WRITE (1u << 1)

struct uvfio_dma_map {
	uint32_t argsz;  /* 32 */
	uint32_t flags;  /* UVFIO_DMA_MAP_* */
	uint64_t offset; /* into the passed fd; 0 without one */
	uint64_t addr;   /* IOVA */
	uint64_t size;   /* bytes */
};
#define UVFIO_DMA_MAP_SIZE 32

/* DMA_UNMAP flags. */
#define UVFIO_DMA_UNMAP_GET_DIRTY_BITMAP (1u << 0) /* legacy; not supported */
#define UVFIO_DMA_UNMAP_ALL              (1u << 1)

struct uvfio_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};
#define UVFIO_DMA_UNMAP_SIZE 24

/* DEVICE_GET_INFO flags. */
#define UVFIO_DEVICE_FLAGS_RESET (1u << 0)
#define UVFIO_DEVICE_FLAGS_PCI   (1u << 1)

struct uvfio_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};
#define UVFIO_DEVICE_INFO_SIZE 16

/* Region info flags and capabilities (same values as <linux/vfio.h>). */
#define UVFIO_REGION_INFO_FLAG_READ  (1u << 0)
#define UVFIO_REGION_INFO_FLAG_WRITE (1u << 1)
#define UVFIO_REGION_INFO_FLAG_MMAP  (1u << 2)
#define UVFIO_REGION_INFO_FLAG_CAPS  (1u << 3)

#define UVFIO_REGION_INFO_CAP_SPARSE_MMAP    1
#define UVFIO_REGION_INFO_CAP_TYPE           2
#define UVFIO_REGION_INFO_CAP_MSIX_MAPPABLE  3

struct uvfio_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset; /* mmap offset within the fd passed with the reply */
};
#define UVFIO_REGION_INFO_SIZE 32

/* One mmap-able part of a region, relative to the region's offset. */
struct uvfio_sparse_area {
	uint64_t offset;
	uint64_t size;
};

/* What the capability chain of a region-info reply can describe. */
struct uvfio_region_caps {
	uint32_t nr_areas;                 /* sparse areas; 0 = no sparse cap */
	const struct uvfio_sparse_area *areas;
	bool has_type;                     /* emit a TYPE cap */
	uint32_t type;
	uint32_t subtype;
};

/* IRQ info flags. */
#define UVFIO_IRQ_INFO_EVENTFD    (1u << 0)
#define UVFIO_IRQ_INFO_MASKABLE   (1u << 1)
#define UVFIO_IRQ_INFO_AUTOMASKED (1u << 2)
#define UVFIO_IRQ_INFO_NORESIZE   (1u << 3)

struct uvfio_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};
#define UVFIO_IRQ_INFO_SIZE 16

/* SET_IRQS flags. */
#define UVFIO_IRQ_SET_DATA_NONE      (1u << 0)
#define UVFIO_IRQ_SET_DATA_BOOL      (1u << 1)
#define UVFIO_IRQ_SET_DATA_EVENTFD   (1u << 2)
#define UVFIO_IRQ_SET_ACTION_MASK    (1u << 3)
#define UVFIO_IRQ_SET_ACTION_UNMASK  (1u << 4)
#define UVFIO_IRQ_SET_ACTION_TRIGGER (1u << 5)
#define UVFIO_IRQ_SET_DATA_TYPE_MASK                                                               \
	(UVFIO_IRQ_SET_DATA_NONE | UVFIO_IRQ_SET_DATA_BOOL | UVFIO_IRQ_SET_DATA_EVENTFD)
#define UVFIO_IRQ_SET_ACTION_TYPE_MASK                                                             \
	(UVFIO_IRQ_SET_ACTION_MASK | UVFIO_IRQ_SET_ACTION_UNMASK | UVFIO_IRQ_SET_ACTION_TRIGGER)

struct uvfio_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
	const uint8_t *data; /* DATA_BOOL: count bytes; otherwise NULL */
};
#define UVFIO_IRQ_SET_SIZE 20

/* REGION_READ / REGION_WRITE. */
struct uvfio_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	const void *data; /* WRITE request / READ reply: count bytes */
};
#define UVFIO_REGION_ACCESS_SIZE 16

/* DMA_READ / DMA_WRITE (server to client). */
struct uvfio_dma_access {
	uint64_t addr;
	uint64_t count;
	const void *data; /* DMA_WRITE request / DMA_READ reply: count bytes */
};
#define UVFIO_DMA_ACCESS_SIZE 16

/* One entry of REGION_WRITE_MULTI. */
struct uvfio_write_multi_entry {
	uint64_t offset;
	uint32_t region;
	uint32_t count; /* at most 8 */
	uint8_t data[8];
};
#define UVFIO_WRITE_MULTI_HDR_SIZE   8
#define UVFIO_WRITE_MULTI_ENTRY_SIZE 24
#define UVFIO_WRITE_MULTI_MAX_DATA   8

/* DEVICE_FEATURE. */
#define UVFIO_DEVICE_FEATURE_MASK  0xffffu
#define UVFIO_DEVICE_FEATURE_GET   (1u << 16)
#define UVFIO_DEVICE_FEATURE_SET   (1u << 17)
#define UVFIO_DEVICE_FEATURE_PROBE (1u << 18)
#define UVFIO_DEVICE_FEATURE_SIZE  8

struct uvfio_device_feature {
	uint32_t argsz;
	uint32_t flags;
	const void *data;
	uint32_t data_len;
};

/* --- the command table ---------------------------------------------------- */

enum uvfio_proto_dir {
	UVFIO_DIR_C2S = 1, /* client to server */
	UVFIO_DIR_S2C = 2, /* server to client */
};

/* How the variable tail of a payload is bounded. */
enum uvfio_proto_tail {
	UVFIO_TAIL_NONE = 0, /* fixed size: min == max */
	UVFIO_TAIL_DATA,     /* bounded by the receiver's max_data_xfer_size */
	UVFIO_TAIL_JSON,     /* bounded by UVFIO_PROTO_JSON_MAX */
};

/**
 * struct uvfio_proto_cmd - what one command may look like on the wire.
 *
 * Sizes are payload bytes (after the header). A message with a TAIL may be
 * up to the fixed part plus the bound of its tail kind. fds give the most
 * file descriptors the message may carry; UVFIO_FDS_ANY means "up to the
 * receiver's negotiated max_msg_fds".
 */
struct uvfio_proto_cmd {
	const char *name;
	uint8_t dir;
	uint8_t req_tail;
	uint8_t rep_tail;
	uint8_t req_fds;
	uint8_t rep_fds;
	uint32_t req_min;
	uint32_t rep_min;
};
#define UVFIO_FDS_ANY 0xff

/* Limits a receiver enforces on incoming messages. */
struct uvfio_proto_limits {
	uint64_t max_data_xfer_size; /* this side's own value */
	uint32_t max_msg_fds;        /* this side's own value */
};

/**
 * uvfio_proto_cmd_get() - look up a command's wire description.
 * @cmd: command number from a header
 *
 * Return: the table entry, or NULL for a number the protocol doesn't define.
 */
UVFIO_EXPORT const struct uvfio_proto_cmd *uvfio_proto_cmd_get(uint16_t cmd);

/**
 * uvfio_proto_cmd_name() - printable name of a command ("DMA_MAP", ...).
 *
 * Return: a static string; "UNKNOWN" for numbers the protocol doesn't define.
 */
UVFIO_EXPORT const char *uvfio_proto_cmd_name(uint16_t cmd);

/**
 * uvfio_proto_max_msg_size() - largest message a receiver with these
 * limits can ever accept, header included.
 */
UVFIO_EXPORT uint64_t uvfio_proto_max_msg_size(const struct uvfio_proto_limits *lim);

/**
 * uvfio_proto_check() - validate a received header against the table.
 * @h:    decoded header
 * @nfds: number of fds that arrived with the message
 * @lim:  the receiver's limits
 *
 * Checks the flag bits, the type, the reserved error field of commands, the
 * payload size against the command's bounds and the fd count. Replies are
 * checked against the reply column; error replies must carry no payload.
 *
 * Return: 0; -ENOSYS for an undefined command; -EMSGSIZE for a payload over
 * the bound; -EINVAL for anything else malformed.
 */
UVFIO_EXPORT int uvfio_proto_check(const struct uvfio_hdr *h, unsigned nfds,
				   const struct uvfio_proto_limits *lim);

/* --- codec ---------------------------------------------------------------- */

UVFIO_EXPORT void uvfio_proto_hdr_decode(const void *buf, struct uvfio_hdr *h);
UVFIO_EXPORT void uvfio_proto_hdr_encode(void *buf, const struct uvfio_hdr *h);

/**
 * uvfio_proto_version_decode() - parse a VERSION payload.
 * @p:     payload
 * @len:   payload bytes
 * @major: out
 * @minor: out
 * @caps:  out; defaults for keys that are absent
 *
 * The JSON part is optional; when present it must be NUL-terminated, contain
 * no other NUL, be at most UVFIO_PROTO_JSON_MAX bytes, and be an object whose
 * known keys have the right JSON types. Unknown keys are ignored.
 *
 * Return: 0, -EINVAL (malformed), -EMSGSIZE (JSON too long).
 */
UVFIO_EXPORT int uvfio_proto_version_decode(const void *p, size_t len, uint16_t *major,
					    uint16_t *minor, struct uvfio_caps *caps);

/**
 * uvfio_proto_version_encode() - build a VERSION payload.
 *
 * Emits the keys whose bit is set in caps->present; with none set, the JSON
 * part is left out entirely.
 *
 * Return: bytes written, or -ENOSPC.
 */
UVFIO_EXPORT ssize_t uvfio_proto_version_encode(void *buf, size_t cap, uint16_t major,
						uint16_t minor, const struct uvfio_caps *caps);

/* Fill @caps with the specification's defaults and present = 0. */
UVFIO_EXPORT void uvfio_proto_caps_default(struct uvfio_caps *caps);

UVFIO_EXPORT int uvfio_proto_dma_map_decode(const void *p, size_t len, struct uvfio_dma_map *m);
UVFIO_EXPORT ssize_t uvfio_proto_dma_map_encode(void *buf, size_t cap,
						const struct uvfio_dma_map *m);
UVFIO_EXPORT int uvfio_proto_dma_unmap_decode(const void *p, size_t len,
					      struct uvfio_dma_unmap *u);
UVFIO_EXPORT ssize_t uvfio_proto_dma_unmap_encode(void *buf, size_t cap,
						  const struct uvfio_dma_unmap *u);
UVFIO_EXPORT int uvfio_proto_device_info_decode(const void *p, size_t len,
						struct uvfio_device_info *d);
UVFIO_EXPORT ssize_t uvfio_proto_device_info_encode(void *buf, size_t cap,
						    const struct uvfio_device_info *d);

/**
 * uvfio_proto_region_info_encode() - build a GET_REGION_INFO reply.
 * @buf:     output
 * @cap:     bytes available in @buf
 * @ri:      fixed part; argsz is taken as the client's maximum
 * @caps:    capability chain to describe, or NULL
 *
 * When the chain doesn't fit in ri->argsz, only the fixed part is written,
 * with argsz raised to the size needed and CAPS set (the client retries).
 *
 * Return: bytes written, or -ENOSPC; *@complete says whether the chain fit.
 */
UVFIO_EXPORT ssize_t uvfio_proto_region_info_encode(void *buf, size_t cap,
						    const struct uvfio_region_info *ri,
						    const struct uvfio_region_caps *caps,
						    bool *complete);
UVFIO_EXPORT int uvfio_proto_region_info_decode(const void *p, size_t len,
						struct uvfio_region_info *ri);

/**
 * uvfio_proto_region_caps_decode() - walk the capability chain of a
 * GET_REGION_INFO reply.
 * @p:         the whole reply payload
 * @len:       its length
 * @areas:     array for sparse areas
 * @max_areas: its capacity
 * @out:       what was found; out->nr_areas may exceed @max_areas, in which
 *             case only the first @max_areas were stored
 *
 * Every cap header, offset and count is bounds-checked; a loop or an
 * out-of-range pointer is -EINVAL.
 */
UVFIO_EXPORT int uvfio_proto_region_caps_decode(const void *p, size_t len,
						struct uvfio_sparse_area *areas, uint32_t max_areas,
						struct uvfio_region_caps *out);

UVFIO_EXPORT int uvfio_proto_irq_info_decode(const void *p, size_t len, struct uvfio_irq_info *i);
UVFIO_EXPORT ssize_t uvfio_proto_irq_info_encode(void *buf, size_t cap,
						 const struct uvfio_irq_info *i);

/**
 * uvfio_proto_irq_set_decode() - parse a SET_IRQS request.
 *
 * Checks that exactly one data type and one action are set, no unknown flag
 * bits are, and that a DATA_BOOL payload carries exactly count bytes (the
 * other types carry none). Semantic checks (index, ranges) are the server's.
 */
UVFIO_EXPORT int uvfio_proto_irq_set_decode(const void *p, size_t len, struct uvfio_irq_set *s);
UVFIO_EXPORT ssize_t uvfio_proto_irq_set_encode(void *buf, size_t cap,
						const struct uvfio_irq_set *s);

/**
 * uvfio_proto_region_access_decode() - parse REGION_READ/WRITE.
 * @with_data: true for a WRITE request or READ reply (payload is exactly
 *             16 + count bytes); false for a READ request / WRITE reply
 *             (exactly 16 bytes)
 */
UVFIO_EXPORT int uvfio_proto_region_access_decode(const void *p, size_t len, bool with_data,
						  struct uvfio_region_access *a);
UVFIO_EXPORT ssize_t uvfio_proto_region_access_encode(void *buf, size_t cap, bool with_data,
						      const struct uvfio_region_access *a);

/**
 * uvfio_proto_dma_access_decode() - parse DMA_READ/WRITE.
 * @with_data: as for region access. A header-only DMA_WRITE reply (sent by
 *             QEMU) is accepted when @len is 0: addr and count come back 0.
 */
UVFIO_EXPORT int uvfio_proto_dma_access_decode(const void *p, size_t len, bool with_data,
					       struct uvfio_dma_access *a);
UVFIO_EXPORT ssize_t uvfio_proto_dma_access_encode(void *buf, size_t cap, bool with_data,
						   const struct uvfio_dma_access *a);

/**
 * uvfio_proto_write_multi_decode() - parse a REGION_WRITE_MULTI request.
 * @n_out: number of entries (the wr_cnt field, checked against the size)
 *
 * Entries are read with uvfio_proto_write_multi_entry().
 */
UVFIO_EXPORT int uvfio_proto_write_multi_decode(const void *p, size_t len, uint64_t *n_out);
UVFIO_EXPORT int uvfio_proto_write_multi_entry(const void *p, size_t len, uint64_t i,
					       struct uvfio_write_multi_entry *e);

UVFIO_EXPORT int uvfio_proto_device_feature_decode(const void *p, size_t len,
						   struct uvfio_device_feature *f);

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_PROTO_H */
