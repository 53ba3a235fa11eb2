/* SPDX-License-Identifier: Apache-2.0 */
/* store.h against real SQLite files in a scratch directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "testdir.h"

struct fixture {
    const char *dir;
    char url[4200];
    store_t *s;
};

static int setup(void **state)
{
    static struct fixture fx;

    fx.dir = testdir_new();
    testdir_url(fx.url, sizeof(fx.url), fx.dir, "issuer.db");
    fx.s = NULL;
    assert_int_equal(store_open(fx.url, &fx.s), MESH_OK);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    store_close(fx->s);
    testdir_remove(fx->dir);
    return 0;
}

static void reopen(struct fixture *fx)
{
    store_close(fx->s);
    fx->s = NULL;
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
}

static svc_token_rec_t make_rec(const char *name, const char *id)
{
    svc_token_rec_t r;

    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s", name);
    snprintf(r.client_id, sizeof(r.client_id), "%s", id);
    snprintf(r.audiences, sizeof(r.audiences), "orders,billing");
    snprintf(r.scopes, sizeof(r.scopes), "read write");
    memset(r.hash, 0xab, sizeof(r.hash));
    memset(r.salt, 0x11, sizeof(r.salt));
    r.created = 1000;
    r.expires = 5000;
    return r;
}

/* ---- open ---- */

static void test_open_rejects_other_schemes(void **state)
{
    store_t *s = NULL;

    (void)state;
    assert_int_equal(store_open("postgres://db/issuer", &s), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "use sqlite:PATH"));
    assert_null(s);
    assert_int_equal(store_open("/var/lib/issuer.db", &s), MESH_ERR_CONFIG);
    assert_int_equal(store_open("sqlite:", &s), MESH_ERR_CONFIG);
    assert_int_equal(store_open(NULL, &s), MESH_ERR_CONFIG);
    assert_int_equal(store_open("sqlite:/x", NULL), MESH_ERR_INVALID_ARG);
}

/* The parent is a regular file: fails even as root. The detail names the path. */
static void test_open_unwritable_path(void **state)
{
    struct fixture *fx = *state;
    char file[4200], url[4300];
    store_t *s = NULL;
    FILE *f;

    testdir_path(file, sizeof(file), fx->dir, "plainfile");
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(url, sizeof(url), "sqlite:%s/issuer.db", file);
    assert_int_equal(store_open(url, &s), MESH_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(mesh_err_detail(), file));
    assert_non_null(strstr(mesh_err_detail(), "writ"));
}

static void test_open_refuses_symlink(void **state)
{
    struct fixture *fx = *state;
    char target[4200], link[4200], url[4300];
    store_t *s = NULL;

    testdir_path(target, sizeof(target), fx->dir, "issuer.db");
    testdir_path(link, sizeof(link), fx->dir, "link.db");
    assert_int_equal(symlink(target, link), 0);
    snprintf(url, sizeof(url), "sqlite:%s", link);
    assert_int_equal(store_open(url, &s), MESH_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(mesh_err_detail(), "regular file"));
}

static void test_open_not_a_database(void **state)
{
    struct fixture *fx = *state;
    char path[4200], url[4300];
    store_t *s = NULL;
    FILE *f;

    testdir_path(path, sizeof(path), fx->dir, "notes.txt");
    f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 200; i++) {
        fputs("this is a text file, not an SQLite database\n", f);
    }
    fclose(f);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    assert_int_equal(store_open(url, &s), MESH_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(mesh_err_detail(), path));
    assert_non_null(strstr(mesh_err_detail(), "not a mesh-issuer database"));
}

static void test_file_created_0600(void **state)
{
    struct fixture *fx = *state;
    char path[4200];
    struct stat st;
    mode_t old = umask(0);

    store_close(fx->s);
    testdir_path(path, sizeof(path), fx->dir, "fresh.db");
    testdir_url(fx->url, sizeof(fx->url), fx->dir, "fresh.db");
    fx->s = NULL;
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    testdir_path(path, sizeof(path), fx->dir, "fresh.db-wal");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *fx = *state;
    char path[4200];
    sqlite3 *db = NULL;
    store_t *s = NULL;

    store_close(fx->s);
    fx->s = NULL;
    testdir_path(path, sizeof(path), fx->dir, "issuer.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(fx->url, &s), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "schema version 99"));
    assert_null(s);
}

/* A version-1 store (before the certs table) opens, and is version 3 afterwards. */
static void test_schema_v1_migrates(void **state)
{
    struct fixture *fx = *state;
    char path[4200];
    sqlite3 *db = NULL;
    store_t *s = NULL;

    store_close(fx->s);
    fx->s = NULL;
    testdir_path(path, sizeof(path), fx->dir, "issuer.db");
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DROP TABLE certs; UPDATE schema_version SET version = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(fx->url, &s), MESH_OK);
    assert_int_equal(store_cert_seen(s, "k:01", "x5t-a", 1000), MESH_OK);
    store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT version FROM schema_version", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- service tokens ---- */

static void test_svc_insert_get(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t in = make_rec("ci-deploy", "msi_aaaa"), out;

    in.prev_valid_until = 4242;
    memset(in.prev_hash, 0xcd, sizeof(in.prev_hash));
    memset(in.prev_salt, 0x22, sizeof(in.prev_salt));
    assert_int_equal(store_svc_insert(fx->s, &in), MESH_OK);
    assert_int_equal(store_svc_get_by_name(fx->s, "ci-deploy", &out), MESH_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    memset(&out, 0, sizeof(out));
    assert_int_equal(store_svc_get_by_id(fx->s, "msi_aaaa", &out), MESH_OK);
    assert_memory_equal(&in, &out, sizeof(in));
    assert_int_equal(store_svc_get_by_name(fx->s, "nope", &out), MESH_ERR_NOT_FOUND);
    assert_int_equal(store_svc_get_by_id(fx->s, "msi_nope", &out), MESH_ERR_NOT_FOUND);
}

static void test_svc_duplicate_name(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t a = make_rec("ci", "msi_1"), b = make_rec("ci", "msi_2");
    svc_token_rec_t c = make_rec("other", "msi_1");

    assert_int_equal(store_svc_insert(fx->s, &a), MESH_OK);
    assert_int_equal(store_svc_insert(fx->s, &b), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "\"ci\" already exists"));
    assert_int_equal(store_svc_insert(fx->s, &c), MESH_ERR_CONFIG);
    assert_non_null(strstr(mesh_err_detail(), "client id already in use"));
}

static void test_svc_update(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t r = make_rec("ci", "msi_1"), out, ghost = make_rec("ghost", "msi_9");

    assert_int_equal(store_svc_insert(fx->s, &r), MESH_OK);
    r.revoked = true;
    r.expires = 9999;
    memset(r.hash, 0x77, sizeof(r.hash));
    assert_int_equal(store_svc_update(fx->s, &r), MESH_OK);
    reopen(fx);
    assert_int_equal(store_svc_get_by_name(fx->s, "ci", &out), MESH_OK);
    assert_memory_equal(&r, &out, sizeof(r));
    assert_int_equal(store_svc_update(fx->s, &ghost), MESH_ERR_NOT_FOUND);
}

static void test_svc_touch_is_lazy(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t r = make_rec("ci", "msi_1"), out;

    assert_int_equal(store_svc_insert(fx->s, &r), MESH_OK);
    assert_int_equal(store_svc_touch(fx->s, "ci", 2000), MESH_OK);
    assert_int_equal(store_svc_get_by_name(fx->s, "ci", &out), MESH_OK);
    assert_int_equal(out.last_used, 2000);
    assert_int_equal(store_svc_touch(fx->s, "ci", 2030), MESH_OK); /* within a minute */
    assert_int_equal(store_svc_get_by_name(fx->s, "ci", &out), MESH_OK);
    assert_int_equal(out.last_used, 2000);
    assert_int_equal(store_svc_touch(fx->s, "ci", 2100), MESH_OK);
    assert_int_equal(store_svc_get_by_name(fx->s, "ci", &out), MESH_OK);
    assert_int_equal(out.last_used, 2100);
    assert_int_equal(store_svc_touch(fx->s, "unknown", 2100), MESH_OK);
}

struct names {
    char seen[8][64];
    size_t n, stop_after;
};

static bool collect(void *ctx, const svc_token_rec_t *rec)
{
    struct names *nm = ctx;

    snprintf(nm->seen[nm->n], sizeof(nm->seen[0]), "%s", rec->name);
    nm->n++;
    return nm->n < nm->stop_after;
}

static void test_svc_list(void **state)
{
    struct fixture *fx = *state;
    const char *names[] = {"zeta", "alpha", "mid"};
    struct names nm = {.stop_after = 99};

    for (size_t i = 0; i < 3; i++) {
        char id[16];
        svc_token_rec_t r;
        snprintf(id, sizeof(id), "msi_%zu", i);
        r = make_rec(names[i], id);
        assert_int_equal(store_svc_insert(fx->s, &r), MESH_OK);
    }
    assert_int_equal(store_svc_list(fx->s, collect, &nm), MESH_OK);
    assert_int_equal(nm.n, 3);
    assert_string_equal(nm.seen[0], "alpha");
    assert_string_equal(nm.seen[1], "mid");
    assert_string_equal(nm.seen[2], "zeta");
    memset(&nm, 0, sizeof(nm));
    nm.stop_after = 2;
    assert_int_equal(store_svc_list(fx->s, collect, &nm), MESH_OK);
    assert_int_equal(nm.n, 2);
}

/* ---- revocations ---- */

struct feed {
    int64_t seq[16];
    char jti[16][32];
    int64_t exp[16];
    size_t n;
};

static bool feed_add(void *ctx, int64_t seq, const char *jti, int64_t exp)
{
    struct feed *f = ctx;

    f->seq[f->n] = seq;
    snprintf(f->jti[f->n], sizeof(f->jti[0]), "%s", jti);
    f->exp[f->n] = exp;
    f->n++;
    return true;
}

static void test_revoke_and_feed(void **state)
{
    struct fixture *fx = *state;
    int64_t seq = 0, last = -1;
    bool revoked = true;
    struct feed f = {.n = 0};

    assert_int_equal(store_revocations_since(fx->s, 0, 100, feed_add, &f, &last), MESH_OK);
    assert_int_equal(f.n, 0);
    assert_int_equal(last, 0);
    assert_int_equal(store_is_revoked(fx->s, "j1", &revoked), MESH_OK);
    assert_false(revoked);
    assert_int_equal(store_revoke(fx->s, "j1", 500, 100, &seq), MESH_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(store_revoke(fx->s, "j2", 600, 100, &seq), MESH_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(store_revoke(fx->s, "j1", 500, 101, &seq), MESH_OK); /* again: same seq */
    assert_int_equal(seq, 1);
    assert_int_equal(store_revoke(fx->s, "j3", 700, 100, &seq), MESH_OK);
    assert_int_equal(seq, 3);
    assert_int_equal(store_revoke(fx->s, "", 700, 100, &seq), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_is_revoked(fx->s, "j2", &revoked), MESH_OK);
    assert_true(revoked);

    assert_int_equal(store_revocations_since(fx->s, 1, 100, feed_add, &f, &last), MESH_OK);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.seq[0], 2);
    assert_string_equal(f.jti[0], "j2");
    assert_int_equal(f.exp[0], 600);
    assert_int_equal(f.seq[1], 3);
    assert_int_equal(last, 3);
    memset(&f, 0, sizeof(f));
    assert_int_equal(store_revocations_since(fx->s, 0, 1, feed_add, &f, &last), MESH_OK);
    assert_int_equal(f.n, 1); /* max honoured */
    assert_int_equal(f.seq[0], 1);
    assert_int_equal(last, 3);
}

static void test_revocations_durable_across_reopen(void **state)
{
    struct fixture *fx = *state;
    int64_t seq = 0, last = 0;
    bool revoked = false;
    struct feed f = {.n = 0};

    assert_int_equal(store_revoke(fx->s, "keep-me", 900, 100, &seq), MESH_OK);
    reopen(fx);
    assert_int_equal(store_is_revoked(fx->s, "keep-me", &revoked), MESH_OK);
    assert_true(revoked);
    assert_int_equal(store_revocations_since(fx->s, 0, 10, feed_add, &f, &last), MESH_OK);
    assert_int_equal(f.n, 1);
    assert_int_equal(last, seq);
}

/* Pruning the newest entries must not let their seq come back (verifiers would skip it). */
static void test_seq_monotonic_after_prune(void **state)
{
    struct fixture *fx = *state;
    int64_t seq = 0, last = 0;
    size_t removed = 0;
    bool revoked = true;
    struct feed f = {.n = 0};

    assert_int_equal(store_revoke(fx->s, "old1", 100, 50, &seq), MESH_OK);
    assert_int_equal(store_revoke(fx->s, "old2", 100, 50, &seq), MESH_OK);
    assert_int_equal(store_revoke(fx->s, "live", 9000, 50, &seq), MESH_OK);
    assert_int_equal(store_revoke(fx->s, "old3", 100, 50, &seq), MESH_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(store_prune(fx->s, 200, &removed), MESH_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(store_is_revoked(fx->s, "old3", &revoked), MESH_OK);
    assert_false(revoked);
    assert_int_equal(store_revocations_since(fx->s, 0, 10, feed_add, &f, &last), MESH_OK);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.seq[0], 3);
    assert_int_equal(last, 4); /* the high-water mark survives the prune */
    reopen(fx);
    assert_int_equal(store_revoke(fx->s, "new", 9000, 300, &seq), MESH_OK);
    assert_int_equal(seq, 5);
    assert_int_equal(store_prune(fx->s, 200, &removed), MESH_OK);
    assert_int_equal(removed, 0);
}

/* Credential revocations ride the same feed, under keys no jti can have. */
static void test_credential_revocations(void **state)
{
    struct fixture *fx = *state;
    int64_t seq = 0, last = 0, iat_before = 0;
    struct feed f = {.n = 0};
    const char *value = NULL;
    char x5t[64];

    assert_int_equal(store_revoke(fx->s, "j1", 500, 100, &seq), MESH_OK);
    assert_int_equal(store_revoke_subject(fx->s, "svc-token:ci", 101, 800, 100, &seq), MESH_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(store_revoke_cert(fx->s, "abc_DEF", 900, 100, &seq), MESH_OK);
    assert_int_equal(seq, 3);
    assert_int_equal(store_revoke_cert(fx->s, "abc_DEF", 950, 120, &seq), MESH_OK);
    assert_int_equal(seq, 3); /* again: its first seq */
    assert_int_equal(store_revoke_subject(fx->s, "", 1, 2, 3, &seq), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_revoke_cert(fx->s, "", 2, 3, &seq), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_revocations_since(fx->s, 0, 10, feed_add, &f, &last), MESH_OK);
    assert_int_equal(f.n, 3);
    assert_int_equal(store_rev_key_parse(f.jti[0], &iat_before, &value), REV_JTI);
    assert_string_equal(value, "j1");
    assert_int_equal(store_rev_key_parse(f.jti[1], &iat_before, &value), REV_SUBJECT);
    assert_string_equal(value, "svc-token:ci");
    assert_int_equal(iat_before, 101);
    assert_int_equal(store_rev_key_parse(f.jti[2], &iat_before, &value), REV_CERT);
    assert_string_equal(value, "abc_DEF");

    /* certificates that got tokens: looked up by issuer + serial, gone once expired */
    assert_int_equal(store_cert_x5t(fx->s, "k:01", x5t, sizeof(x5t)), MESH_ERR_NOT_FOUND);
    assert_int_equal(store_cert_seen(fx->s, "k:01", "x5t-a", 1000), MESH_OK);
    assert_int_equal(store_cert_seen(fx->s, "k:01", "x5t-a", 1000), MESH_OK); /* idempotent */
    assert_int_equal(store_cert_seen(fx->s, "k:02", "x5t-b", 5000), MESH_OK);
    assert_int_equal(store_cert_x5t(fx->s, "k:01", x5t, sizeof(x5t)), MESH_OK);
    assert_string_equal(x5t, "x5t-a");
    assert_int_equal(store_cert_x5t(fx->s, "k:01", x5t, 3), MESH_ERR_INTERNAL); /* too small */
    size_t removed = 0;
    assert_int_equal(store_prune(fx->s, 2000, &removed), MESH_OK);
    assert_int_equal(removed, 4); /* three revocations and k:01 */
    assert_int_equal(store_cert_x5t(fx->s, "k:01", x5t, sizeof(x5t)), MESH_ERR_NOT_FOUND);
    assert_int_equal(store_cert_x5t(fx->s, "k:02", x5t, sizeof(x5t)), MESH_OK);
}

static void test_null_arguments(void **state)
{
    struct fixture *fx = *state;
    svc_token_rec_t r = make_rec("x", "msi_x");

    assert_int_equal(store_svc_insert(NULL, &r), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_svc_get_by_name(fx->s, NULL, &r), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_svc_list(fx->s, NULL, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_is_revoked(fx->s, "x", NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_revocations_since(fx->s, 0, 1, NULL, NULL, NULL), MESH_ERR_INVALID_ARG);
    assert_int_equal(store_prune(NULL, 0, NULL), MESH_ERR_INVALID_ARG);
    store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_rejects_other_schemes),
        cmocka_unit_test_setup_teardown(test_open_unwritable_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_created_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_insert_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_duplicate_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_touch_is_lazy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_svc_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_and_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revocations_durable_across_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_monotonic_after_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credential_revocations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_v1_migrates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_arguments, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
