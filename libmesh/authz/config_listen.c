/* SPDX-License-Identifier: Apache-2.0 */
/* The "listen" member of mesh-authz's config: unix sockets, loopback TCP, TCP with TLS. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "cfg_json.h"
#include "config.h"

/* "HOST:PORT" with a numeric loopback or any address; [v6]:port too. */
bool cfg_hostport(cfg_t *c, const char *path, const char *s, char **host, int *port, bool *loopback)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        return cfg_fail(c, path, "'%s' must be HOST:PORT, e.g. \"127.0.0.1:9191\"", s);
    }
    const char *h = s;
    size_t hlen = (size_t)(colon - s);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || p < 0 || p > 65535) {
        return cfg_fail(c, path, "port '%s' must be a number 0..65535", colon + 1);
    }
    *host = strndup(h, hlen);
    if (*host == NULL) {
        return cfg_fail(c, path, "out of memory");
    }
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, *host, &a4) == 1) {
        *loopback = (ntohl(a4.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, *host, &a6) == 1) {
        *loopback = IN6_IS_ADDR_LOOPBACK(&a6);
    } else {
        return cfg_fail(c, path,
                        "'%s' must be a numeric IP address (no host names: the trust "
                        "boundary must not depend on DNS)",
                        *host);
    }
    *port = (int)p;
    return true;
}

static bool parse_listener_tls(cfg_t *c, listener_t *l, const json_t *o, const char *path)
{
    json_t *tls;
    if (!cfg_object(c, o, path, "tls", false, &tls)) {
        return false;
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "tls");
    if (tls == NULL) {
        if (!l->loopback) {
            return cfg_fail(c, p,
                            "required for the non-loopback address %s: without the "
                            "proxy's mTLS anyone who reaches the port could send identity "
                            "headers",
                            l->host);
        }
        return true;
    }
    static const char *const known[] = {"cert", "key", "client_ca", "allowed_proxies", NULL};
    if (!cfg_known(c, tls, p, known) || !cfg_file(c, tls, p, "cert", true, &l->tls_cert) ||
        !cfg_file(c, tls, p, "key", true, &l->tls_key) ||
        !cfg_file(c, tls, p, "client_ca", true, &l->tls_client_ca) ||
        !cfg_words(c, tls, p, "allowed_proxies", &l->proxies, &l->n_proxies)) {
        return false;
    }
    if (l->n_proxies == 0) {
        char q[CFG_PATH];
        cfg_join(q, sizeof(q), p, "allowed_proxies");
        return cfg_fail(c, q,
                        "required: the SPIFFE IDs of the proxies that may call, e.g. "
                        "[\"spiffe://mesh.local/nginx\"]");
    }
    for (size_t i = 0; i < l->n_proxies; i++) {
        if (strncmp(l->proxies[i], "spiffe://", 9) != 0) {
            char q[CFG_PATH], r[CFG_PATH];
            cfg_join(q, sizeof(q), p, "allowed_proxies");
            cfg_index(r, sizeof(r), q, i);
            return cfg_fail(c, r, "'%s' must be a spiffe:// ID", l->proxies[i]);
        }
    }
    return true;
}

static bool parse_max_connections(cfg_t *c, listener_t *l, const json_t *o, const char *path)
{
    int64_t n = 0;
    if (!cfg_int(c, o, path, "max_connections", MESH_AUTHZ_MAX_CONNECTIONS, 1,
                 MESH_AUTHZ_MAX_CONNECTIONS, &n)) {
        return false;
    }
    l->max_connections = (int)n;
    return true;
}

static bool parse_listener(cfg_t *c, listener_t *l, const json_t *o, const char *path)
{
    if (!json_is_object(o)) {
        return cfg_fail(c, path,
                        "must be an object {\"unix\": PATH, \"mode\": \"0660\"} or "
                        "{\"tcp\": \"127.0.0.1:PORT\"}, got %s",
                        cfg_type(o));
    }
    bool is_unix = json_object_get(o, "unix") != NULL;
    bool is_tcp = json_object_get(o, "tcp") != NULL;
    if (is_unix == is_tcp) {
        return cfg_fail(c, path, "needs exactly one of \"unix\" or \"tcp\"");
    }
    if (is_unix) {
        static const char *const known[] = {"unix", "mode", "group", "max_connections", NULL};
        char *mode = NULL;
        l->kind = LISTEN_UNIX;
        if (!cfg_known(c, o, path, known) || !cfg_file(c, o, path, "unix", true, &l->path) ||
            !cfg_str(c, o, path, "mode", false, &mode) ||
            !cfg_str(c, o, path, "group", false, &l->group) ||
            !parse_max_connections(c, l, o, path)) {
            return false;
        }
        l->mode = 0600;
        bool ok = true;
        if (mode != NULL) {
            char *end;
            unsigned long m = strtoul(mode, &end, 8);
            char p[CFG_PATH];
            cfg_join(p, sizeof(p), path, "mode");
            if (*end != '\0' || strlen(mode) != 4 || mode[0] != '0') {
                ok = cfg_fail(c, p, "'%s' must be four octal digits, e.g. \"0660\"", mode);
            } else if ((m & 0007) != 0 || (m & 0600) != 0600) {
                ok = cfg_fail(c, p,
                              "'%s' must give the owner read and write and others nothing "
                              "(0600 or 0660): the socket is the trust boundary",
                              mode);
            }
            l->mode = (unsigned)m;
            free(mode);
        }
        if (ok && strlen(l->path) >= 108) {
            char p[CFG_PATH];
            cfg_join(p, sizeof(p), path, "unix");
            ok = cfg_fail(c, p, "'%s' is longer than a socket path may be (107 bytes)", l->path);
        }
        return ok;
    }
    static const char *const known[] = {"tcp", "tls", "max_connections", NULL};
    char *hp = NULL;
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "tcp");
    l->kind = LISTEN_TCP;
    bool ok = cfg_known(c, o, path, known) && cfg_str(c, o, path, "tcp", true, &hp) &&
              cfg_hostport(c, p, hp, &l->host, &l->port, &l->loopback) &&
              parse_listener_tls(c, l, o, path) && parse_max_connections(c, l, o, path);
    free(hp);
    return ok;
}

bool config_parse_listen(cfg_t *c, config_t *cfg, const json_t *root)
{
    json_t *a = json_object_get(root, "listen");
    if (a == NULL || !json_is_array(a) || json_array_size(a) == 0) {
        return cfg_fail(c, "listen",
                        "required: a non-empty array of listeners, e.g. "
                        "[{\"unix\": \"/run/mesh-authz/authz.sock\", \"mode\": "
                        "\"0660\"}]");
    }
    if (json_array_size(a) > MESH_AUTHZ_MAX_LISTENERS) {
        return cfg_fail(c, "listen", "at most %d listeners (MESH_AUTHZ_MAX_LISTENERS)",
                        MESH_AUTHZ_MAX_LISTENERS);
    }
    cfg->listeners = calloc(json_array_size(a), sizeof(listener_t));
    if (cfg->listeners == NULL) {
        return cfg_fail(c, "listen", "out of memory");
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char p[CFG_PATH];
        cfg_index(p, sizeof(p), "listen", i);
        cfg->n_listeners++;
        if (!parse_listener(c, &cfg->listeners[i], json_array_get(a, i), p)) {
            return false;
        }
    }
    return true;
}
