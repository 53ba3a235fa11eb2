/* SPDX-License-Identifier: Apache-2.0 */
/* Building blocks for the hostile-token tests: keys, a key set, and token forgers. */
#ifndef HOSTILE_UTIL_H
#define HOSTILE_UTIL_H

#include <stdint.h>

#include <mesh/mesh.h>

#define NOW         1700000000LL
#define ISS         "https://issuer.mesh.local"
#define AUD         "payments"
#define PAYLOAD_MAX 16384

extern const uint8_t cert_der[];
extern const size_t cert_der_len;
extern mesh_key_t *rsa;   /* RS256, in the set */
extern mesh_key_t *ec;    /* ES256, in the set */
extern mesh_key_t *other; /* RS256, not in the set */
extern mesh_jwks_t *set;
extern char x5t[MESH_X5T_LEN + 1];

int hostile_setup(void **state);
int hostile_teardown(void **state);
/* The standard claims with member `name` replaced by `json` (NULL: unchanged). */
char *payload(const char *name, const char *json);
/* Frees `old` (NULL-safe) and returns new default options (the caller frees them). */
mesh_jwt_verify_opts_t *opts_default(mesh_jwt_verify_opts_t *old);
mesh_err_t verify_opts(const char *tok, const mesh_jwt_verify_opts_t *o);
mesh_err_t verify(const char *tok);
/* A token by `key` with the standard header (plus `extra`) and the claims from payload(). */
char *token_with(const mesh_key_t *key, const char *extra, const char *name, const char *json);
/* Asserts that a token breaking one claim rule gets `want`. */
void expect_claim(const char *name, const char *json, mesh_err_t want);
/* Asserts that a token with a hand-written header (signed by rsa) gets `want`. */
void expect_header(const char *header, mesh_err_t want);
void expect_raw(const char *tok, mesh_err_t want);

#endif /* HOSTILE_UTIL_H */
