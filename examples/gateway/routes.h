/* SPDX-License-Identifier: Apache-2.0 */
/* The gateway's route table: which scope each route needs, and who may call it. */
#ifndef GATEWAY_ROUTES_H
#define GATEWAY_ROUTES_H

#include <stdbool.h>

typedef struct {
    const char *method; /* "GET", ...; NULL matches any method */
    const char *prefix; /* the path starts with this ("/assets" matches "/assets/42") */
    const char *scope;  /* the token must carry this scope (else 403 insufficient_scope) */
    /*
     * Also accept tokens without a certificate binding, from callers that present no client
     * certificate, when their subject is one of ROUTE_BINDING's service tokens (a CI
     * pipeline). Every other route requires mTLS and a token bound to that certificate.
     */
    bool service_tokens;
    const char *what; /* one line for the README and the 404 listing */
} route_t;

/*
 * The gateway's certificate-binding policy (mesh_verifier_opts_set_binding): tokens must be
 * bound, except those of these service tokens, which never hold a certificate. The verifier
 * accepts them unbound; the gateway lets unbound identities through on service_tokens routes
 * only. --binding replaces it.
 */
#define ROUTE_BINDING "unbound-for:svc-token:ci"

/* The route for `method` and `path`, or NULL. */
const route_t *route_find(const char *method, const char *path);

/* The table, terminated by an entry whose prefix is NULL. */
const route_t *route_table(void);

#endif /* GATEWAY_ROUTES_H */
