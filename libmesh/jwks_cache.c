/* SPDX-License-Identifier: Apache-2.0 */
#include "jwks_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mesh/limits.h>
#include <mesh/util.h>

#include "internal.h"
#include "json.h"
#include "key_select.h"
#include "stripe.h"

#define SNAP_STRIPES      16
#define FAIL_RETRY_MIN_MS 1000
#define FAIL_RETRY_MAX_MS 60000

/* One reader stripe: its own lock and its own reference to the current set. */
typedef struct {
    alignas(MESH_CACHELINE) pthread_mutex_t mu;
    mesh_jwks_t *set;
    uint64_t gen; /* set's generation */
} snap_stripe_t;

struct mesh_jwks_cache {
    mesh_jwks_cache_opts_t o;
    char *issuer, *location;
    char *jwks_uri; /* discovered from metadata (issuer source) */

    snap_stripe_t snap[SNAP_STRIPES];
    _Atomic int64_t usable_until;    /* clock seconds; past it the keys are too stale to use */
    atomic_uint_fast64_t generation; /* bumped before each install */

    pthread_mutex_t fetch_mu; /* single flight */
    pthread_cond_t fetch_cv;
    bool fetching;
    uint64_t fetch_gen;
    long long last_limited_ms; /* last fetch caused by an unknown kid / no keys */
    long long due_ms;
    long long pending_due_ms; /* written by the fetching thread only */
    long long fail_backoff_ms;
    char last_error[512];        /* under fetch_mu */
    pthread_mutex_t skip_mu;     /* the keys the installed set left out (algorithm list) */
    mesh_jwks_skipped_t skipped; /* under skip_mu */
    atomic_uint_fast64_t fetches;
};

static int64_t cache_now(const mesh_jwks_cache_t *c)
{
    return c->o.clock != NULL ? c->o.clock(c->o.clock_ctx) : (int64_t)time(NULL);
}

mesh_err_t mesh_jwks_cache_new(const mesh_jwks_cache_opts_t *opts, mesh_jwks_cache_t **out)
{
    mesh_jwks_cache_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "key cache");
    }
    c->o = *opts;
    c->issuer = opts->issuer != NULL ? strdup(opts->issuer) : NULL;
    c->location = opts->location != NULL ? strdup(opts->location) : NULL;
    for (int i = 0; i < SNAP_STRIPES; i++) {
        pthread_mutex_init(&c->snap[i].mu, NULL);
    }
    pthread_mutex_init(&c->fetch_mu, NULL);
    pthread_mutex_init(&c->skip_mu, NULL);
    pthread_cond_init(&c->fetch_cv, NULL);
    c->last_limited_ms = -(long long)opts->cooldown_ms - 1;
    c->due_ms = mesh_monotonic_ms();
    if ((opts->issuer != NULL && c->issuer == NULL) ||
        (opts->location != NULL && c->location == NULL)) {
        mesh_jwks_cache_free(c);
        return mesh_err_set(MESH_ERR_NOMEM, "key cache");
    }
    *out = c;
    return MESH_OK;
}

void mesh_jwks_cache_free(mesh_jwks_cache_t *c)
{
    if (c == NULL) {
        return;
    }
    for (int i = 0; i < SNAP_STRIPES; i++) {
        mesh_jwks_free(c->snap[i].set);
        pthread_mutex_destroy(&c->snap[i].mu);
    }
    pthread_mutex_destroy(&c->fetch_mu);
    pthread_mutex_destroy(&c->skip_mu);
    pthread_cond_destroy(&c->fetch_cv);
    free(c->issuer);
    free(c->location);
    free(c->jwks_uri);
    free(c);
}

mesh_jwks_t *mesh_jwks_cache_get(mesh_jwks_cache_t *c, uint64_t *generation)
{
    snap_stripe_t *s = &c->snap[mesh_thread_slot() % SNAP_STRIPES];
    mesh_jwks_t *set;

    if (cache_now(c) > atomic_load_explicit(&c->usable_until, memory_order_acquire)) {
        return NULL;
    }
    pthread_mutex_lock(&s->mu);
    set = mesh_jwks_ref(s->set);
    if (generation != NULL) {
        *generation = s->gen;
    }
    pthread_mutex_unlock(&s->mu);
    return set;
}

bool mesh_jwks_cache_usable(mesh_jwks_cache_t *c)
{
    return atomic_load_explicit(&c->generation, memory_order_acquire) > 0 &&
           cache_now(c) <= atomic_load_explicit(&c->usable_until, memory_order_acquire);
}

uint64_t mesh_jwks_cache_generation(mesh_jwks_cache_t *c)
{
    return atomic_load_explicit(&c->generation, memory_order_acquire);
}

/*
 * Installs `set` (taking its reference) in every stripe, then drops the old references. The
 * generation moves first: a verification still running on the old set carries the old number,
 * so what it caches is a miss, even when a key was replaced under the same kid.
 */
static void install(mesh_jwks_cache_t *c, mesh_jwks_t *set, int64_t usable_until)
{
    uint64_t gen = atomic_fetch_add_explicit(&c->generation, 1, memory_order_acq_rel) + 1;

    for (int i = 0; i < SNAP_STRIPES; i++) {
        mesh_jwks_t *old;
        mesh_jwks_t *mine = i == 0 ? set : mesh_jwks_ref(set);
        pthread_mutex_lock(&c->snap[i].mu);
        old = c->snap[i].set;
        c->snap[i].set = mine;
        c->snap[i].gen = gen;
        pthread_mutex_unlock(&c->snap[i].mu);
        mesh_jwks_free(old);
    }
    atomic_store_explicit(&c->usable_until, usable_until, memory_order_release);
    if (c->o.on_swap != NULL) {
        c->o.on_swap(c->o.swap_ctx, set, gen);
    }
}

/*
 * RFC 8414 §3 (the mesh issuer: /.well-known/oauth-authorization-server) or OpenID Connect
 * Discovery 1.0 §4 (an external IdP: /.well-known/openid-configuration, appended to the issuer
 * without its trailing slash): the metadata's issuer must be ours exactly (RFC 8414 §3.3, OIDC
 * Discovery §4.3), and names an https:// jwks_uri.
 */
static mesh_err_t discover(mesh_jwks_cache_t *c)
{
    const char *well_known = c->o.source == MESH_JWKS_FROM_OIDC
                                 ? "/.well-known/openid-configuration"
                                 : "/.well-known/oauth-authorization-server";
    mesh_http_resp_t r = {0};
    mesh_http_req_t req = {0};
    json_t *doc = NULL;
    const char *iss, *uri;
    char url[2048];
    size_t ilen = strlen(c->issuer);
    mesh_err_t rc;

    if (snprintf(url, sizeof(url), "%.*s%s",
                 (int)(ilen > 0 && c->issuer[ilen - 1] == '/' ? ilen - 1 : ilen), c->issuer,
                 well_known) >= (int)sizeof(url)) {
        return mesh_err_set(MESH_ERR_CONFIG, "issuer URL too long");
    }
    req.url = url;
    req.max_body = MESH_MAX_METADATA_BYTES;
    rc = mesh_http_do(c->o.http, &req, &r);
    if (rc != MESH_OK) {
        return rc;
    }
    if (r.status != 200) {
        rc = mesh_err_set(MESH_ERR_NETWORK, "%s answered HTTP %ld", url, r.status);
        goto out;
    }
    rc = mesh_json_parse_object(r.body, r.body_len, MESH_MAX_JSON_DEPTH, url, &doc);
    if (rc != MESH_OK) {
        goto out;
    }
    iss = json_string_value(json_object_get(doc, "issuer"));
    uri = json_string_value(json_object_get(doc, "jwks_uri"));
    if (iss == NULL || strcmp(iss, c->issuer) != 0) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "%s: metadata issuer \"%s\" is not the configured issuer \"%s\"; set "
                          "the verifier's issuer to the issuer's exact URL",
                          url, iss != NULL ? iss : "(none)", c->issuer);
        goto out;
    }
    if (uri == NULL || strncmp(uri, "https://", 8) != 0) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "%s: jwks_uri missing or not https:// (the keys "
                          "must come over a server-authenticated channel)",
                          url);
        goto out;
    }
    free(c->jwks_uri);
    c->jwks_uri = strdup(uri);
    rc = c->jwks_uri != NULL ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "jwks_uri");
out:
    json_decref(doc);
    mesh_http_resp_clear(&r);
    return rc;
}

/* The set under the mesh rules, or under the algorithm list (key_select.h). */
static mesh_err_t parse_set(mesh_jwks_cache_t *c, const char *body, size_t len, const char *what,
                            mesh_jwks_t **set)
{
    mesh_jwks_skipped_t *sk;
    mesh_err_t rc;

    if (c->o.algs == 0) {
        return mesh_jwks_parse(body, len, set);
    }
    if ((sk = malloc(sizeof(*sk))) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "key cache");
    }
    rc = mesh_jwks_parse_allowed(body, len, c->o.algs, what, set, sk);
    if (rc == MESH_OK) {
        /* Installed with the set right after; a reader between the two sees the new notes
         * with the old set, which only changes the wording of an unknown-kid refusal. */
        pthread_mutex_lock(&c->skip_mu);
        c->skipped = *sk;
        pthread_mutex_unlock(&c->skip_mu);
    }
    free(sk);
    return rc;
}

static mesh_err_t fetch_url(mesh_jwks_cache_t *c, mesh_jwks_t **set, int64_t *max_age)
{
    mesh_http_resp_t r = {0};
    mesh_http_req_t req = {0};
    const char *url;
    mesh_err_t rc;

    bool discovered = c->o.source == MESH_JWKS_FROM_ISSUER || c->o.source == MESH_JWKS_FROM_OIDC;

    if (discovered && c->jwks_uri == NULL) {
        rc = discover(c);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    url = discovered ? c->jwks_uri : c->location;
    req.url = url;
    req.max_body = MESH_MAX_JWKS_BYTES;
    rc = mesh_http_do(c->o.http, &req, &r);
    if (rc != MESH_OK) {
        return rc;
    }
    if (r.status != 200) {
        rc = mesh_err_set(MESH_ERR_NETWORK, "%s answered HTTP %ld", url, r.status);
    } else {
        rc = parse_set(c, r.body, r.body_len, url, set);
        /* RFC 9111 §5.2.2.1 max-age, clamped so a typo neither hammers nor freezes us. */
        *max_age = r.no_store ? c->o.max_age_min : r.max_age >= 0 ? r.max_age : 300;
    }
    mesh_http_resp_clear(&r);
    return rc;
}

static mesh_err_t do_fetch(mesh_jwks_cache_t *c)
{
    mesh_jwks_t *set = NULL;
    int64_t max_age = 300;
    mesh_err_t rc;

    atomic_fetch_add(&c->fetches, 1);
    if (c->o.source == MESH_JWKS_FROM_FILE && c->o.algs == 0) {
        rc = mesh_jwks_load_file(c->location, &set);
        max_age = c->o.max_age_max;
    } else if (c->o.source == MESH_JWKS_FROM_FILE) {
        char *body = NULL;
        size_t len = 0;
        rc = mesh_file_read(c->location, MESH_MAX_JWKS_BYTES, &body, &len);
        if (rc == MESH_OK) {
            rc = parse_set(c, body, len, c->location, &set);
        }
        mesh_free(body);
        max_age = c->o.max_age_max;
    } else {
        rc = fetch_url(c, &set, &max_age);
    }
    if (max_age < c->o.max_age_min) {
        max_age = c->o.max_age_min;
    }
    if (max_age > c->o.max_age_max) {
        max_age = c->o.max_age_max;
    }
    if (rc != MESH_OK) {
        /* Keep serving what we have (stale-if-error); try again with a growing backoff. */
        if (c->o.source == MESH_JWKS_FROM_ISSUER || c->o.source == MESH_JWKS_FROM_OIDC) {
            free(c->jwks_uri); /* rediscover next time: the issuer may have moved it */
            c->jwks_uri = NULL;
        }
        c->fail_backoff_ms = c->fail_backoff_ms == 0                      ? FAIL_RETRY_MIN_MS
                             : c->fail_backoff_ms * 2 > FAIL_RETRY_MAX_MS ? FAIL_RETRY_MAX_MS
                                                                          : c->fail_backoff_ms * 2;
        c->pending_due_ms = mesh_monotonic_ms() + c->fail_backoff_ms;
        return rc;
    }
    c->fail_backoff_ms = 0;
    c->pending_due_ms = mesh_monotonic_ms() + max_age * 1000;
    install(c, set, cache_now(c) + max_age + c->o.stale_if_error);
    return MESH_OK;
}

/* Runs one fetch, or waits for the one in flight. */
static mesh_err_t fetch_single_flight(mesh_jwks_cache_t *c, bool limited)
{
    mesh_err_t rc;
    char detail[512];

    pthread_mutex_lock(&c->fetch_mu);
    if (c->fetching) {
        uint64_t gen = c->fetch_gen;
        while (c->fetching && c->fetch_gen == gen) {
            pthread_cond_wait(&c->fetch_cv, &c->fetch_mu);
        }
        pthread_mutex_unlock(&c->fetch_mu);
        return MESH_OK;
    }
    if (limited) {
        long long now = mesh_monotonic_ms();
        if (now - c->last_limited_ms < c->o.cooldown_ms) {
            pthread_mutex_unlock(&c->fetch_mu);
            return MESH_ERR_LIMIT;
        }
        c->last_limited_ms = now;
    }
    c->fetching = true;
    pthread_mutex_unlock(&c->fetch_mu);

    /* Only one thread is here (fetching == true), so the fetch state needs no lock. */
    rc = do_fetch(c);
    snprintf(detail, sizeof(detail), "%s", mesh_err_detail());

    pthread_mutex_lock(&c->fetch_mu);
    c->fetching = false;
    c->due_ms = c->pending_due_ms;
    snprintf(c->last_error, sizeof(c->last_error), "%s", rc == MESH_OK ? "" : detail);
    c->fetch_gen++;
    pthread_cond_broadcast(&c->fetch_cv);
    pthread_mutex_unlock(&c->fetch_mu);
    if (rc != MESH_OK) {
        mesh_err_set(rc, "%s", detail);
    }
    return rc;
}

mesh_err_t mesh_jwks_cache_fetch(mesh_jwks_cache_t *c)
{
    return fetch_single_flight(c, false);
}

mesh_err_t mesh_jwks_cache_fetch_limited(mesh_jwks_cache_t *c)
{
    return fetch_single_flight(c, true);
}

long long mesh_jwks_cache_due_ms(mesh_jwks_cache_t *c)
{
    long long due;

    pthread_mutex_lock(&c->fetch_mu);
    due = c->due_ms;
    pthread_mutex_unlock(&c->fetch_mu);
    return due;
}

void mesh_jwks_cache_last_error(mesh_jwks_cache_t *c, char *buf, size_t cap)
{
    pthread_mutex_lock(&c->fetch_mu);
    snprintf(buf, cap, "%s",
             c->last_error[0] != '\0' ? c->last_error
                                      : "no fetch has "
                                        "succeeded yet");
    pthread_mutex_unlock(&c->fetch_mu);
}

uint64_t mesh_jwks_cache_skipped(mesh_jwks_cache_t *c)
{
    uint64_t n;

    pthread_mutex_lock(&c->skip_mu);
    n = c->skipped.total;
    pthread_mutex_unlock(&c->skip_mu);
    return n;
}

bool mesh_jwks_cache_skipped_kid(mesh_jwks_cache_t *c, const char *kid, size_t kid_len, char *why,
                                 size_t cap)
{
    bool found = false;

    pthread_mutex_lock(&c->skip_mu);
    for (size_t i = 0; i < c->skipped.n && !found; i++) {
        if (strlen(c->skipped.k[i].kid) == kid_len && kid_len > 0 &&
            memcmp(c->skipped.k[i].kid, kid, kid_len) == 0) {
            snprintf(why, cap, "%s", c->skipped.k[i].why);
            found = true;
        }
    }
    pthread_mutex_unlock(&c->skip_mu);
    return found;
}

uint64_t mesh_jwks_cache_fetches(mesh_jwks_cache_t *c)
{
    return atomic_load(&c->fetches);
}
