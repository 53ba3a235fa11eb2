/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Join tokens. The token has 256 random bits, so its plain SHA-256 is what is stored (a salt or
 * a slow hash adds nothing against guessing 2^256 values), and a lookup by hash shows nothing
 * of the token through its timing.
 */
#include <stdio.h>
#include <string.h>

#include <mesh/b64url.h>
#include <mesh/util.h>
#include <mesh/x509.h>

#include "join_tokens.h"

static bool label_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > MESH_MAX_SERVICE_NAME || s[0] == '-' || s[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

mesh_err_t join_token_hash(const char *token, char hash[48])
{
    uint8_t raw[JOIN_TOKEN_BYTES + 4];
    size_t plen = strlen(JOIN_TOKEN_PREFIX), n, got = 0;
    char x5t[MESH_X5T_LEN + 1];
    mesh_err_t rc;

    if (token == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "no join token");
    }
    n = strnlen(token, MESH_MAX_JOIN_TOKEN + 1);
    if (n != plen + mesh_b64url_enc_len(JOIN_TOKEN_BYTES) ||
        strncmp(token, JOIN_TOKEN_PREFIX, plen) != 0 ||
        mesh_b64url_decode(token + plen, n - plen, raw, sizeof(raw), &got) != MESH_OK ||
        got != JOIN_TOKEN_BYTES) {
        mesh_wipe(raw, sizeof(raw));
        return mesh_err_set(MESH_ERR_INVALID_ARG,
                            "a join token is \"mjt_\" and 43 base64url characters, as `mesh-issuer "
                            "join-token create` prints it");
    }
    mesh_wipe(raw, sizeof(raw));
    rc = mesh_x5t_s256((const uint8_t *)token, n, x5t);
    if (rc == MESH_OK) {
        memcpy(hash, x5t, sizeof(x5t));
    }
    return rc;
}

mesh_err_t join_token_create(store_t *s, const char *service, int64_t ttl_s, int64_t now,
                             char token[MESH_MAX_JOIN_TOKEN + 1], join_token_rec_t *rec)
{
    uint8_t raw[JOIN_TOKEN_BYTES];
    size_t plen = strlen(JOIN_TOKEN_PREFIX);
    mesh_err_t rc;

    if (service == NULL || !label_ok(service)) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "service '%.64s' is not a service name: 1-%d lowercase letters, "
                            "digits or hyphens, no hyphen at either end",
                            service ? service : "", MESH_MAX_SERVICE_NAME);
    }
    if (ttl_s < 1 || ttl_s > MESH_JOIN_TOKEN_TTL_MAX) {
        return mesh_err_set(MESH_ERR_CONFIG, "--ttl must be 1 s to %d s (7 days)",
                            MESH_JOIN_TOKEN_TTL_MAX);
    }
    _Static_assert(sizeof(JOIN_TOKEN_PREFIX) - 1 + (JOIN_TOKEN_BYTES * 4 + 2) / 3 <=
                       MESH_MAX_JOIN_TOKEN,
                   "a join token fits MESH_MAX_JOIN_TOKEN");
    if ((rc = mesh_random_bytes(raw, sizeof(raw))) != MESH_OK) {
        return rc;
    }
    memcpy(token, JOIN_TOKEN_PREFIX, plen);
    mesh_b64url_encode(raw, sizeof(raw), token + plen);
    mesh_wipe(raw, sizeof(raw));
    memset(rec, 0, sizeof(*rec));
    if ((rc = join_token_hash(token, rec->hash)) != MESH_OK) {
        mesh_wipe(token, MESH_MAX_JOIN_TOKEN + 1);
        return rc;
    }
    /* a public handle: 12 characters of the hash say nothing about the token */
    memcpy(rec->id, rec->hash, 12);
    rec->id[12] = '\0';
    (void)snprintf(rec->service, sizeof(rec->service), "%s", service);
    rec->created = now;
    rec->expires = now + ttl_s;
    if ((rc = store_join_insert(s, rec)) != MESH_OK) {
        mesh_wipe(token, MESH_MAX_JOIN_TOKEN + 1);
    }
    return rc;
}
