/* SPDX-License-Identifier: Apache-2.0 */
/* Private to store_sqlite*.c: the handle, its prepared statements and the error helper. */
#ifndef ISSUER_CORE_STORE_SQLITE_H
#define ISSUER_CORE_STORE_SQLITE_H

#include <stdbool.h>

#include <sqlite3.h>

#include "store.h"

/* The WAL file is cut back to this size whenever it restarts (PRAGMA journal_size_limit). */
#define STORE_WAL_LIMIT_BYTES (512 * 1024)

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
    Q_JOIN_INSERT,
    Q_JOIN_BY_HASH,
    Q_JOIN_CONSUME,
    Q_JOIN_LIST,
    Q_JOIN_REVOKE,
    Q_JOIN_PRUNE,
    Q_ISSUED_INSERT,
    Q_ISSUED_BY_X5T,
    Q_ISSUED_BY_SERIAL,
    Q_ISSUED_REVOKE,
    Q_ISSUED_LIST,
    Q_ISSUED_REVOKED,
    Q_ISSUED_PRUNE,
    Q_COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q_COUNT];
    /* Checkpoint before the next write: the last one found the disk full, or open could not
     * fold in a WAL left behind. */
    bool checkpoint_first;
};

/* Records a failed SQLite call: the path, what failed, SQLite's message and a hint. */
mesh_err_t store_db_fail(store_t *s, const char *what);

/* Statement `which`, reset and unbound, ready for binding. */
sqlite3_stmt *store_query(store_t *s, int which);

/* Whether SQLite result `code` means a full disk: SQLITE_FULL, or an SQLITE_IOERR_* (the -shm
 * file, a truncate) with errno ENOSPC or EDQUOT. */
bool store_disk_full(store_t *s, int code);

/*
 * sqlite3_step for every statement that writes. When the disk is full the WAL is checkpointed
 * and truncated (its room freed) and the statement stepped once more. Autocommitted statements
 * only: the failed attempt was rolled back whole, so the write lands whole or not at all.
 */
int store_step_write(store_t *s, sqlite3_stmt *st);

#endif /* ISSUER_CORE_STORE_SQLITE_H */
