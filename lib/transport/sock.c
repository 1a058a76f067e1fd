// SPDX-License-Identifier: BSD-3-Clause
/*
 * UNIX socket setup: listen on a path, connect to it, accept.
 *
 * The one hazard is the path itself: a server must not delete a file it
 * doesn't own, nor steal the path of a server that is still running. A path
 * is reused only when it is a socket that refuses connections (stale).
 */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "transport.h"

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

int uvfio__sock_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = fill_addr(path, &sa);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		ret = -errno;
		close_fd(&fd);
		return ret;
	}
	return fd;
}

/* A socket file nobody accepts on is left over from a crashed server. */
static bool stale_socket(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) || !S_ISSOCK(st.st_mode))
		return false;
	fd = uvfio__sock_connect(path);
	if (fd >= 0) {
		close_fd(&fd);
		return false;
	}
	return fd == -ECONNREFUSED;
}

int uvfio__sock_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret = fill_addr(path, &sa);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		if (ret == -EADDRINUSE && stale_socket(path) && unlink(path) == 0 &&
		    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			ret = 0;
		if (ret) {
			close_fd(&fd);
			return ret;
		}
	}
	if (listen(fd, 16) < 0) {
		ret = -errno;
		close_fd(&fd);
		unlink(path);
		return ret;
	}
	return fd;
}

int uvfio__sock_accept(int lfd, int timeout_ms)
{
	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), r;

		if (fd >= 0)
			return fd;
		if (errno == EINTR && timeout_ms == 0)
			continue;
		if (errno == EINTR)
			return -EINTR;
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
			return -errno;
		if (timeout_ms == 0)
			return -EAGAIN;
		r = poll(&p, 1, timeout_ms);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
	}
}
