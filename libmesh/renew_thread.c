/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh_renewer_t: a thread that keeps one pair renewed. It sleeps until the renewal point
 * (mesh_renew_point with a random draw per certificate, so a fleet spreads out), renews, and
 * on failure retries with backoff (mesh_renew_backoff_ms) until the certificate expires; a
 * 4xx answer or an expired certificate without a join token ends the renewing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "opts.h"
#include "renew_internal.h"
#include "stripe.h"

struct mesh_renewer {
    mesh_renew_opts_t *o;
    mesh_renew_cb_t cb;
    void *arg;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* CLOCK_MONOTONIC: stop and kick */
    bool stop, kick;
    bool have; /* info holds the certificate in place */
    mesh_renew_info_t info;
    atomic_uint_fast64_t renewals, attempts, failures;
};

static double draw(void)
{
    uint32_t r = 0;

    if (mesh_random_bytes(&r, sizeof(r)) != MESH_OK) {
        return 0.5;
    }
    return (double)r / 4294967295.0;
}

/* The certificate in place, and when to renew it (under mu). */
static void look(mesh_renewer_t *r)
{
    char *c = NULL;
    size_t cl = 0;
    mesh_renew_info_t info;

    if (mesh_file_read(r->o->cert_path, MESH_MAX_PEM_BYTES, &c, &cl) == MESH_OK &&
        mesh_x509_pem_info(c, cl, r->o->cert_path, &info) == MESH_OK) {
        info.renew_at = mesh_renew_point(r->o, info.not_before, info.not_after, draw());
        r->info = info;
        r->have = true;
    } else {
        r->have = false;
    }
    mesh_err_clear();
    mesh_free(c);
}

/* Waits until the wall-clock time `at` (seconds) or a stop/kick; false on stop. */
static bool wait_until(mesh_renewer_t *r, int64_t at_ms_wall)
{
    for (;;) {
        struct timespec now, ts;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t left = at_ms_wall - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        if (r->stop) {
            return false;
        }
        if (r->kick) {
            r->kick = false;
            return true;
        }
        if (left <= 0) {
            return true;
        }
        /* At most a minute at a time: the wall clock may jump (suspend, NTP). */
        mesh_monotonic_deadline(&ts, left < 60000 ? left : 60000);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
}

static bool retryable(mesh_err_t rc, long status)
{
    /* A 4xx from the issuer is its answer (no retry); 5xx, 429 and transport errors pass. */
    if (rc == MESH_ERR_ISSUER_ERROR) {
        return status >= 500 || status == 429;
    }
    return rc == MESH_ERR_NETWORK || rc == MESH_ERR_TLS || rc == MESH_ERR_IO ||
           rc == MESH_ERR_NOMEM || rc == MESH_ERR_INTERNAL;
}

static void *run(void *arg)
{
    mesh_renewer_t *r = arg;
    int attempt = 0;
    int64_t next_ms = 0; /* wall clock; 0: at the renewal point */

    pthread_mutex_lock(&r->mu);
    look(r);
    while (!r->stop) {
        int64_t at = next_ms;
        if (at == 0) {
            at = r->have ? r->info.renew_at * 1000 : 0;
        }
        if (!wait_until(r, at)) {
            break;
        }
        pthread_mutex_unlock(&r->mu);
        mesh_renew_info_t got = {0};
        atomic_fetch_add(&r->attempts, 1);
        long status = 0;
        mesh_err_t rc = mesh_renew_run(r->o, &got, &status);
        bool final = false;
        pthread_mutex_lock(&r->mu);
        if (rc == MESH_OK) {
            atomic_fetch_add(&r->renewals, 1);
            /* The join token is spent: the certificate renews itself from now on. */
            mesh_opt_free_secret(r->o->join_token);
            r->o->join_token = NULL;
            look(r);
            got.renew_at = r->info.renew_at;
            attempt = 0;
            next_ms = 0;
        } else {
            atomic_fetch_add(&r->failures, 1);
            int64_t now = (int64_t)time(NULL);
            bool expired = !r->have || now >= r->info.not_after;
            final = !retryable(rc, status) || (expired && r->o->join_token == NULL);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            next_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
                      mesh_renew_backoff_ms(r->o, attempt++, draw());
        }
        if (r->cb != NULL) {
            pthread_mutex_unlock(&r->mu);
            r->cb(r->arg, rc, final, rc == MESH_OK ? &got : NULL);
            pthread_mutex_lock(&r->mu);
        }
        if (final) {
            break;
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

MESH_EXPORT mesh_err_t mesh_renewer_new(const mesh_renew_opts_t *o, mesh_renew_cb_t cb, void *arg,
                                        mesh_renewer_t **out)
{
    mesh_renewer_t *r;
    pthread_condattr_t ca;
    mesh_err_t rc;

    mesh_err_clear();
    if (o == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_renewer_new: options and out are "
                                                  "required");
    }
    if ((rc = mesh_renew_opts_check(o)) != MESH_OK) {
        return rc;
    }
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "renewer");
    }
    if ((rc = mesh_renew_opts_copy(o, &r->o)) != MESH_OK) {
        free(r);
        return rc;
    }
    r->cb = cb;
    r->arg = arg;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        mesh_renewer_free(r);
        return mesh_err_set(MESH_ERR_INTERNAL, "cannot start the renewal thread");
    }
    r->started = true;
    *out = r;
    return MESH_OK;
}

MESH_EXPORT void mesh_renewer_free(mesh_renewer_t *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started) {
        pthread_join(r->thread, NULL);
    }
    mesh_renew_opts_free(r->o);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

MESH_EXPORT void mesh_renewer_kick(mesh_renewer_t *r)
{
    if (r == NULL) {
        return;
    }
    pthread_mutex_lock(&r->mu);
    r->kick = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

MESH_EXPORT mesh_err_t mesh_renewer_info(mesh_renewer_t *r, mesh_renew_info_t *info)
{
    mesh_err_t rc = MESH_OK;

    mesh_err_clear();
    if (r == NULL || info == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_renewer_info: renewer and info are "
                                                  "required");
    }
    pthread_mutex_lock(&r->mu);
    if (r->have) {
        *info = r->info;
    } else {
        rc = mesh_err_set(MESH_ERR_CERT, "no certificate at %s yet", r->o->cert_path);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

MESH_EXPORT uint64_t mesh_renewer_stat(const mesh_renewer_t *r, mesh_renew_stat_t which)
{
    mesh_renewer_t *m = (mesh_renewer_t *)r; /* atomic_load takes a non-const pointer */

    if (m == NULL) {
        return 0;
    }
    switch (which) {
    case MESH_RENEW_STAT_RENEWALS:
        return atomic_load(&m->renewals);
    case MESH_RENEW_STAT_ATTEMPTS:
        return atomic_load(&m->attempts);
    case MESH_RENEW_STAT_FAILURES:
        return atomic_load(&m->failures);
    }
    return 0;
}
