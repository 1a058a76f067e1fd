// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA: the client's DMA_MAP/DMA_UNMAP on the map table, and the access API
 * device models use to reach the client's memory.
 *
 * A model may hold a pointer from uvfio_emu_dma_ptr() until the mapping is
 * unmapped; the library tells it (ops->dma_unmap) before removing a mapping
 * and before it replies to the client, which satisfies the protocol's rule
 * that the server drops every reference, in-flight DMA included, before
 * answering an unmap. Memory mapped without an fd is reached with
 * DMA_READ/DMA_WRITE messages, split to the smaller of both sides'
 * max_data_xfer_size. Range and permission checks cover the whole transfer
 * before any byte moves, so a transfer outside the mappings copies nothing.
 */
#include <stdlib.h>

#include "util/btree.h"

#include "emu_priv.h"

static uint32_t prot_from_wire(uint32_t flags)
{
	return ((flags & UVFIO_DMA_MAP_READ) ? UVFIO__DMA_PROT_READ : 0) |
	       ((flags & UVFIO_DMA_MAP_WRITE) ? UVFIO__DMA_PROT_WRITE : 0);
}

int uvfio__emu_dma_map(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_dma_map m;
	int fd, ret = uvfio_proto_dma_map_decode(req->p, req->len, &m);

	if (ret)
		return ret;
	if (m.argsz < UVFIO_DMA_MAP_SIZE)
		return -EINVAL;
	if (!m.flags || (m.flags & ~(UVFIO_DMA_MAP_READ | UVFIO_DMA_MAP_WRITE)))
		return -EINVAL;
	fd = req->nfds ? req->fds[0] : -1;
	ret = uvfio__dmat_map(emu->dma, m.addr, m.size, prot_from_wire(m.flags), &fd, m.offset);
	if (ret) {
		log_debug(&emu->log, "DMA_MAP [0x%llx, +0x%llx) refused: %s",
			  (unsigned long long)m.addr, (unsigned long long)m.size, strerror(-ret));
		return ret;
	}
	if (req->nfds)
		req->fds[0] = fd; /* -1: the table took it */
	if (emu->ops && emu->ops->dma_map)
		emu->ops->dma_map(emu->priv, m.addr, m.size, prot_from_wire(m.flags));
	return 0;
}

static int notify_unmap(void *priv, const struct uvfio__dma_range *r)
{
	struct uvfio_emu *emu = priv;

	emu->ops->dma_unmap(emu->priv, r->iova, r->size);
	return 0;
}

void uvfio__emu_dma_drop(struct uvfio_emu *emu)
{
	if (!emu->dma)
		return;
	if (emu->ops && emu->ops->dma_unmap)
		uvfio__dmat_foreach(emu->dma, notify_unmap, emu);
	uvfio__dmat_unmap_all(emu->dma);
}

int uvfio__emu_dma_unmap(struct uvfio_emu *emu, struct emu_req *req, struct emu_reply *rep)
{
	struct uvfio_dma_unmap u;
	struct uvfio__dma_range r;
	uint8_t *buf;
	int ret = uvfio_proto_dma_unmap_decode(req->p, req->len, &u);

	if (ret)
		return ret;
	if (u.argsz < UVFIO_DMA_UNMAP_SIZE)
		return -EINVAL;
	if (u.flags & ~(UVFIO_DMA_UNMAP_ALL | UVFIO_DMA_UNMAP_GET_DIRTY_BITMAP))
		return -EINVAL;
	if (u.flags & UVFIO_DMA_UNMAP_GET_DIRTY_BITMAP)
		return (u.flags & UVFIO_DMA_UNMAP_ALL) ? -EINVAL : -ENOTSUP;
	if (u.flags & UVFIO_DMA_UNMAP_ALL) {
		if (u.addr || u.size)
			return -EINVAL;
		uvfio__emu_dma_drop(emu);
	} else {
		if (!u.size)
			return -EINVAL;
		ret = uvfio__dmat_find_exact(emu->dma, u.addr, u.size, &r);
		if (ret)
			return ret;
		if (emu->ops && emu->ops->dma_unmap)
			emu->ops->dma_unmap(emu->priv, r.iova, r.size);
		uvfio__dmat_unmap(emu->dma, u.addr, u.size);
	}
	ret = uvfio__emu_scratch(emu, UVFIO_DMA_UNMAP_SIZE, &buf);
	if (ret)
		return ret;
	uvfio_proto_dma_unmap_encode(buf, UVFIO_DMA_UNMAP_SIZE, &u);
	reply_add(rep, buf, UVFIO_DMA_UNMAP_SIZE);
	return 0;
}

/* --- the model's access API ---------------------------------------------------------- */

int uvfio_emu_dma_ptr(struct uvfio_emu *emu, uvfio_iova_t iova, uint64_t len, uint32_t prot,
		      void **ptr, uint64_t *contig)
{
	struct uvfio__dma_range r;
	uint64_t off;

	if (!len || !prot || (prot & ~(UVFIO_EMU_DMA_READ | UVFIO_EMU_DMA_WRITE)))
		return -EINVAL;
	if (!emu->dma || !emu->conn)
		return -EFAULT;
	if (!emu_bus_master(emu))
		return -EPERM;
	if (uvfio__dmat_lookup(emu->dma, iova, &r))
		return -EFAULT;
	if (prot & ~r.prot)
		return -EACCES;
	if (!r.has_fd)
		return -EREMOTE;
	off = iova - r.iova;
	*ptr = r.host + off;
	*contig = MIN(len, r.size - off);
	return 0;
}

int uvfio_emu_dma_ptrv(struct uvfio_emu *emu, struct uvfio_emu_sg *sg, unsigned n, uint32_t prot)
{
	struct uvfio__dma_range r[UVFIO__BT_BATCH];
	uint64_t iova[UVFIO__BT_BATCH];

	if (!prot || (prot & ~(UVFIO_EMU_DMA_READ | UVFIO_EMU_DMA_WRITE)) || n > INT32_MAX)
		return -EINVAL;
	if (!emu->dma || !emu->conn)
		return 0;
	if (!emu_bus_master(emu))
		return -EPERM;
	for (unsigned base = 0; base < n; base += UVFIO__BT_BATCH) {
		unsigned m = MIN((unsigned)UVFIO__BT_BATCH, n - base);
		size_t got;

		for (unsigned i = 0; i < m; i++)
			iova[i] = sg[base + i].iova;
		got = uvfio__dmat_lookup_many(emu->dma, iova, m, r);
		for (unsigned i = 0; i < got; i++) {
			struct uvfio_emu_sg *e = &sg[base + i];
			uint64_t off = e->iova - r[i].iova;

			if (!e->len || (prot & ~r[i].prot) || !r[i].has_fd)
				return (int)(base + i);
			e->ptr = r[i].host + off;
			e->len = MIN(e->len, r[i].size - off);
		}
		if (got < m)
			return (int)(base + got);
	}
	return (int)n;
}

/* Every byte of [iova, iova + len) mapped with @prot? */
static int check_range(struct uvfio_emu *emu, uint64_t iova, uint64_t len, uint32_t prot,
		       uint64_t *fault)
{
	uint64_t end;

	if (!range_ok(iova, len, &end)) {
		*fault = iova;
		return -EFAULT;
	}
	while (iova < end) {
		struct uvfio__dma_range r;
		uint64_t rend;

		*fault = iova;
		if (uvfio__dmat_lookup(emu->dma, iova, &r))
			return -EFAULT;
		if (prot & ~r.prot)
			return -EACCES;
		/* A mapping that ends at the top of the bus covers the rest. */
		if (!range_ok(r.iova, r.size, &rend) || rend >= end)
			break;
		iova = rend;
	}
	return 0;
}

int uvfio_emu_dma_check(struct uvfio_emu *emu, uvfio_iova_t iova, uint64_t len, uint32_t prot,
			uvfio_iova_t *fault)
{
	uint64_t f = iova;
	int ret;

	if (!len || !prot || (prot & ~(UVFIO_EMU_DMA_READ | UVFIO_EMU_DMA_WRITE)))
		return -EINVAL;
	if (!emu->dma || !emu->conn)
		ret = -EFAULT;
	else if (!emu_bus_master(emu))
		ret = -EPERM;
	else
		ret = check_range(emu, iova, len, prot, &f);
	if (ret && fault)
		*fault = f;
	return ret;
}

static int bounce(struct uvfio_emu *emu, size_t len, uint8_t **out)
{
	if (len > emu->bounce_cap) {
		uint8_t *n = realloc(emu->bounce, len);

		if (!n)
			return -ENOMEM;
		emu->bounce = n;
		emu->bounce_cap = len;
	}
	*out = emu->bounce;
	return 0;
}

static uint64_t msg_chunk(const struct uvfio_emu *emu)
{
	return MAX(1, MIN(emu->peer.max_data_xfer_size, (uint64_t)emu->max_xfer));
}

static int msg_read(struct uvfio_emu *emu, uint64_t iova, uint8_t *dst, uint64_t len)
{
	while (len) {
		uint64_t n = MIN(len, msg_chunk(emu));
		struct uvfio_dma_access a = { .addr = iova, .count = n }, back;
		uint8_t req[UVFIO_DMA_ACCESS_SIZE], *rb;
		struct iovec iov = { .iov_base = req, .iov_len = sizeof(req) };
		int ret = bounce(emu, UVFIO_DMA_ACCESS_SIZE + n, &rb);

		if (ret)
			return ret;
		uvfio_proto_dma_access_encode(req, sizeof(req), false, &a);
		ret = uvfio__emu_s2c(emu, UVFIO_CMD_DMA_READ, &iov, 1, rb, UVFIO_DMA_ACCESS_SIZE + n);
		if (ret)
			return ret;
		if (uvfio_proto_dma_access_decode(rb, UVFIO_DMA_ACCESS_SIZE + n, true, &back) ||
		    back.addr != iova || back.count != n)
			return -EIO;
		memcpy(dst, back.data, n);
		iova += n;
		dst += n;
		len -= n;
	}
	return 0;
}

static int msg_write(struct uvfio_emu *emu, uint64_t iova, const uint8_t *src, uint64_t len)
{
	while (len) {
		uint64_t n = MIN(len, msg_chunk(emu));
		struct uvfio_dma_access a = { .addr = iova, .count = n };
		uint8_t req[UVFIO_DMA_ACCESS_SIZE], rb[UVFIO_DMA_ACCESS_SIZE] = { 0 };
		struct iovec iov[2] = {
			{ .iov_base = req, .iov_len = sizeof(req) },
			{ .iov_base = (void *)src, .iov_len = n },
		};
		int ret;

		uvfio_proto_dma_access_encode(req, sizeof(req), false, &a);
		ret = uvfio__emu_s2c(emu, UVFIO_CMD_DMA_WRITE, iov, 2, rb, sizeof(rb));
		if (ret)
			return ret;
		iova += n;
		src += n;
		len -= n;
	}
	return 0;
}

static int dma_rw(struct uvfio_emu *emu, uint64_t iova, uint8_t *buf, uint64_t len, bool write)
{
	int ret;

	if (!len)
		return 0;
	ret = uvfio_emu_dma_check(emu, iova, len, write ? UVFIO_EMU_DMA_WRITE : UVFIO_EMU_DMA_READ,
				  NULL);
	if (ret)
		return ret;
	while (len) {
		struct uvfio__dma_range r;
		uint64_t off, n;

		if (uvfio__dmat_lookup(emu->dma, iova, &r))
			return -EFAULT;
		off = iova - r.iova;
		n = MIN(len, r.size - off);
		if (r.has_fd) {
			if (write)
				memcpy(r.host + off, buf, n);
			else
				memcpy(buf, r.host + off, n);
		} else {
			ret = write ? msg_write(emu, iova, buf, n) : msg_read(emu, iova, buf, n);
			if (ret)
				return ret;
		}
		iova += n;
		buf += n;
		len -= n;
	}
	return 0;
}

int uvfio_emu_dma_read(struct uvfio_emu *emu, uvfio_iova_t iova, void *buf, uint64_t len)
{
	return dma_rw(emu, iova, buf, len, false);
}

int uvfio_emu_dma_write(struct uvfio_emu *emu, uvfio_iova_t iova, const void *buf, uint64_t len)
{
	return dma_rw(emu, iova, (uint8_t *)buf, len, true);
}
