/* SPDX-License-Identifier: Apache-2.0 */
/* Inspection of what is on disk, and the commands that only read: list, check, the summary. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <mesh/renew.h>

#include "ca.h"

static const char *status_name(enum ca_status st)
{
    switch (st) {
    case CA_ST_OK:
        return "valid";
    case CA_ST_EXPIRING:
        return "expiring";
    case CA_ST_MISSING:
        return "missing";
    case CA_ST_OUTDATED:
        return "outdated";
    case CA_ST_REVOKED:
        return "revoked";
    case CA_ST_EXPIRED:
        return "expired";
    case CA_ST_INVALID:
        return "invalid";
    }
    return "?";
}

static void set_bad(struct ca_item *it, enum ca_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_bad(struct ca_item *it, enum ca_status st, const char *fmt, ...)
{
    va_list ap;

    it->st = st;
    va_start(ap, fmt);
    (void)vsnprintf(it->why, sizeof(it->why), fmt, ap); /* a truncated sentence is fine */
    va_end(ap);
}

/* Fills serial, expiry, key type and the status common to CA and leaf certificates. */
static bool inspect_pair(struct ca_item *it, const char *kp, const char *cp, X509 **cert,
                         EVP_PKEY **key, time_t now)
{
    mesh_key_type_t kt;
    char *serial;

    if (!ca_exists(kp) && !ca_exists(cp)) {
        set_bad(it, CA_ST_MISSING, "%s does not exist", cp);
        return false;
    }
    if (ca_load_cert(cp, cert) != MESH_OK || ca_load_key(kp, false, key) != MESH_OK) {
        set_bad(it, CA_ST_INVALID, "%s", mesh_err_detail());
        return false;
    }
    if ((serial = ca_serial_hex(*cert)) != NULL) {
        (void)snprintf(it->serial, sizeof(it->serial), "%s", serial);
        free(serial);
    }
    (void)ca_asn1_to_time(X509_get0_notAfter(*cert), &it->not_after);
    (void)snprintf(it->key, sizeof(it->key), "%s",
                   ca_key_type_of(*key, &kt) ? mesh_key_type_name(kt) : "other");
    if (X509_check_private_key(*cert, *key) != 1) {
        ERR_clear_error();
        set_bad(it, CA_ST_INVALID, "%s does not match its key", cp);
        return false;
    }
    if (it->not_after <= now) {
        set_bad(it, CA_ST_EXPIRED, "%s has expired", cp);
        return false;
    }
    it->st = CA_ST_OK;
    return true;
}

void ca_inspect_ca(struct ca_mesh *m, bool root, struct ca_item *it)
{
    const char *name = root ? "ca" : "intermediate";
    char kp[MESH_MAX_PATH], cp[MESH_MAX_PATH];
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;

    memset(it, 0, sizeof(*it));
    it->kind = root ? "root" : "intermediate";
    (void)snprintf(it->name, sizeof(it->name), "%s", root ? "(root CA)" : "(intermediate CA)");
    if (ca_path(kp, sizeof(kp), "%s/%s.key", m->dir, name) != MESH_OK ||
        ca_path(cp, sizeof(cp), "%s/%s.pem", m->dir, name) != MESH_OK ||
        !inspect_pair(it, kp, cp, &cert, &key, m->o->now)) {
        goto out;
    }
    if (X509_check_ca(cert) == 0) {
        set_bad(it, CA_ST_INVALID, "%s is not a CA certificate", cp);
    } else if (root && X509_check_issued(cert, cert) != X509_V_OK) {
        set_bad(it, CA_ST_INVALID, "%s is not self-signed", cp);
    } else if (!root &&
               (m->root.cert == NULL || X509_verify(cert, X509_get0_pubkey(m->root.cert)) != 1)) {
        set_bad(it, CA_ST_INVALID, "%s is not signed by ca.pem", cp);
    }
out:
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void compare_names(struct ca_item *it, X509 *cert, const struct ca_leaf_req *want)
{
    struct ca_strv have = {0}, exp = {0};

    if (ca_cert_names(cert, &have) != MESH_OK || ca_req_names(want, &exp) != MESH_OK) {
        set_bad(it, CA_ST_INVALID, "%s", "cannot read the SANs");
        goto out;
    }
    for (size_t i = 0; i < exp.n; i++) {
        if (!ca_strv_has(&have, exp.v[i])) {
            set_bad(it, CA_ST_OUTDATED, "the template adds %s", exp.v[i]);
            goto out;
        }
    }
    for (size_t i = 0; i < have.n; i++) {
        if (!ca_strv_has(&exp, have.v[i])) {
            set_bad(it, CA_ST_OUTDATED, "the template no longer has %s", have.v[i]);
            goto out;
        }
    }
out:
    ca_strv_free(&have);
    ca_strv_free(&exp);
}

/* RFC 6761 §6.3 (localhost names) and RFC 1122 / RFC 4291 (loopback addresses). */
static bool is_loopback_name(const char *n)
{
    size_t len = strlen(n);

    return strcmp(n, "DNS:localhost") == 0 ||
           (strncmp(n, "DNS:", 4) == 0 && len > 14 && strcmp(n + len - 10, ".localhost") == 0) ||
           strncmp(n, "IP:127.", 7) == 0 || strcmp(n, "IP:::1") == 0 ||
           strncmp(n, "IP:::ffff:127.", 14) == 0;
}

/* The SPIFFE ID of a leaf, and whether it is valid for loopback names. */
static void leaf_names_of(struct ca_item *it, X509 *cert)
{
    struct ca_strv names = {0};

    if (ca_cert_names(cert, &names) == MESH_OK) {
        for (size_t i = 0; i < names.n; i++) {
            if (strncmp(names.v[i], "URI:", 4) == 0) {
                (void)snprintf(it->spiffe, sizeof(it->spiffe), "%s", names.v[i] + 4);
            }
            it->loopback = it->loopback || is_loopback_name(names.v[i]);
        }
    }
    ca_strv_free(&names);
}

void ca_inspect_leaf(struct ca_mesh *m, const char *svc, const struct ca_leaf_req *want,
                     const mesh_key_type_t *want_key, struct ca_item *it)
{
    char kp[MESH_MAX_PATH], cp[MESH_MAX_PATH];
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    mesh_key_type_t kt;

    memset(it, 0, sizeof(*it));
    it->kind = "leaf";
    (void)snprintf(it->name, sizeof(it->name), "%s", svc);
    if (ca_path(kp, sizeof(kp), "%s/%s/key.pem", m->dir, svc) != MESH_OK ||
        ca_path(cp, sizeof(cp), "%s/%s/cert.pem", m->dir, svc) != MESH_OK ||
        !inspect_pair(it, kp, cp, &cert, &key, m->o->now)) {
        goto out;
    }
    leaf_names_of(it, cert);
    if (m->inter.cert == NULL || m->root.cert == NULL ||
        ca_chain_verify(cert, m->inter.cert, m->root.cert, m->o->now) != MESH_OK) {
        set_bad(it, CA_ST_INVALID, "does not chain to this CA: %s",
                m->inter.cert ? mesh_err_detail() : "no intermediate");
    } else if (ca_index_is_revoked(m->idx, it->serial)) {
        set_bad(it, CA_ST_REVOKED, "serial %s is revoked", it->serial);
    } else if (want_key != NULL && ca_key_type_of(key, &kt) && kt != *want_key) {
        set_bad(it, CA_ST_OUTDATED, "the template asks for a %s key",
                mesh_key_type_name(*want_key));
    } else if (want != NULL) {
        compare_names(it, cert, want);
    }
out:
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* The issuer's JWT key pair: present, readable, private and public halves matching. */
static void inspect_jwt(struct ca_mesh *m, struct ca_item *it)
{
    char kp[MESH_MAX_PATH], pp[MESH_MAX_PATH];
    EVP_PKEY *key = NULL, *pub = NULL;
    mesh_key_type_t kt;

    memset(it, 0, sizeof(*it));
    it->kind = "jwt";
    (void)snprintf(it->name, sizeof(it->name), "(JWT signing key)");
    if (ca_path(kp, sizeof(kp), "%s/jwt-signing.key", m->dir) != MESH_OK ||
        ca_path(pp, sizeof(pp), "%s/jwt-signing.pub", m->dir) != MESH_OK) {
        set_bad(it, CA_ST_INVALID, "%s", mesh_err_detail());
    } else if (!ca_exists(kp) && !ca_exists(pp)) {
        set_bad(it, CA_ST_MISSING, "%s does not exist; run `mesh-ca init`", kp);
    } else if (ca_load_key(kp, false, &key) != MESH_OK || ca_load_pubkey(pp, &pub) != MESH_OK) {
        set_bad(it, CA_ST_INVALID, "%s", mesh_err_detail());
    } else if (EVP_PKEY_eq(key, pub) != 1) {
        set_bad(it, CA_ST_INVALID, "%s does not match %s", pp, kp);
    }
    if (key != NULL) {
        (void)snprintf(it->key, sizeof(it->key), "%s",
                       ca_key_type_of(key, &kt) ? mesh_key_type_name(kt) : "other");
    }
    ERR_clear_error();
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
}

/* crl.pem, when there is one: its nextUpdate is an expiry like any other. */
static bool inspect_crl(struct ca_mesh *m, struct ca_item *it)
{
    bool exists = false;

    memset(it, 0, sizeof(*it));
    snprintf(it->name, sizeof(it->name), "crl.pem");
    it->kind = "crl";
    if (ca_crl_next_update(m->dir, &exists, &it->not_after) != MESH_OK) {
        it->st = CA_ST_INVALID;
        snprintf(it->why, sizeof(it->why), "%s", mesh_err_detail());
        ERR_clear_error();
        return true;
    }
    if (!exists) {
        return false;
    }
    if (it->not_after <= m->o->now) {
        it->st = CA_ST_EXPIRED;
        snprintf(it->why, sizeof(it->why),
                 "nextUpdate has passed: servers that check the CRL "
                 "(mesh-issuer) refuse every client certificate; run `mesh-ca init` to re-sign it");
    }
    return true;
}

/* Everything `list` and `check` look at: root, intermediate, JWT key, each service, the CRL. */
static mesh_err_t inspect_all(struct ca_mesh *m, struct ca_item **items, size_t *n)
{
    struct ca_strv svcs = {0};
    mesh_err_t rc = ca_mesh_services(m, &svcs);

    if (rc != MESH_OK) {
        return rc;
    }
    *items = calloc(svcs.n + 4, sizeof(**items));
    if (*items == NULL) {
        ca_strv_free(&svcs);
        return mesh_err_set(MESH_ERR_NOMEM, "out of memory");
    }
    ca_inspect_ca(m, true, &(*items)[0]);
    ca_inspect_ca(m, false, &(*items)[1]);
    inspect_jwt(m, &(*items)[2]);
    for (size_t i = 0; i < svcs.n; i++) {
        ca_inspect_leaf(m, svcs.v[i], NULL, NULL, &(*items)[i + 3]);
    }
    *n = svcs.n + 3;
    if (inspect_crl(m, &(*items)[*n])) {
        (*n)++;
    }
    ca_strv_free(&svcs);
    return MESH_OK;
}

static long long days_left(const struct ca_item *it, time_t now)
{
    long long d = ((long long)it->not_after - (long long)now) / 86400;

    return d;
}

static json_t *item_json(const struct ca_item *it, time_t now)
{
    char na[32];
    json_t *o;

    ca_fmt_time(it->not_after, na, sizeof(na));
    o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:s, s:I, s:s, s:s}", "name", it->name, "kind",
                  it->kind, "spiffe_id", it->spiffe[0] ? it->spiffe : NULL, "key", it->key,
                  "serial", it->serial, "not_after", it->not_after ? na : "", "days_left",
                  (json_int_t)(it->not_after ? days_left(it, now) : 0), "status",
                  status_name(it->st), "detail", it->why);
    /* a leaf that answers for localhost / 127.0.0.1: a development certificate */
    if (o != NULL && strcmp(it->kind, "leaf") == 0 && it->spiffe[0] != '\0') {
        (void)json_object_set_new(o, "loopback_sans", json_boolean(it->loopback));
    }
    return o;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (s != NULL) {
        printf("%s\n", s);
        free(s);
    }
    json_decref(v);
}

static mesh_err_t open_for_reading(struct ca_mesh *m, const struct ca_opts *o)
{
    mesh_err_t rc = ca_mesh_open(m, o, false, false);

    if (rc == MESH_OK) {
        if (ca_mesh_load_ca(m) != MESH_OK) {
            ERR_clear_error(); /* a broken CA is reported per item, not as failing to open */
        }
    }
    return rc;
}

static void print_table(const struct ca_item *items, size_t n, time_t now)
{
    char date[16];

    printf("%-20s %-40s %-8s %-11s %6s  %s\n", "NAME", "SPIFFE ID", "KEY", "EXPIRES", "DAYS",
           "STATUS");
    for (size_t i = 0; i < n; i++) {
        const struct ca_item *it = &items[i];
        ca_fmt_date(it->not_after, date, sizeof(date));
        printf("%-20s %-40s %-8s %-11s %6lld  %s%s%s\n", it->name, it->spiffe[0] ? it->spiffe : "-",
               it->key[0] ? it->key : "-", it->not_after ? date : "-",
               it->not_after ? days_left(it, now) : 0LL, status_name(it->st),
               it->why[0] ? ": " : "", it->why);
    }
}

int ca_cmd_list(const struct ca_opts *o)
{
    struct ca_mesh m;
    struct ca_item *items = NULL;
    size_t n = 0;
    int ret = CA_EXIT_ERR;

    if (open_for_reading(&m, o) != MESH_OK || inspect_all(&m, &items, &n) != MESH_OK) {
        fprintf(stderr, "mesh-ca list: %s\n", mesh_err_detail());
        goto out;
    }
    if (o->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(arr, item_json(&items[i], o->now));
        }
        print_json(arr);
    } else {
        print_table(items, n, o->now);
    }
    ret = CA_EXIT_OK;
out:
    free(items);
    ca_mesh_close(&m);
    return ret;
}

/* Leaves of at most this lifetime are the ones a renewer keeps renewed in place (hours to
 * days, as SPIRE, step-ca and issue 12's 24 h default); longer ones are renewed by hand. */
#define SHORT_LIVED_SECONDS (7 * 86400)

/*
 * A short-lived leaf (at most SHORT_LIVED_SECONDS, and its whole lifetime fits in `within`: a
 * 24 h certificate renewed in place by `mesh renew --daemon` or libmesh) would always be
 * "expiring" by the window; what says it is unhealthy is having outlived its renewal point:
 * 2/3 of its lifetime plus half the renewer's jitter (mesh_certfile_renewal with the renewer's
 * defaults, the point `mesh doctor` uses). *renew_at is that point, 0 when not short-lived.
 */
static bool short_lived(struct ca_mesh *m, const struct ca_item *it, long long within,
                        int64_t *renew_at)
{
    char cp[MESH_MAX_PATH];
    mesh_renew_info_t info;

    *renew_at = 0;
    if (strcmp(it->kind, "leaf") != 0 || it->st != CA_ST_OK ||
        ca_path(cp, sizeof(cp), "%s/%s/cert.pem", m->dir, it->name) != MESH_OK ||
        mesh_certfile_renewal(cp, NULL, &info) != MESH_OK) {
        return false;
    }
    int64_t lifetime = info.not_after - info.not_before;
    if (lifetime > SHORT_LIVED_SECONDS || lifetime > within) {
        return false;
    }
    *renew_at = info.renew_at;
    return true;
}

/* check: 0 all fine for `within`, 1 something expires within it (a short-lived leaf: it is
 * past its renewal point), 2 expired/invalid. */
int ca_cmd_check(const struct ca_opts *o)
{
    struct ca_mesh m;
    struct ca_item *items = NULL;
    size_t n = 0, bad = 0, soon = 0;
    long long within = o->within >= 0 ? o->within : 30LL * 86400;
    int ret = CA_EXIT_ERR;
    json_t *arr = json_array();

    if (open_for_reading(&m, o) != MESH_OK || inspect_all(&m, &items, &n) != MESH_OK) {
        fprintf(stderr, "mesh-ca check: %s\n", mesh_err_detail());
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct ca_item *it = &items[i];
        char date[16];
        int64_t renew_at = 0;
        bool brief = short_lived(&m, it, within, &renew_at);
        if (brief && (int64_t)o->now >= renew_at) {
            char when[32];
            ca_fmt_time((time_t)renew_at, when, sizeof(when));
            set_bad(it, CA_ST_EXPIRING,
                    "past its renewal point %s: the renewer (mesh renew --daemon, libmesh) is "
                    "failing; see its log and `mesh doctor`",
                    when);
        } else if (!brief && it->st == CA_ST_OK && it->not_after != 0 &&
                   (long long)it->not_after - (long long)o->now <= within) {
            it->st = CA_ST_EXPIRING;
        }
        ca_fmt_date(it->not_after, date, sizeof(date));
        if (it->st == CA_ST_EXPIRING && brief) {
            soon++;
            if (!o->json) {
                printf("overdue: %s expires %s; %s\n", it->name, date, it->why);
            }
        } else if (it->st == CA_ST_EXPIRING) {
            soon++;
            if (!o->json) {
                printf("expiring: %s expires %s (in %lld days); run `mesh-ca %s%s`\n", it->name,
                       date, days_left(it, o->now),
                       strcmp(it->kind, "crl") == 0 ? "init" : "renew ",
                       strcmp(it->kind, "crl") == 0    ? ""
                       : strcmp(it->kind, "leaf") == 0 ? it->name
                                                       : "--all");
            }
        } else if (it->st != CA_ST_OK) {
            bad++;
            if (!o->json) {
                printf("%s: %s: %s\n", status_name(it->st), it->name, it->why);
            }
        }
        json_t *j = item_json(it, o->now);
        if (j != NULL && brief) {
            char when[32];
            ca_fmt_time((time_t)renew_at, when, sizeof(when));
            (void)json_object_set_new(j, "short_lived", json_true());
            (void)json_object_set_new(j, "renew_at", json_string(when));
        }
        json_array_append_new(arr, j);
    }
    ret = bad ? CA_EXIT_ERR : soon ? CA_EXIT_WARN : CA_EXIT_OK;
    if (o->json) {
        print_json(json_pack("{s:s, s:b, s:I, s:o}", "status",
                             bad    ? "invalid"
                             : soon ? "expiring"
                                    : "ok",
                             "development", ca_mesh_development(&m), "within_seconds",
                             (json_int_t)within, "items", arr));
        arr = NULL;
    } else if (ret == CA_EXIT_OK) {
        printf("ok: %zu checked (CA, JWT key, services), none expires within %lld days "
               "(short-lived ones: none past its renewal point)\n",
               n, within / 86400);
    }
out:
    json_decref(arr);
    free(items);
    ca_mesh_close(&m);
    return ret;
}

void ca_print_summary(struct ca_mesh *m)
{
    struct ca_item *items = NULL;
    size_t n = 0;
    char abs[MESH_MAX_PATH];
    const char *dir = realpath(m->dir, abs) ? abs : m->dir;

    if (inspect_all(m, &items, &n) != MESH_OK) {
        return;
    }
    printf("\n");
    print_table(items, n, m->o->now);
    free(items);
    printf("\nA service named NAME reads (or set MESH_CERTS_DIR=%s and the paths are derived):\n"
           "  TLS_CERT_PATH=%s/NAME/cert.pem\n  TLS_KEY_PATH=%s/NAME/key.pem\n"
           "  TLS_CA_PATH=%s/ca.pem\n  JWT_PUBLIC_KEY_PATH=%s/jwt-signing.pub\n"
           "  MESH_ISSUER_URL=https://127.0.0.1:<issuer port>\n"
           "The issuer also needs JWT_PRIVATE_KEY_PATH=%s/jwt-signing.key "
           "(its TLS identity is NAME=issuer).\n",
           dir, dir, dir, dir, dir, dir);
}
