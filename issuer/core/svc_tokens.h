/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service tokens: client id + secret for callers that cannot hold a certificate (CI).
 * The secret is >= 256 random bits, shown once, stored only as salted SHA-256; checks are
 * constant-time, and an unknown id costs the same as a wrong secret.
 */
#ifndef ISSUER_CORE_SVC_TOKENS_H
#define ISSUER_CORE_SVC_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/limits.h>

#include "store.h"

/*
 * Creates NAME ([a-z0-9-], 1-63, like a DNS label; else MESH_ERR_CONFIG naming the rule);
 * audiences comma-separated (non-empty), scopes space-separated ("" = all the audience
 * allows); lifetime_s > 0. Writes the new client id ("msi_...") and secret ("mss_...",
 * NUL-terminated) for printing once; MESH_ERR_CONFIG when the name exists.
 */
mesh_err_t svc_token_create(store_t *s, const char *name, const char *audiences, const char *scopes,
                            int64_t lifetime_s, int64_t now, char client_id[64],
                            char secret[MESH_MAX_CLIENT_SECRET]);
/* New secret; the old one stays valid for grace_s seconds (0: at once invalid). */
mesh_err_t svc_token_rotate(store_t *s, const char *name, int64_t grace_s, int64_t now,
                            char secret[MESH_MAX_CLIENT_SECRET]);
/*
 * Revokes the service token `name`, and every access token it obtained: a feed entry for
 * subject svc-token:<name> issued before now + 1, kept for `max_lifetime` (the longest a
 * token lives, plus clock skew). Revoking again writes a new entry (harmless).
 */
mesh_err_t svc_token_revoke(store_t *s, const char *name, int64_t now, int64_t max_lifetime);
/*
 * Authenticates client_id + secret. On success fills *rec. Unknown id, wrong secret, revoked
 * and expired all return MESH_ERR_ISSUER_ERROR with the same caller-visible outcome; the
 * precise reason goes to *why (static string) for the audit log: "unknown_client",
 * "wrong_secret", "revoked", "expired", "store_error", or on success "ok" /
 * "ok_previous_secret". A store failure returns the store's error (a 500, not a 401).
 */
mesh_err_t svc_token_check(store_t *s, const char *client_id, const char *secret, int64_t now,
                           svc_token_rec_t *rec, const char **why);

#endif /* ISSUER_CORE_SVC_TOKENS_H */
