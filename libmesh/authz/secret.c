/* SPDX-License-Identifier: Apache-2.0 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <mesh/util.h>

bool secret_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

static int hexval(char c)
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

bool secret_parse_hash(const char *s, uint8_t out[32])
{
    if (strncmp(s, "sha256:", 7) != 0 || strlen(s + 7) != 64) {
        return false;
    }
    s += 7;
    for (size_t i = 0; i < 32; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

void secret_wipe(void *p, size_t len)
{
    if (p != NULL) {
        OPENSSL_cleanse(p, len);
    }
}

bool secret_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                      size_t errlen)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s: a secret file must be a regular file with mode 0600 or 0400 (it is %o); "
                 "chmod 600 it",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return false;
    }
    if (st.st_size <= 0 || (size_t)st.st_size > max) {
        snprintf(err, errlen, "%s: must hold 1..%zu bytes", path, max);
        close(fd);
        return false;
    }
    uint8_t *buf = malloc((size_t)st.st_size);
    ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
    close(fd);
    if (got != st.st_size) {
        snprintf(err, errlen, "%s: cannot read it whole", path);
        secret_wipe(buf, (size_t)st.st_size);
        free(buf);
        return false;
    }
    size_t n = (size_t)got;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--; /* a trailing newline an editor added is no part of the key */
    }
    *out = buf;
    *len = n;
    return true;
}

const api_key_t *secret_match_key(const issuer_t *is, const char *key, size_t len)
{
    uint8_t h[32];
    if (!secret_sha256(key, len, h)) {
        return NULL;
    }
    const api_key_t *found = NULL;
    for (size_t i = 0; i < is->n_keys; i++) {
        bool eq = mesh_equal_ct(h, is->keys[i].hash, sizeof(h));
        found = eq && found == NULL ? &is->keys[i] : found;
    }
    secret_wipe(h, sizeof(h));
    return found;
}
