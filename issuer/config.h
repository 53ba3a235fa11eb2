/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer configuration: one JSON file (docs/CONFIG.md). Loading checks every value and
 * every cross-reference; an error names the key path ("policy[2].audiences[0]") and says what
 * to change. Relative file paths are resolved against the config file's directory.
 */
#ifndef ISSUER_CONFIG_H
#define ISSUER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mesh/error.h>
#include <mesh/limits.h>

typedef struct {
    char *name;
    char *description;
    char **scopes;
    size_t n_scopes;
} cfg_audience_t;

typedef struct {
    char *identity; /* exact identity, or a prefix ending in "*", e.g. spiffe://mesh.local/x* */
    char **audiences;
    size_t n_audiences;
    char **scopes; /* allowed scopes; all_scopes = every scope the audience defines */
    size_t n_scopes;
    bool all_scopes;
    int64_t max_ttl; /* 0 = the global max */
} cfg_policy_t;

typedef struct {
    double rate; /* tokens per second; 0 = unlimited */
    double burst;
} cfg_rate_t;

/* certificates.services[]: a service mesh-issuer signs certificates for. */
typedef struct {
    char *name; /* spiffe://<trust_domain>/<name>, CN */
    char **dns; /* DNS SANs it may have (default: its name) */
    size_t n_dns;
    char **ips; /* IP SANs it may have (default: none) */
    size_t n_ips;
    int64_t lifetime; /* 0 = certificates.default_lifetime */
} cfg_cert_service_t;

/* The `certificates` section (online issuance, docs/CERTIFICATES.md); enabled false without it. */
typedef struct {
    bool enabled;
    char *ca_cert, *ca_key; /* the issuing CA (mesh-ca issuer-ca) */
    char *crl;              /* where `cert revoke` writes the issuing CA's CRL */
    char *trust_domain;
    int64_t default_lifetime, min_lifetime, max_lifetime;
    cfg_cert_service_t *services;
    size_t n_services;
} cfg_certs_t;

typedef struct config {
    char *path;
    char *issuer; /* https URL, the iss claim */
    char *listen_host;
    int listen_port;
    char *tls_cert, *tls_key, *tls_ca, *tls_crl; /* tls_crl NULL = not configured */
    char *key_current, *key_next, *key_previous; /* next/previous may be NULL */
    char *store;                                 /* "sqlite:PATH" with PATH resolved */
    int64_t ttl_default, ttl_min, ttl_max, svc_ttl_max, skew;
    cfg_audience_t *audiences;
    size_t n_audiences;
    cfg_policy_t *policy;
    size_t n_policy;
    char **admins;
    size_t n_admins;
    cfg_rate_t rl_identity, rl_source;
    int workers;                    /* 0 = one per core */
    int max_connections;            /* per worker */
    int jwks_max_age;               /* seconds, Cache-Control of the JWKS */
    int max_connection_age;         /* seconds; an older connection is closed after its answer */
    int max_connections_per_source; /* open connections one address may hold, all workers */
    cfg_certs_t certs;
} config_t;

/*
 * Loads and checks `path`. On failure returns MESH_ERR_CONFIG (or IO) and writes a message
 * naming the key path into err.
 */
mesh_err_t config_load(const char *path, config_t **out, char *err, size_t errlen);

/* As config_load, from `len` bytes in memory; `path` names it and anchors relative paths. */
mesh_err_t config_parse(const char *buf, size_t len, const char *path, config_t **out, char *err,
                        size_t errlen);
void config_free(config_t *cfg);

/* The audience named `name`, or NULL. */
const cfg_audience_t *config_audience(const config_t *cfg, const char *name);

/* true when `identity` is one of the admins (exact match or '*' prefix). */
bool config_is_admin(const config_t *cfg, const char *identity);

/* true when a policy identity pattern matches `identity`. */
bool config_identity_matches(const char *pattern, const char *identity);

/* The certificates.services[] entry named `name`, or NULL. */
const cfg_cert_service_t *config_cert_service(const config_t *cfg, const char *name);

/* Human explanation of what the config means, for --check-config. */
void config_explain(const config_t *cfg, FILE *f);

#endif /* ISSUER_CONFIG_H */
