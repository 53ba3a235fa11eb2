/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-authz's configuration (docs/man/mesh-authz.json.5): listeners, trust, issuers and
 * routes, parsed strictly (unknown members are errors naming their key path) into one
 * immutable snapshot. A snapshot becomes live with config_start (one verifier per issuer and
 * audience) and is shared by the workers through a reference count; SIGHUP swaps in a new one.
 */
#ifndef AUTHZ_CONFIG_H
#define AUTHZ_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/verifier.h>

/* Ordered loosest last: an issuer's verifier takes the loosest its routes need. */
typedef enum {
    BIND_REQUIRED = 0,
    BIND_UNBOUND_FOR = 1,
    BIND_WHEN_PRESENTED = 2,
} bind_kind_t;

/* "N/period": at most n requests in any sliding window of `period_s` seconds. */
typedef struct {
    int64_t n;
    int64_t period_s;
} quota_t;

typedef struct {
    char *claim;  /* a top-level claim of the token */
    char *header; /* the header to the upstream that carries its value */
} claim_header_t;

typedef struct {
    char *name;       /* X-Mesh-Subject api-key:<name>; metric and log label */
    uint8_t hash[32]; /* SHA-256 of the key */
    int64_t expires;  /* Unix seconds; 0: never */
    char **scopes;    /* what the key may do */
    size_t n_scopes;
} api_key_t;

typedef enum { ISSUER_MESH = 0, ISSUER_OIDC = 1, ISSUER_API_KEYS = 2 } issuer_kind_t;

typedef struct {
    char *name;     /* metric and log label: "name" or "<host><prefix>" */
    char *host;     /* NULL or "*": any host; else exact, case-insensitive, port ignored */
    char *prefix;   /* "/x/" matches below it; "/x" matches /x and below /x/ */
    char **methods; /* upper case; n_methods 0: any method */
    size_t n_methods;
    bool is_public;
    char *audience;
    char **scopes; /* all required */
    size_t n_scopes;
    char *scope_str; /* the scopes space-separated, for WWW-Authenticate */
    bind_kind_t binding;
    char **unbound; /* subjects allowed unbound under BIND_UNBOUND_FOR */
    size_t n_unbound;
    size_t *issuers; /* indices into config_t.issuers: any one of them (Envoy requires_any) */
    size_t n_issuers;
    size_t *all; /* requires_all: a credential of EACH (a user token AND a service token) */
    size_t n_all;
    quota_t per_route;    /* rate_limit.per_route; n 0: none */
    quota_t *per_subject; /* rate_limit.per_subject, "*" last when given */
    char **quota_subjects;
    size_t n_per_subject;
    bool single_use; /* a jti replay cache: each token once */
} route_t;

typedef struct {
    char *name;
    issuer_kind_t kind;
    char *token_header; /* NULL: "Authorization: Bearer"; else a header with the raw token */
    char *url;          /* the exact iss, and the base URL of metadata, JWKS and feed */
    char *ca, *cert, *key, *issuer_id;
    mesh_jwks_source_t jwks_src;
    char *jwks_loc;
    bool feed;
    int64_t poll_ms;
    /* ONE verifier per issuer: every audience its routes use (space-separated; each route
     * then checks its own with mesh_identity_has_audience) and the loosest binding policy
     * they need (each route re-checks its own rule). */
    char *audiences;
    size_t n_audiences;
    bind_kind_t binding;
    char *binding_spec; /* the verifier's policy string */
    mesh_verifier_t *v; /* set by config_start */
    /* the key cache (every JWT kind; -1: libmesh's default) */
    int64_t max_age_min, max_age_max, stale_s, cooldown_ms;
    /* kind "oidc" */
    bool own_audiences;     /* "audiences" given: the verifier takes those, routes do not check */
    char *algorithms;       /* space-separated; NULL: libmesh's rules */
    char *typ;              /* space-separated; NULL: at+jwt */
    char *required_claims;  /* space-separated; NULL: none */
    claim_header_t *claims; /* claims_to_headers */
    size_t n_claims;
    uint8_t *hmac_key; /* hmac_key_file's bytes (legacy HS256), wiped on free */
    size_t hmac_len;
    int64_t max_lifetime; /* 0: libmesh's default */
    /* kind "api-keys" */
    api_key_t *keys;
    size_t n_keys;
    bool enabled; /* false: every key is refused (legacy_key_refused) */
} issuer_t;

typedef enum { LISTEN_UNIX = 0, LISTEN_TCP = 1 } listen_kind_t;

typedef struct {
    listen_kind_t kind;
    char *path;    /* unix */
    unsigned mode; /* unix: 0600 or 0660 style, no bits for others */
    char *group;   /* unix: the socket's group (the proxy's), NULL: the process's */
    char *host;    /* tcp */
    int port;
    bool loopback;
    char *tls_cert, *tls_key, *tls_client_ca; /* tcp with tls: the proxy's mTLS */
    char **proxies;                           /* SPIFFE IDs allowed to call */
    size_t n_proxies;
    int max_connections; /* open at once; one more is closed (MESH_AUTHZ_MAX_CONNECTIONS) */
} listener_t;

typedef struct config {
    atomic_int refs;
    char *path;
    listener_t *listeners;
    size_t n_listeners;
    char *metrics_host; /* NULL: no metrics listener */
    int metrics_port;
    int workers;
    char *log_path; /* NULL: stderr; "-" none */
    char *trust_bundle, *trust_crl;
    issuer_t *issuers;
    size_t n_issuers;
    route_t *routes;
    size_t n_routes;
} config_t;

/* Parses the file; NULL with "<file>: <key path>: <what to change>" in err. No network. */
config_t *config_load(const char *path, char *err, size_t errlen);
/* Parses a JSON text (tests); `dir` resolves relative paths. */
config_t *config_parse(const char *text, size_t len, const char *dir, char *err, size_t errlen);
/* Creates the verifiers (blocks: first key fetch per issuer). false with err set. */
bool config_start(config_t *cfg, char *err, size_t errlen);
config_t *config_ref(config_t *cfg);
void config_unref(config_t *cfg); /* frees at zero, verifiers too; NULL-safe */

/* --check-config: every file the config names is readable; false with "<key path>: <file>:
 * <reason>" in err. Touches only the file system. */
bool config_check_files(const config_t *cfg, char *err, size_t errlen);
/* --check-config: the routes and trust in plain words (stdout), or as JSON. */
void config_explain(const config_t *cfg, bool json);
/* --check-config --json for a config that failed: {"valid": false, "error": ...} on stdout. */
void config_explain_error(const char *err);

const char *bind_kind_name(bind_kind_t b);

#endif /* AUTHZ_CONFIG_H */
