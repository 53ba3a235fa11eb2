/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier services and gateways run on every incoming request: the bearer token's
 * signature (keys from a cached JWKS), every claim rule of DESIGN.md "Verification rules",
 * revocation (a background poll of the issuer's feed) and the RFC 8705 binding of the token
 * to the TLS client certificate that presented it.
 *
 * The TLS layer that accepted the connection checks the peer's certificate chain; the
 * verifier checks that the token belongs to that certificate, by one binding policy
 * (mesh_verifier_opts_set_binding). A verifier given a trust bundle
 * (mesh_verifier_opts_set_trust_bundle) checks the presenting certificate itself as well: for
 * a certificate forwarded by a proxy (mesh_verify_pem), which no TLS layer has seen.
 *
 * Blocking, in short: mesh_verifier_new (first key fetch and revocation feed), the explicit
 * refresh/poll/reload calls and mesh_verifier_free may block on the network or the file
 * system; mesh_verify and mesh_verify_pem block only on an unknown kid or an empty key set,
 * at most once per JWKS cooldown (see mesh_verify). Each call below says which.
 *
 * A verifier is thread-safe: any number of threads may call mesh_verify() at once. Its hot
 * path takes no global lock (a striped verified-token cache, a striped revocation set and a
 * big-reader snapshot of the key set).
 */
#ifndef MESH_VERIFIER_H
#define MESH_VERIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/jwt.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    /* RFC 8414 metadata at <issuer>/.well-known/oauth-authorization-server names jwks_uri */
    MESH_JWKS_FROM_ISSUER = 0,
    MESH_JWKS_FROM_URL = 1,  /* jwks_location is an https:// URL */
    MESH_JWKS_FROM_FILE = 2, /* jwks_location is a JWKS file (reloaded on an unknown kid) */
    /* OpenID Connect Discovery 1.0: <issuer>/.well-known/openid-configuration (the issuer
     * without a trailing slash), whose "issuer" must equal the configured issuer exactly
     * (§4.3) and whose "jwks_uri" must be https://; location NULL. For an external identity
     * provider (a Supabase project, any OIDC provider). */
    MESH_JWKS_FROM_OIDC = 3,
} mesh_jwks_source_t;

/*
 * Verifier options: an opaque handle made with defaults by mesh_verifier_opts_new(), changed
 * by the setters below and handed to mesh_verifier_new(), which copies it (the handle may be
 * freed or reused right after). Every setter copies its strings, validates its value and
 * returns MESH_ERR_INVALID_ARG (or MESH_ERR_CONFIG, as said) with a detail that names the
 * option, leaving the old value in place. No call blocks. A handle is not thread-safe; use
 * one per thread.
 */
typedef struct mesh_verifier_opts mesh_verifier_opts_t;

/* A new handle with the defaults; MESH_ERR_NOMEM. */
MESH_WUR mesh_err_t mesh_verifier_opts_new(mesh_verifier_opts_t **out);
void mesh_verifier_opts_free(mesh_verifier_opts_t *o); /* NULL-safe */

/* Required: the exact iss, and the base URL of the issuer (https:// unless keys come from a
 * JWKS file and the revocation feed is off: checked by mesh_verifier_new). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_issuer(mesh_verifier_opts_t *o, const char *issuer);
/*
 * Required: the audiences this verifier accepts, a space-separated list (one word: this
 * service's audience name; several: e.g. "asset-service jobs-service" for a gateway that
 * serves routes of several audiences with one verifier, one key cache and one revocation
 * poll). 1..MESH_MAX_VERIFIER_AUDIENCES words of printable ASCII, each at most
 * MESH_MAX_CLAIM_STRING bytes, the whole list at most MESH_MAX_OPT_STRING bytes; otherwise
 * MESH_ERR_INVALID_ARG. A token is accepted when its aud (a string or an array of strings)
 * names at least one of them; mesh_identity_audience() is then the first audience of this
 * list the token names, and a route checks its own with mesh_identity_has_audience(). The
 * verified-token cache belongs to this one verifier, so a cached token was judged against
 * this same list.
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_audience(mesh_verifier_opts_t *o, const char *aud);
/* Where keys come from (default MESH_JWKS_FROM_ISSUER, location NULL): an https:// URL
 * (MESH_ERR_CONFIG otherwise) or a JWKS file path (reloaded on an unknown kid). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_jwks(mesh_verifier_opts_t *o, mesh_jwks_source_t src,
                                                const char *location);
/* Trust anchor (PEM) for the HTTPS fetches: JWKS, metadata, revocation feed. NULL: none. */
MESH_WUR mesh_err_t mesh_verifier_opts_set_ca_path(mesh_verifier_opts_t *o, const char *path);
/* Optional client certificate and key (PEM paths) for those fetches; both or neither. */
MESH_WUR mesh_err_t mesh_verifier_opts_set_client_cert(mesh_verifier_opts_t *o,
                                                       const char *cert_path, const char *key_path);
/* Optional: the issuer's SPIFFE ID (spiffe://mesh.local/issuer; MESH_ERR_CONFIG for
 * anything else). Every fetch from the issuer's URL then requires the server certificate to
 * carry it (MESH_ERR_PEER_ID), so a local service cannot serve its own keys as the issuer's. */
MESH_WUR mesh_err_t mesh_verifier_opts_set_issuer_id(mesh_verifier_opts_t *o, const char *id);
/* Allowed clock difference, 0..86400 s (default MESH_DEFAULT_SKEW). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_skew(mesh_verifier_opts_t *o, int64_t seconds);
/* Largest exp - iat accepted, 1..86400 s (default MESH_DEFAULT_MAX_LIFETIME). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_max_lifetime(mesh_verifier_opts_t *o, int64_t seconds);
/*
 * The certificate-binding policy (RFC 8705 §3); MESH_ERR_CONFIG for another spelling:
 *   "required" (default)       every token carries cnf.x5t#S256 naming the presenting
 *                              certificate;
 *   "when-presented"           a token with cnf must name the presenting certificate; a
 *                              token without cnf is accepted;
 *   "unbound-for:<sub>,<sub>"  as "required", except tokens whose sub is one of the listed
 *                              subjects (exact match; e.g. svc-token:ci) may come unbound.
 * A token with cnf is checked on every path under every policy. mesh_identity_bound() tells
 * a route whether the identity it got was bound.
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_binding(mesh_verifier_opts_t *o, const char *policy);
/*
 * The rule set for this issuer's tokens; MESH_ERR_CONFIG for another name:
 *   "mesh" (default)  the mesh issuer's tokens: every rule of DESIGN.md "Verification rules"
 *                     (jti required, revocation feed on, binding "required", typ "at+jwt");
 *   "oidc"            an external identity provider's tokens (docs/TOKENS.md "External
 *                     identity providers"): jti and client_id optional; no revocation feed
 *                     (it is off, and turning it on is MESH_ERR_CONFIG at mesh_verifier_new);
 *                     binding "when-presented" unless set (a cnf, when present, is still
 *                     checked); scopes from "scope" (a space-separated string, RFC 9068
 *                     §2.2.3) or, when the token has no "scope", from "scp" (a string, or an
 *                     array of scope tokens joined with spaces); typ "at+jwt" unless set; aud
 *                     a string or an array; the max lifetime as for "mesh" unless set (IdPs
 *                     often issue 3600 s tokens: set it). iss, sub, exp and iat are required.
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_profile(mesh_verifier_opts_t *o, const char *profile);
/*
 * The JOSE header typ values accepted, a space-separated list (RFC 7515 §4.1.9: compared
 * case-insensitively, "application/" ignored); the word "none" accepts a token without typ.
 * E.g. "at+jwt JWT" for an IdP that marks its access tokens "JWT". At most
 * MESH_MAX_VERIFIER_TYPS words; MESH_ERR_INVALID_ARG otherwise. NULL restores the profile's
 * default ("at+jwt" for both profiles: RFC 9068 §4).
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_typ(mesh_verifier_opts_t *o, const char *typs);
/*
 * The algorithms this issuer's keys may have, a space-separated list of RS256, PS256, ES256,
 * EdDSA (MESH_ERR_INVALID_ARG for another name, HS256 included: see set_hmac_key). The
 * algorithm stays a property of the key (RFC 8725 §3.1): a JWK whose "alg" is outside the
 * list is not used; a JWK without "alg" is used only when its kty/crv fixes exactly one allowed
 * algorithm (EC P-256: ES256, OKP Ed25519: EdDSA, RSA: only when the list has exactly one of
 * RS256 and PS256). The token's alg must still equal its key's. Keys left out are counted
 * (MESH_VSTAT_JWKS_KEYS_SKIPPED), and a token whose kid names one of them is refused at once
 * with MESH_ERR_ALG_NOT_ALLOWED, the detail saying why (no refetch). NULL: no list, the mesh
 * rules (every algorithm libmesh implements; a JWK without "alg" takes its type's default,
 * RSA RS256), the default for both profiles.
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_algorithms(mesh_verifier_opts_t *o, const char *algs);
/*
 * Top-level claims every accepted token must carry (any JSON type), a space-separated list of
 * at most MESH_MAX_REQUIRED_CLAIMS names, e.g. "email email_verified"; a token without one is
 * MESH_ERR_CLAIM_MISSING naming it. NULL or "": none (the default).
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_required_claims(mesh_verifier_opts_t *o,
                                                           const char *claims);
/*
 * Legacy HS256 (a Supabase project's JWT secret, for one): this issuer's tokens are MACed
 * with `key` (`len` bytes, MESH_MIN_HMAC_KEY_BYTES..MESH_MAX_HMAC_KEY_BYTES, copied; wiped on
 * free and when replaced; never logged). Only with profile "oidc", without a JWKS source
 * (set_jwks) or an algorithm list (MESH_ERR_CONFIG at mesh_verifier_new otherwise). The key's
 * algorithm is HS256, so a token whose header says anything else is MESH_ERR_ALG_NOT_ALLOWED,
 * and no JWKS ever supplies an HMAC key (kty "oct" is never used from one); the kid, if any,
 * is not consulted (there is one key). The MAC is compared in constant time. NULL/0 unsets.
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_hmac_key(mesh_verifier_opts_t *o, const uint8_t *key,
                                                    size_t len);
/* Poll <issuer>/v1/revocations (default on; profile "oidc": off, and on is an error) ... */
MESH_WUR mesh_err_t mesh_verifier_opts_set_revocation_feed(mesh_verifier_opts_t *o, bool on);
/* ... every `ms`, 1..86400000 (default 10000). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_revocation_poll_ms(mesh_verifier_opts_t *o, int64_t ms);
/* At most one unknown-kid refetch per `ms` (0..86400000; default 30000). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_jwks_cooldown_ms(mesh_verifier_opts_t *o, int64_t ms);
/* The JWKS Cache-Control max-age is clamped to [min_s, max_s] (default 10..3600 s), and keys
 * are served while fetches fail for `stale_if_error_s` (default 86400 s). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_jwks_max_age(mesh_verifier_opts_t *o, int64_t min_s,
                                                        int64_t max_s, int64_t stale_if_error_s);
/* Verified-token cache size (default 16384; 0 turns the cache off; at most 1 << 26). */
MESH_WUR mesh_err_t mesh_verifier_opts_set_cache_entries(mesh_verifier_opts_t *o, size_t n);
/* The clock (default time(NULL)); tests may fix the time. `fn` NULL restores the default. */
MESH_WUR mesh_err_t mesh_verifier_opts_set_clock(mesh_verifier_opts_t *o, mesh_clock_fn fn,
                                                 void *ctx);
/*
 * Optional: PEM CA certificates (the mesh root, and intermediates if wanted) and PEM CRLs,
 * each signed by a CA of the bundle (`crl_path` may be NULL; NULL `bundle_path` turns it
 * off). When set, mesh_verify() checks the presenting certificate itself, and
 * mesh_verify_pem() is available: the chain reaches a root of the bundle (intermediates from
 * the presented chain or the bundle), every certificate is valid at the verifier's clock,
 * the leaf is not a CA, carries EKU clientAuth and exactly one spiffe:// URI SAN, and nothing
 * in the chain is revoked by a CRL. A certificate whose issuer has a CRL must be in date with
 * it (a CRL past nextUpdate refuses all its certificates); one whose issuer has none is not
 * revocation-checked. Read at mesh_verifier_new (and mesh_verifier_reload_trust). Default
 * off: the TLS layer is trusted to have checked.
 */
MESH_WUR mesh_err_t mesh_verifier_opts_set_trust_bundle(mesh_verifier_opts_t *o,
                                                        const char *bundle_path,
                                                        const char *crl_path);

typedef struct mesh_verifier mesh_verifier_t;

/*
 * Creates a verifier and starts its background thread (JWKS refresh, revocation poll). BLOCKS:
 * the first key fetch (metadata and JWKS over HTTPS, or the JWKS file) and the first whole
 * revocation feed are fetched here, each bounded by a 10 s timeout; when they fail the
 * verifier is still created (a gateway may start before its issuer) and mesh_verify() answers
 * MESH_ERR_KEYS_UNAVAILABLE until keys arrive. `opts` is copied (borrowed for the call). Errors:
 * MESH_ERR_INVALID_ARG (issuer/audience missing), MESH_ERR_CONFIG (a location missing or not
 * https://; profile "oidc" with the revocation feed turned on; an HMAC key without profile
 * "oidc" or beside a JWKS source or an algorithm list; a trust bundle or CRL file that is
 * unreadable as PEM, holds a non-CA certificate or no root, or a CRL no bundle CA signed: the
 * detail names the file), MESH_ERR_IO, MESH_ERR_NOMEM.
 */
MESH_WUR mesh_err_t mesh_verifier_new(const mesh_verifier_opts_t *opts, mesh_verifier_t **out);

/*
 * A verifier configured from the environment, as mesh_client_from_env configures a client:
 *   MESH_ISSUER_URL    required: the issuer (exact iss, base URL of metadata, JWKS, feed);
 *   MESH_AUDIENCE      this service's audience, or a space-separated list of audiences
 *                      (mesh_verifier_opts_set_audience; default: `service_name`);
 *   MESH_ISSUER_ID     optional: the issuer's SPIFFE ID its fetches must reach;
 *   TLS_CA_PATH        the CA for those HTTPS fetches, or MESH_CERTS_DIR/ca.pem; with
 *                      TLS_CERT_PATH/TLS_KEY_PATH or MESH_CERTS_DIR/<service>/ the fetches
 *                      present the service's certificate (mesh_env_identity, <mesh/util.h>);
 *   MESH_TRUST_BUNDLE  optional trust bundle, with MESH_CRL_PATH its CRLs
 *                      (mesh_verifier_opts_set_trust_bundle);
 *   MESH_JWKS_URL or MESH_JWKS_FILE  optional: keys from there, not the issuer's metadata;
 *   MESH_BINDING       required | when-presented | unbound-for:<sub>,<sub> (default
 *                      required; mesh_verifier_opts_set_binding).
 * An empty variable counts as unset. A missing or bad value is MESH_ERR_CONFIG (or the
 * setter's error) with a detail that names the variable. Blocks as mesh_verifier_new does.
 */
MESH_WUR mesh_err_t mesh_verifier_from_env(const char *service_name, mesh_verifier_t **out);

/* The options mesh_verifier_from_env would use (*out new, mesh_verifier_opts_free()), for a
 * program that changes some before mesh_verifier_new. Does not block. */
MESH_WUR mesh_err_t mesh_verifier_opts_from_env(const char *service_name,
                                                mesh_verifier_opts_t **out);

/* Stops the background thread (cancelling a fetch in flight) and frees. NULL-safe. No
 * mesh_verify() may be running. Blocks until the background thread has ended (an HTTPS
 * fetch in flight is cancelled, so this is short). */
void mesh_verifier_free(mesh_verifier_t *v);

/*
 * Verifies one request. `authorization` is the Authorization header value ("Bearer <jwt>";
 * NULL when the request had none: MESH_ERR_NO_TOKEN; a value with two credentials:
 * MESH_ERR_TWO_CREDENTIALS). `peer_cert_der` is the TLS client certificate (NULL when the
 * caller presented none: bound tokens then fail with MESH_ERR_CNF_MISMATCH; unbound ones are
 * judged by the binding policy, MESH_ERR_CNF_MISSING). With a trust bundle the certificate
 * is checked first (intermediates come from the bundle): MESH_ERR_PEER_CERT with the first
 * failure in the detail. `required_scope` (optional) must be among the token's scopes
 * (MESH_ERR_SCOPE otherwise). On success *identity (optional) is a new reference
 * (mesh_identity_free(); mesh_identity_bound() says whether the token was bound).
 * Thread-safe.
 *
 * MAY BLOCK, in one case only: when the token's kid is not in the key set (or the verifier has
 * no keys yet), the call fetches the keys itself, synchronously (the issuer's metadata and
 * JWKS over HTTPS with a 10 s timeout, or a re-read of the JWKS file), at most once per JWKS
 * cooldown (mesh_verifier_opts_set_jwks_cooldown_ms, default 30 s) across all threads; inside
 * the cooldown the kid is MESH_ERR_KID_UNKNOWN at once. A call that finds a fetch already in
 * flight (another thread's, or the background refresh) waits for it. Every other path, the
 * cached one included, is memory and CPU only: in an event loop, a token signed by a key the
 * verifier has not seen yet can stall the loop for up to the fetch's timeout.
 */
MESH_WUR mesh_err_t mesh_verify(mesh_verifier_t *v, const char *authorization,
                                const uint8_t *peer_cert_der, size_t peer_cert_len,
                                const char *required_scope, mesh_identity_t **identity);

/*
 * As mesh_verify, for a caller whose certificate a proxy forwarded: `pem_chain` (`pem_len`
 * bytes, need not be NUL-terminated) is the PEM chain, leaf first, intermediates after, as
 * nginx's $ssl_client_escaped_cert or Envoy's XFCC Chain= carry it once URL-decoded (the
 * caller decodes; believe such a header only from an authenticated proxy). NULL or empty: the
 * caller presented no certificate. Requires a trust bundle (MESH_ERR_CONFIG otherwise); a
 * chain that fails it is MESH_ERR_PEER_CERT, one over MESH_MAX_PEM_BYTES MESH_ERR_LIMIT. The
 * token must be bound to the leaf. Verdicts are remembered per chain until its earliest
 * notAfter and the CRLs' nextUpdate, so a repeated chain costs a hash. Thread-safe. May
 * block exactly as mesh_verify does (an unknown kid); the chain check itself does no I/O.
 */
MESH_WUR mesh_err_t mesh_verify_pem(mesh_verifier_t *v, const char *authorization,
                                    const char *pem_chain, size_t pem_len,
                                    const char *required_scope, mesh_identity_t **identity);

/*
 * Reads the trust bundle and CRL files again (a fresh CRL before its nextUpdate, a new
 * intermediate) and forgets every remembered certificate verdict. On failure the old material
 * stays in force and the error names the file (as mesh_verifier_new); MESH_ERR_CONFIG when
 * the verifier has no trust bundle. Thread-safe, also while mesh_verify() runs. Blocks on
 * the file system (the two reads); mesh_verify() calls meanwhile go on with the old material.
 */
MESH_WUR mesh_err_t mesh_verifier_reload_trust(mesh_verifier_t *v);

/*
 * Maps a mesh_verify() result to an HTTP status and the RFC 6750 WWW-Authenticate value
 * written to `www` (capacity `cap`; "" when the status needs none): 200; 401 with
 * error="invalid_token" and the coarse reason code; 401 without an error for a missing token
 * (RFC 6750 §3.1); 403 insufficient_scope naming `required_scope`; 400 invalid_request for
 * two credentials; 503 when no keys are available; 500 for internal failures and for a
 * verifier misconfiguration (MESH_ERR_CONFIG). MESH_ERR_PEER_CERT is 401 invalid_token
 * (RFC 8705 §3: the token is not usable with the certificate that presented it). Does not
 * block.
 */
int mesh_verify_http_status(mesh_err_t result, const char *required_scope, char *www, size_t cap);

/* Counters since creation, for metrics and tests (mesh_verifier_stat). */
typedef enum {
    MESH_VSTAT_VERIFIED = 0,     /* successful mesh_verify() calls */
    MESH_VSTAT_REJECTED = 1,     /* failed ones */
    MESH_VSTAT_CACHE_HITS = 2,   /* verifications answered from the verified-token cache */
    MESH_VSTAT_JWKS_FETCHES = 3, /* successful and failed key fetches */
    MESH_VSTAT_REVOCATION_POLLS = 4,
    /* keys of the installed JWKS left out by the algorithm list (set_algorithms) */
    MESH_VSTAT_JWKS_KEYS_SKIPPED = 5,
    /* not a counter: the verifier clock's time (Unix seconds) of the last revocation feed
     * poll that succeeded; 0 before the first (or with the feed off). Its age is the feed's
     * staleness, for an alert. */
    MESH_VSTAT_REVOCATION_LAST_POLL = 6,
    /* not a counter: the revocation feed's sequence number this verifier has read up to
     * (the "seq" of the last page applied; 0 before the first poll or with the feed off).
     * The issuer's own latest seq minus this one is how many revocations it has not seen. */
    MESH_VSTAT_REVOCATION_SEQ = 7,
} mesh_verifier_stat_t;

/* One counter; 0 for a NULL verifier or an unknown counter. Thread-safe, approximate under
 * load; does not block. */
uint64_t mesh_verifier_stat(const mesh_verifier_t *v, mesh_verifier_stat_t which);

/*
 * Fetches keys now (the background thread does this on its own; for tools and tests).
 * Returns the fetch's error; the verifier keeps its old keys on failure. BLOCKS for the fetch
 * (HTTPS, 10 s timeout, or the JWKS file read), not limited by the cooldown.
 */
MESH_WUR mesh_err_t mesh_verifier_refresh_keys(mesh_verifier_t *v);

/* Polls the revocation feed once now (tests, tools); MESH_ERR_CONFIG when the feed is off.
 * Thread-safe, like mesh_verifier_refresh_keys. BLOCKS for the poll (HTTPS, every page the
 * issuer has, each with a 10 s timeout). */
MESH_WUR mesh_err_t mesh_verifier_poll_revocations(mesh_verifier_t *v);

/* The verified caller, mesh_identity_t, and its accessors are in <mesh/jwt.h>. */

#ifdef __cplusplus
}
#endif
#endif /* MESH_VERIFIER_H */
