/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set of revoked jtis a verifier holds, filled from the issuer's feed
 * GET /v1/revocations?since=N -> {"seq":N,"revoked":[{"jti":...,"exp":...}]}. Striped: a
 * lookup takes one stripe's read lock. Entries leave once their token has expired. Internal.
 */
#ifndef MESH_REVOCATIONS_H
#define MESH_REVOCATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <mesh/error.h>

#include "http.h"

#define MESH_MAX_REVOKED 1000000   /* jtis held at once */
#define MESH_MAX_FEED_BYTES (4 * 1024 * 1024)

typedef struct mesh_revset mesh_revset_t;

mesh_err_t mesh_revset_new(mesh_revset_t **out);
void mesh_revset_free(mesh_revset_t *s);

/* true when `jti` is in the set. Thread-safe. */
bool mesh_revset_contains(mesh_revset_t *s, const char *jti);

/* Adds a jti that stays until `exp`. */
mesh_err_t mesh_revset_add(mesh_revset_t *s, const char *jti, int64_t exp);

/* Drops entries whose exp is before `before`. */
void mesh_revset_prune(mesh_revset_t *s, int64_t before);

size_t mesh_revset_count(mesh_revset_t *s);

/* Applies one feed document ({"seq":N,"revoked":[...]}) of `len` bytes; `what` names it. */
mesh_err_t mesh_revset_apply(mesh_revset_t *s, const char *body, size_t len, const char *what,
                             int64_t *since);

/*
 * One poll of the feed at `url` (…/v1/revocations) from *since; on success the new jtis are
 * in the set and *since is the feed's seq. A seq lower than ours (the issuer's store was
 * reset) restarts from 0.
 */
mesh_err_t mesh_revset_poll(mesh_revset_t *s, mesh_http_t *http, const char *url,
                            int64_t *since);

#endif /* MESH_REVOCATIONS_H */
