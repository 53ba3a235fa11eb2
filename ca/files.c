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

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/openssl.h>
#include <mesh/util.h>

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
        return mesh_err_set(MESH_ERR_IO, "%s: %s; fix its owner/permissions or pick another --dir",
                            dir, strerror(errno));
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

mesh_err_t ca_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
    mesh_err_t rc;

    /* libmesh's writer: temp file ".name.tmp.*" beside path (mode set before the first byte),
     * fsync, rename, fsync of the directory; ca_mesh_open sweeps the temps of a killed run. */
    ca_crash_point();
    rc = mesh_file_write_atomic(path, buf, len, (unsigned int)mode, true);
    if (rc == MESH_OK) {
        ca_crash_point();
    }
    return rc;
}

/* mesh_file_read, with a missing file told apart (MESH_ERR_NOT_FOUND): init creates it. */
static mesh_err_t read_file(const char *path, size_t max, struct ca_pem *out)
{
    struct stat st;

    if (lstat(path, &st) != 0 && errno == ENOENT) {
        return mesh_err_set(MESH_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
    }
    return mesh_file_read(path, max, &out->data, &out->len);
}

/* A key file readable by group or others is refused, or fixed (never through a symlink). */
static mesh_err_t check_key_mode(const char *path, bool fix)
{
    struct stat st;
    mesh_err_t rc = MESH_OK;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        return mesh_err_set(errno == ENOENT ? MESH_ERR_NOT_FOUND : MESH_ERR_IO, "%s: %s", path,
                            strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        if (!fix || fchmod(fd, 0600) != 0) {
            rc = mesh_err_set(MESH_ERR_IO,
                              "%s: private key has mode %04o, readable by others; "
                              "run `chmod 600 %s` (and consider the key leaked) or pass "
                              "--fix-perms",
                              path, (unsigned)(st.st_mode & 07777), path);
            goto out;
        }
        printf("  fixed     %s (mode %04o -> 0600)\n", path, (unsigned)(st.st_mode & 07777));
    }
out:
    close(fd);
    return rc;
}

mesh_err_t ca_check_key_mode(const char *path, bool fix)
{
    mesh_err_t rc = check_key_mode(path, fix);

    return rc == MESH_ERR_NOT_FOUND ? MESH_OK : rc;
}

/* A key through libmesh (mesh_key_load_pem_file: bounded read, the checks verifiers run),
 * handed to the X.509 code as an EVP_PKEY of its own (a reference taken). */
static mesh_err_t load_mesh_key(const char *path, bool want_private, EVP_PKEY **out)
{
    mesh_key_t *key = NULL;
    mesh_err_t rc = mesh_key_load_pem_file(path, MESH_ALG_UNSET, &key);

    if (rc != MESH_OK) {
        return rc;
    }
    if (want_private && !mesh_key_is_private(key)) {
        rc = mesh_err_set(MESH_ERR_KEY_NOT_PRIVATE, "%s: a public key, the private key is needed",
                          path);
    } else if (EVP_PKEY_up_ref(mesh_key_evp(key)) != 1) {
        rc = mesh_err_openssl(MESH_ERR_INTERNAL, path);
    } else {
        *out = mesh_key_evp(key);
    }
    mesh_key_free(key);
    return rc;
}

mesh_err_t ca_load_key(const char *path, bool fix, EVP_PKEY **out)
{
    mesh_err_t rc = check_key_mode(path, fix);

    return rc != MESH_OK ? rc : load_mesh_key(path, true, out);
}

mesh_err_t ca_load_cert(const char *path, X509 **out)
{
    struct ca_pem pem = {0};
    BIO *bio = NULL;
    X509 *cert;
    mesh_err_t rc = read_file(path, MESH_MAX_PEM_BYTES, &pem);

    if (rc != MESH_OK) {
        return rc;
    }
    if ((bio = BIO_new_mem_buf(pem.data, (int)pem.len)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    } else if ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
        rc = mesh_err_openssl(MESH_ERR_CERT, path);
    } else {
        *out = cert;
    }
    BIO_free(bio);
    ca_pem_free(&pem);
    return rc;
}

mesh_err_t ca_load_pubkey(const char *path, EVP_PKEY **out)
{
    struct stat st;

    if (lstat(path, &st) != 0 && errno == ENOENT) {
        return mesh_err_set(MESH_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
    }
    return load_mesh_key(path, false, out);
}

mesh_err_t ca_load_json(const char *path, size_t max, json_t **out)
{
    struct ca_pem text = {0};
    mesh_err_t rc = read_file(path, max, &text);

    if (rc != MESH_OK) {
        return rc;
    }
    /* libmesh's JSON door: duplicate members refused (a document must mean one thing), depth
     * bounded, strict UTF-8; the value must be an object. */
    rc = mesh_json_parse_object(text.data, text.len, MESH_MAX_JSON_DEPTH, path, out);
    ca_pem_free(&text);
    return rc;
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
    char kpath[MESH_MAX_PATH], knew[MESH_MAX_PATH], ppath[MESH_MAX_PATH], pnew[MESH_MAX_PATH];
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
    char bak[MESH_MAX_PATH];
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
