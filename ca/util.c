/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-ca helpers: error detail, strict parsing, names, times, string lists. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>

#include "ca.h"

bool ca_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || *s == '\0' || *s == ' ' || *s == '+') {
        return false;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool ca_parse_duration(const char *s, long long *secs)
{
    static const struct {
        char suffix;
        long long secs;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    char num[32];
    size_t len = s ? strlen(s) : 0;
    long long unit = 86400, v;

    if (len == 0 || len >= sizeof(num)) {
        return false;
    }
    memcpy(num, s, len + 1);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (num[len - 1] == units[i].suffix) {
            unit = units[i].secs;
            num[len - 1] = '\0';
            break;
        }
    }
    if (!ca_parse_int(num, 0, 100LL * 365 * 86400, &v)) {
        return false;
    }
    *secs = v * unit;
    return true;
}

bool ca_valid_label(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return true;
}

bool ca_valid_dns(const char *s, bool wildcard)
{
    char label[64];
    const char *p = s;
    size_t total = strlen(s);

    if (total == 0 || total > 253) {
        return false;
    }
    if (wildcard && strncmp(p, "*.", 2) == 0) {
        p += 2;
    }
    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof(label)) {
            return false;
        }
        memcpy(label, p, n);
        label[n] = '\0';
        if (!ca_valid_label(label)) {
            return false;
        }
        p += n;
        if (*p == '.') {
            p++;
            if (*p == '\0') {
                return false; /* no trailing dot: certificates carry names without it */
            }
        }
    }
    return true;
}

bool ca_is_ip(const char *s)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

mesh_err_t ca_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        return mesh_err_set(MESH_ERR_LIMIT, "path too long (over %zu bytes)", size - 1);
    }
    return MESH_OK;
}

void ca_fmt_date(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%d", &tm) == 0) {
        (void)snprintf(buf, size, "?");
    }
}

void ca_fmt_time(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        (void)snprintf(buf, size, "?");
    }
}

bool ca_asn1_to_time(const ASN1_TIME *a, time_t *out)
{
    struct tm tm;

    if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1) {
        return false;
    }
    *out = timegm(&tm);
    return true;
}

bool ca_parse_time(const char *s, time_t *out)
{
    struct tm tm;
    char z = 0;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &z) != 7 ||
        z != 'Z') {
        return false;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = timegm(&tm);
    return true;
}

mesh_err_t ca_strv_add(struct ca_strv *sv, const char *s)
{
    char **v;
    char *copy;

    if (ca_strv_has(sv, s)) {
        return MESH_OK;
    }
    copy = strdup(s);
    if (copy == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    v = realloc(sv->v, (sv->n + 1) * sizeof(*v));
    if (v == NULL) {
        free(copy);
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    v[sv->n++] = copy;
    sv->v = v;
    return MESH_OK;
}

bool ca_strv_has(const struct ca_strv *sv, const char *s)
{
    for (size_t i = 0; i < sv->n; i++) {
        if (strcmp(sv->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

void ca_strv_free(struct ca_strv *sv)
{
    for (size_t i = 0; i < sv->n; i++) {
        free(sv->v[i]);
    }
    free(sv->v);
    sv->v = NULL;
    sv->n = 0;
}

static const struct {
    mesh_key_type_t type;
    const char *label;
} keytypes[] = {
    {MESH_KEY_P256, "ECDSA P-256"},
    {MESH_KEY_RSA2048, "RSA-2048"},
    {MESH_KEY_RSA3072, "RSA-3072"},
    {MESH_KEY_ED25519, "Ed25519"},
};

const char *ca_keytype_label(mesh_key_type_t t)
{
    for (size_t i = 0; i < CA_ARRAY_LEN(keytypes); i++) {
        if (keytypes[i].type == t) {
            return keytypes[i].label;
        }
    }
    return "?";
}
