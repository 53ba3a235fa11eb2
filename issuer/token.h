/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OAuth endpoints without the transport: client authentication, POST /v1/token
 * (request -> policy -> mesh_jwt_sign -> response), POST /v1/revoke and the revocation feed.
 * server_http.c turns HTTP into an issuer_req_t and an issuer_resp_t back into HTTP.
 */
#ifndef ISSUER_TOKEN_H
#define ISSUER_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/jansson.h>

#include <mesh/limits.h>

#include "metrics.h"
#include "server_tls.h"
#include "state.h"
#include "store.h"

typedef struct {
    const char *name;
    const char *value;
} req_param_t;

typedef struct {
    const char *source;         /* peer address, for rate limits and audit */
    const tls_peer_t *peer;     /* the connection's client certificate */
    const char *authorization;  /* Authorization header or NULL */
    const char *mesh_client_id; /* Mesh-Client-Id header or NULL */
    const char *mesh_client_secret;
    const char *join_token; /* Mesh-Join-Token header or NULL (POST /v1/certificate) */
    req_param_t params[MESH_MAX_REQUEST_PARAMS]; /* body parameters, names unique */
    size_t n_params;
} issuer_req_t;

typedef struct {
    int status;
    json_t *body;               /* owned */
    char www_authenticate[160]; /* "" = none */
    int retry_after;            /* 0 = none */
    bool no_store;              /* Cache-Control: no-store */
} issuer_resp_t;

typedef struct {
    issuer_state_t *st; /* borrowed for the request */
    store_t *store;     /* this worker's store handle */
    metrics_t *metrics;
} issuer_ctx_t;

/* Fills resp with an RFC 6749 §5.2 error. */
void resp_error(issuer_resp_t *resp, int status, const char *error, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void token_endpoint(issuer_ctx_t *ctx, const issuer_req_t *req, issuer_resp_t *resp);
void revoke_endpoint(issuer_ctx_t *ctx, const issuer_req_t *req, issuer_resp_t *resp);
/* GET /v1/revocations?since=N; `since` is the raw query value or NULL. */
void revocations_endpoint(issuer_ctx_t *ctx, const char *since, issuer_resp_t *resp);

#endif /* ISSUER_TOKEN_H */
