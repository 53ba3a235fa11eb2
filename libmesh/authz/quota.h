/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rate limits of mesh-authz's routes: "N/period" counted per route and per (route, subject)
 * with a sliding window (the previous window's count weighted by how much of it still
 * overlaps the last `period`, plus the current one's: Cloudflare's sliding-window counter,
 * exact for a steady rate and never off by more than one window's share at a burst). At most
 * MESH_AUTHZ_MAX_RATE_KEYS counters live at once, kept across SIGHUP reloads (keyed by route
 * name and subject); a counter whose windows have passed is reused. Thread-safe (one mutex:
 * a probe of a few slots and two additions). Per process: see docs/AUTHZ.md for replicas.
 */
#ifndef AUTHZ_QUOTA_H
#define AUTHZ_QUOTA_H

#include <stdint.h>

#include "config.h"

typedef enum {
    QUOTA_OK = 0,
    QUOTA_LIMITED = 1, /* over a quota: *retry_after says when to try again */
    QUOTA_FULL = 2,    /* no counter left for a new key: refuse (fail closed) */
} quota_verdict_t;

/* Counts one allowed request of `subject` on `r` at `now` (seconds, monotonic) against the
 * route's quotas; nothing is counted when it is refused. */
quota_verdict_t quota_take(const route_t *r, const char *subject, int64_t now,
                           int64_t *retry_after);
void quota_reset(void); /* tests */

#endif /* AUTHZ_QUOTA_H */
