/* SPDX-License-Identifier: Apache-2.0 */
/* mesh-ca: command line. Parses and checks every argument before any command runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca.h"

#ifndef MESH_CA_TEMPLATE_DIR
#define MESH_CA_TEMPLATE_DIR "/usr/local/share/libmesh/certs-templates"
#endif

enum {
    OPT_DIR = 256,
    OPT_TEMPLATE,
    OPT_NOW,
    OPT_FORCE,
    OPT_FORCE_CA,
    OPT_FIX_PERMS,
    OPT_KEEP_KEY,
    OPT_JSON,
    OPT_NC,
    OPT_ALL,
    OPT_JWT_KEY,
    OPT_KEY,
    OPT_WITHIN,
    OPT_DAYS,
    OPT_SAN,
    OPT_REASON,
};

static const struct option long_opts[] = {
    {"dir", required_argument, NULL, OPT_DIR},
    {"template", required_argument, NULL, OPT_TEMPLATE},
    {"now", required_argument, NULL, OPT_NOW},
    {"force", no_argument, NULL, OPT_FORCE},
    {"force-ca", no_argument, NULL, OPT_FORCE_CA},
    {"fix-perms", no_argument, NULL, OPT_FIX_PERMS},
    {"keep-key", no_argument, NULL, OPT_KEEP_KEY},
    {"json", no_argument, NULL, OPT_JSON},
    {"name-constraints", no_argument, NULL, OPT_NC},
    {"all", no_argument, NULL, OPT_ALL},
    {"jwt-key-type", required_argument, NULL, OPT_JWT_KEY},
    {"key-type", required_argument, NULL, OPT_KEY},
    {"within", required_argument, NULL, OPT_WITHIN},
    {"days", required_argument, NULL, OPT_DAYS},
    {"san", required_argument, NULL, OPT_SAN},
    {"reason", required_argument, NULL, OPT_REASON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct verb {
    const char *name;
    int (*run)(const struct ca_opts *o);
    const char *opts; /* options the verb accepts, space-separated */
    int min_args, max_args;
    const char *help;
};

static int cmd_template(const struct ca_opts *o);

static const struct verb verbs[] = {
    {"init", ca_cmd_init,
     "dir template now force force-ca fix-perms keep-key name-constraints "
     "jwt-key-type",
     0, 0,
     "usage: mesh-ca init [--template FILE] [--dir DIR] [options]\n"
     "Creates (or completes) a mesh: root CA, intermediate CA, the issuer's JWT signing key and\n"
     "one key + certificate per template service. Run again: keeps what is valid, adds what the\n"
     "template gained, re-issues what changed, and says what it did per file.\n\n"
     "  --template FILE      mesh template (default certs-templates/mesh.json, else the\n"
     "                       installed copy in " MESH_CA_TEMPLATE_DIR ")\n"
     "  --dir DIR            output directory (default certs), created with mode 0700\n"
     "  --jwt-key-type T     rsa2048 (default), rsa3072, p256 or ed25519\n"
     "  --name-constraints   constrain the intermediate to the trust domain and template names\n"
     "  --force              re-issue every service certificate and the JWT key\n"
     "  --force-ca           also replace the root and intermediate CA (breaks every trust store\n"
     "                       holding the old ca.pem)\n"
     "  --keep-key           re-issue certificates for the existing keys\n"
     "  --fix-perms          chmod key files to 0600 and key directories to 0700 instead of\n"
     "                       refusing to run\n"
     "  --now EPOCH          pretend the time is EPOCH (tests; also MESH_CA_NOW)\n"},
    {"issue", ca_cmd_issue, "dir now force fix-perms keep-key key-type days san template", 1,
     100000,
     "usage: mesh-ca issue SERVICE... [--san NAME|IP]... [--days N] [--key-type T]\n"
     "Issues a key + certificate for each SERVICE (also ones the template does not list) from\n"
     "the existing CA. Many services in one run are minted in one process.\n\n"
     "  --san NAME|IP        extra DNS name or IP address (repeatable; applies to each SERVICE)\n"
     "  --days N             lifetime (default 90; never past the intermediate's expiry)\n"
     "  --key-type T         p256 (default), rsa2048, rsa3072 or ed25519\n"
     "  --template FILE      take names, lifetime and key type of a SERVICE the template\n"
     "                       lists from it (and its defaults for the others)\n"
     "  --force              re-issue a service that already has a certificate\n"
     "  --dir DIR, --now EPOCH, --keep-key, --fix-perms  as for init\n"},
    {"renew", ca_cmd_renew, "dir now all within keep-key key-type days fix-perms", 0, 100000,
     "usage: mesh-ca renew SERVICE...|--all [--within 30d] [--keep-key]\n"
     "Issues a new certificate with the same names (and a new key unless --keep-key); the old\n"
     "files stay as cert.pem.<UTC time>.bak / key.pem.<UTC time>.bak.\n\n"
     "  --all                every service in the directory\n"
     "  --within D           only those expiring within D (30d, 12h, ...)\n"
     "  --days N             new lifetime (default: the old certificate's)\n"
     "  --key-type T         new key type (default: the old key's)\n"},
    {"revoke", ca_cmd_revoke, "dir now reason fix-perms", 1, 1,
     "usage: mesh-ca revoke SERVICE|SERIAL [--reason R]\n"
     "Marks the certificate revoked in index.json and writes crl.pem signed by the intermediate.\n"
     "SERVICE revokes its current certificate; SERIAL (hex, as `list` shows) any leaf.\n\n"
     "  --reason R           unspecified (default), keyCompromise, affiliationChanged,\n"
     "                       superseded, cessationOfOperation, certificateHold,\n"
     "                       privilegeWithdrawn\n"},
    {"list", ca_cmd_list, "dir now json", 0, 0,
     "usage: mesh-ca list [--json] [--dir DIR]\n"
     "Inventory: every CA and service certificate with key type, expiry, days left, status.\n"},
    {"check", ca_cmd_check, "dir now json within", 0, 0,
     "usage: mesh-ca check [--within 30d] [--json] [--dir DIR]\n"
     "For cron, CI and monitoring. Exit status 0: nothing expires within the window (default\n"
     "30d); 1: something does (named on stdout); 2: something is expired, revoked or invalid.\n"
     "A short-lived service certificate (7 days or less, renewed in place) is judged by its\n"
     "renewal point (2/3 of its lifetime + jitter): healthy before it, 1 (overdue) past it.\n"},
    {"issuer-ca", ca_cmd_issuer_ca, "dir now force fix-perms key-type days json", 0, 0,
     "usage: mesh-ca issuer-ca [--dir DIR] [--days N] [--key-type T] [--force] [--json]\n"
     "Mints the issuing CA mesh-issuer signs certificates with online (POST /v1/certificate):\n"
     "DIR/issuing-ca.pem and DIR/issuing-ca.key (mode 0600), signed by the root, with the\n"
     "intermediate's name constraints. The root key stays with mesh-ca.\n\n"
     "  --days N             lifetime (default 365; never past the root's expiry)\n"
     "  --key-type T         p256 (default), rsa2048, rsa3072 or ed25519\n"
     "  --force              replace an existing issuing CA\n"},
    {"template", cmd_template, "template", 0, 0,
     "usage: mesh-ca template [--template FILE]\n"
     "Prints the template format; with --template, validates FILE and says what is wrong.\n"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mesh-ca VERB [OPTIONS] [ARGS]\n\n"
               "Development CA for a service mesh: mTLS identities (SPIFFE IDs) and the issuer's\n"
               "JWT signing key, from one template. Verbs:\n\n"
               "  init      create or complete the whole mesh from a template\n"
               "  issue     add one or more services\n"
               "  renew     re-issue certificates (new keys unless --keep-key)\n"
               "  revoke    revoke a certificate and write crl.pem\n"
               "  list      inventory with status and days left\n"
               "  check     exit 0/1/2 for monitoring\n"
               "  template  the template format, or validate one\n"
               "  issuer-ca the issuing CA mesh-issuer signs certificates with online\n\n"
               "`mesh-ca VERB --help` shows a verb's options; see also mesh-ca(1).\n");
}

static int cmd_template(const struct ca_opts *o)
{
    struct ca_template t;

    if (o->template_path == NULL) {
        fputs(ca_template_help, stdout);
        return CA_EXIT_OK;
    }
    if (ca_template_load(o->template_path, &t) != MESH_OK) {
        fprintf(stderr, "mesh-ca template: %s\n", mesh_err_detail());
        return CA_EXIT_ERR;
    }
    printf(
        "%s: valid (trust domain %s, %zu services)%s\n", o->template_path, t.trust_domain, t.nsvcs,
        t.development ? "; development: every leaf is also valid for localhost and 127.0.0.1" : "");
    ca_template_free(&t);
    return CA_EXIT_OK;
}

static bool verb_allows(const struct verb *v, const char *opt)
{
    size_t n = strlen(opt);

    for (const char *p = v->opts; (p = strstr(p, opt)) != NULL; p += n) {
        if ((p == v->opts || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) {
            return true;
        }
    }
    return false;
}

static bool bad_value(const char *opt, const char *arg, const char *want)
{
    fprintf(stderr, "mesh-ca: --%s \"%s\": %s\n", opt, arg, want);
    return false;
}

static bool set_keytype(const char *opt, const char *arg, mesh_key_type_t *out, bool *set)
{
    if (!mesh_key_type_from_name(arg, out)) {
        return bad_value(opt, arg, "unsupported key type; use p256, rsa2048, rsa3072 or ed25519");
    }
    *set = true;
    return true;
}

static bool set_value_opt(struct ca_opts *o, int id, const char *name, const char *arg)
{
    long long v;

    switch (id) {
    case OPT_DIR:
        o->dir = arg;
        return true;
    case OPT_TEMPLATE:
        o->template_path = arg;
        return true;
    case OPT_REASON:
        o->reason = arg;
        return true;
    case OPT_JWT_KEY:
        return set_keytype(name, arg, &o->jwt_key, &o->jwt_key_set);
    case OPT_KEY:
        return set_keytype(name, arg, &o->key, &o->key_set);
    case OPT_NOW:
        if (!ca_parse_int(arg, 0, 253402300799LL, &v)) {
            return bad_value(name, arg, "must be seconds since 1970 (UTC)");
        }
        o->now = (time_t)v;
        return true;
    case OPT_WITHIN:
        if (!ca_parse_duration(arg, &o->within)) {
            return bad_value(name, arg, "must be a duration like 30d, 12h, 90m or 45s");
        }
        return true;
    case OPT_DAYS:
        if (!ca_parse_int(arg, 1, MESH_MAX_CERT_DAYS, &v)) {
            return bad_value(name, arg, "must be a whole number of days from 1 to 36500");
        }
        o->days = (int)v;
        return true;
    case OPT_SAN:
        if (o->sans.n >= MESH_MAX_CERT_SANS) {
            return bad_value(name, arg, "too many --san (at most 64)");
        }
        return ca_strv_add(&o->sans, arg) == MESH_OK;
    default:
        return false;
    }
}

static bool set_opt(struct ca_opts *o, int id, const char *name, const char *arg)
{
    switch (id) {
    case OPT_FORCE:
        o->force = true;
        return true;
    case OPT_FORCE_CA:
        o->force_ca = o->force = true;
        return true;
    case OPT_FIX_PERMS:
        o->fix_perms = true;
        return true;
    case OPT_KEEP_KEY:
        o->keep_key = true;
        return true;
    case OPT_JSON:
        o->json = true;
        return true;
    case OPT_NC:
        o->name_constraints = true;
        return true;
    case OPT_ALL:
        o->all = true;
        return true;
    default:
        return set_value_opt(o, id, name, arg);
    }
}

static bool now_from_env(struct ca_opts *o)
{
    const char *env = getenv("MESH_CA_NOW");
    long long v;

    if (env == NULL) {
        return true;
    }
    if (!ca_parse_int(env, 0, 253402300799LL, &v)) {
        fprintf(stderr, "mesh-ca: MESH_CA_NOW=\"%s\" must be seconds since 1970 (UTC)\n", env);
        return false;
    }
    o->now = (time_t)v;
    return true;
}

/* -1: run the verb; CA_EXIT_OK: help printed; CA_EXIT_ERR: bad arguments. */
static int parse(const struct verb *v, int argc, char **argv, struct ca_opts *o)
{
    int c, idx;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, &idx)) != -1) {
        if (c == 'h') {
            fputs(v->help, stdout);
            return CA_EXIT_OK;
        }
        if (c == '?' || c == ':') {
            fprintf(stderr, "mesh-ca %s: %s option \"%s\"; see `mesh-ca %s --help`\n", v->name,
                    c == ':' ? "missing value for" : "unknown", argv[optind - 1], v->name);
            return CA_EXIT_ERR;
        }
        if (!verb_allows(v, long_opts[idx].name)) {
            fprintf(stderr, "mesh-ca %s: --%s does not apply to %s; see `mesh-ca %s --help`\n",
                    v->name, long_opts[idx].name, v->name, v->name);
            return CA_EXIT_ERR;
        }
        if (!set_opt(o, c, long_opts[idx].name, optarg)) {
            return CA_EXIT_ERR;
        }
        /* GNU getopt permutes, so SERVICE names may come before or after options */
    }
    o->args = argv + optind;
    o->nargs = argc - optind;
    if (o->nargs < v->min_args || o->nargs > v->max_args) {
        fprintf(stderr, "mesh-ca %s: expected %s; see `mesh-ca %s --help`\n", v->name,
                v->max_args == 0 ? "no arguments"
                : v->min_args    ? "a name"
                                 : "names or --all",
                v->name);
        return CA_EXIT_ERR;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct ca_opts o;
    int ret;

    (void)setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines show up as they happen */
    memset(&o, 0, sizeof(o));
    o.dir = "certs";
    o.within = -1;
    o.now = time(NULL);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CA_EXIT_ERR : CA_EXIT_OK;
    }
    for (size_t i = 0; i < CA_ARRAY_LEN(verbs); i++) {
        if (strcmp(argv[1], verbs[i].name) != 0) {
            continue;
        }
        if (!now_from_env(&o)) {
            return CA_EXIT_ERR;
        }
        ret = parse(&verbs[i], argc - 1, argv + 1, &o);
        if (ret < 0) {
            ret = verbs[i].run(&o);
        }
        ca_strv_free(&o.sans);
        return ret;
    }
    fprintf(stderr, "mesh-ca: unknown verb \"%s\"\n", argv[1]);
    usage(stderr);
    return CA_EXIT_ERR;
}
