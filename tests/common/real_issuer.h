/* SPDX-License-Identifier: Apache-2.0 */
/* The real mesh-issuer for end-to-end tests: certificates from mesh-ca, a config in a temp
 * dir, a free port on 127.0.0.1, started with fork/exec and stopped by its PID. */
#ifndef REAL_ISSUER_H
#define REAL_ISSUER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
    char dir[256];   /* temp dir */
    char certs[300]; /* dir/certs, written by mesh-ca */
    char config[320];
    char url[64];
    int port;
    pid_t pid;
} real_issuer_t;

/* mesh-ca init for issuer, svc-a, svc-b; issuer config (svc-a may get svc-b; svc-token:ci
 * too); returns false (test skipped) when the binaries are not built. */
bool ri_setup(real_issuer_t *ri);
bool ri_start(real_issuer_t *ri); /* waits until /healthz answers */
void ri_stop(real_issuer_t *ri);

/* Key rotation: a new RSA key becomes current, the old one previous; SIGHUP; waits until
 * the JWKS publishes both. */
bool ri_rotate(real_issuer_t *ri); /* SIGTERM by PID, waitpid */
void ri_cleanup(real_issuer_t *ri);

/* Sum of mesh_issuer_tokens_issued_total over its labels (-1 on error). */
long ri_tokens_issued(const real_issuer_t *ri);

/* `mesh-issuer token create NAME`: fills the client id and secret. */
bool ri_service_token(const real_issuer_t *ri, const char *name, char *id, size_t idcap,
                      char *secret, size_t scap);

/* POST /v1/revoke token=TOKEN with svc-a's certificate; HTTP status. */
long ri_revoke(const real_issuer_t *ri, const char *token);

/* dir/certs/<rel> */
const char *ri_path(const real_issuer_t *ri, const char *rel, char *out, size_t cap);

/* In a cmocka test whose group set-up stored ri_setup() && ri_start() in `have_issuer`: an
 * issuer that did not start fails the test (never a skip that would pass unrun). */
#define NEED_ISSUER()                                                                              \
    do {                                                                                           \
        if (!have_issuer) {                                                                        \
            fail_msg("the real mesh-issuer did not start (its log is named above)");               \
        }                                                                                          \
    } while (0)

#endif
