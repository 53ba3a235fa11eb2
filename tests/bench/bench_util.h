/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the issuer and client benchmarks (./dev bench). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

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

#endif /* BENCH_UTIL_H */
