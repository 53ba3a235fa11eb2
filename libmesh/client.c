/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_client_t: identity files checked at creation, a bounded single-flight token cache with
 * a background refresher, and curl configured to call peers. Issuer requests are in
 * client_fetch.c, HTTP in http.c, certificate checks in x509_chain.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/limits.h>

#include "client_internal.h"
#include <mesh/util.h>
#include "internal.h"
#include "stripe.h"
#include "x509_internal.h"

#define REFRESH_IDLE_WAIT_MS 60000

static void *refresher(void *arg);

static mesh_err_t check_opts(const mesh_client_opts_t *o)
{
    if (o->issuer_url == NULL || strncmp(o->issuer_url, "https://", 8) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "issuer URL \"%s\" is not https:// (set "
                            "MESH_ISSUER_URL to the issuer's https URL)",
                            o->issuer_url != NULL ? o->issuer_url : "(none)");
    }
    if (o->ca_path == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "no CA file (set TLS_CA_PATH to certs/ca.pem)");
    }
    if ((o->client_id == NULL) != (o->client_secret == NULL)) {
        return mesh_err_set(MESH_ERR_CONFIG, "service-token mode needs both a client id and "
                                             "a client secret");
    }
    if (o->client_id == NULL && (o->cert_path == NULL || o->key_path == NULL)) {
        return mesh_err_set(MESH_ERR_CONFIG, "no certificate and key (set TLS_CERT_PATH and "
                                             "TLS_KEY_PATH), and no service token");
    }
    if ((o->cert_path == NULL) != (o->key_path == NULL)) {
        return mesh_err_set(MESH_ERR_CONFIG, "give both a certificate and its key, or neither");
    }
    if (o->issuer_id != NULL && !mesh_spiffe_id_valid(o->issuer_id)) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "issuer ID \"%s\" is not a SPIFFE ID (set "
                            "MESH_ISSUER_ID to the issuer's, e.g. spiffe://mesh.local/issuer)",
                            o->issuer_id);
    }
    /* Each value was checked by its setter; only the pair is left. */
    if (o->retry_max_ms < o->retry_base_ms) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "client options: retry_max_ms (%lld) is "
                            "below retry_base_ms (%lld)",
                            (long long)o->retry_max_ms, (long long)o->retry_base_ms);
    }
    return MESH_OK;
}

/* Readable, matching, in date, chaining to the CA: each failure names its file. */
static mesh_err_t check_files(const mesh_client_opts_t *o)
{
    mesh_err_t rc;

    if (o->cert_path == NULL) {
        FILE *f = fopen(o->ca_path, "r");
        if (f == NULL) {
            return mesh_err_set(MESH_ERR_IO, "CA file %s cannot be read", o->ca_path);
        }
        fclose(f);
        return MESH_OK;
    }
    if ((rc = mesh_certfile_check_key(o->cert_path, o->key_path)) != MESH_OK ||
        (rc = mesh_certfile_check_time(o->cert_path, 0, NULL)) != MESH_OK ||
        (rc = mesh_certfile_check_chain(o->cert_path, o->ca_path)) != MESH_OK) {
        return rc;
    }
    return MESH_OK;
}

static mesh_err_t copy_opts(mesh_client_t *c, const mesh_client_opts_t *o)
{
    const char *src[] = {o->issuer_url, o->cert_path,     o->key_path, o->ca_path,
                         o->client_id,  o->client_secret, o->issuer_id};
    char **dst[] = {&c->issuer_url, &c->cert_path,     &c->key_path, &c->ca_path,
                    &c->client_id,  &c->client_secret, &c->issuer_id};
    size_t n;

    for (size_t i = 0; i < MESH_ARRAY_LEN(src); i++) {
        if (src[i] != NULL && (*dst[i] = strdup(src[i])) == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "client options");
        }
    }
    c->o = *o;
    /* Only the copies above hold strings; c->o keeps the numbers. */
    c->o.issuer_url = c->o.cert_path = c->o.key_path = c->o.ca_path = NULL;
    c->o.client_id = c->o.client_secret = c->o.issuer_id = NULL;
    c->o.join_token = NULL; /* the renewer keeps what it needs (client_renew.c) */
    n = strlen(c->issuer_url);
    while (n > 0 && c->issuer_url[n - 1] == '/') {
        c->issuer_url[--n] = '\0';
    }
    c->token_url = malloc(n + sizeof("/v1/token"));
    if (c->token_url == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "client options");
    }
    snprintf(c->token_url, n + sizeof("/v1/token"), "%s/v1/token", c->issuer_url);
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_new(const mesh_client_opts_t *opts, mesh_client_t **out)
{
    mesh_client_t *c;
    mesh_http_opts_t ho = {0};
    pthread_condattr_t ca;
    mesh_err_t rc;

    mesh_err_clear();
    if (opts == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_new: opts and out are required");
    }
    if ((rc = check_opts(opts)) != MESH_OK || (rc = mesh_client_renew_bootstrap(opts)) != MESH_OK ||
        (rc = check_files(opts)) != MESH_OK) {
        return rc;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "client");
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = copy_opts(c, opts);
    if (rc == MESH_OK) {
        ho.cert_path = c->cert_path;
        ho.key_path = c->key_path;
        ho.ca_path = c->ca_path;
        ho.skip_hostname = opts->insecure_skip_hostname;
        ho.timeout_ms = opts->timeout_ms;
        rc = mesh_http_new(&ho, &c->http);
    }
    if (rc == MESH_OK && pthread_create(&c->refresher, NULL, refresher, c) != 0) {
        rc = mesh_err_set(MESH_ERR_INTERNAL, "cannot start the token refresh thread");
    }
    if (rc != MESH_OK) {
        mesh_client_free(c);
        return rc;
    }
    c->refresher_started = true;
    if (opts->renew && (rc = mesh_client_renew_start(c, opts)) != MESH_OK) {
        mesh_client_free(c);
        return rc;
    }
    if (opts->insecure_skip_hostname) {
        fprintf(stderr,
                "libmesh: WARNING: mesh client for %s created with TLS hostname "
                "verification OFF (insecure_skip_hostname, development only); never use this "
                "in production\n",
                c->issuer_url);
    }
    *out = c;
    return MESH_OK;
}

static void entry_free(tok_entry_t *e)
{
    if (e->token != NULL) {
        mesh_wipe(e->token, strlen(e->token));
    }
    free(e->token);
    free(e->audience);
    free(e->scope);
    free(e);
}

MESH_EXPORT void mesh_client_free(mesh_client_t *c)
{
    if (c == NULL) {
        return;
    }
    mesh_renewer_free(c->renewer); /* first: its callback uses the client */
    c->renewer = NULL;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    mesh_http_cancel(c->http); /* a refresh in flight ends now, not at its timeout */
    if (c->refresher_started) {
        pthread_join(c->refresher, NULL);
    }
    while (c->entries != NULL) {
        tok_entry_t *next = c->entries->next;
        entry_free(c->entries);
        c->entries = next;
    }
    mesh_http_free(c->http);
    if (c->client_secret != NULL) {
        mesh_wipe(c->client_secret, strlen(c->client_secret));
    }
    free(c->issuer_url);
    free(c->cert_path);
    free(c->key_path);
    free(c->ca_path);
    free(c->client_id);
    free(c->client_secret);
    free(c->issuer_id);
    free(c->token_url);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool mesh_client_sleep(mesh_client_t *c, long long ms)
{
    long long until = mesh_monotonic_ms() + ms;
    bool go_on;

    pthread_mutex_lock(&c->mu);
    while (!c->stop && mesh_monotonic_ms() < until) {
        struct timespec ts;
        mesh_monotonic_deadline(&ts, until - mesh_monotonic_ms());
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
    }
    go_on = !c->stop;
    pthread_mutex_unlock(&c->mu);
    return go_on;
}

/* ---- the token cache (all under c->mu) ---- */

static tok_entry_t *find(mesh_client_t *c, const char *audience, const char *scope)
{
    for (tok_entry_t *e = c->entries; e != NULL; e = e->next) {
        if (strcmp(e->audience, audience) == 0 && strcmp(e->scope, scope) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Bounded: past cache_entries, the least recently used idle entry goes. */
static void evict_one(mesh_client_t *c)
{
    tok_entry_t **victim = NULL;

    for (tok_entry_t **pp = &c->entries; *pp != NULL; pp = &(*pp)->next) {
        tok_entry_t *e = *pp;
        if (!e->fetching && e->waiters == 0 &&
            (victim == NULL || e->last_used_ms < (*victim)->last_used_ms)) {
            victim = pp;
        }
    }
    if (victim != NULL) {
        tok_entry_t *e = *victim;
        *victim = e->next;
        entry_free(e);
        c->count--;
    }
}

static tok_entry_t *add(mesh_client_t *c, const char *audience, const char *scope)
{
    tok_entry_t *e;

    if (c->count >= c->o.cache_entries) {
        evict_one(c);
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->audience = strdup(audience)) == NULL ||
        (e->scope = strdup(scope)) == NULL) {
        if (e != NULL) {
            free(e->audience);
            free(e);
        }
        return NULL;
    }
    e->next = c->entries;
    c->entries = e;
    c->count++;
    return e;
}

/* A token is handed out until shortly before expiry, so a peer never gets a dying one. */
static bool usable(mesh_client_t *c, const tok_entry_t *e, long long now)
{
    /* ... and only while the certificate it is bound to is the client's (renew.h). */
    return e->token != NULL && now < e->expire_ms && e->ident_gen == atomic_load(&c->ident_gen);
}

/* Stores a fetched token and schedules its refresh at ~fraction of its life, +-10 %. */
static void store(mesh_client_t *c, tok_entry_t *e, char *token, int64_t expires_in)
{
    long long now = mesh_monotonic_ms();
    long long life = expires_in * 1000;
    long long margin = life / 10 < 5000 ? life / 10 : 5000;
    uint16_t r = 0;
    double f;

    r = mesh_random_bytes(&r, sizeof(r)) == MESH_OK ? r : 0;
    f = c->o.refresh_fraction * (0.9 + 0.2 * r / 65535.0);
    if (f > 0.95) {
        f = 0.95;
    }
    if (e->token != NULL) {
        mesh_wipe(e->token, strlen(e->token));
        free(e->token);
    }
    e->token = token;
    e->expires_at = (int64_t)time(NULL) + expires_in;
    e->expire_ms = now + life - margin;
    e->refresh_ms = now + (long long)((double)life * f);
    if (e->refresh_ms > e->expire_ms) {
        e->refresh_ms = e->expire_ms;
    }
    e->used_since_fetch = false;
    e->backoff_ms = 0;
}

/* Runs one fetch for `e` with c->mu released; wakes whoever waits for it. */
static mesh_err_t fetch_entry(mesh_client_t *c, tok_entry_t *e)
{
    char *token = NULL;
    int64_t expires_in = 0;
    char *aud = e->audience, *scope = e->scope; /* stable while fetching (not evictable) */
    uint64_t gen = atomic_load(&c->ident_gen);  /* the pair this fetch presents */
    mesh_err_t rc;

    e->fetching = true;
    pthread_mutex_unlock(&c->mu);
    rc = mesh_client_fetch(c, aud, scope, &token, &expires_in);
    pthread_mutex_lock(&c->mu);
    e->fetching = false;
    e->gen++;
    e->last_err = rc;
    if (rc == MESH_OK) {
        store(c, e, token, expires_in);
        e->ident_gen = gen;
    } else {
        snprintf(e->last_detail, sizeof(e->last_detail), "%s", mesh_err_detail());
    }
    pthread_cond_broadcast(&c->cv);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_client_token(mesh_client_t *c, const char *audience, const char *scope,
                                         char **token, int64_t *expires_at)
{
    tok_entry_t *e;
    mesh_err_t rc = MESH_OK;
    char *copy = NULL;
    int64_t exp = 0;
    bool wake = false;

    mesh_err_clear();
    if (c == NULL || audience == NULL || audience[0] == '\0' || token == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_client_token: client, audience and "
                                                  "token are required");
    }
    if (scope == NULL) {
        scope = "";
    }
    pthread_mutex_lock(&c->mu);
    e = find(c, audience, scope);
    if (e == NULL && (e = add(c, audience, scope)) == NULL) {
        pthread_mutex_unlock(&c->mu);
        return mesh_err_set(MESH_ERR_NOMEM, "token cache");
    }
    for (;;) {
        long long now = mesh_monotonic_ms();
        e->last_used_ms = now;
        if (usable(c, e, now)) {
            bool first_use = !e->used_since_fetch; /* now worth refreshing ahead */
            e->used_since_fetch = true;
            if (!wake) {
                atomic_fetch_add(&c->cache_hits, 1); /* no fetch in this call */
            }
            wake = wake || first_use;
            copy = strdup(e->token);
            exp = e->expires_at;
            rc = copy != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "token");
            break;
        }
        if (e->fetching) {
            /* Single flight: wait for the fetch in progress and share its result. */
            uint64_t gen = e->gen;
            e->waiters++;
            while (e->fetching && e->gen == gen) {
                pthread_cond_wait(&c->cv, &c->mu);
            }
            e->waiters--;
            wake = true; /* shared someone's fetch: not a cache hit */
            if (!usable(c, e, mesh_monotonic_ms()) && e->last_err != MESH_OK) {
                rc = mesh_err_set(e->last_err, "%s", e->last_detail);
                break;
            }
            continue;
        }
        rc = fetch_entry(c, e);
        wake = true;
        if (rc != MESH_OK) {
            break;
        }
    }
    if (wake) {
        pthread_cond_broadcast(&c->cv); /* the refresher may have a new earliest deadline */
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == MESH_OK) {
        *token = copy;
        if (expires_at != NULL) {
            *expires_at = exp;
        }
    }
    return rc;
}

/* Refresh ahead: the token in use is replaced before it expires, callers never wait. */
static void *refresher(void *arg)
{
    mesh_client_t *c = arg;

    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        long long now = mesh_monotonic_ms();
        tok_entry_t *next = NULL;
        for (tok_entry_t *e = c->entries; e != NULL; e = e->next) {
            if (e->token != NULL && !e->fetching && e->used_since_fetch &&
                (next == NULL || e->refresh_ms < next->refresh_ms)) {
                next = e;
            }
        }
        if (next == NULL || next->refresh_ms > now) {
            struct timespec ts;
            mesh_monotonic_deadline(&ts,
                                    next != NULL ? next->refresh_ms - now : REFRESH_IDLE_WAIT_MS);
            pthread_cond_timedwait(&c->cv, &c->mu, &ts);
            continue;
        }
        if (fetch_entry(c, next) == MESH_OK) {
            atomic_fetch_add(&c->refreshes, 1); /* counted once the new token is in the cache */
        } else {
            /* Keep the current token (still valid) and try again later, not in a loop. */
            next->backoff_ms = next->backoff_ms == 0 ? c->o.retry_base_ms : next->backoff_ms * 2;
            if (next->backoff_ms > c->o.retry_max_ms) {
                next->backoff_ms = c->o.retry_max_ms;
            }
            next->refresh_ms = mesh_monotonic_ms() + next->backoff_ms;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

MESH_EXPORT uint64_t mesh_client_stat(const mesh_client_t *c, mesh_client_stat_t which)
{
    /* atomic_load takes a non-const pointer in C11; the counters are only read here. */
    mesh_client_t *m = (mesh_client_t *)c;

    if (m == NULL) {
        return 0;
    }
    switch (which) {
    case MESH_CLIENT_STAT_ISSUER_REQUESTS:
        return atomic_load(&m->issuer_requests);
    case MESH_CLIENT_STAT_CACHE_HITS:
        return atomic_load(&m->cache_hits);
    case MESH_CLIENT_STAT_REFRESHES:
        return atomic_load(&m->refreshes);
    }
    return 0;
}
