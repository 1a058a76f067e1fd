/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * uvfio — definitions shared by every public header.
 *
 * Conventions that hold across the whole API: every int-returning function
 * returns 0 (or a documented non-negative count) on success and a negative
 * errno on failure; constructors fill an out-parameter; nothing aborts or
 * exits; structs that cross the API start with an argsz field that the
 * caller sets to sizeof() the struct it filled, so the struct can grow.
 */
#ifndef UVFIO_COMMON_H
#define UVFIO_COMMON_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(UVFIO_BUILDING_LIBRARY)
#define UVFIO_EXPORT __attribute__((visibility("default")))
#else
#define UVFIO_EXPORT
#endif

#define UVFIO_VERSION_MAJOR 0
#define UVFIO_VERSION_MINOR 1

/**
 * enum uvfio_log_level - how much a context reports through its log hook.
 *
 * Logging is off (UVFIO_LOG_NONE) unless the caller turns it on; it can be
 * changed at any time. UVFIO_LOG_DEBUG describes every message exchanged.
 */
enum uvfio_log_level {
	UVFIO_LOG_NONE = 0,
	UVFIO_LOG_ERR = 1,
	UVFIO_LOG_WARN = 2,
	UVFIO_LOG_INFO = 3,
	UVFIO_LOG_DEBUG = 4,
};

/**
 * typedef uvfio_log_fn - receives one log line (no trailing newline).
 * @priv:  the pointer registered with the hook
 * @level: an enum uvfio_log_level other than UVFIO_LOG_NONE
 * @msg:   NUL-terminated text, valid only during the call
 */
typedef void (*uvfio_log_fn)(void *priv, int level, const char *msg);

/* Bus address as seen by the device (an IOVA, or a guest-physical address). */
typedef uint64_t uvfio_iova_t;

#ifdef __cplusplus
}
#endif

#endif /* UVFIO_COMMON_H */
