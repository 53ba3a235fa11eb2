/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `mesh-ca init`: bring a directory to what the template describes, idempotently. Each step
 * keeps what is valid, creates what is missing and replaces what is wrong, and says so per
 * file. The root CA is replaced only with --force-ca.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca.h"

static void warn_force_ca(const char *dir)
{
    fprintf(stderr,
            "mesh-ca: WARNING: --force-ca replaces the root CA in %s/ca.pem.\n"
            "  Every certificate the old CA signed stops verifying: all services here (they are\n"
            "  re-issued now) and any copies elsewhere. Every trust store, TLS_CA_PATH copy or\n"
            "  container image holding the old ca.pem must be updated. The old CA files are kept\n"
            "  as dated *.bak files in %s.\n",
            dir, dir);
}

static mesh_err_t commit_signer(struct ca_mesh *m, const char *name, struct ca_signer *s,
                                bool backup)
{
    struct ca_pem kp = {0}, cp = {0};
    char kn[32], cn[32], path[MESH_MAX_PATH];
    mesh_err_t rc;

    (void)snprintf(kn, sizeof(kn), "%s.key", name);
    (void)snprintf(cn, sizeof(cn), "%s.pem", name);
    if ((rc = ca_pem_key(s->key, &kp)) != MESH_OK ||
        (rc = ca_pem_certs(s->cert, NULL, &cp)) != MESH_OK) {
        goto out;
    }
    if (backup && ((rc = ca_path(path, sizeof(path), "%s/%s", m->dir, kn)) != MESH_OK ||
                   (ca_exists(path) && (rc = ca_backup(path, m->o->now)) != MESH_OK) ||
                   (rc = ca_path(path, sizeof(path), "%s/%s", m->dir, cn)) != MESH_OK ||
                   (ca_exists(path) && (rc = ca_backup(path, m->o->now)) != MESH_OK))) {
        goto out;
    }
    rc = ca_pair_commit(m->dir, kn, &kp, cn, &cp);
out:
    ca_pem_free(&kp);
    ca_pem_free(&cp);
    return rc;
}

static void say_ca(const struct ca_mesh *m, const char *verb, const char *name, X509 *cert,
                   const char *what)
{
    char date[16];
    time_t t = 0;

    (void)ca_asn1_to_time(X509_get0_notAfter(cert), &t);
    ca_fmt_date(t, date, sizeof(date));
    printf("  %-9s %s/%s.key (mode 0600)\n", verb, m->dir, name);
    printf("  %-9s %s/%s.pem (%s, expires %s)\n", verb, m->dir, name, what, date);
}

static mesh_err_t ensure_root(struct ca_mesh *m, const struct ca_template *t, bool *created)
{
    struct ca_item it;
    struct ca_signer s = {0};
    mesh_err_t rc;

    *created = false;
    ca_inspect_ca(m, true, &it);
    if (it.st == CA_ST_OK && !m->o->force_ca) {
        rc = ca_mesh_load_ca(m); /* the intermediate may be missing: checked next */
        ERR_clear_error();
        if (m->root.cert != NULL) {
            say_ca(m, "kept", "ca", m->root.cert, "root CA");
            return MESH_OK;
        }
        return rc;
    }
    if (it.st != CA_ST_MISSING && !m->o->force_ca) {
        return mesh_err_set(MESH_ERR_CERT,
                            "%s; mesh-ca never replaces a root CA on its own: run "
                            "`mesh-ca init --force-ca` (every certificate and trust store with the "
                            "old ca.pem must then be updated)",
                            it.why);
    }
    if (it.st != CA_ST_MISSING) {
        warn_force_ca(m->dir);
    }
    if ((rc = ca_key_generate(t->ca_key, &s.key)) != MESH_OK ||
        (rc = ca_mint_root(s.key, t->trust_domain, t->root_days, m->o->now, &s.cert)) != MESH_OK ||
        (rc = commit_signer(m, "ca", &s, it.st != CA_ST_MISSING)) != MESH_OK ||
        (rc = ca_index_record(m->idx, "root", "", s.cert)) != MESH_OK) {
        X509_free(s.cert);
        EVP_PKEY_free(s.key);
        return rc;
    }
    X509_free(m->root.cert);
    EVP_PKEY_free(m->root.key);
    m->root = s;
    *created = true;
    say_ca(m, it.st == CA_ST_MISSING ? "created" : "replaced", "ca", s.cert, "root CA");
    return MESH_OK;
}

/* Permitted DNS names for --name-constraints: the template's list, else every name in use. */
static mesh_err_t nc_names(const struct ca_template *t, struct ca_strv *out)
{
    mesh_err_t rc = MESH_OK;

    for (size_t i = 0; rc == MESH_OK && i < t->nc_dns.n; i++) {
        rc = ca_strv_add(out, t->nc_dns.v[i]);
    }
    if (t->nc_dns.n > 0) {
        return rc;
    }
    if (t->development) {
        rc = ca_strv_add(out, "localhost"); /* every development leaf has it */
    }
    for (size_t i = 0; rc == MESH_OK && i < t->nsvcs; i++) {
        rc = ca_strv_add(out, t->svcs[i].name);
        for (size_t j = 0; rc == MESH_OK && j < t->svcs[i].dns.n; j++) {
            const char *d = t->svcs[i].dns.v[j];
            rc = ca_strv_add(out, strncmp(d, "*.", 2) == 0 ? d + 2 : d);
        }
    }
    return rc;
}

static mesh_err_t ensure_inter(struct ca_mesh *m, const struct ca_template *t, bool root_new,
                               bool *created)
{
    struct ca_item it;
    struct ca_signer s = {0};
    struct ca_strv nc = {0};
    mesh_err_t rc;

    *created = false;
    ca_inspect_ca(m, false, &it);
    if (it.st == CA_ST_OK && !root_new && m->inter.cert != NULL) {
        say_ca(m, "kept", "intermediate", m->inter.cert, "intermediate CA");
        if (m->o->name_constraints &&
            X509_get_ext_by_NID(m->inter.cert, NID_name_constraints, -1) < 0) {
            printf("  note      intermediate.pem has no name constraints; `--force-ca "
                   "--name-constraints` re-creates the CA with them\n");
        }
        return MESH_OK;
    }
    if (m->o->name_constraints && (rc = nc_names(t, &nc)) != MESH_OK) {
        goto out;
    }
    if ((rc = ca_key_generate(t->ca_key, &s.key)) != MESH_OK ||
        (rc = ca_mint_intermediate(s.key, &m->root, t->trust_domain, t->intermediate_days,
                                   m->o->name_constraints ? &nc : NULL, m->o->now, &s.cert)) !=
            MESH_OK ||
        (rc = commit_signer(m, "intermediate", &s, it.st != CA_ST_MISSING)) != MESH_OK ||
        (rc = ca_index_record(m->idx, "intermediate", "", s.cert)) != MESH_OK) {
        goto out;
    }
    X509_free(m->inter.cert);
    EVP_PKEY_free(m->inter.key);
    m->inter = s;
    s.cert = NULL;
    s.key = NULL;
    *created = true;
    say_ca(m, it.st == CA_ST_MISSING ? "created" : "replaced", "intermediate", m->inter.cert,
           it.st == CA_ST_MISSING || root_new ? "intermediate CA" : it.why);
out:
    ca_strv_free(&nc);
    X509_free(s.cert);
    EVP_PKEY_free(s.key);
    return rc;
}

static mesh_err_t ensure_jwt(struct ca_mesh *m, const struct ca_template *t)
{
    char kp[MESH_MAX_PATH], pp[MESH_MAX_PATH];
    mesh_key_type_t want = m->o->jwt_key_set ? m->o->jwt_key : t->jwt_key, have = want;
    EVP_PKEY *key = NULL, *pub = NULL;
    struct ca_pem kpem = {0}, ppem = {0};
    bool exists, ok;
    mesh_err_t rc;

    if ((rc = ca_path(kp, sizeof(kp), "%s/jwt-signing.key", m->dir)) != MESH_OK ||
        (rc = ca_path(pp, sizeof(pp), "%s/jwt-signing.pub", m->dir)) != MESH_OK) {
        return rc;
    }
    exists = ca_exists(kp) || ca_exists(pp);
    ok = ca_load_key(kp, false, &key) == MESH_OK && ca_load_pubkey(pp, &pub) == MESH_OK &&
         EVP_PKEY_eq(key, pub) == 1 && ca_key_type_of(key, &have);
    ERR_clear_error();
    if (ok && !m->o->force) {
        printf("  kept      %s, jwt-signing.pub (%s)%s\n", kp, ca_keytype_label(have),
               have != want ? "; --force replaces it with the requested type" : "");
        goto out;
    }
    EVP_PKEY_free(key);
    key = NULL;
    if ((rc = ca_key_generate(want, &key)) != MESH_OK || (rc = ca_pem_key(key, &kpem)) != MESH_OK ||
        (rc = ca_pem_pubkey(key, &ppem)) != MESH_OK ||
        (exists && ca_exists(kp) && (rc = ca_backup(kp, m->o->now)) != MESH_OK) ||
        (exists && ca_exists(pp) && (rc = ca_backup(pp, m->o->now)) != MESH_OK) ||
        (rc = ca_pair_commit(m->dir, "jwt-signing.key", &kpem, "jwt-signing.pub", &ppem)) !=
            MESH_OK) {
        goto out;
    }
    printf("  %-9s %s (%s JWT signing key, mode 0600)\n", exists ? "replaced" : "created", kp,
           ca_keytype_label(want));
    printf("  %-9s %s\n", exists ? "replaced" : "created", pp);
out:
    ca_pem_free(&kpem);
    ca_pem_free(&ppem);
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    return rc;
}

mesh_err_t ca_leaf_from_cert(const char *certpath, struct ca_strv *dns, struct ca_strv *ips,
                             int *days)
{
    X509 *cert = NULL;
    struct ca_strv names = {0};
    time_t nb = 0, na = 0;
    mesh_err_t rc = ca_load_cert(certpath, &cert);

    if (rc != MESH_OK || (rc = ca_cert_names(cert, &names)) != MESH_OK) {
        goto out;
    }
    for (size_t i = 0; rc == MESH_OK && i < names.n; i++) {
        if (strncmp(names.v[i], "DNS:", 4) == 0) {
            rc = ca_strv_add(dns, names.v[i] + 4);
        } else if (strncmp(names.v[i], "IP:", 3) == 0) {
            rc = ca_strv_add(ips, names.v[i] + 3);
        }
    }
    if (ca_asn1_to_time(X509_get0_notBefore(cert), &nb) &&
        ca_asn1_to_time(X509_get0_notAfter(cert), &na) && na > nb) {
        /* the same lifetime again (NotBefore was backdated by a minute) */
        *days = (int)((na - nb - CA_BACKDATE_SECS + 43200) / 86400);
    }
    if (*days < 1) {
        *days = 90;
    }
out:
    ca_strv_free(&names);
    X509_free(cert);
    return rc;
}

static mesh_err_t ensure_leaf(struct ca_mesh *m, const struct ca_template *t,
                              const struct ca_service *svc)
{
    struct ca_strv dns = {0}, ips = {0};
    struct ca_leaf_req req = {svc->name, t->trust_domain, &dns, &ips,
                              svc->days ? svc->days : t->leaf_days};
    struct ca_item it;
    mesh_err_t rc = ca_leaf_names(svc->name, t->development, &svc->dns, &svc->ips, &dns, &ips);

    if (rc != MESH_OK) {
        goto out;
    }
    ca_inspect_leaf(m, svc->name, &req, &svc->key, &it);
    if (it.st == CA_ST_OK && !m->o->force) {
        char date[16];
        ca_fmt_date(it.not_after, date, sizeof(date));
        printf("  kept      %s/%s/cert.pem, key.pem (%s, expires %s)\n", m->dir, svc->name, it.key,
               date);
        goto out;
    }
    if (it.st != CA_ST_OK && it.st != CA_ST_MISSING) {
        printf("  note      %s: %s: %s\n", svc->name,
               it.st == CA_ST_OUTDATED  ? "changed"
               : it.st == CA_ST_REVOKED ? "revoked"
               : it.st == CA_ST_EXPIRED ? "expired"
                                        : "invalid",
               it.why);
    }
    rc = ca_leaf_issue(m, &req, svc->key, m->o->keep_key, it.st != CA_ST_MISSING,
                       it.st == CA_ST_MISSING ? "created" : "reissued");
out:
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    return rc;
}

/* Services issued with `mesh-ca issue` that the template does not list: kept, or re-issued
 * with their own names when they no longer chain (after --force-ca) or have expired. */
static mesh_err_t ensure_extra(struct ca_mesh *m, const struct ca_template *t, const char *name)
{
    struct ca_strv dns = {0}, ips = {0};
    struct ca_leaf_req req = {name, t->trust_domain, &dns, &ips, 90};
    struct ca_item it;
    char cp[MESH_MAX_PATH];
    mesh_key_type_t kt = MESH_KEY_P256;
    mesh_err_t rc = MESH_OK;

    ca_inspect_leaf(m, name, NULL, NULL, &it);
    if (it.st == CA_ST_MISSING || (it.st == CA_ST_OK && !m->o->force)) {
        if (it.st == CA_ST_OK) {
            printf("  kept      %s/%s/cert.pem, key.pem (not in the template)\n", m->dir, name);
        }
        if (it.st == CA_ST_OK && it.loopback && !t->development) {
            /* its names are its own (from `issue`), so they are not rewritten here */
            printf("  note      %s still has loopback SANs; `mesh-ca issue %s --force` re-issues "
                   "it without them\n",
                   name, name);
        }
        goto out;
    }
    if ((rc = ca_path(cp, sizeof(cp), "%s/%s/cert.pem", m->dir, name)) != MESH_OK ||
        (rc = ca_leaf_from_cert(cp, &dns, &ips, &req.days)) != MESH_OK) {
        printf("  skipped   %s: %s (not in the template; fix or remove it)\n", name,
               mesh_err_detail());
        rc = MESH_OK;
        goto out;
    }
    if (!mesh_key_type_from_name(it.key, &kt)) {
        kt = MESH_KEY_P256; /* an unreadable key is replaced by the default type */
    }
    if (it.st != CA_ST_OK) {
        printf("  note      %s: %s\n", name, it.why);
    }
    rc = ca_leaf_issue(m, &req, kt, m->o->keep_key, true, "reissued");
out:
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    return rc;
}

static mesh_err_t init_leaves(struct ca_mesh *m, const struct ca_template *t)
{
    struct ca_strv disk = {0};
    mesh_err_t rc = MESH_OK;

    for (size_t i = 0; rc == MESH_OK && i < t->nsvcs; i++) {
        rc = ensure_leaf(m, t, &t->svcs[i]);
    }
    if (rc == MESH_OK) {
        rc = ca_mesh_services(m, &disk);
    }
    for (size_t i = 0; rc == MESH_OK && i < disk.n; i++) {
        if (ca_template_find(t, disk.v[i]) == NULL) {
            rc = ensure_extra(m, t, disk.v[i]);
        }
    }
    ca_strv_free(&disk);
    return rc;
}

/* index.json may lag behind the files (a crash before it was saved, or it was deleted): every
 * current certificate gets its entry, so revoke and list know it. */
static mesh_err_t index_sync(struct ca_mesh *m)
{
    struct ca_strv disk = {0};
    char cp[MESH_MAX_PATH];
    mesh_err_t rc;

    if ((rc = ca_index_record(m->idx, "root", "", m->root.cert)) != MESH_OK ||
        (rc = ca_index_record(m->idx, "intermediate", "", m->inter.cert)) != MESH_OK ||
        (rc = ca_mesh_services(m, &disk)) != MESH_OK) {
        goto out;
    }
    for (size_t i = 0; rc == MESH_OK && i < disk.n; i++) {
        X509 *cert = NULL;
        if ((rc = ca_path(cp, sizeof(cp), "%s/%s/cert.pem", m->dir, disk.v[i])) == MESH_OK &&
            ca_load_cert(cp, &cert) == MESH_OK) {
            rc = ca_index_record(m->idx, "leaf", disk.v[i], cert);
        }
        X509_free(cert);
    }
out:
    ca_strv_free(&disk);
    return rc;
}

static bool index_has_revoked(json_t *idx)
{
    size_t i;
    json_t *e;

    json_array_foreach(json_object_get(idx, "certs"), i, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        if (st != NULL && strcmp(st, "revoked") == 0) {
            return true;
        }
    }
    return false;
}

static mesh_err_t init_run(struct ca_mesh *m, const struct ca_template *t)
{
    bool root_new = false, inter_new = false;
    char crl[MESH_MAX_PATH];
    mesh_err_t rc;

    if ((rc = ensure_root(m, t, &root_new)) != MESH_OK ||
        (rc = ensure_inter(m, t, root_new, &inter_new)) != MESH_OK ||
        (rc = ensure_jwt(m, t)) != MESH_OK) {
        return rc;
    }
    if (json_object_set_new(m->idx, "trust_domain", json_string(t->trust_domain)) != 0 ||
        json_object_set_new(m->idx, "development", json_boolean(t->development)) != 0) {
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    if ((rc = init_leaves(m, t)) != MESH_OK || (rc = index_sync(m)) != MESH_OK ||
        (rc = ca_path(crl, sizeof(crl), "%s/crl.pem", m->dir)) != MESH_OK) {
        return rc;
    }
    /* A CRL must come from the CA that issues now (an old one would reject nothing), and
     * must exist once index.json has a revocation (a crash may have cut `revoke` short). */
    /* And it must not lapse: an expired CRL makes CRL-checking servers refuse everyone. */
    bool due = !inter_new && ca_crl_due(m->dir, m->o->now);
    if ((inter_new && ca_exists(crl)) || due || (!ca_exists(crl) && index_has_revoked(m->idx))) {
        if ((rc = ca_crl_write(m->dir, m->idx, &m->inter, m->o->now)) != MESH_OK) {
            return rc;
        }
        printf("  wrote     %s (%s)\n", crl,
               inter_new ? "signed by the new intermediate"
               : due     ? "re-signed: it was close to its nextUpdate"
                         : "it was missing");
    }
    return ca_index_save(m->dir, m->idx);
}

#ifndef MESH_CA_TEMPLATE_DIR
#define MESH_CA_TEMPLATE_DIR "/usr/local/share/libmesh/certs-templates"
#endif

int ca_cmd_init(const struct ca_opts *o)
{
    struct ca_template t;
    struct ca_mesh m;
    const char *tpath = o->template_path ? o->template_path : "certs-templates/mesh.json";
    mesh_err_t rc;

    /* Outside a source tree, the default template is the installed one. */
    if (o->template_path == NULL && !ca_exists(tpath)) {
        tpath = MESH_CA_TEMPLATE_DIR "/mesh.json";
    }
    memset(&m, 0, sizeof(m));
    if ((rc = ca_template_load(tpath, &t)) != MESH_OK) {
        fprintf(stderr, "mesh-ca init: %s\n", mesh_err_detail());
        if (o->template_path == NULL && !ca_exists(tpath)) {
            fprintf(stderr, "  (no certs-templates/mesh.json here either: run from the project "
                            "directory, or pass --template FILE)\n");
        }
        return CA_EXIT_ERR;
    }
    if ((rc = ca_mesh_open(&m, o, true, true)) != MESH_OK) {
        goto out;
    }
    printf("mesh-ca init: %s (template %s, trust domain %s, %zu services)\n", m.dir, t.path,
           t.trust_domain, t.nsvcs);
    if (t.development) {
        ca_say_development();
    }
    rc = init_run(&m, &t);
    if (rc == MESH_OK) {
        ca_print_summary(&m);
    }
out:
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-ca init: %s\n", mesh_err_detail());
    }
    ca_mesh_close(&m);
    ca_template_free(&t);
    return rc == MESH_OK ? CA_EXIT_OK : CA_EXIT_ERR;
}
