/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jti replay cache of single-use routes: a token's (iss, jti) is remembered until its exp,
 * and a second use is refused. At most MESH_AUTHZ_MAX_REPLAY_ENTRIES entries; an entry past
 * its exp is reused; when none is free the request is refused (fail closed: forgetting a jti
 * early would let that token in twice). Thread-safe. Per process only (docs/AUTHZ.md says how
 * to deploy replicas).
 */
#ifndef AUTHZ_REPLAY_H
#define AUTHZ_REPLAY_H

#include <stdint.h>

typedef enum {
    REPLAY_FIRST = 0, /* first use: now remembered */
    REPLAY_SEEN = 1,  /* used before */
    REPLAY_FULL = 2,  /* no room: refuse */
} replay_verdict_t;

/* `now` and `exp` in Unix seconds (the token's clock). */
replay_verdict_t replay_use(const char *iss, const char *jti, int64_t exp, int64_t now);
void replay_reset(void); /* tests */

#endif /* AUTHZ_REPLAY_H */
