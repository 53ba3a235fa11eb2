/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers around OpenSSL for the network files (random, wiping) plus thread-slot and
 * monotonic-clock helpers. Internal. */
#ifndef MESH_DIGEST_H
#define MESH_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* Fills `buf` with `len` unpredictable bytes (RAND_bytes); 0 on success, -1 on failure. */
int mesh_random(void *buf, size_t len);

/* Wipes `len` bytes that held a secret (OPENSSL_cleanse). */
void mesh_wipe(void *buf, size_t len);

#endif /* MESH_DIGEST_H */
