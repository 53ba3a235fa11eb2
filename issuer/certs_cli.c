/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `mesh-issuer join-token create|list|revoke` and `mesh-issuer cert list|revoke`: the
 * operator's side of online issuance (docs/CERTIFICATES.md, mesh-issuer(8)).
 */
#include "certs_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/mesh.h>

#include "audit.h"
#include "certs.h"
#include "config.h"
#include "join_tokens.h"
#include "online.h"
#include "store.h"

#define EXIT_USAGE 2

static const char HELP[] =
    "usage: mesh-issuer join-token create --service NAME [--ttl 1h] [--json] --config FILE\n"
    "       mesh-issuer join-token list [--json] --config FILE\n"
    "       mesh-issuer join-token revoke ID --config FILE\n"
    "       mesh-issuer cert list [--json] --config FILE\n"
    "       mesh-issuer cert revoke SERIAL --config FILE\n"
    "\n"
    "Online certificate issuance (POST /v1/certificate; docs/CERTIFICATES.md). The config\n"
    "needs a certificates section. A join token is printed once, works once, for one service\n"
    "of certificates.services[], within --ttl (1s..7d, default 1h). cert revoke refuses the\n"
    "certificate's renewal, revokes its tokens at every verifier and rewrites\n"
    "certificates.crl (served at GET /v1/crl).\n"
    "Exit status: 0 done, 1 failed (store, unknown id or serial), 2 usage.\n";

typedef struct {
    const char *config;
    const char *service;
    const char *ttl;
    bool json;
    const char *arg; /* the one positional argument */
    int nargs;
} cli_opts_t;

static int usage(const char *noun, const char *why)
{
    fprintf(stderr, "mesh-issuer %s: %s\nRun 'mesh-issuer --help' for usage.\n", noun, why);
    return EXIT_USAGE;
}

static int parse(int argc, char **argv, const char *noun, cli_opts_t *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"service", required_argument, NULL, 's'},
        {"ttl", required_argument, NULL, 't'},    {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int ch;
    char why[160];

    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:s:t:jh", longs, NULL)) != -1) {
        switch (ch) {
        case 'h':
            fputs(HELP, stdout);
            exit(0);
        case 'c':
            o->config = optarg;
            break;
        case 's':
            o->service = optarg;
            break;
        case 't':
            o->ttl = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        default:
            (void)snprintf(why, sizeof(why), "unknown or incomplete option '%.80s'",
                           argv[optind - 1]);
            return usage(noun, why);
        }
    }
    o->nargs = argc - optind;
    o->arg = o->nargs > 0 ? argv[optind] : NULL;
    if (o->config == NULL) {
        return usage(noun, "--config FILE is required");
    }
    return 0;
}

/* "90s", "30m", "1h", "7d" or seconds. */
static bool parse_ttl(const char *s, int64_t *out)
{
    char *end;
    long long v;
    int64_t mul = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < 1 || v > MESH_JOIN_TOKEN_TTL_MAX) {
        return false;
    }
    if (strcmp(end, "m") == 0) {
        mul = 60;
    } else if (strcmp(end, "h") == 0) {
        mul = 3600;
    } else if (strcmp(end, "d") == 0) {
        mul = 86400;
    } else if (*end != '\0' && strcmp(end, "s") != 0) {
        return false;
    }
    *out = (int64_t)v * mul;
    return *out <= MESH_JOIN_TOKEN_TTL_MAX;
}

static store_t *open_all(const cli_opts_t *o, config_t **cfg)
{
    char err[2048];
    store_t *s = NULL;
    mesh_err_t rc;

    if (config_load(o->config, cfg, err, sizeof(err)) != MESH_OK) {
        fprintf(stderr, "mesh-issuer: %s\n", err);
        return NULL;
    }
    if (!(*cfg)->certs.enabled) {
        fprintf(stderr,
                "mesh-issuer: %s has no certificates section: this issuer does not sign "
                "certificates (docs/CERTIFICATES.md)\n",
                o->config);
        config_free(*cfg);
        return NULL;
    }
    if ((rc = store_open((*cfg)->store, &s)) != MESH_OK) {
        fprintf(stderr, "mesh-issuer: cannot open store %s: %s (%s)\n", (*cfg)->store,
                mesh_strerror(rc), mesh_err_detail());
        config_free(*cfg);
        return NULL;
    }
    return s;
}

static void fmt_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t == 0) {
        (void)snprintf(out, cap, "-");
        return;
    }
    gmtime_r(&tt, &tm);
    (void)strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_json(json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

    if (text != NULL) {
        puts(text);
    }
    free(text);
    json_decref(v);
}

static int join_create(const cli_opts_t *o)
{
    config_t *cfg = NULL;
    store_t *s;
    int64_t ttl = 3600, now = (int64_t)time(NULL);
    char token[MESH_MAX_JOIN_TOKEN + 1], exp[32];
    join_token_rec_t rec;
    mesh_err_t rc;

    if (o->service == NULL || o->nargs != 0) {
        return usage("join-token create", "give --service NAME (and no other argument)");
    }
    if (o->ttl != NULL && !parse_ttl(o->ttl, &ttl)) {
        return usage("join-token create",
                     "--ttl must be a duration from 1s to 7d, such as 1h or 30m");
    }
    if ((s = open_all(o, &cfg)) == NULL) {
        return 1;
    }
    if (config_cert_service(cfg, o->service) == NULL) {
        fprintf(stderr,
                "mesh-issuer join-token create: service '%s' is not in certificates.services[] "
                "of %s; add it there first\n",
                o->service, o->config);
        store_close(s);
        config_free(cfg);
        return 1;
    }
    rc = join_token_create(s, o->service, ttl, now, token, &rec);
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer join-token create: %s\n", mesh_err_detail());
    } else if (o->json) {
        char id[MESH_MAX_SPIFFE_ID + 1];
        (void)snprintf(id, sizeof(id), "spiffe://%s/%s", cfg->certs.trust_domain, rec.service);
        print_json(json_pack("{s:s, s:s, s:s, s:s, s:I}", "token", token, "id", rec.id, "service",
                             rec.service, "spiffe_id", id, "expires", (json_int_t)rec.expires));
    } else {
        fmt_time(rec.expires, exp, sizeof(exp));
        printf("join token for spiffe://%s/%s (id %s, works once, until %s):\n%s\n"
               "It is shown only now; give it to the service as Mesh-Join-Token.\n",
               cfg->certs.trust_domain, rec.service, rec.id, exp, token);
    }
    mesh_wipe(token, sizeof(token));
    store_close(s);
    config_free(cfg);
    return rc == MESH_OK ? 0 : 1;
}

typedef struct {
    bool json;
    json_t *arr;
    int64_t now;
} list_t;

static bool join_row(void *p, const join_token_rec_t *r)
{
    list_t *l = p;
    const char *st = r->revoked             ? "revoked"
                     : r->used_at != 0      ? "used"
                     : r->expires <= l->now ? "expired"
                                            : "usable";
    char exp[32], used[32];

    if (l->json) {
        json_array_append_new(
            l->arr, json_pack("{s:s, s:s, s:I, s:I, s:I, s:s}", "id", r->id, "service", r->service,
                              "created", (json_int_t)r->created, "expires", (json_int_t)r->expires,
                              "used_at", (json_int_t)r->used_at, "status", st));
        return true;
    }
    fmt_time(r->expires, exp, sizeof(exp));
    fmt_time(r->used_at, used, sizeof(used));
    printf("%-14s %-24s %-8s %-21s %s\n", r->id, r->service, st, exp, used);
    return true;
}

static bool cert_row(void *p, const issued_cert_rec_t *r)
{
    list_t *l = p;
    const char *st = r->revoked_at != 0 ? "revoked" : r->not_after <= l->now ? "expired" : "valid";
    char exp[32];

    if (l->json) {
        json_array_append_new(
            l->arr, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I}", "serial", r->serial,
                              "spiffe_id", r->spiffe_id, "not_before", (json_int_t)r->not_before,
                              "not_after", (json_int_t)r->not_after, "auth_method", r->auth_method,
                              "status", st, "revoked_at", (json_int_t)r->revoked_at));
        return true;
    }
    fmt_time(r->not_after, exp, sizeof(exp));
    printf("%-42s %-8s %-21s %-10s %s\n", r->serial, st, exp, r->auth_method, r->spiffe_id);
    return true;
}

static int list(const cli_opts_t *o, bool join)
{
    config_t *cfg = NULL;
    store_t *s;
    list_t l = {.json = o->json, .now = (int64_t)time(NULL)};
    mesh_err_t rc;

    if (o->nargs != 0) {
        return usage(join ? "join-token list" : "cert list", "takes no argument");
    }
    if ((s = open_all(o, &cfg)) == NULL) {
        return 1;
    }
    l.arr = json_array();
    if (!o->json) {
        if (join) {
            printf("%-14s %-24s %-8s %-21s %s\n", "ID", "SERVICE", "STATUS", "EXPIRES", "USED");
        } else {
            printf("%-42s %-8s %-21s %-10s %s\n", "SERIAL", "STATUS", "NOT AFTER", "VIA",
                   "IDENTITY");
        }
    }
    rc = join ? store_join_list(s, join_row, &l) : store_issued_list(s, false, l.now, cert_row, &l);
    if (rc == MESH_OK && o->json) {
        print_json(json_incref(l.arr));
    }
    json_decref(l.arr);
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer: cannot list: %s\n", mesh_err_detail());
    }
    store_close(s);
    config_free(cfg);
    return rc == MESH_OK ? 0 : 1;
}

static int join_revoke(const cli_opts_t *o)
{
    config_t *cfg = NULL;
    store_t *s;
    mesh_err_t rc;

    if (o->nargs != 1) {
        return usage("join-token revoke", "give exactly one ID (see join-token list)");
    }
    if ((s = open_all(o, &cfg)) == NULL) {
        return 1;
    }
    rc = store_join_revoke(s, o->arg);
    if (rc == MESH_OK) {
        printf("join token %s revoked: it can no longer get a certificate\n", o->arg);
    } else {
        fprintf(stderr, "mesh-issuer join-token revoke: %s\n",
                rc == MESH_ERR_NOT_FOUND ? "no join token with that id (see join-token list)"
                                         : mesh_err_detail());
    }
    store_close(s);
    config_free(cfg);
    return rc == MESH_OK ? 0 : 1;
}

/* Revoked in the inventory, its tokens revoked (the feed), then the CRL file rewritten. */
static int cert_revoke(const cli_opts_t *o)
{
    config_t *cfg = NULL;
    store_t *s;
    ca_issuing_t *ca = NULL;
    issued_cert_rec_t rec;
    int64_t now = (int64_t)time(NULL), seq = 0;
    mesh_err_t rc;

    if (o->nargs != 1) {
        return usage("cert revoke", "give exactly one SERIAL (see cert list)");
    }
    if ((s = open_all(o, &cfg)) == NULL) {
        return 1;
    }
    rc = store_issued_by_serial(s, o->arg, &rec);
    if (rc == MESH_ERR_NOT_FOUND) {
        fprintf(stderr,
                "mesh-issuer cert revoke: no certificate with serial %s was issued here "
                "(see cert list; certificates from mesh-ca are revoked with mesh-ca "
                "revoke)\n",
                o->arg);
        goto out;
    }
    if (rc == MESH_OK) {
        rc = ca_issuing_load(cfg->certs.ca_cert, cfg->certs.ca_key, &ca);
    }
    if (rc == MESH_OK) {
        rc = store_issued_revoke(s, rec.serial, now);
    }
    if (rc == MESH_OK) {
        /* every token bound to it, at every verifier (the feed), kept until the last token it
         * could still get (until the TLS verdict reads the new CRL) has expired */
        int64_t until = (rec.not_after > now ? rec.not_after : now) + cfg->ttl_max + cfg->skew + 1;
        rc = store_revoke_cert(s, rec.x5t, until, now, &seq);
    }
    if (rc == MESH_OK) {
        rc = certs_crl_write(ca, s, cfg->certs.crl, now);
    }
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer cert revoke: %s\n", mesh_err_detail());
        goto out;
    }
    audit_event_t ev = {.time = now,
                        .identity = rec.spiffe_id,
                        .auth_method = "operator",
                        .outcome = "certificate_revoked",
                        .source = "cli",
                        .serial = rec.serial};
    audit_log(stderr, &ev);
    printf("certificate %s (%s) revoked: it cannot renew, its tokens are revoked (feed seq "
           "%lld), and %s lists it\n",
           rec.serial, rec.spiffe_id, (long long)seq, cfg->certs.crl);
out:
    ca_issuing_free(ca);
    store_close(s);
    config_free(cfg);
    return rc == MESH_OK ? 0 : 1;
}

int certs_cli(int argc, char **argv)
{
    bool join = strcmp(argv[1], "join-token") == 0;
    const char *verb = argc > 2 ? argv[2] : NULL;
    cli_opts_t o = {.config = NULL};
    int rc;

    if (verb == NULL) {
        return usage(argv[1], join ? "needs a verb: create, list or revoke"
                                   : "needs a verb: list or revoke");
    }
    if ((rc = parse(argc - 2, argv + 2, argv[1], &o)) != 0) {
        return rc;
    }
    if (join && strcmp(verb, "create") == 0) {
        return join_create(&o);
    }
    if (strcmp(verb, "list") == 0) {
        return list(&o, join);
    }
    if (strcmp(verb, "revoke") == 0) {
        return join ? join_revoke(&o) : cert_revoke(&o);
    }
    return usage(argv[1], join ? "unknown verb; use create, list or revoke"
                               : "unknown verb; use list or revoke");
}
