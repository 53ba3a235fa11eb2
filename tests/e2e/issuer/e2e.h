/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the mesh-issuer end-to-end tests: a real server process, libcurl requests. */
#ifndef E2E_H
#define E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <mesh/mesh.h>

typedef struct {
    char dir[256]; /* temp dir with certs/ and issuer.json */
    char bin[512]; /* mesh-issuer */
    char gen[512]; /* gen-certs.sh */
    char config[320];
    char url[64]; /* https://localhost:PORT */
    int port;
    pid_t pid;
    char log[320];
    long log_start;      /* size of the log when the running server started */
    int workers;         /* written by write_config: 0 = 2 */
    int max_connections; /* written by write_config: 0 = absent (the default) */
    bool no_crl;         /* written by write_config: no tls.crl */
    int nofile;          /* server_start: RLIMIT_NOFILE for the server, 0 = inherited */
    int inherit_fds;     /* server_start: descriptors the server inherits already open */
    const char *extra;   /* written by write_config: more top-level members ("\"a\": 1"), or NULL */
} server_t;

extern server_t srv;

typedef struct {
    long status;
    char *body;     /* NUL-terminated */
    char *headers;  /* raw response headers */
    json_t *json;   /* parsed body when it is JSON, else NULL */
    long new_conns; /* connections curl opened for it (0: an existing one was reused) */
} resp_t;

typedef struct {
    const char *method; /* default GET, or POST when body is set */
    const char *path;
    const char *cert; /* leaf name under dir ("gateway"), or NULL */
    const char *body;
    const char *ctype;   /* default application/x-www-form-urlencoded for POST */
    const char *hdrs[6]; /* extra "Name: value" headers, NULL-terminated */
    const char *userpwd; /* client_secret_basic "id:secret" */
    void *curl;          /* a CURL handle to reuse (keep-alive), or NULL for a new one */
} req_t;

resp_t *do_req(const req_t *r);
void resp_free(resp_t *r);
const char *resp_header(const resp_t *r, const char *name, char *buf, size_t cap);
const char *jstr(const resp_t *r, const char *key); /* "" when absent */

void e2e_init(const char *bin, const char *gen); /* test PKI, free port, first config */
/* e2e_init with mesh-issuer and gen-certs.sh found under the build and source roots. */
void e2e_init_roots(const char *source_root, const char *build_root);
int e2e_free_port(void); /* a port on 127.0.0.1 that was free a moment ago */
void server_start(void);
void server_stop_signal(int sig, int *status); /* waits for exit */
/* Waits up to timeout_s for the server to exit; on timeout kills it (SIGKILL), returns false. */
bool server_wait_exit(int timeout_s, int *status);
void server_kill9(void);
bool server_log_has(const char *needle); /* in the lines the running server wrote */
void write_config(const char *signing_keys_json, const char *rate_limits_json);
int run_cmd(const char *cmd, char **out); /* shell command; stdout+stderr into *out */

/* Token helpers */
char *get_token(const char *cert, const char *audience, const char *extra); /* NULL on failure */

/* ---- e2e_fixture.c: helpers that assert with cmocka, and the group fixture ----
 * (cmocka's header is not needed here: bench-issuer uses e2e_util.c without cmocka) */

struct CMUnitTest;

extern const char *const TOKEN_FORM; /* client_credentials for asset-service */

mesh_jwks_t *served_jwks(void);
/* Verifies with libmesh against the served JWKS; `leaf` binds to that certificate. */
mesh_err_t verify(const char *token, const char *aud, const char *leaf, mesh_identity_t **claims);
resp_t *post_token(const char *cert, const char *body);
void expect_error(resp_t *x, long status, const char *error, const char *needle); /* frees x */
char *svc_create(const char *name, const char *args, char *id, size_t idcap);     /* the secret */
resp_t *do_revoke(const char *cert, const char *body);
/* Revokes the test PKI's `leaf` with openssl ca and writes a new crl.pem (no reload). */
void crl_revoke(const char *leaf);
/* A service token `name` for asset-service (*secret, new) and a token it got (new). */
char *svc_token_issue(const char *name, char **secret);
json_t *feed(int64_t since); /* GET /v1/revocations */
bool feed_has(json_t *f, const char *jti);
/* The feed entry whose `member` is `value` ("jti", "sub", "x5t#S256"), borrowed; or NULL. */
json_t *feed_entry(json_t *f, const char *member, const char *value);
char *jti_of(const char *token);

/* SIGTERM, then: exits within a generous bound, status 0, "stopped" logged; with
 * idle_conn_open, no drain timeout (an idle keep-alive connection never holds up the drain). */
bool server_stop_clean(bool idle_conn_open);

extern bool e2e_idle_conn_open; /* a test left an idle keep-alive connection open */
int e2e_setup(void **state);    /* starts the server */
int e2e_teardown(void **state); /* server_stop_clean, no secret in the log, removes the dir */
/* main() of a test program: usage check, e2e_init, E2E_ONLY=test_a,test_b, the group run. */
int e2e_run(const char *group, const struct CMUnitTest *tests, size_t count,
            int (*teardown)(void **state), int argc, char **argv);

#endif /* E2E_H */
