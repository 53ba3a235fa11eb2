/* SPDX-License-Identifier: Apache-2.0 */
#include "config_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cfg_fail(ctx_t *c, const char *path, const char *fmt, ...)
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

const char *cfg_type_name(const json_t *v)
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

/* Every member of `obj` must be in the NULL-terminated `known` list: typos are errors. */
bool cfg_only_known(ctx_t *c, const json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL; i++) {
            if (strcmp(key, known[i]) == 0) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            char list[512] = "";
            size_t used = 0;
            for (size_t i = 0; known[i] != NULL; i++) {
                int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", known[i]);
                if (n < 0 || (size_t)n >= sizeof(list) - used) {
                    break;
                }
                used += (size_t)n;
            }
            char p[256];
            cfg_join(p, sizeof(p), path, key);
            return cfg_fail(c, p, "unknown member; known members here: %s", list);
        }
    }
    return true;
}

bool cfg_get_str(ctx_t *c, const json_t *obj, const char *path, const char *key, bool required,
                 char **out)
{
    char p[256];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required) {
            return cfg_fail(c, p, "required, missing");
        }
        *out = NULL;
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return cfg_fail(c, p, "must be a non-empty string, got %s", cfg_type_name(v));
    }
    *out = strdup(json_string_value(v));
    return *out != NULL || cfg_fail(c, p, "out of memory");
}

bool cfg_get_int(ctx_t *c, const json_t *obj, const char *path, const char *key, int64_t def,
                 int64_t lo, int64_t hi, int64_t *out)
{
    char p[256];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_integer(v)) {
        return cfg_fail(c, p, "must be an integer, got %s", cfg_type_name(v));
    }
    int64_t x = json_integer_value(v);
    if (x < lo || x > hi) {
        return cfg_fail(c, p, "%lld is out of range; use %lld..%lld", (long long)x, (long long)lo,
                        (long long)hi);
    }
    *out = x;
    return true;
}

bool cfg_get_num(ctx_t *c, const json_t *obj, const char *path, const char *key, double def,
                 double *out)
{
    char p[256];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1e6) {
        return cfg_fail(c, p, "must be a number from 0 to 1000000");
    }
    *out = json_number_value(v);
    return true;
}

/* Resolves a relative path against the config's directory; "" stays as is. */
static bool cfg_resolve(ctx_t *c, const char *path, char **p)
{
    if (*p == NULL || (*p)[0] == '/' || c->dir[0] == '\0') {
        return true;
    }
    size_t n = strlen(c->dir) + strlen(*p) + 2;
    char *full = malloc(n);
    if (full == NULL) {
        return cfg_fail(c, path, "out of memory");
    }
    snprintf(full, n, "%s/%s", c->dir, *p);
    free(*p);
    *p = full;
    return true;
}

bool cfg_get_path(ctx_t *c, const json_t *obj, const char *path, const char *key, bool required,
                  char **out)
{
    char p[256];
    cfg_join(p, sizeof(p), path, key);
    return cfg_get_str(c, obj, path, key, required, out) && cfg_resolve(c, p, out);
}

bool cfg_get_str_array(ctx_t *c, const json_t *obj, const char *path, const char *key,
                       bool required, char ***out, size_t *n, bool *present)
{
    char p[256];
    cfg_join(p, sizeof(p), path, key);
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    *n = 0;
    if (present != NULL) {
        *present = v != NULL;
    }
    if (v == NULL) {
        return !required || cfg_fail(c, p, "required, missing");
    }
    if (!json_is_array(v)) {
        return cfg_fail(c, p, "must be an array of strings, got %s", cfg_type_name(v));
    }
    size_t len = json_array_size(v);
    if (len == 0) {
        return true;
    }
    *out = calloc(len, sizeof(char *));
    if (*out == NULL) {
        return cfg_fail(c, p, "out of memory");
    }
    for (size_t i = 0; i < len; i++) {
        json_t *s = json_array_get(v, i);
        char pi[300];
        snprintf(pi, sizeof(pi), "%s[%zu]", p, i);
        if (!json_is_string(s) || json_string_length(s) == 0) {
            return cfg_fail(c, pi, "must be a non-empty string, got %s", cfg_type_name(s));
        }
        if (strpbrk(json_string_value(s), " \t\r\n\"\\,") != NULL) {
            return cfg_fail(c, pi,
                            "'%s' contains a space, comma, quote or backslash; use a "
                            "single word",
                            json_string_value(s));
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp((*out)[j], json_string_value(s)) == 0) {
                return cfg_fail(c, pi, "'%s' is listed twice", json_string_value(s));
            }
        }
        (*out)[i] = strdup(json_string_value(s));
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
