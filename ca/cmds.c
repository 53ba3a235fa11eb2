/* SPDX-License-Identifier: Apache-2.0 */
/* `mesh-ca issue`, `renew` and `revoke`: one or more services against an existing CA. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"

/* Every name is checked before anything is written: one bad name stops the whole run. */
static bool names_valid(const struct ca_opts *o, const char *verb)
{
    for (int i = 0; i < o->nargs; i++) {
        if (!ca_valid_label(o->args[i])) {
            fprintf(stderr,
                    "mesh-ca %s: \"%s\" is not a valid service name: use a DNS label of "
                    "1-63 lowercase letters, digits or hyphens, no hyphen at either end\n",
                    verb, o->args[i]);
            return false;
        }
    }
    return true;
}

static int finish(struct ca_mesh *m, mesh_err_t rc, const char *verb)
{
    if (rc == MESH_OK && m->idx != NULL) {
        rc = ca_index_save(m->dir, m->idx);
    }
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-ca %s: %s\n", verb, mesh_err_detail());
    }
    ca_mesh_close(m);
    return rc == MESH_OK ? CA_EXIT_OK : CA_EXIT_ERR;
}

/* Names, lifetime and key type: the command line, else the template (when given), else the
 * defaults (90 days, P-256). */
static mesh_err_t issue_settings(const struct ca_opts *o, const struct ca_template *t,
                                 bool development, const struct ca_item *it,
                                 struct ca_leaf_req *req, struct ca_strv *dns, struct ca_strv *ips,
                                 mesh_key_type_t *kt)
{
    const struct ca_service *svc = t ? ca_template_find(t, req->name) : NULL;
    struct ca_strv xdns = {0}, xips = {0};
    mesh_err_t rc = MESH_OK;

    for (size_t i = 0; rc == MESH_OK && i < o->sans.n; i++) {
        rc = ca_is_ip(o->sans.v[i]) ? ca_strv_add(&xips, o->sans.v[i])
                                    : ca_strv_add(&xdns, o->sans.v[i]);
    }
    for (size_t i = 0; svc != NULL && rc == MESH_OK && i < svc->dns.n; i++) {
        rc = ca_strv_add(&xdns, svc->dns.v[i]);
    }
    for (size_t i = 0; svc != NULL && rc == MESH_OK && i < svc->ips.n; i++) {
        rc = ca_strv_add(&xips, svc->ips.v[i]);
    }
    if (rc == MESH_OK) {
        rc = ca_leaf_names(req->name, development, &xdns, &xips, dns, ips);
    }
    req->days = o->days ? o->days : svc && svc->days ? svc->days : t ? t->leaf_days : 90;
    if (o->key_set) {
        *kt = o->key;
    } else if (!o->keep_key || !mesh_key_type_from_name(it->key, kt)) {
        *kt = svc ? svc->key : t ? t->leaf_key : MESH_KEY_P256;
    }
    ca_strv_free(&xdns);
    ca_strv_free(&xips);
    return rc;
}

static mesh_err_t issue_one(struct ca_mesh *m, const struct ca_opts *o, const struct ca_template *t,
                            const char *name)
{
    struct ca_strv dns = {0}, ips = {0};
    struct ca_leaf_req req = {name, m->trust_domain, &dns, &ips, 90};
    struct ca_item it;
    mesh_key_type_t kt = MESH_KEY_P256;
    mesh_err_t rc = MESH_OK;

    ca_inspect_leaf(m, name, NULL, NULL, &it);
    if (it.st != CA_ST_MISSING && !o->force) {
        rc = mesh_err_set(MESH_ERR_INVALID_ARG,
                          "%s/%s already exists (%s); use `mesh-ca renew %s` "
                          "or add --force to re-issue it",
                          m->dir, name, it.st == CA_ST_OK ? "valid" : it.why, name);
        goto out;
    }
    /* --template decides development or not; else the mode `init` recorded */
    if ((rc = issue_settings(o, t, t ? t->development : ca_mesh_development(m), &it, &req, &dns,
                             &ips, &kt)) != MESH_OK) {
        goto out;
    }
    rc = ca_leaf_issue(m, &req, kt, o->keep_key, it.st != CA_ST_MISSING,
                       it.st == CA_ST_MISSING ? "created" : "reissued");
out:
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    return rc;
}

static mesh_err_t open_with_ca(struct ca_mesh *m, const struct ca_opts *o)
{
    mesh_err_t rc = ca_mesh_open(m, o, false, true);

    if (rc == MESH_OK && (rc = ca_mesh_load_ca(m)) == MESH_OK && m->trust_domain == NULL) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "%s: cannot tell the trust domain (index.json lost?); "
                          "run `mesh-ca init`",
                          m->dir);
    }
    return rc;
}

int ca_cmd_issue(const struct ca_opts *o)
{
    struct ca_template t;
    struct ca_mesh m;
    mesh_err_t rc;

    memset(&m, 0, sizeof(m));
    for (size_t i = 0; i < o->sans.n; i++) {
        if (!ca_is_ip(o->sans.v[i]) && !ca_valid_dns(o->sans.v[i], true)) {
            fprintf(stderr,
                    "mesh-ca issue: --san \"%s\" is neither a DNS name nor an IP "
                    "address; use lowercase letters, digits, hyphens and dots\n",
                    o->sans.v[i]);
            return CA_EXIT_ERR;
        }
    }
    if (!names_valid(o, "issue")) {
        return CA_EXIT_ERR;
    }
    if (o->template_path != NULL && ca_template_load(o->template_path, &t) != MESH_OK) {
        fprintf(stderr, "mesh-ca issue: %s\n", mesh_err_detail());
        return CA_EXIT_ERR;
    }
    rc = open_with_ca(&m, o);
    if (rc == MESH_OK && o->nargs > 1) {
        printf("mesh-ca issue: %d services in %s\n", o->nargs, m.dir);
    }
    if (rc == MESH_OK && (o->template_path ? t.development : ca_mesh_development(&m))) {
        ca_say_development();
    }
    for (int i = 0; rc == MESH_OK && i < o->nargs; i++) {
        rc = issue_one(&m, o, o->template_path ? &t : NULL, o->args[i]);
    }
    if (o->template_path != NULL) {
        ca_template_free(&t);
    }
    return finish(&m, rc, "issue");
}

static mesh_err_t renew_one(struct ca_mesh *m, const struct ca_opts *o, const char *name)
{
    struct ca_strv dns = {0}, ips = {0};
    struct ca_leaf_req req = {name, m->trust_domain, &dns, &ips, 0};
    struct ca_item it;
    char cp[MESH_MAX_PATH];
    mesh_key_type_t kt = MESH_KEY_P256;
    mesh_err_t rc;

    ca_inspect_leaf(m, name, NULL, NULL, &it);
    if (it.st == CA_ST_MISSING) {
        return mesh_err_set(MESH_ERR_NOT_FOUND,
                            "%s/%s: no certificate to renew; use `mesh-ca issue "
                            "%s`",
                            m->dir, name, name);
    }
    if (o->within >= 0 && it.st == CA_ST_OK &&
        (long long)it.not_after - (long long)o->now > o->within) {
        printf("  skipped   %s (expires in %lld days, outside --within)\n", name,
               ((long long)it.not_after - (long long)o->now) / 86400);
        return MESH_OK;
    }
    if ((rc = ca_path(cp, sizeof(cp), "%s/%s/cert.pem", m->dir, name)) != MESH_OK ||
        (rc = ca_leaf_from_cert(cp, &dns, &ips, &req.days)) != MESH_OK) {
        goto out;
    }
    if (o->days) {
        req.days = o->days;
    }
    if (!mesh_key_type_from_name(it.key, &kt)) {
        kt = MESH_KEY_P256; /* an unreadable key is replaced by the default type */
    }
    rc = ca_leaf_issue(m, &req, o->key_set ? o->key : kt, o->keep_key, true, "renewed");
out:
    ca_strv_free(&dns);
    ca_strv_free(&ips);
    return rc;
}

int ca_cmd_renew(const struct ca_opts *o)
{
    struct ca_mesh m;
    struct ca_strv all = {0};
    mesh_err_t rc;

    memset(&m, 0, sizeof(m));
    if (!names_valid(o, "renew")) {
        return CA_EXIT_ERR;
    }
    if ((o->nargs == 0) == !o->all) {
        fprintf(stderr, "mesh-ca renew: give SERVICE names or --all (not both)\n");
        return CA_EXIT_ERR;
    }
    rc = open_with_ca(&m, o);
    if (rc == MESH_OK && o->all) {
        rc = ca_mesh_services(&m, &all);
    }
    for (int i = 0; rc == MESH_OK && i < o->nargs; i++) {
        rc = renew_one(&m, o, o->args[i]);
    }
    for (size_t i = 0; rc == MESH_OK && i < all.n; i++) {
        rc = renew_one(&m, o, all.v[i]);
    }
    ca_strv_free(&all);
    return finish(&m, rc, "renew");
}

/* SERVICE (its current certificate) or SERIAL (hex, any leaf this CA issued). */
static mesh_err_t revoke_target(struct ca_mesh *m, const char *arg, char *serial, size_t size)
{
    char sub[MESH_MAX_PATH];
    struct ca_item it;
    mesh_err_t rc;

    if (ca_valid_label(arg) && (rc = ca_path(sub, sizeof(sub), "%s/%s", m->dir, arg)) == MESH_OK &&
        ca_exists(sub)) {
        ca_inspect_leaf(m, arg, NULL, NULL, &it);
        if (it.serial[0] == '\0') {
            return mesh_err_set(MESH_ERR_CERT,
                                "%s: no readable certificate (%s); revoke it by "
                                "serial (see `mesh-ca list`)",
                                arg, it.why);
        }
        (void)snprintf(serial, size, "%s", it.serial);
        return MESH_OK;
    }
    (void)snprintf(serial, size, "%s", arg);
    for (char *p = serial; *p != '\0'; p++) {
        if (*p >= 'A' && *p <= 'F') {
            *p = (char)(*p - 'A' + 'a');
        } else if (*p == ':') {
            return mesh_err_set(MESH_ERR_INVALID_ARG, "give the serial without colons, as "
                                                      "`mesh-ca list` shows it");
        }
    }
    if (ca_index_find(m->idx, serial) == NULL) {
        return mesh_err_set(MESH_ERR_NOT_FOUND,
                            "\"%s\" is neither a service in %s nor a serial in "
                            "its index.json; `mesh-ca list` shows both",
                            arg, m->dir);
    }
    return MESH_OK;
}

int ca_cmd_revoke(const struct ca_opts *o)
{
    struct ca_mesh m;
    const char *reason = o->reason ? o->reason : "unspecified";
    char serial[80];
    mesh_err_t rc;

    memset(&m, 0, sizeof(m));
    if (o->nargs != 1) {
        fprintf(stderr, "mesh-ca revoke: give exactly one SERVICE or SERIAL\n");
        return CA_EXIT_ERR;
    }
    if (!ca_reason_valid(reason)) {
        fprintf(stderr,
                "mesh-ca revoke: unknown --reason \"%s\"; use unspecified, keyCompromise, "
                "affiliationChanged, superseded, cessationOfOperation, certificateHold or "
                "privilegeWithdrawn\n",
                reason);
        return CA_EXIT_ERR;
    }
    rc = open_with_ca(&m, o);
    if (rc == MESH_OK && (rc = revoke_target(&m, o->args[0], serial, sizeof(serial))) == MESH_OK &&
        (rc = ca_revoke_entry(m.idx, serial, o->reason, o->now)) == MESH_OK &&
        /* index.json is the truth and crl.pem is derived from it, so it is saved first: a
         * crash in between leaves a stale CRL that re-running the command rewrites. */
        (rc = ca_index_save(m.dir, m.idx)) == MESH_OK &&
        (rc = ca_crl_write(m.dir, m.idx, &m.inter, o->now)) == MESH_OK) {
        const char *kept =
            json_string_value(json_object_get(ca_index_find(m.idx, serial), "reason"));
        printf("  revoked   serial %s (%s, reason %s)\n  wrote     %s/crl.pem\n", serial,
               o->args[0], kept ? kept : reason, m.dir);
    }
    return finish(&m, rc, "revoke");
}
