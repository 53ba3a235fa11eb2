/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed-interval log rate limit with a summary line: see log_limit.h. */
#include "log_limit.h"

#include <stdarg.h>
#include <string.h>

void log_limit_init(log_limit_t *l, FILE *out, const char *prog)
{
    memset(l, 0, sizeof(*l));
    l->out = out;
    l->prog = prog;
}

void log_limit_flush(log_limit_t *l)
{
    if (l->suppressed == 0) {
        return;
    }
    fprintf(l->out,
            "%s: suppressed %lu similar lines in the last %d s (at most %d lines per %d s)\n",
            l->prog, l->suppressed, LOG_LIMIT_INTERVAL_S, LOG_LIMIT_BURST, LOG_LIMIT_INTERVAL_S);
    (void)fflush(l->out);
    l->total_suppressed += l->suppressed;
    l->suppressed = 0;
}

/* A new interval starts at `now` once the current one is over. */
static void roll(log_limit_t *l, long long now)
{
    if (now - l->start >= LOG_LIMIT_INTERVAL_S || now < l->start) {
        log_limit_flush(l);
        l->start = now;
        l->printed = 0;
    }
}

bool log_limit_tick(log_limit_t *l, long long now)
{
    roll(l, now);
    return l->suppressed > 0;
}

bool log_limit_printf(log_limit_t *l, long long now, const char *fmt, ...)
{
    va_list ap;

    roll(l, now);
    if (l->printed >= LOG_LIMIT_BURST) {
        l->suppressed++;
        return false;
    }
    l->printed++;
    va_start(ap, fmt);
    (void)vfprintf(l->out, fmt, ap);
    va_end(ap);
    fputc('\n', l->out);
    return true;
}
