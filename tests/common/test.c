// SPDX-License-Identifier: BSD-3-Clause
/*
 * fd-leak checking around each test: the set of open fds before and after
 * must match. The list is read from /proc/self/fd.
 *
 * And TAP skips: cmocka 1.1 prints a skipped test as "not ok N # SKIP",
 * which meson and scripts/check.py (rightly, per TAP) count as a failure.
 * uvfio_test_tap() puts a glibc cookie stream in front of stdout that
 * rewrites those lines to "ok N # SKIP" and passes everything else through.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

struct tap_cookie {
	char line[8192];
	size_t len;
};

static void tap_emit(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void tap_flush_line(struct tap_cookie *c)
{
	static const char bad[] = "not ok ";

	if (c->len > sizeof(bad) && !memcmp(c->line, bad, sizeof(bad) - 1) &&
	    memmem(c->line, c->len, "# SKIP", 6))
		tap_emit(c->line + 4, c->len - 4);
	else
		tap_emit(c->line, c->len);
	c->len = 0;
}

static ssize_t tap_write(void *cookie, const char *buf, size_t size)
{
	struct tap_cookie *c = cookie;

	for (size_t i = 0; i < size; i++) {
		c->line[c->len++] = buf[i];
		if (buf[i] == '\n' || c->len == sizeof(c->line))
			tap_flush_line(c);
	}
	return (ssize_t)size;
}

static int tap_close(void *cookie)
{
	struct tap_cookie *c = cookie;

	if (c->len)
		tap_flush_line(c);
	return 0;
}

void uvfio_test_tap(void)
{
	static struct tap_cookie cookie;
	static const cookie_io_functions_t io = { .write = tap_write, .close = tap_close };
	FILE *f;

	fflush(stdout);
	f = fopencookie(&cookie, "w", io);
	if (!f)
		return; /* skips would show as failures, nothing worse */
	setvbuf(f, NULL, _IOLBF, 0);
	stdout = f;
}

#define MAX_TRACKED 1024

static int before[MAX_TRACKED];
static int nbefore;

static int list_fds(int *out, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0, self;

	if (!d)
		return -1;
	self = dirfd(d);
	while ((e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.')
			continue;
		fd = atoi(e->d_name);
		if (fd != self && n < max)
			out[n++] = fd;
	}
	closedir(d);
	return n;
}

int uvfio_test_fd_count(void)
{
	int fds[MAX_TRACKED];

	return list_fds(fds, MAX_TRACKED);
}

int uvfio_test_fd_setup(void **state)
{
	(void)state;
	nbefore = list_fds(before, MAX_TRACKED);
	return nbefore < 0 ? -1 : 0;
}

int uvfio_test_fd_teardown(void **state)
{
	int after[MAX_TRACKED];
	int n = list_fds(after, MAX_TRACKED), leaked = 0;

	(void)state;
	for (int i = 0; i < n; i++) {
		bool found = false;

		for (int j = 0; j < nbefore; j++)
			found |= after[i] == before[j];
		if (!found) {
			char path[64], target[256] = "?";
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/self/fd/%d", after[i]);
			l = readlink(path, target, sizeof(target) - 1);
			if (l > 0)
				target[l] = '\0';
			printf("# leaked fd %d -> %s\n", after[i], target);
			leaked++;
		}
	}
	return leaked ? -1 : 0;
}
