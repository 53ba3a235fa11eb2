/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the JOSE tests: hand-built tokens, signed with real keys. */
#ifndef JOSE_TEST_UTIL_H
#define JOSE_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

#include "b64url.h"
#include "jws_internal.h"

/*
 * Builds "b64(header).b64(payload).b64(sig)" where sig is a real signature by `key` over the
 * first two parts, so a test can break exactly one rule. The header and payload are taken as
 * given, byte for byte. Returns a new string (free()).
 */
static inline char *jt_token_raw(const mesh_key_t *key, const char *header, size_t hlen,
                                 const char *payload, size_t plen)
{
    size_t cap = mesh_b64url_enc_len(hlen) + mesh_b64url_enc_len(plen) +
                 mesh_b64url_enc_len(MESH_SIG_MAX) + 3;
    char *tok = malloc(cap);
    uint8_t sig[MESH_SIG_MAX];
    size_t siglen = 0;
    size_t pos;

    if (tok == NULL) {
        abort();
    }
    pos = mesh_b64url_encode((const uint8_t *)header, hlen, tok);
    tok[pos++] = '.';
    pos += mesh_b64url_encode((const uint8_t *)payload, plen, tok + pos);
    if (mesh_sig_sign(key, (const uint8_t *)tok, pos, sig, sizeof(sig), &siglen) != MESH_OK) {
        fprintf(stderr, "jt_token_raw: sign failed: %s\n", mesh_err_detail());
        abort();
    }
    tok[pos++] = '.';
    mesh_b64url_encode(sig, siglen, tok + pos);
    return tok;
}

static inline char *jt_token(const mesh_key_t *key, const char *header, const char *payload)
{
    return jt_token_raw(key, header, strlen(header), payload, strlen(payload));
}

/* A header with the key's own alg and kid plus `extra` (e.g. ",\"crit\":[\"x\"]" or ""). */
static inline char *jt_header(const mesh_key_t *key, const char *typ, const char *extra)
{
    char *h = malloc(512);
    int n;

    if (h == NULL) {
        abort();
    }
    if (typ != NULL) {
        n = snprintf(h, 512, "{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"%s}",
                     mesh_alg_name(mesh_key_alg(key)), typ, mesh_key_kid(key), extra);
    } else {
        n = snprintf(h, 512, "{\"alg\":\"%s\",\"kid\":\"%s\"%s}", mesh_alg_name(mesh_key_alg(key)),
                     mesh_key_kid(key), extra);
    }
    if (n < 0 || n >= 512) {
        abort();
    }
    return h;
}

/* Reads a whole file into a new NUL-terminated buffer; NULL when it cannot. */
static inline char *jt_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)n + 1);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
            if (len != NULL) {
                *len = (size_t)n;
            }
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

#endif /* JOSE_TEST_UTIL_H */
