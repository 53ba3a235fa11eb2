/* SPDX-License-Identifier: Apache-2.0 */
/* Per-thread stripe numbers for libmesh's striped locks and counters. Internal. */
#ifndef MESH_STRIPE_H
#define MESH_STRIPE_H

#include <stdalign.h>

#define MESH_CACHELINE 64

/* A small number, fixed per thread, spread evenly over the threads of a process. */
unsigned mesh_thread_slot(void);

/* Monotonic milliseconds (cooldowns, backoff, refresh timers: never the wall clock). */
long long mesh_monotonic_ms(void);

#endif /* MESH_STRIPE_H */
