/* SPDX-License-Identifier: Apache-2.0 */
/* The certificate-binding policy (binding.h): parsing it, and the one place it is decided. */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>
#include <mesh/x509.h>

#define UNBOUND_FOR "unbound-for:"

/*
 * A connection presents the same certificate for many requests, so the last thumbprint this
 * thread computed is kept with the exact DER it came from (a memcmp is far cheaper than a
 * SHA-256 over a certificate). The only copy of a certificate thumbprint in the verifier.
 */
static _Thread_local struct {
    size_t len;
    uint8_t der[MESH_X5T_MEMO_DER_MAX];
    char x5t[MESH_X5T_LEN + 1];
} memo;

/* The thumbprint of the certificate, from the memo when it is the last one this thread saw:
 * a pointer into the memo or into `buf`. */
static const char *cert_x5t(const uint8_t *der, size_t len, char buf[MESH_X5T_LEN + 1])
{
    if (len == memo.len && memcmp(der, memo.der, len) == 0) {
        return memo.x5t;
    }
    if (mesh_x5t_s256(der, len, buf) != MESH_OK) {
        return NULL;
    }
    if (len <= sizeof(memo.der)) {
        memcpy(memo.der, der, len);
        memcpy(memo.x5t, buf, MESH_X5T_LEN + 1);
        memo.len = len;
    }
    return buf;
}

/*
 * Constant time over the MESH_X5T_LEN characters: every byte is read, no early exit. Not
 * mesh_equal_ct (CRYPTO_memcmp, an out-of-line byte loop) because this runs on every cached
 * verification and a thumbprint is no secret; what must not leak is how much of it matched.
 */
static bool x5t_equal(const char *a, const char *b)
{
    unsigned char d = 0;

    for (size_t i = 0; i < MESH_X5T_LEN; i++) {
        d |= (unsigned char)(a[i] ^ b[i]);
    }
    return d == 0;
}

/* true when `sub` is exactly one of the comma-separated `list` (no prefix match). */
static bool list_has(const char *list, const char *sub)
{
    size_t n = strlen(sub);

    while (list != NULL && *list != '\0') {
        const char *e = strchr(list, ',');
        size_t len = e != NULL ? (size_t)(e - list) : strlen(list);
        if (len == n && memcmp(list, sub, n) == 0) {
            return true;
        }
        list = e != NULL ? e + 1 : NULL;
    }
    return false;
}

mesh_err_t mesh_binding_parse(const char *spec, const char *what, mesh_binding_t *out)
{
    const char *list;
    char *copy;

    if (spec == NULL || strcmp(spec, "required") == 0 || strcmp(spec, "when-presented") == 0) {
        mesh_binding_clear(out);
        out->mode = spec != NULL && spec[0] == 'w' ? MESH_BIND_WHEN_PRESENTED : MESH_BIND_REQUIRED;
        return MESH_OK;
    }
    if (strncmp(spec, UNBOUND_FOR, strlen(UNBOUND_FOR)) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "%s: \"%.64s\" is not required, when-presented or "
                            "unbound-for:<sub>,<sub>",
                            what, spec);
    }
    list = spec + strlen(UNBOUND_FOR);
    if (strlen(list) > MESH_MAX_BINDING_SPEC) {
        return mesh_err_set(MESH_ERR_CONFIG, "%s: the subject list is over %d bytes", what,
                            MESH_MAX_BINDING_SPEC);
    }
    /* Every subject non-empty and free of spaces: "a,,b", "a," and "a, b" are typos. */
    if (list[0] == '\0' || list[0] == ',' || list[strlen(list) - 1] == ',' ||
        strstr(list, ",,") != NULL || strpbrk(list, " \t\r\n") != NULL) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "%s: unbound-for: needs a comma-separated list of "
                            "subjects, none empty, no spaces",
                            what);
    }
    copy = strdup(list);
    if (copy == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "%s", what);
    }
    mesh_binding_clear(out);
    out->mode = MESH_BIND_UNBOUND_FOR;
    out->subjects = copy;
    return MESH_OK;
}

mesh_err_t mesh_binding_copy(mesh_binding_t *dst, const mesh_binding_t *src)
{
    dst->mode = src->mode;
    dst->subjects = NULL;
    if (src->subjects != NULL && (dst->subjects = strdup(src->subjects)) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "binding policy");
    }
    return MESH_OK;
}

void mesh_binding_clear(mesh_binding_t *b)
{
    free(b->subjects);
    b->subjects = NULL;
    b->mode = MESH_BIND_REQUIRED;
}

mesh_err_t mesh_binding_check(const mesh_binding_t *b, const char *x5t, const char *sub,
                              const uint8_t *der, size_t len)
{
    char buf[MESH_X5T_LEN + 1];
    const char *want;

    if (x5t[0] == '\0') {
        if (b->mode == MESH_BIND_WHEN_PRESENTED ||
            (b->mode == MESH_BIND_UNBOUND_FOR && list_has(b->subjects, sub))) {
            return MESH_OK;
        }
        return mesh_err_set(MESH_ERR_CNF_MISSING,
                            "token has no cnf.x5t#S256 and this verifier "
                            "requires certificate-bound tokens%s",
                            b->mode == MESH_BIND_UNBOUND_FOR ? " from this subject" : "");
    }
    /* RFC 8705 §3: a bound token without its certificate is what binding exists to refuse. */
    if (der == NULL || len == 0) {
        return mesh_err_set(MESH_ERR_CNF_MISMATCH,
                            "token is bound to a certificate but the caller presented none");
    }
    if ((want = cert_x5t(der, len, buf)) == NULL) {
        return MESH_ERR_INTERNAL; /* the detail is mesh_x5t_s256's */
    }
    /* jwt_claims.c admits only MESH_X5T_LEN-character values, so both are that long. */
    if (!x5t_equal(want, x5t)) {
        return mesh_err_set(MESH_ERR_CNF_MISMATCH, "cnf.x5t#S256 is not the thumbprint of the "
                                                   "presenting certificate");
    }
    return MESH_OK;
}
