/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service tokens. The stored verifier is HMAC-SHA256(key = 16-byte random salt, secret): a
 * database leak gives neither the secret nor a shortcut to it (the secret has 256 random bits,
 * so a fast hash is enough; no password-stretching needed).
 */
#include <string.h>

#include <openssl/evp.h>

#include <mesh/b64url.h>
#include <mesh/error.h>
#include <mesh/util.h>
#include "svc_tokens.h"

#define SVC_SECRET_PREFIX "mss_"
#define SVC_ID_PREFIX     "msi_"
#define SVC_SECRET_BYTES  32 /* 256 bits */
#define SVC_ID_BYTES      16

/* What a failed check looks like to the caller, whatever the reason (no oracle). */
#define SVC_CHECK_FAILED "invalid client id or secret"

/* prefix + base64url(n random bytes) into out (cap bytes, NUL-terminated). */
static mesh_err_t random_string(const char *prefix, size_t n, char *out, size_t cap)
{
    uint8_t raw[SVC_SECRET_BYTES];
    size_t plen = strlen(prefix);
    mesh_err_t rc;

    if (n > sizeof(raw) || plen + mesh_b64url_enc_len(n) + 1 > cap) {
        return mesh_err_set(MESH_ERR_INTERNAL, "service token: buffer too small");
    }
    if ((rc = mesh_random_bytes(raw, n)) == MESH_OK) {
        memcpy(out, prefix, plen);
        mesh_b64url_encode(raw, n, out + plen);
    }
    mesh_wipe(raw, sizeof(raw));
    return rc;
}

static mesh_err_t secret_hash(const uint8_t salt[16], const char *secret, size_t len,
                              uint8_t out[SVC_HASH_LEN])
{
    size_t out_len = 0;

    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, salt, 16, (const unsigned char *)secret, len,
                  out, SVC_HASH_LEN, &out_len) == NULL ||
        out_len != SVC_HASH_LEN) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, "service token: HMAC-SHA256");
    }
    return MESH_OK;
}

/* A DNS label: [a-z0-9-]{1,63}, no leading or trailing hyphen. */
static mesh_err_t check_name(const char *name)
{
    size_t n = name ? strnlen(name, MESH_MAX_SERVICE_NAME + 1) : 0;

    if (n == 0 || n > MESH_MAX_SERVICE_NAME) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "service-token name must be 1 to %d characters [a-z0-9-]",
                            MESH_MAX_SERVICE_NAME);
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return mesh_err_set(MESH_ERR_CONFIG,
                                "service-token name \"%.*s\": only lowercase letters, digits "
                                "and '-' are allowed (like a DNS label), e.g. ci-deploy",
                                (int)n, name);
        }
    }
    if (name[0] == '-' || name[n - 1] == '-') {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "service-token name \"%s\": must not start or end with '-'", name);
    }
    return MESH_OK;
}

/*
 * Audiences: comma-separated, no empty item. Scopes: space-separated scope-tokens
 * (RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E), "" allowed.
 */
static mesh_err_t check_list(const char *what, const char *v, size_t cap, char sep,
                             bool allow_empty)
{
    size_t n = v ? strnlen(v, cap) : 0;
    bool item_empty = true;

    if (v == NULL || n >= cap || (n == 0 && !allow_empty)) {
        return mesh_err_set(MESH_ERR_CONFIG, "service token %s: must be %s%zu characters", what,
                            allow_empty ? "at most " : "1 to ", cap - 1);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == (unsigned char)sep && !item_empty) {
            item_empty = true;
            continue;
        }
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == ',' || c == ' ') {
            return mesh_err_set(MESH_ERR_CONFIG,
                                "service token %s \"%s\": character %zu is not allowed; give "
                                "a '%c'-separated list of names without empty items",
                                what, v, i + 1, sep);
        }
        item_empty = false;
    }
    if (n > 0 && item_empty) {
        return mesh_err_set(MESH_ERR_CONFIG, "service token %s \"%s\": empty item at the end", what,
                            v);
    }
    return MESH_OK;
}

/* New secret and its verifier into rec->hash/salt; the secret goes to out. */
static mesh_err_t new_secret(svc_token_rec_t *rec, char out[MESH_MAX_CLIENT_SECRET])
{
    mesh_err_t rc = random_string(SVC_SECRET_PREFIX, SVC_SECRET_BYTES, out, MESH_MAX_CLIENT_SECRET);

    if (rc == MESH_OK) {
        rc = mesh_random_bytes(rec->salt, sizeof(rec->salt));
    }
    if (rc == MESH_OK) {
        rc = secret_hash(rec->salt, out, strlen(out), rec->hash);
    }
    return rc;
}

mesh_err_t svc_token_create(store_t *s, const char *name, const char *audiences, const char *scopes,
                            int64_t lifetime_s, int64_t now, char client_id[64],
                            char secret[MESH_MAX_CLIENT_SECRET])
{
    svc_token_rec_t rec;
    char sec[MESH_MAX_CLIENT_SECRET] = "";
    mesh_err_t rc;

    mesh_err_clear();
    memset(&rec, 0, sizeof(rec));
    if (s == NULL || client_id == NULL || secret == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "svc_token_create: NULL argument");
    }
    if ((rc = check_name(name)) != MESH_OK ||
        (rc = check_list("audiences", audiences, sizeof(rec.audiences), ',', false)) != MESH_OK ||
        (rc = check_list("scopes", scopes, sizeof(rec.scopes), ' ', true)) != MESH_OK) {
        return rc;
    }
    if (now < 0 || lifetime_s <= 0 || lifetime_s > INT64_MAX - now) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "service token \"%s\": lifetime must be a positive number of "
                            "seconds",
                            name);
    }
    memcpy(rec.name, name, strlen(name) + 1);
    memcpy(rec.audiences, audiences, strlen(audiences) + 1);
    memcpy(rec.scopes, scopes, strlen(scopes) + 1);
    rec.created = now;
    rec.expires = now + lifetime_s;
    if ((rc = random_string(SVC_ID_PREFIX, SVC_ID_BYTES, rec.client_id, sizeof(rec.client_id))) !=
            MESH_OK ||
        (rc = new_secret(&rec, sec)) != MESH_OK || (rc = store_svc_insert(s, &rec)) != MESH_OK) {
        goto out;
    }
    memcpy(client_id, rec.client_id, sizeof(rec.client_id));
    memcpy(secret, sec, sizeof(sec));
out:
    mesh_wipe(sec, sizeof(sec));
    mesh_wipe(&rec, sizeof(rec));
    return rc;
}

mesh_err_t svc_token_rotate(store_t *s, const char *name, int64_t grace_s, int64_t now,
                            char secret[MESH_MAX_CLIENT_SECRET])
{
    svc_token_rec_t rec;
    char sec[MESH_MAX_CLIENT_SECRET] = "";
    mesh_err_t rc;

    mesh_err_clear();
    if (s == NULL || name == NULL || secret == NULL || now < 0 || grace_s < 0 ||
        grace_s > INT64_MAX - now) {
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "svc_token_rotate: NULL argument or negative grace period");
    }
    if ((rc = store_svc_get_by_name(s, name, &rec)) != MESH_OK) {
        goto out;
    }
    if (rec.revoked) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "service token \"%s\" is revoked; create a new one instead", name);
        goto out;
    }
    memcpy(rec.prev_hash, rec.hash, sizeof(rec.hash));
    memcpy(rec.prev_salt, rec.salt, sizeof(rec.salt));
    rec.prev_valid_until = grace_s > 0 ? now + grace_s : 0;
    if ((rc = new_secret(&rec, sec)) != MESH_OK || (rc = store_svc_update(s, &rec)) != MESH_OK) {
        goto out;
    }
    memcpy(secret, sec, sizeof(sec));
out:
    mesh_wipe(sec, sizeof(sec));
    mesh_wipe(&rec, sizeof(rec));
    return rc;
}

mesh_err_t svc_token_revoke(store_t *s, const char *name, int64_t now, int64_t max_lifetime)
{
    svc_token_rec_t rec;
    mesh_err_t rc;

    mesh_err_clear();
    if (s == NULL || name == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "svc_token_revoke: NULL argument");
    }
    if ((rc = store_svc_get_by_name(s, name, &rec)) != MESH_OK) {
        return rc;
    }
    rec.revoked = true;
    memset(rec.prev_hash, 0, sizeof(rec.prev_hash));
    rec.prev_valid_until = 0;
    rc = store_svc_update(s, &rec);
    mesh_wipe(&rec, sizeof(rec));
    if (rc != MESH_OK) {
        return rc;
    }
    /* The credential leaked, so must its tokens: verifiers refuse them within one poll. */
    char subject[80];
    snprintf(subject, sizeof(subject), "svc-token:%s", name);
    return store_revoke_subject(s, subject, now + 1, now + 1 + max_lifetime, now, NULL);
}

/*
 * Same work for every caller: one lookup, two HMACs (current and previous secret), two
 * mesh_equal_ct. An unknown id is checked against a dummy record whose hashes no secret
 * matches (all-zero HMAC output), so the time does not say whether the id exists.
 */
static void match_secret(const svc_token_rec_t *rec, const char *secret, int64_t now, bool *cur_ok,
                         bool *prev_ok)
{
    uint8_t h[SVC_HASH_LEN], p[SVC_HASH_LEN];
    size_t len = strnlen(secret, MESH_MAX_CLIENT_SECRET);
    bool hashed = secret_hash(rec->salt, secret, len, h) == MESH_OK &&
                  secret_hash(rec->prev_salt, secret, len, p) == MESH_OK;
    bool format_ok = len < MESH_MAX_CLIENT_SECRET &&
                     strncmp(secret, SVC_SECRET_PREFIX, strlen(SVC_SECRET_PREFIX)) == 0;
    bool cur_eq = mesh_equal_ct(h, rec->hash, SVC_HASH_LEN);
    bool prev_eq = mesh_equal_ct(p, rec->prev_hash, SVC_HASH_LEN);
    bool prev_live = now < rec->prev_valid_until;

    *cur_ok = hashed && format_ok && cur_eq;
    *prev_ok = hashed && format_ok && prev_eq && prev_live;
    mesh_wipe(h, sizeof(h));
    mesh_wipe(p, sizeof(p));
}

mesh_err_t svc_token_check(store_t *s, const char *client_id, const char *secret, int64_t now,
                           svc_token_rec_t *rec, const char **why)
{
    static const svc_token_rec_t dummy = {.name = "", .prev_valid_until = INT64_MAX};
    svc_token_rec_t found;
    const svc_token_rec_t *r = &dummy;
    const char *reason = "unknown_client";
    bool cur_ok = false, prev_ok = false;
    mesh_err_t rc;

    mesh_err_clear();
    if (s == NULL || client_id == NULL || secret == NULL || rec == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "svc_token_check: NULL argument");
    }
    rc = store_svc_get_by_id(s, client_id, &found);
    if (rc == MESH_OK) {
        r = &found;
        reason = "wrong_secret";
    } else if (rc != MESH_ERR_NOT_FOUND) {
        reason = "store_error";
        goto out;
    }
    match_secret(r, secret, now, &cur_ok, &prev_ok);
    if (r == &dummy || !(cur_ok || prev_ok)) {
        rc = mesh_err_set(MESH_ERR_ISSUER_ERROR, SVC_CHECK_FAILED);
    } else if (found.revoked) {
        reason = "revoked";
        rc = mesh_err_set(MESH_ERR_ISSUER_ERROR, SVC_CHECK_FAILED);
    } else if (now >= found.expires) {
        reason = "expired";
        rc = mesh_err_set(MESH_ERR_ISSUER_ERROR, SVC_CHECK_FAILED);
    } else {
        reason = cur_ok ? "ok" : "ok_previous_secret";
        (void)store_svc_touch(s, found.name, now); /* last_used is advisory */
        mesh_err_clear();
        *rec = found;
        rc = MESH_OK;
    }
out:
    if (why != NULL) {
        *why = reason;
    }
    mesh_wipe(&found, sizeof(found));
    return rc;
}
