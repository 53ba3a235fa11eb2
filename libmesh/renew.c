/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One renewal (mesh_renew_once): a new key, a CSR, POST /v1/certificate to the issuer over
 * mTLS with the current pair (or with a join token the first time), the answer checked and
 * written as a pair no reader sees half of (renew.h). The background thread is renew_thread.c,
 * the X.509 work x509_renew_csr.c, HTTP http.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mesh/limits.h>

#include "http.h"
#include "internal.h"
#include "json.h"
#include "json_emit.h"
#include "renew_internal.h"
#include "stripe.h"

#define NEW_SUFFIX ".new"

static char *with_suffix(const char *path)
{
    size_t n = strlen(path) + sizeof(NEW_SUFFIX);
    char *p = malloc(n);

    if (p != NULL) {
        snprintf(p, n, "%s" NEW_SUFFIX, path);
    }
    return p;
}

static void free_key_pem(char *pem, size_t len)
{
    if (pem != NULL) {
        mesh_wipe(pem, len);
    }
    mesh_free(pem);
}

MESH_EXPORT mesh_err_t mesh_identity_read_pair(const char *cert_path, const char *key_path,
                                               char **cert_pem, size_t *cert_len, char **key_pem,
                                               size_t *key_len)
{
    mesh_err_clear();
    if (cert_path == NULL || key_path == NULL || cert_pem == NULL || key_pem == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_identity_read_pair: both paths and "
                                                  "both outputs are required");
    }
    for (int i = 0; i < MESH_RENEW_READ_TRIES; i++) {
        char *c = NULL, *k = NULL;
        size_t cl = 0, kl = 0;
        mesh_err_t rc = mesh_file_read(cert_path, MESH_MAX_PEM_BYTES, &c, &cl);
        if (rc == MESH_OK) {
            rc = mesh_file_read(key_path, MESH_MAX_PEM_BYTES, &k, &kl);
        }
        if (rc != MESH_OK) {
            mesh_free(c);
            return rc;
        }
        if (mesh_x509_pem_pair_matches(c, cl, k, kl)) {
            *cert_pem = c;
            *key_pem = k;
            if (cert_len != NULL) {
                *cert_len = cl;
            }
            if (key_len != NULL) {
                *key_len = kl;
            }
            return MESH_OK;
        }
        mesh_free(c);
        free_key_pem(k, kl);
        /* A renewal between its two renames (renew.h): the key follows within moments. */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return mesh_err_set(MESH_ERR_CERT_KEY_MISMATCH,
                        "the key in %s is not the one of the "
                        "certificate in %s (read %d times): give the key that belongs to the "
                        "certificate, or renew the pair (mesh renew)",
                        key_path, cert_path, MESH_RENEW_READ_TRIES);
}

/* A renewal that stopped between its renames left the new certificate in place and the new
 * key beside it: finish it. Anything else at <key>.new is left alone (and overwritten by the
 * next renewal). */
static void finish_interrupted(const mesh_renew_opts_t *o)
{
    char *knew = with_suffix(o->key_path);
    char *c = NULL, *k = NULL;
    size_t cl = 0, kl = 0;

    if (knew != NULL && access(knew, F_OK) == 0 &&
        mesh_file_read(o->cert_path, MESH_MAX_PEM_BYTES, &c, &cl) == MESH_OK &&
        mesh_file_read(knew, MESH_MAX_PEM_BYTES, &k, &kl) == MESH_OK &&
        mesh_x509_pem_pair_matches(c, cl, k, kl)) {
        if (rename(knew, o->key_path) != 0) {
            fprintf(stderr, "libmesh: renew: cannot finish the interrupted renewal of %s: %s\n",
                    o->key_path, strerror(errno));
        }
    }
    mesh_err_clear();
    mesh_free(c);
    free_key_pem(k, kl);
    free(knew);
}

/* The current pair, when it matches and is valid now: renewals authenticate with it. */
static bool current_pair(const mesh_renew_opts_t *o, mesh_renew_info_t *info)
{
    char *c = NULL, *k = NULL;
    size_t cl = 0, kl = 0;
    bool ok = false;
    int64_t now = (int64_t)time(NULL);

    if (access(o->cert_path, R_OK) == 0 && access(o->key_path, R_OK) == 0 &&
        mesh_identity_read_pair(o->cert_path, o->key_path, &c, &cl, &k, &kl) == MESH_OK &&
        mesh_x509_pem_info(c, cl, o->cert_path, info) == MESH_OK) {
        ok = info->not_before <= now && now < info->not_after;
    }
    mesh_err_clear();
    mesh_free(c);
    free_key_pem(k, kl);
    return ok;
}

/* RFC 8414 metadata's mesh_certificate_endpoint, else <issuer>/v1/certificate. */
static char *cert_endpoint(mesh_http_t *h, const char *issuer)
{
    size_t n = strlen(issuer);
    char meta[MESH_MAX_OPT_STRING + 64], *out = NULL;
    mesh_http_resp_t r = {0};
    mesh_http_req_t q = {0};

    while (n > 0 && issuer[n - 1] == '/') {
        n--;
    }
    snprintf(meta, sizeof(meta), "%.*s/.well-known/oauth-authorization-server", (int)n, issuer);
    q.url = meta;
    q.max_body = MESH_MAX_METADATA_BYTES;
    if (mesh_http_do(h, &q, &r) == MESH_OK && r.status == 200) {
        json_t *doc = NULL;
        if (mesh_json_parse_object(r.body, r.body_len, MESH_MAX_JSON_DEPTH, "issuer metadata",
                                   &doc) == MESH_OK) {
            const char *ep = json_string_value(json_object_get(doc, "mesh_certificate_endpoint"));
            if (ep != NULL && strncmp(ep, "https://", 8) == 0) {
                out = strdup(ep);
            }
            json_decref(doc);
        }
    }
    mesh_http_resp_clear(&r);
    mesh_err_clear();
    if (out == NULL) {
        size_t cap = n + sizeof("/v1/certificate");
        if ((out = malloc(cap)) != NULL) {
            snprintf(out, cap, "%.*s/v1/certificate", (int)n, issuer);
        }
    }
    return out;
}

/* Copies a string from the issuer for a detail message, dropping control characters. */
static void clean(char *out, size_t cap, const char *in)
{
    size_t j = 0;

    for (size_t i = 0; in != NULL && in[i] != '\0' && j + 1 < cap; i++) {
        out[j++] = (unsigned char)in[i] < 0x20 ? ' ' : in[i];
    }
    out[j] = '\0';
}

static mesh_err_t issuer_refused(const char *url, const mesh_http_resp_t *r)
{
    json_t *doc = NULL;
    char err[96] = "", desc[320] = "";

    if (mesh_json_parse_object(r->body, r->body_len, MESH_MAX_JSON_DEPTH, "issuer error", &doc) ==
        MESH_OK) {
        clean(err, sizeof(err), json_string_value(json_object_get(doc, "error")));
        clean(desc, sizeof(desc), json_string_value(json_object_get(doc, "error_description")));
        json_decref(doc);
    }
    return mesh_err_set(MESH_ERR_ISSUER_ERROR,
                        "issuer %s refused the certificate request: "
                        "HTTP %ld %s: %s",
                        url, r->status, err[0] != '\0' ? err : "(no error)",
                        desc[0] != '\0' ? desc : "(no description)");
}

/* The 200 answer: the chain, checked against the new key, the CA and the identity asked. */
static mesh_err_t parse_answer(const mesh_renew_opts_t *o, const char *url,
                               const mesh_http_resp_t *r, const mesh_key_t *key,
                               const char *want_id, char **chain, mesh_renew_info_t *info)
{
    json_t *doc = NULL;
    const char *pem;
    mesh_err_t rc;

    rc = mesh_json_parse_object(r->body, r->body_len, MESH_MAX_JSON_DEPTH, "certificate answer",
                                &doc);
    if (rc != MESH_OK) {
        return rc;
    }
    pem = json_string_value(json_object_get(doc, "chain"));
    if (pem == NULL) {
        pem = json_string_value(json_object_get(doc, "certificate"));
    }
    if (pem == NULL || strlen(pem) > MESH_MAX_PEM_BYTES) {
        rc = mesh_err_set(MESH_ERR_ISSUER_ERROR,
                          "issuer %s: the answer has no \"chain\" PEM "
                          "(at most %d bytes)",
                          url, MESH_MAX_PEM_BYTES);
    } else if (!mesh_x509_pem_has_key(pem, strlen(pem), key)) {
        rc = mesh_err_set(MESH_ERR_CERT,
                          "issuer %s answered a certificate that is not for the "
                          "key of this request; nothing written",
                          url);
    } else if ((rc = mesh_x509_pem_chain_check(pem, strlen(pem), o->ca_path,
                                               (int64_t)time(NULL))) != MESH_OK) {
        /* detail set */
    } else if ((rc = mesh_x509_pem_info(pem, strlen(pem), "the issuer's answer", info)) !=
               MESH_OK) {
        /* detail set */
    } else if (want_id != NULL && strcmp(info->spiffe_id, want_id) != 0) {
        rc = mesh_err_set(MESH_ERR_CERT,
                          "issuer %s answered a certificate for \"%s\", not for "
                          "\"%s\" as asked; nothing written",
                          url, info->spiffe_id, want_id);
    } else if ((*chain = strdup(pem)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "certificate");
    }
    json_decref(doc);
    return rc;
}

/* The pair on disk (renew.h): both new files, then the certificate, then the key. */
static mesh_err_t write_pair(const mesh_renew_opts_t *o, const mesh_key_t *key, const char *chain)
{
    char *knew = with_suffix(o->key_path), *cnew = with_suffix(o->cert_path);
    mesh_err_t rc;

    if (knew == NULL || cnew == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "renew");
        goto out;
    }
    /* mesh_key_write_pem_file: a temporary created 0600 before its first byte, renamed. */
    if ((rc = mesh_key_write_pem_file(key, knew, true, true)) != MESH_OK ||
        (rc = mesh_file_write_atomic(cnew, chain, strlen(chain), 0644, true)) != MESH_OK) {
        unlink(knew);
        goto out;
    }
    if (rename(cnew, o->cert_path) != 0) {
        rc = mesh_err_set(MESH_ERR_IO, "renew: cannot move %s to %s: %s", cnew, o->cert_path,
                          strerror(errno));
        unlink(cnew);
        unlink(knew);
        goto out;
    }
    if (rename(knew, o->key_path) != 0) {
        /* The new certificate is in place without its key: the next renewal finishes it. */
        rc = mesh_err_set(MESH_ERR_IO,
                          "renew: cannot move %s to %s: %s (the next renewal "
                          "completes it)",
                          knew, o->key_path, strerror(errno));
        goto out;
    }
    rc = MESH_OK;
out:
    free(knew);
    free(cnew);
    return rc;
}

static mesh_err_t request_body(const char *csr, char **out)
{
    size_t cap = strlen(csr) * 2 + 32;
    char *buf = malloc(cap);
    mesh_jemit_t w;

    if (buf == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "renew");
    }
    mesh_jemit_init(&w, buf, cap - 1);
    mesh_jemit_raw(&w, "{\"csr\":");
    mesh_jemit_str(&w, csr);
    mesh_jemit_raw(&w, "}");
    if (w.err != MESH_OK) {
        free(buf);
        return mesh_err_set(w.err, "renew: CSR body");
    }
    buf[w.len] = '\0';
    *out = buf;
    return MESH_OK;
}

MESH_EXPORT mesh_err_t mesh_renew_once(const mesh_renew_opts_t *o, mesh_renew_info_t *info)
{
    long status = 0;
    return mesh_renew_run(o, info, &status);
}

mesh_err_t mesh_renew_run(const mesh_renew_opts_t *o, mesh_renew_info_t *info, long *status)
{
    mesh_renew_info_t cur = {0}, got = {0};
    mesh_http_opts_t ho = {0};
    mesh_http_t *h = NULL;
    mesh_http_req_t q = {0};
    mesh_http_resp_t r = {0};
    mesh_key_t *key = NULL;
    char *csr = NULL, *body = NULL, *url = NULL, *chain = NULL;
    char join_hdr[MESH_JOIN_TOKEN_LEN + 32] = "";
    const char *headers[3] = {"Content-Type: application/json", NULL, NULL};
    bool have_cert;
    mesh_err_t rc;

    mesh_err_clear();
    if (o == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_renew_once: options are required");
    }
    if ((rc = mesh_renew_opts_check(o)) != MESH_OK) {
        return rc;
    }
    finish_interrupted(o);
    have_cert = current_pair(o, &cur);
    if (!have_cert && o->join_token == NULL) {
        return mesh_err_set(MESH_ERR_CERT,
                            "renew: %s is missing, expired or does not match "
                            "%s, and no join token was given: ask the operator for one "
                            "(mesh-issuer join-token create) and pass it (--join-token, "
                            "MESH_JOIN_TOKEN)",
                            o->cert_path, o->key_path);
    }
    ho.ca_path = o->ca_path;
    ho.timeout_ms = (long)o->timeout_ms;
    if (have_cert) {
        ho.cert_path = o->cert_path;
        ho.key_path = o->key_path;
    }
    if ((rc = mesh_http_new(&ho, &h)) != MESH_OK ||
        (rc = mesh_key_generate(o->key_type, &key)) != MESH_OK ||
        (rc = mesh_x509_csr_pem(key, have_cert && cur.spiffe_id[0] != '\0' ? cur.spiffe_id : NULL,
                                &csr)) != MESH_OK ||
        (rc = request_body(csr, &body)) != MESH_OK) {
        goto out;
    }
    if ((url = cert_endpoint(h, o->issuer_url)) == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "renew");
        goto out;
    }
    if (!have_cert) {
        snprintf(join_hdr, sizeof(join_hdr), "Mesh-Join-Token: %s", o->join_token);
        headers[1] = join_hdr;
    }
    q.method = "POST";
    q.url = url;
    q.headers = headers;
    q.body = body;
    q.body_len = strlen(body);
    q.max_body = MESH_MAX_CERT_RESPONSE_BYTES;
    q.with_cert = have_cert;
    rc = mesh_http_do(h, &q, &r);
    if (rc != MESH_OK) {
        goto out;
    }
    *status = r.status;
    if (r.status != 200) {
        rc = issuer_refused(url, &r);
        goto out;
    }
    rc = parse_answer(o, url, &r, key, have_cert && cur.spiffe_id[0] != '\0' ? cur.spiffe_id : NULL,
                      &chain, &got);
    if (rc == MESH_OK) {
        rc = write_pair(o, key, chain);
    }
    if (rc == MESH_OK && info != NULL) {
        *info = got;
    }
out:
    mesh_wipe(join_hdr, sizeof(join_hdr));
    mesh_http_resp_clear(&r);
    mesh_http_free(h);
    mesh_key_free(key);
    free(csr);
    free(body);
    free(url);
    free(chain);
    return rc;
}

MESH_EXPORT mesh_err_t mesh_certfile_renewal(const char *cert_path, const mesh_renew_opts_t *o,
                                             mesh_renew_info_t *info)
{
    mesh_renew_opts_t *defaults = NULL;
    char *pem = NULL;
    size_t len = 0;
    mesh_renew_info_t got;
    mesh_err_t rc;

    mesh_err_clear();
    if (cert_path == NULL || info == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "mesh_certfile_renewal: cert_path and info "
                                                  "are required");
    }
    if (o == NULL && (rc = mesh_renew_opts_new(&defaults)) != MESH_OK) {
        return rc;
    }
    rc = mesh_file_read(cert_path, MESH_MAX_PEM_BYTES, &pem, &len);
    if (rc == MESH_OK) {
        rc = mesh_x509_pem_info(pem, len, cert_path, &got);
    }
    if (rc == MESH_OK) {
        got.renew_at =
            mesh_renew_point(o != NULL ? o : defaults, got.not_before, got.not_after, 1.0);
        *info = got;
    }
    mesh_free(pem);
    mesh_renew_opts_free(defaults);
    return rc;
}
