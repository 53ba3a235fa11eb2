/* SPDX-License-Identifier: Apache-2.0 */
#include "replay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "secret.h"

#define PROBES 64

typedef struct {
    uint8_t key[16]; /* SHA-256 of iss, jti */
    int64_t exp;     /* 0: never used */
} seen_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static seen_t *table;

replay_verdict_t replay_use(const char *iss, const char *jti, int64_t exp, int64_t now)
{
    char buf[2 * MESH_MAX_OPT_STRING + 2];
    size_t a = strnlen(iss, MESH_MAX_OPT_STRING), b = strnlen(jti, MESH_MAX_OPT_STRING);
    memcpy(buf, iss, a);
    buf[a] = '\0';
    memcpy(buf + a + 1, jti, b);
    uint8_t h[32];
    if (!secret_sha256(buf, a + 1 + b, h)) {
        return REPLAY_FULL;
    }
    uint64_t start;
    memcpy(&start, h, sizeof(start));
    pthread_mutex_lock(&lock);
    if (table == NULL && (table = calloc(MESH_AUTHZ_MAX_REPLAY_ENTRIES, sizeof(*table))) == NULL) {
        pthread_mutex_unlock(&lock);
        return REPLAY_FULL;
    }
    seen_t *spare = NULL;
    replay_verdict_t v = REPLAY_FULL;
    for (size_t i = 0; i < PROBES; i++) {
        seen_t *s = &table[(start + i) % MESH_AUTHZ_MAX_REPLAY_ENTRIES];
        if (s->exp != 0 && memcmp(s->key, h, 16) == 0) {
            /* kept until exp: past it the verifier refuses the token anyway */
            v = REPLAY_SEEN;
            spare = NULL;
            break;
        }
        if (spare == NULL && (s->exp == 0 || s->exp < now)) {
            spare = s;
        }
        if (s->exp == 0) {
            break;
        }
    }
    if (spare != NULL) {
        memcpy(spare->key, h, 16);
        /* kept past exp by the verifier's clock skew: it accepts the token that long */
        spare->exp = (exp > 0 ? exp : now) + MESH_DEFAULT_SKEW;
        v = REPLAY_FIRST;
    }
    pthread_mutex_unlock(&lock);
    return v;
}

void replay_reset(void)
{
    pthread_mutex_lock(&lock);
    free(table);
    table = NULL;
    pthread_mutex_unlock(&lock);
}
