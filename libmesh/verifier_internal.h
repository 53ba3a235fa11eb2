/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of mesh_verifier_t, shared by verifier.c (the object, its thread) and verify.c
 * (mesh_verify itself). Internal. */
#ifndef MESH_VERIFIER_INTERNAL_H
#define MESH_VERIFIER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mesh/verifier.h>

#include "binding.h"
#include "http.h"
#include "jwks_cache.h"
#include "revocations.h"
#include "stripe.h"
#include "token_cache.h"

#define STAT_STRIPES 16

typedef struct {
    alignas(MESH_CACHELINE) atomic_uint_fast64_t verified;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t cache_hits;
} stat_stripe_t;

typedef struct mesh_peer_trust mesh_peer_trust_t; /* verify_peer.c */

/* mesh_verifier_opts_set_profile (verifier.h) */
typedef enum { MESH_PROFILE_MESH = 0, MESH_PROFILE_OIDC = 1 } mesh_profile_t;

/* mesh_verifier_opts_t (verifier.h): every string owned. */
struct mesh_verifier_opts {
    char *issuer, *audience, *jwks_location, *ca_path, *cert_path, *key_path, *issuer_id;
    char *trust_bundle_path, *crl_path;
    char *typ;             /* accepted header typ values (list); NULL: the profile's default */
    char *required_claims; /* claim names (list); NULL: none */
    mesh_jwks_source_t jwks_source;
    mesh_profile_t profile;
    unsigned algs;     /* allowed algorithms (key_select.h); 0: the mesh rules */
    uint8_t *hmac_key; /* HS256 key (profile oidc only), wiped on clear; NULL: none */
    size_t hmac_len;
    bool binding_set, feed_set; /* set explicitly (a profile changes only the defaults) */
    int64_t skew, max_lifetime;
    mesh_binding_t binding; /* the one certificate-binding policy (binding.h) */
    bool revocation_feed;
    int64_t revocation_poll_ms, jwks_cooldown_ms;
    int64_t jwks_max_age_min, jwks_max_age_max, jwks_stale_if_error;
    size_t cache_entries;
    mesh_clock_fn clock;
    void *clock_ctx;
};

/* Deep copy of `src` into the empty *dst (cleared on failure), and its release. */
mesh_err_t mesh_verifier_opts_copy(struct mesh_verifier_opts *dst,
                                   const struct mesh_verifier_opts *src);
void mesh_verifier_opts_clear(struct mesh_verifier_opts *o);

struct mesh_verifier {
    struct mesh_verifier_opts o; /* a copy of the caller's options */
    mesh_jwt_verify_opts_t *jo;  /* the claim rules, built once (verify.c) */
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
    atomic_uint_fast64_t polls;
    _Atomic int64_t last_poll_ok; /* verifier clock, s, of the last successful feed poll */
    _Atomic int64_t feed_seq;     /* the feed's seq read up to (MESH_VSTAT_REVOCATION_SEQ) */
    mesh_peer_trust_t *peer;      /* trust bundle + verdict memo; NULL: the TLS layer checks */
};

/* The verifier's clock (seconds). */
int64_t mesh_verifier_now(const mesh_verifier_t *v);

/* verify.c: makes v->jo, the claim rules every verification runs, from v->o. */
mesh_err_t mesh_verifier_claim_rules(mesh_verifier_t *v);

/* The revocation callback handed to jwt.c (ctx is the verifier). */
bool mesh_verifier_is_revoked(void *ctx, const char *jti);

/*
 * verify.c: one request. `peer_rc` is the verdict on the presenting certificate from
 * verify_peer.c (MESH_OK when the verifier has no trust bundle); a failure is the answer.
 */
mesh_err_t mesh_verify_core(mesh_verifier_t *v, const char *authorization,
                            const uint8_t *peer_cert_der, size_t peer_cert_len,
                            const char *required_scope, mesh_identity_t **identity,
                            mesh_err_t peer_rc);

/* verify_peer.c: the trust bundle options of v->o into v->peer (MESH_OK, NULL without). */
mesh_err_t mesh_verifier_peer_setup(mesh_verifier_t *v);
void mesh_verifier_peer_free(mesh_verifier_t *v);
uint64_t mesh_verifier_peer_checks(const mesh_verifier_t *v); /* full checks, for tests */

#endif /* MESH_VERIFIER_INTERNAL_H */
