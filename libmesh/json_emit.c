/* SPDX-License-Identifier: Apache-2.0 */
#include "json_emit.h"

#include <string.h>

void mesh_jemit_init(mesh_jemit_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = MESH_OK;
}

static void put(mesh_jemit_t *w, const char *s, size_t n)
{
    if (w->err != MESH_OK) {
        return;
    }
    if (n > w->cap - w->len) {
        w->err = MESH_ERR_LIMIT;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

void mesh_jemit_raw(mesh_jemit_t *w, const char *s)
{
    put(w, s, strlen(s));
}

/*
 * Length of the well-formed UTF-8 sequence at `p` whose lead byte is >= 0x80 (RFC 3629 §4,
 * Unicode Table 3-7), or 0. The second byte's range excludes overlong forms (E0, F0),
 * surrogates (ED) and code points above U+10FFFF (F4); C0, C1 and F5..FF never lead.
 */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    /* A NUL terminator fails these range checks, so nothing past the string is read. */
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

void mesh_jemit_str(mesh_jemit_t *w, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p; /* start of bytes not yet written */

    put(w, "\"", 1);
    while (*p != '\0') {
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t esc_len = 2;
        size_t n;

        if (*p >= 0x80) {
            n = utf8_len(p);
            if (n == 0) {
                if (w->err == MESH_OK) {
                    w->err = MESH_ERR_UTF8;
                }
                return;
            }
            p += n;
            continue;
        }
        if (*p >= 0x20 && *p != '"' && *p != '\\') {
            p++;
            continue;
        }
        /* RFC 8259 §7: the two-character escapes where they exist, else \u00XX. */
        switch (*p) {
        case '"':
        case '\\':
            esc[1] = (char)*p;
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[4] = hex[*p >> 4];
            esc[5] = hex[*p & 0xf];
            esc_len = 6;
            break;
        }
        put(w, (const char *)run, (size_t)(p - run));
        put(w, esc, esc_len);
        run = ++p;
    }
    put(w, (const char *)run, (size_t)(p - run));
    put(w, "\"", 1);
}

void mesh_jemit_int(mesh_jemit_t *w, int64_t v)
{
    char digits[21]; /* "-9223372036854775808" */
    size_t i = sizeof(digits);
    /* The magnitude as unsigned, so INT64_MIN does not overflow. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        digits[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        digits[--i] = '-';
    }
    put(w, digits + i, sizeof(digits) - i);
}
