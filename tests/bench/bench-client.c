/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Steady-state cost of an authenticated call (./dev bench; nothing is asserted): GET /healthz
 * of a real mesh-issuer on 127.0.0.1, over a reused mTLS connection, three ways:
 *
 *   plain curl          one easy handle with the client certificate, reused
 *   mesh_client_request the client's token cache + Authorization: Bearer + its shared
 *                       connection cache; the answer collected in memory
 *   setup_curl + curl   one easy handle, mesh_client_setup_curl() before every perform
 *
 * Breakdown ways (same rounds): plain curl with a token-sized X-Pad header, with the same
 * Authorization: Bearer header (also inside a CURLSH of its own), and a handle set up once by
 * mesh_client_setup_curl; then the pieces alone (setup, token lookup, easy_init + cleanup).
 *
 * Rounds alternate; the figure is the client's CPU time per call (getrusage, whole process:
 * libcurl's and the client's threads included), the ratio the median of per-round ratios.
 *
 * env: BENCH_CALLS (per round and way, default 400), BENCH_ROUNDS (default 9)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include <mesh/curl.h>
#include <mesh/mesh.h>

#include "bench_util.h"
#include "e2e.h"

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

typedef struct {
    mesh_client_t *c;
    mesh_request_t *req;
    CURL *plain, *authed, *bearer, *shared, *own_share, *pad;
    struct curl_slist *pad_hdr;
    CURLSH *share;
    char url[128];
    long failed, new_conns, plain_conns;
} ctx_t;

static void perform(ctx_t *x, CURL *h)
{
    long code = 0;
    if (curl_easy_perform(h) != CURLE_OK ||
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
        x->failed++;
    }
}

static void call_plain(ctx_t *x)
{
    long nc = 0;
    perform(x, x->plain);
    curl_easy_getinfo(x->plain, CURLINFO_NUM_CONNECTS, &nc);
    x->plain_conns += nc;
}

/* breakdown: plain curl sending the same Authorization header */
static void call_bearer(ctx_t *x)
{
    perform(x, x->bearer);
}

/* breakdown: a handle set up once by mesh_client_setup_curl (the client's share), reused */
static void call_shared(ctx_t *x)
{
    perform(x, x->shared);
}

/* breakdown: plain curl + bearer, in a CURLSH of its own sharing what the client's does */
static void call_own_share(ctx_t *x)
{
    perform(x, x->own_share);
}

/* breakdown: plain curl with a header as long as the Authorization one, not auth */
static void call_pad(ctx_t *x)
{
    perform(x, x->pad);
}

/* breakdown: mesh_client_setup_curl alone */
static void call_setup_only(ctx_t *x)
{
    if (mesh_client_setup_curl(x->c, x->authed, "asset-service") != MESH_OK) {
        x->failed++;
    }
}

/* breakdown: the token lookup alone */
static void call_token_only(ctx_t *x)
{
    char *t = NULL;
    if (mesh_client_token(x->c, "asset-service", NULL, &t, NULL) != MESH_OK) {
        x->failed++;
    }
    mesh_free(t);
}

/* breakdown: a fresh easy handle with mesh_http_do's options, never performed */
static void call_easy_init(ctx_t *x)
{
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, x->url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_cleanup(h);
}

static void call_request(ctx_t *x)
{
    mesh_response_t *r = NULL;
    if (mesh_client_request(x->c, x->req, &r) != MESH_OK || mesh_response_status(r) != 200) {
        x->failed++;
    }
    x->new_conns += mesh_response_new_connections(r);
    mesh_response_free(r);
}

static void call_setup_curl(ctx_t *x)
{
    long code = 0;
    if (mesh_client_setup_curl(x->c, x->authed, "asset-service") != MESH_OK ||
        curl_easy_perform(x->authed) != CURLE_OK ||
        curl_easy_getinfo(x->authed, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200) {
        x->failed++;
    }
}

typedef struct {
    double cpu_us, wall_us;
} cost_t;

static cost_t timed(void (*fn)(ctx_t *), ctx_t *x, int calls)
{
    double c0 = bench_self_cpu(), t0 = bench_now();
    for (int i = 0; i < calls; i++) {
        fn(x);
    }
    return (cost_t){(bench_self_cpu() - c0) / calls * 1e6, (bench_now() - t0) / calls * 1e6};
}

int main(void)
{
    const char *root = getenv("MESH_SOURCE_ROOT");
    const char *build = getenv("MESH_BUILD_ROOT");
    if (root == NULL || build == NULL) {
        fprintf(stderr, "bench-client: run through ./dev bench\n");
        return 2;
    }
    int calls = (int)bench_env("BENCH_CALLS", 400);
    int rounds = (int)bench_env("BENCH_ROUNDS", 9);
    rounds = rounds < 1 ? 1 : rounds > 32 ? 32 : rounds;
    char cmd[600], cert[400], key[400], ca[400];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e2e_init_roots(root, build);
    /* One worker: every connection below is served by the same thread, so the ways differ in
     * what the client does, not in which worker (and CPU) answers them. */
    srv.workers = 1;
    write_config("{\"current\": \"jwt-signing.key\"}",
                 "{\"per_identity\": {\"rate\": 0}, \"per_source\": {\"rate\": 0}}");
    server_start();
    snprintf(cert, sizeof(cert), "%s/gateway/cert.pem", srv.dir);
    snprintf(key, sizeof(key), "%s/gateway/key.pem", srv.dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);

    ctx_t x = {0};
    snprintf(x.url, sizeof(x.url), "%s/healthz", srv.url);
    mesh_client_opts_t *o = NULL;
    mesh_err_t orc = mesh_client_opts_new(&o);
    if (orc == MESH_OK && (orc = mesh_client_opts_set_issuer_url(o, srv.url)) == MESH_OK &&
        (orc = mesh_client_opts_set_cert_path(o, cert)) == MESH_OK &&
        (orc = mesh_client_opts_set_key_path(o, key)) == MESH_OK &&
        (orc = mesh_client_opts_set_ca_path(o, ca)) == MESH_OK) {
        orc = mesh_client_new(o, &x.c);
    }
    mesh_client_opts_free(o);
    if (orc != MESH_OK) {
        fprintf(stderr, "bench-client: %s\n", mesh_err_detail());
        return 1;
    }
    x.plain = curl_easy_init();
    curl_easy_setopt(x.plain, CURLOPT_URL, x.url);
    curl_easy_setopt(x.plain, CURLOPT_CAINFO, ca);
    curl_easy_setopt(x.plain, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(x.plain, CURLOPT_SSLKEY, key);
    curl_easy_setopt(x.plain, CURLOPT_WRITEFUNCTION, sink);
    /* One request object, sent on every call (as a service sends the same call again). */
    if (mesh_request_new("GET", x.url, &x.req) != MESH_OK ||
        mesh_request_set_audience(x.req, "asset-service") != MESH_OK) {
        fprintf(stderr, "bench-client: %s\n", mesh_err_detail());
        return 1;
    }
    x.authed = curl_easy_init();
    curl_easy_setopt(x.authed, CURLOPT_URL, x.url);
    curl_easy_setopt(x.authed, CURLOPT_WRITEFUNCTION, sink);

    /* warm-up: the token is fetched once, every way has its connection */
    call_plain(&x);
    call_request(&x);
    call_setup_curl(&x);
    char *tok = NULL;
    if (mesh_client_token(x.c, "asset-service", NULL, &tok, NULL) != MESH_OK) {
        return 1;
    }
    char pad[2048];
    snprintf(pad, sizeof(pad), "X-Pad: %s", tok);
    x.pad_hdr = curl_slist_append(NULL, pad);
    x.pad = curl_easy_duphandle(x.plain);
    curl_easy_setopt(x.pad, CURLOPT_HTTPHEADER, x.pad_hdr);
    x.bearer = curl_easy_duphandle(x.plain);
    curl_easy_setopt(x.bearer, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(x.bearer, CURLOPT_XOAUTH2_BEARER, tok);
    mesh_free(tok);
    x.shared = curl_easy_init();
    curl_easy_setopt(x.shared, CURLOPT_URL, x.url);
    curl_easy_setopt(x.shared, CURLOPT_WRITEFUNCTION, sink);
    if (mesh_client_setup_curl(x.c, x.shared, "asset-service") != MESH_OK) {
        return 1;
    }
    x.share = curl_share_init();
    curl_share_setopt(x.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(x.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(x.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    x.own_share = curl_easy_duphandle(x.bearer);
    curl_easy_setopt(x.own_share, CURLOPT_SHARE, x.share);
    call_bearer(&x);
    call_shared(&x);
    call_own_share(&x);
    call_pad(&x);
    x.new_conns = 0;
    x.plain_conns = 0;

    /* BENCH_ONLY=plain|bearer|pad|setup_curl|request: one way alone (for strace -c / perf) */
    const char *only = getenv("BENCH_ONLY");
    if (only != NULL) {
        void (*fn)(ctx_t *) = strcmp(only, "bearer") == 0       ? call_bearer
                              : strcmp(only, "pad") == 0        ? call_pad
                              : strcmp(only, "setup_curl") == 0 ? call_setup_curl
                              : strcmp(only, "request") == 0    ? call_request
                                                                : call_plain;
        cost_t c = timed(fn, &x, calls * rounds);
        printf("%s: %.1f us CPU, %.1f us wall per call (%ld failed)\n", only, c.cpu_us, c.wall_us,
               x.failed);
        calls = 0;
    }
    /* ways measured in alternating rounds; [0] is plain curl, the reference */
    enum { PLAIN, PAD, BEARER, OWN_SHARE, SHARED, SETUP, REQUEST, WAYS };
    static const char *const names[WAYS] = {"plain curl",
                                            "plain curl + X-Pad header, token-sized",
                                            "plain curl + the same Authorization: Bearer",
                                            "  the same, in a CURLSH sharing conns",
                                            "a handle set up once by setup_curl, reused",
                                            "mesh_client_setup_curl + perform",
                                            "mesh_client_request"};
    void (*const fns[WAYS])(ctx_t *) = {call_plain,  call_pad,        call_bearer, call_own_share,
                                        call_shared, call_setup_curl, call_request};
    double cpu[WAYS][32], wall[WAYS][32], ratio[WAYS][32], ratio_b[WAYS][32];
    for (int i = 0; i < rounds && calls > 0; i++) {
        for (int w = 0; w < WAYS; w++) {
            cost_t c = timed(fns[w], &x, calls);
            cpu[w][i] = c.cpu_us;
            wall[w][i] = c.wall_us;
        }
        for (int w = 0; w < WAYS; w++) {
            ratio[w][i] = cpu[w][i] / cpu[PLAIN][i];
            ratio_b[w][i] = cpu[w][i] / cpu[BEARER][i];
        }
    }
    double so_cpu[32], to_cpu[32], ei_cpu[32];
    for (int i = 0; i < rounds && calls > 0; i++) {
        so_cpu[i] = timed(call_setup_only, &x, calls * 10).cpu_us;
        to_cpu[i] = timed(call_token_only, &x, calls * 10).cpu_us;
        ei_cpu[i] = timed(call_easy_init, &x, calls * 10).cpu_us;
    }
    if (calls == 0) {
        rounds = 1; /* BENCH_ONLY: nothing below was measured */
        memset(cpu, 0, sizeof(cpu));
    }
    uint64_t issuer_requests = mesh_client_stat(x.c, MESH_CLIENT_STAT_ISSUER_REQUESTS);
    uint64_t cache_hits = mesh_client_stat(x.c, MESH_CLIENT_STAT_CACHE_HITS);
    size_t n = (size_t)rounds;
    printf("authenticated call vs plain curl, GET /healthz of mesh-issuer over a reused mTLS "
           "connection\n(load average %.2f; %d rounds of %d calls per way, alternating; medians; "
           "CPU = getrusage of the client process)\n",
           bench_loadavg(), rounds, calls);
    printf("  %-45s %9s %9s %8s %10s\n", "", "CPU/call", "wall/call", "CPU", "CPU ratio to");
    printf("  %-45s %9s %9s %8s %10s\n", "", "", "", "ratio", "same header");
    for (int w = 0; w < WAYS; w++) {
        const char *target = "";
        double r = bench_median(ratio[w], n);
        if (w == SETUP || w == REQUEST) {
            target = r <= 1.10 ? "  (target <= 1.10 met)" : "  (target <= 1.10 NOT met)";
        }
        printf("  %-45s %6.1f us %6.1f us %8.3f %10.3f%s\n", names[w], bench_median(cpu[w], n),
               bench_median(wall[w], n), r, bench_median(ratio_b[w], n), target);
    }
    printf(
        "  pieces alone (client CPU per call, medians of as many rounds, run after the above):\n");
    printf("    mesh_client_setup_curl alone                     %7.2f us\n",
           bench_median(so_cpu, n));
    printf("    mesh_client_token alone (cache hit)              %7.2f us\n",
           bench_median(to_cpu, n));
    printf("    curl_easy_init + 2 setopt + cleanup, no perform  %7.2f us\n",
           bench_median(ei_cpu, n));
    printf("  new connections during the rounds: plain %ld, mesh_client_request %ld; "
           "issuer requests %llu, cache hits %llu; failed calls %ld\n",
           x.plain_conns, x.new_conns, (unsigned long long)issuer_requests,
           (unsigned long long)cache_hits, x.failed);

    curl_easy_cleanup(x.plain);
    curl_easy_cleanup(x.authed);
    curl_easy_cleanup(x.bearer);
    curl_easy_cleanup(x.shared);
    curl_easy_cleanup(x.own_share);
    curl_share_cleanup(x.share);
    curl_easy_cleanup(x.pad);
    curl_slist_free_all(x.pad_hdr);
    mesh_request_free(x.req);
    mesh_client_free(x.c);
    int st = 0;
    server_stop_signal(SIGTERM, &st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", srv.dir);
    }
    curl_global_cleanup();
    return x.failed == 0 ? 0 : 1;
}
