/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Everything SIGHUP reloads, as one immutable, reference-counted snapshot: config, signing
 * keys, the published JWKS and metadata documents, the TLS context and the rate limiters.
 * A request takes a reference for its whole life, so a reload never changes the rules
 * under a request that is half done.
 */
#ifndef ISSUER_STATE_H
#define ISSUER_STATE_H

#include <stdatomic.h>

#include <mesh/jwks.h>
#include <mesh/key.h>

#include "config.h"
#include "ratelimit.h"
#include "server_tls.h"

typedef struct shared_rl shared_rl_t;
typedef struct ca_issuing ca_issuing_t; /* ca/online.h */

typedef struct issuer_state {
    atomic_int refs;
    config_t *cfg;
    mesh_key_t *sign_key; /* signing_keys.current */
    mesh_jwks_t *jwks;    /* current, next, previous (public halves published) */
    char *jwks_json;
    char *metadata_json; /* RFC 8414 */
    char *audiences_json;
    tls_ctx_t *tls;
    shared_rl_t *rl_identity; /* kept across reloads while the rates stay the same */
    shared_rl_t *rl_source;
    ca_issuing_t *issuing; /* certificates.ca_cert/ca_key; NULL without a certificates section */
} issuer_state_t;

/*
 * Loads config, keys and TLS from `config_path`. `prev` (may be NULL) lends rate limiters
 * whose settings did not change. On failure writes a message to err.
 */
mesh_err_t state_load(const char *config_path, const issuer_state_t *prev, issuer_state_t **out,
                      char *err, size_t errlen);
issuer_state_t *state_ref(issuer_state_t *st);
void state_unref(issuer_state_t *st);

/* Rate limit check; true = go ahead. rate 0 means unlimited. */
bool state_rl_take(shared_rl_t *rl, const char *key, int *retry_after);
/* As state_rl_take, without taking a token. */
bool state_rl_peek(shared_rl_t *rl, const char *key, int *retry_after);

#endif /* ISSUER_STATE_H */
