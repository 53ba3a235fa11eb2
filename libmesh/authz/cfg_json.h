/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed getters for mesh-authz's config parser: each failure writes "<key path>: <what to
 * change>" into the context and returns false. Private to config*.c.
 */
#ifndef AUTHZ_CFG_JSON_H
#define AUTHZ_CFG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/jansson.h>

#include "config.h"

typedef struct {
    char *msg;
    size_t len;
    const char *dir; /* the config file's directory, for relative paths ("" none) */
} cfg_t;

#define CFG_PATH 256 /* a key path buffer: routes[1023].issuers[15] fits many times */

bool cfg_fail(cfg_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *cfg_type(const json_t *v);
void cfg_join(char *out, size_t cap, const char *a, const char *b);
void cfg_index(char *out, size_t cap, const char *a, size_t i);
bool cfg_known(cfg_t *c, const json_t *obj, const char *path, const char *const *known);
/* An object member that must be an object when present; *out NULL when absent. */
bool cfg_object(cfg_t *c, const json_t *obj, const char *path, const char *key, bool required,
                json_t **out);
bool cfg_str(cfg_t *c, const json_t *obj, const char *path, const char *key, bool required,
             char **out);
bool cfg_bool(cfg_t *c, const json_t *obj, const char *path, const char *key, bool def, bool *out);
bool cfg_int(cfg_t *c, const json_t *obj, const char *path, const char *key, int64_t def,
             int64_t lo, int64_t hi, int64_t *out);
/* A file path, resolved against the config's directory when relative. */
bool cfg_file(cfg_t *c, const json_t *obj, const char *path, const char *key, bool required,
              char **out);
/* An array of at most MESH_AUTHZ_MAX_LIST distinct one-word strings. */
bool cfg_words(cfg_t *c, const json_t *obj, const char *path, const char *key, char ***out,
               size_t *n);
void cfg_free_strs(char **v, size_t n);

/* config_listen.c: "HOST:PORT" with a numeric address (*loopback says whether it is one),
 * and the whole "listen" array. */
bool cfg_hostport(cfg_t *c, const char *path, const char *s, char **host, int *port,
                  bool *loopback);
bool config_parse_listen(cfg_t *c, config_t *cfg, const json_t *root);

/* config_issuer.c: one member of "issuers" named `name`. */
bool config_parse_issuer(cfg_t *c, issuer_t *is, const char *name, const json_t *o);

/* config_route.c: one element of "routes" (the issuers must be parsed already). */
bool config_parse_route(cfg_t *c, config_t *cfg, route_t *r, const json_t *o, const char *path);

/* config_limits.c: the route's "rate_limit" and "single_use". */
bool config_parse_limits(cfg_t *c, route_t *r, const json_t *o, const char *path);

#endif /* AUTHZ_CFG_JSON_H */
