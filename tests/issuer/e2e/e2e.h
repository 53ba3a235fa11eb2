/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the mesh-issuer end-to-end tests: a real server process, libcurl requests. */
#ifndef E2E_H
#define E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

typedef struct {
    char dir[256]; /* temp dir with certs/ and issuer.json */
    char bin[512]; /* mesh-issuer */
    char config[320];
    char url[64]; /* https://localhost:PORT */
    int port;
    pid_t pid;
    char log[320];
} server_t;

extern server_t srv;

typedef struct {
    long status;
    char *body;    /* NUL-terminated */
    char *headers; /* raw response headers */
    json_t *json;  /* parsed body when it is JSON, else NULL */
} resp_t;

typedef struct {
    const char *method; /* default GET, or POST when body is set */
    const char *path;
    const char *cert; /* leaf name under dir ("gateway"), or NULL */
    const char *body;
    const char *ctype;   /* default application/x-www-form-urlencoded for POST */
    const char *hdrs[6]; /* extra "Name: value" headers, NULL-terminated */
    const char *userpwd; /* client_secret_basic "id:secret" */
} req_t;

resp_t *do_req(const req_t *r);
void resp_free(resp_t *r);
const char *resp_header(const resp_t *r, const char *name, char *buf, size_t cap);
const char *jstr(const resp_t *r, const char *key); /* "" when absent */

void server_start(void);
void server_stop_signal(int sig, int *status); /* waits for exit */
void server_kill9(void);
void write_config(const char *signing_keys_json, const char *rate_limits_json);
int run_cmd(const char *cmd, char **out); /* shell command; stdout+stderr into *out */

/* Token helpers */
char *get_token(const char *cert, const char *audience, const char *extra); /* NULL on failure */

#endif /* E2E_H */
