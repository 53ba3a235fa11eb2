/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the external-IdP tests: tokens signed with real keys or MACed with OpenSSL's HMAC,
 * JWKS files written with or without "alg" members. */
#ifndef IDP_TEST_UTIL_H
#define IDP_TEST_UTIL_H

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/b64url.h>
#include <mesh/mesh.h>

/* "Bearer <tok>" in a static buffer (one at a time). */
static inline const char *it_bearer(const char *tok)
{
    static char buf[MESH_MAX_TOKEN_BYTES + 16];

    snprintf(buf, sizeof(buf), "Bearer %s", tok);
    return buf;
}

/* b64url(header).b64url(payload) into a new buffer with room for a signature after it. */
static inline char *it_signing_input(const char *header, const char *payload, size_t *len)
{
    size_t hl = strlen(header), pl = strlen(payload);
    size_t cap = mesh_b64url_enc_len(hl) + mesh_b64url_enc_len(pl) + mesh_b64url_enc_len(64) + 4;
    char *tok = malloc(cap);
    size_t pos;

    if (tok == NULL) {
        abort();
    }
    pos = mesh_b64url_encode((const uint8_t *)header, hl, tok);
    tok[pos++] = '.';
    pos += mesh_b64url_encode((const uint8_t *)payload, pl, tok + pos);
    *len = pos;
    return tok;
}

/* A JWS whose MAC is OpenSSL's HMAC-SHA256 with `key` over the exact header and payload. */
static inline char *it_hs256(const uint8_t *key, size_t klen, const char *header,
                             const char *payload)
{
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t pos;
    char *tok = it_signing_input(header, payload, &pos);

    if (HMAC(EVP_sha256(), key, (int)klen, (const uint8_t *)tok, pos, mac, &maclen) == NULL) {
        abort();
    }
    tok[pos++] = '.';
    mesh_b64url_encode(mac, maclen, tok + pos);
    return tok;
}

/* Claims of an external IdP's token: iss, sub, aud, iat = now, exp = now + 300, plus `extra`
 * (",\"k\":v..." or ""). Static buffer. */
static inline const char *it_claims(const char *iss, const char *aud, long long now,
                                    const char *extra)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf),
             "{\"iss\":\"%s\",\"sub\":\"user-1\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld%s}", iss,
             aud, now, now + 300, extra);
    return buf;
}

/* The public JWK of `key`, without its "alg" member when `drop_alg` (as many IdPs publish). */
static inline char *it_jwk(const mesh_key_t *key, int drop_alg)
{
    char *jwk = NULL;

    if (mesh_key_to_jwk(key, &jwk) != MESH_OK) {
        abort();
    }
    if (drop_alg) {
        /* members are sorted by name: "alg" comes first */
        char *a = strstr(jwk, "\"alg\":\"");
        char *end = a != NULL ? strchr(a + 7, '"') : NULL;
        if (end == NULL || end[1] != ',') {
            abort();
        }
        memmove(a, end + 2, strlen(end + 2) + 1);
    }
    return jwk;
}

#endif /* IDP_TEST_UTIL_H */
