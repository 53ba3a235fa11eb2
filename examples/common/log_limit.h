/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rate-limited log lines, like the kernel's printk_ratelimit(): at most LOG_LIMIT_BURST lines
 * per LOG_LIMIT_INTERVAL_S seconds are written; the rest of that interval's lines are counted
 * and reported by one summary line,
 *
 *     gateway: suppressed 990 similar lines in the last 1 s (at most 10 lines per 1 s)
 *
 * written when the interval is over: by the next line that is logged, by log_limit_tick()
 * (the server calls it from a timer) or by log_limit_flush() (at shutdown). Nothing is lost
 * from the count; a flood of refused requests costs a few lines a second instead of one per
 * request (a bad-token flood wrote 43 MB in 25 s before this).
 *
 * Time is passed in (seconds on a monotonic clock) so that tests need no clock. Not
 * thread-safe: one limiter per event loop.
 */
#ifndef EXAMPLES_LOG_LIMIT_H
#define EXAMPLES_LOG_LIMIT_H

#include <stdbool.h>
#include <stdio.h>

#include <mesh/limits.h>

/* the issuer's refusal log rule, one number for both */
#define LOG_LIMIT_BURST      MESH_LOG_REFUSALS_PER_S /* lines per interval before suppression */
#define LOG_LIMIT_INTERVAL_S 1                       /* the interval, in seconds */

typedef struct {
    FILE *out;                /* where lines go (stderr for the examples) */
    const char *prog;         /* prefix of the summary line: "gateway" */
    long long start;          /* the current interval began at this second */
    unsigned printed;         /* lines written in the current interval */
    unsigned long suppressed; /* lines dropped in the current interval */
    unsigned long total_suppressed;
} log_limit_t;

/* Sets up `l` (out and prog are borrowed and must outlive it). */
void log_limit_init(log_limit_t *l, FILE *out, const char *prog);

/* Writes one line (fmt without the trailing newline) unless this interval's burst is used up;
 * returns whether it was written. */
bool log_limit_printf(log_limit_t *l, long long now, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the summary line when the interval is over and lines were suppressed in it; returns
 * true while suppressed lines still wait for their summary (the caller's timer may stop when
 * it returns false). */
bool log_limit_tick(log_limit_t *l, long long now);

/* Writes the summary of the current interval now, if anything was suppressed (shutdown). */
void log_limit_flush(log_limit_t *l);

#endif /* EXAMPLES_LOG_LIMIT_H */
