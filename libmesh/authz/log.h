/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-authz's two outputs: operational messages ("mesh-authz: ..." on stderr) and one JSON
 * line per decision (stderr, a file, or off). A decision line has the route, outcome,
 * reason, status, subject, client id, method, host, the path WITHOUT its query (queries may
 * carry secrets) and the duration; never a token, a certificate or a header value otherwise.
 */
#ifndef AUTHZ_LOG_H
#define AUTHZ_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "decide.h"

void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "-": off, NULL: stderr, else a file opened O_APPEND (0640, created if missing). */
bool log_open(const char *path, char *err, size_t errlen);
void log_close(void);
void log_decision(const authz_req_t *rq, const decision_t *d, int64_t duration_us);

#endif /* AUTHZ_LOG_H */
