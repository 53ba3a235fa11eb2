/* SPDX-License-Identifier: Apache-2.0 */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/limits.h>
#include <mesh/verifier.h>

typedef struct {
    char route[MESH_MAX_METRIC_LABEL + 1];
    const char *outcome; /* static strings */
    const char *reason;
    uint64_t n;
} series_t;

/* Upper bounds of the duration buckets, in microseconds (the last bucket is +Inf). */
static const int64_t BUCKETS_US[] = {50,   100,   250,   500,    1000,   2500,
                                     5000, 10000, 50000, 250000, 1000000};
#define N_BUCKETS (sizeof(BUCKETS_US) / sizeof(BUCKETS_US[0]))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static series_t series[MESH_MAX_METRIC_SERIES + 1]; /* the last one is route="other" */
static size_t n_series;
static atomic_uint_fast64_t hist[N_BUCKETS + 1];
static atomic_uint_fast64_t hist_count, hist_sum_us;
static atomic_uint_fast64_t reloads_ok, reloads_failed;
static atomic_uint_fast64_t rate_limited, replays_refused;
static atomic_uint_fast64_t conns_refused;
static atomic_int_fast64_t conns_open;

typedef struct {
    char issuer[MESH_MAX_METRIC_LABEL + 1];
    char key[MESH_MAX_METRIC_LABEL + 1];
    const char *result;
    uint64_t n;
} key_series_t;

static key_series_t keys[MESH_MAX_METRIC_SERIES + 1]; /* the last: key="other" */
static size_t n_keys;

void metrics_legacy_key(const char *issuer, const char *key, const char *result)
{
    pthread_mutex_lock(&lock);
    key_series_t *s = NULL;
    for (size_t i = 0; i < n_keys && s == NULL; i++) {
        if (strcmp(keys[i].issuer, issuer) == 0 && strcmp(keys[i].key, key) == 0 &&
            strcmp(keys[i].result, result) == 0) {
            s = &keys[i];
        }
    }
    if (s == NULL && n_keys < MESH_MAX_METRIC_SERIES) {
        s = &keys[n_keys++];
        snprintf(s->issuer, sizeof(s->issuer), "%s", issuer);
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->result = result;
    } else if (s == NULL) {
        s = &keys[MESH_MAX_METRIC_SERIES];
        snprintf(s->issuer, sizeof(s->issuer), "other");
        snprintf(s->key, sizeof(s->key), "other");
        s->result = "other";
    }
    s->n++;
    pthread_mutex_unlock(&lock);
}

/* Decisions by the token's client id: bounded like every series, the rest as "other". The
 * value comes from a verified token (an identity provider may put anything in it), so it is
 * escaped for the exposition format when written, never trusted as a label as it is. */
typedef struct {
    char client[MESH_MAX_METRIC_LABEL + 1];
    const char *outcome;
    uint64_t n;
} client_series_t;

static client_series_t clients[MESH_MAX_METRIC_SERIES + 1]; /* the last: client_id="other" */
static size_t n_clients;

void metrics_client(const char *client_id, const char *outcome)
{
    if (client_id == NULL || client_id[0] == '\0') {
        client_id = "none";
    }
    pthread_mutex_lock(&lock);
    client_series_t *s = NULL;
    for (size_t i = 0; i < n_clients && s == NULL; i++) {
        if (strncmp(clients[i].client, client_id, MESH_MAX_METRIC_LABEL) == 0 &&
            strcmp(clients[i].outcome, outcome) == 0) {
            s = &clients[i];
        }
    }
    if (s == NULL && n_clients < MESH_MAX_METRIC_SERIES) {
        s = &clients[n_clients++];
        snprintf(s->client, sizeof(s->client), "%s", client_id);
        s->outcome = outcome;
    } else if (s == NULL) {
        s = &clients[MESH_MAX_METRIC_SERIES];
        snprintf(s->client, sizeof(s->client), "other");
        s->outcome = "other";
    }
    s->n++;
    pthread_mutex_unlock(&lock);
}

void metrics_decision(const char *route, const char *outcome, const char *reason,
                      int64_t duration_us)
{
    if (route == NULL) {
        route = "none";
    }
    pthread_mutex_lock(&lock);
    series_t *s = NULL;
    for (size_t i = 0; i < n_series; i++) {
        /* compared as strings: the same literal may have two addresses in two files */
        if (strcmp(series[i].outcome, outcome) == 0 && strcmp(series[i].reason, reason) == 0 &&
            strcmp(series[i].route, route) == 0) {
            s = &series[i];
            break;
        }
    }
    if (s == NULL && n_series < MESH_MAX_METRIC_SERIES) {
        s = &series[n_series++];
        snprintf(s->route, sizeof(s->route), "%s", route);
        s->outcome = outcome;
        s->reason = reason;
    } else if (s == NULL) {
        s = &series[MESH_MAX_METRIC_SERIES];
        snprintf(s->route, sizeof(s->route), "other");
        s->outcome = "other";
        s->reason = "other";
    }
    s->n++;
    pthread_mutex_unlock(&lock);
    if (strcmp(reason, "rate_limited") == 0) {
        atomic_fetch_add(&rate_limited, 1);
    } else if (strcmp(reason, "token_replayed") == 0) {
        atomic_fetch_add(&replays_refused, 1);
    }
    size_t b = 0;
    while (b < N_BUCKETS && duration_us > BUCKETS_US[b]) {
        b++;
    }
    atomic_fetch_add(&hist[b], 1);
    atomic_fetch_add(&hist_count, 1);
    atomic_fetch_add(&hist_sum_us, (uint64_t)(duration_us < 0 ? 0 : duration_us));
}

void metrics_reload(bool ok)
{
    atomic_fetch_add(ok ? &reloads_ok : &reloads_failed, 1);
}

void metrics_connection(int delta)
{
    atomic_fetch_add(&conns_open, delta);
}

void metrics_connection_refused(void)
{
    atomic_fetch_add(&conns_refused, 1);
}

void metrics_reset(void)
{
    pthread_mutex_lock(&lock);
    n_series = 0;
    memset(series, 0, sizeof(series));
    n_keys = 0;
    memset(keys, 0, sizeof(keys));
    n_clients = 0;
    memset(clients, 0, sizeof(clients));
    pthread_mutex_unlock(&lock);
}

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} out_t;

__attribute__((format(printf, 2, 3))) static void put(out_t *o, const char *fmt, ...)
{
    for (int tries = 0; tries < 2 && !o->failed; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n) * 2;
        char *p = realloc(o->p, cap);
        if (p == NULL) {
            o->failed = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
}

static void render_verifiers(out_t *o, const config_t *cfg)
{
    static const struct {
        const char *name, *help;
        mesh_verifier_stat_t which;
    } stats[] = {
        {"mesh_authz_verifier_verified_total", "tokens a verifier accepted", MESH_VSTAT_VERIFIED},
        {"mesh_authz_verifier_rejected_total", "tokens a verifier refused", MESH_VSTAT_REJECTED},
        {"mesh_authz_verifier_cache_hits_total", "verifications answered from the cache",
         MESH_VSTAT_CACHE_HITS},
        {"mesh_authz_jwks_fetches_total", "JWKS fetches (successful and failed)",
         MESH_VSTAT_JWKS_FETCHES},
        {"mesh_authz_revocation_polls_total", "revocation feed polls", MESH_VSTAT_REVOCATION_POLLS},
    };
    for (size_t k = 0; k < sizeof(stats) / sizeof(stats[0]); k++) {
        put(o, "# HELP %s %s\n# TYPE %s counter\n", stats[k].name, stats[k].help, stats[k].name);
        for (size_t i = 0; cfg != NULL && i < cfg->n_issuers; i++) {
            const issuer_t *is = &cfg->issuers[i];
            if (is->kind == ISSUER_API_KEYS) {
                continue;
            }
            put(o, "%s{issuer=\"%s\"} %llu\n", stats[k].name, is->name,
                (unsigned long long)mesh_verifier_stat(is->v, stats[k].which));
        }
    }
}

/* How old each mesh issuer's revocation feed is: seconds since its last successful poll. */
static void render_feed_age(out_t *o, const config_t *cfg)
{
    put(o, "# HELP mesh_authz_revocation_feed_age_seconds seconds since the last successful "
           "revocation feed poll (-1: none yet)\n"
           "# TYPE mesh_authz_revocation_feed_age_seconds gauge\n");
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; cfg != NULL && i < cfg->n_issuers; i++) {
        const issuer_t *is = &cfg->issuers[i];
        if (is->kind != ISSUER_MESH || !is->feed) {
            continue;
        }
        int64_t last = (int64_t)mesh_verifier_stat(is->v, MESH_VSTAT_REVOCATION_LAST_POLL);
        put(o, "mesh_authz_revocation_feed_age_seconds{issuer=\"%s\"} %lld\n", is->name,
            (long long)(last > 0 ? (now > last ? now - last : 0) : -1));
    }
    put(o, "# HELP mesh_authz_revocation_feed_seq the revocation feed's sequence number read up "
           "to (the issuer's latest seq minus this is the feed's lag, in entries)\n"
           "# TYPE mesh_authz_revocation_feed_seq gauge\n");
    for (size_t i = 0; cfg != NULL && i < cfg->n_issuers; i++) {
        const issuer_t *is = &cfg->issuers[i];
        if (is->kind == ISSUER_MESH && is->feed) {
            put(o, "mesh_authz_revocation_feed_seq{issuer=\"%s\"} %llu\n", is->name,
                (unsigned long long)mesh_verifier_stat(is->v, MESH_VSTAT_REVOCATION_SEQ));
        }
    }
}

char *metrics_render(const config_t *cfg)
{
    out_t o = {.p = malloc(4096), .cap = 4096};
    if (o.p == NULL) {
        return NULL;
    }
    put(&o, "# HELP mesh_authz_decisions_total decisions by route, outcome and reason\n"
            "# TYPE mesh_authz_decisions_total counter\n");
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i <= MESH_MAX_METRIC_SERIES; i++) {
        const series_t *s = &series[i];
        if (i < n_series || (i == MESH_MAX_METRIC_SERIES && s->n > 0)) {
            put(&o, "mesh_authz_decisions_total{route=\"%s\",outcome=\"%s\",reason=\"%s\"} %llu\n",
                s->route, s->outcome, s->reason, (unsigned long long)s->n);
        }
    }
    pthread_mutex_unlock(&lock);
    put(&o, "# HELP mesh_authz_decision_duration_seconds time to decide one request\n"
            "# TYPE mesh_authz_decision_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b <= N_BUCKETS; b++) {
        cum += atomic_load(&hist[b]);
        if (b < N_BUCKETS) {
            put(&o, "mesh_authz_decision_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)BUCKETS_US[b] / 1e6, (unsigned long long)cum);
        } else {
            put(&o, "mesh_authz_decision_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
        }
    }
    put(&o, "mesh_authz_decision_duration_seconds_sum %.6f\n",
        (double)atomic_load(&hist_sum_us) / 1e6);
    put(&o, "mesh_authz_decision_duration_seconds_count %llu\n",
        (unsigned long long)atomic_load(&hist_count));
    put(&o,
        "# HELP mesh_authz_config_reloads_total SIGHUP reloads by result\n"
        "# TYPE mesh_authz_config_reloads_total counter\n"
        "mesh_authz_config_reloads_total{result=\"ok\"} %llu\n"
        "mesh_authz_config_reloads_total{result=\"failed\"} %llu\n",
        (unsigned long long)atomic_load(&reloads_ok),
        (unsigned long long)atomic_load(&reloads_failed));
    put(&o,
        "# HELP mesh_authz_rate_limited_total requests refused by a rate limit (429)\n"
        "# TYPE mesh_authz_rate_limited_total counter\n"
        "mesh_authz_rate_limited_total %llu\n"
        "# HELP mesh_authz_replays_refused_total single-use tokens refused the second time\n"
        "# TYPE mesh_authz_replays_refused_total counter\n"
        "mesh_authz_replays_refused_total %llu\n",
        (unsigned long long)atomic_load(&rate_limited),
        (unsigned long long)atomic_load(&replays_refused));
    put(&o,
        "# HELP mesh_authz_connections_open proxy connections open now (all listeners)\n"
        "# TYPE mesh_authz_connections_open gauge\n"
        "mesh_authz_connections_open %lld\n"
        "# HELP mesh_authz_connections_refused_total proxy connections closed at once: their "
        "listener held max_connections\n"
        "# TYPE mesh_authz_connections_refused_total counter\n"
        "mesh_authz_connections_refused_total %llu\n",
        (long long)atomic_load(&conns_open), (unsigned long long)atomic_load(&conns_refused));
    put(&o, "# HELP mesh_authz_legacy_key_uses_total legacy API key uses by key name and result\n"
            "# TYPE mesh_authz_legacy_key_uses_total counter\n");
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i <= MESH_MAX_METRIC_SERIES; i++) {
        const key_series_t *k = &keys[i];
        if (i < n_keys || (i == MESH_MAX_METRIC_SERIES && k->n > 0)) {
            put(&o,
                "mesh_authz_legacy_key_uses_total{issuer=\"%s\",key=\"%s\",result=\"%s\"} %llu\n",
                k->issuer, k->key, k->result, (unsigned long long)k->n);
        }
    }
    put(&o,
        "# HELP mesh_authz_decisions_by_client_total decisions with a verified token, by its "
        "client id (at most %d series, the rest as \"other\")\n"
        "# TYPE mesh_authz_decisions_by_client_total counter\n",
        MESH_MAX_METRIC_SERIES);
    for (size_t i = 0; i <= MESH_MAX_METRIC_SERIES; i++) {
        const client_series_t *c = &clients[i];
        if (i < n_clients || (i == MESH_MAX_METRIC_SERIES && c->n > 0)) {
            char esc[2 * MESH_MAX_METRIC_LABEL + 1];
            size_t e = 0;
            for (const char *q = c->client; *q != '\0' && e + 2 < sizeof(esc); q++) {
                unsigned char ch = (unsigned char)*q;
                if (ch == '\\' || ch == '"') {
                    esc[e++] = '\\';
                    esc[e++] = (char)ch;
                } else if (ch == '\n') {
                    esc[e++] = '\\';
                    esc[e++] = 'n';
                } else {
                    esc[e++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
                }
            }
            esc[e] = '\0';
            put(&o, "mesh_authz_decisions_by_client_total{client_id=\"%s\",outcome=\"%s\"} %llu\n",
                esc, c->outcome, (unsigned long long)c->n);
        }
    }
    pthread_mutex_unlock(&lock);
    render_verifiers(&o, cfg);
    render_feed_age(&o, cfg);
    if (o.failed) {
        free(o.p);
        return NULL;
    }
    return o.p;
}
