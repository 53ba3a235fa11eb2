/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: mesh-issuer's request body parsers (issuer/body.c). The first byte picks
 * the Content-Type, the rest is the body. Beyond not crashing, it checks what the handlers
 * rely on: accepted parameters are unique UTF-8 without NUL and at most MESH_MAX_REQUEST_PARAMS; a
 * refusal is an RFC 6749 §5.2 error whose description has only the bytes §5.2 allows; and a
 * form that parsed, encoded again, parses to the same parameters.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *ctype;
    bool form;
} CTYPES[] = {
    {NULL, true},
    {"application/x-www-form-urlencoded", true},
    {"application/json", false},
    {"application/json; charset=utf-8", false},
    {"text/plain", false},
};

static void check_accepted(const body_t *b)
{
    if (b->n > MESH_MAX_REQUEST_PARAMS) {
        abort();
    }
    for (size_t i = 0; i < b->n; i++) {
        json_t *n = json_string(b->names[i]), *v = json_string(b->values[i]); /* UTF-8 */
        if (n == NULL || v == NULL) {
            abort();
        }
        json_decref(n);
        json_decref(v);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(b->names[i], b->names[j]) == 0) {
                abort();
            }
        }
    }
}

static void check_refused(const issuer_resp_t *resp)
{
    if (resp->status != 400 && resp->status != 413 && resp->status != 415 && resp->status != 500) {
        abort();
    }
    const char *d = json_string_value(json_object_get(resp->body, "error_description"));
    if (d == NULL || json_string_value(json_object_get(resp->body, "error")) == NULL) {
        abort();
    }
    for (const unsigned char *p = (const unsigned char *)d; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') {
            abort();
        }
    }
}

/* Percent-encodes every byte that is not unreserved (RFC 3986 §2.3). */
static size_t encode(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    return n;
}

/* The parameters of a parsed form, encoded again, parse to the same parameters. */
static void check_round_trip(const body_t *b)
{
    size_t cap = 1;
    for (size_t i = 0; i < b->n; i++) {
        cap += 3 * (strlen(b->names[i]) + strlen(b->values[i])) + 2;
    }
    char *text = malloc(cap);
    if (text == NULL) {
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0) {
            text[n++] = '&';
        }
        n += encode(b->names[i], text + n);
        text[n++] = '=';
        n += encode(b->values[i], text + n);
    }
    body_t again = {.n = 0};
    issuer_resp_t resp = {.status = 0};
    bool ok = body_parse_form(text, n, &again, &resp);
    if (!ok || again.n != b->n) {
        abort();
    }
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(again.names[i], b->names[i]) != 0 ||
            strcmp(again.values[i], b->values[i]) != 0) {
            abort();
        }
    }
    body_free(&again);
    json_decref(resp.body);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t pick = data[0] % (sizeof(CTYPES) / sizeof(CTYPES[0]));
    body_t b = {.n = 0};
    issuer_resp_t resp = {.status = 0};
    if (body_parse(CTYPES[pick].ctype, (const char *)data + 1, size - 1, &b, &resp)) {
        if (resp.body != NULL) {
            abort();
        }
        check_accepted(&b);
        if (CTYPES[pick].form) {
            check_round_trip(&b);
        }
    } else {
        check_refused(&resp);
    }
    body_free(&b);
    if (b.n != 0) {
        abort();
    }
    json_decref(resp.body);
    return 0;
}
