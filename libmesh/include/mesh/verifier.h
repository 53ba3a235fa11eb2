/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verifier services and gateways run on every incoming request: the bearer token's
 * signature (keys from a cached JWKS), every claim rule of DESIGN.md "Verification rules",
 * revocation (a background poll of the issuer's feed) and the RFC 8705 binding of the token
 * to the TLS client certificate that presented it.
 *
 * The TLS layer that accepted the connection checks the peer's certificate chain; the
 * verifier checks that the token belongs to that certificate. A verifier given a trust bundle
 * (trust_bundle_path, and crl_path) checks the presenting certificate itself as well: for a
 * certificate forwarded by a proxy (mesh_verify_pem), which no TLS layer has seen.
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
} mesh_jwks_source_t;

typedef struct {
    const char *issuer;   /* required: exact iss, and the base URL of the issuer */
    const char *audience; /* required: this service's audience name */
    mesh_jwks_source_t jwks_source;
    const char *jwks_location;   /* URL or path; NULL for MESH_JWKS_FROM_ISSUER */
    const char *ca_path;         /* trust anchor for HTTPS fetches (JWKS, metadata, feed) */
    const char *cert_path;       /* optional client certificate for those fetches */
    const char *key_path;        /* its key */
    int64_t skew;                /* default MESH_DEFAULT_SKEW */
    int64_t max_lifetime;        /* default MESH_DEFAULT_MAX_LIFETIME */
    bool require_binding;        /* default true; false is binding "when-presented" */
    /*
     * The certificate-binding policy (RFC 8705 §3), NULL for the one require_binding names:
     * "required" (every token carries cnf.x5t#S256 naming the presenting certificate),
     * "when-presented" (a token with cnf must name the presenting certificate; a token
     * without cnf is accepted) or "unbound-for:<sub>,<sub>" (as required, but tokens whose
     * sub is listed may be unbound: service tokens). A token with cnf is always checked.
     */
    const char *binding;
    bool revocation_feed;        /* default true: poll <issuer>/v1/revocations */
    int64_t revocation_poll_ms;  /* default 10000 */
    int64_t jwks_cooldown_ms;    /* default 30000: at most one unknown-kid refetch per cooldown */
    int64_t jwks_max_age_min;    /* default 10 s: Cache-Control max-age is clamped to */
    int64_t jwks_max_age_max;    /* default 3600 s */
    int64_t jwks_stale_if_error; /* default 86400 s: keep serving keys while fetches fail */
    size_t cache_entries;        /* verified-token cache size; default 16384; 0 disables it */
    mesh_clock_fn clock;         /* default time(NULL); tests may fix the time */
    void *clock_ctx;
    /*
     * Optional: PEM CA certificates (the mesh root, and intermediates if wanted). When set,
     * mesh_verify() checks the presenting certificate itself, and mesh_verify_pem() is
     * available: the chain reaches a root of the bundle (intermediates from the presented
     * chain or the bundle), every certificate is valid at the verifier's clock, the leaf is
     * not a CA, carries EKU clientAuth and exactly one spiffe:// URI SAN, and nothing in the
     * chain is revoked by a CRL of crl_path. Read once, at mesh_verifier_new (and
     * mesh_verifier_reload_trust). Default NULL: the TLS layer is trusted to have checked.
     */
    const char *trust_bundle_path;
    /* Optional, with trust_bundle_path: PEM CRLs, each signed by a CA of the bundle. A
     * certificate whose issuer has a CRL here must be in date with it (a CRL past nextUpdate
     * refuses all its certificates); one whose issuer has none is not revocation-checked. */
    const char *crl_path;
    /* Optional: the issuer's SPIFFE ID (spiffe://mesh.local/issuer). Every fetch from the
     * issuer's URL (metadata, JWKS under it, the revocation feed) then requires the server
     * certificate to carry it, so a local service cannot serve its own keys as the issuer's
     * (every development certificate is valid for 127.0.0.1). Fails with
     * MESH_ERR_PEER_ID. */
    const char *issuer_id;
} mesh_verifier_opts_t;

/* Fills `opts` with the defaults above (issuer, audience and locations NULL). */
void mesh_verifier_opts_init(mesh_verifier_opts_t *opts);

typedef struct mesh_verifier mesh_verifier_t;

/*
 * Creates a verifier and starts its background thread (JWKS refresh, revocation poll). The
 * first key fetch happens here; when it fails the verifier is still created (a gateway may
 * start before its issuer) and mesh_verify() answers MESH_ERR_KEYS_UNAVAILABLE until keys
 * arrive. `opts` is copied. Errors: MESH_ERR_INVALID_ARG (issuer/audience missing),
 * MESH_ERR_CONFIG (a location missing or not https://; a trust bundle or CRL file that is
 * unreadable as PEM, holds a non-CA certificate or no root, or a CRL no bundle CA signed:
 * the detail names the file), MESH_ERR_IO, MESH_ERR_NOMEM.
 */
MESH_WUR mesh_err_t mesh_verifier_new(const mesh_verifier_opts_t *opts, mesh_verifier_t **out);

/* Stops the background thread (cancelling a fetch in flight) and frees. NULL-safe. No
 * mesh_verify() may be running. */
void mesh_verifier_free(mesh_verifier_t *v);

/*
 * Verifies one request. `authorization` is the Authorization header value ("Bearer <jwt>";
 * NULL when the request had none: MESH_ERR_NO_TOKEN; a value with two credentials:
 * MESH_ERR_TWO_CREDENTIALS). `peer_cert_der` is the TLS client certificate (NULL when the
 * caller presented none: bound tokens then fail with MESH_ERR_CNF_MISMATCH). With a trust
 * bundle the certificate is checked first (see trust_bundle_path; intermediates come from the
 * bundle): MESH_ERR_PEER_CERT with the first failure in the detail.
 * `required_scope` (optional) must be among the token's scopes (MESH_ERR_SCOPE otherwise).
 * On success *identity (optional) is a new reference (mesh_identity_free()). Thread-safe.
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
 * notAfter and the CRLs' nextUpdate, so a repeated chain costs a hash. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_verify_pem(mesh_verifier_t *v, const char *authorization,
                                    const char *pem_chain, size_t pem_len,
                                    const char *required_scope, mesh_identity_t **identity);

/*
 * Reads trust_bundle_path and crl_path again (a fresh CRL before its nextUpdate, a new
 * intermediate) and forgets every remembered certificate verdict. On failure the old material
 * stays in force and the error names the file (as mesh_verifier_new); MESH_ERR_CONFIG when
 * the verifier has no trust bundle. Thread-safe, also while mesh_verify() runs.
 */
MESH_WUR mesh_err_t mesh_verifier_reload_trust(mesh_verifier_t *v);

/*
 * Maps a mesh_verify() result to an HTTP status and the RFC 6750 WWW-Authenticate value
 * written to `www` (capacity `cap`; "" when the status needs none): 200; 401 with
 * error="invalid_token" and the coarse reason code; 401 without an error for a missing token
 * (RFC 6750 §3.1); 403 insufficient_scope naming `required_scope`; 400 invalid_request for
 * two credentials; 503 when no keys are available; 500 for internal failures and for a
 * verifier misconfiguration (MESH_ERR_CONFIG). MESH_ERR_PEER_CERT is 401 invalid_token
 * (RFC 8705 §3: the token is not usable with the certificate that presented it).
 */
int mesh_verify_http_status(mesh_err_t result, const char *required_scope, char *www, size_t cap);

/* Counters since creation, for metrics and tests. Thread-safe, approximate under load. */
typedef struct {
    uint64_t verified; /* successful mesh_verify() calls */
    uint64_t rejected;
    uint64_t cache_hits;
    uint64_t jwks_fetches; /* successful and failed key fetches */
    uint64_t revocation_polls;
} mesh_verifier_stats_t;

void mesh_verifier_stats(mesh_verifier_t *v, mesh_verifier_stats_t *out); /* *out filled */

/*
 * Fetches keys now (the background thread does this on its own; for tools and tests).
 * Returns the fetch's error; the verifier keeps its old keys on failure.
 */
MESH_WUR mesh_err_t mesh_verifier_refresh_keys(mesh_verifier_t *v);

/* Polls the revocation feed once now (tests, tools); MESH_ERR_CONFIG when the feed is off.
 * Thread-safe, like mesh_verifier_refresh_keys. */
MESH_WUR mesh_err_t mesh_verifier_poll_revocations(mesh_verifier_t *v);

/* The verified caller, mesh_identity_t, and its accessors are in <mesh/jwt.h>. */

#ifdef __cplusplus
}
#endif
#endif /* MESH_VERIFIER_H */
