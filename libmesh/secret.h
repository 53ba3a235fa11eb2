/* SPDX-License-Identifier: Apache-2.0 */
/* Randomness and wiping for the network files (client, caches), kept at OpenSSL's door. */
#ifndef MESH_SECRET_H
#define MESH_SECRET_H

#include <stddef.h>

/* Fills `buf` with `len` unpredictable bytes (RAND_bytes); 0 on success, -1 on failure. */
int mesh_random(void *buf, size_t len);

/* Wipes `len` bytes that held a secret (OPENSSL_cleanse); NULL-safe. */
void mesh_wipe(void *buf, size_t len);

#endif /* MESH_SECRET_H */
