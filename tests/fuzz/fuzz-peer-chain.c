/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A presented certificate as a verifier with a trust bundle judges it (mesh_trust_verify):
 * arbitrary bytes as a proxy's PEM chain and as a TLS client certificate's DER. The bundle is
 * the root of the seed corpus's PKI (tests/common/mkpeercerts.sh; its key is long gone).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mesh/mesh.h>

#include "../test-tmp.h"
#include "x509_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char root_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIBmDCCAT2gAwIBAgIUM/BPyl71sJXqDfRjqMK8W1DQGpUwCgYIKoZIzj0EAwIw\n"
                               "GTEXMBUGA1UEAwwObWVzaCB0ZXN0IHJvb3QwHhcNMjYxMjAzMDU0OTEwWhcNMzYx\n"
                               "MTMwMDU0OTEwWjAZMRcwFQYDVQQDDA5tZXNoIHRlc3Qgcm9vdDBZMBMGByqGSM49\n"
                               "AgEGCCqGSM49AwEHA0IABJi1hxOBICEO4FXhp1IV/RQKVAM22mKIc47xAop9oggD\n"
                               "0WbLWZdtOMKcHdhEM41PMpv3rEDAa2utdwuwHYB/T46jYzBhMA8GA1UdEwEB/wQF\n"
                               "MAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBRzCrhqWHr4B4UIdxV8qA9v\n"
                               "X89FqDAfBgNVHSMEGDAWgBRzCrhqWHr4B4UIdxV8qA9vX89FqDAKBggqhkjOPQQD\n"
                               "AgNJADBGAiEAnu3eu3A1KNOmFMK9dJHicf0+yo2AI+tBWAMedbAQid0CIQDKOLL6\n"
                               "g2Jk7NGZG6Kv0ndvQlJjI93w//nMU4HudJtkuw==\n"
                               "-----END CERTIFICATE-----\n";

static mesh_trust_t *trust(void)
{
    static mesh_trust_t *t;
    char path[256];
    FILE *f;
    int fd;

    if (t != NULL) {
        return t;
    }
    if (test_tmp_template(path, sizeof(path), "fuzz-peer-chain") == NULL ||
        (fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL) {
        abort();
    }
    if (fputs(root_pem, f) < 0 || fclose(f) != 0 || mesh_trust_load(path, NULL, &t) != MESH_OK) {
        abort();
    }
    unlink(path);
    return t;
}

static void judge(const uint8_t *data, size_t size, bool pem)
{
    mesh_trust_verdict_t vd;
    int64_t now = (int64_t)time(NULL);
    mesh_err_t rc = mesh_trust_verify(trust(), now, data, size, pem, &vd);

    if (rc != MESH_OK && rc != MESH_ERR_PEER_CERT && rc != MESH_ERR_NOMEM) {
        abort();
    }
    /* A verdict is remembered until a time to come; an accepted PEM chain gives its leaf. */
    if ((rc == MESH_OK || rc == MESH_ERR_PEER_CERT) && vd.until <= now) {
        abort();
    }
    if (rc == MESH_OK && pem && (vd.leaf_der == NULL || vd.leaf_len == 0)) {
        abort();
    }
    free(vd.leaf_der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > MESH_MAX_PEM_BYTES) {
        return 0;
    }
    judge(data, size, true);
    judge(data, size, false);
    return 0;
}
