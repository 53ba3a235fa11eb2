/* SPDX-License-Identifier: Apache-2.0 */
#include "bench_util.h"

#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double bench_proc_cpu(pid_t pid)
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

long bench_proc_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kib = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

double bench_env(const char *name, double def)
{
    const char *v = getenv(name);
    char *end = NULL;
    double d = v != NULL ? strtod(v, &end) : def;
    return v != NULL && end != v ? d : def;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(v[0]), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_percentile(double *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double bench_loadavg(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1) {
            l = -1;
        }
        fclose(f);
    }
    return l;
}

long bench_proc_nvcsw(pid_t pid)
{
    char path[96], line[256];
    long total = 0;
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL) {
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", (int)pid, e->d_name);
        FILE *f = fopen(path, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "nonvoluntary_ctxt_switches:", 27) == 0) {
                total += strtol(line + 27, NULL, 10);
            }
        }
        if (f != NULL) {
            fclose(f);
        }
    }
    closedir(d);
    return total;
}

static size_t bench_sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void bench_lat_push(bench_load_t *r, size_t *cap, double ms)
{
    if (r->n_lat == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4096;
        double *v = realloc(r->lat_ms, ncap * sizeof(double));
        if (v == NULL) {
            return; /* the latency sample stays smaller; the counts stay right */
        }
        r->lat_ms = v;
        *cap = ncap;
    }
    r->lat_ms[r->n_lat++] = ms;
}

bench_load_t bench_load_run(int conns, double secs, long want_status, bench_prepare_fn prepare,
                            void *ud)
{
    bench_load_t r = {0};
    size_t cap = 0;
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
    CURL **easy = calloc((size_t)conns, sizeof(CURL *));
    int active = 0;
    for (int i = 0; i < conns && easy != NULL; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, bench_sink);
        curl_easy_setopt(easy[i], CURLOPT_TCP_KEEPALIVE, 1L);
        if (prepare(easy[i], r.sent, ud)) {
            r.sent++;
            curl_multi_add_handle(multi, easy[i]);
            active++;
        }
    }
    double t0 = bench_now();
    while (active > 0 && bench_now() - t0 < secs) {
        int running = 0;
        curl_multi_perform(multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE) {
                continue;
            }
            CURL *e = m->easy_handle;
            long code = 0;
            curl_off_t us = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
            curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &us);
            if (m->data.result == CURLE_OK && code == want_status) {
                r.ok++;
            } else {
                r.failed++;
            }
            bench_lat_push(&r, &cap, (double)us / 1000.0);
            curl_multi_remove_handle(multi, e);
            active--;
            /* the same handle again: with keep-alive its connection stays open */
            if (prepare(e, r.sent, ud)) {
                r.sent++;
                curl_multi_add_handle(multi, e);
                active++;
            }
        }
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    r.wall = bench_now() - t0;
    for (int i = 0; i < conns && easy != NULL; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    free(easy);
    curl_multi_cleanup(multi);
    return r;
}
