/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h revocations on SQLite. seq is an AUTOINCREMENT key: SQLite keeps the high-water mark
 * in sqlite_sequence, so a seq is never reused, even after prune deletes the newest rows.
 */
#include <stdint.h>

#include <mesh/error.h>
#include "store_sqlite.h"

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
    step = sqlite3_step(st);
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

mesh_err_t store_prune(store_t *s, int64_t now, size_t *removed)
{
    sqlite3_stmt *st;
    int step;

    if (s == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_prune: NULL store");
    }
    st = store_query(s, Q_REV_PRUNE);
    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind the prune time");
    }
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        return store_db_fail(s, "cannot prune revocations");
    }
    if (removed != NULL) {
        *removed = (size_t)sqlite3_changes(s->db);
    }
    return MESH_OK;
}
