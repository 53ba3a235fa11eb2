/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Claim rules for verifiers (DESIGN.md "Verification rules"), in a fixed order: typ, shape and
 * types of every claim, iss, aud, exp, nbf, iat, lifetime, revocation, certificate binding,
 * and scope last (the one failure that is a 403, not a 401).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mesh/jwt.h>
#include <mesh/util.h>

#include "binding.h"
#include "internal.h"
#include "jws_internal.h"
#include "json.h"
#include "jwt_internal.h"

/* An untrusted claim for a detail message: shown only when short, printable ASCII. */
static const char *show(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);

    if (n >= cap) {
        return "(too long to show)";
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return "(not printable)";
        }
    }
    memcpy(buf, s, n + 1);
    return buf;
}

/* ---- typ --------------------------------------------------------------------------------- */

/* A configured typ word (`n` bytes, "application/" allowed) names the header's typ `typ`
 * (already without "application/"). */
static bool typ_is(const char *typ, const char *w, size_t n)
{
    if (n > 12 && strncasecmp(w, "application/", 12) == 0) {
        w += 12;
        n -= 12;
    }
    return strlen(typ) == n && strncasecmp(typ, w, n) == 0;
}

/* RFC 7515 §4.1.9: typ compares case-insensitively, with or without "application/". `want` is
 * the list of accepted values; its word "none" accepts a header without typ (and only that). */
static mesh_err_t check_typ(const char *header_typ, const char *want)
{
    const char *typ = header_typ, *cursor = want, *w;
    char buf[64];
    size_t n;

    if (strncasecmp(typ, "application/", 12) == 0) {
        typ += 12;
    }
    while (mesh_words_next(&cursor, &w, &n)) {
        bool none = n == 4 && memcmp(w, "none", 4) == 0;
        if (none ? header_typ[0] == '\0' : header_typ[0] != '\0' && typ_is(typ, w, n)) {
            return MESH_OK;
        }
    }
    if (header_typ[0] == '\0') {
        return mesh_err_set(MESH_ERR_TYP, "header has no typ, expected \"%s\"", want);
    }
    return mesh_err_set(MESH_ERR_TYP, "header typ is \"%s\", expected \"%s\"",
                        show(header_typ, buf, sizeof(buf)), want);
}

/* ---- shape ------------------------------------------------------------------------------- */

static mesh_err_t get_string(json_t *v, const char *name, const char **out, size_t *len)
{
    size_t n;

    if (!json_is_string(v)) {
        return mesh_err_set(MESH_ERR_CLAIM_TYPE, "claim \"%s\" is not a string", name);
    }
    n = json_string_length(v);
    if (n > MESH_MAX_CLAIM_STRING) {
        return mesh_err_set(MESH_ERR_LIMIT, "claim \"%s\" is %zu bytes, over %d", name, n,
                            MESH_MAX_CLAIM_STRING);
    }
    *out = json_string_value(v);
    if (len != NULL) {
        *len = n;
    }
    return MESH_OK;
}

/* RFC 7519 §2: a NumericDate; we accept JSON integers only (no 1.5, no 1e9, no "17..."). */
static mesh_err_t get_date(json_t *v, const char *name, int64_t *out)
{
    if (!json_is_integer(v)) {
        return mesh_err_set(MESH_ERR_CLAIM_TYPE, "claim \"%s\" is not an integer NumericDate",
                            name);
    }
    *out = (int64_t)json_integer_value(v);
    return MESH_OK;
}

/* The aud member (string or array, type-checked) naming the `n` bytes at `w`: the token's own
 * copy of that value, or NULL. */
static const char *aud_names(json_t *v, const char *w, size_t n)
{
    size_t i;
    json_t *e;

    if (json_is_string(v)) {
        return json_string_length(v) == n && memcmp(json_string_value(v), w, n) == 0
                   ? json_string_value(v)
                   : NULL;
    }
    json_array_foreach(v, i, e)
    {
        if (json_string_length(e) == n && memcmp(json_string_value(e), w, n) == 0) {
            return json_string_value(e);
        }
    }
    return NULL;
}

/*
 * aud: a string or an array of strings (RFC 7519 §4.1.3) that must name at least one of the
 * verifier's audiences (`want`, a space-separated list). *matched is the first audience of the
 * list the token names, so mesh_identity_audience() does not depend on the token's order.
 */
static mesh_err_t check_aud(json_t *v, const char *want, const char **matched)
{
    const char *cursor = want, *w;
    size_t i, n;
    json_t *e;

    if (v == NULL) {
        return mesh_err_set(MESH_ERR_CLAIM_MISSING, "claim \"aud\" is missing");
    }
    if (!json_is_string(v)) {
        if (!json_is_array(v) || json_array_size(v) == 0) {
            return mesh_err_set(MESH_ERR_CLAIM_TYPE,
                                "claim \"aud\" is not a string or string array");
        }
        json_array_foreach(v, i, e)
        {
            if (!json_is_string(e)) {
                return mesh_err_set(MESH_ERR_CLAIM_TYPE, "aud[%zu] is not a string", i);
            }
        }
    }
    while (mesh_words_next(&cursor, &w, &n)) {
        const char *hit = aud_names(v, w, n);
        if (hit != NULL) {
            *matched = hit;
            return MESH_OK;
        }
    }
    if (json_is_string(v)) {
        return mesh_err_set(MESH_ERR_AUDIENCE, "aud is not \"%.512s\"", want);
    }
    return mesh_err_set(MESH_ERR_AUDIENCE, "none of the %zu aud values is \"%.512s\"",
                        json_array_size(v), want);
}

/*
 * RFC 7800 §3: cnf names how the presenter proves possession. This verifier can confirm only
 * x5t#S256 (RFC 8705 §3.1); a token bound by any other method (jwk, jkt, kid, ...) cannot be
 * confirmed and is refused, even where binding is not required: never treated as unbound.
 */
static mesh_err_t get_cnf(json_t *cnf, const char **x5t)
{
    const char *k;
    json_t *v;
    char buf[64];

    if (!json_is_object(cnf)) {
        return mesh_err_set(MESH_ERR_CLAIM_TYPE, "claim \"cnf\" is not an object");
    }
    json_object_foreach(cnf, k, v)
    {
        if (strcmp(k, "x5t#S256") != 0) {
            return mesh_err_set(MESH_ERR_CNF_UNSUPPORTED,
                                "cnf uses the confirmation method "
                                "\"%s\"; this verifier confirms only x5t#S256",
                                show(k, buf, sizeof(buf)));
        }
    }
    v = json_object_get(cnf, "x5t#S256");
    if (v == NULL) {
        return mesh_err_set(MESH_ERR_CNF_UNSUPPORTED, "cnf names no confirmation method");
    }
    if (!json_is_string(v) || json_string_length(v) != MESH_X5T_LEN) {
        return mesh_err_set(MESH_ERR_CLAIM_TYPE, "cnf.x5t#S256 is not a %d-character string",
                            MESH_X5T_LEN);
    }
    *x5t = json_string_value(v);
    return MESH_OK;
}

enum {
    C_ISS,
    C_SUB,
    C_AUD,
    C_EXP,
    C_IAT,
    C_NBF,
    C_JTI,
    C_SCOPE,
    C_CLIENT_ID,
    C_CNF,
    C_SCP,
    C_COUNT
};

static const struct {
    const char *name;
    size_t len;
    bool required;
} claim_names[C_COUNT] = {
    [C_ISS] = {"iss", 3, true},
    [C_SUB] = {"sub", 3, true},
    [C_AUD] = {"aud", 3, true},
    [C_EXP] = {"exp", 3, true},
    [C_IAT] = {"iat", 3, true},
    [C_NBF] = {"nbf", 3, false},
    [C_JTI] = {"jti", 3, true},
    [C_SCOPE] = {"scope", 5, false},
    [C_CLIENT_ID] = {"client_id", 9, false},
    [C_CNF] = {"cnf", 3, false},
    [C_SCP] = {"scp", 3, false}, /* profile oidc only; otherwise an unknown claim */
};

static int claim_index(const char *k, size_t klen)
{
    for (int i = 0; i < C_COUNT; i++) {
        if (claim_names[i].len == klen && memcmp(claim_names[i].name, k, klen) == 0) {
            return i;
        }
    }
    return -1;
}

static mesh_err_t claim_read(struct mesh_identity *c, int idx, json_t *v, const char *audience)
{
    const char *name = claim_names[idx].name;

    switch (idx) {
    case C_ISS:
        return get_string(v, name, &c->iss, NULL);
    case C_SUB: {
        size_t n = 0;
        mesh_err_t rc = get_string(v, name, &c->sub, &n);
        /* RFC 9068 §2.2: sub identifies the principal; an empty one identifies nobody. */
        if (rc == MESH_OK && n == 0) {
            rc = mesh_err_set(MESH_ERR_CLAIM_MISSING, "claim \"sub\" is empty");
        }
        return rc;
    }
    case C_AUD:
        return check_aud(v, audience, &c->aud);
    case C_EXP:
        return get_date(v, name, &c->exp);
    case C_IAT:
        return get_date(v, name, &c->iat);
    case C_NBF:
        return get_date(v, name, &c->nbf);
    case C_JTI:
        return get_string(v, name, &c->jti, NULL);
    case C_SCOPE:
        return get_string(v, name, &c->scope, &c->scope_len);
    case C_CLIENT_ID:
        return get_string(v, name, &c->client_id, NULL);
    default:
        return get_cnf(v, &c->x5t);
    }
}

/* RFC 6749 §3.3: a scope-token is 1*NQCHAR (%x21 / %x23-5B / %x5D-7E). */
static bool scope_token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x21 || ch > 0x7e || ch == 0x22 || ch == 0x5c) {
            return false;
        }
    }
    return n > 0;
}

/*
 * Profile oidc, a token without "scope": "scp" as a space-separated string (Azure AD) or an
 * array of scope tokens (Okta and others), joined with spaces into the identity's own buffer.
 */
static mesh_err_t read_scp(json_t *v, struct mesh_identity *c)
{
    size_t i, total = 0, pos = 0;
    json_t *e;

    if (json_is_string(v)) {
        return get_string(v, "scp", &c->scope, &c->scope_len);
    }
    if (!json_is_array(v)) {
        return mesh_err_set(MESH_ERR_CLAIM_TYPE, "claim \"scp\" is not a string or string array");
    }
    if (json_array_size(v) > MESH_MAX_SCOPES) {
        return mesh_err_set(MESH_ERR_LIMIT, "scp has %zu values, over %d", json_array_size(v),
                            MESH_MAX_SCOPES);
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e) || !scope_token(json_string_value(e), json_string_length(e))) {
            return mesh_err_set(MESH_ERR_CLAIM_TYPE,
                                "scp[%zu] is not a scope token (RFC 6749 "
                                "§3.3)",
                                i);
        }
        total += json_string_length(e) + 1;
    }
    if (total > MESH_MAX_CLAIM_STRING) {
        return mesh_err_set(MESH_ERR_LIMIT, "scp joined is %zu bytes, over %d", total,
                            MESH_MAX_CLAIM_STRING);
    }
    if ((c->scope_buf = malloc(total + 1)) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWT claims: out of memory");
    }
    json_array_foreach(v, i, e)
    {
        size_t n = json_string_length(e);
        if (pos > 0) {
            c->scope_buf[pos++] = ' ';
        }
        memcpy(c->scope_buf + pos, json_string_value(e), n);
        pos += n;
    }
    c->scope_buf[pos] = '\0';
    c->scope = c->scope_buf;
    c->scope_len = pos;
    return MESH_OK;
}

/* A claim the verifier requires by name (set_required_claims): present, any type. */
static mesh_err_t check_required(json_t *root, const char *list)
{
    const char *cursor = list, *w;
    size_t n;

    while (list != NULL && mesh_words_next(&cursor, &w, &n)) {
        if (json_object_getn(root, w, n) == NULL) {
            return mesh_err_set(MESH_ERR_CLAIM_MISSING,
                                "claim \"%.*s\" is missing (this "
                                "verifier requires it)",
                                (int)n, w);
        }
    }
    return MESH_OK;
}

/*
 * One pass over the members (cheaper than a lookup per claim). Type errors come before
 * "missing" errors, and an audience mismatch only after every claim had the right type.
 */
static mesh_err_t claims_read(json_t *root, const mesh_jwt_verify_opts_t *opts,
                              struct mesh_identity *c)
{
    json_t *aud = NULL, *scp = NULL;
    unsigned seen = 0;
    mesh_err_t rc;

    c->root = root;
    c->iss = c->sub = c->aud = c->jti = c->scope = c->client_id = c->x5t = "";
    for (void *it = json_object_iter(root); it != NULL; it = json_object_iter_next(root, it)) {
        /* jansson refuses NUL in keys and strings unless JSON_ALLOW_NUL: strlen is exact. */
        const char *k = json_object_iter_key(it);
        int idx = claim_index(k, strlen(k));
        if (idx < 0) {
            continue;
        }
        seen |= 1u << idx;
        if (idx == C_AUD) {
            aud = json_object_iter_value(it);
            c->aud_claim = aud;
            continue;
        }
        if (idx == C_SCP) {
            scp = json_object_iter_value(it);
            continue;
        }
        rc = claim_read(c, idx, json_object_iter_value(it), opts->audience);
        if (rc != MESH_OK) {
            return rc;
        }
    }
    for (int i = 0; i < C_COUNT; i++) {
        /* profile oidc: an external IdP's tokens need not carry a jti (RFC 9068 §2.2 does
         * require one, but common providers omit it and nothing here revokes by it) */
        bool required = claim_names[i].required && !(i == C_JTI && opts->oidc);
        if (required && !(seen & (1u << i))) {
            return mesh_err_set(MESH_ERR_CLAIM_MISSING, "claim \"%s\" is missing",
                                claim_names[i].name);
        }
    }
    if (opts->oidc && scp != NULL && !(seen & (1u << C_SCOPE)) &&
        (rc = read_scp(scp, c)) != MESH_OK) {
        return rc;
    }
    if ((rc = check_required(root, opts->required_claims)) != MESH_OK) {
        return rc;
    }
    return claim_read(c, C_AUD, aud, opts->audience);
}

/* ---- rules ------------------------------------------------------------------------------- */

static int64_t opts_now(const mesh_jwt_verify_opts_t *opts)
{
    if (opts->clock != NULL) {
        return opts->clock(opts->clock_ctx);
    }
    return opts->now != 0 ? opts->now : (int64_t)time(NULL);
}

/* a - b for a detail message, clamped instead of overflowing on hostile NumericDates */
static int64_t diff(int64_t a, int64_t b)
{
    int64_t d;

    if (__builtin_sub_overflow(a, b, &d)) {
        return a > b ? INT64_MAX : INT64_MIN;
    }
    return d;
}

static mesh_err_t check_times(const struct mesh_identity *c, const mesh_jwt_verify_opts_t *opts)
{
    int64_t now = opts_now(opts);
    int64_t skew = opts->skew;
    int64_t life, lo, hi;

    if (__builtin_sub_overflow(now, skew, &lo)) {
        lo = INT64_MIN;
    }
    if (__builtin_add_overflow(now, skew, &hi)) {
        hi = INT64_MAX;
    }
    /* RFC 7519 §4.1.4: expired when now >= exp; the skew gives the issuer's clock a margin. */
    if (c->exp <= lo) {
        return mesh_err_set(MESH_ERR_EXPIRED,
                            "exp %" PRId64 " is %" PRId64 " s before now (skew %" PRId64 " s)",
                            c->exp, diff(now, c->exp), skew);
    }
    if (c->nbf != 0 && c->nbf > hi) {
        return mesh_err_set(MESH_ERR_NOT_YET_VALID,
                            "nbf %" PRId64 " is %" PRId64 " s after now (skew %" PRId64 " s)",
                            c->nbf, diff(c->nbf, now), skew);
    }
    if (c->iat > hi) {
        return mesh_err_set(MESH_ERR_IAT_FUTURE,
                            "iat %" PRId64 " is %" PRId64 " s after now (skew %" PRId64 " s)",
                            c->iat, diff(c->iat, now), skew);
    }
    if (c->exp < c->iat) {
        return mesh_err_set(MESH_ERR_LIFETIME, "exp %" PRId64 " is before iat %" PRId64, c->exp,
                            c->iat);
    }
    if (__builtin_sub_overflow(c->exp, c->iat, &life) || life > opts->max_lifetime) {
        return mesh_err_set(MESH_ERR_LIFETIME,
                            "exp - iat is %" PRId64 " s, above the maximum %" PRId64 " s",
                            diff(c->exp, c->iat), opts->max_lifetime);
    }
    return MESH_OK;
}

/* RFC 8705 §3: the one binding policy (binding.c) decides. */
static mesh_err_t check_cnf(const struct mesh_identity *c, const mesh_jwt_verify_opts_t *opts)
{
    return mesh_binding_check(&opts->binding, c->x5t, c->sub, opts->cert_der, opts->cert_der_len);
}

static mesh_err_t check_scopes(const struct mesh_identity *c, const mesh_jwt_verify_opts_t *opts)
{
    const char *cursor = c->scope;
    size_t count = 0;

    while (mesh_words_next(&cursor, NULL, NULL)) {
        count++;
    }
    if (count > MESH_MAX_SCOPES) {
        return mesh_err_set(MESH_ERR_LIMIT, "scope has %zu values, over %d", count,
                            MESH_MAX_SCOPES);
    }
    if (opts->required_scope != NULL && !mesh_words_contains(c->scope, opts->required_scope)) {
        return mesh_err_set(MESH_ERR_SCOPE, "scope \"%s\" is required but not granted",
                            opts->required_scope);
    }
    return MESH_OK;
}

/* The setters validated every value; what they cannot know is what was never set. */
static mesh_err_t check_opts(const mesh_jwt_verify_opts_t *opts)
{
    if (opts == NULL || opts->issuer == NULL || opts->audience == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "verify options need issuer and audience");
    }
    return MESH_OK;
}

static mesh_err_t claims_check(struct mesh_identity *c, const mesh_jwt_verify_opts_t *opts,
                               bool binding)
{
    char buf[96];
    mesh_err_t rc;

    if (strcmp(c->iss, opts->issuer) != 0) {
        return mesh_err_set(MESH_ERR_ISSUER, "iss is \"%s\", expected \"%s\"",
                            show(c->iss, buf, sizeof(buf)), opts->issuer);
    }
    if ((rc = check_times(c, opts)) != MESH_OK) {
        return rc;
    }
    if (opts->revoked != NULL && opts->revoked(opts->revoked_ctx, c->jti)) {
        return mesh_err_set(MESH_ERR_REVOKED, "jti \"%s\" is revoked",
                            show(c->jti, buf, sizeof(buf)));
    }
    if (binding && (rc = check_cnf(c, opts)) != MESH_OK) {
        return rc;
    }
    return check_scopes(c, opts);
}

MESH_EXPORT mesh_err_t mesh_jwt_validate_claims(const uint8_t *payload, size_t len,
                                                const char *header_typ,
                                                const mesh_jwt_verify_opts_t *opts,
                                                mesh_identity_t **out)
{
    return mesh_jwt_claims_validate(payload, len, header_typ, opts, true, out);
}

mesh_err_t mesh_jwt_claims_validate(const uint8_t *payload, size_t len, const char *header_typ,
                                    const mesh_jwt_verify_opts_t *opts, bool binding,
                                    mesh_identity_t **out)
{
    struct mesh_identity c = {0};
    json_t *root = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if ((rc = check_opts(opts)) != MESH_OK) {
        return rc;
    }
    if (payload == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWT claims: NULL payload");
    }
    /* RFC 9068 §4: the header says what the token is, before the claims are trusted. */
    if (header_typ != NULL && opts->typ != NULL &&
        (rc = check_typ(header_typ, opts->typ)) != MESH_OK) {
        return rc;
    }
    rc = mesh_json_parse_object((const char *)payload, len, MESH_MAX_JSON_DEPTH, "JWT claims",
                                &root);
    if (rc != MESH_OK) {
        return rc;
    }
    rc = claims_read(root, opts, &c);
    if (rc == MESH_OK) {
        rc = claims_check(&c, opts, binding);
    }
    if (rc == MESH_OK && out != NULL) {
        struct mesh_identity *heap = malloc(sizeof(*heap));
        if (heap == NULL) {
            rc = mesh_err_set(MESH_ERR_NOMEM, "JWT claims: out of memory");
        } else {
            *heap = c;
            atomic_init(&heap->refs, 1);
            *out = heap;
            return MESH_OK;
        }
    }
    free(c.scope_buf);
    json_decref(root);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_jwt_verify(const mesh_jwks_t *keys, const char *token, size_t len,
                                       const mesh_jwt_verify_opts_t *opts, mesh_identity_t **out)
{
    uint8_t payload[MESH_MAX_TOKEN_BYTES];
    size_t plen = 0;
    mesh_jws_header_t hdr;
    mesh_err_t rc;

    mesh_err_clear();
    if ((rc = check_opts(opts)) != MESH_OK) {
        return rc;
    }
    rc =
        mesh_jws_verify_header(NULL, keys, token, len, &hdr, payload, sizeof(payload), &plen, NULL);
    if (rc != MESH_OK) {
        return rc;
    }
    return mesh_jwt_claims_validate(payload, plen, hdr.typ, opts, true, out);
}
