/* SPDX-License-Identifier: Apache-2.0 */
#include "routes.h"

#include <string.h>

/* First match wins: put the more specific method rules first. */
static const route_t ROUTES[] = {
    {"GET", "/assets", "assets:read", false, "read assets (web-service, chat-service)"},
    {"HEAD", "/assets", "assets:read", false, "read assets"},
    {NULL, "/assets", "assets:write", false, "change assets (POST/PUT/DELETE)"},
    {NULL, "/ci/", "ci:deploy", true, "CI pipelines with a service token (no certificate)"},
    {NULL, NULL, NULL, false, NULL},
};

/* "/assets" matches "/assets", "/assets/…" and "/assets?…", never "/assetsX". */
static bool prefix_matches(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0) {
        return false;
    }
    return prefix[n - 1] == '/' || path[n] == '\0' || path[n] == '/' || path[n] == '?';
}

const route_t *route_find(const char *method, const char *path)
{
    /* No dot segments: the backend must see the path the route was chosen for. */
    if (path == NULL || path[0] != '/' || strstr(path, "/..") != NULL ||
        strstr(path, "/./") != NULL || strchr(path, '\\') != NULL ||
        strchr(path, '%') != NULL) { /* no encoded dots or slashes either: keep it simple */
        return NULL;
    }
    for (const route_t *r = ROUTES; r->prefix != NULL; r++) {
        if ((r->method == NULL || strcmp(r->method, method) == 0) &&
            prefix_matches(r->prefix, path)) {
            return r;
        }
    }
    return NULL;
}

const route_t *route_table(void)
{
    return ROUTES;
}
