/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-issuer throughput: a libcurl-multi load generator with client certificates and
 * keep-alive against a real server on 127.0.0.1. Reports tokens per second of issuer CPU time
 * (from /proc/PID/stat) as a ratio to the raw mesh_jwt_sign rate and raw OpenSSL RSA-2048
 * signing measured in the same run. Not a test: nothing is asserted.
 *
 * env: BENCH_SECONDS (default 5), BENCH_CONNECTIONS (default 16), BENCH_WORKERS (default: cores)
 */
#include <signal.h>
#include <stdbool.h>
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

#include "e2e.h"

void e2e_init(const char *bin, const char *gen);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread: raw rates are per CPU-second, like the issuer's */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double env_num(const char *name, double def)
{
    const char *v = getenv(name);
    return v ? atof(v) : def;
}

/* utime + stime of a process, in seconds */
static double proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may contain spaces */
    if (p == NULL) {
        return -1;
    }
    unsigned long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) {
        return -1;
    }
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double raw_jwt_sign_rate(const char *keypath, double secs)
{
    mesh_key_t *key = NULL;
    if (mesh_key_load_pem_file(keypath, MESH_ALG_UNSET, &key) != MESH_OK) {
        return 0;
    }
    mesh_jwt_claims_in_t in = {.iss = srv.url,
                               .sub = "spiffe://mesh.local/gateway",
                               .aud = "asset-service",
                               .scope = "assets:read assets:write",
                               .client_id = "gateway",
                               .x5t_s256 = "cpvrlwgw5tzTQjLIWfSD9GuOxeOPBnezIfY_Hh4Ju0c",
                               .iat = time(NULL),
                               .ttl = 300};
    long n = 0;
    double t0 = now(), c0 = cpu_now();
    do {
        char *tok = NULL;
        if (mesh_jwt_sign(key, &in, &tok, NULL) != MESH_OK) {
            break;
        }
        mesh_free(tok);
        n++;
    } while (now() - t0 < secs);
    mesh_key_free(key);
    return (double)n / (cpu_now() - c0);
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
    double t0 = now(), c0 = cpu_now();
    while (now() - t0 < secs) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        size_t sl = sizeof(sig);
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk);
        EVP_DigestSign(md, sig, &sl, msg, sizeof(msg));
        EVP_MD_CTX_free(md);
        n++;
    }
    EVP_PKEY_free(pk);
    return (double)n / (cpu_now() - c0);
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

/* `conns` concurrent clients posting tokens for `secs`; fresh: a new TLS connection each time */
static load_t run_load(bool fresh, int conns, double secs, const char *cert, const char *key,
                       const char *ca, const char *url)
{
    load_t r = {0};
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    CURL **easy = calloc((size_t)conns, sizeof(CURL *));
    for (int i = 0; i < conns; i++) {
        easy[i] = make_easy(cert, key, ca, url);
        if (fresh) {
            curl_easy_setopt(easy[i], CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(easy[i], CURLOPT_SSL_SESSIONID_CACHE, 0L);
        }
        curl_multi_add_handle(multi, easy[i]);
    }
    double cpu0 = proc_cpu(srv.pid), t0 = now(), t = t0;
    while (t - t0 < secs) {
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            long code = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (m->data.result == CURLE_OK && code == 200) {
                r.ok++;
            } else {
                r.failed++;
            }
            /* the same handle again: with keep-alive its connection stays open */
            CURL *e = m->easy_handle;
            curl_multi_remove_handle(multi, e);
            curl_multi_add_handle(multi, e);
        }
        curl_multi_poll(multi, NULL, 0, 100, NULL);
        t = now();
    }
    r.wall = now() - t0;
    r.cpu = proc_cpu(srv.pid) - cpu0;
    for (int i = 0; i < conns; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    free(easy);
    curl_multi_cleanup(multi);
    return r;
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
    double secs = env_num("BENCH_SECONDS", 5);
    int conns = (int)env_num("BENCH_CONNECTIONS", 16);
    char bin[512], gen[512];
    snprintf(bin, sizeof(bin), "%s/issuer/mesh-issuer", build);
    snprintf(gen, sizeof(gen), "%s/tests/issuer/e2e/gen-certs.sh", root);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    e2e_init(bin, gen);
    write_config("{\"current\": \"jwt-signing.key\"}",
                 "{\"per_identity\": {\"rate\": 0}, \"per_source\": {\"rate\": 0}}");
    char keypath[400], cert[400], key[400], ca[400], url[128];
    snprintf(keypath, sizeof(keypath), "%s/jwt-signing.key", srv.dir);
    snprintf(cert, sizeof(cert), "%s/gateway/cert.pem", srv.dir);
    snprintf(key, sizeof(key), "%s/gateway/key.pem", srv.dir);
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    snprintf(url, sizeof(url), "%s/v1/token", srv.url);

    double rate_openssl = raw_openssl_rate(keypath, 2);
    double rate_sign = raw_jwt_sign_rate(keypath, 2);
    server_start();

    load_t ka = run_load(false, conns, secs, cert, key, ca, url);
    load_t fr = run_load(true, conns, secs, cert, key, ca, url);
    double client_cpu = proc_cpu(getpid());
    long ok = ka.ok, failed = ka.failed;
    double wall = ka.wall, cpu = ka.cpu;
    int st = 0;
    server_stop_signal(SIGTERM, &st);

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double per_cpu = cpu > 0 ? (double)ok / cpu : 0;
    printf("mesh-issuer bench: %d keep-alive mTLS connections, %.1f s, %ld cores, "
           "RSA-2048 RS256\n",
           conns, wall, cores);
    printf("  raw OpenSSL RSA-2048 sign:              %8.0f /CPU-s\n", rate_openssl);
    printf("  raw mesh_jwt_sign:                      %8.0f /CPU-s\n", rate_sign);
    printf("  issuer tokens issued:                   %8ld (%ld failed)\n", ok, failed);
    printf("  issuer tokens per wall second:          %8.0f /s\n", (double)ok / wall);
    printf("  issuer CPU time:                        %8.2f s\n", cpu);
    printf("  load generator CPU time (whole run):    %8.2f s\n", client_cpu);
    printf("  issuer tokens per issuer CPU-second:    %8.0f /CPU-s\n", per_cpu);
    printf("  ratio to raw mesh_jwt_sign:             %8.2f\n",
           rate_sign > 0 ? per_cpu / rate_sign : 0);
    printf("  ratio to raw OpenSSL sign:              %8.2f\n",
           rate_openssl > 0 ? per_cpu / rate_openssl : 0);
    printf("  with a new TLS connection per token (full handshake, no resumption):\n");
    printf("    tokens per wall second:               %8.0f /s (%ld failed)\n",
           (double)fr.ok / fr.wall, fr.failed);
    printf("    tokens per issuer CPU-second:         %8.0f /CPU-s\n",
           fr.cpu > 0 ? (double)fr.ok / fr.cpu : 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot remove %s\n", srv.dir);
    }
    curl_global_cleanup();
    return failed == 0 && fr.failed == 0 && ok > 0 ? 0 : 1;
}
