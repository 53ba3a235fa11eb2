/* SPDX-License-Identifier: Apache-2.0 */
/* What jwt_claims.c offers the verifier beyond the public jwt.h. Internal. */
#ifndef MESH_JWT_INTERNAL_H
#define MESH_JWT_INTERNAL_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <mesh/jwt.h>

#include "binding.h"

/* A verified token (jwt.h): the parsed claims, borrowed from `root`, and a reference count.
 * Filled once by jwt_claims.c, never changed after it is returned. */
struct mesh_identity {
    atomic_int refs;
    json_t *root;
    const char *iss, *sub, *aud, *jti, *scope, *client_id, *x5t;
    json_t *aud_claim; /* the token's aud (string or array), borrowed from root */
    char *scope_buf;   /* profile oidc: an "scp" array joined with spaces (scope points here) */
    size_t scope_len;
    int64_t exp, iat, nbf;
};

/* mesh_jwt_verify_opts_t (jwt.h): every string and the certificate owned. */
struct mesh_jwt_verify_opts {
    char *issuer, *required_scope;
    char *typ;             /* accepted typ values, a list ("none": no typ); NULL: not checked */
    char *required_claims; /* claim names every token must carry (list); NULL: none */
    bool oidc;             /* profile "oidc" (verifier.h): jti optional, scopes also from scp */
    char *audience;        /* space-separated, 1..MESH_MAX_VERIFIER_AUDIENCES words */
    int64_t skew, max_lifetime, now;
    mesh_clock_fn clock;
    void *clock_ctx;
    uint8_t *cert_der; /* the presenting certificate, or NULL */
    size_t cert_der_len;
    mesh_binding_t binding;
    mesh_revoked_fn revoked;
    void *revoked_ctx;
};

/*
 * The one check of an audience list (verifier and JWT verify options): 1 to
 * MESH_MAX_VERIFIER_AUDIENCES space-separated words, each 1..MESH_MAX_CLAIM_STRING bytes of
 * printable ASCII other than space. MESH_ERR_INVALID_ARG naming `what` otherwise.
 */
mesh_err_t mesh_audiences_check(const char *what, const char *list);

/* A typ list (1..MESH_MAX_VERIFIER_TYPS words of 1..63 printable ASCII bytes) and a claim-name
 * list (1..MESH_MAX_REQUIRED_CLAIMS words of at most MESH_MAX_CLAIM_NAME bytes):
 * MESH_ERR_INVALID_ARG naming `what` otherwise. */
mesh_err_t mesh_typs_check(const char *what, const char *list);
mesh_err_t mesh_claim_names_check(const char *what, const char *list);

/* mesh_jwt_validate_claims, with the certificate binding left out when `binding` is false:
 * the verifier decides binding itself, in one place for its fresh and cached paths. */
mesh_err_t mesh_jwt_claims_validate(const uint8_t *payload, size_t len, const char *typ,
                                    const mesh_jwt_verify_opts_t *opts, bool binding,
                                    mesh_identity_t **out);

#endif /* MESH_JWT_INTERNAL_H */
