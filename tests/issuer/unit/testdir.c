/* SPDX-License-Identifier: Apache-2.0 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdir.h"

static char dir_buf[4096];

const char *testdir_new(void)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(dir_buf, sizeof(dir_buf), "%s/mesh-issuer-test-XXXXXX",
                     base && base[0] ? base : "/tmp");

    if (n < 0 || (size_t)n >= sizeof(dir_buf) || mkdtemp(dir_buf) == NULL) {
        perror("testdir_new");
        abort();
    }
    return dir_buf;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void testdir_remove(const char *dir)
{
    (void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void testdir_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= cap) {
        abort();
    }
}

void testdir_url(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "sqlite:%s/%s", dir, name);

    if (n < 0 || (size_t)n >= cap) {
        abort();
    }
}
