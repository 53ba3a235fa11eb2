/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h on SQLite. WAL + synchronous=FULL: every autocommitted statement is fsynced to the
 * WAL before sqlite3_step returns, which is what "durable before returning" means here.
 * This file opens the database and owns the schema and the SQL; store_sqlite_svc.c and
 * store_sqlite_rev.c run the statements, every write through store_step_write.
 *
 * A full disk: the WAL is kept small (a checkpoint every STORE_WAL_AUTOCHECKPOINT_PAGES, the
 * file cut back to STORE_WAL_LIMIT_BYTES when it restarts), a write that finds the disk full
 * checkpoints and truncates the WAL and is retried once, and open folds in a WAL left
 * behind. So the store works again as soon as its data fits, not once a whole WAL's worth of
 * room (4 MiB at SQLite's default) is free. See docs/notes-store-full.md for the sizes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include <mesh/error.h>
#include "store_sqlite.h"

#define STORE_SCHEME          "sqlite:"
#define STORE_SCHEMA_VERSION  3
#define STORE_BUSY_TIMEOUT_MS 5000
/* About 260 KiB of WAL frames (4 KiB pages) between checkpoints; SQLite's default is 1000. */
#define STORE_WAL_AUTOCHECKPOINT_PAGES 64

/* Version 3 is schema_sql below; a change to it bumps the version and adds a migration.
 * 1 -> 2 added the certs table, 2 -> 3 the join_tokens and issued_certs tables (online
 * certificate issuance), which schema_sql creates where they are missing. */
_Static_assert(STORE_SCHEMA_VERSION == 3, "schema_sql describes version 3");

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS svc_tokens ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " client_id TEXT NOT NULL UNIQUE,"
    " audiences TEXT NOT NULL,"
    " scopes TEXT NOT NULL,"
    " hash BLOB NOT NULL, salt BLOB NOT NULL,"
    " prev_hash BLOB NOT NULL, prev_salt BLOB NOT NULL,"
    " prev_valid_until INTEGER NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " last_used INTEGER NOT NULL, revoked INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS revocations ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " jti TEXT NOT NULL UNIQUE,"
    " exp INTEGER NOT NULL,"
    " revoked_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS revocations_exp ON revocations (exp);"
    "CREATE TABLE IF NOT EXISTS certs ("
    " cert_key TEXT PRIMARY KEY NOT NULL,"
    " x5t TEXT NOT NULL,"
    " not_after INTEGER NOT NULL);"
    /* join tokens: only the SHA-256 of the token (base64url) is kept; `id` is a public
     * handle for list and revoke, cut from the hash; used_at 0 = not used yet */
    "CREATE TABLE IF NOT EXISTS join_tokens ("
    " id TEXT PRIMARY KEY NOT NULL,"
    " hash TEXT NOT NULL UNIQUE,"
    " service TEXT NOT NULL,"
    " created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " used_at INTEGER NOT NULL, revoked INTEGER NOT NULL);"
    /* certificates this issuer signed (POST /v1/certificate); revoked_at 0 = not revoked */
    "CREATE TABLE IF NOT EXISTS issued_certs ("
    " serial TEXT PRIMARY KEY NOT NULL,"
    " spiffe_id TEXT NOT NULL,"
    " x5t TEXT NOT NULL UNIQUE,"
    " not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
    " auth_method TEXT NOT NULL,"
    " revoked_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS issued_certs_not_after ON issued_certs (not_after);";

#define JOIN_COLS   "id, hash, service, created, expires, used_at, revoked"
#define ISSUED_COLS "serial, spiffe_id, x5t, not_before, not_after, auth_method, revoked_at"

#define SVC_COLS                                                                                   \
    "name, client_id, audiences, scopes, hash, salt, prev_hash, prev_salt, "                       \
    "prev_valid_until, created, expires, last_used, revoked"

static const char *const query_sql[Q_COUNT] = {
    [Q_SVC_INSERT] = "INSERT INTO svc_tokens (" SVC_COLS ") "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [Q_SVC_BY_NAME] = "SELECT " SVC_COLS " FROM svc_tokens WHERE name = ?1",
    [Q_SVC_BY_ID] = "SELECT " SVC_COLS " FROM svc_tokens WHERE client_id = ?1",
    [Q_SVC_UPDATE] = "UPDATE svc_tokens SET client_id = ?2, audiences = ?3, scopes = ?4, "
                     "hash = ?5, salt = ?6, prev_hash = ?7, prev_salt = ?8, "
                     "prev_valid_until = ?9, created = ?10, expires = ?11, last_used = ?12, "
                     "revoked = ?13 WHERE name = ?1",
    [Q_SVC_TOUCH] = "UPDATE svc_tokens SET last_used = ?2 WHERE name = ?1 AND last_used <= ?3",
    [Q_SVC_LIST] = "SELECT " SVC_COLS " FROM svc_tokens ORDER BY name",
    [Q_REV_INSERT] = "INSERT INTO revocations (jti, exp, revoked_at) VALUES (?1, ?2, ?3)",
    [Q_REV_SEQ_OF] = "SELECT seq FROM revocations WHERE jti = ?1",
    [Q_REV_SINCE] = "SELECT seq, jti, exp FROM revocations WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [Q_REV_LAST] = "SELECT seq FROM sqlite_sequence WHERE name = 'revocations'",
    /* Pruning goes in batches of ?2 rows (store_sqlite_rev.c): one DELETE of a large backlog
     * would need a WAL as large as the table, more room than a nearly full disk has. */
    [Q_REV_PRUNE] = "DELETE FROM revocations WHERE seq IN "
                    "(SELECT seq FROM revocations WHERE exp < ?1 LIMIT ?2)",
    [Q_CERT_UPSERT] = ("INSERT INTO certs (cert_key, x5t, not_after) VALUES (?1, ?2, ?3) "
                       "ON CONFLICT (cert_key) DO UPDATE SET x5t = ?2, not_after = ?3"),
    [Q_CERT_X5T] = "SELECT x5t FROM certs WHERE cert_key = ?1",
    [Q_CERT_PRUNE] = "DELETE FROM certs WHERE rowid IN "
                     "(SELECT rowid FROM certs WHERE not_after < ?1 LIMIT ?2)",
    [Q_JOIN_INSERT] = "INSERT INTO join_tokens (" JOIN_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)",
    [Q_JOIN_BY_HASH] = "SELECT " JOIN_COLS " FROM join_tokens WHERE hash = ?1",
    /* One statement decides who wins: two concurrent uses, one row changed. */
    [Q_JOIN_CONSUME] = "UPDATE join_tokens SET used_at = ?2 WHERE hash = ?1 AND used_at = 0 "
                       "AND revoked = 0 AND expires > ?2",
    [Q_JOIN_LIST] = "SELECT " JOIN_COLS " FROM join_tokens ORDER BY created, id",
    [Q_JOIN_REVOKE] = "UPDATE join_tokens SET revoked = 1 WHERE id = ?1",
    [Q_JOIN_PRUNE] = "DELETE FROM join_tokens WHERE rowid IN "
                     "(SELECT rowid FROM join_tokens WHERE expires < ?1 LIMIT ?2)",
    [Q_ISSUED_INSERT] = "INSERT INTO issued_certs (" ISSUED_COLS ") "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
    [Q_ISSUED_BY_X5T] = "SELECT " ISSUED_COLS " FROM issued_certs WHERE x5t = ?1",
    [Q_ISSUED_BY_SERIAL] = "SELECT " ISSUED_COLS " FROM issued_certs WHERE serial = ?1",
    [Q_ISSUED_REVOKE] = "UPDATE issued_certs SET revoked_at = ?2 WHERE serial = ?1 AND "
                        "revoked_at = 0",
    [Q_ISSUED_LIST] = "SELECT " ISSUED_COLS " FROM issued_certs ORDER BY not_after, serial",
    [Q_ISSUED_REVOKED] = "SELECT " ISSUED_COLS " FROM issued_certs WHERE revoked_at > 0 "
                         "AND not_after >= ?1 ORDER BY serial",
    [Q_ISSUED_PRUNE] = "DELETE FROM issued_certs WHERE rowid IN "
                       "(SELECT rowid FROM issued_certs WHERE not_after < ?1 LIMIT ?2)",
};

/* What an operator can do about a failed SQLite call. */
static const char *db_hint(int code)
{
    switch (code) {
    case SQLITE_FULL:
        return "free disk space on that file system";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return "make the file, its -wal/-shm files and the directory writable by this user";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "another process holds a lock on the database; stop it or raise its speed";
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return "not a mesh-issuer database, or damaged; restore a backup or use another path";
    case SQLITE_IOERR:
        return "the disk or file system reported an error; check the kernel log";
    default:
        return "report this as a mesh-issuer bug";
    }
}

bool store_disk_full(store_t *s, int code)
{
    int sys = sqlite3_system_errno(s->db);

    return (code & 0xff) == SQLITE_FULL ||
           ((code & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT));
}

mesh_err_t store_db_fail(store_t *s, const char *what)
{
    int code = store_disk_full(s, sqlite3_errcode(s->db))
                   ? SQLITE_FULL
                   : sqlite3_errcode(s->db) & 0xff; /* primary code of an extended one */
    mesh_err_t rc = (code == SQLITE_CONSTRAINT || code == SQLITE_MISUSE || code == SQLITE_RANGE)
                        ? MESH_ERR_INTERNAL
                        : MESH_ERR_IO;

    return mesh_err_set(rc, "store %s: %s: %s; %s", s->path, what, sqlite3_errmsg(s->db),
                        db_hint(code));
}

sqlite3_stmt *store_query(store_t *s, int which)
{
    sqlite3_stmt *st = s->q[which];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/*
 * Copies the WAL into the database and cuts the WAL file to zero bytes, so the room it took is
 * free again. Needs room for the pages the database file grows by. SQLITE_BUSY when another
 * connection's reader or writer kept it from finishing within the busy timeout.
 */
static int checkpoint_truncate(store_t *s)
{
    return sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/*
 * The failed attempt itself takes the room left (SQLite leaves its frames in the WAL file), so
 * a checkpoint right after it may find no room to grow the database file. Hence the flag: the
 * next write checkpoints first, before its own attempt can take the room an operator freed; or,
 * the database caught up, the checkpoint needs no room and gives back the failed frames.
 */
int store_step_write(store_t *s, sqlite3_stmt *st)
{
    int step;

    if (!sqlite3_get_autocommit(s->db)) {
        return sqlite3_step(st); /* a retry would replay only this statement */
    }
    if (s->checkpoint_first) {
        s->checkpoint_first = checkpoint_truncate(s) != SQLITE_OK;
    }
    step = sqlite3_step(st);
    if (!store_disk_full(s, step)) {
        return step;
    }
    /* Outside a transaction the failed statement was rolled back whole: retrying is safe. */
    sqlite3_reset(st); /* keeps the bindings */
    (void)checkpoint_truncate(s);
    step = sqlite3_step(st);
    s->checkpoint_first = store_disk_full(s, step);
    return step;
}

/* The file exists with mode 0600 before SQLite opens it (SQLite gives -wal/-shm the same mode). */
static mesh_err_t create_file(const char *path)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

    if (fd >= 0) {
        int ok = fchmod(fd, 0600) == 0;
        close(fd);
        return ok ? MESH_OK
                  : mesh_err_set(MESH_ERR_IO, "store %s: cannot set mode 0600: %s", path,
                                 strerror(errno));
    }
    if (errno != EEXIST) {
        return mesh_err_set(MESH_ERR_IO,
                            "store %s: cannot create the database file: %s; check that the "
                            "directory exists and this user may write to it, or point the "
                            "store setting elsewhere",
                            path, strerror(errno));
    }
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return mesh_err_set(MESH_ERR_IO,
                            "store %s: exists but is not a regular file (symlinks are not "
                            "followed); point the store setting at a database file",
                            path);
    }
    return MESH_OK;
}

static mesh_err_t exec_sql(store_t *s, const char *sql, const char *what)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? MESH_OK
                                                                   : store_db_fail(s, what);
}

static mesh_err_t set_pragmas(store_t *s)
{
    sqlite3_stmt *st = NULL;
    mesh_err_t rc = MESH_ERR_IO;
    const unsigned char *mode;

    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = store_db_fail(s, "cannot switch to WAL mode");
        goto out;
    }
    mode = sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
        rc = mesh_err_set(MESH_ERR_IO,
                          "store %s: journal mode is %s, not wal; the file system must "
                          "support shared memory (not NFS)",
                          s->path, mode ? (const char *)mode : "unknown");
        goto out;
    }
    rc = exec_sql(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "cannot set pragmas");
    if (rc == MESH_OK) {
        char sql[128];
        snprintf(sql, sizeof(sql), "PRAGMA journal_size_limit=%d; PRAGMA wal_autocheckpoint=%d;",
                 STORE_WAL_LIMIT_BYTES, STORE_WAL_AUTOCHECKPOINT_PAGES);
        rc = exec_sql(s, sql, "cannot set the WAL limits");
    }
out:
    sqlite3_finalize(st);
    return rc;
}

static mesh_err_t read_version(store_t *s, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    mesh_err_t rc = MESH_OK;
    int step;

    if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) !=
        SQLITE_OK) {
        rc = store_db_fail(s, "cannot read the schema version");
        goto out;
    }
    step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        rc = store_db_fail(s, "cannot read the schema version");
        goto out;
    }
    *version = sqlite3_column_int64(st, 0); /* NULL (empty table) reads as 0 */
out:
    sqlite3_finalize(st);
    return rc;
}

/* Creates the schema in one transaction, or checks the version of an existing one. */
static mesh_err_t migrate(store_t *s)
{
    int64_t version = 0;
    mesh_err_t rc = exec_sql(s, "BEGIN IMMEDIATE", "cannot start the schema transaction");

    if (rc != MESH_OK) {
        return rc;
    }
    rc = exec_sql(s, schema_sql, "cannot create the schema");
    if (rc == MESH_OK) {
        rc = read_version(s, &version);
    }
    if (rc == MESH_OK && version == 0) {
        rc = exec_sql(s, "INSERT INTO schema_version (version) VALUES (3)",
                      "cannot record the schema version");
        version = STORE_SCHEMA_VERSION;
    }
    if (rc == MESH_OK && (version == 1 || version == 2)) {
        /* schema_sql has just added the tables the older version lacked */
        rc = exec_sql(s, "UPDATE schema_version SET version = 3", "cannot migrate to version 3");
        version = STORE_SCHEMA_VERSION;
    }
    if (rc == MESH_OK && version != STORE_SCHEMA_VERSION) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "store %s: schema version %lld, this mesh-issuer knows version %d; "
                          "run the mesh-issuer that wrote it, or upgrade",
                          s->path, (long long)version, STORE_SCHEMA_VERSION);
    }
    if (rc == MESH_OK) {
        return exec_sql(s, "COMMIT", "cannot commit the schema");
    }
    (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static mesh_err_t prepare_all(store_t *s)
{
    for (int i = 0; i < Q_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, query_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
                               NULL) != SQLITE_OK) {
            return store_db_fail(s, "cannot prepare a statement");
        }
    }
    return MESH_OK;
}

static mesh_err_t parse_url(const char *url, char **path)
{
    size_t n = strlen(STORE_SCHEME);

    if (url == NULL || strncmp(url, STORE_SCHEME, n) != 0) {
        return mesh_err_set(MESH_ERR_CONFIG,
                            "store URL \"%s\": unsupported scheme; use sqlite:PATH, e.g. "
                            "sqlite:/var/lib/mesh-issuer/issuer.db",
                            url ? url : "(null)");
    }
    if (url[n] == '\0') {
        return mesh_err_set(MESH_ERR_CONFIG, "store URL \"%s\": no path; use sqlite:PATH", url);
    }
    *path = strdup(url + n);
    return *path ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "store: out of memory");
}

/*
 * A WAL left behind (by a process that stopped on a full disk, or killed, or an older mesh-issuer
 * with a larger autocheckpoint) is folded into the database now, before a write could take the
 * room that was freed: a write that finds the disk full leaves its frames in the WAL file, and
 * then even a checkpoint that grows the database by one page no longer fits. When it cannot
 * finish (no room yet, another connection busy), the first write checkpoints first.
 */
static void checkpoint_left_wal(store_t *s)
{
    char wal[4096];
    struct stat st;
    int n = snprintf(wal, sizeof(wal), "%s-wal", s->path);

    if (n > 0 && (size_t)n < sizeof(wal) && stat(wal, &st) == 0 && st.st_size > 0) {
        s->checkpoint_first = checkpoint_truncate(s) != SQLITE_OK;
    }
}

mesh_err_t store_open(const char *url, store_t **out)
{
    store_t *s = NULL;
    mesh_err_t rc;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;

    mesh_err_clear();
    if (out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_open: out is NULL");
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "store: out of memory");
    }
    if ((rc = parse_url(url, &s->path)) != MESH_OK || (rc = create_file(s->path)) != MESH_OK) {
        goto out;
    }
    if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
        rc = s->db ? store_db_fail(s, "cannot open the database; check the file and its directory")
                   : mesh_err_set(MESH_ERR_NOMEM, "store: out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if ((rc = set_pragmas(s)) != MESH_OK) {
        goto out;
    }
    checkpoint_left_wal(s);
    if ((rc = migrate(s)) != MESH_OK || (rc = prepare_all(s)) != MESH_OK) {
        goto out;
    }
    *out = s;
    s = NULL;
out:
    store_close(s);
    return rc;
}

void store_close(store_t *s)
{
    if (s == NULL) {
        return;
    }
    for (int i = 0; i < Q_COUNT; i++) {
        sqlite3_finalize(s->q[i]);
    }
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}
