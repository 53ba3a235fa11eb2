/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Join tokens: the one-time credential of a service's first certificate (docs/CERTIFICATES.md),
 * as SPIRE join tokens and step-ca one-time tokens. "mjt_" + base64url of 32 random bytes,
 * shown once; the store keeps only its SHA-256. A token is for one service and is used once.
 */
#ifndef ISSUER_CORE_JOIN_TOKENS_H
#define ISSUER_CORE_JOIN_TOKENS_H

#include <stdint.h>

#include <mesh/error.h>
#include <mesh/limits.h>

#include "store.h"

#define JOIN_TOKEN_PREFIX "mjt_"
#define JOIN_TOKEN_BYTES  32

/*
 * Creates a token for `service` (a DNS label; else MESH_ERR_CONFIG naming the rule) living
 * ttl_s seconds (1..MESH_JOIN_TOKEN_TTL_MAX). Writes the token (NUL-terminated, for printing
 * once; the caller wipes it) and the stored record.
 */
mesh_err_t join_token_create(store_t *s, const char *service, int64_t ttl_s, int64_t now,
                             char token[MESH_MAX_JOIN_TOKEN + 1], join_token_rec_t *rec);

/* The stored form of a presented token; MESH_ERR_INVALID_ARG when it is not "mjt_" + 43
 * base64url characters (a malformed token is never looked up). */
mesh_err_t join_token_hash(const char *token, char hash[48]);

#endif /* ISSUER_CORE_JOIN_TOKENS_H */
