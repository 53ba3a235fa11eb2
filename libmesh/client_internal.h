/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_client_t, shared by client.c (object, cache) and client_fetch.c. */
#ifndef MESH_CLIENT_INTERNAL_H
#define MESH_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mesh/client.h>
#include <mesh/renew.h>

#include "http.h"

/* The options handle (client_opts.c); strings owned, client_secret wiped on free. */
struct mesh_client_opts {
    char *issuer_url, *cert_path, *key_path, *ca_path, *client_id, *client_secret, *issuer_id;
    bool insecure_skip_hostname;
    size_t cache_entries;
    double refresh_fraction;
    int64_t token_ttl;
    int max_retries;
    int64_t retry_base_ms, retry_max_ms, timeout_ms;
    bool renew;       /* renew.h: the client renews its certificate */
    char *join_token; /* the first certificate's one-time token; wiped on free */
};

typedef struct tok_entry {
    struct tok_entry *next;
    char *audience, *scope; /* scope "" for the issuer's default */
    char *token;            /* NULL until the first fetch succeeds; wiped when replaced */
    int64_t expires_at;     /* wall clock, for callers */
    long long refresh_ms, expire_ms, last_used_ms; /* monotonic */
    bool used_since_fetch;                         /* refresh ahead only what is in use */
    bool fetching; /* single flight: one fetch per entry at a time */
    int waiters;   /* callers waiting for that fetch: the entry stays */
    uint64_t gen;  /* completed fetches */
    mesh_err_t last_err;
    char last_detail[512];
    long long backoff_ms; /* background refresh failures */
    uint64_t ident_gen;   /* the client identity the token was fetched with (cnf) */
} tok_entry_t;

struct mesh_client {
    struct mesh_client_opts o; /* the numbers; its strings are NULL (copies below) */
    char *issuer_url, *cert_path, *key_path, *ca_path, *client_id, *client_secret;
    char *issuer_id; /* the issuer's SPIFFE ID, checked before each token request; or NULL */
    char *token_url;
    mesh_http_t *http;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC; fetch completions, refresher wakeups, stop */
    tok_entry_t *entries;
    size_t count;
    bool stop;
    pthread_t refresher;
    bool refresher_started;

    atomic_uint_fast64_t issuer_requests, cache_hits, refreshes;
    /* renew.h: the renewer, and the identity generation a token must have been fetched
     * under to be handed out (a renewal bumps it: tokens bound to the old certificate go). */
    mesh_renewer_t *renewer;
    atomic_uint_fast64_t ident_gen;
};

/* The client's renewal (client_renew.c): before the files are checked, a first certificate
 * from the join token when there is none yet; after the client is built, the renewer. */
mesh_err_t mesh_client_renew_bootstrap(const mesh_client_opts_t *o);
mesh_err_t mesh_client_renew_start(mesh_client_t *c, const mesh_client_opts_t *o);
/* Called under no lock after a renewal: the new pair into TLS, old tokens out. */
void mesh_client_identity_changed(mesh_client_t *c);

/*
 * One token request to the issuer with the client's retry policy (connection errors, 5xx and
 * 429 with Retry-After; never 4xx). *token is new (free()), *expires_in seconds.
 */
mesh_err_t mesh_client_fetch(mesh_client_t *c, const char *audience, const char *scope,
                             char **token, int64_t *expires_in);

/* Parses an RFC 6749 §5.1 token response of `len` bytes from `url`. *token new (free()). */
mesh_err_t mesh_client_parse_token(const char *body, size_t len, const char *url, char **token,
                                   int64_t *expires_in);

/* Sleeps `ms` unless the client is stopping; false when it is. Call without c->mu held. */
bool mesh_client_sleep(mesh_client_t *c, long long ms);

#endif /* MESH_CLIENT_INTERNAL_H */
