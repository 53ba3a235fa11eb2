/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who may get a token for which audience, with which scopes, for how long. Pure functions of
 * the config: no I/O, thread-safe.
 */
#ifndef ISSUER_POLICY_H
#define ISSUER_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

typedef struct {
    const char *identity;      /* spiffe://... or svc-token:NAME */
    bool svc_token;            /* the caller authenticated with a service token */
    const char *svc_audiences; /* service token: comma-separated audiences it may get */
    const char *svc_scopes;    /* service token: space-separated; "" = all the audience has */
    const char *audience;      /* requested; required */
    const char *scope;         /* requested, space-separated; NULL or "" = all allowed */
    bool has_ttl;
    int64_t ttl;
} policy_request_t;

typedef struct {
    const char *error;      /* NULL when granted, else the OAuth error code */
    int status;             /* HTTP status for the error */
    char description[1024]; /* error_description: what to change */
    char scope[1024];       /* granted scopes, space-separated */
    int64_t ttl;            /* granted lifetime */
} policy_result_t;

/* Decides a request. Returns true when granted; *res is always filled. */
bool policy_decide(const config_t *cfg, const policy_request_t *req, policy_result_t *res);

#endif /* ISSUER_POLICY_H */
