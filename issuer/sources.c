/* SPDX-License-Identifier: Apache-2.0 */
#include "sources.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <mesh/limits.h>

/* A small open-addressing table under one lock (taken once per connection, not per request). */
typedef struct {
    char addr[64];
    int n; /* open connections; -1 = a tombstone (a deleted key probing goes past) */
} source_slot_t;
static pthread_mutex_t sources_lock = PTHREAD_MUTEX_INITIALIZER;
static source_slot_t sources[MESH_MAX_SOURCES], sources_tmp[MESH_MAX_SOURCES];
static size_t sources_tombstones;
static int max_per_source = 1;

void sources_init(int max_per)
{
    pthread_mutex_lock(&sources_lock);
    max_per_source = max_per;
    pthread_mutex_unlock(&sources_lock);
}

static source_slot_t *slot_of(const char *addr, bool add);

/* Too many tombstones make every probe long: insert the live entries again. */
static void sources_rebuild(void)
{
    memcpy(sources_tmp, sources, sizeof(sources));
    memset(sources, 0, sizeof(sources));
    sources_tombstones = 0;
    for (size_t i = 0; i < MESH_MAX_SOURCES; i++) {
        if (sources_tmp[i].n > 0) {
            slot_of(sources_tmp[i].addr, true)->n = sources_tmp[i].n;
        }
    }
}

static source_slot_t *slot_of(const char *addr, bool add)
{
    uint32_t h = 2166136261u;
    for (const char *p = addr; *p != '\0'; p++) {
        h = (h ^ (uint8_t)*p) * 16777619u;
    }
    source_slot_t *free_slot = NULL;
    for (size_t i = 0, k = h % MESH_MAX_SOURCES; i < MESH_MAX_SOURCES;
         i++, k = (k + 1) % MESH_MAX_SOURCES) {
        source_slot_t *s = &sources[k];
        if (s->addr[0] != '\0' && strcmp(s->addr, addr) == 0) {
            return s;
        }
        if (s->addr[0] == '\0') {
            if (free_slot == NULL) {
                free_slot = s;
            }
            if (s->n == 0) { /* never used: the key is not further on */
                break;
            }
        }
    }
    if (!add || free_slot == NULL) {
        return NULL;
    }
    if (free_slot->n < 0) {
        sources_tombstones--;
    }
    snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
    free_slot->n = 0;
    return free_slot;
}

/* false when `addr` already holds max_connections_per_source connections. */
bool sources_take(const char *addr)
{
    pthread_mutex_lock(&sources_lock);
    source_slot_t *s = slot_of(addr, true);
    bool ok = s != NULL && s->n < max_per_source;
    if (ok) {
        s->n++;
    }
    pthread_mutex_unlock(&sources_lock);
    return ok;
}

void sources_release(const char *addr)
{
    pthread_mutex_lock(&sources_lock);
    source_slot_t *s = slot_of(addr, false);
    if (s != NULL && --s->n <= 0) {
        s->addr[0] = '\0';
        s->n = -1;
        if (++sources_tombstones > MESH_MAX_SOURCES / 4) {
            sources_rebuild();
        }
    }
    pthread_mutex_unlock(&sources_lock);
}
