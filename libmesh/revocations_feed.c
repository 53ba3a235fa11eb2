/* SPDX-License-Identifier: Apache-2.0 */
/* The issuer's revocation feed into a mesh_revset_t: page parsing and one poll. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/limits.h>
#include <mesh/x509.h>

#include "internal.h"
#include "json.h"
#include "revocations_internal.h"

typedef struct {
    const char *key[MESH_REV_KINDS]; /* NULL: not in this entry */
    int64_t iat_before, exp;
} feed_entry_t;

/* A member that must be a string when present; *out NULL when absent. */
static mesh_err_t entry_string(json_t *item, const char *name, const char *what, size_t i,
                               const char **out)
{
    json_t *v = json_object_get(item, name);

    *out = NULL;
    if (v == NULL) {
        return MESH_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > MESH_MAX_CLAIM_STRING) {
        return mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu].%s is not a string of 1 to %d bytes",
                            what, i, name, MESH_MAX_CLAIM_STRING);
    }
    *out = json_string_value(v);
    return MESH_OK;
}

static mesh_err_t read_entry(json_t *item, const char *what, size_t i, feed_entry_t *e)
{
    static const char *const member[MESH_REV_KINDS] = {"jti", "sub", "x5t#S256"};
    json_t *exp, *iat_before;
    mesh_err_t rc;

    memset(e, 0, sizeof(*e));
    if (!json_is_object(item)) {
        return mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu] is not an object", what, i);
    }
    for (int k = 0; k < MESH_REV_KINDS; k++) {
        if ((rc = entry_string(item, member[k], what, i, &e->key[k])) != MESH_OK) {
            return rc;
        }
    }
    if (e->key[MESH_REV_JTI] == NULL && e->key[MESH_REV_SUB] == NULL &&
        e->key[MESH_REV_X5T] == NULL) {
        return mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu] names none of jti, sub, x5t#S256",
                            what, i);
    }
    exp = json_object_get(item, "exp");
    if (!json_is_integer(exp)) {
        return mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu] needs an integer exp", what, i);
    }
    e->exp = json_integer_value(exp);
    iat_before = json_object_get(item, "iat_before");
    if (e->key[MESH_REV_SUB] != NULL) {
        if (!json_is_integer(iat_before)) {
            return mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu] has sub but no integer iat_before",
                                what, i);
        }
        e->iat_before = json_integer_value(iat_before);
    }
    /* RFC 8705 §3.1: a thumbprint that is not 43 characters could never match a token's. */
    if (e->key[MESH_REV_X5T] != NULL && strlen(e->key[MESH_REV_X5T]) != MESH_X5T_LEN) {
        return mesh_err_set(MESH_ERR_JSON, "%s: revoked[%zu].x5t#S256 is not %d characters", what,
                            i, MESH_X5T_LEN);
    }
    return MESH_OK;
}

/* Adds one entry's keys; a full set is pruned once (*pruned) before giving up. */
static mesh_err_t add_entry(mesh_revset_t *s, const feed_entry_t *e, int64_t drop_before,
                            bool *pruned)
{
    mesh_err_t rc = MESH_OK;

    for (int k = 0; k < MESH_REV_KINDS && rc == MESH_OK; k++) {
        if (e->key[k] == NULL) {
            continue;
        }
        rc = mesh_revset_add_entry(s, (mesh_rev_kind_t)k, e->key[k], e->iat_before, e->exp);
        if (rc == MESH_ERR_LIMIT && !*pruned) {
            *pruned = true;
            mesh_revset_prune(s, drop_before);
            rc = mesh_revset_add_entry(s, (mesh_rev_kind_t)k, e->key[k], e->iat_before, e->exp);
        }
    }
    return rc;
}

mesh_err_t mesh_revset_apply(mesh_revset_t *s, const char *body, size_t len, const char *what,
                             int64_t drop_before, int64_t *seq_out, bool *more_out)
{
    json_t *doc = NULL, *list, *seq, *more, *item;
    feed_entry_t e;
    bool pruned = false;
    size_t i;
    mesh_err_t rc = mesh_json_parse_object(body, len, MESH_MAX_JSON_DEPTH, what, &doc);

    if (rc != MESH_OK) {
        return rc;
    }
    seq = json_object_get(doc, "seq");
    list = json_object_get(doc, "revoked");
    more = json_object_get(doc, "more");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0 || !json_is_array(list) ||
        (more != NULL && !json_is_boolean(more))) {
        rc = mesh_err_set(MESH_ERR_JSON, "%s: want {\"seq\":N,\"revoked\":[...],\"more\":bool}",
                          what);
        goto out;
    }
    /* The whole page is checked first: a malformed page adds nothing. */
    json_array_foreach(list, i, item)
    {
        if ((rc = read_entry(item, what, i, &e)) != MESH_OK) {
            goto out;
        }
    }
    json_array_foreach(list, i, item)
    {
        (void)read_entry(item, what, i, &e);
        if (e.exp < drop_before) {
            continue; /* its tokens have expired: it would only take a place */
        }
        if ((rc = add_entry(s, &e, drop_before, &pruned)) != MESH_OK) {
            goto out;
        }
    }
    *seq_out = json_integer_value(seq);
    *more_out = json_is_true(more);
out:
    json_decref(doc);
    return rc;
}

/* How a page failed: it never arrived (state unchanged), or it arrived and was not applied. */
typedef enum { PAGE_MISSING, PAGE_BAD, PAGE_FULL } page_fail_t;

/* GET url?since=N and apply it. */
static mesh_err_t poll_page(mesh_revset_t *s, mesh_http_t *http, const char *url, int64_t since,
                            int64_t drop_before, int64_t *seq, bool *more, page_fail_t *fail)
{
    char full[2100];
    mesh_http_req_t req = {0};
    mesh_http_resp_t r = {0};
    mesh_err_t rc;

    *fail = PAGE_MISSING;
    if (snprintf(full, sizeof(full), "%s?since=%lld", url, (long long)since) >= (int)sizeof(full)) {
        return mesh_err_set(MESH_ERR_CONFIG, "revocation feed URL too long");
    }
    req.url = full;
    req.max_body = MESH_MAX_FEED_BYTES;
    rc = mesh_http_do(http, &req, &r);
    if (rc == MESH_ERR_LIMIT) {
        *fail = PAGE_BAD; /* a page over MESH_MAX_FEED_BYTES: entries we cannot read */
    }
    if (rc != MESH_OK) {
        return rc;
    }
    if (r.status != 200) {
        rc = mesh_err_set(MESH_ERR_NETWORK, "%s answered HTTP %ld", full, r.status);
    } else {
        rc = mesh_revset_apply(s, r.body, r.body_len, full, drop_before, seq, more);
        *fail = rc == MESH_ERR_LIMIT ? PAGE_FULL : PAGE_BAD;
    }
    mesh_http_resp_clear(&r);
    return rc;
}

/* What the poll ended with, into the set's state; returns the poll's result. */
static mesh_err_t finish(mesh_revset_t *s, mesh_err_t rc, page_fail_t fail, int page, bool more)
{
    char why[sizeof(s->why)];

    if (rc == MESH_OK && !more) {
        mesh_revset_mark(s, REV_COMPLETE, NULL);
        return MESH_OK;
    }
    if (rc == MESH_OK) {
        snprintf(why, sizeof(why), "more than %d pages in one poll; the next poll continues",
                 MESH_MAX_FEED_PAGES_PER_POLL);
        mesh_revset_mark(s, REV_PAGES, why);
        return mesh_err_set(MESH_ERR_REVOCATIONS_INCOMPLETE, "revocation feed: %s", why);
    }
    snprintf(why, sizeof(why), "%s", mesh_err_detail());
    if (fail == PAGE_FULL) {
        mesh_revset_mark(s, REV_FULL, why);
        return mesh_err_set(MESH_ERR_REVOCATIONS_INCOMPLETE,
                            "revocation feed: %s after pruning; every token is refused until a "
                            "poll fits",
                            why);
    }
    if (fail == PAGE_BAD || page > 0) {
        /* Entries exist that this verifier could not read: a bad page, or a later page lost. */
        mesh_revset_mark(s, REV_UNREAD, why);
    }
    /* The first page not arriving tells nothing new: the state stays as it was. */
    return mesh_err_set(rc, "%s", why);
}

mesh_err_t mesh_revset_poll(mesh_revset_t *s, mesh_http_t *http, const char *url,
                            int64_t drop_before)
{
    bool more = false, restarted = false;
    page_fail_t fail = PAGE_MISSING;
    int page = 0;
    mesh_err_t rc = MESH_OK;

    pthread_mutex_lock(&s->poll_mu);
    /* Before applying, never only after success: a full set must be able to make room. */
    mesh_revset_prune(s, drop_before);
    for (; page < MESH_MAX_FEED_PAGES_PER_POLL; page++) {
        int64_t seq = 0;
        rc = poll_page(s, http, url, s->since, drop_before, &seq, &more, &fail);
        if (rc != MESH_OK) {
            break;
        }
        if (seq < s->since && !restarted) {
            restarted = true; /* the issuer's sequence went back: read the whole feed again */
            s->since = 0;
            more = true;
            continue;
        }
        if (more && seq <= s->since) {
            fail = PAGE_BAD;
            rc = mesh_err_set(MESH_ERR_JSON, "%s: \"more\" with seq %lld, not after %lld", url,
                              (long long)seq, (long long)s->since);
            break;
        }
        s->since = seq;
        if (!more) {
            break;
        }
    }
    rc = finish(s, rc, fail, page, more);
    pthread_mutex_unlock(&s->poll_mu);
    return rc;
}
