// SPDX-License-Identifier: BSD-3-Clause
/*
 * The vfio-user command table and the one header check every received
 * message goes through.
 *
 * Each row says, for the request and for the reply, the fixed payload size
 * range, how a variable tail is bounded and how many fds may ride along.
 * The hazard this guards against is a peer-controlled size deciding how much
 * we buffer: a message is accepted only if its size fits its command's row
 * and the receiver's negotiated limits, before any byte of it is parsed.
 */
#include "uvfio/proto.h"
#include "util/util.h"

struct cmd_row {
	struct uvfio_proto_cmd pub;
	uint32_t req_max; /* largest fixed part (without tail) */
	uint32_t rep_max;
};

#define ROW(num, nm, d, rqmin, rqmax, rqtail, rqfds, rpmin, rpmax, rptail, rpfds)                  \
	[num] = {                                                                                  \
		.pub = { .name = nm, .dir = d, .req_tail = rqtail, .rep_tail = rptail,             \
			 .req_fds = rqfds, .rep_fds = rpfds, .req_min = rqmin, .rep_min = rpmin }, \
		.req_max = rqmax,                                                                  \
		.rep_max = rpmax,                                                                  \
	}

#define C2S   UVFIO_DIR_C2S
#define S2C   UVFIO_DIR_S2C
#define NONE  UVFIO_TAIL_NONE
#define DATA  UVFIO_TAIL_DATA
#define JSON  UVFIO_TAIL_JSON
#define ANY   UVFIO_FDS_ANY

static const struct cmd_row cmd_table[UVFIO_CMD_MAX + 1] = {
	/*  num                                   name                   dir  req: min max tail fds   rep: min max tail fds */
	ROW(UVFIO_CMD_VERSION,                    "VERSION",             C2S, 4, 4, JSON, 0,          4, 4, JSON, 1),
	ROW(UVFIO_CMD_DMA_MAP,                    "DMA_MAP",             C2S, 32, 32, NONE, 1,        0, 0, NONE, 0),
	ROW(UVFIO_CMD_DMA_UNMAP,                  "DMA_UNMAP",           C2S, 24, 24, NONE, 0,        24, 24, DATA, 0),
	ROW(UVFIO_CMD_DEVICE_GET_INFO,            "DEVICE_GET_INFO",     C2S, 16, 16, NONE, 0,        16, 16, NONE, 0),
	ROW(UVFIO_CMD_DEVICE_GET_REGION_INFO,     "DEVICE_GET_REGION_INFO", C2S, 32, 32, NONE, 0,     32, 32, DATA, 1),
	ROW(UVFIO_CMD_DEVICE_GET_REGION_IO_FDS,   "DEVICE_GET_REGION_IO_FDS", C2S, 16, 16, NONE, 0,   16, 16, DATA, ANY),
	ROW(UVFIO_CMD_DEVICE_GET_IRQ_INFO,        "DEVICE_GET_IRQ_INFO", C2S, 16, 16, NONE, 0,        16, 16, NONE, 0),
	ROW(UVFIO_CMD_DEVICE_SET_IRQS,            "DEVICE_SET_IRQS",     C2S, 20, 20, DATA, ANY,      0, 0, NONE, 0),
	ROW(UVFIO_CMD_REGION_READ,                "REGION_READ",         C2S, 16, 16, NONE, 0,        16, 16, DATA, 0),
	ROW(UVFIO_CMD_REGION_WRITE,               "REGION_WRITE",        C2S, 16, 16, DATA, 0,        16, 16, NONE, 0),
	ROW(UVFIO_CMD_DMA_READ,                   "DMA_READ",            S2C, 16, 16, NONE, 0,        16, 16, DATA, 0),
	/* QEMU answers DMA_WRITE with a header-only reply: accept 0..16. */
	ROW(UVFIO_CMD_DMA_WRITE,                  "DMA_WRITE",           S2C, 16, 16, DATA, 0,        0, 16, NONE, 0),
	ROW(UVFIO_CMD_DEVICE_RESET,               "DEVICE_RESET",        C2S, 0, 0, NONE, 0,          0, 0, NONE, 0),
	ROW(UVFIO_CMD_DIRTY_PAGES,                "DIRTY_PAGES",         C2S, 8, 8, DATA, 0,          8, 8, DATA, 0),
	ROW(UVFIO_CMD_REGION_WRITE_MULTI,         "REGION_WRITE_MULTI",  C2S, 8, 8, DATA, 0,          8, 8, NONE, 0),
	ROW(UVFIO_CMD_DEVICE_FEATURE,             "DEVICE_FEATURE",      C2S, 8, 8, DATA, 0,          8, 8, DATA, 0),
	ROW(UVFIO_CMD_MIG_DATA_READ,              "MIG_DATA_READ",       C2S, 8, 8, NONE, 0,          8, 8, DATA, 0),
	ROW(UVFIO_CMD_MIG_DATA_WRITE,             "MIG_DATA_WRITE",      C2S, 8, 8, DATA, 0,          0, 0, NONE, 0),
};

static const struct cmd_row *row_get(uint16_t cmd)
{
	if (cmd == 0 || cmd > UVFIO_CMD_MAX)
		return NULL;
	return &cmd_table[cmd];
}

const struct uvfio_proto_cmd *uvfio_proto_cmd_get(uint16_t cmd)
{
	const struct cmd_row *r = row_get(cmd);

	return r ? &r->pub : NULL;
}

const char *uvfio_proto_cmd_name(uint16_t cmd)
{
	const struct cmd_row *r = row_get(cmd);

	return r ? r->pub.name : "UNKNOWN";
}

static uint64_t tail_bound(uint8_t tail, const struct uvfio_proto_limits *lim)
{
	switch (tail) {
	case UVFIO_TAIL_DATA:
		return lim->max_data_xfer_size;
	case UVFIO_TAIL_JSON:
		return UVFIO_PROTO_JSON_MAX;
	default:
		return 0;
	}
}

uint64_t uvfio_proto_max_msg_size(const struct uvfio_proto_limits *lim)
{
	uint64_t best = 0;

	for (unsigned c = 1; c <= UVFIO_CMD_MAX; c++) {
		const struct cmd_row *r = &cmd_table[c];
		uint64_t rq = (uint64_t)r->req_max + tail_bound(r->pub.req_tail, lim);
		uint64_t rp = (uint64_t)r->rep_max + tail_bound(r->pub.rep_tail, lim);

		best = MAX(best, MAX(rq, rp));
	}
	return best + UVFIO_HDR_SIZE;
}

int uvfio_proto_check(const struct uvfio_hdr *h, unsigned nfds, const struct uvfio_proto_limits *lim)
{
	const struct cmd_row *r;
	uint32_t type = h->flags & UVFIO_F_TYPE_MASK;
	uint64_t payload, min, max;
	unsigned fds_allowed;
	uint8_t tail, fds;

	if (h->size < UVFIO_HDR_SIZE)
		return -EINVAL;
	if (h->flags & ~UVFIO_F_KNOWN)
		return -EINVAL;
	if (type != UVFIO_F_TYPE_COMMAND && type != UVFIO_F_TYPE_REPLY)
		return -EINVAL;
	r = row_get(h->cmd);
	if (!r)
		return -ENOSYS;
	payload = h->size - UVFIO_HDR_SIZE;

	if (type == UVFIO_F_TYPE_COMMAND) {
		if ((h->flags & UVFIO_F_ERROR) || h->error)
			return -EINVAL;
		min = r->pub.req_min;
		max = r->req_max;
		tail = r->pub.req_tail;
		fds = r->pub.req_fds;
	} else {
		if (h->flags & UVFIO_F_NO_REPLY)
			return -EINVAL;
		if (h->flags & UVFIO_F_ERROR) {
			/* Error replies carry only the header. */
			if (payload || nfds)
				return -EINVAL;
			return 0;
		}
		min = r->pub.rep_min;
		max = r->rep_max;
		tail = r->pub.rep_tail;
		fds = r->pub.rep_fds;
	}
	if (payload < min)
		return -EINVAL;
	if (payload > max + tail_bound(tail, lim))
		return -EMSGSIZE;
	fds_allowed = fds == UVFIO_FDS_ANY ? lim->max_msg_fds : fds;
	if (nfds > fds_allowed)
		return -EINVAL;
	return 0;
}

void uvfio_proto_hdr_decode(const void *buf, struct uvfio_hdr *h)
{
	const uint8_t *p = buf;

	h->id = get_le16(p);
	h->cmd = get_le16(p + 2);
	h->size = get_le32(p + 4);
	h->flags = get_le32(p + 8);
	h->error = get_le32(p + 12);
}

void uvfio_proto_hdr_encode(void *buf, const struct uvfio_hdr *h)
{
	uint8_t *p = buf;

	put_le16(p, h->id);
	put_le16(p + 2, h->cmd);
	put_le32(p + 4, h->size);
	put_le32(p + 8, h->flags);
	put_le32(p + 12, h->error);
}
