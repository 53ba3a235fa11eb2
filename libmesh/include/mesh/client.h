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

typedef struct {
    const char *issuer_url; /* required: https://host:port of mesh-issuer */
    const char *cert_path;  /* the service certificate (leaf first); required without client_id */
    const char *key_path;   /* its private key */
    const char *ca_path;    /* required: the mesh trust anchor (certs/ca.pem) */
    const char *client_id;  /* service-token mode: id + secret instead of the certificate */
    const char *client_secret; /* copied and wiped on free; never logged */
    bool insecure_skip_hostname; /* DEVELOPMENT ONLY: skip TLS hostname checks (warns) */
    size_t cache_entries;   /* tokens kept (audience, scope pairs); default 64 */
    double refresh_fraction; /* refresh this far into a token's life; default 0.8 */
    int64_t token_ttl;      /* ttl asked of the issuer; 0 = the issuer's default */
    int max_retries;        /* on connection errors, 5xx and 429; default 3; never on 4xx */
    int64_t retry_base_ms;  /* first backoff; doubles with jitter; default 200 */
    int64_t retry_max_ms;   /* longest wait, also caps Retry-After; default 5000 */
    int64_t timeout_ms;     /* whole request to the issuer; default 10000 */
    /*
     * Optional: the SPIFFE ID the issuer's certificate must carry, e.g.
     * "spiffe://mesh.local/issuer" (go-spiffe's tlsconfig.AuthorizeID). Every development
     * certificate is valid for localhost and 127.0.0.1, so the CA check alone lets any mesh
     * service answer for the issuer there; with this set, a server with another ID fails
     * with MESH_ERR_PEER_ID before any byte of the token request (and so the client secret)
     * is sent. NULL: any certificate of the mesh CA with a matching host name.
     */
    const char *issuer_id;
} mesh_client_opts_t;

/* Fills `opts` with the defaults above. */
void mesh_client_opts_init(mesh_client_opts_t *opts);

typedef struct mesh_client mesh_client_t;

/*
 * Creates a client. Checks now, naming the wrong file in the detail: the files are readable,
 * the certificate matches the key (MESH_ERR_CERT_KEY_MISMATCH), chains to the CA and is
 * within its validity period (MESH_ERR_CERT). MESH_ERR_INVALID_ARG/MESH_ERR_CONFIG for
 * missing options or an issuer_id that is not a SPIFFE ID. Does not contact the issuer.
 * `opts` is copied. With insecure_skip_hostname a warning is written to stderr every time.
 */
MESH_WUR mesh_err_t mesh_client_new(const mesh_client_opts_t *opts, mesh_client_t **out);

/*
 * As mesh_client_new, configured from the environment: TLS_CERT_PATH, TLS_KEY_PATH,
 * TLS_CA_PATH, MESH_ISSUER_URL; or MESH_CERTS_DIR with `service_name` giving
 * <dir>/<service>/cert.pem, <dir>/<service>/key.pem and <dir>/ca.pem (explicit TLS_* win);
 * MESH_CLIENT_ID + MESH_CLIENT_SECRET select service-token mode; MESH_ISSUER_ID sets
 * issuer_id. The detail names the variable that is missing.
 */
MESH_WUR mesh_err_t mesh_client_from_env(const char *service_name, mesh_client_t **out);

/* Stops the refresh thread (cancelling a refresh in flight), wipes tokens and the secret,
 * frees. NULL-safe. No other call on `c` may be running. */
void mesh_client_free(mesh_client_t *c);

/*
 * A token for `audience` (and `scope`, NULL or "" for the issuer's default): from the cache
 * when it holds one, else from the issuer over mTLS (or with the service token). Concurrent
 * callers asking for the same pair share one issuer request. *token is a new string
 * (mesh_free()); *expires_at (optional) its expiry in seconds since the epoch.
 * Errors: MESH_ERR_ISSUER_ERROR with the issuer's error and error_description in the detail
 * (never retried when 4xx); MESH_ERR_NETWORK / MESH_ERR_TLS after the retries. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_client_token(mesh_client_t *c, const char *audience, const char *scope,
                                      char **token, int64_t *expires_at);

/* A peer's answer to mesh_client_request(). */
typedef struct {
    long status;          /* HTTP status */
    char *headers;        /* raw response header block (NUL-terminated) */
    size_t headers_len;
    char *body;           /* NUL-terminated for convenience; may hold NUL bytes */
    size_t body_len;
    long new_connections; /* connections opened for this request (0: one was reused) */
} mesh_response_t;

/* Frees what a response holds and zeroes it. NULL-safe. */
void mesh_response_clear(mesh_response_t *r);

/*
 * One request to a peer through a client (see mesh_client_setup_curl): `method` ("GET" when
 * NULL), extra `headers` (NULL-terminated array of "Name: value", optional), `body` of
 * `body_len` bytes (optional). Bodies above `max_body` bytes (0: 16 MiB) fail with
 * MESH_ERR_LIMIT. *resp is filled on success (any HTTP status is success); on failure
 * MESH_ERR_NETWORK / MESH_ERR_TLS with curl's reason in the detail.
 */
MESH_WUR mesh_err_t mesh_client_request(mesh_client_t *c, const char *method, const char *url,
                                        const char *audience, const char *const *headers,
                                        const void *body, size_t body_len, size_t max_body,
                                        mesh_response_t *resp);

/*
 * As mesh_client_request, to the peer whose certificate carries the SPIFFE ID `peer_id`
 * ("spiffe://mesh.local/svc-b"; NULL: no pin). After the TLS handshake, on a new or a reused
 * connection, the server's spiffe:// URI SAN must equal peer_id, else MESH_ERR_PEER_ID with
 * both IDs in the detail, before any byte of the request (token, headers, body) is sent.
 * MESH_ERR_INVALID_ARG when peer_id is not a SPIFFE ID. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_client_request_peer(mesh_client_t *c, const char *peer_id,
                                             const char *method, const char *url,
                                             const char *audience, const char *const *headers,
                                             const void *body, size_t body_len,
                                             size_t max_body, mesh_response_t *resp);

/* Counters since creation (tests, metrics). */
typedef struct {
    uint64_t issuer_requests; /* token requests sent (retries included) */
    uint64_t cache_hits;
    uint64_t refreshes;       /* background refreshes that put a new token in the cache */
} mesh_client_stats_t;

void mesh_client_stats(mesh_client_t *c, mesh_client_stats_t *out); /* thread-safe */

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
 */
MESH_WUR mesh_err_t mesh_certfile_check_key(const char *cert_path, const char *key_path);
MESH_WUR mesh_err_t mesh_certfile_check_time(const char *cert_path, int64_t now,
                                             int64_t *not_after);
MESH_WUR mesh_err_t mesh_certfile_check_chain(const char *cert_path, const char *ca_path);

#ifdef __cplusplus
}
#endif
#endif /* MESH_CLIENT_H */
