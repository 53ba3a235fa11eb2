/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small helpers every program built on libmesh needs, published so that none of them is
 * copied (and weakened) into a program: randomness, wiping, bounded file reads, atomic
 * private writes, space-separated word lists and the service identity from the environment.
 * None of these calls blocks on the network; the file calls block on the file system.
 */
#ifndef MESH_UTIL_H
#define MESH_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fills `buf` with `len` bytes from the CSPRNG (OpenSSL's DRBG, reseeded after fork).
 * MESH_ERR_INTERNAL when it fails; `buf` is then unspecified. Thread-safe. */
MESH_WUR mesh_err_t mesh_random_bytes(void *buf, size_t len);

/* Wipes `len` bytes that held a secret; never optimised away. NULL-safe. */
void mesh_wipe(void *buf, size_t len);

/* Compares `len` bytes in time that depends only on `len`: true when equal. */
bool mesh_equal_ct(const void *a, const void *b, size_t len);

/*
 * Reads the whole regular file `path` of at most `max` bytes into a new NUL-terminated buffer
 * (*out, mesh_free(); *len its length, optional). MESH_ERR_IO names the path and errno's
 * reason; a larger file is MESH_ERR_LIMIT, read no further than max + 1 bytes.
 */
MESH_WUR mesh_err_t mesh_file_read(const char *path, size_t max, char **out, size_t *len);

/*
 * Writes `len` bytes to `path` so that a reader sees the old file or the whole new one,
 * never a part: a new file in the same directory created with `mode` (0600 for secrets: the
 * mode is set from the first byte, not after), written, fsync()ed, renamed over `path`, the
 * directory fsync()ed. With `replace` false an existing `path` is MESH_ERR_IO (EEXIST) and is
 * not touched. On failure the temporary file is removed. The detail names the path.
 */
MESH_WUR mesh_err_t mesh_file_write_atomic(const char *path, const void *data, size_t len,
                                           unsigned int mode, bool replace);

/*
 * Walks a space-separated word list (RFC 6749 §3.3 scope syntax; one or more 0x20 separate
 * words). Start with *cursor = the list; each call stores the next word's start and length
 * and returns true, false when no word is left. Allocates nothing.
 */
bool mesh_words_next(const char **cursor, const char **word, size_t *len);

/* true when `word` is exactly one of the words of `list` (no prefix match). NULL-safe. */
bool mesh_words_contains(const char *list, const char *word);

/*
 * The service identity files from the environment, as mesh_client_from_env and
 * mesh_verifier_from_env read them: TLS_CERT_PATH, TLS_KEY_PATH and TLS_CA_PATH; or
 * MESH_CERTS_DIR with `service_name` giving <dir>/<service>/cert.pem, <dir>/<service>/key.pem
 * and <dir>/ca.pem (explicit TLS_* win). Each output (optional) is a new string
 * (mesh_free()). MESH_ERR_CONFIG names the variable that is missing.
 */
MESH_WUR mesh_err_t mesh_env_identity(const char *service_name, char **cert_path, char **key_path,
                                      char **ca_path);

#ifdef __cplusplus
}
#endif
#endif /* MESH_UTIL_H */
