/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus counters and histograms for /metrics. All functions thread-safe
 * (one mutex) and NULL-safe. Each labelled family keeps at most 256 label sets; later ones
 * are counted under the label value "other".
 */
#ifndef ISSUER_CORE_METRICS_H
#define ISSUER_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics_t;

metrics_t *metrics_new(void);
void metrics_free(metrics_t *m);
void metrics_token_issued(metrics_t *m, const char *audience, const char *auth_method);
void metrics_denied(metrics_t *m, const char *reason);           /* OAuth error code */
void metrics_cert_issued(metrics_t *m, const char *auth_method); /* renewal | join_token */
void metrics_cert_refused(metrics_t *m, const char *reason);     /* OAuth error code */
void metrics_request(metrics_t *m, double seconds);              /* latency histogram */
void metrics_conn_open(metrics_t *m);
void metrics_conn_close(metrics_t *m);
void metrics_tls_failure(metrics_t *m);
void metrics_revocation(metrics_t *m);
/* Gauge: seconds until a service token expires (replaced on each call for the same name). */
void metrics_svc_token_expiry(metrics_t *m, const char *name, int64_t seconds);
/* Renders the Prometheus text format into a new string (free()). */
char *metrics_render(metrics_t *m);

#endif /* ISSUER_CORE_METRICS_H */
