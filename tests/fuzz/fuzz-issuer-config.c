/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: mesh-issuer's config parser, then policy decisions on what it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config_t *cfg = NULL;
    char err[1024];
    if (config_parse((const char *)data, size, "/fuzz/issuer.json", &cfg, err, sizeof(err)) !=
        MESH_OK) {
        return 0;
    }
    static const char *const ids[] = {"spiffe://mesh.local/gateway", "spiffe://mesh.local/x",
                                      "svc-token:ci"};
    for (size_t a = 0; a < cfg->n_audiences; a++) {
        for (size_t i = 0; i < 3; i++) {
            policy_request_t q = {.identity = ids[i],
                                  .svc_token = i == 2,
                                  .svc_audiences = cfg->audiences[a].name,
                                  .svc_scopes = "",
                                  .audience = cfg->audiences[a].name,
                                  .scope = a % 2 ? NULL : "read write",
                                  .has_ttl = i == 1,
                                  .ttl = 120};
            policy_result_t r;
            (void)policy_decide(cfg, &q, &r);
        }
        (void)config_is_admin(cfg, ids[a % 3]);
    }
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull != NULL) {
        config_explain(cfg, devnull);
        fclose(devnull);
    }
    config_free(cfg);
    return 0;
}
