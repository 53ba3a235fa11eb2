/* SPDX-License-Identifier: Apache-2.0 */
#include "json.h"

#include "internal.h"

/* jansson's own depth limit is a compile-time 2048; ours is small and named, so we check first. */
static mesh_err_t json_check_depth(const char *buf, size_t len, size_t max_depth, const char *what)
{
    size_t depth = 0;
    int in_string = 0;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_string = 0;
            }
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth) {
                return mesh_err_set(MESH_ERR_JSON_DEPTH, "%s: JSON nested deeper than %zu", what,
                                    max_depth);
            }
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_json_parse(const char *buf, size_t len, size_t max_depth,
                                       const char *what, json_t **out)
{
    json_error_t jerr;
    json_t *v;
    mesh_err_t rc = json_check_depth(buf, len, max_depth, what);

    if (rc != MESH_OK) {
        return rc;
    }
    /* RFC 7515 §5.2 and RFC 8725 §3.9: duplicate members make a document ambiguous. */
    v = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        switch (json_error_code(&jerr)) {
        /* line and column too: a person reads these for a file they wrote */
        case json_error_duplicate_key:
            return mesh_err_set(MESH_ERR_JSON_DUPLICATE, "%s:%d:%d: %s", what, jerr.line,
                                jerr.column, jerr.text);
        case json_error_invalid_utf8:
            return mesh_err_set(MESH_ERR_UTF8, "%s:%d:%d: %s", what, jerr.line, jerr.column,
                                jerr.text);
        case json_error_out_of_memory:
            return mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory", what);
        default:
            return mesh_err_set(MESH_ERR_JSON, "%s:%d:%d: %s at offset %d", what, jerr.line,
                                jerr.column, jerr.text, jerr.position);
        }
    }
    *out = v;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_json_parse_object(const char *buf, size_t len, size_t max_depth,
                                              const char *what, json_t **out)
{
    json_t *v = NULL;
    mesh_err_t rc = mesh_json_parse(buf, len, max_depth, what, &v);

    if (rc != MESH_OK) {
        return rc;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        return mesh_err_set(MESH_ERR_JSON, "%s: expected a JSON object", what);
    }
    *out = v;
    return MESH_OK;
}
