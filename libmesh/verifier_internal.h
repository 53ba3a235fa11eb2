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

#define STAT_STRIPES  16

typedef struct {
    alignas(MESH_CACHELINE) atomic_uint_fast64_t verified;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t cache_hits;
} stat_stripe_t;

typedef struct mesh_peer_trust mesh_peer_trust_t; /* verify_peer.c */

struct mesh_verifier {
    mesh_verifier_opts_t o;
    char *issuer, *audience, *location, *ca_path, *cert_path, *key_path, *issuer_id;
    char *feed_url;
    mesh_binding_t binding; /* the one certificate-binding policy (binding.h) */
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
    mesh_peer_trust_t *peer; /* trust bundle + verdict memo; NULL: the TLS layer checks */
};

/* The verifier's clock (seconds). */
int64_t mesh_verifier_now(const mesh_verifier_t *v);

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

/* verify_peer.c: the trust bundle options into v->peer (MESH_OK and NULL without them). */
mesh_err_t mesh_verifier_peer_setup(mesh_verifier_t *v, const mesh_verifier_opts_t *o);
void mesh_verifier_peer_free(mesh_verifier_t *v);
uint64_t mesh_verifier_peer_checks(const mesh_verifier_t *v); /* full checks, for tests */

#endif /* MESH_VERIFIER_INTERNAL_H */
