/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 for libmesh's caches (token cache keys). Internal. */
#ifndef MESH_DIGEST_H
#define MESH_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define MESH_SHA256_LEN 32

/* SHA-256 of `len` bytes into out. Thread-safe; the digest is fetched once per process. */
void mesh_sha256(const void *data, size_t len, uint8_t out[MESH_SHA256_LEN]);

/* Fills `buf` with `len` unpredictable bytes (RAND_bytes); 0 on success, -1 on failure. */
int mesh_random(void *buf, size_t len);

/* Wipes `len` bytes that held a secret (OPENSSL_cleanse). */
void mesh_wipe(void *buf, size_t len);

#endif /* MESH_DIGEST_H */
