/* SPDX-License-Identifier: Apache-2.0 */
#include "fwd.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/b64url.h>
#include <mesh/limits.h>
#include <mesh/util.h>
#include <mesh/x509.h>

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool fwd_pct_decode(const char *in, size_t len, char *out, size_t *outlen)
{
    if (memchr(in, '\0', len) != NULL) {
        return false;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        /* the run up to the next '%' in one copy (a PEM is mostly base64) */
        const char *pct = memchr(in + i, '%', len - i);
        size_t run = pct != NULL ? (size_t)(pct - (in + i)) : len - i;
        memcpy(out + o, in + i, run);
        o += run;
        i += run;
        if (i == len) {
            break;
        }
        if (i + 2 >= len) {
            return false;
        }
        int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            return false;
        }
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[o] = '\0';
    *outlen = o;
    return true;
}

/* A percent-encoded PEM value into a new buffer that must start with a certificate. */
static const char *decode_pem(const char *v, size_t n, char **pem, size_t *len)
{
    char *out = malloc(n + 1);
    if (out == NULL) {
        return "internal_error";
    }
    size_t olen = 0;
    if (!fwd_pct_decode(v, n, out, &olen) || olen < sizeof(PEM_BEGIN) - 1 ||
        strncmp(out, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0) {
        free(out);
        return "cert_header_malformed";
    }
    *pem = out;
    *len = olen;
    return NULL;
}

const char *fwd_nginx_cert(const char *value, char **pem, size_t *len)
{
    *pem = NULL;
    *len = 0;
    if (value == NULL || value[0] == '\0') {
        return NULL;
    }
    size_t n = strlen(value);
    if (n > MESH_AUTHZ_MAX_CERT_HEADER) {
        return "cert_header_too_large";
    }
    return decode_pem(value, n, pem, len);
}

typedef struct {
    const char *key;
    size_t klen;
    char *val; /* unquoted, unescaped; still percent-encoded */
    size_t vlen;
} pair_t;

/* Parses one element starting at *p (ends at an unquoted ',' or the end). */
static const char *xfcc_element(const char **p, const char *end, pair_t *pairs, size_t *n,
                                char *scratch)
{
    const char *s = *p;
    size_t sc = 0;
    *n = 0;
    while (s < end && *s != ',') {
        if (*n == MESH_AUTHZ_MAX_XFCC_PAIRS) {
            return "xfcc_malformed";
        }
        pair_t *pr = &pairs[(*n)++];
        pr->key = s;
        while (s < end && *s != '=' && *s != ';' && *s != ',' && *s != '"') {
            s++;
        }
        pr->klen = (size_t)(s - pr->key);
        if (s == end || *s != '=' || pr->klen == 0) {
            return "xfcc_malformed";
        }
        s++; /* '=' */
        pr->val = scratch + sc;
        if (s < end && *s == '"') {
            s++;
            while (s < end && *s != '"') {
                if (*s == '\\') {
                    s++;
                    if (s == end) {
                        return "xfcc_malformed";
                    }
                }
                scratch[sc++] = *s++;
            }
            if (s == end) {
                return "xfcc_malformed"; /* unterminated quote */
            }
            s++; /* closing quote */
        } else {
            while (s < end && *s != ';' && *s != ',') {
                if (*s == '"' || *s == '\\') {
                    return "xfcc_malformed";
                }
                scratch[sc++] = *s++;
            }
        }
        pr->vlen = (size_t)(scratch + sc - pr->val);
        scratch[sc++] = '\0';
        if (s < end && *s == ';') {
            s++;
            if (s == end || *s == ',') {
                return "xfcc_malformed"; /* a dangling ';' */
            }
        } else if (s < end && *s != ',') {
            return "xfcc_malformed"; /* junk after a quoted value */
        }
    }
    *p = s;
    return *n == 0 ? "xfcc_malformed" : NULL;
}

static bool key_is(const pair_t *p, const char *k)
{
    return p->klen == strlen(k) && strncasecmp(p->key, k, p->klen) == 0;
}

/* The DER of the first certificate of a PEM text (its base64 body, made base64url). */
static bool pem_leaf_der(const char *pem, size_t len, uint8_t *der, size_t cap, size_t *dlen)
{
    static const char END[] = "-----END CERTIFICATE-----";
    if (len < sizeof(PEM_BEGIN) - 1 || strncmp(pem, PEM_BEGIN, sizeof(PEM_BEGIN) - 1) != 0) {
        return false;
    }
    char *b64 = malloc(len);
    if (b64 == NULL) {
        return false;
    }
    size_t n = 0;
    bool ended = false;
    for (size_t i = sizeof(PEM_BEGIN) - 1; i < len && !ended; i++) {
        char c = pem[i];
        if (c == '-') {
            ended = len - i >= sizeof(END) - 1 && strncmp(pem + i, END, sizeof(END) - 1) == 0;
            if (!ended) {
                break;
            }
        } else if (c == '+' || c == '/') {
            b64[n++] = c == '+' ? '-' : '_';
        } else if (c != '\n' && c != '\r' && c != ' ' && c != '\t' && c != '=') {
            b64[n++] = c;
        }
    }
    bool ok = ended && n > 0 && mesh_b64url_decode(b64, n, der, cap, dlen) == MESH_OK;
    free(b64);
    return ok;
}

/*
 * Hash= must be the hex SHA-256 of the leaf's DER: a proxy (or a hop) that says one thing in
 * Hash and another in Cert is not believed ("xfcc_hash_mismatch"). `leaf` is the Cert= pair
 * when the PEM in `pem` is Chain='s, else NULL (the leaf is the first certificate of `pem`).
 */
static const char *check_hash(const pair_t *hash, const pair_t *leaf, const char *pem, size_t len)
{
    uint8_t want[32];
    if (hash->vlen != 2 * sizeof(want)) {
        return "xfcc_malformed";
    }
    for (size_t i = 0; i < sizeof(want); i++) {
        int hi = hexval(hash->val[2 * i]), lo = hexval(hash->val[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return "xfcc_malformed";
        }
        want[i] = (uint8_t)(hi << 4 | lo);
    }
    char *own = NULL;
    size_t olen = 0;
    if (leaf != NULL) {
        const char *why = decode_pem(leaf->val, leaf->vlen, &own, &olen);
        if (why != NULL) {
            return why;
        }
        pem = own;
        len = olen;
    }
    /* x5t#S256 of the leaf's DER (libmesh's door to SHA-256) against Hash as base64url */
    char got[MESH_X5T_LEN + 1], want64[MESH_X5T_LEN + 2];
    size_t dlen = 0;
    uint8_t *der = malloc(len);
    const char *why = "cert_header_malformed"; /* a PEM that is no certificate */
    if (der != NULL && pem_leaf_der(pem, len, der, len, &dlen) &&
        mesh_x5t_s256(der, dlen, got) == MESH_OK) {
        mesh_b64url_encode(want, sizeof(want), want64);
        why = mesh_equal_ct(got, want64, MESH_X5T_LEN) ? NULL : "xfcc_hash_mismatch";
    }
    free(der);
    free(own);
    return why;
}

const char *fwd_xfcc_cert(const char *value, char **pem, size_t *len)
{
    *pem = NULL;
    *len = 0;
    if (value == NULL || value[0] == '\0') {
        return NULL;
    }
    size_t n = strlen(value);
    if (n > MESH_AUTHZ_MAX_CERT_HEADER) {
        return "cert_header_too_large";
    }
    char *scratch = malloc(n + MESH_AUTHZ_MAX_XFCC_PAIRS + 1);
    pair_t pairs[MESH_AUTHZ_MAX_XFCC_PAIRS];
    if (scratch == NULL) {
        return "internal_error";
    }
    const char *p = value, *end = value + n;
    size_t elements = 0, np = 0;
    const char *why = NULL;
    for (;;) {
        if (++elements > MESH_AUTHZ_MAX_XFCC_ELEMENTS) {
            why = "xfcc_malformed";
            break;
        }
        /* the scratch space is reused: only the last element's pairs are kept */
        why = xfcc_element(&p, end, pairs, &np, scratch);
        if (why != NULL || p == end) {
            break;
        }
        p++; /* ',' */
        if (p == end) {
            why = "xfcc_malformed"; /* a trailing ',' */
            break;
        }
    }
    const pair_t *cert = NULL, *chain = NULL;
    for (size_t i = 0; why == NULL && i < np; i++) {
        const pair_t **slot = key_is(&pairs[i], "Cert")    ? &cert
                              : key_is(&pairs[i], "Chain") ? &chain
                                                           : NULL;
        if (slot != NULL && *slot != NULL) {
            why = "xfcc_malformed"; /* Cert or Chain twice in one element */
        } else if (slot != NULL) {
            *slot = &pairs[i];
        }
    }
    const pair_t *hash = NULL;
    for (size_t i = 0; why == NULL && i < np; i++) {
        if (key_is(&pairs[i], "Hash")) {
            if (hash != NULL) {
                why = "xfcc_malformed"; /* Hash twice in one element */
            }
            hash = &pairs[i];
        }
    }
    if (why == NULL) {
        const pair_t *use = chain != NULL ? chain : cert;
        why = use == NULL ? "xfcc_no_cert" : decode_pem(use->val, use->vlen, pem, len);
    }
    if (why == NULL && hash != NULL) {
        /* Hash= is of the leaf: Cert= when present, else Chain='s first certificate */
        why = check_hash(hash, cert != NULL && chain != NULL ? cert : NULL, *pem, *len);
        if (why != NULL) {
            free(*pem);
            *pem = NULL;
            *len = 0;
        }
    }
    free(scratch);
    return why;
}

static bool b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
}

const char *fwd_traefik_cert(const char *value, char **pem, size_t *len)
{
    *pem = NULL;
    *len = 0;
    if (value == NULL || value[0] == '\0') {
        return NULL;
    }
    size_t n = strlen(value);
    if (n > MESH_AUTHZ_MAX_CERT_HEADER) {
        return "cert_header_too_large";
    }
    char *raw = malloc(n + 1);
    size_t rlen = 0;
    if (raw == NULL) {
        return "internal_error";
    }
    if (!fwd_pct_decode(value, n, raw, &rlen)) {
        free(raw);
        return "cert_header_malformed";
    }
    /* each certificate: BEGIN line, 64-column body lines, END line */
    size_t cap = rlen + rlen / 64 + (MESH_MAX_CHAIN_DEPTH + 1) * 64 + 1;
    char *out = malloc(cap);
    if (out == NULL) {
        free(raw);
        return "internal_error";
    }
    size_t o = 0, certs = 0;
    const char *why = NULL;
    const char *s = raw, *end = raw + rlen;
    while (why == NULL) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *stop = comma ? comma : end;
        size_t blen = (size_t)(stop - s);
        if (blen == 0 || blen % 4 != 0 || ++certs > MESH_MAX_CHAIN_DEPTH) {
            why = "cert_header_malformed";
            break;
        }
        for (const char *q = s; q < stop; q++) {
            if (!b64_char(*q) || (*q == '=' && stop - q > 2)) {
                why = "cert_header_malformed";
                break;
            }
        }
        if (why != NULL) {
            break;
        }
        memcpy(out + o, PEM_BEGIN "\n", sizeof(PEM_BEGIN));
        o += sizeof(PEM_BEGIN);
        for (size_t k = 0; k < blen; k += 64) {
            size_t line = blen - k < 64 ? blen - k : 64;
            memcpy(out + o, s + k, line);
            o += line;
            out[o++] = '\n';
        }
        static const char END[] = "-----END CERTIFICATE-----\n";
        memcpy(out + o, END, sizeof(END) - 1);
        o += sizeof(END) - 1;
        if (comma == NULL) {
            break;
        }
        s = comma + 1;
    }
    free(raw);
    if (why != NULL) {
        free(out);
        return why;
    }
    out[o] = '\0';
    *pem = out;
    *len = o;
    return NULL;
}
