/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded file reads and atomic private writes (<mesh/util.h>): the one copy of each that
 * libmesh, mesh-ca, the issuer and the CLI use.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mesh/util.h>
#include <mesh/limits.h>

#include "internal.h"

/* Attempts at a free temporary name before giving up (48 random bits each). */
#define FILE_TEMP_ATTEMPTS 16

MESH_EXPORT mesh_err_t mesh_file_read(const char *path, size_t max, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    mesh_err_t rc = MESH_ERR_IO;
    int fd;

    if (path == NULL || out == NULL || max >= SIZE_MAX - 1) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_file_read: NULL argument");
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return mesh_err_set(MESH_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    /* O_NONBLOCK only keeps open() from hanging on a FIFO; regular files ignore it. */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > max) {
        rc = mesh_err_set(MESH_ERR_LIMIT, "%s: %lld bytes, over the %zu-byte limit", path,
                          (long long)st.st_size, max);
        goto out;
    }
    /* The size may change after fstat(): read up to max + 1 bytes, whatever the file does. */
    buf = malloc((size_t)st.st_size + 2);
    if (buf == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (size_t cap = (size_t)st.st_size + 1;;) {
        ssize_t n;

        if (got == cap) {
            char *bigger;

            if (cap > max) {
                break; /* max + 1 bytes read: the file grew past the limit */
            }
            cap = cap > max - cap ? max + 1 : 2 * cap;
            bigger = realloc(buf, cap + 1);
            if (bigger == NULL) {
                rc = mesh_err_set(MESH_ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = bigger;
        }
        n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = mesh_err_set(MESH_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    if (got > max) {
        rc = mesh_err_set(MESH_ERR_LIMIT, "%s: grew past the %zu-byte limit while read", path, max);
        goto out;
    }
    buf[got] = '\0';
    *out = buf;
    if (len != NULL) {
        *len = got;
    }
    buf = NULL;
    rc = MESH_OK;
out:
    if (buf != NULL) {
        mesh_wipe(buf, got); /* the file may have held a private key */
        free(buf);
    }
    close(fd);
    return rc;
}

static mesh_err_t write_all(int fd, const char *data, size_t len, const char *path)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        }
        data += n;
        len -= (size_t)n;
    }
    return MESH_OK;
}

/*
 * A new file ".<name>.tmp.<hex>" beside `path`, never through a symlink, never an existing
 * file. Hidden and unmistakable, so a program can sweep the leftovers of a killed run.
 */
static mesh_err_t open_temp(const char *path, unsigned int mode, char *tmp, size_t cap, int *fd)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash != NULL ? (int)(slash - path + 1) : 0;
    const char *base = slash != NULL ? slash + 1 : path;

    for (int attempt = 0; attempt < FILE_TEMP_ATTEMPTS; attempt++) {
        unsigned char r[6];
        int n;

        if (mesh_random_bytes(r, sizeof(r)) != MESH_OK) {
            return MESH_ERR_INTERNAL;
        }
        n = snprintf(tmp, cap, "%.*s.%s.tmp.%02x%02x%02x%02x%02x%02x", dirlen, path, base, r[0],
                     r[1], r[2], r[3], r[4], r[5]);
        if (n < 0 || (size_t)n >= cap) {
            return mesh_err_set(MESH_ERR_LIMIT, "%s: path too long", path);
        }
        /* Created with no more than the final mode's owner bits: a secret is never readable by
         * others, not even for an instant; fchmod() then sets the exact mode. */
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0600);
        if (*fd >= 0) {
            return MESH_OK;
        }
        if (errno != EEXIST) {
            return mesh_err_set(MESH_ERR_IO, "%s: cannot create a file in its directory: %s", path,
                                strerror(errno));
        }
    }
    return mesh_err_set(MESH_ERR_IO, "%s: could not find a free temporary name", path);
}

/* fsync the directory holding `path`, so the rename itself survives a crash. */
static mesh_err_t sync_dir(const char *path)
{
    char copy[MESH_MAX_PATH];
    int fd;
    int ok;

    if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: path too long", path);
    }
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    return ok ? MESH_OK
              : mesh_err_set(MESH_ERR_IO, "%s: fsync of its directory: %s", path, strerror(errno));
}

/* Moves tmp to path: rename() when replacing, else link(), which fails if path exists. */
static mesh_err_t publish(const char *tmp, const char *path, bool replace)
{
    if (replace) {
        if (rename(tmp, path) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        }
        return MESH_OK;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            return mesh_err_set(MESH_ERR_IO,
                                "%s: already exists; remove it or pass overwrite "
                                "(--force)",
                                path);
        }
        return mesh_err_set(MESH_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    (void)unlink(tmp);
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_file_write_atomic(const char *path, const void *data, size_t len,
                                              unsigned int mode, bool replace)
{
    char tmp[MESH_MAX_PATH];
    int fd = -1;
    bool created = false;
    mesh_err_t rc;

    if (path == NULL || (data == NULL && len > 0) || (mode & ~07777u) != 0) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_file_write_atomic: invalid argument");
    }
    rc = open_temp(path, mode, tmp, sizeof(tmp), &fd);
    if (rc != MESH_OK) {
        goto out;
    }
    created = true;
    /* The mode is set explicitly, before the first byte: never rely on the umask. */
    if (fchmod(fd, (mode_t)mode) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: cannot set the file mode: %s", path, strerror(errno));
        goto out;
    }
    rc = write_all(fd, data, len, path);
    if (rc != MESH_OK) {
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
        goto out;
    }
    rc = publish(tmp, path, replace);
    if (rc != MESH_OK) {
        goto out;
    }
    created = false; /* renamed, or linked and unlinked */
    rc = sync_dir(path);
out:
    if (fd >= 0) {
        close(fd);
    }
    if (created) {
        (void)unlink(tmp);
    }
    return rc;
}
