/* SPDX-License-Identifier: Apache-2.0 */
/* Shared setup for the client tests: a temp dir with test certificates, keys, tokens. */
#ifndef CLIENT_TESTUTIL_H
#define CLIENT_TESTUTIL_H

#include <stdbool.h>
#include <stdint.h>

#include <mesh/mesh.h>

typedef struct {
    char dir[256]; /* temp dir; certs in dir/certs */
    char certs[300];
    uint8_t *a_der, *b_der; /* svc-a's and svc-b's leaf DER */
    size_t a_len, b_len;
    char a_x5t[MESH_X5T_LEN + 1];
} tu_env_t;

/* Makes a temp dir with certificates for issuer, svc-a, svc-b (+ expired, other-ca). */
void tu_env_init(tu_env_t *e);
void tu_env_cleanup(tu_env_t *e); /* removes the temp dir */

/* dir/certs/<rel> into out. */
const char *tu_path(const tu_env_t *e, const char *rel, char *out, size_t cap);

/* A fresh RSA-2048 signing key. */
mesh_key_t *tu_rsa_key(void);

/* Signs a claims JSON object as given (header: the key's alg and kid, typ at+jwt). */
char *tu_sign_claims(const mesh_key_t *key, const char *claims_json);

/* The claims of a test token (strings borrowed; NULL leaves a claim out). */
typedef struct {
    const char *iss, *sub, *aud, *scope, *client_id, *x5t;
    int64_t iat, ttl;
} tu_claims_t;

/* mesh_jwt_sign of `c` through a mesh_jwt_claims_in_t: a new token (mesh_free()), or NULL with
 * the error in mesh_err_detail(). */
char *tu_sign(const mesh_key_t *key, const tu_claims_t *c, char jti[MESH_JTI_LEN + 1]);

/* A well-formed token: iss, aud, sub, iat=now, exp=now+ttl, jti, scope, cnf=x5t (NULL: none). */
char *tu_token(const mesh_key_t *key, const char *iss, const char *aud, const char *scope,
               const char *x5t, int64_t ttl);

/* "Bearer <tok>" in a static buffer per call site. */
char *tu_bearer(const char *tok);

/* Writes a JWKS with the public halves of `n` keys to path. */
void tu_write_jwks(const char *path, mesh_key_t **keys, size_t n);
char *tu_jwks_json(mesh_key_t **keys, size_t n);

/* Exactly these header and payload bytes, with a real signature by k (new, free()). */
char *tu_raw_token(const mesh_key_t *k, const char *header, const char *payload);

/*
 * One request through `c` the way the tests make them: a mesh_request_t with `method`, `url`,
 * `audience`, the NULL-terminated `headers` (optional), `body` of `len` bytes (optional),
 * `max_body` (0: default) and `peer_id` (NULL: no pin), sent with mesh_client_request.
 * *resp (new) on MESH_OK; left NULL otherwise.
 */
mesh_err_t tu_request(mesh_client_t *c, const char *peer_id, const char *method, const char *url,
                      const char *audience, const char *const *headers, const void *body,
                      size_t len, size_t max_body, mesh_response_t **resp);

/* A snapshot of the verifier's counters (mesh_verifier_stat). */
typedef struct {
    uint64_t verified, rejected, cache_hits, jwks_fetches, revocation_polls;
} tu_vstats_t;
tu_vstats_t tu_vstats(const mesh_verifier_t *v);

/* Sleeps ms milliseconds. */
void tu_sleep_ms(int ms);

#endif
