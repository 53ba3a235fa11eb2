/* SPDX-License-Identifier: Apache-2.0 */
/* store.h join tokens and issued certificates on SQLite (online issuance). */
#include <stdio.h>
#include <string.h>

#include <mesh/error.h>
#include "store_sqlite.h"

static int bind_str(sqlite3_stmt *st, int i, const char *v, size_t cap)
{
    return sqlite3_bind_text(st, i, v, (int)strnlen(v, cap - 1), SQLITE_TRANSIENT);
}

static bool col_str(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);

    if (t == NULL || n >= cap) {
        return false;
    }
    memcpy(dst, t, n);
    dst[n] = '\0';
    return true;
}

static bool read_join(sqlite3_stmt *st, join_token_rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->created = sqlite3_column_int64(st, 3);
    r->expires = sqlite3_column_int64(st, 4);
    r->used_at = sqlite3_column_int64(st, 5);
    r->revoked = sqlite3_column_int(st, 6) != 0;
    return col_str(st, 0, r->id, sizeof(r->id)) && col_str(st, 1, r->hash, sizeof(r->hash)) &&
           col_str(st, 2, r->service, sizeof(r->service));
}

static bool read_issued(sqlite3_stmt *st, issued_cert_rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->not_before = sqlite3_column_int64(st, 3);
    r->not_after = sqlite3_column_int64(st, 4);
    r->revoked_at = sqlite3_column_int64(st, 6);
    return col_str(st, 0, r->serial, sizeof(r->serial)) &&
           col_str(st, 1, r->spiffe_id, sizeof(r->spiffe_id)) &&
           col_str(st, 2, r->x5t, sizeof(r->x5t)) &&
           col_str(st, 5, r->auth_method, sizeof(r->auth_method));
}

/* One row of `which` by a text key into out (read_join or read_issued). */
static mesh_err_t get_row(store_t *s, int which, const char *key, const char *what, void *out,
                          bool join)
{
    sqlite3_stmt *st;
    int step;
    mesh_err_t rc = MESH_OK;

    if (s == NULL || key == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store: NULL argument looking up a %s", what);
    }
    st = store_query(s, which);
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a lookup");
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        bool ok = join ? read_join(st, out) : read_issued(st, out);
        if (!ok) {
            rc = mesh_err_set(MESH_ERR_INTERNAL, "store %s: a %s record is malformed", s->path,
                              what);
        }
    } else if (step == SQLITE_DONE) {
        rc = MESH_ERR_NOT_FOUND;
    } else {
        char msg[96];
        (void)snprintf(msg, sizeof(msg), "cannot look up a %s", what);
        rc = store_db_fail(s, msg);
    }
    sqlite3_reset(st);
    return rc;
}

/* A write by text key (+ an optional time); MESH_ERR_NOT_FOUND when no row changed. */
static mesh_err_t update_row(store_t *s, int which, const char *key, int64_t t, bool with_time,
                             const char *what)
{
    sqlite3_stmt *st;
    int step;

    if (s == NULL || key == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store: NULL argument (%s)", what);
    }
    st = store_query(s, which);
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK ||
        (with_time && sqlite3_bind_int64(st, 2, t) != SQLITE_OK)) {
        return store_db_fail(s, "cannot bind an update");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        return store_db_fail(s, what);
    }
    return sqlite3_changes(s->db) == 1 ? MESH_OK : MESH_ERR_NOT_FOUND;
}

mesh_err_t store_join_insert(store_t *s, const join_token_rec_t *r)
{
    sqlite3_stmt *st;
    int step, e;

    if (s == NULL || r == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_join_insert: NULL argument");
    }
    st = store_query(s, Q_JOIN_INSERT);
    e = bind_str(st, 1, r->id, sizeof(r->id));
    e = e ? e : bind_str(st, 2, r->hash, sizeof(r->hash));
    e = e ? e : bind_str(st, 3, r->service, sizeof(r->service));
    e = e ? e : sqlite3_bind_int64(st, 4, r->created);
    e = e ? e : sqlite3_bind_int64(st, 5, r->expires);
    if (e != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a join token");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? MESH_OK : store_db_fail(s, "cannot store a join token");
}

mesh_err_t store_join_get(store_t *s, const char *hash, join_token_rec_t *out)
{
    return get_row(s, Q_JOIN_BY_HASH, hash, "join token", out, true);
}

mesh_err_t store_join_consume(store_t *s, const char *hash, int64_t now)
{
    return update_row(s, Q_JOIN_CONSUME, hash, now, true, "cannot use a join token");
}

mesh_err_t store_join_revoke(store_t *s, const char *id)
{
    return update_row(s, Q_JOIN_REVOKE, id, 0, false, "cannot revoke a join token");
}

mesh_err_t store_join_list(store_t *s, bool (*fn)(void *ctx, const join_token_rec_t *rec),
                           void *ctx)
{
    sqlite3_stmt *st;
    join_token_rec_t r;
    mesh_err_t rc = MESH_OK;
    int step;

    if (s == NULL || fn == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_join_list: NULL argument");
    }
    st = store_query(s, Q_JOIN_LIST);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!read_join(st, &r)) {
            rc = mesh_err_set(MESH_ERR_INTERNAL, "store %s: a join token record is malformed",
                              s->path);
            break;
        }
        if (!fn(ctx, &r)) {
            break;
        }
    }
    if (rc == MESH_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = store_db_fail(s, "cannot list join tokens");
    }
    sqlite3_reset(st);
    return rc;
}

mesh_err_t store_issued_insert(store_t *s, const issued_cert_rec_t *r)
{
    sqlite3_stmt *st;
    int step, e;

    if (s == NULL || r == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_issued_insert: NULL argument");
    }
    st = store_query(s, Q_ISSUED_INSERT);
    e = bind_str(st, 1, r->serial, sizeof(r->serial));
    e = e ? e : bind_str(st, 2, r->spiffe_id, sizeof(r->spiffe_id));
    e = e ? e : bind_str(st, 3, r->x5t, sizeof(r->x5t));
    e = e ? e : sqlite3_bind_int64(st, 4, r->not_before);
    e = e ? e : sqlite3_bind_int64(st, 5, r->not_after);
    e = e ? e : bind_str(st, 6, r->auth_method, sizeof(r->auth_method));
    if (e != SQLITE_OK) {
        return store_db_fail(s, "cannot bind an issued certificate");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? MESH_OK : store_db_fail(s, "cannot record an issued certificate");
}

mesh_err_t store_issued_by_x5t(store_t *s, const char *x5t, issued_cert_rec_t *out)
{
    return get_row(s, Q_ISSUED_BY_X5T, x5t, "issued certificate", out, false);
}

mesh_err_t store_issued_by_serial(store_t *s, const char *serial, issued_cert_rec_t *out)
{
    return get_row(s, Q_ISSUED_BY_SERIAL, serial, "issued certificate", out, false);
}

mesh_err_t store_issued_revoke(store_t *s, const char *serial, int64_t now)
{
    issued_cert_rec_t r;
    mesh_err_t rc = store_issued_by_serial(s, serial, &r);

    if (rc != MESH_OK || r.revoked_at != 0) {
        return rc; /* not found, or revoked already: the first time stays */
    }
    rc = update_row(s, Q_ISSUED_REVOKE, serial, now, true, "cannot revoke a certificate");
    return rc == MESH_ERR_NOT_FOUND ? MESH_OK : rc; /* revoked meanwhile by another process */
}

mesh_err_t store_issued_list(store_t *s, bool revoked_only, int64_t now,
                             bool (*fn)(void *ctx, const issued_cert_rec_t *rec), void *ctx)
{
    sqlite3_stmt *st;
    issued_cert_rec_t r;
    mesh_err_t rc = MESH_OK;
    int step;

    if (s == NULL || fn == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_issued_list: NULL argument");
    }
    st = store_query(s, revoked_only ? Q_ISSUED_REVOKED : Q_ISSUED_LIST);
    if (revoked_only && sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind the CRL query");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!read_issued(st, &r)) {
            rc = mesh_err_set(MESH_ERR_INTERNAL,
                              "store %s: an issued certificate record is malformed", s->path);
            break;
        }
        if (!fn(ctx, &r)) {
            break;
        }
    }
    if (rc == MESH_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = store_db_fail(s, "cannot list issued certificates");
    }
    sqlite3_reset(st);
    return rc;
}
