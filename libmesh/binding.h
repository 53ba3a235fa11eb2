/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one certificate-binding policy (RFC 8705 §3), shared by mesh_jwt_verify and the
 * verifier's fresh and cached paths. Internal.
 *
 * The policy's text form, as options, MESH_BINDING and the gateway's route file spell it:
 *   "required"                 every token carries cnf.x5t#S256 naming the presenting
 *                              certificate (the default);
 *   "when-presented"           a token that carries cnf must name the presenting certificate;
 *                              a token without cnf is accepted;
 *   "unbound-for:<sub>,<sub>"  as "required", except that tokens whose sub is one of the
 *                              listed subjects may come without cnf (service tokens of CI
 *                              clients, which never hold a certificate).
 * A token that carries cnf is always checked, under every policy.
 */
#ifndef MESH_BINDING_H
#define MESH_BINDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

typedef enum {
    MESH_BIND_REQUIRED = 0,
    MESH_BIND_WHEN_PRESENTED = 1,
    MESH_BIND_UNBOUND_FOR = 2,
} mesh_bind_mode_t;

typedef struct {
    mesh_bind_mode_t mode;
    char *subjects; /* MESH_BIND_UNBOUND_FOR: the comma-separated list (owned), else NULL */
} mesh_binding_t;

/* Parses the text form into *out (replacing what it held only on success). `what` names the
 * option in the MESH_ERR_CONFIG detail. */
mesh_err_t mesh_binding_parse(const char *spec, const char *what, mesh_binding_t *out);

/* Copies `src` into *dst (which must be empty or cleared). */
mesh_err_t mesh_binding_copy(mesh_binding_t *dst, const mesh_binding_t *src);

void mesh_binding_clear(mesh_binding_t *b);

/*
 * The decision: `x5t` is the token's cnf.x5t#S256 ("" when the token has none), `sub` its
 * subject, `der`/`len` the presenting certificate (NULL/0: none). MESH_OK, or
 * MESH_ERR_CNF_MISSING (an unbound token where the policy needs binding) or
 * MESH_ERR_CNF_MISMATCH (a bound token without its certificate, or with another one). The
 * certificate's thumbprint is computed at most once per call (memoised per thread by the
 * exact DER) and compared in constant time. Thread-safe.
 */
mesh_err_t mesh_binding_check(const mesh_binding_t *b, const char *x5t, const char *sub,
                              const uint8_t *der, size_t len);

#endif /* MESH_BINDING_H */
