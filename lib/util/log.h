/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-context logging. Off by default; the level can change at run time.
 * The check happens before formatting, so disabled logging costs one branch
 * on the hot path.
 */
#ifndef UVFIO_LOG_H
#define UVFIO_LOG_H

#include <stdarg.h>

#include "uvfio/common.h"
#include "util.h"

struct uvfio__log {
	uvfio_log_fn fn;    /* NULL: write to stderr */
	void *priv;         /* passed to fn */
	int level;          /* enum uvfio_log_level; 0 = off */
	const char *prefix; /* prepended as "prefix: ", or NULL */
};

void uvfio__logf(const struct uvfio__log *l, int level, const char *fmt, ...) UVFIO_PRINTF(3, 4);
void uvfio__vlogf(const struct uvfio__log *l, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#define uvfio__log_on(l, lvl) unlikely((l)->level >= (lvl))

#define log_err(l, ...)                                                                            \
	do {                                                                                       \
		if (uvfio__log_on(l, UVFIO_LOG_ERR))                                              \
			uvfio__logf(l, UVFIO_LOG_ERR, __VA_ARGS__);                               \
	} while (0)
#define log_warn(l, ...)                                                                           \
	do {                                                                                       \
		if (uvfio__log_on(l, UVFIO_LOG_WARN))                                             \
			uvfio__logf(l, UVFIO_LOG_WARN, __VA_ARGS__);                              \
	} while (0)
#define log_info(l, ...)                                                                           \
	do {                                                                                       \
		if (uvfio__log_on(l, UVFIO_LOG_INFO))                                             \
			uvfio__logf(l, UVFIO_LOG_INFO, __VA_ARGS__);                              \
	} while (0)
#define log_debug(l, ...)                                                                          \
	do {                                                                                       \
		if (uvfio__log_on(l, UVFIO_LOG_DEBUG))                                            \
			uvfio__logf(l, UVFIO_LOG_DEBUG, __VA_ARGS__);                             \
	} while (0)

#endif /* UVFIO_LOG_H */
