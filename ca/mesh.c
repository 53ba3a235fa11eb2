/* SPDX-License-Identifier: Apache-2.0 */
/* Opening a mesh directory: recovery of interrupted runs, permission checks, the CA pair, and
 * issuing one leaf (shared by init, issue and renew). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ca.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

mesh_err_t ca_mesh_services(const struct ca_mesh *m, struct ca_strv *out)
{
    DIR *d = opendir(m->dir);
    struct dirent *de;
    mesh_err_t rc = MESH_OK;

    if (d == NULL) {
        return mesh_err_set(MESH_ERR_IO, "%s: %s", m->dir, strerror(errno));
    }
    while (rc == MESH_OK && (de = readdir(d)) != NULL) {
        if (de->d_type == DT_DIR && ca_valid_label(de->d_name)) {
            rc = ca_strv_add(out, de->d_name);
        }
    }
    closedir(d);
    if (rc == MESH_OK && out->n > 0) {
        qsort(out->v, out->n, sizeof(*out->v), cmp_str);
    }
    return rc;
}

/* Temp files of a killed run (".name.tmp.XXXXXX") are never the truth; they go. */
static void sweep_temps(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[MESH_MAX_PATH];

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp.") != NULL &&
            ca_path(path, sizeof(path), "%s/%s", dir, de->d_name) == MESH_OK) {
            (void)unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
}

static mesh_err_t recover_all(struct ca_mesh *m, const struct ca_strv *svcs)
{
    char sub[MESH_MAX_PATH];
    mesh_err_t rc;

    sweep_temps(m->dir);
    if ((rc = ca_pair_recover(m->dir, "ca.key", "ca.pem")) != MESH_OK ||
        (rc = ca_pair_recover(m->dir, "intermediate.key", "intermediate.pem")) != MESH_OK ||
        (rc = ca_pair_recover(m->dir, "jwt-signing.key", "jwt-signing.pub")) != MESH_OK) {
        return rc;
    }
    for (size_t i = 0; i < svcs->n; i++) {
        if ((rc = ca_path(sub, sizeof(sub), "%s/%s", m->dir, svcs->v[i])) != MESH_OK) {
            return rc;
        }
        sweep_temps(sub);
        if ((rc = ca_pair_recover(sub, "key.pem", "cert.pem")) != MESH_OK) {
            return rc;
        }
        /* An interrupted first issue can leave an empty directory; rmdir only takes empty ones. */
        if (rmdir(sub) == 0) {
            printf("  removed   %s (empty, left by an interrupted run)\n", sub);
        }
    }
    return MESH_OK;
}

/* Every key file is checked before anything is written: a loose mode stops the run. */
static mesh_err_t check_modes(struct ca_mesh *m, const struct ca_strv *svcs)
{
    static const char *const top[] = {"ca.key", "intermediate.key", "jwt-signing.key"};
    char path[MESH_MAX_PATH];
    mesh_err_t rc;

    for (size_t i = 0; i < CA_ARRAY_LEN(top); i++) {
        if ((rc = ca_path(path, sizeof(path), "%s/%s", m->dir, top[i])) != MESH_OK ||
            (rc = ca_check_key_mode(path, m->o->fix_perms)) != MESH_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < svcs->n; i++) {
        if ((rc = ca_path(path, sizeof(path), "%s/%s", m->dir, svcs->v[i])) != MESH_OK ||
            (rc = ca_dir_ensure(path, false, m->o->fix_perms)) != MESH_OK ||
            (rc = ca_path(path, sizeof(path), "%s/%s/key.pem", m->dir, svcs->v[i])) != MESH_OK ||
            (rc = ca_check_key_mode(path, m->o->fix_perms)) != MESH_OK) {
            return rc;
        }
    }
    return MESH_OK;
}

/* The trust domain: index.json says; else the root's CN "mesh-ca root CA (<td>)". */
static mesh_err_t find_trust_domain(struct ca_mesh *m)
{
    const char *td = json_string_value(json_object_get(m->idx, "trust_domain"));
    char cn[300] = "", *open, *close;

    if (td == NULL && m->root.cert != NULL &&
        X509_NAME_get_text_by_NID(X509_get_subject_name(m->root.cert), NID_commonName, cn,
                                  sizeof(cn)) > 0 &&
        (open = strchr(cn, '(')) != NULL && (close = strchr(open, ')')) != NULL) {
        *close = '\0';
        td = open + 1;
    }
    if (td == NULL || !ca_valid_dns(td, false)) {
        return MESH_OK; /* init sets it from the template */
    }
    free(m->trust_domain);
    m->trust_domain = strdup(td);
    return m->trust_domain ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "out of memory");
}

mesh_err_t ca_mesh_open(struct ca_mesh *m, const struct ca_opts *o, bool create, bool write)
{
    struct ca_strv svcs = {0};
    mesh_err_t rc;

    memset(m, 0, sizeof(*m));
    m->o = o;
    if ((rc = ca_path(m->dir, sizeof(m->dir), "%s", o->dir)) != MESH_OK) {
        return rc;
    }
    if ((rc = ca_dir_ensure(m->dir, create, o->fix_perms)) != MESH_OK ||
        (rc = ca_mesh_services(m, &svcs)) != MESH_OK) {
        goto out;
    }
    if (write && (rc = recover_all(m, &svcs)) != MESH_OK) {
        goto out;
    }
    ca_strv_free(&svcs); /* recovery may have removed empty directories */
    if (write &&
        ((rc = ca_mesh_services(m, &svcs)) != MESH_OK || (rc = check_modes(m, &svcs)) != MESH_OK)) {
        goto out;
    }
    if ((rc = ca_index_load(m->dir, &m->idx)) != MESH_OK) {
        goto out;
    }
    rc = MESH_OK;
out:
    ca_strv_free(&svcs);
    return rc;
}

static mesh_err_t load_signer(const char *dir, const char *name, struct ca_signer *s)
{
    char kp[MESH_MAX_PATH], cp[MESH_MAX_PATH];
    mesh_err_t rc;

    if ((rc = ca_path(kp, sizeof(kp), "%s/%s.key", dir, name)) != MESH_OK ||
        (rc = ca_path(cp, sizeof(cp), "%s/%s.pem", dir, name)) != MESH_OK) {
        return rc;
    }
    if ((rc = ca_load_cert(cp, &s->cert)) != MESH_OK ||
        (rc = ca_load_key(kp, false, &s->key)) != MESH_OK) {
        return rc == MESH_ERR_NOT_FOUND
                   ? mesh_err_set(rc, "%s: no CA here; run `mesh-ca init --dir %s` first", dir, dir)
                   : rc;
    }
    if (X509_check_private_key(s->cert, s->key) != 1) {
        ERR_clear_error();
        return mesh_err_set(MESH_ERR_CERT_KEY_MISMATCH,
                            "%s does not match %s; restore a backup or "
                            "run `mesh-ca init --force-ca`",
                            kp, cp);
    }
    return MESH_OK;
}

mesh_err_t ca_mesh_load_ca(struct ca_mesh *m)
{
    mesh_err_t rc;

    if ((rc = load_signer(m->dir, "ca", &m->root)) != MESH_OK ||
        (rc = load_signer(m->dir, "intermediate", &m->inter)) != MESH_OK) {
        return rc;
    }
    return find_trust_domain(m);
}

void ca_mesh_close(struct ca_mesh *m)
{
    X509_free(m->root.cert);
    EVP_PKEY_free(m->root.key);
    X509_free(m->inter.cert);
    EVP_PKEY_free(m->inter.key);
    json_decref(m->idx);
    free(m->trust_domain);
    memset(m, 0, sizeof(*m));
}

mesh_err_t ca_leaf_names(const char *name, bool development, const struct ca_strv *xdns,
                         const struct ca_strv *xips, struct ca_strv *dns, struct ca_strv *ips)
{
    mesh_err_t rc;

    /* DESIGN.md "Identity": DNS name = service, plus localhost + 127.0.0.1 for development
     * certificates only: a loopback SAN on every leaf lets any service of the mesh answer as
     * any other on a shared host, so outside development a leaf names only itself. */
    if ((rc = ca_strv_add(dns, name)) != MESH_OK) {
        return rc;
    }
    if (development && ((rc = ca_strv_add(dns, "localhost")) != MESH_OK ||
                        (rc = ca_strv_add(ips, "127.0.0.1")) != MESH_OK)) {
        return rc;
    }
    for (size_t i = 0; xdns != NULL && i < xdns->n; i++) {
        if ((rc = ca_strv_add(dns, xdns->v[i])) != MESH_OK) {
            return rc;
        }
    }
    for (size_t i = 0; xips != NULL && i < xips->n; i++) {
        if ((rc = ca_strv_add(ips, xips->v[i])) != MESH_OK) {
            return rc;
        }
    }
    return MESH_OK;
}

bool ca_mesh_development(const struct ca_mesh *m)
{
    json_t *v = json_object_get(m->idx, "development");

    return !json_is_false(v); /* absent: a mesh from before the member, all development */
}

void ca_say_development(void)
{
    printf("  note      development mesh: every service certificate is also valid for localhost "
           "and 127.0.0.1 (template \"development\": false for a mesh beyond one machine)\n");
}

/* The key to certify: the existing one when asked to keep it, else a new one. */
static mesh_err_t leaf_key(const char *keypath, mesh_key_type_t kt, bool keep, EVP_PKEY **out,
                           bool *kept)
{
    *kept = false;
    if (keep && ca_exists(keypath)) {
        mesh_err_t rc = ca_load_key(keypath, false, out);
        mesh_key_type_t have;
        /* A key of another type than asked for is replaced, or init would loop on it. */
        if (rc == MESH_OK && ca_key_type_of(*out, &have) && have == kt) {
            *kept = true;
            return MESH_OK;
        }
        EVP_PKEY_free(*out);
        *out = NULL;
        if (rc != MESH_OK) {
            return rc;
        }
    }
    return ca_key_generate(kt, out);
}

static mesh_err_t leaf_commit(struct ca_mesh *m, const char *sub, X509 *cert, EVP_PKEY *key,
                              bool kept, bool backup)
{
    struct ca_pem cp = {0}, kp = {0};
    char path[MESH_MAX_PATH];
    mesh_err_t rc;

    if ((rc = ca_pem_certs(cert, m->inter.cert, &cp)) != MESH_OK ||
        (!kept && (rc = ca_pem_key(key, &kp)) != MESH_OK) ||
        (rc = ca_dir_ensure(sub, true, m->o->fix_perms)) != MESH_OK) {
        goto out;
    }
    if (backup) {
        if ((rc = ca_path(path, sizeof(path), "%s/cert.pem", sub)) != MESH_OK ||
            (ca_exists(path) && (rc = ca_backup(path, m->o->now)) != MESH_OK) ||
            (rc = ca_path(path, sizeof(path), "%s/key.pem", sub)) != MESH_OK ||
            (!kept && ca_exists(path) && (rc = ca_backup(path, m->o->now)) != MESH_OK)) {
            goto out;
        }
    }
    rc = ca_pair_commit(sub, "key.pem", kept ? NULL : &kp, "cert.pem", &cp);
out:
    ca_pem_free(&cp);
    ca_pem_free(&kp);
    return rc;
}

mesh_err_t ca_leaf_issue(struct ca_mesh *m, const struct ca_leaf_req *req, mesh_key_type_t kt,
                         bool keep_key, bool backup, const char *verb)
{
    char sub[MESH_MAX_PATH], keypath[MESH_MAX_PATH], date[16];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    bool kept = false;
    time_t na = 0;
    mesh_err_t rc;

    if ((rc = ca_path(sub, sizeof(sub), "%s/%s", m->dir, req->name)) != MESH_OK ||
        (rc = ca_path(keypath, sizeof(keypath), "%s/key.pem", sub)) != MESH_OK ||
        (rc = leaf_key(keypath, kt, keep_key, &key, &kept)) != MESH_OK ||
        (rc = ca_mint_leaf(req, key, &m->inter, m->o->now, &cert)) != MESH_OK) {
        goto out;
    }
    /* Never write a certificate that would not verify (name constraints included). */
    if ((rc = ca_chain_verify(cert, m->inter.cert, m->root.cert, m->o->now)) != MESH_OK) {
        char why[256];
        (void)snprintf(why, sizeof(why), "%s", mesh_err_detail());
        rc = mesh_err_set(MESH_ERR_CERT, "%s: the new certificate would not verify: %s%s",
                          req->name, why,
                          X509_get_ext_by_NID(m->inter.cert, NID_name_constraints, -1) >= 0
                              ? " (the intermediate has name constraints: add the names to the "
                                "template's name_constraints.dns and re-create the CA with "
                                "`mesh-ca init --force-ca --name-constraints`)"
                              : "");
        goto out;
    }
    if ((rc = leaf_commit(m, sub, cert, key, kept, backup)) != MESH_OK ||
        (rc = ca_index_record(m->idx, "leaf", req->name, cert)) != MESH_OK) {
        goto out;
    }
    (void)ca_asn1_to_time(X509_get0_notAfter(cert), &na);
    ca_fmt_date(na, date, sizeof(date));
    if (!kept) {
        mesh_key_type_t t = kt;
        (void)ca_key_type_of(key, &t);
        printf("  %-9s %s/key.pem (%s, mode 0600)\n", verb, sub, ca_keytype_label(t));
    } else {
        printf("  kept      %s/key.pem (--keep-key)\n", sub);
    }
    printf("  %-9s %s/cert.pem (spiffe://%s/%s, expires %s)\n", verb, sub, req->trust_domain,
           req->name, date);
out:
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}
