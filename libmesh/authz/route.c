/* SPDX-License-Identifier: Apache-2.0 */
#include "route.h"

#include <string.h>
#include <strings.h>

bool route_path_canonical(const char *path, size_t len)
{
    if (len == 0 || path[0] != '/') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '%' || ch == '\\' || ch == '?' || ch == '#') {
            return false;
        }
        if (ch != '/') {
            continue;
        }
        /* the segment after this '/' */
        size_t end = i + 1;
        while (end < len && path[end] != '/') {
            end++;
        }
        size_t seg = end - i - 1;
        if (seg == 0 && end < len) {
            return false; /* "//" */
        }
        if ((seg == 1 && path[i + 1] == '.') ||
            (seg == 2 && path[i + 1] == '.' && path[i + 2] == '.')) {
            return false;
        }
    }
    return true;
}

/* "/x/" matches every path below it; "/x" matches "/x" itself and every path below "/x/". */
static bool prefix_matches(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    if (strncmp(prefix, path, n) != 0) {
        return false;
    }
    return prefix[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
}

/* The host without its port, compared case-insensitively. */
static bool host_matches(const char *want, const char *host)
{
    if (host == NULL) {
        return false;
    }
    size_t n = strlen(host);
    const char *colon = strrchr(host, ':');
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        n = close ? (size_t)(close - host + 1) : n;
    } else if (colon != NULL) {
        n = (size_t)(colon - host);
    }
    return strlen(want) == n && strncasecmp(want, host, n) == 0;
}

static bool method_allowed(const route_t *r, const char *method)
{
    if (r->n_methods == 0) {
        return true;
    }
    for (size_t i = 0; i < r->n_methods; i++) {
        if (strcmp(r->methods[i], method) == 0) {
            return true;
        }
    }
    return false;
}

const route_t *route_match(const config_t *cfg, const char *method, const char *host,
                           const char *path, const char **reason)
{
    /* The longest matching prefix is chosen without looking at the method, and only routes of
     * that very prefix may then take the method: a POST to /admin/x under a GET-only /admin/
     * is refused, never handed to a looser "/" route. The same holds across hosts: a request
     * some route of its host matches never falls back to the host-less routes. */
    for (int pass = 0; pass < 2; pass++) {
        size_t best_len = 0;
        bool matched = false;
        for (size_t i = 0; i < cfg->n_routes; i++) {
            const route_t *r = &cfg->routes[i];
            bool host_ok =
                pass == 0 ? r->host != NULL && host_matches(r->host, host) : r->host == NULL;
            if (host_ok && prefix_matches(r->prefix, path)) {
                size_t len = strlen(r->prefix);
                best_len = len > best_len ? len : best_len;
                matched = true;
            }
        }
        if (!matched) {
            continue;
        }
        for (size_t i = 0; i < cfg->n_routes; i++) {
            const route_t *r = &cfg->routes[i];
            bool host_ok =
                pass == 0 ? r->host != NULL && host_matches(r->host, host) : r->host == NULL;
            if (host_ok && strlen(r->prefix) == best_len && prefix_matches(r->prefix, path) &&
                method_allowed(r, method)) {
                *reason = "ok";
                return r;
            }
        }
        *reason = "method_not_allowed";
        return NULL;
    }
    *reason = "no_route";
    return NULL;
}
