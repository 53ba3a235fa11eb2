/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed, path-naming getters for the config parser: each failure writes "<key path>: <what to
 * change>" into the context. Private to config.c and config_json.c.
 */
#ifndef ISSUER_CONFIG_JSON_H
#define ISSUER_CONFIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/jansson.h>

typedef struct {
    char *msg;
    size_t len;
    const char *dir; /* the config file's directory, for relative paths */
} ctx_t;

bool cfg_fail(ctx_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *cfg_type_name(const json_t *v);
/* "a.b" (or "b" when a is empty) into out */
void cfg_join(char *out, size_t cap, const char *a, const char *b);
/* Every member of obj must be in the NULL-terminated `known` list: typos are errors. */
bool cfg_only_known(ctx_t *c, const json_t *obj, const char *path, const char *const *known);
bool cfg_get_str(ctx_t *c, const json_t *obj, const char *path, const char *key, bool required,
                 char **out);
bool cfg_get_int(ctx_t *c, const json_t *obj, const char *path, const char *key, int64_t def,
                 int64_t lo, int64_t hi, int64_t *out);
bool cfg_get_num(ctx_t *c, const json_t *obj, const char *path, const char *key, double def,
                 double *out);
/* A file path, resolved against the config's directory when relative. */
bool cfg_get_path(ctx_t *c, const json_t *obj, const char *path, const char *key, bool required,
                  char **out);
/* An array of distinct one-word strings; *present tells whether the member was there. */
bool cfg_get_str_array(ctx_t *c, const json_t *obj, const char *path, const char *key,
                       bool required, char ***out, size_t *n, bool *present);
void cfg_free_strs(char **v, size_t n);

/* config_certs.c: the optional `certificates` section into cfg->certs; its free. */
struct config;
bool cfg_parse_certs(ctx_t *c, struct config *cfg, const json_t *root);
void cfg_free_certs(struct config *cfg);

#endif /* ISSUER_CONFIG_JSON_H */
