// SPDX-License-Identifier: BSD-3-Clause
/*
 * Helpers shared by the fuzz targets: the input cursor, leak counters and
 * the failure path. Nothing here allocates per call except the pattern
 * memfd, which the caller closes.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_common.h"

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==fuzz== %s:%d: check failed: %s\n==fuzz== ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

size_t fz_bytes(struct fz *f, void *out, size_t len)
{
	size_t n = len < f->n ? len : f->n;

	memcpy(out, f->p, n);
	memset((uint8_t *)out + n, 0, len - n);
	f->p += n;
	f->n -= n;
	return n;
}

uint8_t fz_u8(struct fz *f)
{
	uint8_t v;

	fz_bytes(f, &v, 1);
	return v;
}

uint16_t fz_u16(struct fz *f)
{
	uint8_t b[2];

	fz_bytes(f, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t fz_u32(struct fz *f)
{
	return fz_u16(f) | (uint32_t)fz_u16(f) << 16;
}

uint64_t fz_u64(struct fz *f)
{
	return fz_u32(f) | (uint64_t)fz_u32(f) << 32;
}

const uint8_t *fz_take(struct fz *f, size_t len, size_t *got)
{
	const uint8_t *p = f->p;

	*got = len < f->n ? len : f->n;
	f->p += *got;
	f->n -= *got;
	return p;
}

int fz_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	FZ_CHECK(d, "cannot open /proc/self/fd");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int fz_maps_count(const char *needle)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	FZ_CHECK(f, "cannot open /proc/self/maps");
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

void fz_log_sink(void *priv, int level, const char *msg)
{
	static int verbose = -1;

	(void)priv;
	if (verbose < 0)
		verbose = getenv("UVFIO_FUZZ_LOG") ? atoi(getenv("UVFIO_FUZZ_LOG")) : 0;
	if (level <= verbose)
		fprintf(stderr, "[%d] %s\n", level, msg);
}

int fz_pattern_memfd(const char *name, unsigned tag, uint64_t size)
{
	char nm[64];
	uint64_t *p;
	int fd;

	snprintf(nm, sizeof(nm), "fuzz-%s", name);
	fd = memfd_create(nm, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size)) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -1;
	}
	for (uint64_t i = 0; i < size / 8; i++)
		p[i] = fz_pattern(tag, i * 8);
	munmap(p, size);
	return fd;
}

uint64_t fz_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
