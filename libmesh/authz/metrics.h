/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics (text format 0.0.4) for the separate metrics listener: decisions by
 * route, outcome and reason (route names come from the config, reasons from a fixed set;
 * at most MESH_MAX_METRIC_SERIES label sets, the rest counted under route="other"), the
 * decision duration histogram, config reloads, and each verifier's counters
 * (mesh_verifier_stat: cache hits, JWKS fetches, revocation polls). Thread-safe.
 */
#ifndef AUTHZ_METRICS_H
#define AUTHZ_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

void metrics_decision(const char *route, const char *outcome, const char *reason,
                      int64_t duration_us);
void metrics_reload(bool ok);
/* A proxy connection opened (+1) or closed (-1); one closed at once because its listener
 * already held max_connections. */
void metrics_connection(int delta);
void metrics_connection_refused(void);
/* One use of a legacy API key by name ("result": the decision's reason: ok,
 * legacy_key_refused, api_key_expired); at most MESH_MAX_METRIC_SERIES series. */
void metrics_legacy_key(const char *issuer, const char *key, const char *result);
/* One decision with a verified token, by the token's client id ("" or NULL: "none"). */
void metrics_client(const char *client_id, const char *outcome);
/* The whole exposition as a new string (free()); NULL when out of memory. */
char *metrics_render(const config_t *cfg);
void metrics_reset(void); /* tests */

#endif /* AUTHZ_METRICS_H */
