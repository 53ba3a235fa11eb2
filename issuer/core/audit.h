/* SPDX-License-Identifier: Apache-2.0 */
/* One JSON line per token decision. Never a token, a secret or a key. */
#ifndef ISSUER_CORE_AUDIT_H
#define ISSUER_CORE_AUDIT_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    int64_t time;
    const char *identity; /* spiffe://... or svc-token:NAME; "" if unauthenticated */
    const char
        *auth_method; /* "tls_client_auth", "client_secret_basic", "client_secret_header", "" */
    const char *audience;
    const char *scope;
    const char *jti; /* "" when denied */
    int64_t lifetime;
    const char *outcome; /* "issued" | "denied" | "revoked"; certificates: "certificate_issued" |
                            "certificate_denied" | "certificate_revoked" */
    const char *reason;  /* OAuth error code or "" */
    const char *source;  /* peer address */
    const char *serial;  /* certificate decisions: the serial issued (hex); NULL = none */
} audit_event_t;

/* Writes one line to f (stderr by default), atomically with respect to other threads. */
void audit_log(FILE *f, const audit_event_t *ev);

#endif /* ISSUER_CORE_AUDIT_H */
