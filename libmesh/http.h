/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmesh's one door to libcurl: HTTPS requests with the mesh's TLS material, a shared
 * connection and TLS-session cache, bounded bodies, and the response headers libmesh acts on
 * (Retry-After, Cache-Control max-age). Internal.
 */
#ifndef MESH_HTTP_H
#define MESH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include <mesh/error.h>

typedef struct {
    const char *cert_path; /* client certificate (optional) */
    const char *key_path;
    const char *ca_path; /* trust anchor (NULL: the system store) */
    bool skip_hostname;  /* development only */
    long timeout_ms;     /* whole request; 0 = 10 s */
    /* Optional: every request to a URL under pin_prefix (an origin such as the issuer's URL)
     * without a peer_id of its own is pinned to pin_id, as if req->peer_id were pin_id. */
    const char *pin_prefix;
    const char *pin_id;
} mesh_http_opts_t;

typedef struct mesh_http mesh_http_t;

mesh_err_t mesh_http_new(const mesh_http_opts_t *opts, mesh_http_t **out);
void mesh_http_free(mesh_http_t *h);

/* Presents this certificate chain and key (PEM, copied; the key wiped when replaced and on
 * free) instead of the files from now on: new connections use the new pair, requests in
 * flight finish with theirs. Thread-safe. */
mesh_err_t mesh_http_set_identity(mesh_http_t *h, const char *cert_pem, size_t cert_len,
                                  const char *key_pem, size_t key_len);

/* Makes every request in flight through `h` (and every later one) fail at once with
 * MESH_ERR_NETWORK: lets an owner stop its threads without waiting for a timeout. */
void mesh_http_cancel(mesh_http_t *h);

typedef struct {
    const char *method;         /* NULL = GET, or POST when body != NULL */
    const char *url;            /* https:// only */
    const char *const *headers; /* NULL-terminated "Name: value" list, optional */
    const void *body;
    size_t body_len;
    size_t max_body;     /* response body limit; 0 = 1 MiB */
    const char *bearer;  /* Authorization: Bearer (optional; copied by curl) */
    bool with_cert;      /* present the client certificate */
    const char *peer_id; /* the server's SPIFFE ID must be this (optional, see below) */
} mesh_http_req_t;

typedef struct {
    long status;
    char *body; /* NUL-terminated */
    size_t body_len;
    char *headers; /* the last header block, NUL-terminated */
    size_t headers_len;
    long retry_after;     /* seconds, -1 when absent */
    long max_age;         /* Cache-Control max-age, -1 when absent */
    bool no_store;        /* Cache-Control no-store/no-cache */
    long new_connections; /* CURLINFO_NUM_CONNECTS */
} mesh_http_resp_t;

/*
 * Performs one request. Any HTTP status is MESH_OK; transport failures are MESH_ERR_NETWORK
 * (connect, DNS, timeout, reset: worth a retry) or MESH_ERR_TLS (handshake, certificate), with
 * curl's reason, which carries the server's TLS alert, in the detail. With req->peer_id a
 * server whose certificate does not carry exactly that spiffe:// URI SAN is MESH_ERR_PEER_ID,
 * found before any byte of the request is sent (see mesh_http_pin_handle). Thread-safe.
 */
mesh_err_t mesh_http_do(mesh_http_t *h, const mesh_http_req_t *req, mesh_http_resp_t *resp);

void mesh_http_resp_clear(mesh_http_resp_t *resp);

/* Configures a caller's easy handle with the TLS material, the share handle and a bearer. */
mesh_err_t mesh_http_setup_handle(mesh_http_t *h, CURL *easy, const char *bearer);

/*
 * Pins a caller's easy handle to a peer: before every request on it (a new connection, a
 * reused one, a resumed TLS session) curl calls back (CURLOPT_PREREQFUNCTION, once the
 * handshake and its chain check are done, before the request is written) and the transfer
 * fails with CURLE_ABORTED_BY_CALLBACK unless the server's certificate carries exactly the
 * SPIFFE ID `peer_id`; the reason is left in mesh_err_detail() of the thread that ran the
 * transfer. *out (new) is the callback's state: free it after the handle. The public type is
 * mesh_peer_pin_t (client.h).
 */
struct mesh_peer_pin;
mesh_err_t mesh_http_pin_handle(CURL *easy, const char *peer_id, struct mesh_peer_pin **out);
void mesh_http_pin_free(struct mesh_peer_pin *pin); /* NULL-safe */
/* MESH_OK, or MESH_ERR_PEER_ID once the pin has stopped a transfer (until one passes). */
mesh_err_t mesh_http_pin_result(const struct mesh_peer_pin *pin);

/* application/x-www-form-urlencoded value (new string, free()); NULL when out of memory. */
char *mesh_http_form_escape(const char *s);

#endif /* MESH_HTTP_H */
