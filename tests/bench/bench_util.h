/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the issuer and client benchmarks (./dev bench). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

double bench_now(void);             /* CLOCK_MONOTONIC, seconds */
double bench_thread_cpu(void);      /* this thread's CPU time, seconds */
double bench_self_cpu(void);        /* this process's CPU time (getrusage), seconds */
double bench_proc_cpu(pid_t pid);   /* utime + stime of pid from /proc/PID/stat; -1 on error */
long bench_proc_rss_kib(pid_t pid); /* VmRSS from /proc/PID/status; -1 on error */
double bench_env(const char *name, double def);
double bench_median(double *v, size_t n);               /* sorts v */
double bench_percentile(double *v, size_t n, double p); /* v sorted; p in 0..1 */
double bench_loadavg(void);                             /* 1-minute load average */
long bench_proc_nvcsw(pid_t pid); /* involuntary context switches, all threads; -1 on error */

/*
 * Closed-loop keep-alive load on libcurl multi (the loop of bench-issuer's run_load, made
 * reusable): `conns` handles, each re-added as soon as its answer came, so its connection
 * stays open. Before every request prepare(easy, seq, ud) sets that request up (URL, headers,
 * certificate: the handle keeps what it set last time); it returns false when there is no
 * request left (then that handle rests). Runs until `secs` passed or every handle rests.
 * ok counts answers with status `want_status`; lat_ms (malloc'd, caller frees) holds the
 * total time of every answered request, in milliseconds.
 */
typedef bool (*bench_prepare_fn)(void *easy, long seq, void *ud);
typedef struct {
    long ok, failed, sent;
    double wall;
    double *lat_ms;
    size_t n_lat;
} bench_load_t;
bench_load_t bench_load_run(int conns, double secs, long want_status, bench_prepare_fn prepare,
                            void *ud);

#endif /* BENCH_UTIL_H */
