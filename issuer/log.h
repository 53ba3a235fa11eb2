/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer's operational log: one JSON object per line on stderr, written with a single
 * write(2) so lines from different threads never interleave. Never pass a token, a client
 * secret or key material.
 */
#ifndef ISSUER_LOG_H
#define ISSUER_LOG_H

#include <mesh/jansson.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Minimum level written (default LOG_INFO). Not thread-safe: set before starting workers. */
void log_set_level(log_level_t level);

/*
 * Writes {"time":..,"level":..,"msg":msg, ...fields}. `fields` is an object or NULL and is
 * taken (decref'd). Thread-safe.
 */
void log_json(log_level_t level, const char *msg, json_t *fields);

/* Shorthand with a printf-formatted "detail" field. */
void log_msg(log_level_t level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* ISSUER_LOG_H */
