/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer throughput: a libcurl-multi load generator with client certificates and
 * keep-alive against a real server on 127.0.0.1. Reports tokens per second of issuer CPU time
 * (from /proc/PID/stat) as a ratio to the raw mesh_jwt_sign rate and raw OpenSSL signing
 * measured in the same run, for an RSA-2048 (RS256) and a P-256 (ES256) signing key; then
 * p50/p99 latency of a paced open-loop load at half the measured maximum rate. Not a test:
 * nothing is asserted.
 *
 * env: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 16), BENCH_ALGS (default
 *      "RS256,ES256"), BENCH_PACED_RATE (default: half the closed-loop rate)
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mesh/mesh.h>

#include "bench_util.h"
#include "e2e.h"

static double raw_jwt_sign_rate(const char *keypath, double secs)
{
    mesh_key_t *key = NULL;
    if (mesh_key_load_pem_file(keypath, MESH_ALG_UNSET, &key) != MESH_OK) {
        return 0;
    }
    mesh_jwt_claims_in_t *in = NULL;
    if (mesh_jwt_claims_in_new(&in) != MESH_OK ||
        mesh_jwt_claims_in_set_issuer(in, srv.url) != MESH_OK ||
        mesh_jwt_claims_in_set_subject(in, "spiffe://mesh.local/gateway") != MESH_OK ||
        mesh_jwt_claims_in_set_audience(in, "asset-service") != MESH_OK ||
        mesh_jwt_claims_in_set_scopes(in, "assets:read assets:write") != MESH_OK ||
        mesh_jwt_claims_in_set_client_id(in, "gateway") != MESH_OK ||
        mesh_jwt_claims_in_set_x5t(in, "cpvrlwgw5tzTQjLIWfSD9GuOxeOPBnezIfY_Hh4Ju0c") != MESH_OK ||
        mesh_jwt_claims_in_set_issued_at(in, time(NULL)) != MESH_OK ||
        mesh_jwt_claims_in_set_ttl(in, 300) != MESH_OK) {
        fprintf(stderr, "claims: %s\n", mesh_err_detail());
        abort();
    }
    long n = 0;
    double t0 = bench_now(), c0 = bench_thread_cpu();
    do {
        char *tok = NULL;
        if (mesh_jwt_sign(key, in, &tok, NULL) != MESH_OK) {
            break;
        }
        mesh_free(tok);
        n++;
    } while (bench_now() - t0 < secs);
    mesh_key_free(key);
    mesh_jwt_claims_in_free(in);
    return (double)n / (bench_thread_cpu() - c0);
}

static double raw_openssl_rate(const char *keypath, double secs)
{
    FILE *f = fopen(keypath, "r");
    EVP_PKEY *pk = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f) {
        fclose(f);
    }
    if (pk == NULL) {
        return 0;
    }
    unsigned char msg[300] = {0}, sig[512];
    long n = 0;
    double t0 = bench_now(), c0 = bench_thread_cpu();
    while (bench_now() - t0 < secs) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        size_t sl = sizeof(sig);
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk);
        EVP_DigestSign(md, sig, &sl, msg, sizeof(msg));
        EVP_MD_CTX_free(md);
        n++;
    }
    EVP_PKEY_free(pk);
    return (double)n / (bench_thread_cpu() - c0);
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static CURL *make_easy(const char *cert, const char *key, const char *ca, const char *url)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "grant_type=client_credentials&audience=asset-service");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    return c;
}

typedef struct {
    long ok, failed;
    double wall, cpu;
} load_t;

typedef struct {
    bool fresh;
    const char *cert, *key, *ca, *url;
} load_req_t;

static bool load_prepare(void *easy, long seq, void *ud)
{
    (void)seq;
    const load_req_t *q = ud;
    curl_easy_setopt(easy, CURLOPT_URL, q->url);
    curl_easy_setopt(easy, CURLOPT_CAINFO, q->ca);
    curl_easy_setopt(easy, CURLOPT_SSLCERT, q->cert);
    curl_easy_setopt(easy, CURLOPT_SSLKEY, q->key);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                     "grant_type=client_credentials&audience=asset-service");
    if (q->fresh) {
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    return true;
}

/* `conns` concurrent clients posting tokens for `secs`; fresh: a new TLS connection each time
 * (the closed loop is bench_util's bench_load_run, shared with authz-load) */
static load_t run_load(bool fresh, int conns, double secs, const char *cert, const char *key,
                       const char *ca, const char *url)
{
    load_req_t q = {fresh, cert, key, ca, url};
    double cpu0 = bench_proc_cpu(srv.pid);
    bench_load_t b = bench_load_run(conns, secs, 200, load_prepare, &q);
    load_t r = {.ok = b.ok, .failed = b.failed, .wall = b.wall};
    r.cpu = bench_proc_cpu(srv.pid) - cpu0;
    free(b.lat_ms);
    return r;
}

/*
 * Open-loop load: requests are scheduled every 1/rate seconds whatever the answers do, each
 * on an idle keep-alive connection of a pool, and a request's latency counts from its
 * scheduled time (a request that waits for a free connection is late, not forgiven).
 */
typedef struct {
    double le1, le25, count;
} hist_t;

#define PACED_POOL 32

typedef struct {
    double target, achieved, p50, p90, p99, max;
    double svc_p50, svc_p99; /* curl's own time per transfer: without the wait for a connection */
    long ok, failed, late;
    double t_last;                /* when the last answer came */
    long issuer_nvcsw, gen_nvcsw; /* involuntary context switches (preempted) during the run */
    hist_t hist;                  /* the issuer's own request-duration counts during the run */
    double issuer_cpu;            /* issuer CPU seconds during the run */
} paced_t;

/* The issuer's own histogram (request received to response queued): counts <= 1 ms,
 * <= 2.5 ms and in all, from GET /metrics. */
static double metric(const char *body, const char *name)
{
    const char *p = strstr(body, name);
    return p != NULL ? strtod(p + strlen(name), NULL) : 0;
}

static hist_t issuer_hist(void)
{
    hist_t h = {0};
    req_t q = {.path = "/metrics", .cert = "gateway"};
    resp_t *r = do_req(&q);
    if (r->status == 200) {
        h.le1 = metric(r->body, "mesh_issuer_request_duration_seconds_bucket{le=\"0.001\"}");
        h.le25 = metric(r->body, "mesh_issuer_request_duration_seconds_bucket{le=\"0.0025\"}");
        h.count = metric(r->body, "mesh_issuer_request_duration_seconds_count");
    }
    resp_free(r);
    return h;
}

static int idle_slot(bool *busy)
{
    for (int i = 0; i < PACED_POOL; i++) {
        if (!busy[i]) {
            return i;
        }
    }
    return -1;
}

static void pump(CURLM *multi, bool *busy, const double *sched, long *slot_req, double *lat,
                 double *svc, paced_t *r)
{
    int running = 0;
    CURLMsg *m;
    int left;
    curl_multi_perform(multi, &running);
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE) {
            continue;
        }
        long code = 0;
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        int slot = (int)(intptr_t)priv;
        if (m->data.result == CURLE_OK && code == 200) {
            if (sched != NULL) {
                curl_off_t us = 0;
                curl_easy_getinfo(m->easy_handle, CURLINFO_TOTAL_TIME_T, &us);
                lat[r->ok] = bench_now() - sched[slot_req[slot]];
                svc[r->ok] = (double)us / 1e6;
                r->t_last = bench_now();
            }
            r->ok++;
        } else {
            r->failed++;
        }
        curl_multi_remove_handle(multi, m->easy_handle);
        busy[slot] = false;
    }
}

/* waits for socket activity, at most `secs` (to the next scheduled send) */
static void wait_for(CURLM *multi, double secs)
{
    fd_set r, w, e;
    int maxfd = -1;
    long ct = -1;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&e);
    curl_multi_fdset(multi, &r, &w, &e, &maxfd);
    curl_multi_timeout(multi, &ct);
    if (ct >= 0 && (double)ct / 1000 < secs) {
        secs = (double)ct / 1000;
    }
    if (secs <= 0) {
        return;
    }
    if (secs > 0.1) {
        secs = 0.1;
    }
    struct timespec ts = {(time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9)};
    pselect(maxfd + 1, &r, &w, &e, &ts, NULL);
}

static paced_t run_paced(double rate, double secs, const char *cert, const char *key,
                         const char *ca, const char *url)
{
    paced_t r = {.target = rate};
    long n = (long)(rate * secs);
    double *sched = calloc((size_t)n + 1, sizeof(double));
    double *lat = calloc((size_t)n + 1, sizeof(double));
    double *svc = calloc((size_t)n + 1, sizeof(double));
    long slot_req[PACED_POOL] = {0};
    bool busy[PACED_POOL] = {0};
    CURL *easy[PACED_POOL];
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)PACED_POOL);
    for (int i = 0; i < PACED_POOL; i++) {
        easy[i] = make_easy(cert, key, ca, url);
        curl_easy_setopt(easy[i], CURLOPT_PRIVATE, (void *)(intptr_t)i);
    }
    /* warm-up: open the pool's connections (handshakes are not part of the figure) */
    paced_t warm = {0};
    for (int i = 0; i < PACED_POOL; i++) {
        busy[i] = true;
        curl_multi_add_handle(multi, easy[i]);
    }
    for (double t0 = bench_now(); warm.ok + warm.failed < PACED_POOL;) {
        pump(multi, busy, NULL, slot_req, lat, svc, &warm);
        if (bench_now() - t0 > 30) {
            break;
        }
        wait_for(multi, 0.01);
    }
    hist_t h0 = issuer_hist();
    long nv0 = bench_proc_nvcsw(srv.pid), gnv0 = bench_proc_nvcsw(getpid());
    double cpu0 = bench_proc_cpu(srv.pid);
    double t0 = bench_now();
    for (long i = 0; i < n; i++) {
        sched[i] = t0 + (double)i / rate;
    }
    long next = 0;
    double deadline = t0 + secs + 10; /* answers still in flight get 10 s */
    while ((next < n || r.ok + r.failed < next) && bench_now() < deadline) {
        double t = bench_now();
        int slot;
        while (next < n && sched[next] <= t && (slot = idle_slot(busy)) >= 0) {
            if (t - sched[next] > 0.001) {
                r.late++; /* sent over 1 ms after its time: no idle connection, or descheduled */
            }
            slot_req[slot] = next++;
            busy[slot] = true;
            curl_multi_add_handle(multi, easy[slot]);
        }
        pump(multi, busy, sched, slot_req, lat, svc, &r);
        double until = next < n ? sched[next] - bench_now() : 0.1;
        if (next < n && idle_slot(busy) < 0) {
            until = 0.1; /* nothing to send with until an answer frees a connection */
        }
        wait_for(multi, until);
    }
    double span = r.t_last - t0;
    r.issuer_nvcsw = bench_proc_nvcsw(srv.pid) - nv0;
    r.gen_nvcsw = bench_proc_nvcsw(getpid()) - gnv0;
    r.issuer_cpu = bench_proc_cpu(srv.pid) - cpu0;
    hist_t h1 = issuer_hist();
    r.hist = (hist_t){h1.le1 - h0.le1, h1.le25 - h0.le25, h1.count - h0.count};
    r.achieved = span > 0 ? (double)r.ok / span : 0;
    bench_median(lat, (size_t)r.ok); /* sorts */
    r.p50 = bench_percentile(lat, (size_t)r.ok, 0.50) * 1e3;
    r.p90 = bench_percentile(lat, (size_t)r.ok, 0.90) * 1e3;
    r.p99 = bench_percentile(lat, (size_t)r.ok, 0.99) * 1e3;
    r.max = r.ok > 0 ? lat[r.ok - 1] * 1e3 : 0;
    bench_median(svc, (size_t)r.ok);
    r.svc_p50 = bench_percentile(svc, (size_t)r.ok, 0.50) * 1e3;
    r.svc_p99 = bench_percentile(svc, (size_t)r.ok, 0.99) * 1e3;
    r.failed += n - (r.ok + r.failed);
    for (int i = 0; i < PACED_POOL; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    free(sched);
    free(lat);
    free(svc);
    return r;
}

static const char *verdict(bool met)
{
    return met ? "met" : "NOT met";
}

/* One signing key: raw rates, then the server under closed-loop and paced load. */
static int bench_key(const char *alg, const char *keyfile, bool fresh_too, double secs, int conns)
{
    char keys[256], keypath[400], cert[400], key[400], ca[400], url[128];
    snprintf(keys, sizeof(keys), "{\"current\": \"%s\"}", keyfile);
    write_config(keys, "{\"per_identity\": {\"rate\": 0}, \"per_source\": {\"rate\": 0}}");
    snprintf(keypath, sizeof(keypath), "%s/%s", srv.dir, keyfile);
    snprintf(cert, sizeof(cert), "%s/gateway/cert.pem", srv.dir);
    snprintf(key, sizeof(key), "%s/gateway/key.pem", srv.dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    snprintf(url, sizeof(url), "%s/v1/token", srv.url);

    double rate_openssl = raw_openssl_rate(keypath, 2);
    double rate_sign = raw_jwt_sign_rate(keypath, 2);
    server_start();
    load_t ka = run_load(false, conns, secs, cert, key, ca, url);
    double max_rate = ka.wall > 0 ? (double)ka.ok / ka.wall : 0;
    double paced_rate = bench_env("BENCH_PACED_RATE", max_rate / 2);
    paced_t pc = run_paced(paced_rate, secs, cert, key, ca, url);
    load_t fr = {0};
    if (fresh_too) {
        fr = run_load(true, conns, secs, cert, key, ca, url);
    }
    int st = 0;
    server_stop_signal(SIGTERM, &st);

    double per_cpu = ka.cpu > 0 ? (double)ka.ok / ka.cpu : 0;
    double r_sign = rate_sign > 0 ? per_cpu / rate_sign : 0;
    double r_ossl = rate_openssl > 0 ? per_cpu / rate_openssl : 0;
    bool rsa = strcmp(alg, "RS256") == 0;
    printf("%s signing key (load average %.2f)\n", alg, bench_loadavg());
    printf("  raw OpenSSL %s sign:                 %8.0f /CPU-s\n", alg, rate_openssl);
    printf("  raw mesh_jwt_sign:                      %8.0f /CPU-s\n", rate_sign);
    printf("  keep-alive, %d connections, closed loop: %ld tokens (%ld failed) in %.1f s\n", conns,
           ka.ok, ka.failed, ka.wall);
    printf("    tokens per wall second (max rate):    %8.0f /s\n", max_rate);
    printf("    tokens per issuer CPU-second:         %8.0f /CPU-s (issuer CPU %.2f s)\n", per_cpu,
           ka.cpu);
    printf("    ratio to raw mesh_jwt_sign:           %8.2f%s\n", r_sign,
           rsa ? (r_sign >= 0.80 ? "  (target >= 0.80 met)" : "  (target >= 0.80 NOT met)") : "");
    printf("    ratio to raw OpenSSL sign:            %8.2f%s%s%s\n", r_ossl,
           rsa ? "" : "  (target >= 0.40 ", rsa ? "" : verdict(r_ossl >= 0.40), rsa ? "" : ")");
    printf("  paced open loop at half the max rate, %d keep-alive connections:\n", PACED_POOL);
    printf("    rate asked / served:                  %8.0f / %.0f /s (%ld failed, %ld sent "
           "> 1 ms late)\n",
           pc.target, pc.achieved, pc.failed, pc.late);
    printf("    latency p50 / p90 / p99 / max:        %8.2f / %.2f / %.2f / %.2f ms  (target "
           "p99 <= 2 ms %s)\n",
           pc.p50, pc.p90, pc.p99, pc.max, verdict(pc.p99 <= 2.0));
    printf("    curl's time per transfer p50 / p99:   %8.2f / %.2f ms (from its start, without "
           "waiting for a free connection)\n",
           pc.svc_p50, pc.svc_p99);
    printf("    issuer CPU %.2f s; preempted (involuntary context switches): issuer %ld, "
           "load generator %ld\n",
           pc.issuer_cpu, pc.issuer_nvcsw, pc.gen_nvcsw);
    if (pc.hist.count > 0) {
        printf("    issuer's own histogram (request received to answer queued): %.2f %% within "
               "1 ms, %.3f %% within 2.5 ms\n",
               100 * pc.hist.le1 / pc.hist.count, 100 * pc.hist.le25 / pc.hist.count);
    }
    if (fresh_too) {
        printf("  a new TLS connection per token (full handshake, no resumption):\n");
        printf("    tokens per wall second:               %8.0f /s (%ld failed)\n",
               (double)fr.ok / fr.wall, fr.failed);
        printf("    tokens per issuer CPU-second:         %8.0f /CPU-s\n",
               fr.cpu > 0 ? (double)fr.ok / fr.cpu : 0);
    }
    fflush(stdout);
    return ka.failed == 0 && fr.failed == 0 && pc.failed == 0 && ka.ok > 0 ? 0 : 1;
}

int main(void)
{
    const char *root = getenv("MESH_SOURCE_ROOT");
    const char *build = getenv("MESH_BUILD_ROOT");
    if (root == NULL || build == NULL) {
        fprintf(stderr, "bench-issuer: run through ./dev bench (needs MESH_SOURCE_ROOT and "
                        "MESH_BUILD_ROOT)\n");
        return 2;
    }
    double secs = bench_env("BENCH_SECONDS", 5);
    int conns = (int)bench_env("BENCH_CONNECTIONS", 16);
    char cmd[1024];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e2e_init_roots(root, build);
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
             "-out '%s/jwt-es256.key'",
             srv.dir);
    if (run_cmd(cmd, NULL) != 0) {
        fprintf(stderr, "bench-issuer: cannot make a P-256 key\n");
        return 1;
    }
    printf("mesh-issuer bench: %.0f s per load, %ld cores, release build, 127.0.0.1, "
           "the load generator on the same cores\n",
           secs, sysconf(_SC_NPROCESSORS_ONLN));
    const char *algs = getenv("BENCH_ALGS"); /* e.g. "ES256" to run one key only */
    int rc = 0;
    if (algs == NULL || strstr(algs, "RS256") != NULL) {
        rc |= bench_key("RS256", "jwt-signing.key", true, secs, conns);
    }
    if (algs == NULL || strstr(algs, "ES256") != NULL) {
        rc |= bench_key("ES256", "jwt-es256.key", false, secs, conns);
    }
    printf("  load generator CPU time (whole run):    %8.2f s\n", bench_self_cpu());
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", srv.dir);
    }
    curl_global_cleanup();
    return rc;
}
