/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What every fuzz target shares: a cursor that hands out the fuzz input a
 * few bytes at a time (zeros once it runs out, so a short input is still a
 * complete, if dull, program), the leak checks run after each input (open
 * fds, live mappings of the harness's own memfds), and FZ_CHECK(), which
 * turns a broken invariant into a crash libFuzzer records.
 *
 * The targets check properties, not only survival: a round trip that loses
 * a field, a reply the server should never send, a table that disagrees
 * with its reference model — each aborts with a sentence saying which.
 */
#ifndef UVFIO_FUZZ_COMMON_H
#define UVFIO_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Abort (a crash for libFuzzer) with a message when @cond is false. */
#define FZ_CHECK(cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                           \
	} while (0)

__attribute__((noreturn, format(printf, 4, 5))) void fz_fail(const char *file, int line,
							       const char *cond, const char *fmt,
							       ...);

/* The input, consumed front to back. */
struct fz {
	const uint8_t *p;
	size_t n;
};

static inline void fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	f->p = data;
	f->n = size;
}

static inline bool fz_empty(const struct fz *f)
{
	return f->n == 0;
}

/* Copy up to @len bytes to @out, zero-filling what the input lacks; bytes taken. */
size_t fz_bytes(struct fz *f, void *out, size_t len);
uint8_t fz_u8(struct fz *f);
uint16_t fz_u16(struct fz *f);
uint32_t fz_u32(struct fz *f);
uint64_t fz_u64(struct fz *f);

/* A pointer to the next @len bytes (fewer if the input is shorter: *@got). */
const uint8_t *fz_take(struct fz *f, size_t len, size_t *got);

/* Open fds of this process. */
int fz_fd_count(void);

/* Lines of /proc/self/maps that contain @needle (e.g. "memfd:fuzz-"). */
int fz_maps_count(const char *needle);

/*
 * A log hook for the library: drops everything (the library still formats
 * every message, so that code runs), unless UVFIO_FUZZ_LOG=N in the
 * environment asks for messages up to level N (1 errors ... 4 debug) on stderr.
 */
void fz_log_sink(void *priv, int level, const char *msg);

/*
 * A memfd named "fuzz-@name" of @size bytes whose every 8-byte word holds
 * @tag << 56 | its own offset, so a pointer into any mapping of it can be
 * checked for pointing where it should. -1 on failure.
 */
int fz_pattern_memfd(const char *name, unsigned tag, uint64_t size);
static inline uint64_t fz_pattern(unsigned tag, uint64_t off)
{
	return (uint64_t)tag << 56 | (off & ~7ull);
}

/* Milliseconds on the monotonic clock. */
uint64_t fz_now_ms(void);

#endif /* UVFIO_FUZZ_COMMON_H */
