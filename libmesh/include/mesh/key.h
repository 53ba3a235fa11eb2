/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signing and verification keys. A key carries its algorithm: RFC 8725 §3.1 says the key, not
 * the token header, decides how a signature is checked. RSA keys are RS256 unless loaded or
 * marked as PS256; EC P-256 keys are ES256; Ed25519 keys are EdDSA.
 *
 * mesh_key_t is immutable after loading and reference counted: share it across threads freely.
 *
 * Blocking: mesh_key_load_pem_file and mesh_key_write_pem_file block on the file system; no
 * call here touches the network. mesh_key_generate does no I/O but is CPU-bound (an RSA-3072
 * key can take a second): keep it off an event loop's thread.
 *
 * Checks every loaded key passes (PEM or JWK alike):
 *   RSA: MESH_MIN_RSA_BITS..MESH_MAX_RSA_BITS bits (below: MESH_ERR_KEY_WEAK, above:
 *        MESH_ERR_LIMIT); odd modulus; odd public exponent 3 <= e < n (e = 1 or an even e is
 *        MESH_ERR_KEY_INVALID); moduli with the ROCA fingerprint (CVE-2017-15361) are
 *        MESH_ERR_KEY_WEAK. e = 3 loads on purpose: verifiers meet such keys (Wycheproof's
 *        primitive groups use them) and PKCS #1 v1.5 with strict padding checks is sound for
 *        it. A stricter exponent policy belongs to the layer that decides which keys to
 *        trust, not to loading. Keys libmesh generates always have e = 65537.
 *   EC:  curve P-256 only (others MESH_ERR_KEY_UNSUPPORTED); the public point is validated
 *        (on the curve, not the identity), else MESH_ERR_KEY_INVALID.
 *   OKP: Ed25519 only. DSA, DH, Ed448, X25519 are MESH_ERR_KEY_UNSUPPORTED.
 * Failing functions leave their outputs untouched and set mesh_err_detail() to a message
 * that names the input; key material never appears in it.
 */
#ifndef MESH_KEY_H
#define MESH_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    MESH_ALG_UNSET = 0, /* "use the key type's default" where an alg is asked for */
    MESH_ALG_RS256 = 1,
    MESH_ALG_PS256 = 2,
    MESH_ALG_ES256 = 3,
    MESH_ALG_EDDSA = 4,
} mesh_alg_t;

typedef enum {
    MESH_KEY_RSA2048 = 1,
    MESH_KEY_RSA3072 = 2,
    MESH_KEY_P256 = 3,
    MESH_KEY_ED25519 = 4,
} mesh_key_type_t;

typedef struct mesh_key mesh_key_t;

/* JOSE name of an algorithm ("RS256"); "" for MESH_ALG_UNSET. Static storage. */
const char *mesh_alg_name(mesh_alg_t alg);

/* Algorithm for a JOSE name of `len` bytes; MESH_ALG_UNSET when it is not one we support. */
mesh_alg_t mesh_alg_from_name(const char *name, size_t len);

/*
 * Parses the first PEM key (SubjectPublicKeyInfo, PKCS#8, or traditional RSA/EC private key)
 * in `len` bytes (at most MESH_MAX_PEM_BYTES, else MESH_ERR_LIMIT). `alg` picks PS256 for an
 * RSA key; MESH_ALG_UNSET gives the type's default, and an alg that does not fit the key type
 * is MESH_ERR_KEY_UNSUPPORTED. Unreadable or encrypted PEM is MESH_ERR_KEY_PARSE (libmesh
 * never prompts for a passphrase). On success *out is a new key (free with mesh_key_free); on
 * failure *out is untouched. NULL pem/out: MESH_ERR_INVALID_ARG.
 */
MESH_WUR mesh_err_t mesh_key_from_pem(const char *pem, size_t len, mesh_alg_t alg,
                                      mesh_key_t **out);

/*
 * Reads and parses a PEM key file (at most MESH_MAX_PEM_BYTES), as mesh_key_from_pem. A file
 * that cannot be read is MESH_ERR_IO; every detail names the path.
 */
MESH_WUR mesh_err_t mesh_key_load_pem_file(const char *path, mesh_alg_t alg, mesh_key_t **out);

/*
 * Parses one JWK (RFC 7517/7518/8037) of at most MESH_MAX_JWK_BYTES: kty RSA, EC (crv P-256,
 * point validated) or OKP (crv Ed25519), public or private. A JWK "alg" member fixes the key's
 * algorithm (it must be one libmesh supports and fit the type); `alg` does the same from the
 * caller's side, and the two must agree, else MESH_ERR_KEY_UNSUPPORTED. A "kid" member (at
 * most MESH_KID_MAX bytes) becomes the key's kid; without one the kid is the RFC 7638
 * thumbprint. Strict encoding: JSON with a duplicate member is MESH_ERR_JSON_DUPLICATE;
 * base64url members must be unpadded (MESH_ERR_B64URL); RSA n and e must be minimal (no
 * leading zero byte), EC x, y, d exactly 32 bytes, Ed25519 x, d exactly 32 bytes
 * (MESH_ERR_KEY_INVALID); a private d must match the public part. kty "oct" (HMAC), a "use"
 * other than "sig", or "key_ops" without "sign"/"verify" is MESH_ERR_KEY_UNSUPPORTED, as are
 * multi-prime RSA keys ("oth").
 */
MESH_WUR mesh_err_t mesh_key_from_jwk(const char *json, size_t len, mesh_alg_t alg,
                                      mesh_key_t **out);

/*
 * Generates a new private key (RSA always with e = 65537); its kid is its thumbprint. An
 * unknown `type` is MESH_ERR_INVALID_ARG, an OpenSSL failure MESH_ERR_INTERNAL.
 */
MESH_WUR mesh_err_t mesh_key_generate(mesh_key_type_t type, mesh_key_t **out);

/* The name of a generatable key type ("rsa2048", "rsa3072", "p256", "ed25519"); NULL for an
 * unknown type. Static storage. */
const char *mesh_key_type_name(mesh_key_type_t type);

/* The key type a name above stands for; false (and *out untouched) for any other string. */
bool mesh_key_type_from_name(const char *name, mesh_key_type_t *out);

/* The generatable type `key` is (RSA only at 2048 or 3072 bits); false for another size or a
 * NULL argument. */
bool mesh_key_type_of(const mesh_key_t *key, mesh_key_type_t *out);

/* Takes one more reference; returns `key`. NULL-safe. Thread-safe. */
mesh_key_t *mesh_key_ref(mesh_key_t *key);

/* Drops a reference; the last one frees the key and wipes private material. NULL-safe. */
void mesh_key_free(mesh_key_t *key);

/* The key's algorithm (never MESH_ALG_UNSET for a loaded key). */
mesh_alg_t mesh_key_alg(const mesh_key_t *key);

/* true when the key holds private material and can sign. */
bool mesh_key_is_private(const mesh_key_t *key);

/* The kid: the JWK's own "kid" when it had one, else the RFC 7638 thumbprint. Borrowed. */
const char *mesh_key_kid(const mesh_key_t *key);

/* The RFC 7638 SHA-256 thumbprint, base64url (43 chars). Borrowed; lives as long as the key. */
const char *mesh_key_thumbprint(const mesh_key_t *key);

/* Key size in bits (RSA modulus, 256 for P-256 and Ed25519). */
int mesh_key_bits(const mesh_key_t *key);

/*
 * The public half as a compact JWK object, members sorted by name, with "kid", "alg" and
 * "use":"sig". *out is a new NUL-terminated string to release with mesh_free(). Never exports
 * private parts.
 */
MESH_WUR mesh_err_t mesh_key_to_jwk(const mesh_key_t *key, char **out);

/* The public key as SubjectPublicKeyInfo PEM, NUL-terminated. *out is released with mesh_free(). */
MESH_WUR mesh_err_t mesh_key_public_pem(const mesh_key_t *key, char **out);

/*
 * Writes the key as PEM to `path`: the private key as PKCS#8 with mode 0600 from the first
 * byte, or the public key (SubjectPublicKeyInfo) with mode 0644 when `private_part` is false.
 * Written with mesh_file_write_atomic (<mesh/util.h>): a temporary file beside `path`
 * (O_CREAT|O_EXCL|O_NOFOLLOW, the final mode set before the first byte, whatever the umask),
 * fsync'ed, then moved into place: rename() when `overwrite` is true, else link() + unlink(),
 * which fails atomically when `path` exists (MESH_ERR_IO, the old file untouched). Never
 * leaves a half-written file or a temporary behind. A public-only key asked for its private
 * part is MESH_ERR_KEY_NOT_PRIVATE. Blocks on the file system (write, fsync).
 */
MESH_WUR mesh_err_t mesh_key_write_pem_file(const mesh_key_t *key, const char *path,
                                            bool private_part, bool overwrite);

#ifdef __cplusplus
}
#endif
#endif /* MESH_KEY_H */
