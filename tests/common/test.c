// SPDX-License-Identifier: BSD-3-Clause
/*
 * fd-leak checking around each test: the set of open fds before and after
 * must match. The list is read from /proc/self/fd.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

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
