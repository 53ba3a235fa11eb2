/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh doctor [--audience A] : walks a service's setup from its files to a verified token and
 * stops at the first failure with what to change.
 */
#define _XOPEN_SOURCE 700 /* strptime, for the Date header */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <mesh/mesh.h>
#include <mesh/renew.h>

#include "cli.h"
#include "client_env.h"

typedef struct {
    cli_identity_t id;
    const char *audience;
    char note[1024]; /* what the step found, or why it failed */
    char fix[1024];  /* what to change, on failure */
    char iss[512], jwks_uri[1024], meta_url[1024];
    mesh_client_t *client; /* made once, as services make theirs */
    mesh_response_t *meta; /* the issuer's metadata answer */
    mesh_err_t meta_rc;
    char meta_detail[1024];
    mesh_jwks_t *jwks;
    char *token;
    int passed, warned;
    bool warn;    /* the step passed with a warning (in note) */
    bool overdue; /* the certificate is past its renewal point (exit 3) */
    time_t date;  /* the issuer's Date header, 0 when unknown */
} doctor_t;

static void say(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}
#define NOTE(...) say(d->note, sizeof(d->note), __VA_ARGS__)
#define FIX(...)  say(d->fix, sizeof(d->fix), __VA_ARGS__)

static bool lib_fail(doctor_t *d, mesh_err_t rc)
{
    NOTE("%s: %s", mesh_err_name(rc), mesh_err_detail()[0] ? mesh_err_detail() : mesh_strerror(rc));
    return false;
}

static bool step_config(doctor_t *d)
{
    cli_identity_t *id = &d->id;

    if (id->issuer == NULL) {
        NOTE("no issuer URL");
        FIX("set MESH_ISSUER_URL (or --issuer) to the issuer's https://host:port");
        return false;
    }
    if (id->ca == NULL) {
        NOTE("no CA file");
        FIX("set TLS_CA_PATH to the mesh CA (certs/ca.pem), or MESH_CERTS_DIR");
        return false;
    }
    if (id->client_id == NULL && (id->cert == NULL || id->key == NULL)) {
        NOTE("no certificate/key and no service token");
        FIX("set TLS_CERT_PATH and TLS_KEY_PATH, or MESH_CERTS_DIR with --service NAME, or "
            "MESH_CLIENT_ID and MESH_CLIENT_SECRET");
        return false;
    }
    if (id->client_id != NULL && id->client_secret == NULL) {
        NOTE("a client id without a secret");
        FIX("set MESH_CLIENT_SECRET");
        return false;
    }
    if (id->cert != NULL) {
        NOTE("issuer %s, certificate %s, key %s, CA %s", id->issuer, id->cert, id->key, id->ca);
    } else {
        NOTE("issuer %s, service token %s, CA %s", id->issuer, id->client_id, id->ca);
    }
    return true;
}

static bool readable(doctor_t *d, const char *what, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        NOTE("%s %s cannot be read", what, path);
        FIX("check the path and that this user may read it (ls -l %s)", path);
        return false;
    }
    fclose(f);
    return true;
}

static bool step_files(doctor_t *d)
{
    struct stat st;

    if (!readable(d, "CA file", d->id.ca) ||
        (d->id.cert != NULL &&
         (!readable(d, "certificate", d->id.cert) || !readable(d, "key", d->id.key)))) {
        return false;
    }
    NOTE("all readable");
    if (d->id.key != NULL && stat(d->id.key, &st) == 0 && (st.st_mode & 077) != 0) {
        NOTE("key %s has mode %04o: other users may read it; chmod 600 %s", d->id.key,
             (unsigned)(st.st_mode & 07777), d->id.key);
        d->warn = true;
    }
    return true;
}

static bool step_key(doctor_t *d)
{
    mesh_err_t rc = mesh_certfile_check_key(d->id.cert, d->id.key);
    if (rc != MESH_OK) {
        FIX("use the key.pem that belongs to this cert.pem (same service directory)");
        return lib_fail(d, rc);
    }
    NOTE("%s is the key of %s", d->id.key, d->id.cert);
    return true;
}

static bool step_chain(doctor_t *d)
{
    mesh_err_t rc = mesh_certfile_check_chain(d->id.cert, d->id.ca);
    if (rc != MESH_OK) {
        FIX("point TLS_CA_PATH at the ca.pem of the mesh-ca run that issued %s, or re-issue "
            "the certificate from this CA",
            d->id.cert);
        return lib_fail(d, rc);
    }
    NOTE("chains to %s", d->id.ca);
    return true;
}

static bool step_expiry(doctor_t *d)
{
    int64_t not_after = 0;
    mesh_err_t rc = mesh_certfile_check_time(d->id.cert, 0, &not_after);
    if (rc != MESH_OK) {
        FIX("re-issue the certificate (mesh-ca issue %s) and restart the service",
            d->id.service != NULL ? d->id.service : "SERVICE");
        return lib_fail(d, rc);
    }
    long long left = (long long)(not_after - time(NULL));
    long long days = left / 86400;
    mesh_renew_info_t ri = {0};
    /* Short-lived certificates (renew.h): healthy until the renewal point (2/3 of the
     * lifetime, the latest of its jitter), a warning past it: the renewal is failing. */
    bool known = mesh_certfile_renewal(d->id.cert, NULL, &ri) == MESH_OK;
    if (known && time(NULL) >= ri.renew_at) {
        NOTE("past its renewal point (%lld s ago; expires in %lld s): the renewal is failing "
             "(check `mesh renew` or the service's log; mesh-ca renew %s by hand)",
             (long long)(time(NULL) - ri.renew_at), left,
             d->id.service != NULL ? d->id.service : "SERVICE");
        d->warn = true;
        d->overdue = true;
        return true;
    }
    if (known && left < 2 * 86400) {
        NOTE("valid for %lld more s, renews in %lld s at the latest", left,
             (long long)(ri.renew_at - time(NULL)));
    } else {
        NOTE("valid for %lld more days", days);
    }
    /* A long-lived certificate renewed by hand: the 30-day warning as before. */
    if (days < 30 && (!known || not_after - ri.not_before > 45 * 86400)) {
        NOTE("expires in %lld days: renew it soon (mesh-ca renew %s)", days,
             d->id.service != NULL ? d->id.service : "SERVICE");
        d->warn = true;
    }
    return true;
}

static bool step_spiffe(doctor_t *d)
{
    uint8_t *der = NULL;
    size_t len = 0;
    char *uri = NULL;
    mesh_err_t rc = mesh_x509_load_der(d->id.cert, &der, &len);

    if (rc == MESH_OK) {
        rc = mesh_x509_spiffe_id(der, len, &uri);
    }
    mesh_free(der);
    if (rc != MESH_OK) {
        FIX("issue the certificate with mesh-ca: it carries spiffe://<trust-domain>/<service> "
            "as its URI SAN");
        return lib_fail(d, rc);
    }
    NOTE("%s", uri);
    mesh_free(uri);
    return true;
}

/*
 * The network checks go through a mesh client made exactly as `mesh token` and services make
 * theirs (cli_make_client: libmesh's http.c set-up, the same TLS material, CA, hostname and
 * issuer-ID checks), so doctor checks the configuration services use, not one of its own.
 */
static mesh_err_t fetch(doctor_t *d, const char *url, mesh_response_t **resp)
{
    mesh_request_t *req = NULL;
    mesh_err_t rc = MESH_OK;

    if (d->client == NULL) {
        rc = cli_make_client(&d->id, 0, 0, &d->client);
    }
    if (rc == MESH_OK) {
        rc = mesh_request_new("GET", url, &req);
    }
    if (rc == MESH_OK) {
        rc = mesh_request_set_max_body(req, MESH_MAX_DOCTOR_BODY); /* no audience: no token sent */
    }
    if (rc == MESH_OK) {
        rc = mesh_client_request(d->client, req, resp);
    }
    mesh_request_free(req);
    return rc;
}

/* A transport failure that happened inside TLS (an alert, a handshake error). */
static bool tls_failure(mesh_err_t rc, const char *detail)
{
    return rc == MESH_ERR_TLS || rc == MESH_ERR_PEER_ID || strstr(detail, "SSL") != NULL ||
           strstr(detail, "TLS") != NULL || strstr(detail, "alert") != NULL;
}

/* One request to the issuer's metadata: reachable (step 1), TLS (step 2), metadata (3). */
static bool step_reachable(doctor_t *d)
{
    size_t n = strlen(d->id.issuer);

    while (n > 0 && d->id.issuer[n - 1] == '/') {
        n--;
    }
    snprintf(d->meta_url, sizeof(d->meta_url), "%.*s/.well-known/oauth-authorization-server",
             (int)n, d->id.issuer);
    d->meta_rc = fetch(d, d->meta_url, &d->meta);
    snprintf(d->meta_detail, sizeof(d->meta_detail), "%s",
             d->meta_rc != MESH_OK ? mesh_err_detail() : "");
    if (d->meta_rc == MESH_ERR_CONFIG || d->meta_rc == MESH_ERR_INVALID_ARG) {
        FIX("set MESH_ISSUER_URL to https://host:port");
        return lib_fail(d, d->meta_rc);
    }
    if (d->meta_rc != MESH_OK && !tls_failure(d->meta_rc, d->meta_detail)) {
        NOTE("%s", d->meta_detail);
        FIX("start mesh-issuer, or fix the host:port in MESH_ISSUER_URL");
        return false;
    }
    NOTE("%.*s accepts connections", (int)n, d->id.issuer);
    return true;
}

/* Remembers the Date header (RFC 9110 §5.6.7 IMF-fixdate) to compare clocks. */
static void note_date(doctor_t *d, const mesh_response_t *r)
{
    const char *v = mesh_response_header(r, "Date");
    struct tm tm = {0};
    const char *end = v != NULL ? strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;

    d->date = end != NULL ? timegm(&tm) : 0;
    if (d->date < 0) {
        d->date = 0;
    }
}

static bool step_tls(doctor_t *d)
{
    if (d->meta_rc != MESH_OK) {
        NOTE("%s", d->meta_detail);
        FIX("the issuer's certificate must chain to TLS_CA_PATH and name the host in "
            "MESH_ISSUER_URL; an 'alert' above is the issuer refusing this certificate");
        return false;
    }
    NOTE("TLS with %s", d->id.cert != NULL ? "this service's certificate"
                                           : "no client "
                                             "certificate");
    return true;
}

/* A 200 answer's body, or false with NOTE/FIX set. */
static bool answer_ok(doctor_t *d, const char *url, const mesh_response_t *r, const char *fix)
{
    if (mesh_response_status(r) != 200) {
        NOTE("%s answered HTTP %ld: %.200s", url, mesh_response_status(r), mesh_response_body(r));
        FIX("%s", fix);
        return false;
    }
    return true;
}

static bool step_metadata(doctor_t *d)
{
    json_t *doc = NULL;
    const char *iss, *jwks;
    mesh_err_t rc;

    note_date(d, d->meta);
    if (!answer_ok(d, d->meta_url, d->meta, "check that MESH_ISSUER_URL is mesh-issuer's URL")) {
        return false;
    }
    /* Untrusted JSON: through libmesh's one door (duplicate members and depth refused). */
    rc = mesh_json_parse_object(mesh_response_body(d->meta), mesh_response_body_len(d->meta),
                                MESH_MAX_JSON_DEPTH, "issuer metadata", &doc);
    if (rc != MESH_OK) {
        FIX("MESH_ISSUER_URL must point at mesh-issuer");
        return lib_fail(d, rc);
    }
    iss = json_string_value(json_object_get(doc, "issuer"));
    jwks = json_string_value(json_object_get(doc, "jwks_uri"));
    if (iss == NULL || jwks == NULL) {
        NOTE("%s is not RFC 8414 metadata (no issuer or jwks_uri)", d->meta_url);
        FIX("MESH_ISSUER_URL must point at mesh-issuer");
        json_decref(doc);
        return false;
    }
    snprintf(d->iss, sizeof(d->iss), "%s", iss);
    snprintf(d->jwks_uri, sizeof(d->jwks_uri), "%s", jwks);
    json_decref(doc);
    NOTE("issuer %s, jwks_uri %s", d->iss, d->jwks_uri);
    return true;
}

/* Tokens carry seconds; beyond the verifiers' skew (30 s) every token fails somewhere. */
static bool step_clock(doctor_t *d)
{
    long long diff;

    if (d->date == 0) {
        NOTE("the issuer sent no Date header; clock not compared");
        d->warn = true;
        return true;
    }
    diff = (long long)(time(NULL) - d->date);
    NOTE("this host's clock is %+lld s from the issuer's", diff);
    if (llabs(diff) > MESH_DEFAULT_SKEW) {
        FIX("synchronise this host's clock (NTP, timedatectl): beyond %d s tokens fail with "
            "token_expired or iat_in_future",
            MESH_DEFAULT_SKEW);
        return false;
    }
    d->warn = llabs(diff) > 5;
    return true;
}

static bool step_jwks(doctor_t *d)
{
    mesh_response_t *r = NULL;
    mesh_err_t rc = fetch(d, d->jwks_uri, &r);

    if (rc != MESH_OK) {
        FIX("the issuer must serve its keys at jwks_uri");
        return lib_fail(d, rc);
    }
    if (!answer_ok(d, d->jwks_uri, r, "the issuer must serve its keys at jwks_uri")) {
        mesh_response_free(r);
        return false;
    }
    rc = mesh_jwks_parse(mesh_response_body(r), mesh_response_body_len(r), &d->jwks);
    mesh_response_free(r);
    if (rc != MESH_OK) {
        FIX("the issuer publishes an invalid JWKS: check its signing key configuration");
        return lib_fail(d, rc);
    }
    if (mesh_jwks_count(d->jwks) == 0) {
        NOTE("the JWKS has no usable key");
        FIX("configure mesh-issuer with a signing key (JWT_PRIVATE_KEY_PATH)");
        return false;
    }
    NOTE("%zu signing key(s)", mesh_jwks_count(d->jwks));
    return true;
}

static bool step_token(doctor_t *d)
{
    mesh_client_t *c = NULL;
    int64_t exp = 0;
    mesh_err_t rc = cli_make_client(&d->id, 0, 0, &c);

    if (rc == MESH_OK) {
        rc = mesh_client_token(c, d->audience, NULL, &d->token, &exp);
    }
    mesh_client_free(c);
    if (rc != MESH_OK) {
        FIX(rc == MESH_ERR_ISSUER_ERROR
                ? "do what the issuer says above: invalid_target lists the registered "
                  "audiences; access_denied names who may get this audience (issuer policy)"
                : "see the error above");
        return lib_fail(d, rc);
    }
    NOTE("expires in %lld s", (long long)(exp - time(NULL)));
    return true;
}

static bool step_verify(doctor_t *d)
{
    mesh_jwt_verify_opts_t *o = NULL;
    uint8_t *der = NULL;
    size_t len = 0;
    mesh_identity_t *claims = NULL;
    bool bound = d->id.cert != NULL && d->id.client_id == NULL;
    mesh_err_t rc;

    rc = mesh_jwt_verify_opts_new(&o);
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_issuer(o, d->iss);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_audience(o, d->audience);
    }
    if (rc == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_binding(o, bound ? "required" : "when-presented");
    }
    if (rc == MESH_OK && bound && (rc = mesh_x509_load_der(d->id.cert, &der, &len)) == MESH_OK) {
        rc = mesh_jwt_verify_opts_set_cert(o, der, len);
    }
    if (rc != MESH_OK) {
        mesh_jwt_verify_opts_free(o);
        mesh_free(der);
        return lib_fail(d, rc);
    }
    rc = mesh_jwt_verify(d->jwks, d->token, strlen(d->token), o, &claims);
    mesh_jwt_verify_opts_free(o);
    mesh_free(der);
    if (rc != MESH_OK) {
        FIX("the issuer's token does not pass a verifier: compare the issuer's configured "
            "URL (iss) and keys with what verifiers use");
        return lib_fail(d, rc);
    }
    NOTE("sub %s, scope \"%s\"%s", mesh_identity_subject(claims), mesh_identity_scopes(claims),
         bound ? ", bound to this certificate" : "");
    mesh_identity_free(claims);
    return true;
}

typedef struct {
    const char *name;
    bool (*run)(doctor_t *d);
    int needs; /* 1: certificate mode only, 2: --audience only */
} step_t;

static const step_t steps[] = {
    {"configuration", step_config, 0},
    {"files readable", step_files, 0},
    {"key matches certificate", step_key, 1},
    {"not expired", step_expiry, 1},
    {"chains to CA", step_chain, 1},
    {"SPIFFE ID", step_spiffe, 1},
    {"issuer reachable", step_reachable, 0},
    {"TLS handshake", step_tls, 0},
    {"issuer metadata", step_metadata, 0},
    {"clock", step_clock, 0},
    {"JWKS", step_jwks, 0},
    {"token request", step_token, 2},
    {"token verifies", step_verify, 2},
};

static void doctor_help(void)
{
    printf("usage: mesh doctor [--audience A] [--json] [identity]\n\n"
           "Checks this service's setup step by step and prints each as a check mark or a\n"
           "cross: configuration, files readable (and the key's mode), key matches\n"
           "certificate, expiry (a warning within 30 days), chain to the CA, SPIFFE ID,\n"
           "issuer reachable, TLS handshake (with the server's own error), issuer metadata,\n"
           "clock against the issuer's Date header, JWKS, and with --audience a token\n"
           "request for A (with the issuer's error) and the verification of that token.\n"
           "A '!' marks a check that passed with a warning. Stops at the first failure and\n"
           "says what to change. --json prints {\"ok\":...,\"checks\":[{\"check\",\"status\"\n"
           "(ok|warn|fail|skipped),\"detail\",\"fix\"}]} instead, for monitoring.\n"
           "Short-lived certificates: healthy until the renewal point (2/3 of the lifetime),\n"
           "a warning past it (the renewal is failing).\n"
           "Exit status 0 when every check passed (warnings allowed), 3 when every check\n"
           "passed but the certificate is past its renewal point, 1 when one failed, 2 for\n"
           "usage errors.\n\n%s",
           CLI_CLIENT_HELP);
}

/* One line of the report: text for people, or an element of the --json array. */
static void report(json_t *arr, const char *status, const char *mark, const char *name,
                   const char *note, const char *fix)
{
    if (arr != NULL) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "check", name, "status", status, "detail", note);
        if (o != NULL && fix != NULL && fix[0] != '\0') {
            json_object_set_new(o, "fix", json_string(fix));
        }
        json_array_append_new(arr, o);
        return;
    }
    printf("  %s  %-24s %s\n", mark, name, note);
    if (fix != NULL && fix[0] != '\0') {
        printf("     fix: %s\n", fix);
    }
}

int cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {{"audience", required_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         CLI_CLIENT_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    doctor_t d = {0};
    json_t *arr = NULL;
    int c, status = CLI_OK;

    while ((c = getopt_long(argc, argv, "ha:", opts, NULL)) != -1) {
        if (cli_client_opt(c, optarg)) {
            continue;
        }
        if (c == 'h') {
            doctor_help();
            return CLI_OK;
        }
        if (c == 'J') {
            arr = arr != NULL ? arr : json_array();
            continue;
        }
        if (c != 'a') {
            json_decref(arr);
            return cli_usage_error("doctor", "unknown option");
        }
        d.audience = optarg;
    }
    if (optind != argc) {
        json_decref(arr);
        return cli_usage_error("doctor", "takes no arguments");
    }
    cli_identity_resolve(&d.id);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        const step_t *s = &steps[i];
        if ((s->needs == 1 && d.id.cert == NULL && i > 1) || (s->needs == 2 && !d.audience)) {
            report(arr, "skipped", "-", s->name,
                   s->needs == 1 ? "skipped (service token: no certificate)"
                                 : "skipped (give --audience A)",
                   NULL);
            continue;
        }
        d.note[0] = d.fix[0] = '\0';
        d.warn = false;
        if (s->run(&d)) {
            report(arr, d.warn ? "warn" : "ok", d.warn ? "!" : "\u2713", s->name, d.note, NULL);
            d.passed++;
            d.warned += d.warn;
            continue;
        }
        report(arr, "fail", "\u2717", s->name, d.note, d.fix);
        status = CLI_FAIL;
        break;
    }
    if (arr != NULL) {
        json_t *top = json_pack("{s:b, s:o}", "ok", status == CLI_OK, "checks", arr);
        char *text = top != NULL ? json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        printf("%s\n", text != NULL ? text : "{}");
        free(text);
        json_decref(top);
    } else if (status == CLI_OK) {
        printf("all %d checks passed", d.passed);
        printf(d.warned > 0 ? " (%d with a warning: see the ! lines)\n" : "\n", d.warned);
    }
    if (status == CLI_OK && d.overdue) {
        status = 3; /* passed, but the certificate is past its renewal point (mesh(1)) */
    }
    mesh_jwks_free(d.jwks);
    mesh_free(d.token);
    mesh_response_free(d.meta);
    mesh_client_free(d.client);
    cli_identity_free(&d.id);
    return status;
}
