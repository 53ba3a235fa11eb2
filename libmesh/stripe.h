/* SPDX-License-Identifier: Apache-2.0 */
/* Per-thread stripe numbers for libmesh's striped locks and counters. Internal. */
#ifndef MESH_STRIPE_H
#define MESH_STRIPE_H

#include <stdalign.h>
#include <time.h>

#define MESH_CACHELINE 64

/* A small number, fixed per thread, spread evenly over the threads of a process. */
unsigned mesh_thread_slot(void);

/* Monotonic milliseconds (cooldowns, backoff, refresh timers: never the wall clock). */
long long mesh_monotonic_ms(void);

/* *ts = CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait on a monotonic condvar. */
void mesh_monotonic_deadline(struct timespec *ts, long long ms);

#endif /* MESH_STRIPE_H */
