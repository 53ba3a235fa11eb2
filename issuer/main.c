/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-issuer: serve, check a config, and manage service tokens (docs/man/mesh-issuer.8). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mesh/mesh.h>

#include "certs_cli.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "state.h"
#include "store.h"
#include "svc_tokens.h"

#define EXIT_USAGE 2

static const char USAGE[] =
    "usage: mesh-issuer serve --config FILE [--workers N] [--check-config] [--debug]\n"
    "       mesh-issuer --check-config --config FILE\n"
    "       mesh-issuer token create NAME --audience A[,B] [--scope 'S1 S2'] [--expires 8760h]"
    " [--json] --config FILE\n"
    "       mesh-issuer token list [--json] --config FILE\n"
    "       mesh-issuer token rotate NAME [--grace 24h] [--json] --config FILE\n"
    "       mesh-issuer token revoke NAME --config FILE\n"
    "       mesh-issuer join-token create --service NAME [--ttl 1h] [--json] --config FILE\n"
    "       mesh-issuer join-token list [--json] --config FILE\n"
    "       mesh-issuer join-token revoke ID --config FILE\n"
    "       mesh-issuer cert list [--json] --config FILE\n"
    "       mesh-issuer cert revoke SERIAL --config FILE\n"
    "       mesh-issuer --help | --version\n"
    "\n"
    "serve          run the HTTPS token issuer (SIGHUP reloads, SIGTERM drains and exits)\n"
    "--check-config load the config, keys and TLS files, explain them, and exit\n"
    "token create   make a service token for a caller without a certificate (CI); prints\n"
    "               the client id and the secret ONCE\n"
    "token list     service tokens, their audiences, expiry and last use\n"
    "token rotate   new secret; the old one keeps working for --grace (default 24h)\n"
    "token revoke   the service token stops working at once\n"
    "join-token create  a one-time token for a service's first certificate (POST\n"
    "               /v1/certificate with Mesh-Join-Token); prints it ONCE\n"
    "join-token list    join tokens by id, their service, and whether they were used\n"
    "join-token revoke  the join token can no longer get a certificate\n"
    "cert list      certificates this issuer signed: serial, status, expiry, identity\n"
    "cert revoke    the certificate cannot renew, its tokens are revoked, the CRL lists it\n"
    "\n"
    "Durations: a number with s, m, h or d (\"8760h\", \"30d\").\n"
    "See mesh-issuer(8) and docs/CONFIG.md.\n";

typedef struct {
    const char *config;
    const char *audience;
    const char *scope;
    const char *expires;
    const char *grace;
    int workers;
    bool json;
    bool check;
    bool debug;
} opts_t;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
    fprintf(stderr, "mesh-issuer: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'mesh-issuer --help' for usage.\n");
    return EXIT_USAGE;
}

static bool parse_duration(const char *s, bool zero_ok, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || v < (zero_ok ? 0 : 1) || v > 100LL * 365 * 86400) {
        return false;
    }
    int64_t mul;
    if (strcmp(end, "s") == 0 || *end == '\0') {
        mul = 1;
    } else if (strcmp(end, "m") == 0) {
        mul = 60;
    } else if (strcmp(end, "h") == 0) {
        mul = 3600;
    } else if (strcmp(end, "d") == 0) {
        mul = 86400;
    } else {
        return false;
    }
    if (v * mul > 100LL * 365 * 86400) {
        return false;
    }
    *out = v * mul;
    return true;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"audience", required_argument, NULL, 'a'},
        {"scope", required_argument, NULL, 's'},  {"expires", required_argument, NULL, 'e'},
        {"grace", required_argument, NULL, 'g'},  {"workers", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},         {"check-config", no_argument, NULL, 'k'},
        {"debug", no_argument, NULL, 'd'},        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    int ch;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "c:a:s:e:g:w:jkdhV", longs, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'a':
            o->audience = optarg;
            break;
        case 's':
            o->scope = optarg;
            break;
        case 'e':
            o->expires = optarg;
            break;
        case 'g':
            o->grace = optarg;
            break;
        case 'j':
            o->json = true;
            break;
        case 'k':
            o->check = true;
            break;
        case 'd':
            o->debug = true;
            break;
        case 'w': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1 || n > 256) {
                return usage_error("--workers '%s' must be a number from 1 to 256", optarg);
            }
            o->workers = (int)n;
            break;
        }
        case 'h':
            fputs(USAGE, stdout);
            exit(0);
        case 'V':
            printf("mesh-issuer %s\n", MESH_VERSION);
            exit(0);
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (o->config == NULL) {
        return usage_error("%s", "--config FILE is required");
    }
    return 0;
}

static int check_config(const char *path)
{
    char err[2048];
    issuer_state_t *st = NULL;
    if (state_load(path, NULL, &st, err, sizeof(err)) != MESH_OK) {
        fprintf(stderr, "mesh-issuer: config is NOT valid:\n  %s\n", err);
        return EXIT_USAGE;
    }
    config_explain(st->cfg, stdout);
    printf("signing key kid %s (%s); JWKS publishes %zu key(s)\n", mesh_key_kid(st->sign_key),
           mesh_alg_name(mesh_key_alg(st->sign_key)), mesh_jwks_count(st->jwks));
    printf("config OK: %s\n", path);
    state_unref(st);
    return 0;
}

static int serve(const opts_t *o)
{
    if (o->check) {
        return check_config(o->config);
    }
    if (o->debug) {
        log_set_level(LOG_DEBUG);
    }
    char err[2048];
    issuer_state_t *st = NULL;
    if (state_load(o->config, NULL, &st, err, sizeof(err)) != MESH_OK) {
        log_msg(LOG_ERROR, "config is not valid", "%s", err);
        return EXIT_USAGE;
    }
    store_t *store = NULL; /* create the schema once, before the workers open it */
    mesh_err_t rc = store_open(st->cfg->store, &store);
    if (rc != MESH_OK) {
        log_msg(LOG_ERROR, "cannot open store", "%s: %s: %s", st->cfg->store, mesh_strerror(rc),
                mesh_err_detail());
        state_unref(st);
        return 1;
    }
    store_close(store);
    return server_run(o->config, st, o->workers);
}

/* ---- service tokens ---- */

static store_t *open_store(const opts_t *o, config_t **cfg)
{
    char err[2048];
    if (config_load(o->config, cfg, err, sizeof(err)) != MESH_OK) {
        fprintf(stderr, "mesh-issuer: %s\n", err);
        return NULL;
    }
    store_t *s = NULL;
    mesh_err_t rc = store_open((*cfg)->store, &s);
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer: cannot open store %s: %s (%s)\n", (*cfg)->store,
                mesh_strerror(rc), mesh_err_detail());
        config_free(*cfg);
        return NULL;
    }
    return s;
}

/* Calls fn on each `sep`-separated word of `list` (empty words skipped) until it fails. */
static bool each_word(const char *list, char sep, bool (*fn)(void *ctx, const char *w), void *ctx)
{
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            char *w = strndup(p, len);
            bool ok = w != NULL && fn(ctx, w);
            free(w);
            if (!ok) {
                return false;
            }
        }
        if (end == NULL) {
            break;
        }
        p = end + 1;
    }
    return true;
}

typedef struct {
    const config_t *cfg;
    const char *audiences;
} grant_ctx_t;

static bool audience_ok(void *p, const char *a)
{
    const grant_ctx_t *g = p;
    if (config_audience(g->cfg, a) != NULL) {
        return true;
    }
    fprintf(stderr, "mesh-issuer: --audience: '%s' is not registered in %s; registered:", a,
            g->cfg->path);
    for (size_t i = 0; i < g->cfg->n_audiences; i++) {
        fprintf(stderr, " %s", g->cfg->audiences[i].name);
    }
    fputc('\n', stderr);
    return false;
}

typedef struct {
    const config_t *cfg;
    const char *scope;
} scope_query_t;

/* each_word callback: false ("stop") when audience `a` defines the scope */
static bool lacks_scope(void *p, const char *a)
{
    const scope_query_t *q = p;
    const cfg_audience_t *au = config_audience(q->cfg, a);
    for (size_t j = 0; au != NULL && j < au->n_scopes; j++) {
        if (strcmp(au->scopes[j], q->scope) == 0) {
            return false;
        }
    }
    return true;
}

static bool scope_ok(void *p, const char *s)
{
    const grant_ctx_t *g = p;
    scope_query_t q = {.cfg = g->cfg, .scope = s};
    if (!each_word(g->audiences, ',', lacks_scope, &q)) {
        return true; /* some audience has it */
    }
    fprintf(stderr, "mesh-issuer: --scope: '%s' is not a scope of %s\n", s, g->audiences);
    return false;
}

/* Every word of the space-separated `scopes` (<mesh/util.h>) passes scope_ok. */
static bool each_scope_ok(grant_ctx_t *g, const char *scopes)
{
    const char *cursor = scopes;
    const char *w;
    size_t len;
    while (mesh_words_next(&cursor, &w, &len)) {
        char *s = strndup(w, len);
        bool ok = s != NULL && scope_ok(g, s);
        free(s);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Every audience must be registered, every scope must belong to one of them. */
static bool check_grant(const config_t *cfg, const char *audiences, const char *scopes)
{
    grant_ctx_t g = {.cfg = cfg, .audiences = audiences};
    if (audiences[0] == '\0') {
        fprintf(stderr, "mesh-issuer: --audience is empty\n");
        return false;
    }
    return each_word(audiences, ',', audience_ok, &g) && each_scope_ok(&g, scopes);
}

static int token_create(const opts_t *o, const char *name)
{
    if (o->audience == NULL) {
        return usage_error("%s", "token create needs --audience A[,B]");
    }
    int64_t lifetime = 365 * 86400;
    if (o->expires != NULL && !parse_duration(o->expires, false, &lifetime)) {
        return usage_error("--expires '%s' must be a duration like 8760h or 30d", o->expires);
    }
    config_t *cfg = NULL;
    store_t *s = open_store(o, &cfg);
    if (s == NULL) {
        return 1;
    }
    const char *scopes = o->scope ? o->scope : "";
    int status = 0;
    char id[64], secret[MESH_MAX_CLIENT_SECRET];
    if (!check_grant(cfg, o->audience, scopes)) {
        status = EXIT_USAGE;
    } else {
        mesh_err_t rc = svc_token_create(s, name, o->audience, scopes, lifetime,
                                         (int64_t)time(NULL), id, secret);
        if (rc != MESH_OK) {
            fprintf(stderr, "mesh-issuer: cannot create '%s': %s\n", name,
                    mesh_err_detail()[0] ? mesh_err_detail() : mesh_strerror(rc));
            status = 1;
        } else if (o->json) {
            printf("{\"name\":\"%s\",\"client_id\":\"%s\",\"client_secret\":\"%s\","
                   "\"identity\":\"svc-token:%s\"}\n",
                   name, id, secret, name);
        } else {
            printf("service token '%s' created (identity svc-token:%s)\n", name, name);
            printf("client id:     %s\n", id);
            printf("client secret: %s\n", secret);
            printf("The secret is shown only now; store it in your CI secret store.\n");
        }
        mesh_wipe(secret, sizeof(secret));
    }
    store_close(s);
    config_free(cfg);
    return status;
}

static int token_rotate(const opts_t *o, const char *name)
{
    int64_t grace = 86400;
    if (o->grace != NULL && !parse_duration(o->grace, true, &grace)) {
        return usage_error("--grace '%s' must be a duration like 24h", o->grace);
    }
    config_t *cfg = NULL;
    store_t *s = open_store(o, &cfg);
    if (s == NULL) {
        return 1;
    }
    char secret[MESH_MAX_CLIENT_SECRET];
    mesh_err_t rc = svc_token_rotate(s, name, grace, (int64_t)time(NULL), secret);
    int status = 0;
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer: cannot rotate '%s': %s\n", name,
                rc == MESH_ERR_NOT_FOUND ? "no such service token (see token list)"
                                         : mesh_strerror(rc));
        status = 1;
    } else if (o->json) {
        printf("{\"name\":\"%s\",\"client_secret\":\"%s\",\"previous_valid_for\":%lld}\n", name,
               secret, (long long)grace);
    } else {
        printf("new client secret for '%s': %s\n", name, secret);
        printf("The old secret keeps working for %lld s; shown only now.\n", (long long)grace);
    }
    mesh_wipe(secret, sizeof(secret));
    store_close(s);
    config_free(cfg);
    return status;
}

static int token_revoke(const opts_t *o, const char *name)
{
    config_t *cfg = NULL;
    store_t *s = open_store(o, &cfg);
    if (s == NULL) {
        return 1;
    }
    int64_t now = (int64_t)time(NULL);
    int64_t longest =
        (cfg->ttl_max > cfg->svc_ttl_max ? cfg->ttl_max : cfg->svc_ttl_max) + cfg->skew;
    mesh_err_t rc = svc_token_revoke(s, name, now, longest);
    int status = 0;
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer: cannot revoke '%s': %s\n", name,
                rc == MESH_ERR_NOT_FOUND ? "no such service token (see token list)"
                                         : mesh_strerror(rc));
        status = 1;
    } else {
        printf("service token '%s' revoked, and the tokens it obtained: verifiers refuse them "
               "from their next revocation poll\n",
               name);
    }
    store_close(s);
    config_free(cfg);
    return status;
}

typedef struct {
    bool json;
    json_t *arr;
    int64_t now;
} list_ctx_t;

static void fmt_time(int64_t t, char *out, size_t cap)
{
    if (t == 0) {
        snprintf(out, cap, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static bool list_cb(void *p, const svc_token_rec_t *r)
{
    list_ctx_t *c = p;
    const char *status = r->revoked ? "revoked" : (r->expires <= c->now ? "expired" : "active");
    if (c->json) {
        json_array_append_new(
            c->arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:b}", "name", r->name,
                              "client_id", r->client_id, "audiences", r->audiences, "scopes",
                              r->scopes, "created", (json_int_t)r->created, "expires",
                              (json_int_t)r->expires, "last_used", (json_int_t)r->last_used,
                              "status", status, "rotation_grace", r->prev_valid_until > c->now));
        return true;
    }
    char exp[32], used[32];
    fmt_time(r->expires, exp, sizeof(exp));
    fmt_time(r->last_used, used, sizeof(used));
    printf("%-20s %-28s %-8s %-21s %-21s %s%s%s\n", r->name, r->client_id, status, exp, used,
           r->audiences, r->scopes[0] ? " scopes=" : "", r->scopes);
    return true;
}

static int token_list(const opts_t *o)
{
    config_t *cfg = NULL;
    store_t *s = open_store(o, &cfg);
    if (s == NULL) {
        return 1;
    }
    list_ctx_t c = {.json = o->json, .arr = json_array(), .now = (int64_t)time(NULL)};
    if (!o->json) {
        printf("%-20s %-28s %-8s %-21s %-21s %s\n", "NAME", "CLIENT ID", "STATUS", "EXPIRES",
               "LAST USED", "AUDIENCES");
    }
    mesh_err_t rc = store_svc_list(s, list_cb, &c);
    if (rc == MESH_OK && o->json) {
        char *text = json_dumps(c.arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (text != NULL) {
            puts(text);
        }
        free(text);
    }
    json_decref(c.arr);
    store_close(s);
    config_free(cfg);
    if (rc != MESH_OK) {
        fprintf(stderr, "mesh-issuer: cannot list: %s\n", mesh_strerror(rc));
        return 1;
    }
    return 0;
}

static int token_cmd(int argc, char **argv)
{
    if (argc < 3) {
        return usage_error("%s", "token needs a verb: create, list, rotate or revoke");
    }
    const char *verb = argv[2];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        fputs(USAGE, stdout); /* parse_opts would take it for argv[0] and skip it */
        return 0;
    }
    opts_t o = {0};
    int rc = parse_opts(argc - 2, argv + 2, &o);
    if (rc != 0) {
        return rc;
    }
    int npos = argc - 2 - optind; /* positional arguments after the verb */
    const char *name = npos >= 1 ? argv[2 + optind] : NULL;
    if (strcmp(verb, "list") == 0) {
        return npos == 0 ? token_list(&o) : usage_error("%s", "token list takes no NAME");
    }
    if (name == NULL || npos != 1) {
        return usage_error("token %s needs exactly one NAME", verb);
    }
    if (strcmp(verb, "create") == 0) {
        return token_create(&o, name);
    }
    if (strcmp(verb, "rotate") == 0) {
        return token_rotate(&o, name);
    }
    if (strcmp(verb, "revoke") == 0) {
        return token_revoke(&o, name);
    }
    return usage_error("unknown token verb '%s'; use create, list, rotate or revoke", verb);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "token") == 0) {
        return token_cmd(argc, argv);
    }
    if (strcmp(verb, "join-token") == 0 || strcmp(verb, "cert") == 0) {
        if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
            fputs(USAGE, stdout);
            return 0;
        }
        return certs_cli(argc, argv);
    }
    opts_t o = {0};
    if (strcmp(verb, "serve") == 0) {
        int rc = parse_opts(argc - 1, argv + 1, &o);
        if (rc != 0) {
            return rc;
        }
        if (optind != argc - 1) {
            return usage_error("serve takes no argument '%s'", argv[optind + 1]);
        }
        return serve(&o);
    }
    if (verb[0] == '-') { /* --check-config, --help, --version */
        int rc = parse_opts(argc, argv, &o);
        if (rc != 0) {
            return rc;
        }
        if (o.check) {
            return check_config(o.config);
        }
        return usage_error("%s", "say what to do: serve, --check-config or token");
    }
    return usage_error("unknown command '%s'; use serve, token, join-token, cert or --check-config",
                       verb);
}
