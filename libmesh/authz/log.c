/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mesh/jansson.h>

#include <mesh/limits.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO; /* -1: off */

void log_msg(const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    pthread_mutex_lock(&lock);
    fprintf(stderr, "mesh-authz: %s\n", line);
    fflush(stderr);
    pthread_mutex_unlock(&lock);
}

bool log_open(const char *path, char *err, size_t errlen)
{
    int fd = STDERR_FILENO;
    if (path != NULL && strcmp(path, "-") == 0) {
        fd = -1;
    } else if (path != NULL) {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) {
            snprintf(err, errlen, "log.decisions: cannot open %s: %s", path, strerror(errno));
            return false;
        }
    }
    pthread_mutex_lock(&lock);
    int old = log_fd;
    log_fd = fd;
    pthread_mutex_unlock(&lock);
    if (old > STDERR_FILENO) {
        close(old);
    }
    return true;
}

void log_close(void)
{
    pthread_mutex_lock(&lock);
    if (log_fd > STDERR_FILENO) {
        close(log_fd);
    }
    log_fd = STDERR_FILENO;
    pthread_mutex_unlock(&lock);
}

/* A value from the request: at most MESH_MAX_AUDIT_FIELD bytes, every byte outside printable
 * ASCII shown as '?', so a hostile header cannot forge or break a log line. */
static json_t *field(const char *s, size_t n)
{
    if (s == NULL) {
        return json_null();
    }
    char buf[MESH_MAX_AUDIT_FIELD + 1];
    n = n > MESH_MAX_AUDIT_FIELD ? MESH_MAX_AUDIT_FIELD : n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    buf[n] = '\0';
    json_t *v = json_string(buf);
    return v != NULL ? v : json_null();
}

void log_decision(const authz_req_t *rq, const decision_t *d, int64_t duration_us)
{
    pthread_mutex_lock(&lock);
    bool off = log_fd < 0;
    pthread_mutex_unlock(&lock);
    if (off) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    const char *uri = rq->uri;
    size_t plen = uri ? strcspn(uri, "?") : 0;
    static const char *const fe[] = {"nginx", "envoy", "forward", "none"};
    json_t *o = json_object();
    if (o == NULL) {
        return;
    }
    json_object_set_new(o, "ts", json_real((double)ts.tv_sec + ts.tv_nsec / 1e9));
    json_object_set_new(o, "frontend", json_string(fe[rq->fe]));
    json_object_set_new(o, "route", d->route ? json_string(d->route->name) : json_null());
    json_object_set_new(o, "outcome", json_string(d->outcome));
    json_object_set_new(o, "status", json_integer(d->status));
    json_object_set_new(o, "reason", json_string(d->reason));
    json_object_set_new(o, "method", field(rq->method, rq->method ? strlen(rq->method) : 0));
    json_object_set_new(o, "host", field(rq->host, rq->host ? strlen(rq->host) : 0));
    json_object_set_new(o, "path", field(uri, plen));
    if (d->id != NULL) {
        json_object_set_new(o, "subject", json_string(mesh_identity_subject(d->id)));
        json_object_set_new(o, "client_id", json_string(mesh_identity_client_id(d->id)));
        json_object_set_new(o, "bound", json_boolean(mesh_identity_bound(d->id)));
        json_object_set_new(o, "issuer", json_string(d->id_issuer ? d->id_issuer->name : ""));
    }
    if (d->key != NULL) {
        /* a legacy API key: its name, so operators see who still uses one; never the key */
        json_object_set_new(o, "api_key", json_string(d->key->name));
        json_object_set_new(o, "issuer", json_string(d->key_issuer->name));
    }
    if (d->detail[0] != '\0') {
        json_object_set_new(o, "detail", field(d->detail, strlen(d->detail)));
    }
    json_object_set_new(o, "duration_us", json_integer(duration_us));
    char *line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (line == NULL) {
        return;
    }
    size_t n = strlen(line);
    line[n] = '\n'; /* json_dumps' NUL becomes the newline: one write(2) per line */
    pthread_mutex_lock(&lock);
    if (log_fd >= 0) {
        ssize_t w = write(log_fd, line, n + 1);
        (void)w; /* a full disk loses log lines, never decisions */
    }
    pthread_mutex_unlock(&lock);
    free(line);
}
