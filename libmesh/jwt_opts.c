/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_jwt_verify_opts_t (jwt.h): defaults and setters that validate. */
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>
#include <mesh/util.h>

#include "internal.h"
#include "opts.h"

#define JOPT "JWT verify option"
#include "jwt_internal.h"

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_new(mesh_jwt_verify_opts_t **out)
{
    struct mesh_jwt_verify_opts *o;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_jwt_verify_opts_new: out is NULL");
    }
    o = calloc(1, sizeof(*o));
    if (o == NULL || (o->typ = strdup(MESH_TYP_AT_JWT)) == NULL) {
        free(o);
        return mesh_err_set(MESH_ERR_NOMEM, "JWT verify options");
    }
    o->skew = MESH_DEFAULT_SKEW;
    o->max_lifetime = MESH_DEFAULT_MAX_LIFETIME;
    o->binding.mode = MESH_BIND_REQUIRED;
    *out = o;
    return MESH_OK;
}

MESH_EXPORT void mesh_jwt_verify_opts_free(mesh_jwt_verify_opts_t *o)
{
    if (o == NULL) {
        return;
    }
    free(o->issuer);
    free(o->audience);
    free(o->typ);
    free(o->required_claims);
    free(o->required_scope);
    free(o->cert_der);
    mesh_binding_clear(&o->binding);
    free(o);
}

static mesh_err_t set_seconds(int64_t *slot, int64_t v, int64_t lo, const char *name)
{
    mesh_err_t rc = mesh_opt_range(JOPT, name, v, lo, MESH_MAX_OPT_SECONDS);

    if (rc == MESH_OK) {
        *slot = v;
    }
    return rc;
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_issuer(mesh_jwt_verify_opts_t *o, const char *iss)
{
    MESH_OPT_NEED(o, JOPT, "issuer");
    return mesh_opt_str(JOPT, "issuer", &o->issuer, iss, MESH_MAX_OPT_STRING, MESH_ERR_INVALID_ARG,
                        MESH_OPT_REQUIRED);
}

/* The one check of a configured word list: 1..max_words words of 1..max_len printable ASCII
 * bytes other than space. `what` names the option, `noun` one word of it. */
static mesh_err_t words_check(const char *what, const char *noun, const char *list,
                              size_t max_words, size_t max_len)
{
    const char *cursor = list, *w;
    size_t n, count = 0;

    if (list == NULL || list[0] == '\0') {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "%s: required (one %s, or several separated "
                            "by spaces)",
                            what, noun);
    }
    while (mesh_words_next(&cursor, &w, &n)) {
        if (++count > max_words) {
            return mesh_err_set(MESH_ERR_INVALID_ARG, "%s: more than %zu values in the list", what,
                                max_words);
        }
        if (n > max_len) {
            return mesh_err_set(MESH_ERR_INVALID_ARG, "%s: %s %zu is %zu bytes, over %zu", what,
                                noun, count, n, max_len);
        }
        for (size_t i = 0; i < n; i++) {
            if (w[i] < 0x21 || w[i] > 0x7e) {
                return mesh_err_set(MESH_ERR_INVALID_ARG,
                                    "%s: %s %zu has a character that is "
                                    "not printable ASCII (byte 0x%02x)",
                                    what, noun, count, (unsigned)(unsigned char)w[i]);
            }
        }
    }
    if (count == 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "%s: only spaces, no %s", what, noun);
    }
    return MESH_OK;
}

mesh_err_t mesh_audiences_check(const char *what, const char *list)
{
    char name[96];

    snprintf(name, sizeof(name), "%s audience", what);
    return words_check(name, "audience", list, MESH_MAX_VERIFIER_AUDIENCES, MESH_MAX_CLAIM_STRING);
}

mesh_err_t mesh_typs_check(const char *what, const char *list)
{
    /* 63: the longest typ a JOSE header may carry here (mesh_jws_header_t) */
    return words_check(what, "typ", list, MESH_MAX_VERIFIER_TYPS, 63);
}

mesh_err_t mesh_claim_names_check(const char *what, const char *list)
{
    return words_check(what, "claim name", list, MESH_MAX_REQUIRED_CLAIMS, MESH_MAX_CLAIM_NAME);
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_audience(mesh_jwt_verify_opts_t *o, const char *aud)
{
    mesh_err_t rc;

    MESH_OPT_NEED(o, JOPT, "audience");
    if ((rc = mesh_audiences_check(JOPT, aud)) != MESH_OK) {
        return rc;
    }
    return mesh_opt_str(JOPT, "audience", &o->audience, aud, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, MESH_OPT_REQUIRED);
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_typ(mesh_jwt_verify_opts_t *o, const char *typ)
{
    MESH_OPT_NEED(o, JOPT, "typ");
    if (typ != NULL && typ[0] == '\0') {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT verify option typ: empty (NULL turns "
                                                  "the rule off)");
    }
    if (typ != NULL) {
        mesh_err_t rc = mesh_typs_check(JOPT " typ", typ);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    return mesh_opt_str(JOPT, "typ", &o->typ, typ, MESH_MAX_OPT_STRING, MESH_ERR_INVALID_ARG, 0);
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_skew(mesh_jwt_verify_opts_t *o, int64_t seconds)
{
    MESH_OPT_NEED(o, JOPT, "skew");
    return set_seconds(&o->skew, seconds, 0, "skew");
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_max_lifetime(mesh_jwt_verify_opts_t *o,
                                                             int64_t seconds)
{
    MESH_OPT_NEED(o, JOPT, "max_lifetime");
    return set_seconds(&o->max_lifetime, seconds, 1, "max_lifetime");
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_clock(mesh_jwt_verify_opts_t *o, mesh_clock_fn fn,
                                                      void *ctx)
{
    MESH_OPT_NEED(o, JOPT, "clock");
    o->clock = fn;
    o->clock_ctx = fn != NULL ? ctx : NULL;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_now(mesh_jwt_verify_opts_t *o, int64_t now)
{
    MESH_OPT_NEED(o, JOPT, "now");
    if (now < 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT verify option now: %lld is negative",
                            (long long)now);
    }
    o->now = now;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_cert(mesh_jwt_verify_opts_t *o, const uint8_t *der,
                                                     size_t len)
{
    uint8_t *copy = NULL;

    MESH_OPT_NEED(o, JOPT, "cert");
    if ((der == NULL) != (len == 0) || len > MESH_MAX_PEM_BYTES) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT verify option cert: %zu bytes %s", len,
                            der == NULL ? "without a certificate" : "out of range");
    }
    if (der != NULL && (copy = malloc(len)) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWT verify option cert");
    }
    if (copy != NULL) {
        memcpy(copy, der, len);
    }
    free(o->cert_der);
    o->cert_der = copy;
    o->cert_der_len = len;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_binding(mesh_jwt_verify_opts_t *o,
                                                        const char *policy)
{
    MESH_OPT_NEED(o, JOPT, "binding");
    if (policy == NULL) {
        return mesh_err_set(MESH_ERR_CONFIG, "JWT verify option binding: NULL policy");
    }
    return mesh_binding_parse(policy, "JWT verify option binding", &o->binding);
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_revoked(mesh_jwt_verify_opts_t *o,
                                                        mesh_revoked_fn fn, void *ctx)
{
    MESH_OPT_NEED(o, JOPT, "revoked");
    o->revoked = fn;
    o->revoked_ctx = fn != NULL ? ctx : NULL;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jwt_verify_opts_set_required_scope(mesh_jwt_verify_opts_t *o,
                                                               const char *scope)
{
    MESH_OPT_NEED(o, JOPT, "required_scope");
    if (scope != NULL && scope[0] == '\0') {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT verify option required_scope: empty "
                                                  "(NULL requires none)");
    }
    return mesh_opt_str(JOPT, "required_scope", &o->required_scope, scope, MESH_MAX_OPT_STRING,
                        MESH_ERR_INVALID_ARG, 0);
}
