/* SPDX-License-Identifier: Apache-2.0 */
#include "revocations.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>

#include "internal.h"
#include "json.h"
#include "stripe.h"

#define REV_STRIPES 32
#define REV_BUCKETS 64 /* per stripe */

typedef struct rev_node {
    struct rev_node *next;
    int64_t exp;
    char jti[];
} rev_node_t;

typedef struct {
    alignas(MESH_CACHELINE) pthread_rwlock_t lock;
    rev_node_t *buckets[REV_BUCKETS];
} rev_stripe_t;

struct mesh_revset {
    rev_stripe_t stripes[REV_STRIPES];
    atomic_size_t count;
};

/* FNV-1a: jtis are random, any spread will do. */
static uint32_t jti_hash(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s != '\0'; s++) {
        h = (h ^ (uint8_t)*s) * 16777619u;
    }
    return h;
}

mesh_err_t mesh_revset_new(mesh_revset_t **out)
{
    mesh_revset_t *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "revocation set");
    }
    for (int i = 0; i < REV_STRIPES; i++) {
        pthread_rwlock_init(&s->stripes[i].lock, NULL);
    }
    *out = s;
    return MESH_OK;
}

void mesh_revset_free(mesh_revset_t *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < REV_STRIPES; i++) {
        for (int b = 0; b < REV_BUCKETS; b++) {
            rev_node_t *n = s->stripes[i].buckets[b];
            while (n != NULL) {
                rev_node_t *next = n->next;
                free(n);
                n = next;
            }
        }
        pthread_rwlock_destroy(&s->stripes[i].lock);
    }
    free(s);
}

bool mesh_revset_contains(mesh_revset_t *s, const char *jti)
{
    uint32_t h;
    rev_stripe_t *st;
    bool found = false;

    if (atomic_load_explicit(&s->count, memory_order_relaxed) == 0 || jti == NULL) {
        return false;
    }
    h = jti_hash(jti);
    st = &s->stripes[h % REV_STRIPES];
    pthread_rwlock_rdlock(&st->lock);
    for (rev_node_t *n = st->buckets[(h / REV_STRIPES) % REV_BUCKETS]; n != NULL; n = n->next) {
        if (strcmp(n->jti, jti) == 0) {
            found = true;
            break;
        }
    }
    pthread_rwlock_unlock(&st->lock);
    return found;
}

mesh_err_t mesh_revset_add(mesh_revset_t *s, const char *jti, int64_t exp)
{
    uint32_t h = jti_hash(jti);
    rev_stripe_t *st = &s->stripes[h % REV_STRIPES];
    rev_node_t **head = &st->buckets[(h / REV_STRIPES) % REV_BUCKETS];
    size_t len = strlen(jti);
    rev_node_t *n;

    if (len == 0 || len > MESH_MAX_CLAIM_STRING) {
        return mesh_err_set(MESH_ERR_LIMIT, "revocation feed: jti of %zu bytes", len);
    }
    if (atomic_load(&s->count) >= MESH_MAX_REVOKED) {
        return mesh_err_set(MESH_ERR_LIMIT, "revocation feed: more than %d revoked tokens",
                            MESH_MAX_REVOKED);
    }
    pthread_rwlock_wrlock(&st->lock);
    for (n = *head; n != NULL; n = n->next) {
        if (strcmp(n->jti, jti) == 0) {
            n->exp = exp > n->exp ? exp : n->exp;
            pthread_rwlock_unlock(&st->lock);
            return MESH_OK;
        }
    }
    n = malloc(sizeof(*n) + len + 1);
    if (n == NULL) {
        pthread_rwlock_unlock(&st->lock);
        return mesh_err_set(MESH_ERR_NOMEM, "revocation set");
    }
    memcpy(n->jti, jti, len + 1);
    n->exp = exp;
    n->next = *head;
    *head = n;
    atomic_fetch_add(&s->count, 1);
    pthread_rwlock_unlock(&st->lock);
    return MESH_OK;
}

void mesh_revset_prune(mesh_revset_t *s, int64_t before)
{
    for (int i = 0; i < REV_STRIPES; i++) {
        rev_stripe_t *st = &s->stripes[i];
        pthread_rwlock_wrlock(&st->lock);
        for (int b = 0; b < REV_BUCKETS; b++) {
            rev_node_t **pp = &st->buckets[b];
            while (*pp != NULL) {
                rev_node_t *n = *pp;
                if (n->exp < before) {
                    *pp = n->next;
                    free(n);
                    atomic_fetch_sub(&s->count, 1);
                } else {
                    pp = &n->next;
                }
            }
        }
        pthread_rwlock_unlock(&st->lock);
    }
}

size_t mesh_revset_count(mesh_revset_t *s)
{
    return atomic_load(&s->count);
}

mesh_err_t mesh_revset_apply(mesh_revset_t *s, const char *body, size_t len, const char *url,
                             int64_t *since)
{
    json_t *doc = NULL, *list, *item;
    size_t i;
    mesh_err_t rc = mesh_json_parse_object(body, len, MESH_MAX_JSON_DEPTH, url, &doc);

    if (rc != MESH_OK) {
        return rc;
    }
    json_t *seq = json_object_get(doc, "seq");
    list = json_object_get(doc, "revoked");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0 || !json_is_array(list)) {
        rc = mesh_err_set(MESH_ERR_JSON, "%s: want {\"seq\":N,\"revoked\":[...]}", url);
        goto out;
    }
    json_array_foreach(list, i, item) {
        const char *jti = json_string_value(json_object_get(item, "jti"));
        json_t *exp = json_object_get(item, "exp");
        if (jti == NULL || !json_is_integer(exp)) {
            rc = mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu] needs a string jti and an "
                              "integer exp", url, i);
            goto out;
        }
        rc = mesh_revset_add(s, jti, json_integer_value(exp));
        if (rc != MESH_OK) {
            goto out;
        }
    }
    *since = json_integer_value(seq);
out:
    json_decref(doc);
    return rc;
}

mesh_err_t mesh_revset_poll(mesh_revset_t *s, mesh_http_t *http, const char *url,
                            int64_t *since)
{
    char full[2100];
    mesh_http_req_t req = {0};
    mesh_http_resp_t r = {0};
    int64_t before = *since;
    mesh_err_t rc;

    if (snprintf(full, sizeof(full), "%s?since=%lld", url, (long long)*since) >=
        (int)sizeof(full)) {
        return mesh_err_set(MESH_ERR_CONFIG, "revocation feed URL too long");
    }
    req.url = full;
    req.max_body = MESH_MAX_FEED_BYTES;
    rc = mesh_http_do(http, &req, &r);
    if (rc != MESH_OK) {
        return rc;
    }
    if (r.status != 200) {
        rc = mesh_err_set(MESH_ERR_NETWORK, "%s answered HTTP %ld", url, r.status);
    } else {
        rc = mesh_revset_apply(s, r.body, r.body_len, url, since);
        if (rc == MESH_OK && *since < before) {
            *since = 0; /* the issuer's sequence went back: read the whole feed again */
        }
    }
    mesh_http_resp_clear(&r);
    return rc;
}
