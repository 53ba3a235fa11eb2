/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: mesh-authz's config parser, then route matching on what it accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024];
    config_t *cfg = config_parse((const char *)data, size, "/fuzz", err, sizeof(err));
    if (cfg == NULL) {
        return 0;
    }
    static const char *const paths[] = {"/", "/a", "/a/", "/a/b", "/healthz", "/x/y/z"};
    static const char *const hosts[] = {"api.example", "API.example:443", "[::1]:8", ""};
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
            const char *why = NULL;
            const route_t *r = route_match(cfg, p % 2 ? "GET" : "POST", hosts[h], paths[p], &why);
            if (why == NULL || (r != NULL) != (strcmp(why, "ok") == 0)) {
                abort();
            }
        }
    }
    config_unref(cfg);
    return 0;
}
