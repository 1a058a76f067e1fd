/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device side's DMA map table: which IOVA ranges the client has mapped,
 * with what permissions, and where each one lives in this process.
 *
 * Semantics are the Type1 IOMMU's as vfio-user states them: a new mapping
 * may not overlap any existing one (-EEXIST), an unmap must name exactly one
 * earlier mapping (-ENOENT otherwise), unmap-all empties the table, ranges
 * that wrap are refused, and the negotiated maximum number of mappings is
 * enforced (-ENOSPC). Addresses, sizes and file offsets must be multiples of
 * UVFIO__DMA_PAGE.
 *
 * Mappings that come with an fd are reached through one mmap per backing
 * file (identified by st_dev/st_ino), not one per mapping, so a million live
 * mappings of one memfd cost one VMA rather than hitting vm.max_map_count.
 * The received fd is closed once its file is mapped (the mapping keeps the
 * file alive). Mappings without an fd are recorded too; translating them
 * yields no pointer, and the caller falls back to DMA_READ/DMA_WRITE.
 *
 * Lookups are O(log n); bookkeeping is at most 48 bytes per mapping.
 * Not thread-safe: the owning context serialises every call.
 */
#ifndef UVFIO_EMU_DMATABLE_H
#define UVFIO_EMU_DMATABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UVFIO__DMA_PAGE 4096u

/* Permissions, from the device's point of view. */
#define UVFIO__DMA_PROT_READ  1u /* device may read the memory */
#define UVFIO__DMA_PROT_WRITE 2u /* device may write the memory */

struct uvfio__dma_table;

/* A mapping, as reported by lookups and iteration. */
struct uvfio__dma_range {
	uint64_t iova;   /* first byte */
	uint64_t size;   /* bytes */
	uint32_t prot;   /* UVFIO__DMA_PROT_* */
	bool has_fd;     /* false: message-based (DMA_READ/WRITE) */
	uint8_t *host;   /* where iova maps in this process, or NULL without fd */
};

/**
 * uvfio__dmat_create() - an empty table.
 * @max_maps: most simultaneous mappings (>= 1)
 * @out:      the table; free with uvfio__dmat_destroy()
 *
 * Return: 0 or -ENOMEM.
 */
int uvfio__dmat_create(uint64_t max_maps, struct uvfio__dma_table **out);

/* Drop every mapping and file mapping, then free. Accepts NULL. */
void uvfio__dmat_destroy(struct uvfio__dma_table *t);

/* Change the limit; existing mappings above it stay. */
void uvfio__dmat_set_max(struct uvfio__dma_table *t, uint64_t max_maps);

/**
 * uvfio__dmat_map() - add a mapping.
 * @t:      table
 * @iova:   start (multiple of UVFIO__DMA_PAGE)
 * @size:   bytes (non-zero multiple of UVFIO__DMA_PAGE)
 * @prot:   non-zero subset of UVFIO__DMA_PROT_*
 * @fd:     in: backing fd or -1. On success the table owns it and sets *fd
 *          to -1 (it may already be closed). On failure *fd is untouched
 *          and still the caller's to close.
 * @offset: offset of @iova within the fd (multiple of UVFIO__DMA_PAGE);
 *          must be 0 without an fd
 *
 * Return: 0; -EINVAL (alignment, zero size, unknown prot bits, offset
 * without fd, iova + size or offset + size wrapping); -EEXIST (overlaps an
 * existing mapping, identical ones included); -ENOSPC (table full);
 * -EACCES (write permission asked but the fd is read-only); -ENODEV (the
 * fd can't be mmap'ed); -ERANGE ([offset, offset + size) beyond the end of
 * a regular file); -ENOMEM.
 */
int uvfio__dmat_map(struct uvfio__dma_table *t, uint64_t iova, uint64_t size, uint32_t prot,
		    int *fd, uint64_t offset);

/**
 * uvfio__dmat_find_exact() - the mapping that starts at @iova with @size.
 *
 * Return: 0 and *@out filled, or -ENOENT.
 */
int uvfio__dmat_find_exact(const struct uvfio__dma_table *t, uint64_t iova, uint64_t size,
			   struct uvfio__dma_range *out);

/**
 * uvfio__dmat_unmap() - remove the mapping that is exactly [iova, iova+size).
 *
 * The file mapping goes away with the last table entry that uses it.
 *
 * Return: 0 or -ENOENT (no mapping matches exactly; nothing changed).
 */
int uvfio__dmat_unmap(struct uvfio__dma_table *t, uint64_t iova, uint64_t size);

/* Remove every mapping. */
void uvfio__dmat_unmap_all(struct uvfio__dma_table *t);

/**
 * uvfio__dmat_lookup() - translate one address.
 * @t:    table
 * @iova: address to translate
 * @out:  the mapping that contains it
 *
 * Hot path for device models; O(log n) worst case, with a one-entry cache
 * in front for repeated hits on the same mapping.
 *
 * Return: 0, or -EFAULT when no mapping contains @iova.
 */
int uvfio__dmat_lookup(struct uvfio__dma_table *t, uint64_t iova, struct uvfio__dma_range *out);

/**
 * uvfio__dmat_lookup_many() - uvfio__dmat_lookup() for @n addresses at once,
 * with the cache misses of independent lookups overlapped.
 *
 * Return: how many leading addresses were translated: @n, or the index of
 * the first one no mapping contains (out[] is filled up to it).
 */
size_t uvfio__dmat_lookup_many(struct uvfio__dma_table *t, const uint64_t *iova, size_t n,
			       struct uvfio__dma_range *out);

/**
 * uvfio__dmat_foreach() - visit every mapping in IOVA order.
 * @fn: called per mapping; a non-zero return stops the walk and is returned
 *
 * The table must not be changed from @fn.
 */
int uvfio__dmat_foreach(const struct uvfio__dma_table *t,
			int (*fn)(void *priv, const struct uvfio__dma_range *r), void *priv);

/* Number of live mappings. */
uint64_t uvfio__dmat_count(const struct uvfio__dma_table *t);

/* Bytes of heap the table uses for its bookkeeping right now. */
size_t uvfio__dmat_mem_bytes(const struct uvfio__dma_table *t);

/* Number of distinct file mappings (mmaps) alive. */
unsigned uvfio__dmat_file_maps(const struct uvfio__dma_table *t);

#endif /* UVFIO_EMU_DMATABLE_H */
