/* SPDX-License-Identifier: Apache-2.0 */
/* PEM in and out: parsing with OSSL_DECODER, writing keys to files atomically with their mode. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "internal.h"
#include "key_internal.h"

/* Encrypted PEM is not supported: refuse to prompt for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

static mesh_err_t pem_decode(const char *pem, size_t len, const char *what, EVP_PKEY **out)
{
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx = NULL;
    const unsigned char *p = (const unsigned char *)pem;
    size_t left = len;
    mesh_err_t rc = MESH_OK;

    /* selection 0: SubjectPublicKeyInfo, PKCS#8 and the traditional RSA/EC forms alike. */
    dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, 0, NULL, NULL);
    if (dctx == NULL) {
        return mesh_err_openssl(MESH_ERR_INTERNAL, what);
    }
    if (OSSL_DECODER_CTX_set_pem_password_cb(dctx, no_passphrase, NULL) != 1 ||
        OSSL_DECODER_from_data(dctx, &p, &left) != 1 || pkey == NULL) {
        ERR_clear_error();
        rc = mesh_err_set(MESH_ERR_KEY_PARSE, "%s: no unencrypted PEM key (SubjectPublicKeyInfo, "
                          "PKCS#8, RSA or EC PRIVATE KEY) could be read", what);
        EVP_PKEY_free(pkey);
        goto out;
    }
    *out = pkey;
out:
    OSSL_DECODER_CTX_free(dctx);
    return rc;
}

static mesh_err_t key_from_pem_named(const char *pem, size_t len, mesh_alg_t alg,
                                     const char *what, mesh_key_t **out)
{
    EVP_PKEY *pkey = NULL;
    mesh_err_t rc;

    if (len > MESH_MAX_PEM_BYTES) {
        return mesh_err_set(MESH_ERR_LIMIT, "%s: %zu bytes, over the %d-byte PEM limit", what,
                            len, MESH_MAX_PEM_BYTES);
    }
    rc = pem_decode(pem, len, what, &pkey);
    if (rc != MESH_OK) {
        return rc;
    }
    return mesh_key_wrap(pkey, alg, NULL, what, out);
}

MESH_EXPORT mesh_err_t mesh_key_from_pem(const char *pem, size_t len, mesh_alg_t alg,
                                         mesh_key_t **out)
{
    mesh_err_clear();
    if (pem == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_from_pem: NULL argument");
    }
    return key_from_pem_named(pem, len, alg, "PEM key", out);
}

MESH_EXPORT mesh_err_t mesh_key_load_pem_file(const char *path, mesh_alg_t alg, mesh_key_t **out)
{
    char *buf = NULL;
    size_t len = 0;
    mesh_err_t rc;

    mesh_err_clear();
    if (path == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_load_pem_file: NULL argument");
    }
    rc = mesh_read_file(path, MESH_MAX_PEM_BYTES, &buf, &len);
    if (rc == MESH_OK) {
        rc = key_from_pem_named(buf, len, alg, path, out);
        OPENSSL_cleanse(buf, len);
    }
    free(buf);
    return rc;
}

/* PEM of the public key (SPKI) or the private key (PKCS#8) in a BIO; secure memory if private. */
static mesh_err_t pem_encode(const mesh_key_t *key, bool private_part, BIO **out)
{
    BIO *bio = BIO_new(private_part ? BIO_s_secmem() : BIO_s_mem());
    int ok;

    if (bio == NULL) {
        return mesh_err_openssl(MESH_ERR_NOMEM, "PEM encoding");
    }
    if (private_part) {
        ok = PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL);
    } else {
        ok = PEM_write_bio_PUBKEY(bio, key->pkey);
    }
    if (ok != 1) {
        BIO_free(bio);
        return mesh_err_openssl(MESH_ERR_INTERNAL, "PEM encoding");
    }
    *out = bio;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_key_public_pem(const mesh_key_t *key, char **out)
{
    BIO *bio = NULL;
    char *data = NULL;
    char *s;
    long n;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_public_pem: NULL argument");
    }
    rc = pem_encode(key, false, &bio);
    if (rc != MESH_OK) {
        return rc;
    }
    n = BIO_get_mem_data(bio, &data);
    s = malloc((size_t)n + 1);
    if (s == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "public PEM: out of memory");
    } else {
        memcpy(s, data, (size_t)n);
        s[n] = '\0';
        *out = s;
    }
    BIO_free(bio);
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

/* Gives the temporary file its final mode, its contents, and makes them durable. */
static mesh_err_t fill_temp(int fd, const char *data, size_t len, mode_t mode, const char *path)
{
    mesh_err_t rc;

    /* The mode is set explicitly: never rely on the umask (0600 private, 0644 public). */
    if (fchmod(fd, mode) != 0) {
        return mesh_err_set(MESH_ERR_IO, "%s: cannot set the file mode: %s", path,
                            strerror(errno));
    }
    rc = write_all(fd, data, len, path);
    if (rc == MESH_OK && fsync(fd) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    }
    return rc;
}

/* A new file beside `path`, created 0600 (never through a symlink, never an existing file). */
static mesh_err_t open_temp(const char *path, char *tmp, size_t cap, int *fd)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char r[6];
        int n;

        if (RAND_bytes(r, sizeof(r)) != 1) {
            return mesh_err_openssl(MESH_ERR_INTERNAL, "temporary file name");
        }
        n = snprintf(tmp, cap, "%s.tmp-%02x%02x%02x%02x%02x%02x", path, r[0], r[1], r[2], r[3],
                     r[4], r[5]);
        if (n < 0 || (size_t)n >= cap) {
            return mesh_err_set(MESH_ERR_IO, "%s: path too long", path);
        }
        *fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (*fd >= 0) {
            return MESH_OK;
        }
        if (errno != EEXIST) {
            return mesh_err_set(MESH_ERR_IO, "%s: cannot create a file in its directory: %s",
                                path, strerror(errno));
        }
    }
    return mesh_err_set(MESH_ERR_IO, "%s: could not find a free temporary name", path);
}

/* fsync the directory holding `path`, so the rename itself survives a crash. */
static void sync_dir(const char *path)
{
    char copy[4096];
    int fd;

    if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy)) {
        return;
    }
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Moves tmp to path: rename() when overwriting, else link() which fails if path exists. */
static mesh_err_t publish(const char *tmp, const char *path, bool overwrite)
{
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            return mesh_err_set(MESH_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        }
        return MESH_OK;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST) {
            return mesh_err_set(MESH_ERR_IO, "%s: already exists; remove it or pass overwrite "
                                "(--force)", path);
        }
        return mesh_err_set(MESH_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    (void)unlink(tmp);
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_key_write_pem_file(const mesh_key_t *key, const char *path,
                                               bool private_part, bool overwrite)
{
    char tmp[4096];
    BIO *bio = NULL;
    char *data = NULL;
    long n;
    int fd = -1;
    bool created = false;
    mesh_err_t rc;

    mesh_err_clear();
    if (key == NULL || path == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_key_write_pem_file: NULL argument");
    }
    if (private_part && !key->is_private) {
        return mesh_err_set(MESH_ERR_KEY_NOT_PRIVATE, "%s: the key has no private half to "
                            "write", path);
    }
    rc = pem_encode(key, private_part, &bio);
    if (rc != MESH_OK) {
        return rc;
    }
    n = BIO_get_mem_data(bio, &data);
    rc = open_temp(path, tmp, sizeof(tmp), &fd);
    if (rc != MESH_OK) {
        goto out;
    }
    created = true;
    rc = fill_temp(fd, data, (size_t)n, private_part ? 0600 : 0644, path);
    if (rc != MESH_OK) {
        goto out;
    }
    rc = publish(tmp, path, overwrite);
    if (rc == MESH_OK) {
        created = false; /* renamed, or linked and unlinked */
        sync_dir(path);
    }
out:
    if (fd >= 0) {
        close(fd);
    }
    if (created) {
        (void)unlink(tmp);
    }
    BIO_free(bio); /* a secmem BIO wipes the private PEM */
    return rc;
}
