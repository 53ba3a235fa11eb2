/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h revocations on SQLite. seq is an AUTOINCREMENT key: SQLite keeps the high-water mark
 * in sqlite_sequence, so a seq is never reused, even after prune deletes the newest rows.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mesh/error.h>
#include "store_sqlite.h"

/* Rows per pruning transaction: about this many pages of WAL at most (random jtis spread the
 * index entries of a batch over as many index pages). */
#define STORE_PRUNE_BATCH 32

static mesh_err_t seq_of(store_t *s, const char *jti, int64_t *seq, bool *found)
{
    sqlite3_stmt *st = store_query(s, Q_REV_SEQ_OF);
    int step;

    if (sqlite3_bind_text(st, 1, jti, -1, SQLITE_STATIC) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a jti");
    }
    step = sqlite3_step(st);
    *found = step == SQLITE_ROW;
    if (*found) {
        *seq = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return (step == SQLITE_ROW || step == SQLITE_DONE) ? MESH_OK
                                                       : store_db_fail(s, "cannot look up a jti");
}

static int insert_revocation(store_t *s, const char *jti, int64_t exp, int64_t now)
{
    sqlite3_stmt *st = store_query(s, Q_REV_INSERT);
    int step;

    if (sqlite3_bind_text(st, 1, jti, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, exp) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, now) != SQLITE_OK) {
        return SQLITE_ERROR;
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    return step;
}

/*
 * Revoking a jti twice is not an error (RFC 7009 §2.2): the first seq is returned. The lookup
 * comes first because a refused INSERT would still consume an AUTOINCREMENT value; the
 * constraint catches another connection revoking the same jti in between.
 */
mesh_err_t store_revoke(store_t *s, const char *jti, int64_t exp, int64_t now, int64_t *seq_out)
{
    int64_t seq = 0;
    bool found = false;
    mesh_err_t rc;
    int step;

    if (s == NULL || jti == NULL || jti[0] == '\0') {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_revoke: empty jti");
    }
    if ((rc = seq_of(s, jti, &seq, &found)) != MESH_OK) {
        return rc;
    }
    if (!found) {
        step = insert_revocation(s, jti, exp, now);
        if (step == SQLITE_DONE) {
            seq = sqlite3_last_insert_rowid(s->db);
        } else if ((step & 0xff) != SQLITE_CONSTRAINT) {
            return store_db_fail(s, "cannot record a revocation");
        } else if ((rc = seq_of(s, jti, &seq, &found)) != MESH_OK) {
            return rc;
        }
    }
    if (seq_out != NULL) {
        *seq_out = seq;
    }
    return MESH_OK;
}

mesh_err_t store_is_revoked(store_t *s, const char *jti, bool *revoked)
{
    int64_t seq;
    bool found = false;
    mesh_err_t rc;

    if (s == NULL || jti == NULL || revoked == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_is_revoked: NULL argument");
    }
    rc = seq_of(s, jti, &seq, &found);
    if (rc == MESH_OK) {
        *revoked = found;
    }
    return rc;
}

static mesh_err_t last_seq(store_t *s, int64_t *out)
{
    sqlite3_stmt *st = store_query(s, Q_REV_LAST);
    int step = sqlite3_step(st);

    *out = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return (step == SQLITE_ROW || step == SQLITE_DONE)
               ? MESH_OK
               : store_db_fail(s, "cannot read the last seq");
}

mesh_err_t store_revocations_since(store_t *s, int64_t since, size_t max,
                                   bool (*fn)(void *ctx, int64_t seq, const char *jti, int64_t exp),
                                   void *ctx, int64_t *last_seq_out)
{
    sqlite3_stmt *st;
    int64_t last = 0;
    mesh_err_t rc;
    int step;

    if (s == NULL || fn == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_revocations_since: NULL argument");
    }
    /* Read the high-water mark first: a feed page never claims a seq it did not cover. */
    if ((rc = last_seq(s, &last)) != MESH_OK) {
        return rc;
    }
    st = store_query(s, Q_REV_SINCE);
    if (sqlite3_bind_int64(st, 1, since) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind the feed query");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                sqlite3_column_int64(st, 2))) {
            break;
        }
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = store_db_fail(s, "cannot read the revocation feed");
    }
    sqlite3_reset(st);
    if (rc == MESH_OK && last_seq_out != NULL) {
        *last_seq_out = last;
    }
    return rc;
}

/*
 * Deletes the rows of `which` (Q_REV_PRUNE, Q_CERT_PRUNE) older than `now`, STORE_PRUNE_BATCH
 * rows per transaction so the WAL stays near its limit. A batch that does not fit on a full disk
 * is halved (down to one row): pruning is how a disk full of expired revocations gets room back.
 */
static mesh_err_t prune_one(store_t *s, int which, int64_t now, size_t *removed)
{
    int64_t batch = STORE_PRUNE_BATCH;

    for (;;) {
        sqlite3_stmt *st = store_query(s, which);
        int step, n;
        if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK ||
            sqlite3_bind_int64(st, 2, batch) != SQLITE_OK) {
            return store_db_fail(s, "cannot bind the prune query");
        }
        step = store_step_write(s, st);
        sqlite3_reset(st);
        if (step != SQLITE_DONE) {
            if (batch > 1 && store_disk_full(s, step)) {
                batch /= 2;
                continue;
            }
            return store_db_fail(s, which == Q_REV_PRUNE ? "cannot prune revocations"
                                                         : "cannot prune expired records");
        }
        n = sqlite3_changes(s->db);
        *removed += (size_t)n;
        if (n < batch) {
            return MESH_OK;
        }
    }
}

mesh_err_t store_prune(store_t *s, int64_t now, size_t *removed)
{
    size_t n = 0;
    mesh_err_t rc;

    if (s == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_prune: NULL store");
    }
    if ((rc = prune_one(s, Q_REV_PRUNE, now, &n)) == MESH_OK &&
        (rc = prune_one(s, Q_CERT_PRUNE, now, &n)) == MESH_OK &&
        (rc = prune_one(s, Q_JOIN_PRUNE, now, &n)) == MESH_OK) {
        rc = prune_one(s, Q_ISSUED_PRUNE, now, &n);
    }
    if (removed != NULL) {
        *removed = n;
    }
    return rc;
}

mesh_err_t store_revoke_subject(store_t *s, const char *subject, int64_t iat_before, int64_t exp,
                                int64_t now, int64_t *seq_out)
{
    char key[512];

    if (subject == NULL || subject[0] == '\0' ||
        (size_t)snprintf(key, sizeof(key), "sub:%" PRId64 ":%s", iat_before, subject) >=
            sizeof(key)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_revoke_subject: empty or long subject");
    }
    return store_revoke(s, key, exp, now, seq_out);
}

mesh_err_t store_revoke_cert(store_t *s, const char *x5t, int64_t exp, int64_t now,
                             int64_t *seq_out)
{
    char key[128];

    if (x5t == NULL || x5t[0] == '\0' ||
        (size_t)snprintf(key, sizeof(key), "x5t:%s", x5t) >= sizeof(key)) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_revoke_cert: empty or long x5t");
    }
    return store_revoke(s, key, exp, now, seq_out);
}

rev_kind_t store_rev_key_parse(const char *key, int64_t *iat_before, const char **value)
{
    *value = key;
    *iat_before = 0;
    if (strncmp(key, "x5t:", 4) == 0) {
        *value = key + 4;
        return REV_CERT;
    }
    if (strncmp(key, "sub:", 4) == 0) {
        char *end = NULL;
        long long t = strtoll(key + 4, &end, 10);
        if (end != NULL && *end == ':') {
            *iat_before = (int64_t)t;
            *value = end + 1;
            return REV_SUBJECT;
        }
    }
    return REV_JTI;
}

mesh_err_t store_cert_seen(store_t *s, const char *cert_key, const char *x5t, int64_t not_after)
{
    sqlite3_stmt *st;
    int step;

    if (s == NULL || cert_key == NULL || x5t == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_cert_seen: NULL argument");
    }
    st = store_query(s, Q_CERT_UPSERT);
    if (sqlite3_bind_text(st, 1, cert_key, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(st, 2, x5t, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, not_after) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a certificate record");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? MESH_OK : store_db_fail(s, "cannot record a certificate");
}

mesh_err_t store_cert_x5t(store_t *s, const char *cert_key, char *x5t, size_t cap)
{
    sqlite3_stmt *st;
    mesh_err_t rc = MESH_OK;
    int step;

    if (s == NULL || cert_key == NULL || x5t == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_cert_x5t: NULL argument");
    }
    st = store_query(s, Q_CERT_X5T);
    if (sqlite3_bind_text(st, 1, cert_key, -1, SQLITE_STATIC) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a certificate key");
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v == NULL || (size_t)snprintf(x5t, cap, "%s", v) >= cap) {
            rc = mesh_err_set(MESH_ERR_INTERNAL, "a certificate record holds a bad x5t");
        }
    } else if (step == SQLITE_DONE) {
        rc = MESH_ERR_NOT_FOUND;
    } else {
        rc = store_db_fail(s, "cannot look up a certificate");
    }
    sqlite3_reset(st);
    return rc;
}
