// SPDX-License-Identifier: BSD-3-Clause
/*
 * Dispatch: every message from the client goes through uvfio__emu_handle(),
 * which validates the header once against the protocol table, enforces the
 * negotiation order and direction rules, calls the command's handler from
 * the table below and sends exactly one reply (none for No_reply).
 *
 * Handlers validate their payload and return 0 or -errno; an error becomes
 * an error reply with that errno. fds a handler doesn't take are closed by
 * the caller, so no error path can leak one.
 *
 * errno conventions (docs/protocol.md): ENOSYS for a command number the
 * protocol doesn't define, ENOTSUP for one this server doesn't implement,
 * EMSGSIZE for a message over the negotiated size, EINVAL for anything
 * malformed; commands whose specification names an errno use it.
 */
#include <sys/socket.h>

#include "emu_priv.h"

typedef int (*emu_handler)(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);

static int handle_version(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
static int handle_device_info(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
static int handle_reset(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);
static int handle_feature(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep);

static const emu_handler handlers[UVFIO_CMD_MAX + 1] = {
	[UVFIO_CMD_VERSION] = handle_version,
	[UVFIO_CMD_DMA_MAP] = uvfio__emu_dma_map,
	[UVFIO_CMD_DMA_UNMAP] = uvfio__emu_dma_unmap,
	[UVFIO_CMD_DEVICE_GET_INFO] = handle_device_info,
	[UVFIO_CMD_DEVICE_GET_REGION_INFO] = uvfio__emu_get_region_info,
	[UVFIO_CMD_DEVICE_GET_IRQ_INFO] = uvfio__emu_get_irq_info,
	[UVFIO_CMD_DEVICE_SET_IRQS] = uvfio__emu_set_irqs,
	[UVFIO_CMD_REGION_READ] = uvfio__emu_region_read,
	[UVFIO_CMD_REGION_WRITE] = uvfio__emu_region_write,
	[UVFIO_CMD_DEVICE_RESET] = handle_reset,
	[UVFIO_CMD_REGION_WRITE_MULTI] = uvfio__emu_region_write_multi,
	[UVFIO_CMD_DEVICE_FEATURE] = handle_feature,
	/* GET_REGION_IO_FDS, DIRTY_PAGES and MIG_DATA_*: not implemented -> ENOTSUP. */
};

static void send_reply(struct uvfio_emu *emu, const struct uvfio_hdr *req, int err,
		       struct emu_reply *rep)
{
	struct uvfio_hdr h = {
		.id = req->id,
		.cmd = req->cmd,
		.flags = UVFIO_F_TYPE_REPLY | (err ? UVFIO_F_ERROR : 0),
		.error = (uint32_t)-err,
	};
	int ret;

	if (err)
		ret = uvfio__conn_send(emu->conn, &h, NULL, 0, NULL, 0);
	else
		ret = uvfio__conn_send(emu->conn, &h, rep->iov, rep->iovcnt, rep->fds, rep->nfds);
	if (ret) {
		log_err(&emu->log, "cannot send the reply to %s (id %u): %s; dropping the client",
			uvfio_proto_cmd_name(req->cmd), req->id, strerror(-ret));
		emu->drop = true;
	}
	log_debug(&emu->log, "-> id %u %s reply%s%s", req->id, uvfio_proto_cmd_name(req->cmd),
		  err ? ": " : "", err ? strerror(-err) : "");
}

void uvfio__emu_handle(struct uvfio_emu *emu, struct uvfio_hdr *hdr, const uint8_t *p, size_t len,
		       int *fds, unsigned nfds, int status)
{
	struct uvfio_proto_limits lim = {
		.max_data_xfer_size = emu->negotiated ? emu->max_xfer : 0,
		.max_msg_fds = emu->negotiated ? emu->max_fds : 0,
	};
	const struct uvfio_proto_cmd *c = uvfio_proto_cmd_get(hdr->cmd);
	struct emu_req req = { .hdr = *hdr, .p = p, .len = len, .fds = fds, .nfds = nfds };
	struct emu_reply rep = { .iovcnt = 0 };
	bool is_reply = (hdr->flags & UVFIO_F_TYPE_MASK) == UVFIO_F_TYPE_REPLY;
	bool no_reply = (hdr->flags & UVFIO_F_NO_REPLY) && !is_reply;
	int err;

	log_debug(&emu->log, "<- id %u %s%s, %u bytes, %u fds", hdr->id, uvfio_proto_cmd_name(hdr->cmd),
		  is_reply ? " reply" : "", hdr->size, nfds);

	if (status == -EMSGSIZE) {
		err = -EMSGSIZE;
	} else if (status) {
		err = -EINVAL; /* more fds than allowed */
	} else {
		err = uvfio_proto_check(hdr, nfds, &lim);
		/* Before VERSION the limits are zero; judge VERSION by its own row. */
		if (err == -EMSGSIZE && !emu->negotiated && hdr->cmd != UVFIO_CMD_VERSION)
			err = -EINVAL;
	}
	if (!err && is_reply) {
		/* We have no request outstanding here: a stray or late reply. */
		log_warn(&emu->log, "the client sent a reply (id %u, %s) that answers nothing",
			 hdr->id, uvfio_proto_cmd_name(hdr->cmd));
		err = -EINVAL;
	}
	if (!err && c->dir != UVFIO_DIR_C2S)
		err = -EINVAL;
	if (!err && !emu->negotiated && hdr->cmd != UVFIO_CMD_VERSION) {
		log_warn(&emu->log, "the client sent %s before VERSION",
			 uvfio_proto_cmd_name(hdr->cmd));
		err = -EINVAL;
	}
	if (!err) {
		emu_handler h = handlers[hdr->cmd];

		err = h ? h(emu, &req, &rep) : -ENOTSUP;
	}
	if (err && err != -ENOSYS && err != -ENOTSUP)
		log_debug(&emu->log, "%s (id %u) failed: %s", uvfio_proto_cmd_name(hdr->cmd),
			  hdr->id, strerror(-err));
	if (!no_reply && emu->conn)
		send_reply(emu, hdr, err, &rep);
	else if (err)
		log_warn(&emu->log, "posted %s (id %u) failed: %s", uvfio_proto_cmd_name(hdr->cmd),
			 hdr->id, strerror(-err));
	if (rep.close_fds)
		close_fds(rep.fds, rep.nfds);
}

/* --- VERSION -------------------------------------------------------------------- */

static int check_client_caps(struct uvfio_emu *emu, const struct uvfio_caps *c)
{
	if ((c->present & UVFIO_CAP_MAX_MSG_FDS) && c->max_msg_fds > EMU_MAX_CLIENT_FDS) {
		log_warn(&emu->log, "the client's max_msg_fds %u is above %u", c->max_msg_fds,
			 EMU_MAX_CLIENT_FDS);
		return -EINVAL;
	}
	if ((c->present & UVFIO_CAP_MAX_DATA_XFER_SIZE) && c->max_data_xfer_size == 0) {
		log_warn(&emu->log, "the client's max_data_xfer_size is 0");
		return -EINVAL;
	}
	if ((c->present & UVFIO_CAP_MAX_DMA_MAPS) && c->max_dma_maps == 0) {
		log_warn(&emu->log, "the client's max_dma_maps is 0");
		return -EINVAL;
	}
	return 0;
}

static int make_twin(struct uvfio_emu *emu, int *peer_end)
{
	struct uvfio__conn_opts co = {
		.max_msg_size = uvfio_proto_max_msg_size(&(struct uvfio_proto_limits){
			.max_data_xfer_size = emu->max_xfer, .max_msg_fds = 0 }),
		.max_fds = 0,
		.log = &emu->log,
	};
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	ret = uvfio__conn_create(sv[0], &co, &emu->twin);
	if (ret) {
		close_fd(&sv[1]);
		return ret;
	}
	*peer_end = sv[1];
	return 0;
}

static int handle_version(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_caps c, mine;
	uint16_t major, minor;
	uint8_t *buf;
	ssize_t n;
	int ret, twin_fd = -1;

	if (emu->negotiated) {
		log_warn(&emu->log, "the client sent VERSION twice");
		return -EINVAL;
	}
	ret = uvfio_proto_version_decode(req->p, req->len, &major, &minor, &c);
	if (ret) {
		log_warn(&emu->log, "the client's VERSION is malformed (%s): it must be major, "
				    "minor and a NUL-terminated JSON object",
			 strerror(-ret));
		return ret;
	}
	if (major != UVFIO_PROTO_MAJOR) {
		log_warn(&emu->log, "the client speaks protocol %u.%u; this server speaks %u.x",
			 major, minor, UVFIO_PROTO_MAJOR);
		return -ENOTSUP;
	}
	ret = check_client_caps(emu, &c);
	if (ret)
		return ret;

	/* Reply only with capabilities the client named. */
	uvfio_proto_caps_default(&mine);
	mine.present = c.present & ~UVFIO_CAP_MIGRATION;
	mine.max_msg_fds = emu->max_fds;
	mine.max_data_xfer_size = emu->max_xfer;
	mine.pgsizes = UVFIO__DMA_PAGE;
	mine.max_dma_maps = (c.present & UVFIO_CAP_MAX_DMA_MAPS)
				    ? MIN(emu->max_dma_maps, c.max_dma_maps)
				    : emu->max_dma_maps;
	mine.write_multiple = c.write_multiple;
	if ((c.present & UVFIO_CAP_TWIN_SOCKET) && c.twin_socket) {
		ret = make_twin(emu, &twin_fd);
		if (ret)
			return ret;
		mine.twin_socket = true;
		mine.twin_fd_index = 0;
	}

	ret = uvfio__emu_scratch(emu, 4 + UVFIO_PROTO_JSON_MAX, &buf);
	if (ret)
		goto fail;
	n = uvfio_proto_version_encode(buf, 4 + UVFIO_PROTO_JSON_MAX, UVFIO_PROTO_MAJOR,
				       MIN(minor, (uint16_t)UVFIO_PROTO_MINOR), &mine);
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	reply_add(rep, buf, (size_t)n);
	if (twin_fd >= 0) {
		rep->fds[0] = twin_fd;
		rep->nfds = 1;
		rep->close_fds = true;
	}

	emu->peer = c;
	emu->write_multi = c.write_multiple;
	emu->negotiated = true;
	uvfio__dmat_set_max(emu->dma, mine.max_dma_maps);
	uvfio__conn_set_limits(emu->conn,
			       uvfio_proto_max_msg_size(&(struct uvfio_proto_limits){
				       .max_data_xfer_size = emu->max_xfer,
				       .max_msg_fds = emu->max_fds }),
			       emu->max_fds);
	log_info(&emu->log, "negotiated protocol %u.%u%s", UVFIO_PROTO_MAJOR,
		 MIN(minor, (uint16_t)UVFIO_PROTO_MINOR), emu->twin ? " with a twin socket" : "");
	if (emu->ops && emu->ops->attach)
		emu->ops->attach(emu->priv);
	emu->attached_cb = true;
	return 0;
fail:
	close_fd(&twin_fd);
	uvfio__conn_destroy(emu->twin);
	emu->twin = NULL;
	return ret;
}

/* --- device info, reset, features ---------------------------------------------------- */

static int handle_device_info(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_device_info in, out = {
		.argsz = UVFIO_DEVICE_INFO_SIZE,
		.flags = UVFIO_DEVICE_FLAGS_PCI | UVFIO_DEVICE_FLAGS_RESET,
		.num_regions = emu->nregions,
		.num_irqs = UVFIO_PCI_NUM_IRQS,
	};
	uint8_t *buf;
	int ret = uvfio_proto_device_info_decode(req->p, req->len, &in);

	if (ret)
		return ret;
	if (in.argsz < UVFIO_DEVICE_INFO_SIZE)
		return -EINVAL;
	ret = uvfio__emu_scratch(emu, UVFIO_DEVICE_INFO_SIZE, &buf);
	if (ret)
		return ret;
	uvfio_proto_device_info_encode(buf, UVFIO_DEVICE_INFO_SIZE, &out);
	reply_add(rep, buf, UVFIO_DEVICE_INFO_SIZE);
	return 0;
}

static int handle_reset(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	return uvfio__emu_function_reset(emu, UVFIO_EMU_RESET_DEVICE);
}

static int handle_feature(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_device_feature f;
	uint32_t ops;
	int ret = uvfio_proto_device_feature_decode(req->p, req->len, &f);

	if (ret)
		return ret;
	if (f.argsz < UVFIO_DEVICE_FEATURE_SIZE)
		return -EINVAL;
	if (f.flags & ~(UVFIO_DEVICE_FEATURE_MASK | UVFIO_DEVICE_FEATURE_GET |
			UVFIO_DEVICE_FEATURE_SET | UVFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	ops = f.flags & (UVFIO_DEVICE_FEATURE_GET | UVFIO_DEVICE_FEATURE_SET);
	if (ops == (UVFIO_DEVICE_FEATURE_GET | UVFIO_DEVICE_FEATURE_SET) &&
	    !(f.flags & UVFIO_DEVICE_FEATURE_PROBE))
		return -EINVAL;
	/* No device features (migration, DMA logging) yet: as the kernel, ENOTTY. */
	return -ENOTTY;
}
