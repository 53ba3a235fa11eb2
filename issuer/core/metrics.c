/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition format 0.0.4. Label values come from requests (audience) or
 * configuration (names), so each labelled family holds at most MESH_MAX_METRIC_SERIES label
 * sets; later ones are counted under the label value "other" and the registry stays bounded.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "metrics.h"

#define METRICS_OTHER "other"

typedef struct {
    char *a, *b; /* label values; b is NULL for one-label families */
    int64_t v;
    bool set; /* v was given at least once (for the "other" gauge) */
} series_t;

typedef struct {
    series_t s[MESH_MAX_METRIC_SERIES + 1]; /* the extra slot is "other" */
    size_t n;
} family_t;

/* Upper bounds in seconds; the text is what appears in le="...". */
static const struct {
    double le;
    const char *text;
} buckets[] = {
    {0.0005, "0.0005"}, {0.001, "0.001"}, {0.0025, "0.0025"}, {0.005, "0.005"},
    {0.01, "0.01"},     {0.025, "0.025"}, {0.05, "0.05"},     {0.1, "0.1"},
    {0.25, "0.25"},     {0.5, "0.5"},     {1, "1"},           {2.5, "2.5"},
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct metrics {
    pthread_mutex_t mu;
    family_t issued;                     /* audience, auth_method */
    family_t denials;                    /* reason */
    family_t expiry;                     /* name */
    family_t certs_issued;               /* auth_method (renewal | join_token) */
    family_t certs_refused;              /* reason (OAuth error code) */
    uint64_t bucket_count[NBUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
    double duration_sum;
    uint64_t duration_count;
    int64_t active_conns;
    uint64_t tls_failures;
    uint64_t revocations;
};

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof(*m));

    if (m != NULL && pthread_mutex_init(&m->mu, NULL) != 0) {
        free(m);
        m = NULL;
    }
    return m;
}

static void family_clear(family_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->s[i].a);
        free(f->s[i].b);
    }
    f->n = 0;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL) {
        return;
    }
    family_clear(&m->issued);
    family_clear(&m->denials);
    family_clear(&m->expiry);
    family_clear(&m->certs_issued);
    family_clear(&m->certs_refused);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/*
 * A label value as stored: at most MESH_MAX_METRIC_LABEL bytes, with control characters other
 * than newline and every non-ASCII byte replaced by '_' so the output is always valid UTF-8
 * (the names this issuer sees are ASCII; anything else is hostile or a mistake).
 */
static void label_clean(const char *v, char out[MESH_MAX_METRIC_LABEL + 1])
{
    size_t n = v ? strnlen(v, MESH_MAX_METRIC_LABEL) : 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        out[i] = (ch == '\n' || (ch >= 0x20 && ch < 0x7f)) ? (char)ch : '_';
    }
    out[n] = '\0';
}

/* a and b are cleaned values; b is NULL for one-label families. */
static series_t *family_find(family_t *f, const char *a, const char *b)
{
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->s[i].a, a) == 0 && (b == NULL || strcmp(f->s[i].b, b) == 0)) {
            return &f->s[i];
        }
    }
    return NULL;
}

static series_t *family_add(family_t *f, const char *a, const char *b)
{
    series_t *s = &f->s[f->n];

    s->v = 0;
    s->set = false;
    s->a = strdup(a);
    s->b = b ? strdup(b) : NULL;
    if (s->a == NULL || (b != NULL && s->b == NULL)) {
        free(s->a);
        free(s->b);
        return NULL; /* out of memory: this update is lost, nothing else */
    }
    f->n++;
    return s;
}

/* The series for (a, b), created if needed; past the cap, the "other" series (*other). */
static series_t *family_get(family_t *f, const char *a, const char *b, bool two, bool *other)
{
    char ca[MESH_MAX_METRIC_LABEL + 1], cb[MESH_MAX_METRIC_LABEL + 1];
    series_t *s;

    label_clean(a, ca);
    label_clean(b, cb);
    *other = false;
    if ((s = family_find(f, ca, two ? cb : NULL)) != NULL) {
        return s;
    }
    if (f->n < MESH_MAX_METRIC_SERIES) {
        return family_add(f, ca, two ? cb : NULL);
    }
    *other = true;
    if ((s = family_find(f, METRICS_OTHER, two ? METRICS_OTHER : NULL)) != NULL) {
        return s;
    }
    return f->n == MESH_MAX_METRIC_SERIES ? family_add(f, METRICS_OTHER, two ? METRICS_OTHER : NULL)
                                          : NULL;
}

void metrics_token_issued(metrics_t *m, const char *audience, const char *auth_method)
{
    series_t *s;
    bool other;

    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    if ((s = family_get(&m->issued, audience, auth_method, true, &other)) != NULL) {
        s->v++;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_denied(metrics_t *m, const char *reason)
{
    series_t *s;
    bool other;

    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    if ((s = family_get(&m->denials, reason, NULL, false, &other)) != NULL) {
        s->v++;
    }
    pthread_mutex_unlock(&m->mu);
}

static void count1(metrics_t *m, family_t *f, const char *label)
{
    series_t *s;
    bool other;

    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    if ((s = family_get(f, label, NULL, false, &other)) != NULL) {
        s->v++;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_cert_issued(metrics_t *m, const char *auth_method)
{
    count1(m, m ? &m->certs_issued : NULL, auth_method);
}

void metrics_cert_refused(metrics_t *m, const char *reason)
{
    count1(m, m ? &m->certs_refused : NULL, reason);
}

void metrics_svc_token_expiry(metrics_t *m, const char *name, int64_t seconds)
{
    series_t *s;
    bool other;

    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    s = family_get(&m->expiry, name, NULL, false, &other);
    /* "other" shows the soonest expiry among the tokens past the cap: the one to act on. */
    if (s != NULL && (!other || !s->set || seconds < s->v)) {
        s->v = seconds;
        s->set = true;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_request(metrics_t *m, double seconds)
{
    size_t i = 0;

    if (m == NULL || !(seconds >= 0)) { /* also drops NaN */
        return;
    }
    while (i < NBUCKETS && seconds > buckets[i].le) {
        i++;
    }
    pthread_mutex_lock(&m->mu);
    m->bucket_count[i]++;
    m->duration_sum += seconds;
    m->duration_count++;
    pthread_mutex_unlock(&m->mu);
}

static void bump(metrics_t *m, int64_t *gauge, uint64_t *counter, int delta)
{
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    if (gauge != NULL) {
        *gauge += delta;
    } else {
        *counter += 1;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_conn_open(metrics_t *m)
{
    bump(m, m ? &m->active_conns : NULL, NULL, 1);
}

void metrics_conn_close(metrics_t *m)
{
    bump(m, m ? &m->active_conns : NULL, NULL, -1);
}

void metrics_tls_failure(metrics_t *m)
{
    bump(m, NULL, m ? &m->tls_failures : NULL, 1);
}

void metrics_revocation(metrics_t *m)
{
    bump(m, NULL, m ? &m->revocations : NULL, 1);
}

/* ---- rendering ---- */

/* Label value escaping per the exposition format: backslash, double quote, newline. */
static void put_label(FILE *f, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\') {
            fputs("\\\\", f);
        } else if (*v == '"') {
            fputs("\\\"", f);
        } else if (*v == '\n') {
            fputs("\\n", f);
        } else {
            fputc(*v, f);
        }
    }
}

static void put_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_family(FILE *f, const family_t *fam, const char *name, const char *la,
                       const char *lb)
{
    for (size_t i = 0; i < fam->n; i++) {
        fprintf(f, "%s{%s=\"", name, la);
        put_label(f, fam->s[i].a);
        if (lb != NULL) {
            fprintf(f, "\",%s=\"", lb);
            put_label(f, fam->s[i].b);
        }
        fprintf(f, "\"} %lld\n", (long long)fam->s[i].v);
    }
}

static void put_histogram(FILE *f, const metrics_t *m)
{
    const char *name = "mesh_issuer_request_duration_seconds";
    uint64_t cum = 0;

    put_head(f, name, "histogram", "Time from request received to response queued.");
    for (size_t i = 0; i < NBUCKETS; i++) {
        cum += m->bucket_count[i];
        fprintf(f, "%s_bucket{le=\"%s\"} %llu\n", name, buckets[i].text, (unsigned long long)cum);
    }
    cum += m->bucket_count[NBUCKETS];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    fprintf(f, "%s_sum %.9g\n%s_count %llu\n", name, m->duration_sum, name,
            (unsigned long long)m->duration_count);
}

static void put_all(FILE *f, const metrics_t *m)
{
    put_head(f, "mesh_issuer_tokens_issued_total", "counter", "Access tokens issued.");
    put_family(f, &m->issued, "mesh_issuer_tokens_issued_total", "audience", "auth_method");
    put_head(f, "mesh_issuer_denials_total", "counter",
             "Token requests refused, by OAuth error code.");
    put_family(f, &m->denials, "mesh_issuer_denials_total", "reason", NULL);
    put_histogram(f, m);
    put_head(f, "mesh_issuer_active_connections", "gauge", "Open client connections.");
    fprintf(f, "mesh_issuer_active_connections %lld\n", (long long)m->active_conns);
    put_head(f, "mesh_issuer_tls_handshake_failures_total", "counter",
             "TLS handshakes that failed.");
    fprintf(f, "mesh_issuer_tls_handshake_failures_total %llu\n",
            (unsigned long long)m->tls_failures);
    put_head(f, "mesh_issuer_revocations_total", "counter", "Tokens revoked.");
    fprintf(f, "mesh_issuer_revocations_total %llu\n", (unsigned long long)m->revocations);
    put_head(f, "mesh_issuer_service_token_expiry_seconds", "gauge",
             "Seconds until a service token expires (negative: expired).");
    put_family(f, &m->expiry, "mesh_issuer_service_token_expiry_seconds", "name", NULL);
    put_head(f, "mesh_issuer_certificates_issued_total", "counter",
             "Certificates signed at POST /v1/certificate, by how the caller authenticated.");
    put_family(f, &m->certs_issued, "mesh_issuer_certificates_issued_total", "auth_method", NULL);
    put_head(f, "mesh_issuer_certificates_refused_total", "counter",
             "Certificate requests refused, by OAuth error code.");
    put_family(f, &m->certs_refused, "mesh_issuer_certificates_refused_total", "reason", NULL);
}

char *metrics_render(metrics_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    bool ok;

    if (m == NULL || (f = open_memstream(&buf, &len)) == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&m->mu);
    put_all(f, m);
    pthread_mutex_unlock(&m->mu);
    ok = !ferror(f);
    if (fclose(f) != 0 || !ok) {
        free(buf);
        buf = NULL;
    }
    return buf;
}
