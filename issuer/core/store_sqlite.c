/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h on SQLite. WAL + synchronous=FULL: every autocommitted statement is fsynced to the
 * WAL before sqlite3_step returns, which is what "durable before returning" means here.
 * Revocation seq is an AUTOINCREMENT key: SQLite keeps the high-water mark in sqlite_sequence,
 * so a seq is never reused even after prune deletes the newest rows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "internal.h"
#include "store.h"

#define STORE_SCHEME "sqlite:"
#define STORE_SCHEMA_VERSION 1
#define STORE_BUSY_TIMEOUT_MS 5000
/* store_svc_touch writes at most once a minute per token: last_used is for humans. */
#define STORE_TOUCH_GRANULARITY_S 60

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
    "CREATE INDEX IF NOT EXISTS revocations_exp ON revocations (exp);";

#define SVC_COLS                                                                          \
    "name, client_id, audiences, scopes, hash, salt, prev_hash, prev_salt, "              \
    "prev_valid_until, created, expires, last_used, revoked"

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
    Q_COUNT
};

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
    [Q_REV_PRUNE] = "DELETE FROM revocations WHERE exp < ?1",
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *q[Q_COUNT];
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

static mesh_err_t db_fail(store_t *s, const char *what)
{
    int code = sqlite3_errcode(s->db) & 0xff; /* primary code of an extended one */
    mesh_err_t rc = (code == SQLITE_CONSTRAINT || code == SQLITE_MISUSE || code == SQLITE_RANGE)
                        ? MESH_ERR_INTERNAL
                        : MESH_ERR_IO;

    return mesh_err_set(rc, "store %s: %s: %s; %s", s->path, what, sqlite3_errmsg(s->db),
                        db_hint(code));
}

/* Returns the statement reset and unbound, ready for binding. */
static sqlite3_stmt *query(store_t *s, int which)
{
    sqlite3_stmt *st = s->q[which];

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
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
    char *msg = NULL;
    mesh_err_t rc = MESH_OK;

    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        rc = mesh_err_set(MESH_ERR_IO, "store %s: %s: %s", s->path, what,
                          msg ? msg : sqlite3_errmsg(s->db));
    }
    sqlite3_free(msg);
    return rc;
}

static mesh_err_t set_pragmas(store_t *s)
{
    sqlite3_stmt *st = NULL;
    mesh_err_t rc = MESH_ERR_IO;
    const unsigned char *mode;

    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = db_fail(s, "cannot switch to WAL mode");
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
        rc = db_fail(s, "cannot read the schema version");
        goto out;
    }
    step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        rc = db_fail(s, "cannot read the schema version");
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
        rc = exec_sql(s, "INSERT INTO schema_version (version) VALUES (1)",
                      "cannot record the schema version");
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
            return db_fail(s, "cannot prepare a statement");
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
        return mesh_err_set(MESH_ERR_CONFIG,
                            "store URL \"%s\": no path; use sqlite:PATH", url);
    }
    *path = strdup(url + n);
    return *path ? MESH_OK : mesh_err_set(MESH_ERR_NOMEM, "store: out of memory");
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
        rc = s->db ? db_fail(s, "cannot open the database; check the file and its directory")
                   : mesh_err_set(MESH_ERR_NOMEM, "store: out of memory");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if ((rc = set_pragmas(s)) != MESH_OK || (rc = migrate(s)) != MESH_OK ||
        (rc = prepare_all(s)) != MESH_OK) {
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

/* ---- service tokens ---- */

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
        !col_blob(st, 4, r->hash, sizeof(r->hash)) ||
        !col_blob(st, 5, r->salt, sizeof(r->salt)) ||
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
    st = query(s, Q_SVC_INSERT);
    if (bind_svc(st, rec) != SQLITE_OK) {
        return db_fail(s, "cannot bind a service token");
    }
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_DONE) {
        return MESH_OK;
    }
    if ((step & 0xff) != SQLITE_CONSTRAINT) {
        return db_fail(s, "cannot insert a service token");
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
    mesh_err_t rc;
    int step;

    if (s == NULL || key == NULL || out == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store: NULL argument");
    }
    st = query(s, which);
    if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
        return db_fail(s, "cannot bind a lookup key");
    }
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        rc = read_svc(s, st, out);
    } else if (step == SQLITE_DONE) {
        rc = mesh_err_set(MESH_ERR_NOT_FOUND, "no service token with this %s", what);
    } else {
        rc = db_fail(s, "cannot read a service token");
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
    st = query(s, Q_SVC_UPDATE);
    if (bind_svc(st, rec) != SQLITE_OK) {
        return db_fail(s, "cannot bind a service token");
    }
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        return db_fail(s, "cannot update a service token");
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
    st = query(s, Q_SVC_TOUCH);
    if (sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, now) != SQLITE_OK ||
        sqlite3_bind_int64(st, 3, now - STORE_TOUCH_GRANULARITY_S) != SQLITE_OK) {
        return db_fail(s, "cannot bind last_used");
    }
    step = sqlite3_step(st);
    sqlite3_reset(st);
    return step == SQLITE_DONE ? MESH_OK : db_fail(s, "cannot update last_used");
}

mesh_err_t store_svc_list(store_t *s, bool (*fn)(void *ctx, const svc_token_rec_t *rec),
                          void *ctx)
{
    sqlite3_stmt *st;
    svc_token_rec_t rec;
    mesh_err_t rc = MESH_OK;
    int step;

    if (s == NULL || fn == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "store_svc_list: NULL argument");
    }
    st = query(s, Q_SVC_LIST);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = read_svc(s, st, &rec)) != MESH_OK || !fn(ctx, &rec)) {
            break;
        }
    }
    if (rc == MESH_OK && step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = db_fail(s, "cannot list service tokens");
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- revocations ---- */

static mesh_err_t seq_of(store_t *s, const char *jti, int64_t *seq, bool *found)
{
    sqlite3_stmt *st = query(s, Q_REV_SEQ_OF);
    int step;

    if (sqlite3_bind_text(st, 1, jti, -1, SQLITE_STATIC) != SQLITE_OK) {
        return db_fail(s, "cannot bind a jti");
    }
    step = sqlite3_step(st);
    *found = step == SQLITE_ROW;
    if (*found) {
        *seq = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return (step == SQLITE_ROW || step == SQLITE_DONE) ? MESH_OK
                                                       : db_fail(s, "cannot look up a jti");
}

static int insert_revocation(store_t *s, const char *jti, int64_t exp, int64_t now)
{
    sqlite3_stmt *st = query(s, Q_REV_INSERT);
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
            return db_fail(s, "cannot record a revocation");
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
    sqlite3_stmt *st = query(s, Q_REV_LAST);
    int step = sqlite3_step(st);

    *out = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return (step == SQLITE_ROW || step == SQLITE_DONE) ? MESH_OK
                                                       : db_fail(s, "cannot read the last seq");
}

mesh_err_t store_revocations_since(store_t *s, int64_t since, size_t max,
                                   bool (*fn)(void *ctx, int64_t seq, const char *jti,
                                              int64_t exp),
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
    st = query(s, Q_REV_SINCE);
    if (sqlite3_bind_int64(st, 1, since) != SQLITE_OK ||
        sqlite3_bind_int64(st, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max) != SQLITE_OK) {
        return db_fail(s, "cannot bind the feed query");
    }
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (!fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
                sqlite3_column_int64(st, 2))) {
            break;
        }
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = db_fail(s, "cannot read the revocation feed");
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
    st = query(s, Q_REV_PRUNE);
    if (sqlite3_bind_int64(st, 1, now) != SQLITE_OK) {
        return db_fail(s, "cannot bind the prune time");
    }
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        return db_fail(s, "cannot prune revocations");
    }
    if (removed != NULL) {
        *removed = (size_t)sqlite3_changes(s->db);
    }
    return MESH_OK;
}
