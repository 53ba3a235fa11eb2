/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "internal.h"

struct err_info {
    mesh_err_t code;
    const char *name;
    const char *text;
};

/* One row per code; the names are the stable reason codes peers and logs see. */
static const struct err_info err_table[] = {
    {MESH_OK, "ok", "success"},
    {MESH_ERR_INVALID_ARG, "invalid_argument", "invalid argument"},
    {MESH_ERR_NOMEM, "out_of_memory", "out of memory"},
    {MESH_ERR_IO, "io_error", "file could not be read or written"},
    {MESH_ERR_LIMIT, "limit_exceeded", "input exceeds a size limit"},
    {MESH_ERR_INTERNAL, "internal_error", "internal error"},
    {MESH_ERR_UNSUPPORTED, "unsupported", "not supported"},
    {MESH_ERR_B64URL, "malformed_base64url", "malformed base64url"},
    {MESH_ERR_JSON, "malformed_json", "malformed JSON"},
    {MESH_ERR_JSON_DUPLICATE, "duplicate_json_member", "duplicate JSON object member"},
    {MESH_ERR_JSON_DEPTH, "json_too_deep", "JSON nested too deeply"},
    {MESH_ERR_UTF8, "invalid_utf8", "invalid UTF-8"},
    {MESH_ERR_KEY_PARSE, "key_unreadable", "key could not be parsed"},
    {MESH_ERR_KEY_WEAK, "key_too_weak", "key too weak"},
    {MESH_ERR_KEY_INVALID, "key_invalid", "invalid key parameters"},
    {MESH_ERR_KEY_UNSUPPORTED, "key_unsupported", "unsupported key type or algorithm"},
    {MESH_ERR_KEY_NOT_PRIVATE, "key_not_private", "a private key is required"},
    {MESH_ERR_JWKS_DUPLICATE_KID, "duplicate_kid", "duplicate kid in key set"},
    {MESH_ERR_KEY_MIXED, "key_set_mixed", "key set mixes public and private keys"},
    {MESH_ERR_TOKEN_MALFORMED, "token_malformed", "malformed token"},
    {MESH_ERR_TOKEN_TOO_LARGE, "token_too_large", "token too large"},
    {MESH_ERR_ALG_NOT_ALLOWED, "alg_not_allowed", "algorithm not allowed for this key"},
    {MESH_ERR_KID_MISSING, "kid_missing", "token header has no kid"},
    {MESH_ERR_KID_UNKNOWN, "kid_unknown", "no key with this kid"},
    {MESH_ERR_HEADER_FORBIDDEN, "header_forbidden", "forbidden JOSE header member"},
    {MESH_ERR_TYP, "typ_invalid", "wrong token type"},
    {MESH_ERR_SIGNATURE, "signature_invalid", "signature does not verify"},
    {MESH_ERR_TOKEN_JSON_SERIALIZATION, "json_serialization",
     "JWS JSON serialization not accepted"},
    {MESH_ERR_TOKEN_JWE, "token_encrypted", "encrypted tokens (JWE) are not accepted"},
    {MESH_ERR_CLAIM_MISSING, "claim_missing", "required claim missing"},
    {MESH_ERR_CLAIM_TYPE, "claim_type", "claim has the wrong type"},
    {MESH_ERR_ISSUER, "issuer_mismatch", "wrong issuer"},
    {MESH_ERR_AUDIENCE, "audience_mismatch", "token not for this audience"},
    {MESH_ERR_EXPIRED, "token_expired", "token expired"},
    {MESH_ERR_NOT_YET_VALID, "token_not_yet_valid", "token not yet valid"},
    {MESH_ERR_IAT_FUTURE, "iat_in_future", "token issued in the future"},
    {MESH_ERR_LIFETIME, "lifetime_too_long", "token lifetime above the maximum"},
    {MESH_ERR_REVOKED, "token_revoked", "token revoked"},
    {MESH_ERR_CNF_MISMATCH, "cnf_mismatch", "token bound to another certificate"},
    {MESH_ERR_CNF_MISSING, "cnf_missing", "token not bound to a certificate"},
    {MESH_ERR_SCOPE, "insufficient_scope", "required scope missing"},
    {MESH_ERR_KEYS_UNAVAILABLE, "keys_unavailable", "no verification keys available"},
    {MESH_ERR_NETWORK, "network_error", "network error"},
    {MESH_ERR_ISSUER_ERROR, "issuer_error", "the issuer refused the request"},
    {MESH_ERR_TLS, "tls_error", "TLS handshake failed"},
    {MESH_ERR_CERT, "certificate_invalid", "certificate invalid"},
    {MESH_ERR_CERT_KEY_MISMATCH, "cert_key_mismatch", "certificate does not match the key"},
    {MESH_ERR_NO_TOKEN, "no_token", "no bearer token"},
    {MESH_ERR_TWO_CREDENTIALS, "multiple_credentials", "more than one credential"},
    {MESH_ERR_CONFIG, "config_invalid", "invalid configuration"},
    {MESH_ERR_NOT_FOUND, "not_found", "not found"},
    {MESH_ERR_REVOCATIONS_INCOMPLETE, "revocations_incomplete",
     "revocation list incomplete: every token refused"},
    {MESH_ERR_CNF_UNSUPPORTED, "cnf_unsupported", "token uses an unsupported confirmation method"},
    {MESH_ERR_PEER_CERT, "peer_certificate_invalid",
     "peer certificate not trusted by the verifier's trust bundle"},
    {MESH_ERR_PEER_ID, "peer_id_mismatch", "server is not the expected SPIFFE ID"},
};

static _Thread_local char err_detail[512];

static const struct err_info *err_lookup(mesh_err_t err)
{
    for (size_t i = 0; i < MESH_ARRAY_LEN(err_table); i++) {
        if (err_table[i].code == err) {
            return &err_table[i];
        }
    }
    return NULL;
}

MESH_EXPORT const char *mesh_strerror(mesh_err_t err)
{
    const struct err_info *e = err_lookup(err);
    return e ? e->text : "unknown error";
}

MESH_EXPORT const char *mesh_err_name(mesh_err_t err)
{
    const struct err_info *e = err_lookup(err);
    return e ? e->name : "unknown_error";
}

MESH_EXPORT const char *mesh_err_detail(void)
{
    return err_detail;
}

MESH_EXPORT void mesh_err_clear(void)
{
    err_detail[0] = '\0';
}

MESH_EXPORT mesh_err_t mesh_err_set(mesh_err_t code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    /* Truncation is acceptable for a human-readable detail. */
    (void)vsnprintf(err_detail, sizeof(err_detail), fmt, ap);
    va_end(ap);
    return code;
}

MESH_EXPORT mesh_err_t mesh_err_openssl(mesh_err_t code, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[256] = "no OpenSSL error recorded";

    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof(reason));
    }
    ERR_clear_error();
    return mesh_err_set(code, "%s: %s", what, reason);
}

MESH_EXPORT void mesh_free(void *ptr)
{
    free(ptr);
}
