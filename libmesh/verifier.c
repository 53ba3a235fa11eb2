/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_verify(): the composition of the key cache (jwks_cache.c), the JOSE core (jws.c,
 * jwt.c), the revocation set (revocations.c) and the verified-token cache (token_cache.c),
 * plus the background thread that keeps keys and revocations fresh.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mesh/verifier.h>
#include <mesh/x509.h>

#include "secret.h"
#include "http.h"
#include "internal.h"
#include "jwks_cache.h"
#include "revocations.h"
#include "stripe.h"
#include "token_cache.h"

#define STAT_STRIPES 16
#define CERT_MEMO_MAX 4096

typedef struct {
    alignas(MESH_CACHELINE) atomic_uint_fast64_t verified;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t cache_hits;
} stat_stripe_t;

struct mesh_verifier {
    mesh_verifier_opts_t o;
    char *issuer, *audience, *location, *ca_path, *cert_path, *key_path;
    char *feed_url;
    mesh_http_t *http;
    mesh_jwks_cache_t *keys;
    mesh_revset_t *revoked;
    mesh_tcache_t *cache;
    stat_stripe_t stats[STAT_STRIPES];

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu; /* background thread state below */
    pthread_cond_t cv;
    bool stop;
    int64_t since;
    atomic_uint_fast64_t polls;
};

/* The presenting certificate's thumbprint, memoised per thread: a connection presents the
 * same certificate for many requests, and a memcmp is cheaper than a SHA-256. */
static _Thread_local struct {
    size_t len;
    uint8_t der[CERT_MEMO_MAX];
    char x5t[MESH_X5T_LEN + 1];
} cert_memo;

MESH_EXPORT void mesh_verifier_opts_init(mesh_verifier_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->jwks_source = MESH_JWKS_FROM_ISSUER;
    o->skew = MESH_DEFAULT_SKEW;
    o->max_lifetime = MESH_DEFAULT_MAX_LIFETIME;
    o->require_binding = true;
    o->revocation_feed = true;
    o->revocation_poll_ms = 10000;
    o->jwks_cooldown_ms = 30000;
    o->jwks_max_age_min = 10;
    o->jwks_max_age_max = 3600;
    o->jwks_stale_if_error = 86400;
    o->cache_entries = 16384;
}

static int64_t now_s(const mesh_verifier_t *v)
{
    return v->o.clock != NULL ? v->o.clock(v->o.clock_ctx) : (int64_t)time(NULL);
}

static bool is_revoked(void *ctx, const char *jti)
{
    mesh_verifier_t *v = ctx;
    return v->revoked != NULL && mesh_revset_contains(v->revoked, jti);
}

static void on_swap(void *ctx, const mesh_jwks_t *set)
{
    mesh_verifier_t *v = ctx;
    if (v->cache != NULL) {
        mesh_tcache_purge_kids(v->cache, set);
    }
}

static void *background(void *arg);
static mesh_err_t poll_revocations(mesh_verifier_t *v);

static mesh_err_t copy_opts(mesh_verifier_t *v, const mesh_verifier_opts_t *o)
{
    const char *src[] = {o->issuer, o->audience, o->jwks_location, o->ca_path, o->cert_path,
                         o->key_path};
    char **dst[] = {&v->issuer, &v->audience, &v->location, &v->ca_path, &v->cert_path,
                    &v->key_path};

    for (size_t i = 0; i < MESH_ARRAY_LEN(src); i++) {
        if (src[i] != NULL && (*dst[i] = strdup(src[i])) == NULL) {
            return mesh_err_set(MESH_ERR_NOMEM, "verifier options");
        }
    }
    v->o = *o;
    v->o.issuer = v->issuer;
    v->o.audience = v->audience;
    v->o.jwks_location = v->location;
    v->o.ca_path = v->ca_path;
    v->o.cert_path = v->cert_path;
    v->o.key_path = v->key_path;
    return MESH_OK;
}

static mesh_err_t check_opts(const mesh_verifier_opts_t *o)
{
    if (o->issuer == NULL || o->issuer[0] == '\0' || o->audience == NULL ||
        o->audience[0] == '\0') {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "verifier options: issuer and audience are required");
    }
    if (o->jwks_source != MESH_JWKS_FROM_ISSUER && o->jwks_location == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "verifier options: jwks_location is required "
                            "for a JWKS URL or file source");
    }
    if (o->jwks_source == MESH_JWKS_FROM_URL && strncmp(o->jwks_location, "https://", 8) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG, "JWKS URL %s is not https://", o->jwks_location);
    }
    if ((o->jwks_source == MESH_JWKS_FROM_ISSUER || o->revocation_feed) &&
        strncmp(o->issuer, "https://", 8) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG, "issuer %s is not an https:// URL; keys and "
                            "revocations are fetched from it (or use a JWKS file and turn the "
                            "revocation feed off)", o->issuer);
    }
    if (o->revocation_poll_ms <= 0 || o->jwks_cooldown_ms < 0 || o->jwks_max_age_min < 0 ||
        o->jwks_max_age_max < o->jwks_max_age_min || o->skew < 0 || o->max_lifetime <= 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "verifier options: a time value is out of "
                            "range");
    }
    return MESH_OK;
}

static mesh_err_t setup_parts(mesh_verifier_t *v)
{
    mesh_http_opts_t ho = {.cert_path = v->cert_path, .key_path = v->key_path,
                           .ca_path = v->ca_path, .timeout_ms = 10000};
    mesh_jwks_cache_opts_t ko = {0};
    size_t ilen = strlen(v->issuer);
    mesh_err_t rc;

    if (v->o.jwks_source != MESH_JWKS_FROM_FILE || v->o.revocation_feed) {
        rc = mesh_http_new(&ho, &v->http);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    ko.source = v->o.jwks_source;
    ko.issuer = v->issuer;
    ko.location = v->location;
    ko.http = v->http;
    ko.cooldown_ms = v->o.jwks_cooldown_ms;
    ko.max_age_min = v->o.jwks_max_age_min;
    ko.max_age_max = v->o.jwks_max_age_max;
    ko.stale_if_error = v->o.jwks_stale_if_error;
    ko.clock = v->o.clock;
    ko.clock_ctx = v->o.clock_ctx;
    ko.on_swap = on_swap;
    ko.swap_ctx = v;
    rc = mesh_jwks_cache_new(&ko, &v->keys);
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
                     (int)(ilen > 0 && v->issuer[ilen - 1] == '/' ? ilen - 1 : ilen), v->issuer);
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
    rc = copy_opts(v, opts);
    if (rc == MESH_OK) {
        rc = setup_parts(v);
    }
    if (rc != MESH_OK) {
        mesh_verifier_free(v);
        return rc;
    }
    /* First keys and revocations now; failures are not fatal (see the header). */
    (void)mesh_jwks_cache_fetch(v->keys);
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
    mesh_tcache_free(v->cache);
    mesh_jwks_cache_free(v->keys);
    mesh_revset_free(v->revoked);
    mesh_http_free(v->http);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v->issuer);
    free(v->audience);
    free(v->location);
    free(v->ca_path);
    free(v->cert_path);
    free(v->key_path);
    free(v->feed_url);
    free(v);
}

MESH_EXPORT mesh_err_t mesh_verifier_refresh_keys(mesh_verifier_t *v)
{
    mesh_err_clear();
    return mesh_jwks_cache_fetch(v->keys);
}

static mesh_err_t poll_revocations(mesh_verifier_t *v)
{
    int64_t since;
    mesh_err_t rc;

    if (v->revoked == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "this verifier has the revocation feed off");
    }
    pthread_mutex_lock(&v->mu);
    since = v->since;
    pthread_mutex_unlock(&v->mu);
    rc = mesh_revset_poll(v->revoked, v->http, v->feed_url, &since);
    atomic_fetch_add(&v->polls, 1);
    if (rc == MESH_OK) {
        pthread_mutex_lock(&v->mu);
        v->since = since;
        pthread_mutex_unlock(&v->mu);
        /* A revoked token that has expired is rejected anyway. */
        mesh_revset_prune(v->revoked, now_s(v) - v->o.skew - 1);
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_verifier_poll_revocations(mesh_verifier_t *v)
{
    mesh_err_clear();
    return poll_revocations(v);
}

static void add_ms(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void *background(void *arg)
{
    mesh_verifier_t *v = arg;
    long long next_poll = mesh_monotonic_ms() + v->o.revocation_poll_ms;

    pthread_mutex_lock(&v->mu);
    while (!v->stop) {
        long long now = mesh_monotonic_ms();
        long long due = mesh_jwks_cache_due_ms(v->keys);
        long long wake = due;
        if (v->revoked != NULL && next_poll < wake) {
            wake = next_poll;
        }
        if (wake > now) {
            struct timespec ts;
            add_ms(&ts, wake - now);
            pthread_cond_timedwait(&v->cv, &v->mu, &ts);
            continue;
        }
        pthread_mutex_unlock(&v->mu);
        if (now >= due) {
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

/* "Bearer <token68>" (RFC 6750 §2.1); the scheme is case-insensitive (RFC 9110 §11.1). */
static mesh_err_t parse_authorization(const char *h, const char **tok, size_t *len)
{
    const char *p, *e;

    if (h == NULL || h[0] == '\0') {
        return mesh_err_set(MESH_ERR_NO_TOKEN, "no Authorization header");
    }
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        return mesh_err_set(MESH_ERR_NO_TOKEN, "Authorization is not a Bearer credential");
    }
    for (p = h + 7; *p == ' '; p++) {
    }
    e = p + strcspn(p, " ,\t");
    if (*e != '\0') {
        const char *rest = e;
        while (*rest == ' ' || *rest == '\t') {
            rest++;
        }
        if (*rest != '\0') {
            /* "Bearer a, Bearer b" (two headers folded into one) or "Bearer a b". */
            return mesh_err_set(MESH_ERR_TWO_CREDENTIALS,
                                "Authorization carries more than one credential");
        }
    }
    if (e == p) {
        return mesh_err_set(MESH_ERR_NO_TOKEN, "Authorization: Bearer with an empty token");
    }
    if ((size_t)(e - p) > MESH_MAX_TOKEN_BYTES) {
        return mesh_err_set(MESH_ERR_TOKEN_TOO_LARGE, "token of %zu bytes, over the %d-byte "
                            "limit", (size_t)(e - p), MESH_MAX_TOKEN_BYTES);
    }
    *tok = p;
    *len = (size_t)(e - p);
    return MESH_OK;
}

/* RFC 8705 §3.1: the token is bound to the certificate that presented it. */
static mesh_err_t check_binding(const mesh_verifier_t *v, const mesh_identity_t *id,
                                const uint8_t *der, size_t len)
{
    const char *cnf = mesh_claims_cnf_x5t(id->claims);

    if (cnf[0] == '\0') {
        return v->o.require_binding
                   ? mesh_err_set(MESH_ERR_CNF_MISSING, "token has no cnf.x5t#S256 and this "
                                  "verifier requires certificate-bound tokens")
                   : MESH_OK;
    }
    if (der == NULL || len == 0) {
        return mesh_err_set(MESH_ERR_CNF_MISMATCH, "token is bound to a certificate but the "
                            "caller presented none");
    }
    if (cert_memo.len != len || memcmp(cert_memo.der, der, len) != 0) {
        char x5t[MESH_X5T_LEN + 1];
        if (mesh_x5t_s256(der, len, x5t) != MESH_OK) {
            return MESH_ERR_INTERNAL;
        }
        if (len <= CERT_MEMO_MAX) {
            memcpy(cert_memo.der, der, len);
            memcpy(cert_memo.x5t, x5t, sizeof(x5t));
            cert_memo.len = len;
        } else {
            cert_memo.len = 0;
            return strcmp(x5t, cnf) == 0
                       ? MESH_OK
                       : mesh_err_set(MESH_ERR_CNF_MISMATCH, "token is bound to another "
                                      "certificate");
        }
    }
    if (strcmp(cert_memo.x5t, cnf) != 0) {
        return mesh_err_set(MESH_ERR_CNF_MISMATCH, "token is bound to another certificate "
                            "than the one presented");
    }
    return MESH_OK;
}

/* What still has to hold when a token comes from the cache: time, revocation, binding. */
static mesh_err_t recheck(mesh_verifier_t *v, const mesh_identity_t *id, const uint8_t *der,
                          size_t len)
{
    int64_t now = now_s(v);

    if (now >= id->exp + v->o.skew) {
        return mesh_err_set(MESH_ERR_EXPIRED, "exp %lld is %lld s before now (skew %lld s)",
                            (long long)id->exp, (long long)(now - id->exp),
                            (long long)v->o.skew);
    }
    if (is_revoked(v, mesh_claims_jti(id->claims))) {
        return mesh_err_set(MESH_ERR_REVOKED, "jti %s is revoked", mesh_claims_jti(id->claims));
    }
    return check_binding(v, id, der, len);
}

/* Signature and claims with the current keys; one limited refetch on an unknown kid. */
static mesh_err_t verify_full(mesh_verifier_t *v, const char *tok, size_t len,
                              const uint8_t *der, size_t der_len, mesh_identity_t **out)
{
    uint8_t payload[MESH_MAX_TOKEN_BYTES];
    size_t plen = 0;
    mesh_jws_header_t hdr;
    mesh_jwt_verify_opts_t jo;
    mesh_claims_t *claims = NULL;
    mesh_jwks_t *set;
    mesh_err_t rc;

    for (int attempt = 0;; attempt++) {
        set = mesh_jwks_cache_get(v->keys);
        if (set == NULL || mesh_jwks_count(set) == 0) {
            mesh_jwks_free(set);
            if (attempt == 0 && mesh_jwks_cache_fetch_limited(v->keys) == MESH_OK) {
                continue;
            }
            char why[512];
            mesh_jwks_cache_last_error(v->keys, why, sizeof(why));
            return mesh_err_set(MESH_ERR_KEYS_UNAVAILABLE, "no verification keys (last fetch: "
                                "%s)", why);
        }
        rc = mesh_jws_verify_jwks(set, tok, len, &hdr, payload, sizeof(payload), &plen, NULL);
        mesh_jwks_free(set);
        if (rc == MESH_ERR_KID_UNKNOWN && attempt == 0 &&
            mesh_jwks_cache_fetch_limited(v->keys) == MESH_OK) {
            continue; /* DESIGN: an unknown kid earns at most one rate-limited refresh */
        }
        break;
    }
    if (rc != MESH_OK) {
        return rc;
    }
    mesh_jwt_verify_opts_init(&jo);
    jo.issuer = v->issuer;
    jo.audience = v->audience;
    jo.skew = v->o.skew;
    jo.max_lifetime = v->o.max_lifetime;
    jo.clock = v->o.clock;
    jo.clock_ctx = v->o.clock_ctx;
    jo.cert_der = der;
    jo.cert_der_len = der_len;
    jo.require_cnf = v->o.require_binding;
    jo.revoked = is_revoked;
    jo.revoked_ctx = v;
    rc = mesh_jwt_validate_claims(payload, plen, &hdr, &jo, &claims);
    if (rc == MESH_ERR_CNF_MISSING && !v->o.require_binding) {
        /* jwt.c treats a presented certificate as a demand for binding; this verifier
         * accepts unbound tokens (service tokens), so look again without it. */
        jo.cert_der = NULL;
        jo.cert_der_len = 0;
        rc = mesh_jwt_validate_claims(payload, plen, &hdr, &jo, &claims);
    }
    if (rc != MESH_OK) {
        return rc;
    }
    return mesh_identity_new(claims, hdr.kid, out);
}

MESH_EXPORT mesh_err_t mesh_verify(mesh_verifier_t *v, const char *authorization,
                                   const uint8_t *peer_cert_der, size_t peer_cert_len,
                                   const char *required_scope, mesh_identity_t **identity)
{
    stat_stripe_t *st = &v->stats[mesh_thread_slot() % STAT_STRIPES];
    uint64_t h = 0;
    mesh_identity_t *id = NULL;
    const char *tok = NULL;
    size_t len = 0;
    mesh_err_t rc;

    rc = parse_authorization(authorization, &tok, &len);
    if (rc != MESH_OK) {
        goto out;
    }
    if (v->cache != NULL) {
        h = mesh_tcache_hash(v->cache, tok, len);
        id = mesh_tcache_get(v->cache, h, tok, len);
    }
    if (id != NULL) {
        atomic_fetch_add_explicit(&st->cache_hits, 1, memory_order_relaxed);
        rc = recheck(v, id, peer_cert_der, peer_cert_len);
        if (rc == MESH_ERR_EXPIRED || rc == MESH_ERR_REVOKED) {
            mesh_tcache_remove(v->cache, h, tok, len);
        }
    } else {
        rc = verify_full(v, tok, len, peer_cert_der, peer_cert_len, &id);
        if (rc == MESH_OK && v->cache != NULL) {
            mesh_tcache_put(v->cache, h, tok, len, id);
        }
    }
    if (rc == MESH_OK && required_scope != NULL && required_scope[0] != '\0' &&
        !mesh_claims_has_scope(id->claims, required_scope)) {
        rc = mesh_err_set(MESH_ERR_SCOPE, "token lacks scope \"%s\" (has \"%s\")",
                          required_scope, mesh_claims_scope(id->claims));
    }
out:
    if (rc == MESH_OK) {
        atomic_fetch_add_explicit(&st->verified, 1, memory_order_relaxed);
        if (identity != NULL) {
            *identity = id;
            id = NULL;
        }
    } else {
        atomic_fetch_add_explicit(&st->rejected, 1, memory_order_relaxed);
    }
    mesh_identity_free(id);
    return rc;
}

MESH_EXPORT int mesh_verify_http_status(mesh_err_t result, const char *required_scope,
                                        char *www, size_t cap)
{
    int status;

    if (www != NULL && cap > 0) {
        www[0] = '\0';
    }
    switch (result) {
    case MESH_OK:
        return 200;
    case MESH_ERR_NO_TOKEN:
        /* RFC 6750 §3.1: no error code when the request had no credential at all. */
        status = 401;
        if (www != NULL) {
            snprintf(www, cap, "Bearer realm=\"mesh\"");
        }
        return status;
    case MESH_ERR_SCOPE:
        if (www != NULL) {
            snprintf(www, cap, "Bearer realm=\"mesh\", error=\"insufficient_scope\", "
                     "scope=\"%s\"", required_scope != NULL ? required_scope : "");
        }
        return 403;
    case MESH_ERR_TWO_CREDENTIALS:
        if (www != NULL) {
            snprintf(www, cap, "Bearer realm=\"mesh\", error=\"invalid_request\", "
                     "error_description=\"%s\"", mesh_err_name(result));
        }
        return 400;
    case MESH_ERR_KEYS_UNAVAILABLE:
        return 503;
    case MESH_ERR_NOMEM:
    case MESH_ERR_INTERNAL:
    case MESH_ERR_INVALID_ARG:
        return 500;
    default:
        /* To the peer the reason stays coarse: invalid_token plus a short reason code. */
        if (www != NULL) {
            snprintf(www, cap, "Bearer realm=\"mesh\", error=\"invalid_token\", "
                     "error_description=\"%s\"", mesh_err_name(result));
        }
        return 401;
    }
}

MESH_EXPORT void mesh_verifier_stats(mesh_verifier_t *v, mesh_verifier_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < STAT_STRIPES; i++) {
        out->verified += atomic_load(&v->stats[i].verified);
        out->rejected += atomic_load(&v->stats[i].rejected);
        out->cache_hits += atomic_load(&v->stats[i].cache_hits);
    }
    out->jwks_fetches = mesh_jwks_cache_fetches(v->keys);
    out->revocation_polls = atomic_load(&v->polls);
}
