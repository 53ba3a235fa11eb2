/* SPDX-License-Identifier: Apache-2.0 */
/* Private to store_sqlite*.c: the handle, its prepared statements and the error helper. */
#ifndef ISSUER_CORE_STORE_SQLITE_H
#define ISSUER_CORE_STORE_SQLITE_H

#include <sqlite3.h>

#include "store.h"

/* Prepared once at open (query_sql in store_sqlite.c), reused for the handle's life. */
enum {
    Q_SVC_INSERT,
    Q_SVC_BY_NAME,
    Q_SVC_BY_ID,
    Q_SVC_UPDATE,
    Q_SVC_TOUCH,
    Q_SVC_LIST,
    Q_REV_INSERT,
    Q_REV_SEQ_OF,
    Q_REV_SINCE,
    Q_REV_LAST,
    Q_REV_PRUNE,
    Q_CERT_UPSERT,
    Q_CERT_X5T,
    Q_CERT_PRUNE,
    Q_COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q_COUNT];
};

/* Records a failed SQLite call: the path, what failed, SQLite's message and a hint. */
mesh_err_t store_db_fail(store_t *s, const char *what);

/* Statement `which`, reset and unbound, ready for binding. */
sqlite3_stmt *store_query(store_t *s, int which);

#endif /* ISSUER_CORE_STORE_SQLITE_H */
