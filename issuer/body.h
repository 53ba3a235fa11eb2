/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request bodies without the transport: the bytes of a POST body and its Content-Type in,
 * unique UTF-8 name/value parameters out, or an RFC 6749 §5.2 error in the response. Accepts
 * application/x-www-form-urlencoded (RFC 6749 appendix B) and one JSON object of string (or
 * integer) members. No libevent here: server_http.c hands over the bytes.
 */
#ifndef ISSUER_BODY_H
#define ISSUER_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "token.h"

/* The parameters of one request body; names are unique, values may hold secrets. */
typedef struct {
    char *names[MESH_MAX_REQUEST_PARAMS];
    char *values[MESH_MAX_REQUEST_PARAMS];
    size_t n;
} body_t;

/*
 * Parses `len` bytes of `buf` (no terminating NUL needed; a NUL inside is refused) as
 * `ctype` (the Content-Type field value, or NULL, which reads as a form) into `b`, which
 * starts empty ({.n = 0}). Returns true on success; on failure fills `resp` (400, 413 or 415
 * with what to change) and returns false. Either way the caller calls body_free(b).
 * Thread-safe; `buf` is only read.
 */
bool body_parse(const char *ctype, const char *buf, size_t len, body_t *b, issuer_resp_t *resp)
    __attribute__((warn_unused_result));

/* The two parsers body_parse picks between, for the same bytes. */
bool body_parse_form(const char *buf, size_t len, body_t *b, issuer_resp_t *resp)
    __attribute__((warn_unused_result));
bool body_parse_json(const char *buf, size_t len, body_t *b, issuer_resp_t *resp)
    __attribute__((warn_unused_result));

/* Wipes (mesh_wipe) and frees every parameter; `b` is empty after. NULL is accepted. */
void body_free(body_t *b);

#endif /* ISSUER_BODY_H */
