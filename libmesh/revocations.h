/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a verifier knows is revoked, filled from the issuer's feed
 * GET /v1/revocations?since=N -> {"seq":N,"revoked":[...],"more":true}. An entry revokes
 *   {"jti":J,"exp":E}               the one token J;
 *   {"sub":S,"iat_before":T,"exp":E} every token of subject S issued before T (its service
 *                                    token or certificate credential was revoked at T);
 *   {"x5t#S256":X,"exp":E}          every token bound to certificate X (RFC 8705);
 * and is kept until E. Internal.
 *
 * The set is a hash table keyed with SipHash-2-4 under a random key per set, so feed contents
 * cannot be chosen to collide; it is striped (a lookup takes one stripe's read lock) and each
 * stripe's bucket array grows with its entries. Polls are serialized by the set.
 *
 * A set that knows it is missing revocations (it is full, a poll stopped with pages unread, or
 * a page could not be applied) is *incomplete*: mesh_revset_usable() then refuses, and the
 * verifier refuses every token (fail closed) until a later poll reads the feed to its end.
 */
#ifndef MESH_REVOCATIONS_H
#define MESH_REVOCATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

#include "http.h"

typedef enum {
    MESH_REV_JTI = 0,
    MESH_REV_SUB = 1,
    MESH_REV_X5T = 2,
    MESH_REV_KINDS
} mesh_rev_kind_t;

typedef struct mesh_revset mesh_revset_t;

/* SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012) of `len`
 * bytes under the 128-bit key `k`. */
uint64_t mesh_siphash24(const uint8_t k[16], const void *msg, size_t len);

/* A new empty set with fresh random hash keys (RAND_bytes). */
mesh_err_t mesh_revset_new(mesh_revset_t **out);
void mesh_revset_free(mesh_revset_t *s); /* NULL-safe */

/* Lowers (or restores) the entry limit, MESH_MAX_REVOKED by default. For tests. */
void mesh_revset_set_max(mesh_revset_t *s, size_t max);

/* The set's keyed hash of `key` for `kind` (tests: two sets hash differently). */
uint64_t mesh_revset_hash(const mesh_revset_t *s, mesh_rev_kind_t kind, const char *key);

/* Lookups; thread-safe, no allocation. A kind with no entries costs one atomic load. */
bool mesh_revset_contains(mesh_revset_t *s, const char *jti);
/* true when a credential revocation of `sub` came after the token's `iat`. */
bool mesh_revset_sub_revoked(mesh_revset_t *s, const char *sub, int64_t iat);
bool mesh_revset_x5t_revoked(mesh_revset_t *s, const char *x5t);

/*
 * Adds an entry kept until `exp` (iat_before: MESH_REV_SUB only). The same key again keeps the
 * later exp and the later iat_before. MESH_ERR_LIMIT for an empty or oversized key, or when the
 * set holds its maximum. Thread-safe.
 */
mesh_err_t mesh_revset_add(mesh_revset_t *s, const char *jti, int64_t exp);
mesh_err_t mesh_revset_add_entry(mesh_revset_t *s, mesh_rev_kind_t kind, const char *key,
                                 int64_t iat_before, int64_t exp);

/* Drops entries whose exp is before `before`. */
void mesh_revset_prune(mesh_revset_t *s, int64_t before);

size_t mesh_revset_count(mesh_revset_t *s); /* all kinds */
size_t mesh_revset_count_kind(mesh_revset_t *s, mesh_rev_kind_t kind);

/*
 * Applies one feed page of `len` bytes (`what` names it in errors). Every entry is checked
 * before any is added: a malformed page (an entry with none of jti/sub/x5t#S256, a sub without
 * an integer iat_before, no integer exp) is MESH_ERR_JSON naming the entry, and adds nothing.
 * Entries already expired (exp < drop_before) are skipped. A full set is pruned at drop_before
 * once; still full, MESH_ERR_LIMIT. On success *seq and *more are the page's.
 */
mesh_err_t mesh_revset_apply(mesh_revset_t *s, const char *body, size_t len, const char *what,
                             int64_t drop_before, int64_t *seq, bool *more);

/*
 * One poll of the feed at `url` (.../v1/revocations): prunes entries with exp < drop_before
 * first, then reads pages from the set's last seq while the issuer answers "more", at most
 * MESH_MAX_FEED_PAGES_PER_POLL. A seq lower than ours (the issuer's store was reset) reads the
 * feed again from 0. Ends with the set complete when the last page said no more; incomplete
 * (see above) when it knows entries are unread. The first page failing to arrive (network,
 * HTTP status) leaves the state as it was. Returns the first error; a set left incomplete by a
 * full set or the page bound is MESH_ERR_REVOCATIONS_INCOMPLETE. Serialized per set.
 */
mesh_err_t mesh_revset_poll(mesh_revset_t *s, mesh_http_t *http, const char *url,
                            int64_t drop_before);

/* MESH_OK when the set is complete; else MESH_ERR_REVOCATIONS_INCOMPLETE saying why. Cheap
 * (one atomic load) when complete. Thread-safe. */
mesh_err_t mesh_revset_usable(mesh_revset_t *s);

#endif /* MESH_REVOCATIONS_H */
