/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open connections per source address, over all workers: one host must not take every slot
 * (config max_connections_per_source). No libevent: server.c counts a connection in once its
 * socket is known and out when it is freed.
 */
#ifndef ISSUER_SOURCES_H
#define ISSUER_SOURCES_H

#include <stdbool.h>

/* At most `max_per_source` connections per address from now on. */
void sources_init(int max_per_source);
/* Counts one more connection of `addr` (a numeric address); false, and nothing counted, when
 * it already holds the maximum or the table is full. Thread-safe. */
bool sources_take(const char *addr);
/* One connection of `addr` ended (after a sources_take that returned true). Thread-safe. */
void sources_release(const char *addr);

#endif /* ISSUER_SOURCES_H */
