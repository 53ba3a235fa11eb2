/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network side's parsers of untrusted bytes. The first byte picks one:
 *   0: an Authorization header value through mesh_verify() (a verifier with a fixed key),
 *   1: a revocation feed page ({"seq":N,"revoked":[...],"more":bool}),
 *   2: an issuer's token response (RFC 6749 §5.1).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mesh/mesh.h>

#include "client_internal.h"
#include "revocations.h"
#include "../test-tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An EC P-256 public key (RFC 7515 A.3) as the verifier's only key. */
static const char jwks[] = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\","
                           "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                           "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}";

static mesh_verifier_t *verifier(void)
{
    static mesh_verifier_t *v;
    static char path[512];
    mesh_verifier_opts_t *o = NULL;
    int fd;

    if (v != NULL) {
        return v;
    }
    fd = test_tmp_template(path, sizeof(path), "mesh-fuzz-jwks") ? mkstemp(path) : -1;
    if (fd < 0 || write(fd, jwks, sizeof(jwks) - 1) != (ssize_t)(sizeof(jwks) - 1)) {
        abort();
    }
    close(fd);
    if (mesh_verifier_opts_new(&o) != MESH_OK) {
        abort();
    }
    if (mesh_verifier_opts_set_issuer(o, "https://issuer.mesh.local") != MESH_OK) {
        abort();
    }
    if (mesh_verifier_opts_set_audience(o, "gateway") != MESH_OK) {
        abort();
    }
    if (mesh_verifier_opts_set_jwks(o, MESH_JWKS_FROM_FILE, path) != MESH_OK) {
        abort();
    }
    if (mesh_verifier_opts_set_revocation_feed(o, false) != MESH_OK) {
        abort();
    }
    if (mesh_verifier_opts_set_jwks_cooldown_ms(o, 3600000) != MESH_OK) {
        abort();
    }
    if (mesh_verifier_new(o, &v) != MESH_OK) {
        abort();
    }
    mesh_verifier_opts_free(o);
    unlink(path);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    char *s;

    if (size < 1) {
        return 0;
    }
    s = malloc(size);
    if (s == NULL) {
        return 0;
    }
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (data[0] % 3 == 0) {
        char www[256];
        mesh_identity_t *id = NULL;
        mesh_err_t rc = mesh_verify(verifier(), s, cert, sizeof(cert), "read", &id);
        if (mesh_verify_http_status(rc, "read", www, sizeof(www)) == 200 && id == NULL) {
            abort();
        }
        mesh_identity_free(id);
    } else if (data[0] % 3 == 1) {
        mesh_revset_t *set = NULL;
        int64_t seq = 0;
        bool more = false;
        if (mesh_revset_new(&set) == MESH_OK) {
            mesh_revset_set_max(set, 64); /* the full-set path too */
            (void)mesh_revset_apply(set, s, size - 1, "fuzz", 1600000000, &seq, &more);
            (void)mesh_revset_contains(set, "a");
            (void)mesh_revset_sub_revoked(set, "s", 1700000000);
            (void)mesh_revset_x5t_revoked(set, "x");
            mesh_revset_prune(set, 1700000000);
            mesh_revset_free(set);
        }
    } else {
        char *tok = NULL;
        int64_t exp = 0;
        if (mesh_client_parse_token(s, size - 1, "fuzz", &tok, &exp) == MESH_OK &&
            (tok == NULL || exp <= 0)) {
            abort();
        }
        free(tok);
    }
    free(s);
    return 0;
}
