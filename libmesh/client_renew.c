/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client renewing its own certificate (renew.h): a first certificate from a join token,
 * a renewer for the pair, and after each renewal the new pair swapped into the client's TLS
 * (http.c keeps it in memory, so a new connection never reads half of a pair) and the tokens
 * bound to the old certificate dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "client_internal.h"
#include "internal.h"
#include "opts.h"

MESH_EXPORT mesh_err_t mesh_client_opts_set_renew(mesh_client_opts_t *o, bool renew)
{
    MESH_OPT_NEED(o, "client option", "renew");
    o->renew = renew;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_client_opts_set_join_token(mesh_client_opts_t *o, const char *token)
{
    mesh_renew_opts_t *check = NULL;
    mesh_err_t rc;

    MESH_OPT_NEED(o, "client option", "join_token");
    /* The shape check is the renewal options' own. */
    if ((rc = mesh_renew_opts_new(&check)) == MESH_OK) {
        rc = mesh_renew_opts_set_join_token(check, token);
    }
    mesh_renew_opts_free(check);
    if (rc != MESH_OK) {
        return rc == MESH_ERR_CONFIG
                   ? mesh_err_set(MESH_ERR_CONFIG, "client option join_token: "
                                                   "not a join token (\"mjt_\" and 43 base64url "
                                                   "characters; set MESH_JOIN_TOKEN to what "
                                                   "`mesh-issuer join-token create` prints)")
                   : rc;
    }
    rc = mesh_opt_str("client option", "join_token", &o->join_token, token, MESH_JOIN_TOKEN_LEN,
                      MESH_ERR_INVALID_ARG, MESH_OPT_SECRET | MESH_OPT_EMPTY_UNSETS);
    if (rc == MESH_OK && o->join_token != NULL) {
        o->renew = true; /* a join token is only useful to a client that renews */
    }
    return rc;
}

/* The renewal options of a client: its issuer, CA and pair; the defaults otherwise. */
static mesh_err_t renew_opts(const mesh_client_opts_t *o, mesh_renew_opts_t **out)
{
    mesh_renew_opts_t *r = NULL;
    mesh_err_t rc;

    if ((rc = mesh_renew_opts_new(&r)) != MESH_OK ||
        (rc = mesh_renew_opts_set_issuer_url(r, o->issuer_url)) != MESH_OK ||
        (rc = mesh_renew_opts_set_ca_path(r, o->ca_path)) != MESH_OK ||
        (rc = mesh_renew_opts_set_cert_path(r, o->cert_path)) != MESH_OK ||
        (rc = mesh_renew_opts_set_key_path(r, o->key_path)) != MESH_OK ||
        (rc = mesh_renew_opts_set_join_token(r, o->join_token)) != MESH_OK ||
        (rc = mesh_renew_opts_set_timeout_ms(r, o->timeout_ms)) != MESH_OK) {
        mesh_renew_opts_free(r);
        return rc;
    }
    *out = r;
    return MESH_OK;
}

static mesh_err_t check(const mesh_client_opts_t *o)
{
    if (o->client_id != NULL) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "client option renew: a service-token client has "
                            "no certificate to renew (unset MESH_RENEW / MESH_JOIN_TOKEN, or "
                            "MESH_CLIENT_ID)");
    }
    if (o->cert_path == NULL || o->key_path == NULL || o->ca_path == NULL ||
        o->issuer_url == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "client option renew: needs the issuer URL, the "
                            "CA and the certificate and key paths (where the pair is written)");
    }
    return MESH_OK;
}

mesh_err_t mesh_client_renew_bootstrap(const mesh_client_opts_t *o)
{
    mesh_renew_opts_t *r = NULL;
    mesh_err_t rc;

    if (!o->renew) {
        return MESH_OK;
    }
    if ((rc = check(o)) != MESH_OK) {
        return rc;
    }
    if (o->join_token == NULL || (mesh_certfile_check_key(o->cert_path, o->key_path) == MESH_OK &&
                                  mesh_certfile_check_time(o->cert_path, 0, NULL) == MESH_OK)) {
        mesh_err_clear();
        return MESH_OK; /* a valid pair: the renewer takes it from here */
    }
    if ((rc = renew_opts(o, &r)) == MESH_OK) {
        rc = mesh_renew_once(r, NULL);
    }
    mesh_renew_opts_free(r);
    return rc;
}

void mesh_client_identity_changed(mesh_client_t *c)
{
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;

    if (mesh_identity_read_pair(c->cert_path, c->key_path, &cert, &cl, &key, &kl) != MESH_OK) {
        /* The renewer wrote a matching pair moments ago; keep the current one in TLS. */
        fprintf(stderr, "libmesh: client: renewed identity not loaded: %s\n", mesh_err_detail());
        return;
    }
    if (mesh_http_set_identity(c->http, cert, cl, key, kl) == MESH_OK) {
        pthread_mutex_lock(&c->mu);
        atomic_fetch_add(&c->ident_gen, 1);
        /* Tokens are bound to the certificate (cnf x5t#S256): those of the old one go now; a
         * fetch in flight is marked stale by the generation (client.c, usable()). */
        for (tok_entry_t *e = c->entries; e != NULL; e = e->next) {
            if (!e->fetching && e->token != NULL) {
                mesh_wipe(e->token, strlen(e->token));
                free(e->token);
                e->token = NULL;
            }
        }
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    mesh_wipe(key, kl);
    mesh_free(key);
    mesh_free(cert);
}

static void on_renewed(void *arg, mesh_err_t rc, bool final, const mesh_renew_info_t *info)
{
    mesh_client_t *c = arg;
    (void)info;

    if (rc == MESH_OK) {
        mesh_client_identity_changed(c);
    } else if (final) {
        fprintf(stderr, "libmesh: client: certificate renewal stopped: %s\n", mesh_err_detail());
    }
}

mesh_err_t mesh_client_renew_start(mesh_client_t *c, const mesh_client_opts_t *o)
{
    mesh_renew_opts_t *r = NULL;
    char *cert = NULL, *key = NULL;
    size_t cl = 0, kl = 0;
    mesh_err_t rc;

    /* From now on the pair is presented from memory, swapped whole on renewal. */
    if ((rc = mesh_identity_read_pair(c->cert_path, c->key_path, &cert, &cl, &key, &kl)) !=
        MESH_OK) {
        return rc;
    }
    rc = mesh_http_set_identity(c->http, cert, cl, key, kl);
    mesh_wipe(key, kl);
    mesh_free(key);
    mesh_free(cert);
    if (rc == MESH_OK && (rc = renew_opts(o, &r)) == MESH_OK) {
        /* The join token is spent once the certificate exists. */
        rc = mesh_renew_opts_set_join_token(r, NULL);
    }
    if (rc == MESH_OK) {
        rc = mesh_renewer_new(r, on_renewed, c, &c->renewer);
    }
    mesh_renew_opts_free(r);
    return rc;
}

MESH_EXPORT uint64_t mesh_client_renew_stat(const mesh_client_t *c, mesh_renew_stat_t which)
{
    return c != NULL ? mesh_renewer_stat(c->renewer, which) : 0;
}
