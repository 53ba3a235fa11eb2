/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmesh errors: one stable enum for every failure, a short reason code for logs and peers,
 * and a thread-local detail message for humans.
 *
 * The numeric values are part of the ABI: they are never renumbered and never reused. New
 * codes are appended inside their group's range.
 *
 * Nothing here blocks: the detail is per thread, so reading it after a failed call on the
 * same thread is always safe.
 */
#ifndef MESH_ERROR_H
#define MESH_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(MESH_NO_ATTRIBUTES)
#define MESH_WUR __attribute__((warn_unused_result))
#else
#define MESH_WUR
#endif

typedef enum {
    MESH_OK = 0,

    /* 1-9: generic */
    MESH_ERR_INVALID_ARG = 1, /* a NULL or out-of-range argument from the caller */
    MESH_ERR_NOMEM = 2,
    MESH_ERR_IO = 3,          /* a file could not be read or written */
    MESH_ERR_LIMIT = 4,       /* input larger than a named limit in <mesh/limits.h> */
    MESH_ERR_INTERNAL = 5,    /* an OpenSSL/libcurl call failed unexpectedly */
    MESH_ERR_UNSUPPORTED = 6, /* a feature libmesh deliberately does not implement */

    /* 10-19: encodings */
    MESH_ERR_B64URL = 10,         /* not strict base64url (padding, +, /, whitespace, bits) */
    MESH_ERR_JSON = 11,           /* not valid JSON, or not the expected JSON type */
    MESH_ERR_JSON_DUPLICATE = 12, /* an object has the same member twice */
    MESH_ERR_JSON_DEPTH = 13,     /* nested deeper than MESH_MAX_JSON_DEPTH */
    MESH_ERR_UTF8 = 14,           /* not valid UTF-8 */

    /* 20-29: keys and key sets */
    MESH_ERR_KEY_PARSE = 20,       /* PEM or JWK could not be read as a key */
    MESH_ERR_KEY_WEAK = 21,        /* e.g. RSA below 2048 bits */
    MESH_ERR_KEY_INVALID = 22,     /* bad parameters: EC point not on curve, e = 1, ... */
    MESH_ERR_KEY_UNSUPPORTED = 23, /* kty/crv/alg libmesh does not support */
    MESH_ERR_KEY_NOT_PRIVATE = 24, /* signing needs a private key */
    MESH_ERR_JWKS_DUPLICATE_KID = 25,
    MESH_ERR_KEY_MIXED = 26, /* a JWKS mixes public and private keys */

    /* 30-39: token structure and JOSE header */
    MESH_ERR_TOKEN_MALFORMED = 30, /* not three base64url parts of JSON */
    MESH_ERR_TOKEN_TOO_LARGE = 31, /* over MESH_MAX_TOKEN_BYTES */
    MESH_ERR_ALG_NOT_ALLOWED = 32, /* none, HMAC, or an alg other than the key's own */
    MESH_ERR_KID_MISSING = 33,
    MESH_ERR_KID_UNKNOWN = 34,
    MESH_ERR_HEADER_FORBIDDEN = 35,         /* crit, jku, x5u, jwk, x5c, b64 */
    MESH_ERR_TYP = 36,                      /* typ is not the required one (at+jwt) */
    MESH_ERR_SIGNATURE = 37,                /* the signature does not verify */
    MESH_ERR_TOKEN_JSON_SERIALIZATION = 38, /* JWS JSON serialization is not accepted */
    MESH_ERR_TOKEN_JWE = 39,                /* five parts: an encrypted token */

    /* 40-59: claims */
    MESH_ERR_CLAIM_MISSING = 40,
    MESH_ERR_CLAIM_TYPE = 41, /* wrong JSON type; NumericDate that is not an integer */
    MESH_ERR_ISSUER = 42,
    MESH_ERR_AUDIENCE = 43,
    MESH_ERR_EXPIRED = 44,
    MESH_ERR_NOT_YET_VALID = 45, /* nbf in the future beyond the skew */
    MESH_ERR_IAT_FUTURE = 46,    /* iat in the future beyond the skew */
    MESH_ERR_LIFETIME = 47,      /* exp - iat above the maximum lifetime */
    MESH_ERR_REVOKED = 48,
    MESH_ERR_CNF_MISMATCH = 49, /* cnf.x5t#S256 is not the presenting certificate's */
    MESH_ERR_CNF_MISSING = 50,  /* binding required but the token has no cnf */
    MESH_ERR_SCOPE = 51,        /* a required scope is missing (HTTP 403) */

    /* 60-79: certificates, network, issuer, verifier */
    MESH_ERR_KEYS_UNAVAILABLE = 60, /* the verifier has no keys at all (HTTP 503) */
    MESH_ERR_NETWORK = 61,          /* connection refused, DNS, timeout */
    MESH_ERR_ISSUER_ERROR = 62,     /* the issuer answered an OAuth error; see the detail */
    MESH_ERR_TLS = 63,              /* handshake failed */
    MESH_ERR_CERT = 64,             /* certificate unreadable, expired, or not chaining */
    MESH_ERR_CERT_KEY_MISMATCH = 65,
    MESH_ERR_NO_TOKEN = 66,        /* no Authorization header / not Bearer */
    MESH_ERR_TWO_CREDENTIALS = 67, /* more than one credential in a request (HTTP 400) */
    MESH_ERR_CONFIG = 68,          /* a configuration or template value is wrong */
    MESH_ERR_NOT_FOUND = 69,
    /* the verifier knows of revocations it could not load (set full, feed unreadable); it
     * refuses every token until a poll completes (HTTP 503) */
    MESH_ERR_REVOCATIONS_INCOMPLETE = 70,
    MESH_ERR_CNF_UNSUPPORTED = 71, /* cnf names a confirmation method other than x5t#S256 */
    /* 75-79: peer trust (the verifier's own certificate check, the client's peer pin) */
    MESH_ERR_PEER_CERT = 75, /* the presenting certificate fails the verifier's trust bundle */
    MESH_ERR_PEER_ID = 76,   /* the server is not the SPIFFE ID the client pinned */
} mesh_err_t;

/* Short human sentence for an error code ("token expired"). Never NULL; static storage. */
const char *mesh_strerror(mesh_err_t err);

/* Stable reason code for logs, metrics and peers ("token_expired"). Never NULL; static. */
const char *mesh_err_name(mesh_err_t err);

/*
 * Detail of the last error a libmesh call on this thread reported, e.g.
 * "exp 1700000000 is 42 s before now (skew 30 s)". Never NULL ("" when there is none); valid
 * until the next libmesh call on the same thread. Never contains a key, secret or token.
 */
const char *mesh_err_detail(void);

/*
 * For programs built on libmesh (mesh-issuer, services) that report their own failures
 * through the same channel, so one mesh_err_detail() call serves every layer.
 *
 * mesh_err_set records `code` with a printf-style detail and returns `code`:
 *     return mesh_err_set(MESH_ERR_CONFIG, "%s: listen: not host:port", path);
 * Never put a key, secret or token in a detail. mesh_err_openssl appends OpenSSL's most recent
 * error reason to `what` (and clears OpenSSL's error queue). mesh_err_clear empties the detail.
 */
mesh_err_t mesh_err_set(mesh_err_t code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
mesh_err_t mesh_err_openssl(mesh_err_t code, const char *what);
void mesh_err_clear(void);

/* Releases memory libmesh returned (strings, buffers). NULL-safe. */
void mesh_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* MESH_ERROR_H */
