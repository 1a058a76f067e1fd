/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Small helpers shared by every layer: byte-order accessors for wire and
 * PCI data (both little-endian), overflow-checked arithmetic for values a
 * peer controls, and fd hygiene. Nothing here allocates.
 */
#ifndef UVFIO_UTIL_H
#define UVFIO_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define UVFIO_PRINTF(f, a) __attribute__((format(printf, f, a)))

static inline bool is_pow2_u64(uint64_t v)
{
	return v && !(v & (v - 1));
}

static inline uint64_t align_up_u64(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * [start, start + len) as a range that must not wrap: returns false when
 * start + len overflows. len 0 is allowed and never wraps.
 */
static inline bool range_ok(uint64_t start, uint64_t len, uint64_t *end)
{
	return !__builtin_add_overflow(start, len, end);
}

/* True when [off, off + len) lies inside [0, size). */
static inline bool range_within(uint64_t off, uint64_t len, uint64_t size)
{
	uint64_t end;

	return range_ok(off, len, &end) && end <= size;
}

/* Little-endian loads and stores on possibly unaligned memory. */
static inline uint16_t get_le16(const void *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return v;
#else
	return __builtin_bswap16(v);
#endif
}

static inline uint32_t get_le32(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return v;
#else
	return __builtin_bswap32(v);
#endif
}

static inline uint64_t get_le64(const void *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return v;
#else
	return __builtin_bswap64(v);
#endif
}

static inline void put_le16(void *p, uint16_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline void put_le32(void *p, uint32_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline void put_le64(void *p, uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, sizeof(v));
}

/* Read up to 8 little-endian bytes as an integer (len 1, 2, 4 or 8). */
static inline uint64_t get_le_n(const void *p, unsigned len)
{
	uint8_t b[8] = {0};

	memcpy(b, p, len > 8 ? 8 : len);
	return get_le64(b);
}

static inline void put_le_n(void *p, uint64_t v, unsigned len)
{
	uint8_t b[8];

	put_le64(b, v);
	memcpy(p, b, len > 8 ? 8 : len);
}

/* close() that keeps errno and ignores -1; sets *fd to -1. */
static inline void close_fd(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
		*fd = -1;
	}
}

static inline void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close_fd(&fds[i]);
}

/* Function-local scratch only (STYLE 20): free on scope exit. */
static inline void free_ptr(void *p)
{
	void **pp = (void **)p;

	free(*pp);
}
#define _cleanup_free_ __attribute__((cleanup(free_ptr)))

#endif /* UVFIO_UTIL_H */
