/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-authz's secrets: legacy API keys (kept as their SHA-256, matched in constant time)
 * and the HMAC key file of a legacy HS256 identity provider (mode 0600, wiped when freed).
 * The one file of mesh-authz's decision code that calls OpenSSL.
 *
 * Why an unsalted SHA-256 is the right hash for API keys: a salt and a slow hash (bcrypt,
 * argon2) protect LOW-entropy secrets (passwords) against a dictionary; an API key is random
 * (hash-key refuses one shorter than MESH_AUTHZ_MIN_API_KEY_BYTES), so with 128 bits or more
 * no dictionary and no precomputed table reaches it, and SHA-256's preimage resistance is the
 * whole protection. A slow hash would cost every request its work factor for nothing.
 */
#ifndef AUTHZ_SECRET_H
#define AUTHZ_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* SHA-256 of `len` bytes; false only when OpenSSL fails. */
bool secret_sha256(const void *data, size_t len, uint8_t out[32]);
/* "sha256:<64 hex digits>" (lower or upper case) into 32 bytes; false when malformed. */
bool secret_parse_hash(const char *s, uint8_t out[32]);
/* Zeroes `len` bytes in a way the compiler keeps (OPENSSL_cleanse). NULL-safe. */
void secret_wipe(void *p, size_t len);
/*
 * Reads a secret file: a regular file (no symlink) without any group or other permission
 * bit (0600 or 0400), 1..max bytes; *out is new (wipe and free it). false with
 * "<path>: <what to change>" in err.
 */
bool secret_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                      size_t errlen);
/*
 * The key of `is` (kind api-keys) that `key` (`len` bytes) is: its hash compared with EVERY
 * configured hash by mesh_equal_ct (no early exit, so the time says nothing about which key
 * or how much of it matched). NULL when none.
 */
const api_key_t *secret_match_key(const issuer_t *is, const char *key, size_t len);

#endif /* AUTHZ_SECRET_H */
