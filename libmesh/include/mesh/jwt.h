/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWT access tokens (RFC 9068 profile, RFC 8705 binding): building them for the issuer and
 * validating them for verifiers. The claim rules are DESIGN.md "Tokens" and "Verification
 * rules".
 *
 * No call in this header blocks on the network or the file system: mesh_jwt_verify never
 * fetches keys (an unknown kid is MESH_ERR_KID_UNKNOWN at once; the refetching verifier is
 * verifier.h's), and the revocation and clock callbacks run inline, so they must not block.
 */
#ifndef MESH_JWT_H
#define MESH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/jwks.h>
#include <mesh/jws.h>
#include <mesh/key.h>
#include <mesh/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MESH_JTI_LEN    22 /* base64url of 128 random bits */
#define MESH_TYP_AT_JWT "at+jwt"

/*
 * What the issuer puts in a token: an opaque handle made by mesh_jwt_claims_in_new() (no
 * claims; iat: the clock at signing; ttl MESH_TTL_DEFAULT), filled by the setters below, which
 * copy their strings and validate them (MESH_ERR_INVALID_ARG; MESH_ERR_LIMIT for a string
 * that cannot fit in a token), leaving the old value on failure. iss, sub and aud are
 * required; scope, client_id and cnf.x5t#S256 are left out of the token while unset (NULL or
 * "" unsets them). None blocks. Not thread-safe while being changed; mesh_jwt_sign only reads.
 */
typedef struct mesh_jwt_claims_in mesh_jwt_claims_in_t;

MESH_WUR mesh_err_t mesh_jwt_claims_in_new(mesh_jwt_claims_in_t **out);
void mesh_jwt_claims_in_free(mesh_jwt_claims_in_t *in); /* NULL-safe */

MESH_WUR mesh_err_t mesh_jwt_claims_in_set_issuer(mesh_jwt_claims_in_t *in, const char *iss);
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_subject(mesh_jwt_claims_in_t *in, const char *sub);
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_audience(mesh_jwt_claims_in_t *in, const char *aud);
/* Space-separated scopes. */
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_scopes(mesh_jwt_claims_in_t *in, const char *scope);
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_client_id(mesh_jwt_claims_in_t *in, const char *id);
/* cnf.x5t#S256 (RFC 8705 §3.1), MESH_X5T_LEN characters; NULL for an unbound token. */
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_x5t(mesh_jwt_claims_in_t *in, const char *x5t);
/* iat (also nbf), >= 0 seconds; unset: the clock when the token is signed. */
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_issued_at(mesh_jwt_claims_in_t *in, int64_t iat);
/* exp = iat + ttl; ttl 1..MESH_TTL_MAX. */
MESH_WUR mesh_err_t mesh_jwt_claims_in_set_ttl(mesh_jwt_claims_in_t *in, int64_t ttl);

/*
 * Builds the claims {iss, sub, aud, iat, nbf = iat, exp = iat + ttl, jti, scope, client_id,
 * cnf} (with a fresh 128-bit jti from the CSPRNG) and signs them with typ "at+jwt" (RFC 9068).
 * iss, sub and aud must be set, and every string UTF-8; otherwise MESH_ERR_INVALID_ARG.
 * Claims that would make a token over MESH_MAX_TOKEN_BYTES are MESH_ERR_LIMIT. *token is a new
 * string (mesh_free()); the jti is written to `jti` when it is not NULL. Does not block.
 * Thread-safe; the key keeps a reusable signing context (freed with the key) and each thread a
 * block of random bytes for jti values (never shared with a forked child).
 */
MESH_WUR mesh_err_t mesh_jwt_sign(const mesh_key_t *key, const mesh_jwt_claims_in_t *in,
                                  char **token, char jti[MESH_JTI_LEN + 1]);

/* Revocation callback: return true when `jti` is revoked. Must be thread-safe if shared. */
typedef bool (*mesh_revoked_fn)(void *ctx, const char *jti);
/* Clock callback: current time in seconds since the epoch. */
typedef int64_t (*mesh_clock_fn)(void *ctx);

/*
 * Verification options: an opaque handle made with the defaults by mesh_jwt_verify_opts_new()
 * (typ "at+jwt", skew MESH_DEFAULT_SKEW, max lifetime MESH_DEFAULT_MAX_LIFETIME, clock
 * time(NULL), binding "required", no certificate, no revocation callback, no required
 * scope), changed by the setters below. Setters copy what they are given (strings, the
 * certificate), validate it and fail with MESH_ERR_INVALID_ARG (MESH_ERR_CONFIG for a
 * binding policy) with a detail naming the option, leaving the old value in place. None
 * blocks. Once set up, a handle may be shared by threads verifying at the same time; it must
 * not be changed meanwhile.
 */
typedef struct mesh_jwt_verify_opts mesh_jwt_verify_opts_t;

MESH_WUR mesh_err_t mesh_jwt_verify_opts_new(mesh_jwt_verify_opts_t **out);
void mesh_jwt_verify_opts_free(mesh_jwt_verify_opts_t *o); /* NULL-safe */

/* Required: the exact iss. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_issuer(mesh_jwt_verify_opts_t *o, const char *iss);
/* Required: the audiences accepted, a space-separated list of 1..MESH_MAX_VERIFIER_AUDIENCES
 * words (as mesh_verifier_opts_set_audience, verifier.h): one of them must be aud, or one
 * element of an aud array. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_audience(mesh_jwt_verify_opts_t *o, const char *aud);
/* The header typ values accepted, a space-separated list of at most MESH_MAX_VERIFIER_TYPS
 * (default "at+jwt"; the word "none" accepts a token without typ; compared as RFC 7515 §4.1.9
 * says); NULL: not checked. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_typ(mesh_jwt_verify_opts_t *o, const char *typ);
/* Allowed clock difference, 0..86400 s. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_skew(mesh_jwt_verify_opts_t *o, int64_t seconds);
/* Largest exp - iat, 1..86400 s. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_max_lifetime(mesh_jwt_verify_opts_t *o,
                                                          int64_t seconds);
/* The clock (NULL: time(NULL), or the fixed time of set_now). */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_clock(mesh_jwt_verify_opts_t *o, mesh_clock_fn fn,
                                                   void *ctx);
/* A fixed time (tests, `mesh verify --now`), used when no clock is set; 0: time(NULL). */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_now(mesh_jwt_verify_opts_t *o, int64_t now);
/* The presenting certificate (DER, copied; at most MESH_MAX_PEM_BYTES); NULL: none. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_cert(mesh_jwt_verify_opts_t *o, const uint8_t *der,
                                                  size_t len);
/* The certificate-binding policy: "required" (default), "when-presented" or
 * "unbound-for:<sub>,<sub>", as mesh_verifier_opts_set_binding (verifier.h) says. */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_binding(mesh_jwt_verify_opts_t *o, const char *policy);
/* Optional revocation callback (NULL: none). */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_revoked(mesh_jwt_verify_opts_t *o, mesh_revoked_fn fn,
                                                     void *ctx);
/* Optional: one scope that must be among the token's (NULL: none). */
MESH_WUR mesh_err_t mesh_jwt_verify_opts_set_required_scope(mesh_jwt_verify_opts_t *o,
                                                            const char *scope);

/*
 * A verified token: the caller's identity and what its token said. One object for
 * mesh_jwt_verify and mesh_verify (verifier.h). Opaque, immutable once returned and
 * reference counted: any thread may read it and take or drop references.
 */
typedef struct mesh_identity mesh_identity_t;

/*
 * Full verification: JWS signature with the key the kid selects from `keys` (mesh_jws.h rules),
 * then every claim rule against `opts`, in this order: typ; claim presence and JSON types
 * (iss, sub, aud, exp, iat, jti required; sub non-empty, RFC 9068 §2.2, else
 * MESH_ERR_CLAIM_MISSING; NumericDates must be JSON integers; a cnf, when present, must name
 * x5t#S256 and no other confirmation method, RFC 7800 §3, else MESH_ERR_CNF_UNSUPPORTED even
 * under every binding policy); iss; aud; exp, nbf, iat against now +- skew; exp - iat <=
 * max_lifetime; revoked(jti); certificate binding; required_scope last (MESH_ERR_SCOPE is
 * the one 403 case). Binding (RFC 8705 §3), by the options' policy: a token with
 * cnf.x5t#S256 needs the presenting certificate and must name it (MESH_ERR_CNF_MISMATCH,
 * also when no certificate is given), under every policy; a token without it is
 * MESH_ERR_CNF_MISSING unless the policy is "when-presented" or names its sub. On success *out
 * (optional) is a new identity with one reference (mesh_identity_free()). The detail message names
 * the rule and values, never the token. Thread-safe; never blocks; allocates only inside jansson
 * and for the returned identity.
 */
MESH_WUR mesh_err_t mesh_jwt_verify(const mesh_jwks_t *keys, const char *token, size_t len,
                                    const mesh_jwt_verify_opts_t *opts, mesh_identity_t **out);

/*
 * Claim rules only, on a decoded payload (no signature check) whose verified header had typ
 * `header_typ` ("" when it had none; NULL skips the typ rule). This is what mesh_jwt_verify
 * runs after the signature. *out optional. Does not block; thread-safe.
 */
MESH_WUR mesh_err_t mesh_jwt_validate_claims(const uint8_t *payload, size_t len,
                                             const char *header_typ,
                                             const mesh_jwt_verify_opts_t *opts,
                                             mesh_identity_t **out);

mesh_identity_t *mesh_identity_ref(mesh_identity_t *id); /* a new reference; NULL-safe */
void mesh_identity_free(mesh_identity_t *id);            /* drops a reference; NULL-safe */

/*
 * What the verified token said. Strings are borrowed from `id` and valid while a reference
 * is held; a NULL `id` gives "" (0, false). None blocks; all are thread-safe.
 */
const char *mesh_identity_issuer(const mesh_identity_t *id);  /* iss */
const char *mesh_identity_subject(const mesh_identity_t *id); /* sub */
/* The first of the verifier's audiences (in the configured order) that the token's aud names. */
const char *mesh_identity_audience(const mesh_identity_t *id);
const char *mesh_identity_scopes(const mesh_identity_t *id);    /* space-separated; "" */
const char *mesh_identity_jti(const mesh_identity_t *id);       /* "" when absent */
const char *mesh_identity_client_id(const mesh_identity_t *id); /* "" when absent */
const char *mesh_identity_x5t(const mesh_identity_t *id);       /* cnf.x5t#S256; "" unbound */
int64_t mesh_identity_expiry(const mesh_identity_t *id);        /* exp */
int64_t mesh_identity_issued_at(const mesh_identity_t *id);     /* iat */
int64_t mesh_identity_not_before(const mesh_identity_t *id);    /* nbf; 0 when absent */

/* true when `scope` is one of the space-separated scopes (exact match, no prefix). */
bool mesh_identity_has_scope(const mesh_identity_t *id, const char *scope);

/* true when the token's aud (a string, or one element of its array) is exactly `aud`: a route
 * of a verifier with several audiences checks its own with it. false for NULL or "". */
bool mesh_identity_has_audience(const mesh_identity_t *id, const char *aud);

/* true when the token was certificate-bound: it carried cnf.x5t#S256, which named the
 * presenting certificate (every accepted bound token did). false for an unbound token the
 * binding policy let through, so a route can refuse those. */
bool mesh_identity_bound(const mesh_identity_t *id);

/*
 * One top-level claim as text, e.g. for a header to an upstream: a string as it is (UTF-8; one
 * holding a control character, CR or LF among them, is MESH_ERR_CLAIM_TYPE), a number, true,
 * false or null as its JSON text, an object or array as compact JSON. *out is new
 * (mesh_free()). MESH_ERR_NOT_FOUND when the token has no such claim; MESH_ERR_INVALID_ARG for
 * NULL arguments or a name of 0 or more than MESH_MAX_CLAIM_NAME bytes. The identity keeps the
 * token's whole claims object (at most MESH_MAX_TOKEN_BYTES of JSON), so a cached identity
 * costs at most that per verified-token cache entry. Thread-safe; does not block.
 */
MESH_WUR mesh_err_t mesh_identity_claim(const mesh_identity_t *id, const char *name, char **out);

/* The whole claims object as compact JSON (*out new, mesh_free()). */
MESH_WUR mesh_err_t mesh_identity_to_json(const mesh_identity_t *id, char **out);

#ifdef __cplusplus
}
#endif
#endif /* MESH_JWT_H */
