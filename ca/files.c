/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Everything mesh-ca puts on disk goes through here: 0700 directories, files created with
 * their final mode before the first byte (mkstemp gives 0600; fchmod before writing), fsync,
 * rename. A pair (key + certificate) is replaced as one unit via staged *.new files, so a
 * crash leaves the old pair or the new one (see ca_pair_recover).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "ca.h"

void ca_crash_point(void)
{
    static long long steps;
    long long limit;
    const char *env = getenv("MESH_CA_TEST_CRASH_AFTER");

    if (env != NULL && ca_parse_int(env, 1, 1000000, &limit) && ++steps >= limit) {
        (void)raise(SIGKILL); /* a test hook: die like a power cut, no cleanup */
    }
}

mesh_err_t ca_dir_ensure(const char *dir, bool create, bool fix)
{
    struct stat st;

    if (create && mkdir(dir, 0700) == 0) {
        /* mkdir applies the umask; the mode must not depend on it */
        if (chmod(dir, 0700) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: chmod 700: %s", dir, strerror(errno));
        }
        return MESH_OK;
    }
    if (lstat(dir, &st) != 0) {
        return mesh_err_set(MESH_ERR_IO, "%s: %s%s", dir, strerror(errno),
                       errno == ENOENT ? "; run `mesh-ca init` first or pass --dir" : "");
    }
    if (!S_ISDIR(st.st_mode)) {
        return mesh_err_set(MESH_ERR_IO, "%s: not a directory", dir);
    }
    if (access(dir, R_OK | W_OK | X_OK) != 0) {
        return mesh_err_set(MESH_ERR_IO, "%s: %s; fix its owner/permissions or pick another --dir", dir,
                       strerror(errno));
    }
    if ((st.st_mode & 077) != 0) {
        if (!fix) {
            return mesh_err_set(MESH_ERR_IO,
                           "%s: directory holding private keys has mode %04o; "
                           "run `chmod 700 %s` or pass --fix-perms",
                           dir, (unsigned)(st.st_mode & 07777), dir);
        }
        if (chmod(dir, 0700) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: chmod 700: %s", dir, strerror(errno));
        }
        printf("  fixed     %s (mode %04o -> 0700)\n", dir, (unsigned)(st.st_mode & 07777));
    }
    return MESH_OK;
}

static mesh_err_t write_all(int fd, const void *buf, size_t len, const char *path)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: write: %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return MESH_OK;
}

mesh_err_t ca_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
    char tmp[CA_PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd = -1;
    mesh_err_t rc;

    /* Same directory as the target, so rename() is atomic; hidden and unmistakable. */
    rc = ca_path(tmp, sizeof(tmp), "%.*s.%s.tmp.XXXXXX", slash ? (int)(slash - path + 1) : 0, path,
                 slash ? slash + 1 : path);
    if (rc != MESH_OK) {
        return rc;
    }
    fd = mkstemp(tmp); /* O_EXCL, mode 0600 from the start */
    if (fd < 0) {
        return mesh_err_set(MESH_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    }
    if (fchmod(fd, mode) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: fchmod: %s", tmp, strerror(errno));
        goto out;
    }
    if ((rc = write_all(fd, buf, len, tmp)) != MESH_OK) {
        goto out;
    }
    if (fsync(fd) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    ca_crash_point();
    if (rename(tmp, path) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: rename: %s", path, strerror(errno));
        goto out;
    }
    tmp[0] = '\0';
    ca_crash_point();
out:
    if (fd >= 0) {
        close(fd);
    }
    if (tmp[0] != '\0') {
        unlink(tmp);
    }
    return rc;
}

/* Reads a PEM file whole into memory (wiped by ca_pem_free), so no stdio buffer keeps a copy
 * of a private key. A key file readable by group or others is refused, or fixed. */
static mesh_err_t read_checked(const char *path, bool key, bool fix, struct ca_pem *out)
{
    struct stat st;
    mesh_err_t rc = MESH_OK;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        return mesh_err_set(errno == ENOENT ? MESH_ERR_NOT_FOUND : MESH_ERR_IO, "%s: %s", path,
                       strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CA_MAX_PEM_BYTES) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: not a regular file of at most 64 KiB", path);
        goto out;
    }
    if (key && (st.st_mode & 077) != 0) {
        if (!fix || fchmod(fd, 0600) != 0) {
            rc = mesh_err_set(MESH_ERR_IO,
                         "%s: private key has mode %04o, readable by others; "
                         "run `chmod 600 %s` (and consider the key leaked) or pass --fix-perms",
                         path, (unsigned)(st.st_mode & 07777), path);
            goto out;
        }
        printf("  fixed     %s (mode %04o -> 0600)\n", path, (unsigned)(st.st_mode & 07777));
    }
    if (out == NULL) {
        goto out; /* a mode check only */
    }
    if ((out->data = malloc((size_t)st.st_size + 1)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
        goto out;
    }
    while (out->len < (size_t)st.st_size) {
        ssize_t n = read(fd, out->data + out->len, (size_t)st.st_size - out->len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = mesh_err_set(MESH_ERR_IO, "%s: read failed", path);
            goto out;
        }
        out->len += (size_t)n;
    }
out:
    close(fd);
    if (rc != MESH_OK && out != NULL) {
        ca_pem_free(out);
    }
    return rc;
}

mesh_err_t ca_check_key_mode(const char *path, bool fix)
{
    mesh_err_t rc = read_checked(path, true, fix, NULL);

    return rc == MESH_ERR_NOT_FOUND ? MESH_OK : rc;
}

enum pem_kind { PEM_PRIVATE, PEM_CERT, PEM_PUBLIC };

static mesh_err_t load_pem(const char *path, enum pem_kind kind, bool fix, void **out)
{
    struct ca_pem pem = {0};
    BIO *bio = NULL;
    mesh_err_t rc = read_checked(path, kind == PEM_PRIVATE, fix, &pem);

    if (rc != MESH_OK) {
        return rc;
    }
    if ((bio = BIO_new_mem_buf(pem.data, (int)pem.len)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
        goto out;
    }
    *out = kind == PEM_PRIVATE ? (void *)PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
           : kind == PEM_CERT  ? (void *)PEM_read_bio_X509(bio, NULL, NULL, NULL)
                               : (void *)PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    if (*out == NULL) {
        rc = mesh_err_openssl(kind == PEM_CERT ? MESH_ERR_CERT : MESH_ERR_KEY_PARSE, path);
    }
out:
    BIO_free(bio);
    ca_pem_free(&pem);
    return rc;
}

mesh_err_t ca_load_key(const char *path, bool fix, EVP_PKEY **out)
{
    void *obj = NULL;
    mesh_err_t rc = load_pem(path, PEM_PRIVATE, fix, &obj);

    if (rc == MESH_OK) {
        *out = obj;
    }
    return rc;
}

mesh_err_t ca_load_cert(const char *path, X509 **out)
{
    void *obj = NULL;
    mesh_err_t rc = load_pem(path, PEM_CERT, false, &obj);

    if (rc == MESH_OK) {
        *out = obj;
    }
    return rc;
}

mesh_err_t ca_load_pubkey(const char *path, EVP_PKEY **out)
{
    void *obj = NULL;
    mesh_err_t rc = load_pem(path, PEM_PUBLIC, false, &obj);

    if (rc == MESH_OK) {
        *out = obj;
    }
    return rc;
}

mesh_err_t ca_load_json(const char *path, size_t max, json_t **out)
{
    struct stat st;
    json_error_t jerr;
    FILE *f = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return mesh_err_set(errno == ENOENT ? MESH_ERR_NOT_FOUND : MESH_ERR_IO, "%s: %s", path,
                       strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return mesh_err_set(MESH_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        return mesh_err_set(MESH_ERR_LIMIT, "%s: %lld bytes, over the %zu-byte limit", path,
                       (long long)st.st_size, max);
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        close(fd);
        return mesh_err_set(MESH_ERR_IO, "%s: %s", path, strerror(errno));
    }
    /* Duplicate members make a document mean two things; jansson refuses them here. */
    *out = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (*out == NULL) {
        return mesh_err_set(MESH_ERR_JSON, "%s: line %d, column %d: %s", path, jerr.line, jerr.column,
                       jerr.text);
    }
    return MESH_OK;
}

bool ca_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static mesh_err_t pem_take(BIO *bio, struct ca_pem *out, const char *what)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    if (len <= 0 || (out->data = malloc((size_t)len)) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "%s: encoding failed", what);
    }
    memcpy(out->data, data, (size_t)len);
    out->len = (size_t)len;
    OPENSSL_cleanse(data, (size_t)len); /* the BIO copy may hold a private key */
    return MESH_OK;
}

mesh_err_t ca_pem_key(EVP_PKEY *k, struct ca_pem *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    mesh_err_t rc = MESH_ERR_NOMEM;

    if (bio != NULL && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) == 1) {
        rc = pem_take(bio, out, "private key");
    } else {
        rc = mesh_err_openssl(rc, "private key encoding");
    }
    BIO_free(bio);
    return rc;
}

mesh_err_t ca_pem_pubkey(EVP_PKEY *k, struct ca_pem *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    mesh_err_t rc = MESH_ERR_NOMEM;

    if (bio != NULL && PEM_write_bio_PUBKEY(bio, k) == 1) {
        rc = pem_take(bio, out, "public key");
    } else {
        rc = mesh_err_openssl(rc, "public key encoding");
    }
    BIO_free(bio);
    return rc;
}

mesh_err_t ca_pem_certs(X509 *a, X509 *b, struct ca_pem *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    mesh_err_t rc = MESH_ERR_NOMEM;

    if (bio != NULL && PEM_write_bio_X509(bio, a) == 1 &&
        (b == NULL || PEM_write_bio_X509(bio, b) == 1)) {
        rc = pem_take(bio, out, "certificate");
    } else {
        rc = mesh_err_openssl(rc, "certificate encoding");
    }
    BIO_free(bio);
    return rc;
}

void ca_pem_free(struct ca_pem *p)
{
    if (p->data != NULL) {
        OPENSSL_cleanse(p->data, p->len);
        free(p->data);
    }
    p->data = NULL;
    p->len = 0;
}

/* Makes renames in `dir` durable (POSIX: fsync on the directory). */
static mesh_err_t sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ok = fd >= 0 && fsync(fd) == 0;

    if (fd >= 0) {
        close(fd);
    }
    return ok ? MESH_OK : mesh_err_set(MESH_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
}

/* The four names of a staged pair: each file and its ".new" stage. */
struct pair_paths {
    char kpath[CA_PATH_MAX], knew[CA_PATH_MAX], ppath[CA_PATH_MAX], pnew[CA_PATH_MAX];
};

static mesh_err_t pair_paths(const char *dir, const char *keyname, const char *pubname,
                             struct pair_paths *p)
{
    mesh_err_t rc;

    if ((rc = ca_path(p->kpath, sizeof(p->kpath), "%s/%s", dir, keyname)) != MESH_OK ||
        (rc = ca_path(p->knew, sizeof(p->knew), "%s/%s.new", dir, keyname)) != MESH_OK ||
        (rc = ca_path(p->ppath, sizeof(p->ppath), "%s/%s", dir, pubname)) != MESH_OK ||
        (rc = ca_path(p->pnew, sizeof(p->pnew), "%s/%s.new", dir, pubname)) != MESH_OK) {
        return rc;
    }
    return MESH_OK;
}

mesh_err_t ca_pair_commit(const char *dir, const char *keyname, const struct ca_pem *key,
                          const char *pubname, const struct ca_pem *pub)
{
    struct pair_paths p;
    mesh_err_t rc = pair_paths(dir, keyname, pubname, &p);

    if (rc != MESH_OK) {
        return rc;
    }
    /* Order matters for recovery: pub.new, then key.new, then rename key, then pub. */
    if ((rc = ca_write_atomic(p.pnew, pub->data, pub->len, 0644)) != MESH_OK) {
        return rc;
    }
    if (key != NULL) {
        if ((rc = ca_write_atomic(p.knew, key->data, key->len, 0600)) != MESH_OK) {
            unlink(p.pnew);
            return rc;
        }
        if (rename(p.knew, p.kpath) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: rename: %s", p.kpath, strerror(errno));
        }
        ca_crash_point();
    }
    if (rename(p.pnew, p.ppath) != 0) {
        return mesh_err_set(MESH_ERR_IO, "%s: rename: %s", p.ppath, strerror(errno));
    }
    ca_crash_point();
    return sync_dir(dir);
}

/* Does the certificate or public key in `pubpath` belong to the private key in `keypath`? */
static bool pair_matches(const char *keypath, const char *pubpath)
{
    EVP_PKEY *key = NULL, *pub = NULL;
    X509 *cert = NULL;
    bool match = false;

    if (ca_load_key(keypath, false, &key) != MESH_OK) {
        goto out;
    }
    if (ca_load_cert(pubpath, &cert) == MESH_OK) {
        match = X509_check_private_key(cert, key) == 1;
    } else if (ca_load_pubkey(pubpath, &pub) == MESH_OK) {
        match = EVP_PKEY_eq(pub, key) == 1;
    }
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    X509_free(cert);
    return match;
}

mesh_err_t ca_pair_recover(const char *dir, const char *keyname, const char *pubname)
{
    struct pair_paths p;
    mesh_err_t rc = pair_paths(dir, keyname, pubname, &p);

    if (rc != MESH_OK) {
        return rc;
    }
    if (ca_exists(p.knew)) {
        /* key.new is written after pub.new: both complete, the commit only needs renaming. */
        if (ca_exists(p.pnew) ? rename(p.knew, p.kpath) != 0 : unlink(p.knew) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: cannot recover: %s", p.knew, strerror(errno));
        }
    }
    if (ca_exists(p.pnew)) {
        /* Roll forward when the staged file belongs to the current key, else roll back. */
        bool fwd = pair_matches(p.kpath, p.pnew);
        if (fwd ? rename(p.pnew, p.ppath) != 0 : unlink(p.pnew) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: cannot recover: %s", p.pnew, strerror(errno));
        }
        printf("  recovered %s (%s an interrupted run)\n", p.ppath, fwd ? "finished" : "undid");
    }
    return MESH_OK;
}

mesh_err_t ca_backup(const char *path, time_t now)
{
    char bak[CA_PATH_MAX];
    struct tm tm;
    char stamp[32];
    mesh_err_t rc;

    if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0) {
        return mesh_err_set(MESH_ERR_INTERNAL, "time conversion failed");
    }
    if ((rc = ca_path(bak, sizeof(bak), "%s.%s.bak", path, stamp)) != MESH_OK) {
        return rc;
    }
    /* A hard link keeps the old bytes and mode (0600 for keys) without copying. */
    if (link(path, bak) != 0 && errno != EEXIST) {
        return mesh_err_set(MESH_ERR_IO, "%s: backup to %s: %s", path, bak, strerror(errno));
    }
    return MESH_OK;
}
