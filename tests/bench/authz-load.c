/* SPDX-License-Identifier: Apache-2.0 */
/*
 * authz-load: the load generator and in-process verifier loop of tests/bench/authz.sh (not a
 * bench-* program: ./dev bench runs authz.sh, which starts the processes and calls this).
 * wrk and hey cannot present a client certificate, so the mTLS keep-alive load is libcurl
 * multi (bench_load_run of bench_util.c). Every mode prints one JSON line.
 *
 *   authz-load mint URL CERT KEY CA AUDIENCE N
 *       N tokens from mesh-issuer's /v1/token (client credentials over mTLS, so each is bound
 *       to CERT), one per line on stdout
 *   authz-load http URL CERT KEY CA TOKENS CONNS SECS [--each-once] [--unix SOCK]
 *                   [--cert-header PEM] [--cpu PID]... [-H "Name: value"]...
 *       closed-loop keep-alive load; each request carries "Authorization: Bearer <token>",
 *       the tokens of the file taken in turn (--each-once: each once, then stop); CERT "-"
 *       for none; --unix talks plain HTTP over a unix socket (mesh-authz's); --cert-header
 *       adds X-Client-Cert: the URL-encoded PEM (as nginx's $ssl_client_escaped_cert);
 *       --cpu reports that process's CPU seconds during the run (/proc/PID/stat), in the
 *       order given; self_cpu is the load generator's own
 *   authz-load verify ISSUER CA CERT KEY AUDIENCE TOKENS PEER-PEM SECS [--no-cache]
 *       mesh_verify() in this thread over the tokens in turn for SECS: verifications per
 *       CPU-second (the raw library cost beside mesh-authz's)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <curl/curl.h>

#include <mesh/jansson.h>
#include <mesh/mesh.h>

#include "bench_util.h"

#define N_CPU_PIDS 4

typedef struct {
    char **v;
    size_t n;
} lines_t;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "authz-load: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

/* One token a line; the buffer is split in place (lines point into it). */
static bool read_lines(const char *path, char **buf, lines_t *out)
{
    size_t len = 0;
    *buf = slurp(path, &len);
    if (*buf == NULL) {
        return false;
    }
    size_t cap = 1024;
    out->v = malloc(cap * sizeof(char *));
    out->n = 0;
    for (char *p = *buf; out->v != NULL && *p != '\0';) {
        char *nl = strchr(p, '\n');
        if (nl != NULL) {
            *nl = '\0';
        }
        if (*p != '\0') {
            if (out->n == cap) {
                cap *= 2;
                char **nv = realloc(out->v, cap * sizeof(char *));
                if (nv == NULL) {
                    break;
                }
                out->v = nv;
            }
            out->v[out->n++] = p;
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (out->v == NULL || out->n == 0) {
        fprintf(stderr, "authz-load: %s holds no token\n", path);
        return false;
    }
    return true;
}

/* ---- mint ---- */

static size_t keep_body(char *p, size_t s, size_t n, void *ud)
{
    char **slot = ud;
    size_t add = s * n, old = *slot ? strlen(*slot) : 0;
    char *nb = realloc(*slot, old + add + 1);
    if (nb == NULL) {
        return 0;
    }
    memcpy(nb + old, p, add);
    nb[old + add] = '\0';
    *slot = nb;
    return add;
}

/* One keep-alive connection, one request after the other: a few thousand tokens take
 * seconds, and nothing is measured here. */
static int cmd_mint(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: authz-load mint URL CERT KEY CA AUDIENCE N\n");
        return 2;
    }
    long want = strtol(argv[7], NULL, 10);
    char post[256];
    snprintf(post, sizeof(post), "grant_type=client_credentials&audience=%s", argv[6]);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, argv[2]);
    curl_easy_setopt(c, CURLOPT_SSLCERT, argv[3]);
    curl_easy_setopt(c, CURLOPT_SSLKEY, argv[4]);
    curl_easy_setopt(c, CURLOPT_CAINFO, argv[5]);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
    long got = 0;
    for (long i = 0; i < want; i++) {
        char *body = NULL;
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        }
        json_t *j = code == 200 && body ? json_loads(body, 0, NULL) : NULL;
        const char *t = json_string_value(json_object_get(j, "access_token"));
        if (t != NULL) {
            printf("%s\n", t);
            got++;
        } else {
            fprintf(stderr, "authz-load mint: %s answered %ld: %.200s\n", argv[2], code,
                    body ? body : "");
        }
        json_decref(j);
        free(body);
        if (t == NULL) {
            break;
        }
    }
    curl_easy_cleanup(c);
    return got == want ? 0 : 1;
}

/* ---- http ---- */

typedef struct {
    const char *url, *cert, *key, *ca, *unix_sock;
    lines_t tokens;
    bool each_once;
    struct curl_slist *fixed; /* -H and X-Client-Cert */
    struct curl_slist **per;  /* per handle: fixed + Authorization (rebuilt each request) */
    CURL **owner;
    size_t n_per;
} http_t;

static bool http_prepare(void *easy, long seq, void *ud)
{
    http_t *h = ud;
    if (h->each_once && (size_t)seq >= h->tokens.n) {
        return false;
    }
    size_t slot = 0;
    while (slot < h->n_per && h->owner[slot] != NULL && h->owner[slot] != easy) {
        slot++;
    }
    if (slot == h->n_per) {
        return false;
    }
    h->owner[slot] = easy;
    curl_slist_free_all(h->per[slot]);
    h->per[slot] = NULL;
    char auth[8192];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
             h->tokens.v[(size_t)seq % h->tokens.n]);
    h->per[slot] = curl_slist_append(NULL, auth);
    for (struct curl_slist *s = h->fixed; s != NULL; s = s->next) {
        h->per[slot] = curl_slist_append(h->per[slot], s->data);
    }
    curl_easy_setopt(easy, CURLOPT_URL, h->url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h->per[slot]);
    if (h->unix_sock != NULL) {
        curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, h->unix_sock);
    } else {
        curl_easy_setopt(easy, CURLOPT_CAINFO, h->ca);
        if (strcmp(h->cert, "-") != 0) {
            curl_easy_setopt(easy, CURLOPT_SSLCERT, h->cert);
            curl_easy_setopt(easy, CURLOPT_SSLKEY, h->key);
        }
    }
    return true;
}

static int cmd_http(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: authz-load http URL CERT KEY CA TOKENS CONNS SECS [options]\n");
        return 2;
    }
    http_t h = {.url = argv[2], .cert = argv[3], .key = argv[4], .ca = argv[5]};
    char *tokbuf = NULL;
    if (!read_lines(argv[6], &tokbuf, &h.tokens)) {
        return 2;
    }
    int conns = (int)strtol(argv[7], NULL, 10);
    double secs = strtod(argv[8], NULL);
    pid_t pids[N_CPU_PIDS];
    int npids = 0;
    for (int i = 9; i < argc; i++) {
        if (strcmp(argv[i], "--each-once") == 0) {
            h.each_once = true;
        } else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc) {
            h.unix_sock = argv[++i];
        } else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc && npids < N_CPU_PIDS) {
            pids[npids++] = (pid_t)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-H") == 0 && i + 1 < argc) {
            h.fixed = curl_slist_append(h.fixed, argv[++i]);
        } else if (strcmp(argv[i], "--cert-header") == 0 && i + 1 < argc) {
            size_t len = 0;
            char *pem = slurp(argv[++i], &len);
            char *esc = pem ? curl_easy_escape(NULL, pem, (int)len) : NULL;
            if (esc == NULL) {
                free(pem);
                return 2;
            }
            size_t n = strlen(esc) + 32;
            char *hdr = malloc(n);
            if (hdr == NULL) {
                curl_free(esc);
                free(pem);
                return 2;
            }
            snprintf(hdr, n, "X-Client-Cert: %s", esc);
            h.fixed = curl_slist_append(h.fixed, hdr);
            free(hdr);
            curl_free(esc);
            free(pem);
        } else {
            fprintf(stderr, "authz-load http: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    h.n_per = (size_t)conns;
    h.per = calloc(h.n_per, sizeof(*h.per));
    h.owner = calloc(h.n_per, sizeof(*h.owner));
    double cpu0[N_CPU_PIDS];
    for (int i = 0; i < npids; i++) {
        cpu0[i] = bench_proc_cpu(pids[i]);
    }
    double self0 = bench_self_cpu();
    bench_load_t r = bench_load_run(conns, secs, 200, http_prepare, &h);
    double self_cpu = bench_self_cpu() - self0;
    printf("{\"requests\":%ld,\"ok\":%ld,\"failed\":%ld,\"wall\":%.3f,\"rps\":%.1f",
           r.ok + r.failed, r.ok, r.failed, r.wall, (double)(r.ok + r.failed) / r.wall);
    if (r.n_lat > 0) {
        double p50 = bench_median(r.lat_ms, r.n_lat); /* sorts */
        printf(",\"p50_ms\":%.3f,\"p99_ms\":%.3f", p50, bench_percentile(r.lat_ms, r.n_lat, 0.99));
    }
    printf(",\"cpu\":[");
    for (int i = 0; i < npids; i++) {
        printf("%s%.3f", i ? "," : "", bench_proc_cpu(pids[i]) - cpu0[i]);
    }
    printf("],\"self_cpu\":%.3f}\n", self_cpu);
    free(r.lat_ms);
    for (size_t i = 0; i < h.n_per; i++) {
        curl_slist_free_all(h.per[i]);
    }
    free(h.per);
    free(h.owner);
    curl_slist_free_all(h.fixed);
    free(h.tokens.v);
    free(tokbuf);
    return r.failed == 0 && r.ok > 0 ? 0 : 1;
}

/* ---- verify ---- */

static int cmd_verify(int argc, char **argv)
{
    if (argc < 10) {
        fprintf(stderr, "usage: authz-load verify ISSUER CA CERT KEY AUDIENCE TOKENS PEER-PEM "
                        "SECS [--no-cache]\n");
        return 2;
    }
    bool no_cache = argc > 10 && strcmp(argv[10], "--no-cache") == 0;
    char *tokbuf = NULL;
    lines_t tokens = {0};
    if (!read_lines(argv[7], &tokbuf, &tokens)) {
        return 2;
    }
    uint8_t *der = NULL;
    size_t der_len = 0;
    mesh_verifier_opts_t *o = NULL;
    mesh_verifier_t *v = NULL;
    mesh_err_t rc = mesh_x509_load_der(argv[8], &der, &der_len);
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_new(&o);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_issuer(o, argv[2]);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_ca_path(o, argv[3]);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_client_cert(o, argv[4], argv[5]);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_opts_set_audience(o, argv[6]);
    }
    if (rc == MESH_OK && no_cache) {
        rc = mesh_verifier_opts_set_cache_entries(o, 0);
    }
    if (rc == MESH_OK) {
        rc = mesh_verifier_new(o, &v);
    }
    mesh_verifier_opts_free(o);
    if (rc != MESH_OK) {
        fprintf(stderr, "authz-load verify: %s: %s\n", mesh_strerror(rc), mesh_err_detail());
        mesh_free(der);
        free(tokens.v);
        free(tokbuf);
        return 1;
    }
    double secs = strtod(argv[9], NULL);
    char auth[8192];
    long n = 0, bad = 0;
    double c0 = bench_thread_cpu(), t0 = bench_now();
    while (bench_now() - t0 < secs) {
        snprintf(auth, sizeof(auth), "Bearer %s", tokens.v[(size_t)n % tokens.n]);
        mesh_identity_t *id = NULL;
        if (mesh_verify(v, auth, der, der_len, "assets:read", &id) != MESH_OK) {
            bad++;
        }
        mesh_identity_free(id);
        n++;
    }
    double cpu = bench_thread_cpu() - c0;
    printf("{\"verifications\":%ld,\"failed\":%ld,\"cpu\":%.3f,\"per_cpu_s\":%.0f}\n", n, bad, cpu,
           (double)n / cpu);
    mesh_verifier_free(v);
    mesh_free(der);
    free(tokens.v);
    free(tokbuf);
    return bad == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = 2;
    if (argc > 1 && strcmp(argv[1], "mint") == 0) {
        rc = cmd_mint(argc, argv);
    } else if (argc > 1 && strcmp(argv[1], "http") == 0) {
        rc = cmd_http(argc, argv);
    } else if (argc > 1 && strcmp(argv[1], "verify") == 0) {
        rc = cmd_verify(argc, argv);
    } else {
        fprintf(stderr, "usage: authz-load mint|http|verify ... (see tests/bench/authz-load.c)\n");
    }
    curl_global_cleanup();
    return rc;
}
