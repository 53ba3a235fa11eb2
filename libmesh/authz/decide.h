/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one decision engine behind every front end: a proxy's description of the original
 * request in, a verdict with the caller's identity out. Route first (no route: deny), public
 * routes answer without verifying, every other route verifies the bearer token with the
 * verifier of its issuer and audience, then re-checks the route's own binding rule and
 * scopes. Thread-safe (the config is read-only); may block as mesh_verify does.
 */
#ifndef AUTHZ_DECIDE_H
#define AUTHZ_DECIDE_H

#include <stdbool.h>

#include <mesh/jwt.h>
#include <mesh/limits.h>

#include "config.h"

typedef enum {
    FE_NGINX = 0,   /* /nginx: auth_request */
    FE_ENVOY = 1,   /* /envoy/<path>: ext_authz HTTP service */
    FE_FORWARD = 2, /* /forward: Traefik / Caddy forward auth */
    FE_NONE = 3,    /* a path that is no front end (answered 404) */
} frontend_t;

/* Another header of the request: its first value and how often it came (NULL, 0: none). */
typedef const char *(*header_fn)(void *ctx, const char *name, int *count);

typedef struct {
    frontend_t fe;
    const char *method;        /* the original method */
    const char *host;          /* the original host (may carry a port); NULL: none */
    const char *uri;           /* the original path and query */
    const char *authorization; /* NULL: none */
    bool two_auth;             /* the Authorization header came twice */
    const char *cert;          /* the raw certificate header of the front end; NULL: none */
    bool two_cert;             /* ... came twice */
    header_fn header;          /* token_header / API key headers; NULL: none */
    void *hctx;
} authz_req_t;

typedef struct {
    int status;          /* 200, 400, 401, 403, 500, 503 */
    const char *outcome; /* "allow", "public", "deny", "error" */
    const char *reason;  /* a libmesh reason name or a mesh-authz one; static */
    const char *error;   /* the JSON body's "error" */
    char www[512];       /* WWW-Authenticate value; "" none */
    char detail[256];    /* libmesh's detail of a refusal, for the local log only */
    const route_t *route;
    mesh_identity_t *id; /* allow: the caller (authz_decision_free) */
    const issuer_t *id_issuer;
    /* requires_all: the other verified credentials, for their claims_to_headers */
    mesh_identity_t *more[MESH_AUTHZ_MAX_REQUIRES_ALL];
    const issuer_t *more_issuer[MESH_AUTHZ_MAX_REQUIRES_ALL];
    size_t n_more;
    const api_key_t *key; /* allow by a legacy API key (no id), or its refusal */
    const issuer_t *key_issuer;
    int64_t retry_after; /* 429, 503: seconds; 0: the default */
} decision_t;

void authz_decide(const config_t *cfg, const authz_req_t *rq, decision_t *d);
/* The subject a decision allowed: the token's sub or "api-key:<name>" (into buf). */
const char *authz_subject(const decision_t *d, char *buf, size_t cap);
void authz_decision_free(decision_t *d); /* the identities; the struct is the caller's */

#endif /* AUTHZ_DECIDE_H */
