/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_verifier_t: options, the parts it composes (key cache, revocation set, token cache,
 * HTTP), and the background thread that keeps keys and revocations fresh. The per-request
 * path, mesh_verify(), is in verify.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "revocations_internal.h"
#include "stripe.h"
#include "verifier_internal.h"

int64_t mesh_verifier_now(const mesh_verifier_t *v)
{
    return v->o.clock != NULL ? v->o.clock(v->o.clock_ctx) : (int64_t)time(NULL);
}

bool mesh_verifier_is_revoked(void *ctx, const char *jti)
{
    mesh_verifier_t *v = ctx;
    return v->revoked != NULL && mesh_revset_contains(v->revoked, jti);
}

/* A new key set: cached verifications of an older one are misses from now on (token_cache.h);
 * this only frees them early. */
static void on_swap(void *ctx, const mesh_jwks_t *set, uint64_t generation)
{
    mesh_verifier_t *v = ctx;
    (void)set;
    if (v->cache != NULL) {
        mesh_tcache_purge_before(v->cache, generation);
    }
}

static void *background(void *arg);
static mesh_err_t poll_revocations(mesh_verifier_t *v);

/* What no single setter can judge: the required options, the profile's rules, the HMAC key's
 * company, and the issuer's URL scheme. */
static mesh_err_t check_opts(const struct mesh_verifier_opts *o)
{
    bool oidc = o->profile == MESH_PROFILE_OIDC;
    bool feed = o->revocation_feed && !(oidc && !o->feed_set);
    bool discovered =
        o->jwks_source == MESH_JWKS_FROM_ISSUER || o->jwks_source == MESH_JWKS_FROM_OIDC;

    if (o->issuer == NULL || o->audience == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "verifier options: issuer and audience are required");
    }
    if (oidc && feed) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "verifier options: profile \"oidc\" has no "
                            "revocation feed (an external identity provider publishes none; its "
                            "tokens end at their exp): turn the feed off");
    }
    if (o->hmac_key != NULL && !oidc) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "verifier options: an HMAC key is for one external "
                            "issuer with profile \"oidc\"; mesh tokens are signed with keys");
    }
    if (o->hmac_key != NULL && (o->jwks_source != MESH_JWKS_FROM_ISSUER || o->algs != 0)) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "verifier options: an HMAC issuer's one key is the "
                            "configured HS256 key; give it no JWKS source and no algorithm list");
    }
    if (((discovered && o->hmac_key == NULL) || feed) && strncmp(o->issuer, "https://", 8) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "issuer %s is not an https:// URL; keys and "
                            "revocations are fetched from it (or use a JWKS file and turn the "
                            "revocation feed off)",
                            o->issuer);
    }
    return MESH_OK;
}

/* A profile changes the defaults of what was not set explicitly (check_opts passed). */
static void apply_profile(struct mesh_verifier_opts *o)
{
    if (o->profile != MESH_PROFILE_OIDC) {
        return;
    }
    o->revocation_feed = false;
    if (!o->binding_set) {
        mesh_binding_clear(&o->binding);
        o->binding.mode = MESH_BIND_WHEN_PRESENTED;
    }
}

static mesh_err_t setup_parts(mesh_verifier_t *v)
{
    mesh_http_opts_t ho = {.cert_path = v->o.cert_path,
                           .key_path = v->o.key_path,
                           .ca_path = v->o.ca_path,
                           .timeout_ms = 10000,
                           .pin_prefix = v->o.issuer,
                           .pin_id = v->o.issuer_id};
    mesh_jwks_cache_opts_t ko = {0};
    size_t ilen = strlen(v->o.issuer);
    mesh_err_t rc;

    bool keys = v->o.hmac_key == NULL; /* an HMAC issuer has its one key, no JWKS */

    if ((keys && v->o.jwks_source != MESH_JWKS_FROM_FILE) || v->o.revocation_feed) {
        rc = mesh_http_new(&ho, &v->http);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    ko.source = v->o.jwks_source;
    ko.issuer = v->o.issuer;
    ko.location = v->o.jwks_location;
    ko.http = v->http;
    ko.cooldown_ms = v->o.jwks_cooldown_ms;
    ko.max_age_min = v->o.jwks_max_age_min;
    ko.max_age_max = v->o.jwks_max_age_max;
    ko.stale_if_error = v->o.jwks_stale_if_error;
    ko.clock = v->o.clock;
    ko.clock_ctx = v->o.clock_ctx;
    ko.algs = v->o.algs;
    ko.on_swap = on_swap;
    ko.swap_ctx = v;
    rc = keys ? mesh_jwks_cache_new(&ko, &v->keys) : MESH_OK;
    if (rc == MESH_OK) {
        rc = mesh_tcache_new(v->o.cache_entries, &v->cache);
    }
    if (rc == MESH_OK && v->o.revocation_feed) {
        rc = mesh_revset_new(&v->revoked);
        if (rc == MESH_OK) {
            size_t n = ilen + sizeof("/v1/revocations");
            v->feed_url = malloc(n);
            if (v->feed_url == NULL) {
                return mesh_err_set(MESH_ERR_NOMEM, "verifier");
            }
            snprintf(v->feed_url, n, "%.*s/v1/revocations",
                     (int)(ilen > 0 && v->o.issuer[ilen - 1] == '/' ? ilen - 1 : ilen),
                     v->o.issuer);
        }
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_new(const mesh_verifier_opts_t *opts, mesh_verifier_t **out)
{
    mesh_verifier_t *v;
    mesh_err_t rc;

    mesh_err_clear();
    if (opts == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_verifier_new: opts and out are required");
    }
    rc = check_opts(opts);
    if (rc != MESH_OK) {
        return rc;
    }
    v = calloc(1, sizeof(*v));
    if (v == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "verifier");
    }
    pthread_mutex_init(&v->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&v->cv, &ca);
    pthread_condattr_destroy(&ca);
    rc = mesh_verifier_opts_copy(&v->o, opts);
    if (rc == MESH_OK) {
        apply_profile(&v->o);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_claim_rules(v); /* verify.c */
    }
    if (rc == MESH_OK) {
        rc = setup_parts(v);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_peer_setup(v); /* trust bundle: verify_peer.c */
    }
    if (rc != MESH_OK) {
        mesh_verifier_free(v);
        return rc;
    }
    /* First keys and the whole revocation feed (every page) now; failures are not fatal (see
     * the header), but a feed that could not be loaded whole leaves the verifier refusing
     * tokens (MESH_ERR_REVOCATIONS_INCOMPLETE) until a poll completes. */
    if (v->keys != NULL) {
        (void)mesh_jwks_cache_fetch(v->keys);
    }
    if (v->revoked != NULL) {
        (void)poll_revocations(v);
    }
    mesh_err_clear();
    if (pthread_create(&v->thread, NULL, background, v) != 0) {
        mesh_verifier_free(v);
        return mesh_err_set(MESH_ERR_INTERNAL, "cannot start the verifier's refresh thread");
    }
    v->thread_started = true;
    *out = v;
    return MESH_OK;
}

MESH_EXPORT void mesh_verifier_free(mesh_verifier_t *v)
{
    if (v == NULL) {
        return;
    }
    if (v->thread_started) {
        pthread_mutex_lock(&v->mu);
        v->stop = true;
        pthread_cond_broadcast(&v->cv);
        pthread_mutex_unlock(&v->mu);
        mesh_http_cancel(v->http); /* a fetch or poll in flight ends now */
        pthread_join(v->thread, NULL);
    }
    mesh_verifier_peer_free(v);
    mesh_tcache_free(v->cache);
    mesh_jwks_cache_free(v->keys);
    mesh_revset_free(v->revoked);
    mesh_http_free(v->http);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    mesh_verifier_opts_clear(&v->o);
    mesh_jwt_verify_opts_free(v->jo);
    free(v->feed_url);
    free(v);
}

MESH_EXPORT mesh_err_t mesh_verifier_refresh_keys(mesh_verifier_t *v)
{
    mesh_err_clear();
    if (v->keys == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "this verifier's issuer has an HMAC key, no JWKS");
    }
    return mesh_jwks_cache_fetch(v->keys);
}

static mesh_err_t poll_revocations(mesh_verifier_t *v)
{
    mesh_err_t rc;

    if (v->revoked == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "this verifier has the revocation feed off");
    }
    /* Every page the issuer has, up to MESH_MAX_FEED_PAGES_PER_POLL; entries whose tokens
     * have expired (a revoked token that has expired is rejected anyway) leave first. */
    rc = mesh_revset_poll(v->revoked, v->http, v->feed_url, mesh_verifier_now(v) - v->o.skew - 1);
    atomic_fetch_add(&v->polls, 1);
    if (rc == MESH_OK) {
        atomic_store(&v->last_poll_ok, mesh_verifier_now(v));
    }
    pthread_mutex_lock(&v->revoked->poll_mu); /* since is the poll's, under its lock */
    atomic_store(&v->feed_seq, v->revoked->since);
    pthread_mutex_unlock(&v->revoked->poll_mu);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_poll_revocations(mesh_verifier_t *v)
{
    mesh_err_clear();
    return poll_revocations(v);
}

static void *background(void *arg)
{
    mesh_verifier_t *v = arg;
    long long next_poll = mesh_monotonic_ms() + v->o.revocation_poll_ms;

    pthread_mutex_lock(&v->mu);
    while (!v->stop) {
        long long now = mesh_monotonic_ms();
        long long due = v->keys != NULL ? mesh_jwks_cache_due_ms(v->keys) : now + 3600000;
        long long wake = due;
        if (v->revoked != NULL && next_poll < wake) {
            wake = next_poll;
        }
        if (wake > now) {
            struct timespec ts;
            mesh_monotonic_deadline(&ts, wake - now);
            pthread_cond_timedwait(&v->cv, &v->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&v->mu);
        if (v->keys != NULL && now >= due) {
            (void)mesh_jwks_cache_fetch(v->keys);
        }
        if (v->revoked != NULL && now >= next_poll) {
            (void)poll_revocations(v);
            next_poll = mesh_monotonic_ms() + v->o.revocation_poll_ms;
        }
        pthread_mutex_lock(&v->mu);
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

MESH_EXPORT uint64_t mesh_verifier_stat(const mesh_verifier_t *v, mesh_verifier_stat_t which)
{
    uint64_t n = 0;

    if (v == NULL) {
        return 0;
    }
    switch (which) {
    case MESH_VSTAT_VERIFIED:
    case MESH_VSTAT_REJECTED:
    case MESH_VSTAT_CACHE_HITS:
        for (int i = 0; i < STAT_STRIPES; i++) {
            const stat_stripe_t *st = &v->stats[i];
            n += atomic_load(which == MESH_VSTAT_VERIFIED   ? &st->verified
                             : which == MESH_VSTAT_REJECTED ? &st->rejected
                                                            : &st->cache_hits);
        }
        return n;
    case MESH_VSTAT_JWKS_FETCHES:
        return v->keys != NULL ? mesh_jwks_cache_fetches(v->keys) : 0;
    case MESH_VSTAT_JWKS_KEYS_SKIPPED:
        return v->keys != NULL ? mesh_jwks_cache_skipped(v->keys) : 0;
    case MESH_VSTAT_REVOCATION_POLLS:
        return atomic_load(&v->polls);
    case MESH_VSTAT_REVOCATION_LAST_POLL: {
        int64_t t = atomic_load(&v->last_poll_ok);
        return t > 0 ? (uint64_t)t : 0;
    }
    case MESH_VSTAT_REVOCATION_SEQ: {
        int64_t seq = atomic_load(&v->feed_seq);
        return seq > 0 ? (uint64_t)seq : 0;
    }
    default:
        return 0;
    }
}
