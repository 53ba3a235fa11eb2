/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier's key cache: a refcounted JWKS snapshot behind a big-reader lock (readers
 * take only their own stripe), refreshed from a file, a URL, or the URL an issuer's RFC 8414
 * metadata names. Honours Cache-Control max-age (clamped), serves stale keys while fetches
 * fail (stale-if-error), and lets an unknown kid trigger at most one fetch per cooldown.
 * Internal.
 */
#ifndef MESH_JWKS_CACHE_H
#define MESH_JWKS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include <mesh/jwks.h>
#include <mesh/jwt.h>
#include <mesh/verifier.h>

#include "http.h"

/* Called after `new_set` is installed as key-set generation `generation`. */
typedef void (*mesh_jwks_swap_fn)(void *ctx, const mesh_jwks_t *new_set, uint64_t generation);

typedef struct {
    mesh_jwks_source_t source;
    const char *issuer;
    const char *location;
    mesh_http_t *http; /* borrowed; NULL for a file source */
    int64_t cooldown_ms;
    int64_t max_age_min, max_age_max, stale_if_error; /* seconds */
    mesh_clock_fn clock;
    void *clock_ctx;
    unsigned algs; /* allowed algorithms (key_select.h); 0: the mesh rules of mesh_jwks_parse */
    mesh_jwks_swap_fn on_swap; /* called after a new set is installed (cache purge) */
    void *swap_ctx;
} mesh_jwks_cache_opts_t;

typedef struct mesh_jwks_cache mesh_jwks_cache_t;

mesh_err_t mesh_jwks_cache_new(const mesh_jwks_cache_opts_t *opts, mesh_jwks_cache_t **out);
void mesh_jwks_cache_free(mesh_jwks_cache_t *c);

/* The current set (a new reference; mesh_jwks_free()), or NULL when there are no usable
 * keys: never fetched, or stale beyond the stale-if-error window. *generation (optional) gets
 * the set's generation, read with it. Thread-safe, no global lock. */
mesh_jwks_t *mesh_jwks_cache_get(mesh_jwks_cache_t *c, uint64_t *generation);

/* false when the keys are too stale to use (past max-age + stale-if-error) or never came: a
 * verification remembered from them must not be answered either. One atomic load. */
bool mesh_jwks_cache_usable(mesh_jwks_cache_t *c);

/*
 * The key-set generation: 0 before any set, then bumped on every install (every successful
 * fetch, same keys or not), before the new set is visible. Whatever was verified with a set of
 * generation g may be trusted only while this is still g. One atomic load.
 */
uint64_t mesh_jwks_cache_generation(mesh_jwks_cache_t *c);

/* Fetches now (single-flight: a caller arriving during a fetch waits for it instead). */
mesh_err_t mesh_jwks_cache_fetch(mesh_jwks_cache_t *c);

/*
 * For an unknown kid or an empty cache: fetches unless one happened within the cooldown.
 * MESH_OK means "a fetch completed (by us or another thread), look again"; MESH_ERR_LIMIT
 * means the cooldown suppressed it.
 */
mesh_err_t mesh_jwks_cache_fetch_limited(mesh_jwks_cache_t *c);

/* Monotonic ms at which the background thread should fetch again. */
long long mesh_jwks_cache_due_ms(mesh_jwks_cache_t *c);

/* The last fetch's error detail ("" after a success), copied into buf. */
void mesh_jwks_cache_last_error(mesh_jwks_cache_t *c, char *buf, size_t cap);

/*
 * The keys the installed set left out under the algorithm list: how many, and for `kid`
 * (`kid_len` bytes) why, into `why` (true when that kid was one of them). Thread-safe; takes a
 * lock (only on an unknown kid).
 */
uint64_t mesh_jwks_cache_skipped(mesh_jwks_cache_t *c);
bool mesh_jwks_cache_skipped_kid(mesh_jwks_cache_t *c, const char *kid, size_t kid_len, char *why,
                                 size_t cap);

/* Fetches attempted so far. */
uint64_t mesh_jwks_cache_fetches(mesh_jwks_cache_t *c);

#endif /* MESH_JWKS_CACHE_H */
