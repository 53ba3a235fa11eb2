/* SPDX-License-Identifier: Apache-2.0 */
/* store.h service tokens on SQLite: one row per token, blobs for hashes and salts. */
#include <string.h>

#include <mesh/error.h>
#include "store_sqlite.h"

/* store_svc_touch writes at most once a minute per token: last_used is for humans. */
#define STORE_TOUCH_GRANULARITY_S 60

static int bind_text(sqlite3_stmt *st, int i, const char *field, size_t cap)
{
    return sqlite3_bind_text(st, i, field, (int)strnlen(field, cap - 1), SQLITE_TRANSIENT);
}

static int bind_svc(sqlite3_stmt *st, const svc_token_rec_t *r)
{
    int e = bind_text(st, 1, r->name, sizeof(r->name));

    e = e ? e : bind_text(st, 2, r->client_id, sizeof(r->client_id));
    e = e ? e : bind_text(st, 3, r->audiences, sizeof(r->audiences));
    e = e ? e : bind_text(st, 4, r->scopes, sizeof(r->scopes));
    e = e ? e : sqlite3_bind_blob(st, 5, r->hash, sizeof(r->hash), SQLITE_TRANSIENT);
    e = e ? e : sqlite3_bind_blob(st, 6, r->salt, sizeof(r->salt), SQLITE_TRANSIENT);
    e = e ? e : sqlite3_bind_blob(st, 7, r->prev_hash, sizeof(r->prev_hash), SQLITE_TRANSIENT);
    e = e ? e : sqlite3_bind_blob(st, 8, r->prev_salt, sizeof(r->prev_salt), SQLITE_TRANSIENT);
    e = e ? e : sqlite3_bind_int64(st, 9, r->prev_valid_until);
    e = e ? e : sqlite3_bind_int64(st, 10, r->created);
    e = e ? e : sqlite3_bind_int64(st, 11, r->expires);
    e = e ? e : sqlite3_bind_int64(st, 12, r->last_used);
    return e ? e : sqlite3_bind_int(st, 13, r->revoked ? 1 : 0);
}

static bool col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
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

static bool col_blob(sqlite3_stmt *st, int i, uint8_t *dst, size_t len)
{
    const void *b = sqlite3_column_blob(st, i);

    if (b == NULL || (size_t)sqlite3_column_bytes(st, i) != len) {
        return false;
    }
    memcpy(dst, b, len);
    return true;
}

static mesh_err_t read_svc(store_t *s, sqlite3_stmt *st, svc_token_rec_t *r)
{
    memset(r, 0, sizeof(*r));
    if (!col_text(st, 0, r->name, sizeof(r->name)) ||
        !col_text(st, 1, r->client_id, sizeof(r->client_id)) ||
        !col_text(st, 2, r->audiences, sizeof(r->audiences)) ||
        !col_text(st, 3, r->scopes, sizeof(r->scopes)) ||
        !col_blob(st, 4, r->hash, sizeof(r->hash)) || !col_blob(st, 5, r->salt, sizeof(r->salt)) ||
        !col_blob(st, 6, r->prev_hash, sizeof(r->prev_hash)) ||
        !col_blob(st, 7, r->prev_salt, sizeof(r->prev_salt))) {
        return mesh_err_set(MESH_ERR_INTERNAL,
                            "store %s: malformed service-token row; restore the database "
                            "from a backup or recreate the token",
                            s->path);
    }
    r->prev_valid_until = sqlite3_column_int64(st, 8);
    r->created = sqlite3_column_int64(st, 9);
    r->expires = sqlite3_column_int64(st, 10);
    r->last_used = sqlite3_column_int64(st, 11);
    r->revoked = sqlite3_column_int(st, 12) != 0;
    return MESH_OK;
}

mesh_err_t store_svc_insert(store_t *s, const svc_token_rec_t *rec)
{
    sqlite3_stmt *st;
    svc_token_rec_t existing;
    int step;

    if (s == NULL || rec == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_svc_insert: NULL argument");
    }
    st = store_query(s, Q_SVC_INSERT);
    if (bind_svc(st, rec) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a service token");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    if (step == SQLITE_DONE) {
        return MESH_OK;
    }
    if ((step & 0xff) != SQLITE_CONSTRAINT) {
        return store_db_fail(s, "cannot insert a service token");
    }
    if (store_svc_get_by_name(s, rec->name, &existing) == MESH_OK) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "a service token named \"%s\" already exists; rotate or revoke it, "
                            "or choose another name",
                            rec->name);
    }
    return mesh_err_set(MESH_ERR_CONFIG, "service token \"%s\": client id already in use; retry",
                        rec->name);
}

static mesh_err_t get_one(store_t *s, int which, const char *key, const char *what,
                          svc_token_rec_t *out)
{
    sqlite3_stmt *st;
    svc_token_rec_t rec;
    mesh_err_t rc;
    int step;

    if (s == NULL || key == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store: NULL argument");
    }
    st = store_query(s, which);
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a lookup key");
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = read_svc(s, st, &rec);
        if (rc == MESH_OK) {
            *out = rec; /* written only on success */
        }
    } else if (step == SQLITE_DONE) {
        rc = mesh_err_set(MESH_ERR_NOT_FOUND, "no service token with this %s", what);
    } else {
        rc = store_db_fail(s, "cannot read a service token");
    }
    sqlite3_reset(st);
    return rc;
}

mesh_err_t store_svc_get_by_name(store_t *s, const char *name, svc_token_rec_t *out)
{
    return get_one(s, Q_SVC_BY_NAME, name, "name", out);
}

mesh_err_t store_svc_get_by_id(store_t *s, const char *client_id, svc_token_rec_t *out)
{
    return get_one(s, Q_SVC_BY_ID, client_id, "client id", out);
}

mesh_err_t store_svc_update(store_t *s, const svc_token_rec_t *rec)
{
    sqlite3_stmt *st;
    int step;

    if (s == NULL || rec == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_svc_update: NULL argument");
    }
    st = store_query(s, Q_SVC_UPDATE);
    if (bind_svc(st, rec) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind a service token");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        return store_db_fail(s, "cannot update a service token");
    }
    if (sqlite3_changes(s->db) == 0) {
        return mesh_err_set(MESH_ERR_NOT_FOUND, "no service token named \"%s\"", rec->name);
    }
    return MESH_OK;
}

mesh_err_t store_svc_touch(store_t *s, const char *name, int64_t now)
{
    sqlite3_stmt *st;
    int step;

    if (s == NULL || name == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_svc_touch: NULL argument");
    }
    st = store_query(s, Q_SVC_TOUCH);
    if (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, now - STORE_TOUCH_GRANULARITY_S) != SQLITE_OK) {
        return store_db_fail(s, "cannot bind last_used");
    }
    step = store_step_write(s, st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? MESH_OK : store_db_fail(s, "cannot update last_used");
}

mesh_err_t store_svc_list(store_t *s, bool (*fn)(void *ctx, const svc_token_rec_t *rec), void *ctx)
{
    sqlite3_stmt *st;
    svc_token_rec_t rec;
    mesh_err_t rc = MESH_OK;
    int step;

    if (s == NULL || fn == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_svc_list: NULL argument");
    }
    st = store_query(s, Q_SVC_LIST);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = read_svc(s, st, &rec)) != MESH_OK || !fn(ctx, &rec)) {
            break;
        }
    }
    if (rc == MESH_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = store_db_fail(s, "cannot list service tokens");
    }
    sqlite3_reset(st);
    return rc;
}
