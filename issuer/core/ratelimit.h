/* SPDX-License-Identifier: Apache-2.0 */
/* Token buckets keyed by a string (identity, or source address before authentication). */
#ifndef ISSUER_CORE_RATELIMIT_H
#define ISSUER_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit_t;

/* rate per second, burst tokens, at most max_keys tracked (least recently used evicted). */
ratelimit_t *ratelimit_new(double rate, double burst, size_t max_keys);
void ratelimit_free(ratelimit_t *rl);
/* Takes one token for key at time now_ms; false when empty, with *retry_after_s (>= 1).
 * Thread-safe. */
bool ratelimit_take(ratelimit_t *rl, const char *key, int64_t now_ms, int *retry_after_s);
/* As ratelimit_take, without taking: true when a token is there. Thread-safe. */
bool ratelimit_peek(ratelimit_t *rl, const char *key, int64_t now_ms, int *retry_after_s);
/* Keys tracked now (never above max_keys). Thread-safe. */
size_t ratelimit_count(ratelimit_t *rl);

#endif /* ISSUER_CORE_RATELIMIT_H */
