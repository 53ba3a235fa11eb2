/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS: the full verifier and the unverified decoder on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/mesh.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mesh_jwks_t *fuzz_keys(void)
{
    static mesh_jwks_t *set;
    mesh_key_t *keys[2] = {NULL, NULL};

    if (set != NULL) {
        return set;
    }
    if (mesh_key_generate(MESH_KEY_P256, &keys[0]) != MESH_OK ||
        mesh_key_generate(MESH_KEY_ED25519, &keys[1]) != MESH_OK ||
        mesh_jwks_from_keys(keys, 2, &set) != MESH_OK) {
        abort();
    }
    mesh_key_free(keys[0]);
    mesh_key_free(keys[1]);
    return set;
}

/* The options, made once for the whole run (they are read-only while verifying). */
static const mesh_jwt_verify_opts_t *opts(void)
{
    static const uint8_t fake_cert[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    static mesh_jwt_verify_opts_t *o;

    if (o == NULL && (mesh_jwt_verify_opts_new(&o) != MESH_OK ||
                      mesh_jwt_verify_opts_set_issuer(o, "https://issuer.mesh.local") != MESH_OK ||
                      mesh_jwt_verify_opts_set_audience(o, "gateway") != MESH_OK ||
                      mesh_jwt_verify_opts_set_now(o, 1700000000) != MESH_OK ||
                      mesh_jwt_verify_opts_set_cert(o, fake_cert, sizeof(fake_cert)) != MESH_OK)) {
        abort();
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mesh_identity_t *claims = NULL;
    char *header = NULL, *payload = NULL;

    if (mesh_jwt_verify(fuzz_keys(), (const char *)data, size, opts(), &claims) == MESH_OK) {
        abort(); /* nobody can forge a signature from freshly generated keys */
    }
    if (mesh_jws_decode_unverified((const char *)data, size, &header, &payload) == MESH_OK) {
        if (header == NULL || payload == NULL) {
            abort();
        }
    }
    mesh_free(header);
    mesh_free(payload);
    return 0;
}
