/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier's cache of verified tokens, so a repeated token costs a hash and a lookup
 * instead of a signature check. Set-associative (4 ways) with one read-write lock per stripe
 * of sets; bounded. The entries are identities (jwt.h). Internal.
 *
 * Every entry carries the key-set generation it was verified under (jwks_cache.h); a lookup
 * with another generation is a miss. So no entry outlives the key set that verified it: not
 * when a key leaves, not when a key is replaced under the same kid, and not when a put of a
 * verification that began before a swap lands after the swap's purge.
 *
 * Keyed by the whole token, not by its SHA-256: an entry holds a copy of the token and a hit
 * is an exact comparison, found through a fast seeded 64-bit hash. SHA-256 of an 800-byte
 * token alone costs about as much as the rest of a cached verification (docs/PERFORMANCE.md),
 * and an exact comparison cannot collide at all; the seed keeps the set choice unpredictable.
 */
#ifndef MESH_TOKEN_CACHE_H
#define MESH_TOKEN_CACHE_H

#include <stdatomic.h>
#include <stdint.h>

#include <mesh/jwks.h>
#include <mesh/jwt.h>
#include <mesh/verifier.h>

typedef struct mesh_tcache mesh_tcache_t;

/* A cache of about `entries` tokens (rounded up); *out NULL when entries is 0. */
mesh_err_t mesh_tcache_new(size_t entries, mesh_tcache_t **out);
void mesh_tcache_free(mesh_tcache_t *c);

/* The cache's hash of a token (seeded per cache). */
uint64_t mesh_tcache_hash(const mesh_tcache_t *c, const char *tok, size_t len);

/* The identity cached for the token under key-set `generation` (a new reference), or NULL.
 * Thread-safe. */
mesh_identity_t *mesh_tcache_get(mesh_tcache_t *c, uint64_t h, const char *tok, size_t len,
                                 uint64_t generation);

/* Caches `id` (the cache takes its own reference), verified under key-set `generation`,
 * evicting the entry that expires first. Never replaces the token's entry of a newer
 * generation. */
void mesh_tcache_put(mesh_tcache_t *c, uint64_t h, const char *tok, size_t len, mesh_identity_t *id,
                     uint64_t generation);

/* Drops the entry for the token, if any. */
void mesh_tcache_remove(mesh_tcache_t *c, uint64_t h, const char *tok, size_t len);

/* Drops every entry verified under a generation before `generation` (after a JWKS swap: they
 * are misses already, this frees them). */
void mesh_tcache_purge_before(mesh_tcache_t *c, uint64_t generation);

#endif /* MESH_TOKEN_CACHE_H */
