/* SPDX-License-Identifier: Apache-2.0 */
#include "b64url.h"

#include "internal.h"

static const char enc_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 255 marks a byte that is not in the base64url alphabet. */
static const uint8_t dec_table[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 62,  255, 255, 52,  53,  54,  55,  56,  57,  58,  59,  60,
    61,  255, 255, 255, 255, 255, 255, 255, 0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,
    11,  12,  13,  14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  255, 255, 255, 255,
    63,  255, 26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,
    43,  44,  45,  46,  47,  48,  49,  50,  51,  255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255,
};

MESH_EXPORT size_t mesh_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
        out[o++] = enc_table[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = enc_table[(v >> 18) & 63];
        out[o++] = enc_table[(v >> 12) & 63];
        out[o++] = enc_table[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

MESH_EXPORT mesh_err_t mesh_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap,
                                          size_t *out_len)
{
    size_t rem = n % 4;
    size_t need;
    size_t o = 0;
    size_t i = 0;

    /* RFC 7515 §2: base64url without padding; 4k+1 characters can never be canonical. */
    if (rem == 1) {
        return mesh_err_set(MESH_ERR_B64URL, "base64url length %zu is impossible (4k+1)", n);
    }
    need = mesh_b64url_dec_len(n);
    if (need > cap) {
        return mesh_err_set(MESH_ERR_LIMIT, "base64url decodes to %zu bytes, over %zu", need, cap);
    }
    for (i = 0; i + 4 <= n; i += 4) {
        uint8_t a = dec_table[(uint8_t)in[i]], b = dec_table[(uint8_t)in[i + 1]];
        uint8_t c = dec_table[(uint8_t)in[i + 2]], d = dec_table[(uint8_t)in[i + 3]];
        if ((a | b | c | d) & 0xc0) {
            return mesh_err_set(MESH_ERR_B64URL, "invalid base64url character near offset %zu", i);
        }
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    if (rem) {
        uint8_t a = dec_table[(uint8_t)in[i]], b = dec_table[(uint8_t)in[i + 1]];
        uint8_t c = rem == 3 ? dec_table[(uint8_t)in[i + 2]] : 0;
        if ((a | b | c) & 0xc0) {
            return mesh_err_set(MESH_ERR_B64URL, "invalid base64url character near offset %zu", i);
        }
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6);
        /* Canonical encoding: the bits past the last whole byte must be zero. */
        if ((rem == 2 && (v & 0xffff)) || (rem == 3 && (v & 0xff))) {
            return mesh_err_set(MESH_ERR_B64URL, "base64url has non-zero trailing bits");
        }
        out[o++] = (uint8_t)(v >> 16);
        if (rem == 3) {
            out[o++] = (uint8_t)(v >> 8);
        }
    }
    *out_len = o;
    return MESH_OK;
}
