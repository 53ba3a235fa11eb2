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

/*
 * The decision line is written straight into a buffer (no JSON library: this runs for every
 * request, and building and freeing a jansson object was a tenth of a cached decision's CPU).
 * A line that would not fit is cut at a field boundary and still closed, so it stays JSON.
 */
typedef struct {
    char *p;
    size_t len, cap;
    bool full;
} line_t;

static void raw(line_t *l, const char *s, size_t n)
{
    if (l->full || n > l->cap - l->len) {
        l->full = true;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* A JSON string: '"' and '\' escaped, control bytes as \u00XX; with `request`, a value from
 * the request: at most MESH_MAX_AUDIT_FIELD bytes, every byte outside printable ASCII shown
 * as '?', so a hostile header cannot forge or break a log line. NULL is null. */
static void str(line_t *l, const char *key, const char *s, size_t n, bool request)
{
    char k[64];
    int kn = snprintf(k, sizeof(k), ",\"%s\":", key);
    if (request && n > MESH_MAX_AUDIT_FIELD) {
        n = MESH_MAX_AUDIT_FIELD;
    }
    /* the key and the value's worst case (6 bytes a byte, and the quotes), or nothing */
    if (l->full || (size_t)kn + n * 6 + 4 > l->cap - l->len) {
        l->full = true;
        return;
    }
    raw(l, k, (size_t)kn);
    if (s == NULL) {
        raw(l, "null", 4);
        return;
    }
    char *o = l->p + l->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (request && (c < 0x20 || c >= 0x7f)) {
            c = '?';
        }
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            memcpy(o, "\\u00", 4);
            o[4] = hex[c >> 4];
            o[5] = hex[c & 15];
            o += 6;
        } else {
            *o++ = (char)c; /* UTF-8 of a verified claim passes as it is */
        }
    }
    *o++ = '"';
    l->len = (size_t)(o - l->p);
}

static void cstr(line_t *l, const char *key, const char *s)
{
    str(l, key, s, s ? strlen(s) : 0, false);
}

static void num(line_t *l, const char *key, long long v)
{
    char b[96];
    int n = snprintf(b, sizeof(b), ",\"%s\":%lld", key, v);
    raw(l, b, (size_t)n);
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
    static const char cut[] = ",\"truncated\":true";
    char buf[4 * MESH_MAX_AUDIT_FIELD * 6 + 8192];
    /* room kept for the cut marker and "}\n" */
    line_t l = {.p = buf, .cap = sizeof(buf) - 2 - (sizeof(cut) - 1)};
    char t[64];
    int tn = snprintf(t, sizeof(t), "{\"ts\":%lld.%06ld", (long long)ts.tv_sec,
                      (long)(ts.tv_nsec / 1000));
    raw(&l, t, (size_t)tn);
    cstr(&l, "frontend", fe[rq->fe]);
    cstr(&l, "route", d->route ? d->route->name : NULL);
    cstr(&l, "outcome", d->outcome);
    num(&l, "status", d->status);
    cstr(&l, "reason", d->reason);
    str(&l, "method", rq->method, rq->method ? strlen(rq->method) : 0, true);
    str(&l, "host", rq->host, rq->host ? strlen(rq->host) : 0, true);
    str(&l, "path", uri, plen, true);
    if (d->id != NULL) {
        cstr(&l, "subject", mesh_identity_subject(d->id));
        cstr(&l, "client_id", mesh_identity_client_id(d->id));
        raw(&l, mesh_identity_bound(d->id) ? ",\"bound\":true" : ",\"bound\":false",
            mesh_identity_bound(d->id) ? 13 : 14);
        cstr(&l, "issuer", d->id_issuer ? d->id_issuer->name : "");
    }
    if (d->key != NULL) {
        /* a legacy API key: its name, so operators see who still uses one; never the key */
        cstr(&l, "api_key", d->key->name);
        cstr(&l, "issuer", d->key_issuer->name);
    }
    if (d->detail[0] != '\0') {
        str(&l, "detail", d->detail, strlen(d->detail), true);
    }
    num(&l, "duration_us", (long long)duration_us);
    if (l.full) {
        /* the fields that fitted, whole, and a word that the rest did not */
        memcpy(buf + l.len, cut, sizeof(cut) - 1);
        l.len += sizeof(cut) - 1;
    }
    buf[l.len++] = '}';
    buf[l.len++] = '\n'; /* one write(2) per line */
    pthread_mutex_lock(&lock);
    if (log_fd >= 0) {
        ssize_t w = write(log_fd, buf, l.len);
        (void)w; /* a full disk loses log lines, never decisions */
    }
    pthread_mutex_unlock(&lock);
}
