/* SPDX-License-Identifier: Apache-2.0 */
/* Request bodies: form and JSON parameters from bytes, without the transport (see body.h). */
#include "body.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/util.h>

static void wipe_free(char *s)
{
    if (s != NULL) {
        mesh_wipe(s, strlen(s)); /* a value may be a token or a client secret */
        free(s);
    }
}

void body_free(body_t *b)
{
    if (b == NULL) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        wipe_free(b->names[i]);
        wipe_free(b->values[i]);
        b->names[i] = NULL;
        b->values[i] = NULL;
    }
    b->n = 0;
}

/* RFC 3629 §4: well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF). */
static bool utf8_valid(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s != '\0') {
        unsigned char c = *s;
        size_t more;
        uint32_t cp;
        if (c < 0x80) {
            s++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1fu;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0fu;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        for (size_t i = 1; i <= more; i++) {
            if ((s[i] & 0xc0u) != 0x80u) {
                return false; /* also stops at the NUL */
            }
            cp = (cp << 6) | (s[i] & 0x3fu);
        }
        if ((more == 2 && cp < 0x800) || (more == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        s += more + 1;
    }
    return true;
}

/* Takes `name` and `value` (heap strings, either may be NULL when out of memory) into `b`;
 * on failure they are wiped and freed and `resp` says why. */
static bool body_take(body_t *b, char *name, char *value, issuer_resp_t *resp)
{
    bool ok = false;
    if (name == NULL || value == NULL) {
        resp_error(resp, 500, "server_error", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->names[i], name) == 0) {
            /* RFC 6749 §3.2: parameters MUST NOT be included more than once */
            resp_error(resp, 400, "invalid_request",
                       "parameter '%.64s' is sent more than once; send it once", name);
            goto out;
        }
    }
    if (b->n == MESH_MAX_REQUEST_PARAMS) {
        resp_error(resp, 400, "invalid_request", "more than %d parameters",
                   MESH_MAX_REQUEST_PARAMS);
        goto out;
    }
    if (!utf8_valid(name) || !utf8_valid(value)) {
        resp_error(resp, 400, "invalid_request", "parameters must be UTF-8 text");
        goto out;
    }
    b->names[b->n] = name;
    b->values[b->n] = value;
    b->n++;
    name = value = NULL;
    ok = true;
out:
    wipe_free(name);
    wipe_free(value);
    return ok;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* One form component, decoded into a new string (NULL: out of memory). RFC 6749 appendix B
 * and the WHATWG urlencoded parser: '+' is a space, %XX is that byte, any other '%' is
 * itself. */
static char *form_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '+') {
            out[n++] = ' ';
        } else if (s[i] == '%' && len - i > 2 && (hi = hex_value(s[i + 1])) >= 0 &&
                   (lo = hex_value(s[i + 2])) >= 0) {
            out[n++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[n++] = s[i];
        }
    }
    out[n] = '\0';
    return out;
}

bool body_parse_form(const char *buf, size_t len, body_t *b, issuer_resp_t *resp)
{
    /* %00 would decode to a NUL that silently cuts the value short (only "%00" can) */
    for (size_t i = 0; i + 2 < len; i++) {
        if (buf[i] == '%' && buf[i + 1] == '0' && buf[i + 2] == '0') {
            resp_error(resp, 400, "invalid_request", "a parameter contains %%00 (NUL)");
            return false;
        }
    }
    size_t i = 0;
    while (i < len) {
        const char *pair = buf + i;
        const char *amp = memchr(pair, '&', len - i);
        size_t plen = amp != NULL ? (size_t)(amp - pair) : len - i;
        const char *eq = memchr(pair, '=', plen);
        if (eq == NULL || eq == pair) { /* no '=', an empty name, or an empty pair */
            resp_error(resp, 400, "invalid_request",
                       "the form body is malformed; send application/x-www-form-urlencoded "
                       "key=value pairs joined by &");
            return false;
        }
        size_t nlen = (size_t)(eq - pair);
        if (!body_take(b, form_decode(pair, nlen), form_decode(eq + 1, plen - nlen - 1), resp)) {
            return false;
        }
        i += plen + (amp != NULL ? 1 : 0); /* a trailing '&' ends the body */
    }
    return true;
}

/* Wipes the string members of a parsed body before jansson frees them. (The copies jansson's
 * lexer made while parsing are freed unwiped: a custom allocator would be process-wide.) */
static void json_wipe(json_t *o)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (json_is_string(v)) {
            /* jansson's own heap copy; writing to it is sound, it is freed next */
            mesh_wipe((char *)json_string_value(v), json_string_length(v));
        }
    }
}

bool body_parse_json(const char *buf, size_t len, body_t *b, issuer_resp_t *resp)
{
    json_t *o = NULL;
    bool ok = false;
    /* The library's door (<mesh/jansson.h>): duplicate members (RFC 6749 §3.2 forbids a
     * parameter twice), nesting and UTF-8 are refused by the rules tokens are read with. */
    mesh_err_t rc = mesh_json_parse(buf, len, MESH_MAX_JSON_DEPTH, "JSON body", &o);
    if (rc == MESH_ERR_JSON_DEPTH) {
        resp_error(resp, 400, "invalid_request",
                   "the JSON body is nested deeper than %d levels; send one object of string "
                   "members",
                   MESH_MAX_JSON_DEPTH);
        goto out;
    }
    if (rc == MESH_ERR_JSON_DUPLICATE) {
        resp_error(resp, 400, "invalid_request",
                   "the JSON body has a member more than once (%s); send each parameter once",
                   mesh_err_detail());
        goto out;
    }
    if (rc == MESH_ERR_NOMEM) {
        resp_error(resp, 500, "server_error", "out of memory");
        goto out;
    }
    if (rc != MESH_OK || !json_is_object(o)) {
        resp_error(resp, 400, "invalid_request",
                   "the JSON body is malformed (%s); send one object of string members",
                   rc != MESH_OK ? mesh_err_detail() : "not an object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        char num[32];
        const char *s;
        size_t slen;
        if (json_is_string(v)) {
            s = json_string_value(v);
            slen = json_string_length(v);
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            s = num;
            slen = strlen(num);
        } else {
            resp_error(resp, 400, "invalid_request", "member '%.64s' must be a string", key);
            goto out;
        }
        if (strlen(s) != slen) {
            resp_error(resp, 400, "invalid_request", "member '%.64s' contains NUL", key);
            goto out;
        }
        if (!body_take(b, strdup(key), strdup(s), resp)) {
            goto out;
        }
    }
    ok = true;
out:
    if (o != NULL) {
        json_wipe(o);
    }
    json_decref(o);
    return ok;
}

/* The media type of a Content-Type value is `want` (RFC 9110 §8.3.1: case-insensitive,
 * parameters after ';'). */
static bool media_type_is(const char *ctype, const char *want)
{
    while (*ctype == ' ' || *ctype == '\t') {
        ctype++;
    }
    size_t n = strlen(want);
    if (strncasecmp(ctype, want, n) != 0) {
        return false;
    }
    ctype += n;
    while (*ctype == ' ' || *ctype == '\t') {
        ctype++;
    }
    return *ctype == '\0' || *ctype == ';';
}

bool body_parse(const char *ctype, const char *buf, size_t len, body_t *b, issuer_resp_t *resp)
{
    if (len > MESH_MAX_REQUEST_BODY) {
        resp_error(resp, 413, "invalid_request", "body larger than %d bytes",
                   MESH_MAX_REQUEST_BODY);
        return false;
    }
    if (len > 0 && memchr(buf, '\0', len) != NULL) {
        resp_error(resp, 400, "invalid_request", "the body contains a NUL byte");
        return false;
    }
    if (ctype == NULL || media_type_is(ctype, "application/x-www-form-urlencoded")) {
        return body_parse_form(buf, len, b, resp);
    }
    if (media_type_is(ctype, "application/json")) {
        return body_parse_json(buf, len, b, resp);
    }
    resp_error(resp, 415, "invalid_request",
               "Content-Type '%.80s' is not accepted; send application/x-www-form-urlencoded or "
               "application/json",
               ctype);
    return false;
}
