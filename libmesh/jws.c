/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWS compact serialization (RFC 7515 §7.1): split, header rules, signature, payload.
 *
 * The verify path does not allocate: every decoded part lands in a stack buffer bounded by
 * <mesh/limits.h> or in the caller's payload buffer. The header of a token stream is almost
 * always the same bytes (same issuer, same key), so the last header parsed on this thread is
 * remembered by its exact base64url text and its (alg, kid, typ) reused; the result of a parse
 * depends on those bytes only, so the cache never needs invalidating.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/jws.h>

#include "b64url.h"
#include "internal.h"
#include "json.h"
#include "json_emit.h"
#include "jws_internal.h"

typedef struct {
    const char *h; /* base64url header */
    size_t hlen;
    const char *p; /* base64url payload */
    size_t plen;
    const char *s; /* base64url signature */
    size_t slen;
} jws_parts_t;

/*
 * Header members RFC 8725 §3.10 and DESIGN.md "Verification rules" say to refuse, never use;
 * and b64 (RFC 7797 §3: an unencoded payload changes what the signature covers; like crit).
 */
static const char *const forbidden_members[] = {"crit", "jku", "x5u", "jwk", "x5c", "b64"};

/* ---- helpers ----------------------------------------------------------------------------- */

/* Copies an untrusted string into a detail message only when it is short, printable ASCII. */
static const char *printable(const char *s, size_t n, char *buf, size_t cap)
{
    if (n == 0 || n >= cap) {
        return n == 0 ? "(empty)" : "(too long to show)";
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return "(not printable)";
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* Re-labels the detail of a failed decode with the part it came from. */
static mesh_err_t relabel(mesh_err_t rc, const char *part)
{
    char was[256];

    (void)snprintf(was, sizeof(was), "%s", mesh_err_detail());
    return mesh_err_set(rc, "JWS %s: %s", part, was);
}

/* Strict base64url check without decoding: alphabet, length and canonical trailing bits. */
static mesh_err_t b64url_check(const char *in, size_t n, const char *part)
{
    uint8_t tail[3];
    size_t out_len;
    size_t whole = n - n % 4;

    for (size_t i = 0; i < whole; i++) {
        char c = in[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_')) {
            return mesh_err_set(MESH_ERR_B64URL, "JWS %s: invalid base64url character at %zu", part,
                                i);
        }
    }
    /* The last 1-3 characters carry the length and trailing-bit rules: decode just those. */
    if (mesh_b64url_decode(in + whole, n - whole, tail, sizeof(tail), &out_len) != MESH_OK) {
        return relabel(MESH_ERR_B64URL, part);
    }
    return MESH_OK;
}

static mesh_err_t jws_split(const char *jws, size_t len, jws_parts_t *parts)
{
    const char *dot[5];
    size_t ndots = 0;

    if (jws == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS: NULL token");
    }
    /* Size first: nothing of an oversized token is read. */
    if (len > MESH_MAX_TOKEN_BYTES) {
        return mesh_err_set(MESH_ERR_TOKEN_TOO_LARGE, "token is %zu bytes, over the %d-byte limit",
                            len, MESH_MAX_TOKEN_BYTES);
    }
    if (len > 0 && jws[0] == '{') {
        return mesh_err_set(MESH_ERR_TOKEN_JSON_SERIALIZATION,
                            "token is a JWS JSON serialization; only compact form is accepted");
    }
    for (const char *q = jws, *end = jws + len; q < end; q++) {
        q = memchr(q, '.', (size_t)(end - q));
        if (q == NULL) {
            break;
        }
        if (ndots < MESH_ARRAY_LEN(dot)) {
            dot[ndots] = q;
        }
        ndots++;
    }
    if (ndots == 4) {
        return mesh_err_set(MESH_ERR_TOKEN_JWE,
                            "token has 5 parts: an encrypted JWE, not a signed JWS");
    }
    if (ndots != 2) {
        return mesh_err_set(MESH_ERR_TOKEN_MALFORMED, "token has %zu parts, expected 3", ndots + 1);
    }
    parts->h = jws;
    parts->hlen = (size_t)(dot[0] - jws);
    parts->p = dot[0] + 1;
    parts->plen = (size_t)(dot[1] - parts->p);
    parts->s = dot[1] + 1;
    parts->slen = (size_t)(jws + len - parts->s);
    if (parts->hlen == 0) {
        return mesh_err_set(MESH_ERR_TOKEN_MALFORMED, "token has an empty header");
    }
    return MESH_OK;
}

/* ---- header ------------------------------------------------------------------------------ */

static mesh_err_t header_string(json_t *root, const char *name, size_t max, mesh_err_t too_long,
                                char *out)
{
    json_t *v = json_object_get(root, name);
    size_t n;

    out[0] = '\0';
    if (v == NULL) {
        return MESH_OK;
    }
    if (!json_is_string(v)) {
        return mesh_err_set(MESH_ERR_TOKEN_MALFORMED, "JWS header: %s is not a string", name);
    }
    n = json_string_length(v);
    if (n > max || memchr(json_string_value(v), '\0', n) != NULL) {
        return mesh_err_set(too_long, "JWS header: %s is %zu bytes, over %zu or with a NUL", name,
                            n, max);
    }
    memcpy(out, json_string_value(v), n + 1);
    return MESH_OK;
}

/*
 * `hmac`: the verifier of an issuer configured with an HS256 key (verifier.h,
 * mesh_verifier_opts_set_hmac_key): that key fixes the algorithm, so the header must say
 * exactly HS256 (*alg stays MESH_ALG_UNSET: HS256 is no mesh_alg_t, no mesh key has it).
 */
static mesh_err_t header_alg(json_t *root, mesh_alg_t *alg, bool hmac)
{
    json_t *v = json_object_get(root, "alg");
    const char *name;
    size_t n;
    char show[24];

    if (!json_is_string(v)) {
        return mesh_err_set(MESH_ERR_TOKEN_MALFORMED, "JWS header has no string \"alg\"");
    }
    name = json_string_value(v);
    n = json_string_length(v);
    /* RFC 8725 §3.1/§3.2: "none" is never a signature, HMAC never with public keys. */
    if (n == 4 && memcmp(name, "none", 4) == 0) {
        return mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED, "alg \"none\" is never accepted");
    }
    if (hmac) {
        if (n == 5 && memcmp(name, "HS256", 5) == 0) {
            *alg = MESH_ALG_UNSET;
            return MESH_OK;
        }
        /* RFC 8725 §3.1: the configured key is HS256; a token cannot choose another. */
        return mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED,
                            "alg \"%s\": this issuer's key is HS256 (configured), nothing else "
                            "is accepted",
                            printable(name, n, show, sizeof(show)));
    }
    if (n >= 2 && memcmp(name, "HS", 2) == 0) {
        return mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED,
                            "HMAC alg \"%s\" is never accepted: tokens are signed with keys",
                            printable(name, n, show, sizeof(show)));
    }
    *alg = mesh_alg_from_name(name, n);
    if (*alg == MESH_ALG_UNSET) {
        return mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED,
                            "alg \"%s\" is not supported (RS256, PS256, ES256, EdDSA)",
                            printable(name, n, show, sizeof(show)));
    }
    return MESH_OK;
}

static mesh_err_t header_parse(const char *b64, size_t n, mesh_jws_header_t *hdr, bool hmac)
{
    uint8_t buf[MESH_MAX_HEADER_JSON_BYTES];
    size_t len = 0;
    json_t *root = NULL;
    mesh_err_t rc = mesh_b64url_decode(b64, n, buf, sizeof(buf), &len);

    if (rc == MESH_ERR_LIMIT) {
        return mesh_err_set(MESH_ERR_LIMIT, "JWS header is over %d bytes",
                            MESH_MAX_HEADER_JSON_BYTES);
    }
    if (rc != MESH_OK) {
        return relabel(rc, "header");
    }
    rc = mesh_json_parse((const char *)buf, len, MESH_MAX_JSON_DEPTH, "JWS header", &root);
    if (rc != MESH_OK) {
        return rc;
    }
    if (!json_is_object(root)) {
        rc = mesh_err_set(MESH_ERR_TOKEN_MALFORMED, "JWS header is not a JSON object");
        goto out;
    }
    rc = header_alg(root, &hdr->alg, hmac);
    if (rc != MESH_OK) {
        goto out;
    }
    for (size_t i = 0; i < MESH_ARRAY_LEN(forbidden_members); i++) {
        if (json_object_get(root, forbidden_members[i]) != NULL) {
            rc = mesh_err_set(MESH_ERR_HEADER_FORBIDDEN,
                              "JWS header member \"%s\" is refused (never fetched or used)",
                              forbidden_members[i]);
            goto out;
        }
    }
    rc = header_string(root, "kid", MESH_KID_MAX, MESH_ERR_KID_UNKNOWN, hdr->kid);
    if (rc == MESH_OK) {
        rc = header_string(root, "typ", sizeof(hdr->typ) - 1, MESH_ERR_TYP, hdr->typ);
    }
out:
    json_decref(root);
    return rc;
}

/* Last header parsed by this thread, by its exact base64url text. */
#define HCACHE_MAX 512
static _Thread_local struct {
    size_t len;
    char b64[HCACHE_MAX];
    mesh_jws_header_t hdr;
} hcache;

static mesh_err_t header_get(const char *b64, size_t n, mesh_jws_header_t *hdr)
{
    mesh_err_t rc;

    if (n == hcache.len && memcmp(b64, hcache.b64, n) == 0) {
        *hdr = hcache.hdr;
        return MESH_OK;
    }
    rc = header_parse(b64, n, hdr, false); /* never an HMAC header: that path skips the cache */
    if (rc == MESH_OK && n <= HCACHE_MAX) {
        memcpy(hcache.b64, b64, n);
        hcache.hdr = *hdr;
        hcache.len = n;
    }
    return rc;
}

/* ---- verify ------------------------------------------------------------------------------ */

/* Everything after the key is known: alg rule, signature, payload. */
static mesh_err_t verify_with_key(const mesh_key_t *key, const jws_parts_t *parts,
                                  const mesh_jws_header_t *h, uint8_t *payload, size_t cap,
                                  size_t *payload_len)
{
    uint8_t sig[MESH_SIG_MAX];
    size_t siglen = 0;
    size_t plen = 0;
    mesh_err_t rc;

    /* RFC 8725 §3.1: the key fixes the algorithm; the header may only agree with it. */
    if (h->alg != mesh_key_alg(key)) {
        return mesh_err_set(MESH_ERR_ALG_NOT_ALLOWED, "header alg %s, but key \"%s\" is %s",
                            mesh_alg_name(h->alg), mesh_key_kid(key),
                            mesh_alg_name(mesh_key_alg(key)));
    }
    /*
     * The payload is decoded into the caller's buffer before the signature is checked, so a
     * malformed token costs no public-key operation; on failure the buffer is scratch and
     * *payload_len is not written.
     */
    rc = payload != NULL ? mesh_b64url_decode(parts->p, parts->plen, payload, cap, &plen)
                         : b64url_check(parts->p, parts->plen, "payload");
    if (rc == MESH_ERR_LIMIT) {
        return mesh_err_set(MESH_ERR_LIMIT, "JWS payload needs %zu bytes, buffer has %zu",
                            mesh_b64url_dec_len(parts->plen), cap);
    }
    if (rc != MESH_OK) {
        return payload != NULL ? relabel(rc, "payload") : rc;
    }
    if (parts->slen == 0) {
        return mesh_err_set(MESH_ERR_SIGNATURE, "JWS signature is empty");
    }
    rc = mesh_b64url_decode(parts->s, parts->slen, sig, sizeof(sig), &siglen);
    if (rc == MESH_ERR_LIMIT) {
        return mesh_err_set(MESH_ERR_SIGNATURE, "JWS signature is longer than any key's");
    }
    if (rc != MESH_OK) {
        return relabel(rc, "signature");
    }
    /* RFC 7515 §5.2 step 8: the signing input is the ASCII "header.payload". */
    rc =
        mesh_sig_verify(key, (const uint8_t *)parts->h, parts->hlen + 1 + parts->plen, sig, siglen);
    if (rc != MESH_OK) {
        return rc;
    }
    if (payload_len != NULL) {
        *payload_len = plen;
    }
    return MESH_OK;
}

mesh_err_t mesh_jws_verify_header(const mesh_key_t *key, const mesh_jwks_t *set, const char *jws,
                                  size_t len, mesh_jws_header_t *hdr, uint8_t *payload, size_t cap,
                                  size_t *payload_len, const mesh_key_t **key_out)
{
    jws_parts_t parts;
    mesh_jws_header_t h;
    char show[MESH_KID_MAX + 1];
    size_t kid_len;
    mesh_err_t rc;

    mesh_err_clear();
    rc = jws_split(jws, len, &parts);
    if (rc != MESH_OK) {
        return rc;
    }
    if ((key == NULL && set == NULL) || (payload == NULL && cap > 0)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS verify: NULL key or payload buffer");
    }
    rc = header_get(parts.h, parts.hlen, &h);
    if (rc != MESH_OK) {
        return rc;
    }
    kid_len = strlen(h.kid);
    if (set != NULL) {
        if (kid_len == 0) {
            return mesh_err_set(MESH_ERR_KID_MISSING,
                                "token header has no kid; the key set needs one to pick a key");
        }
        key = mesh_jwks_find(set, h.kid, kid_len);
        if (key == NULL) {
            if (hdr != NULL) {
                memcpy(hdr->kid, h.kid, kid_len + 1); /* the verifier says why it is unknown */
            }
            return mesh_err_set(MESH_ERR_KID_UNKNOWN, "no key with kid \"%s\" in the key set",
                                printable(h.kid, kid_len, show, sizeof(show)));
        }
    } else if (kid_len > 0 && strcmp(h.kid, mesh_key_kid(key)) != 0) {
        return mesh_err_set(MESH_ERR_KID_UNKNOWN, "token kid \"%s\" is not the key's kid",
                            printable(h.kid, kid_len, show, sizeof(show)));
    }
    rc = verify_with_key(key, &parts, &h, payload, cap, payload_len);
    if (rc != MESH_OK) {
        return rc;
    }
    if (hdr != NULL) {
        *hdr = h;
    }
    if (key_out != NULL) {
        *key_out = key;
    }
    return MESH_OK;
}

mesh_err_t mesh_jws_verify_hmac(const uint8_t *key, size_t key_len, const char *jws, size_t len,
                                mesh_jws_header_t *hdr, uint8_t *payload, size_t cap,
                                size_t *payload_len)
{
    uint8_t mac[MESH_HS256_LEN + 1];
    jws_parts_t parts;
    mesh_jws_header_t h;
    size_t plen = 0, maclen = 0;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || payload == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS verify: NULL HMAC key or payload buffer");
    }
    if ((rc = jws_split(jws, len, &parts)) != MESH_OK ||
        (rc = header_parse(parts.h, parts.hlen, &h, true)) != MESH_OK) {
        return rc;
    }
    rc = mesh_b64url_decode(parts.p, parts.plen, payload, cap, &plen);
    if (rc != MESH_OK) {
        return rc == MESH_ERR_LIMIT ? mesh_err_set(MESH_ERR_LIMIT, "JWS payload too large")
                                    : relabel(rc, "payload");
    }
    rc = mesh_b64url_decode(parts.s, parts.slen, mac, sizeof(mac), &maclen);
    if (rc == MESH_ERR_LIMIT || (rc == MESH_OK && maclen != MESH_HS256_LEN)) {
        return mesh_err_set(MESH_ERR_SIGNATURE, "JWS HS256 MAC is not %d bytes", MESH_HS256_LEN);
    }
    if (rc != MESH_OK) {
        return relabel(rc, "signature");
    }
    /* RFC 7515 §5.2 step 8: the MAC input is the ASCII "header.payload". */
    rc = mesh_sig_verify_hmac(key, key_len, (const uint8_t *)parts.h, parts.hlen + 1 + parts.plen,
                              mac, maclen);
    if (rc != MESH_OK) {
        return rc;
    }
    if (hdr != NULL) {
        *hdr = h;
    }
    *payload_len = plen;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jws_verify(const mesh_key_t *key, const char *jws, size_t len,
                                       uint8_t *payload, size_t cap, size_t *payload_len)
{
    if (key == NULL) {
        mesh_err_clear();
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS verify: NULL key");
    }
    return mesh_jws_verify_header(key, NULL, jws, len, NULL, payload, cap, payload_len, NULL);
}

MESH_EXPORT mesh_err_t mesh_jws_verify_jwks(const mesh_jwks_t *set, const char *jws, size_t len,
                                            uint8_t *payload, size_t cap, size_t *payload_len,
                                            const mesh_key_t **key_out)
{
    if (set == NULL) {
        mesh_err_clear();
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS verify: NULL key set");
    }
    return mesh_jws_verify_header(NULL, set, jws, len, NULL, payload, cap, payload_len, key_out);
}

/* ---- sign -------------------------------------------------------------------------------- */

/* The protected header {"alg":..,"typ":..,"kid":..} (DESIGN.md "Tokens" order) into `buf`. */
static mesh_err_t header_json(const mesh_key_t *key, const char *typ, char *buf, size_t cap,
                              size_t *len)
{
    mesh_jemit_t w;

    mesh_jemit_init(&w, buf, cap);
    mesh_jemit_raw(&w, "{\"alg\":");
    mesh_jemit_str(&w, mesh_alg_name(mesh_key_alg(key)));
    if (typ != NULL) {
        mesh_jemit_raw(&w, ",\"typ\":");
        mesh_jemit_str(&w, typ);
    }
    mesh_jemit_raw(&w, ",\"kid\":");
    mesh_jemit_str(&w, mesh_key_kid(key));
    mesh_jemit_raw(&w, "}");
    if (w.err == MESH_ERR_UTF8) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS header: typ or kid is not valid UTF-8");
    }
    if (w.err != MESH_OK) {
        /* a verifier would refuse it: header_parse() reads at most this much */
        return mesh_err_set(MESH_ERR_LIMIT, "JWS header would be over %d bytes",
                            MESH_MAX_HEADER_JSON_BYTES);
    }
    *len = w.len;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jws_sign(const mesh_key_t *key, const char *typ, const void *payload,
                                     size_t len, char **out)
{
    char hjson[MESH_MAX_HEADER_JSON_BYTES];
    char *tok = NULL;
    uint8_t sig[MESH_SIG_MAX];
    size_t siglen = 0, hjson_len = 0, total, pos;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || (payload == NULL && len > 0) || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS sign: NULL argument");
    }
    if (!mesh_key_is_private(key)) {
        return mesh_err_set(MESH_ERR_KEY_NOT_PRIVATE, "JWS sign: key \"%s\" is public only",
                            mesh_key_kid(key));
    }
    rc = header_json(key, typ, hjson, sizeof(hjson), &hjson_len);
    if (rc != MESH_OK) {
        return rc;
    }
    if (len > MESH_MAX_TOKEN_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "JWS would be over %d bytes", MESH_MAX_TOKEN_BYTES);
    }
    total = mesh_b64url_enc_len(hjson_len) + 1 + mesh_b64url_enc_len(len) + 1 +
            mesh_b64url_enc_len(MESH_SIG_MAX);
    if (total > MESH_MAX_TOKEN_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "JWS would be over %d bytes", MESH_MAX_TOKEN_BYTES);
    }
    /* One allocation: the token is encoded in place and the signing input is its first part. */
    tok = malloc(total + 1);
    if (tok == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWS sign: out of memory");
    }
    pos = mesh_b64url_encode((const uint8_t *)hjson, hjson_len, tok);
    tok[pos++] = '.';
    pos += mesh_b64url_encode(payload, len, tok + pos);
    rc = mesh_sig_sign(key, (const uint8_t *)tok, pos, sig, sizeof(sig), &siglen);
    if (rc != MESH_OK) {
        free(tok);
        return rc;
    }
    tok[pos++] = '.';
    mesh_b64url_encode(sig, siglen, tok + pos);
    *out = tok;
    return MESH_OK;
}

/* ---- inspection -------------------------------------------------------------------------- */

static mesh_err_t decode_part(const char *b64, size_t n, const char *what, char **out)
{
    size_t cap = mesh_b64url_dec_len(n) + 1;
    size_t len = 0;
    char *buf = malloc(cap);
    mesh_err_t rc;

    if (buf == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "JWS decode: out of memory");
    }
    rc = mesh_b64url_decode(b64, n, (uint8_t *)buf, cap, &len);
    if (rc != MESH_OK) {
        free(buf);
        return relabel(rc, what);
    }
    if (memchr(buf, '\0', len) != NULL) {
        free(buf);
        return mesh_err_set(MESH_ERR_TOKEN_MALFORMED, "JWS %s contains a NUL byte", what);
    }
    buf[len] = '\0';
    *out = buf;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_jws_decode_unverified(const char *jws, size_t len, char **header_json,
                                                  char **payload_json)
{
    jws_parts_t parts;
    char *h = NULL;
    char *p = NULL;
    mesh_err_t rc;

    mesh_err_clear();
    if (header_json == NULL || payload_json == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "JWS decode: NULL output");
    }
    rc = jws_split(jws, len, &parts);
    if (rc == MESH_OK) {
        rc = b64url_check(parts.s, parts.slen, "signature");
    }
    if (rc == MESH_OK) {
        rc = decode_part(parts.h, parts.hlen, "header", &h);
    }
    if (rc == MESH_OK) {
        rc = decode_part(parts.p, parts.plen, "payload", &p);
    }
    if (rc != MESH_OK) {
        free(h);
        return rc;
    }
    *header_json = h;
    *payload_json = p;
    return MESH_OK;
}
