// SPDX-License-Identifier: BSD-3-Clause
/*
 * Formatting for the per-context log hook. Messages are built in a bounded
 * stack buffer (long ones are cut, never allocated) so logging cannot fail
 * or allocate on a peer's behalf.
 */
#include <stdio.h>

#include "log.h"

static const char *const level_names[] = {
	[UVFIO_LOG_ERR] = "error",
	[UVFIO_LOG_WARN] = "warning",
	[UVFIO_LOG_INFO] = "info",
	[UVFIO_LOG_DEBUG] = "debug",
};

void uvfio__vlogf(const struct uvfio__log *l, int level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = 0;

	if (level <= UVFIO_LOG_NONE || level > UVFIO_LOG_DEBUG || l->level < level)
		return;
	if (l->prefix)
		n = snprintf(buf, sizeof(buf), "%s: ", l->prefix);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	if (l->fn) {
		l->fn(l->priv, level, buf);
	} else {
		int saved = errno;

		fprintf(stderr, "uvfio %s: %s\n", level_names[level], buf);
		errno = saved;
	}
}

void uvfio__logf(const struct uvfio__log *l, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uvfio__vlogf(l, level, fmt, ap);
	va_end(ap);
}
