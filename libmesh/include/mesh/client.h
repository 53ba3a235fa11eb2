/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mesh client: a service's certificate and key, a token cache in front of the issuer,
 * and requests to peers with both (mTLS + Authorization: Bearer). This header needs no
 * libcurl; a program that configures its own curl handles uses the bridge <mesh/curl.h>
 * (pkg-config libmesh-curl).
 *
 * A client is thread-safe and meant to live as long as the service: tokens are refreshed
 * in the background before they expire (about 80 % into their lifetime), so callers never
 * wait on the issuer in steady state; connections and TLS sessions are shared between all
 * requests made through the client.
 */
#ifndef MESH_CLIENT_H
#define MESH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Client options: an opaque handle with the defaults, set one option at a time. Each setter
 * checks its value and returns MESH_ERR_INVALID_ARG or MESH_ERR_CONFIG naming the option
 * (the option keeps its previous value then); string setters copy (NULL unsets an optional
 * one). None of these calls blocks. An options handle is not thread-safe; mesh_client_new
 * copies it, so it may be freed or reused at once.
 */
typedef struct mesh_client_opts mesh_client_opts_t;

/* A new options handle with the defaults below. MESH_ERR_NOMEM. */
MESH_WUR mesh_err_t mesh_client_opts_new(mesh_client_opts_t **out);
/* Wipes the client secret and frees. NULL-safe. */
void mesh_client_opts_free(mesh_client_opts_t *o);

/* Required: https://host:port of mesh-issuer (MESH_ERR_CONFIG when not https://). */
MESH_WUR mesh_err_t mesh_client_opts_set_issuer_url(mesh_client_opts_t *o, const char *url);
/* The service certificate (leaf first) and its private key; required without client_id. */
MESH_WUR mesh_err_t mesh_client_opts_set_cert_path(mesh_client_opts_t *o, const char *path);
MESH_WUR mesh_err_t mesh_client_opts_set_key_path(mesh_client_opts_t *o, const char *path);
/* Required: the mesh trust anchor (certs/ca.pem). */
MESH_WUR mesh_err_t mesh_client_opts_set_ca_path(mesh_client_opts_t *o, const char *path);
/* Service-token mode: id + secret instead of the certificate. The secret is copied, wiped
 * when replaced and on free, and never logged. */
MESH_WUR mesh_err_t mesh_client_opts_set_client_id(mesh_client_opts_t *o, const char *id);
MESH_WUR mesh_err_t mesh_client_opts_set_client_secret(mesh_client_opts_t *o, const char *secret);
/*
 * Optional: the SPIFFE ID the issuer's certificate must carry, e.g.
 * "spiffe://mesh.local/issuer" (go-spiffe's tlsconfig.AuthorizeID). Every development
 * certificate is valid for localhost and 127.0.0.1, so the CA check alone lets any mesh
 * service answer for the issuer there; with this set, a server with another ID fails with
 * MESH_ERR_PEER_ID before any byte of the token request (and so the client secret) is sent.
 * NULL: any certificate of the mesh CA with a matching host name. MESH_ERR_CONFIG when not a
 * SPIFFE ID.
 */
MESH_WUR mesh_err_t mesh_client_opts_set_issuer_id(mesh_client_opts_t *o, const char *id);
/* DEVELOPMENT ONLY: skip TLS hostname checks (mesh_client_new warns). Default false. */
MESH_WUR mesh_err_t mesh_client_opts_set_insecure_skip_hostname(mesh_client_opts_t *o, bool skip);
/* Tokens kept ((audience, scope) pairs), at least 1; default 64. */
MESH_WUR mesh_err_t mesh_client_opts_set_cache_entries(mesh_client_opts_t *o, size_t n);
/* Refresh this far into a token's life, in (0, 1); default 0.8. */
MESH_WUR mesh_err_t mesh_client_opts_set_refresh_fraction(mesh_client_opts_t *o, double f);
/* The ttl asked of the issuer in seconds, >= 0; default 0: the issuer's default. */
MESH_WUR mesh_err_t mesh_client_opts_set_token_ttl(mesh_client_opts_t *o, int64_t seconds);
/* Retries on connection errors, 5xx and 429 (never on 4xx), >= 0; default 3. */
MESH_WUR mesh_err_t mesh_client_opts_set_max_retries(mesh_client_opts_t *o, int n);
/* First backoff, > 0 (doubles with jitter; default 200), and the longest wait, > 0 (also caps
 * Retry-After; default 5000); mesh_client_new checks max >= base. */
MESH_WUR mesh_err_t mesh_client_opts_set_retry_base_ms(mesh_client_opts_t *o, int64_t ms);
MESH_WUR mesh_err_t mesh_client_opts_set_retry_max_ms(mesh_client_opts_t *o, int64_t ms);
/* A whole request to the issuer (or to a peer), > 0; default 10000. */
MESH_WUR mesh_err_t mesh_client_opts_set_timeout_ms(mesh_client_opts_t *o, int64_t ms);

typedef struct mesh_client mesh_client_t;

/*
 * Creates a client. Checks now, naming the wrong file in the detail: the files are readable,
 * the certificate matches the key (MESH_ERR_CERT_KEY_MISMATCH), chains to the CA and is
 * within its validity period (MESH_ERR_CERT). MESH_ERR_CONFIG for missing options,
 * MESH_ERR_INVALID_ARG for retry_max_ms below retry_base_ms. Does not contact the issuer.
 * `opts` is copied. With insecure_skip_hostname a warning is written to stderr every time.
 * Blocks on the file system (reads the certificate, key and CA files); not on the network.
 */
MESH_WUR mesh_err_t mesh_client_new(const mesh_client_opts_t *opts, mesh_client_t **out);

/*
 * As mesh_client_new, configured from the environment: the identity files through
 * mesh_env_identity (<mesh/util.h>: TLS_CERT_PATH, TLS_KEY_PATH, TLS_CA_PATH; or
 * MESH_CERTS_DIR with `service_name` giving <dir>/<service>/cert.pem,
 * <dir>/<service>/key.pem and <dir>/ca.pem; explicit TLS_* win) and MESH_ISSUER_URL;
 * MESH_CLIENT_ID + MESH_CLIENT_SECRET select service-token mode (then only the CA is read);
 * MESH_ISSUER_ID sets issuer_id. An empty variable counts as unset. The detail names the
 * variable that is missing. Blocks on the file system as mesh_client_new.
 */
MESH_WUR mesh_err_t mesh_client_from_env(const char *service_name, mesh_client_t **out);

/* Stops the refresh thread (cancelling a refresh in flight), wipes tokens and the secret,
 * frees. NULL-safe. No other call on `c` may be running. Blocks until the refresh thread
 * has stopped (a refresh in flight is cancelled, not waited for). */
void mesh_client_free(mesh_client_t *c);

/*
 * A token for `audience` (and `scope`, NULL or "" for the issuer's default): from the cache
 * when it holds one, else from the issuer over mTLS (or with the service token). Concurrent
 * callers asking for the same pair share one issuer request. *token is a new string
 * (mesh_free()); *expires_at (optional) its expiry in seconds since the epoch.
 * Errors: MESH_ERR_ISSUER_ERROR with the issuer's error and error_description in the detail
 * (never retried when 4xx); MESH_ERR_NETWORK / MESH_ERR_TLS after the retries. Thread-safe.
 * Blocks: on a cache miss (the first call for a pair, or after expiry when refresh ahead
 * failed) it waits for the issuer: up to timeout_ms per attempt, plus the retries and their
 * backoff. With a cached token it only takes the client's lock (no I/O under it).
 */
MESH_WUR mesh_err_t mesh_client_token(mesh_client_t *c, const char *audience, const char *scope,
                                      char **token, int64_t *expires_at);

/*
 * One request to a peer, built with setters, then sent with mesh_client_request. Setters
 * copy; each returns MESH_ERR_INVALID_ARG naming what is wrong (the request is then
 * unchanged). None of these calls blocks; a request is not thread-safe, but one request may
 * be sent many times (from one thread at a time).
 */
typedef struct mesh_request mesh_request_t;

/* A new request: `method` ("GET" when NULL; a token of letters) to `url` (https:// only). */
MESH_WUR mesh_err_t mesh_request_new(const char *method, const char *url, mesh_request_t **out);
void mesh_request_free(mesh_request_t *req); /* NULL-safe */
/* The audience of the bearer token sent with the request (the client fetches and caches it).
 * NULL (the default): no Authorization header, mTLS only. */
MESH_WUR mesh_err_t mesh_request_set_audience(mesh_request_t *req, const char *audience);
/* Adds one "Name: value" header (no CR or LF; not Authorization, which the audience sets);
 * at most MESH_MAX_HEADER_COUNT. */
MESH_WUR mesh_err_t mesh_request_add_header(mesh_request_t *req, const char *header);
/* The request body: `len` bytes copied (NULL/0: none). */
MESH_WUR mesh_err_t mesh_request_set_body(mesh_request_t *req, const void *body, size_t len);
/* The largest response body accepted (0: the default, 16 MiB); a larger one is MESH_ERR_LIMIT. */
MESH_WUR mesh_err_t mesh_request_set_max_body(mesh_request_t *req, size_t max);
/*
 * Pins the request to the peer whose certificate carries the SPIFFE ID `peer_id`
 * ("spiffe://mesh.local/svc-b"; NULL: no pin). After the TLS handshake, on a new or a reused
 * connection, the server's spiffe:// URI SAN must equal peer_id, else mesh_client_request
 * fails with MESH_ERR_PEER_ID (both IDs in the detail) before any byte of the request (token,
 * headers, body) is sent. MESH_ERR_INVALID_ARG when peer_id is not a SPIFFE ID.
 */
MESH_WUR mesh_err_t mesh_request_set_peer_id(mesh_request_t *req, const char *peer_id);

/* A peer's answer to mesh_client_request(): opaque, read with the accessors below. */
typedef struct mesh_response mesh_response_t;

void mesh_response_free(mesh_response_t *r); /* NULL-safe */
/* The HTTP status. */
long mesh_response_status(const mesh_response_t *r);
/* The value of the first response header named `name` (case-insensitive; surrounding spaces
 * dropped), owned by the response; NULL when absent. */
const char *mesh_response_header(const mesh_response_t *r, const char *name);
/* The raw response header block, NUL-terminated, owned by the response; *len (optional). */
const char *mesh_response_headers(const mesh_response_t *r, size_t *len);
/* The body, NUL-terminated for convenience (it may hold NUL bytes), owned by the response. */
const char *mesh_response_body(const mesh_response_t *r);
size_t mesh_response_body_len(const mesh_response_t *r);
/* Connections opened for this request (0: one was reused). */
long mesh_response_new_connections(const mesh_response_t *r);

/*
 * Sends `req` through the client: the client certificate and the mesh CA, the client's
 * shared connection/TLS-session cache, and with an audience "Authorization: Bearer <token>".
 * *resp is new on success (any HTTP status is success; mesh_response_free()); on failure
 * MESH_ERR_NETWORK / MESH_ERR_TLS with curl's reason in the detail, MESH_ERR_PEER_ID (see
 * mesh_request_set_peer_id), MESH_ERR_LIMIT for a body above the request's limit, or the
 * token's error. Thread-safe. Blocks: on the network for the whole request (up to the
 * client's timeout_ms), and before it on the issuer when the token is not cached (see
 * mesh_client_token).
 */
MESH_WUR mesh_err_t mesh_client_request(mesh_client_t *c, const mesh_request_t *req,
                                        mesh_response_t **resp);

/* Counters since creation (tests, metrics), read with mesh_client_stat. */
typedef enum {
    MESH_CLIENT_STAT_ISSUER_REQUESTS = 0, /* token requests sent (retries included) */
    MESH_CLIENT_STAT_CACHE_HITS = 1,
    MESH_CLIENT_STAT_REFRESHES = 2, /* background refreshes that put a new token in the cache */
} mesh_client_stat_t;

/* One counter; 0 for an unknown one or a NULL client. Thread-safe, does not block. */
uint64_t mesh_client_stat(const mesh_client_t *c, mesh_client_stat_t which);

/*
 * Identity file checks (used by mesh_client_new and `mesh doctor`); each detail names the
 * file and what to change.
 *
 * mesh_certfile_check_key: the private key in `key_path` is the one of the first certificate
 * in `cert_path` (MESH_ERR_CERT_KEY_MISMATCH).
 * mesh_certfile_check_time: the certificate is valid at `now` (0 = the clock); *not_after
 * (optional) its expiry. MESH_ERR_CERT when expired or not yet valid.
 * mesh_certfile_check_chain: the certificate (with the intermediates that follow it in the
 * file) chains to the CA certificates in `ca_path`; MESH_ERR_CERT with OpenSSL's reason.
 * Each blocks on the file system (reads the files), never on the network. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_certfile_check_key(const char *cert_path, const char *key_path);
MESH_WUR mesh_err_t mesh_certfile_check_time(const char *cert_path, int64_t now,
                                             int64_t *not_after);
MESH_WUR mesh_err_t mesh_certfile_check_chain(const char *cert_path, const char *ca_path);

#ifdef __cplusplus
}
#endif
#endif /* MESH_CLIENT_H */
