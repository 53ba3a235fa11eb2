/* SPDX-License-Identifier: Apache-2.0 */
#include "stripe.h"

#include <stdatomic.h>
#include <time.h>

long long mesh_monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mesh_monotonic_deadline(struct timespec *ts, long long ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

unsigned mesh_thread_slot(void)
{
    static atomic_uint next;
    static _Thread_local unsigned slot;
    static _Thread_local int has_slot;

    if (!has_slot) {
        slot = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
        has_slot = 1;
    }
    return slot;
}
