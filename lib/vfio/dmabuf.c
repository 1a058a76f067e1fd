// SPDX-License-Identifier: BSD-3-Clause
/*
 * DMA buffers: memory every device of a container can reach, carved from
 * pools. A pool is one memfd, mmap'ed shared and mapped into the container
 * once, so a driver's many small buffers cost a handful of mapping entries
 * (the kernel's Type1 allows 65535 by default) and a vfio-user server maps
 * the same memfd and reaches the buffers without copying.
 *
 * Pools grow by doubling from 2 MiB (up to 1 GiB at a time; a larger buffer
 * gets a pool of its own size), sit at 2 MiB-aligned bus addresses, and go
 * away when their last buffer is freed. Buffers are zero-filled.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "vfio_priv.h"

#define POOL_MIN (2ull << 20)
#define POOL_MAX (1ull << 30)

struct chunk {
	uint64_t off;
	uint64_t len;
};

struct uvfio__pool {
	struct uvfio__pool *next;
	int memfd;
	uint8_t *vaddr;
	uvfio_iova_t iova;
	uint64_t size;
	uint32_t prot;
	uint64_t used;
	struct chunk *free; /* ascending by offset, coalesced */
	uint32_t nfree;
	uint32_t cap;
};

static int pool_take(struct uvfio__pool *p, uint64_t len, uint64_t *off)
{
	for (uint32_t i = 0; i < p->nfree; i++) {
		struct chunk *c = &p->free[i];

		if (c->len < len)
			continue;
		*off = c->off;
		c->off += len;
		c->len -= len;
		if (!c->len) {
			memmove(c, c + 1, (p->nfree - i - 1) * sizeof(*c));
			p->nfree--;
		}
		p->used += len;
		return 0;
	}
	return -ENOSPC;
}

static int pool_give(struct uvfio__pool *p, uint64_t off, uint64_t len)
{
	uint32_t i = 0;
	bool left, right;

	while (i < p->nfree && p->free[i].off < off)
		i++;
	left = i > 0 && p->free[i - 1].off + p->free[i - 1].len == off;
	right = i < p->nfree && off + len == p->free[i].off;
	if (left && right) {
		p->free[i - 1].len += len + p->free[i].len;
		memmove(&p->free[i], &p->free[i + 1], (p->nfree - i - 1) * sizeof(p->free[0]));
		p->nfree--;
	} else if (left) {
		p->free[i - 1].len += len;
	} else if (right) {
		p->free[i].off = off;
		p->free[i].len += len;
	} else {
		if (p->nfree == p->cap) {
			uint32_t cap = p->cap ? p->cap * 2 : 8;
			struct chunk *n = realloc(p->free, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			p->free = n;
			p->cap = cap;
		}
		memmove(&p->free[i + 1], &p->free[i], (p->nfree - i) * sizeof(p->free[0]));
		p->free[i] = (struct chunk){ off, len };
		p->nfree++;
	}
	p->used -= len;
	return 0;
}

static void pool_destroy(struct uvfio_container *c, struct uvfio__pool *p)
{
	if (p->iova || p->size) {
		uvfio_container_unmap(c, p->iova, p->size);
		uvfio_container_iova_free(c, p->iova, p->size);
	}
	if (p->vaddr)
		munmap(p->vaddr, p->size);
	close_fd(&p->memfd);
	free(p->free);
	free(p);
}

static int pool_new(struct uvfio_container *c, uint64_t need, uint32_t prot,
		    struct uvfio__pool **out)
{
	struct uvfio__pool *p = calloc(1, sizeof(*p)), *last = c->pools;
	struct uvfio_mapping m = { .argsz = sizeof(m), .prot = prot };
	uint64_t size = POOL_MIN;
	int ret;

	if (!p)
		return -ENOMEM;
	p->memfd = -1;
	for (; last; last = last->next)
		size = MAX(size, MIN(last->size * 2, POOL_MAX));
	size = MAX(size, align_up_u64(need, POOL_MIN));
	p->size = size;
	p->prot = prot;
	p->memfd = memfd_create("uvfio-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (p->memfd < 0 || ftruncate(p->memfd, (off_t)size) < 0) {
		ret = -errno;
		goto fail;
	}
	/* The pool's size is fixed; a server mapping it can rely on that. */
	fcntl(p->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	p->vaddr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, p->memfd, 0);
	if (p->vaddr == MAP_FAILED) {
		p->vaddr = NULL;
		ret = -errno;
		goto fail;
	}
	ret = uvfio_container_iova_alloc(c, size, POOL_MIN, &p->iova);
	if (ret)
		goto fail;
	m.vaddr = p->vaddr;
	m.size = size;
	m.iova = p->iova;
	m.fd = p->memfd;
	ret = uvfio_container_map(c, &m);
	if (ret) {
		uvfio_container_iova_free(c, p->iova, size);
		p->iova = 0;
		p->size = 0;
		munmap(p->vaddr, size);
		p->vaddr = NULL;
		goto fail;
	}
	ret = pool_give(p, 0, size);
	p->used = 0;
	if (ret) {
		pool_destroy(c, p);
		return ret;
	}
	p->next = c->pools;
	c->pools = p;
	*out = p;
	return 0;
fail:
	close_fd(&p->memfd);
	free(p);
	return ret;
}

int uvfio_dma_alloc(struct uvfio_container *c, uint64_t size, uint32_t prot,
		    struct uvfio_dma_buf *buf)
{
	struct uvfio__pool *p;
	uint64_t off, len;
	int ret;

	if (!buf || !size || size > (1ull << 46) || !prot ||
	    (prot & ~(UVFIO_DMA_READ | UVFIO_DMA_WRITE)))
		return -EINVAL;
	len = align_up_u64(size, 4096);
	pthread_mutex_lock(&c->pool_lock);
	for (p = c->pools; p; p = p->next)
		if (p->prot == prot && !pool_take(p, len, &off))
			break;
	if (!p) {
		struct uvfio__pool *np = NULL;

		ret = pool_new(c, len, prot, &np);
		if (!ret && !np)
			ret = -ENOMEM;
		if (ret)
			goto out;
		ret = pool_take(np, len, &off);
		if (ret)
			goto out;
		p = np;
	}
	memset(p->vaddr + off, 0, len);
	buf->vaddr = p->vaddr + off;
	buf->iova = p->iova + off;
	buf->size = len;
	ret = 0;
out:
	pthread_mutex_unlock(&c->pool_lock);
	return ret;
}

void uvfio_dma_free(struct uvfio_container *c, struct uvfio_dma_buf *buf)
{
	if (!buf || !buf->vaddr)
		return;
	pthread_mutex_lock(&c->pool_lock);
	for (struct uvfio__pool **pp = &c->pools; *pp; pp = &(*pp)->next) {
		struct uvfio__pool *p = *pp;
		uint8_t *v = buf->vaddr;

		if (v < p->vaddr || v >= p->vaddr + p->size)
			continue;
		if (pool_give(p, (uint64_t)(v - p->vaddr), buf->size) == 0 && !p->used) {
			*pp = p->next;
			pool_destroy(c, p);
		}
		break;
	}
	pthread_mutex_unlock(&c->pool_lock);
	memset(buf, 0, sizeof(*buf));
}

void uvfio__pools_free(struct uvfio_container *c)
{
	pthread_mutex_lock(&c->pool_lock);
	while (c->pools) {
		struct uvfio__pool *p = c->pools;

		c->pools = p->next;
		pool_destroy(c, p);
	}
	pthread_mutex_unlock(&c->pool_lock);
}
