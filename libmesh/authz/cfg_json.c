/* SPDX-License-Identifier: Apache-2.0 */
#include "cfg_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

bool cfg_fail(cfg_t *c, const char *path, const char *fmt, ...)
{
    int n = snprintf(c->msg, c->len, "%s: ", path);
    if (n < 0 || (size_t)n >= c->len) {
        return false;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg + n, c->len - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

const char *cfg_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

void cfg_join(char *out, size_t cap, const char *a, const char *b)
{
    snprintf(out, cap, "%s%s%s", a, a[0] ? "." : "", b);
}

void cfg_index(char *out, size_t cap, const char *a, size_t i)
{
    snprintf(out, cap, "%s[%zu]", a, i);
}

bool cfg_known(cfg_t *c, const json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (known[i] != NULL && strcmp(key, known[i]) != 0) {
            i++;
        }
        if (known[i] == NULL) {
            char list[512] = "";
            size_t used = 0;
            for (size_t k = 0; known[k] != NULL; k++) {
                int n = snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "", known[k]);
                if (n < 0 || (size_t)n >= sizeof(list) - used) {
                    break;
                }
                used += (size_t)n;
            }
            char p[CFG_PATH];
            cfg_join(p, sizeof(p), path, key);
            return cfg_fail(c, p, "unknown member; known members here: %s", list);
        }
    }
    return true;
}

bool cfg_object(cfg_t *c, const json_t *obj, const char *path, const char *key, bool required,
                json_t **out)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    *out = v;
    if (v == NULL) {
        return !required || cfg_fail(c, p, "required, missing");
    }
    return json_is_object(v) || cfg_fail(c, p, "must be an object, got %s", cfg_type(v));
}

bool cfg_str(cfg_t *c, const json_t *obj, const char *path, const char *key, bool required,
             char **out)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL) {
        return !required || cfg_fail(c, p, "required, missing");
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return cfg_fail(c, p, "must be a non-empty string, got %s", cfg_type(v));
    }
    if (json_string_length(v) > MESH_MAX_OPT_STRING ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        return cfg_fail(c, p, "must be at most %d bytes without NUL", MESH_MAX_OPT_STRING);
    }
    *out = strdup(json_string_value(v));
    return *out != NULL || cfg_fail(c, p, "out of memory");
}

bool cfg_bool(cfg_t *c, const json_t *obj, const char *path, const char *key, bool def, bool *out)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_boolean(v)) {
        return cfg_fail(c, p, "must be true or false, got %s", cfg_type(v));
    }
    *out = json_is_true(v);
    return true;
}

bool cfg_int(cfg_t *c, const json_t *obj, const char *path, const char *key, int64_t def,
             int64_t lo, int64_t hi, int64_t *out)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_integer(v)) {
        return cfg_fail(c, p, "must be an integer, got %s", cfg_type(v));
    }
    int64_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        return cfg_fail(c, p, "%lld is out of range; use %lld..%lld", (long long)x, (long long)lo,
                        (long long)hi);
    }
    *out = x;
    return true;
}

bool cfg_file(cfg_t *c, const json_t *obj, const char *path, const char *key, bool required,
              char **out)
{
    if (!cfg_str(c, obj, path, key, required, out)) {
        return false;
    }
    if (*out == NULL || (*out)[0] == '/' || c->dir[0] == '\0') {
        return true;
    }
    size_t n = strlen(c->dir) + strlen(*out) + 2;
    char *full = malloc(n);
    if (full == NULL) {
        char p[CFG_PATH];
        cfg_join(p, sizeof(p), path, key);
        return cfg_fail(c, p, "out of memory");
    }
    snprintf(full, n, "%s/%s", c->dir, *out);
    free(*out);
    *out = full;
    return true;
}

bool cfg_words(cfg_t *c, const json_t *obj, const char *path, const char *key, char ***out,
               size_t *n)
{
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (v == NULL) {
        return true;
    }
    if (!json_is_array(v)) {
        return cfg_fail(c, p, "must be an array of strings, got %s", cfg_type(v));
    }
    size_t len = json_array_size(v);
    if (len > MESH_AUTHZ_MAX_LIST) {
        return cfg_fail(c, p, "%zu entries; at most %d (MESH_AUTHZ_MAX_LIST)", len,
                        MESH_AUTHZ_MAX_LIST);
    }
    if (len == 0) {
        return true;
    }
    *out = calloc(len, sizeof(char *));
    if (*out == NULL) {
        return cfg_fail(c, p, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(v, i);
        char pi[CFG_PATH];
        cfg_index(pi, sizeof(pi), p, i);
        if (!json_is_string(s) || json_string_length(s) == 0 ||
            json_string_length(s) > MESH_MAX_OPT_STRING) {
            return cfg_fail(c, pi, "must be a non-empty string, got %s", cfg_type(s));
        }
        const char *w = json_string_value(s);
        for (const unsigned char *q = (const unsigned char *)w; *q; q++) {
            if (*q <= 0x20 || *q >= 0x7f || *q == '"' || *q == '\\' || *q == ',') {
                return cfg_fail(c, pi,
                                "'%s' must be one word of printable ASCII, no comma, "
                                "quote or backslash",
                                w);
            }
        }
        if (strlen(w) != json_string_length(s)) {
            return cfg_fail(c, pi, "contains a NUL byte");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp((*out)[j], w) == 0) {
                return cfg_fail(c, pi, "'%s' is listed twice", w);
            }
        }
        (*out)[i] = strdup(w);
        if ((*out)[i] == NULL) {
            return cfg_fail(c, pi, "out of memory");
        }
        (*n)++;
    }
    return true;
}

void cfg_free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}
