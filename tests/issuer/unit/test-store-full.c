/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store on a full disk recovers as soon as the data fits. Each test mounts a fresh 2 MiB
 * tmpfs (in a user + mount namespace, as `unshare -rm` makes), fills it with revocations until a
 * write fails, frees a little room and checks that writes work again at once, on the same handle
 * and after a reopen. Every write that returned MESH_OK is in the reopened store (with its seq);
 * none that failed is. Where namespaces are not allowed the test fails and says why.
 */
#define _GNU_SOURCE /* unshare, CLONE_NEWUSER */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include <mesh/jwt.h>
#include "store.h"
#include "store_sqlite.h"
#include "testdir.h"

#define VOLUME_OPTS     "size=2m,mode=0700" /* the 2 MiB volume of the report */
#define BALLAST_BYTES   (256 * 1024)        /* what the "operator" frees */
#define SMALL_BALLAST   (64 * 1024)
#define MAX_REVS        200000
#define RECOVERY_WRITES 500 /* must all succeed right after room is freed (16 did before) */
#define ONE_PAGE_WRITES 50  /* after a restart with one page freed (~200 fit; 0 did before) */
#define NOW             1700000000LL
#define LIVE_EXP        4000000000LL
#define EXPIRED_EXP     1000LL

struct ledger {
    char jti[MAX_REVS][MESH_JTI_LEN + 1];
    int64_t seq[MAX_REVS];
    int64_t exp[MAX_REVS];
    bool ok[MAX_REVS];
    size_t n;
};

static struct ledger led;

struct fixture {
    const char *dir;
    char db[4200];
    char wal[4300];
    char url[4200];
    char ballast[4200];
    store_t *s;
};

/* ---- the small file system ---- */

static bool write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t n = strlen(text);
    bool ok = fd >= 0 && write(fd, text, n) == (ssize_t)n;

    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* What `unshare -rm` does: a user namespace where we are root, and a private mount namespace. */
static bool enter_namespace(char *why, size_t cap)
{
    char map[64];
    unsigned uid = (unsigned)getuid(), gid = (unsigned)getgid();

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
        snprintf(why, cap, "unshare(CLONE_NEWUSER | CLONE_NEWNS): %s", strerror(errno));
        return false;
    }
    (void)write_text("/proc/self/setgroups", "deny"); /* absent on old kernels */
    snprintf(map, sizeof(map), "0 %u 1", uid);
    if (!write_text("/proc/self/uid_map", map)) {
        snprintf(why, cap, "writing /proc/self/uid_map: %s", strerror(errno));
        return false;
    }
    snprintf(map, sizeof(map), "0 %u 1", gid);
    if (!write_text("/proc/self/gid_map", map)) {
        snprintf(why, cap, "writing /proc/self/gid_map: %s", strerror(errno));
        return false;
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        snprintf(why, cap, "making / private in the mount namespace: %s", strerror(errno));
        return false;
    }
    return true;
}

static void make_ballast(const char *path, size_t bytes)
{
    static const char block[4096];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    assert_true(fd >= 0);
    for (size_t done = 0; done < bytes; done += sizeof(block)) {
        assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
    }
    assert_int_equal(fsync(fd), 0);
    close(fd);
}

/* Another program fills the disk: `path` grows until the file system says ENOSPC. */
static void fill_disk(const char *path)
{
    static const char block[4096];
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ssize_t n;

    assert_true(fd >= 0);
    while ((n = write(fd, block, sizeof(block))) == (ssize_t)sizeof(block)) {
    }
    assert_true(n >= 0 || errno == ENOSPC);
    (void)fsync(fd);
    close(fd);
}

/* ... and then gives back a little of it. */
static void free_room(const char *path, off_t bytes)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= bytes);
    assert_int_equal(truncate(path, st.st_size - bytes), 0);
}

static off_t file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : 0;
}

static void mount_volume(struct fixture *fx, size_t ballast)
{
    fx->dir = testdir_new();
    if (mount("tmpfs", fx->dir, "tmpfs", MS_NOSUID | MS_NODEV, VOLUME_OPTS) != 0) {
        fail_msg("cannot mount a 2 MiB tmpfs on %s: %s", fx->dir, strerror(errno));
    }
    testdir_path(fx->db, sizeof(fx->db), fx->dir, "issuer.db");
    snprintf(fx->wal, sizeof(fx->wal), "%s-wal", fx->db);
    testdir_url(fx->url, sizeof(fx->url), fx->dir, "issuer.db");
    testdir_path(fx->ballast, sizeof(fx->ballast), fx->dir, "ballast");
    make_ballast(fx->ballast, ballast);
    fx->s = NULL;
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
    memset(&led, 0, sizeof(led));
}

static int setup_big_ballast(void **state)
{
    static struct fixture fx;

    mount_volume(&fx, BALLAST_BYTES);
    *state = &fx;
    return 0;
}

static int setup_no_ballast(void **state)
{
    static struct fixture fx;

    mount_volume(&fx, 0);
    *state = &fx;
    return 0;
}

static int setup_one_page_ballast(void **state)
{
    static struct fixture fx;

    mount_volume(&fx, 4096);
    *state = &fx;
    return 0;
}

static int setup_small_ballast(void **state)
{
    static struct fixture fx;

    mount_volume(&fx, SMALL_BALLAST);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;

    store_close(fx->s);
    (void)umount2(fx->dir, MNT_DETACH);
    testdir_remove(fx->dir);
    return 0;
}

static void reopen(struct fixture *fx)
{
    store_close(fx->s);
    fx->s = NULL;
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
}

/* ---- writes and the ledger of what they returned ---- */

static uint64_t mix(uint64_t x) /* splitmix64: a bijection, so distinct n give distinct jtis */
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* A jti shaped like the issuer's: 22 base64url characters, random-looking (as in a real index). */
static void make_jti(char out[MESH_JTI_LEN + 1], uint64_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t a = mix(n), b = mix(n ^ 0x5555555555555555ULL);

    for (int i = 0; i < 11; i++) {
        out[i] = b64[(a >> (6 * i)) & 63];
        out[11 + i] = b64[(b >> (6 * i)) & 63];
    }
    out[MESH_JTI_LEN] = '\0';
}

static mesh_err_t revoke_next(store_t *s, int64_t exp)
{
    size_t i = led.n++;
    mesh_err_t rc;

    assert_true(i < MAX_REVS);
    make_jti(led.jti[i], i);
    led.exp[i] = exp;
    rc = store_revoke(s, led.jti[i], exp, NOW, &led.seq[i]);
    led.ok[i] = rc == MESH_OK;
    return rc;
}

/* Three of every four revocations are expired at NOW when `mostly_expired`. */
static int64_t exp_of(size_t i, bool mostly_expired)
{
    return mostly_expired && i % 4 != 0 ? EXPIRED_EXP : LIVE_EXP;
}

/* Writes revocations until one fails; it must fail as a full disk (MESH_ERR_IO + the hint). */
static void fill_until_full(store_t *s, bool mostly_expired)
{
    size_t first = led.n;
    mesh_err_t rc;

    do {
        rc = revoke_next(s, exp_of(led.n, mostly_expired));
    } while (rc == MESH_OK && led.n < MAX_REVS);
    assert_int_equal(rc, MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "free disk space"));
    print_message("full after %zu revocations\n", led.n - 1 - first);
    for (int k = 0; k < 3; k++) { /* more attempts on the full disk: each is all or nothing */
        (void)revoke_next(s, exp_of(led.n, mostly_expired));
    }
}

static svc_token_rec_t make_svc(const char *name)
{
    svc_token_rec_t r;

    memset(&r, 0, sizeof(r));
    snprintf(r.name, sizeof(r.name), "%s", name);
    snprintf(r.client_id, sizeof(r.client_id), "msi_%s", name);
    memset(r.audiences, 'a', 1000); /* a large row: over 1 KiB */
    snprintf(r.scopes, sizeof(r.scopes), "read write");
    memset(r.hash, 0xab, sizeof(r.hash));
    memset(r.salt, 0x11, sizeof(r.salt));
    r.created = NOW;
    r.expires = LIVE_EXP;
    return r;
}

/* A service token and a certificate record on the full disk: written whole or not at all. */
static void other_writes_on_full_disk(store_t *s)
{
    svc_token_rec_t rec = make_svc("on-full-disk"), got;
    char x5t[64];
    mesh_err_t rc = store_svc_insert(s, &rec);

    if (rc == MESH_OK) {
        assert_int_equal(store_svc_get_by_name(s, rec.name, &got), MESH_OK);
        assert_memory_equal(&got, &rec, sizeof(rec));
    } else {
        assert_int_equal(rc, MESH_ERR_IO);
        assert_int_equal(store_svc_get_by_name(s, rec.name, &got), MESH_ERR_NOT_FOUND);
    }
    rc = store_cert_seen(s, "full:01", "x5t-on-full-disk", LIVE_EXP);
    if (rc == MESH_OK) {
        assert_int_equal(store_cert_x5t(s, "full:01", x5t, sizeof(x5t)), MESH_OK);
        assert_string_equal(x5t, "x5t-on-full-disk");
    } else {
        assert_int_equal(rc, MESH_ERR_IO);
        assert_int_equal(store_cert_x5t(s, "full:01", x5t, sizeof(x5t)), MESH_ERR_NOT_FOUND);
    }
}

/* Right after room was freed: every kind of write succeeds at once, many times over. */
static void writes_work(store_t *s, const char *tag)
{
    char name[64], key[64], x5t[64];
    svc_token_rec_t rec, got;

    for (int i = 0; i < RECOVERY_WRITES; i++) {
        if (revoke_next(s, LIVE_EXP) != MESH_OK) {
            fail_msg("%s: revocation %d after freeing room failed: %s", tag, i + 1,
                     mesh_err_detail());
        }
    }
    snprintf(name, sizeof(name), "svc-%s", tag);
    rec = make_svc(name);
    assert_int_equal(store_svc_insert(s, &rec), MESH_OK);
    assert_int_equal(store_svc_get_by_name(s, name, &got), MESH_OK);
    assert_memory_equal(&got, &rec, sizeof(rec));
    rec.revoked = true;
    assert_int_equal(store_svc_update(s, &rec), MESH_OK);
    assert_int_equal(store_svc_touch(s, name, NOW + 3600), MESH_OK);
    snprintf(key, sizeof(key), "cert:%s", tag);
    assert_int_equal(store_cert_seen(s, key, "x5t-after", LIVE_EXP), MESH_OK);
    assert_int_equal(store_cert_x5t(s, key, x5t, sizeof(x5t)), MESH_OK);
    assert_string_equal(x5t, "x5t-after");
}

struct walk {
    size_t next; /* ledger index expected next in the feed */
    size_t seen;
    const char *failure;
};

/* The ledger entry the feed must show next: written OK and not pruned. */
static bool expected_in_feed(size_t i, bool pruned)
{
    return led.ok[i] && !(pruned && led.exp[i] < NOW);
}

static bool check_entry(void *ctx, int64_t seq, const char *jti, int64_t exp)
{
    struct walk *w = ctx;

    while (w->next < led.n && !led.ok[w->next]) {
        w->next++;
    }
    if (w->next >= led.n || led.seq[w->next] != seq || strcmp(led.jti[w->next], jti) != 0 ||
        led.exp[w->next] != exp) {
        w->failure = jti;
        return false;
    }
    w->next++;
    w->seen++;
    return true;
}

/*
 * The reopened store holds exactly the revocations that returned MESH_OK (minus the pruned ones),
 * in the order and with the seqs they were given; none that failed is there.
 */
static void ledger_matches_store(store_t *s, bool pruned)
{
    struct walk w = {0, 0, NULL};
    size_t want = 0;
    int64_t last = 0;

    if (pruned) { /* the pruned entries left the store: drop them from the ledger */
        for (size_t i = 0; i < led.n; i++) {
            led.ok[i] = expected_in_feed(i, true);
        }
    }
    for (size_t i = 0; i < led.n; i++) {
        bool revoked = true;
        assert_int_equal(store_is_revoked(s, led.jti[i], &revoked), MESH_OK);
        if (revoked != led.ok[i]) {
            fail_msg("revocation %zu (%s) %s but store_revoke returned %s", i, led.jti[i],
                     revoked ? "is in the store" : "is missing",
                     led.ok[i] ? "MESH_OK" : "an error");
        }
        want += led.ok[i];
    }
    assert_int_equal(store_revocations_since(s, 0, MAX_REVS, check_entry, &w, &last), MESH_OK);
    if (w.failure != NULL) {
        fail_msg("the feed disagrees with the ledger at %s", w.failure);
    }
    assert_int_equal(w.seen, want);
}

/* ---- the tests ---- */

static void test_full_disk_writes_recover_once_room_is_freed(void **state)
{
    struct fixture *fx = *state;

    fill_until_full(fx->s, false);
    other_writes_on_full_disk(fx->s);
    print_message("on the full disk: db %lld bytes, wal %lld bytes\n", (long long)file_size(fx->db),
                  (long long)file_size(fx->wal));
    assert_int_equal(unlink(fx->ballast), 0);
    writes_work(fx->s, "same-handle");
    reopen(fx);
    writes_work(fx->s, "reopened");
    reopen(fx);
    ledger_matches_store(fx->s, false);
}

static void test_full_disk_store_reopened_after_room_is_freed(void **state)
{
    struct fixture *fx = *state;
    int64_t last = 0;
    struct walk w = {0, 0, NULL};

    fill_until_full(fx->s, false);
    reopen(fx); /* a restart on the full disk: open works, reads work */
    assert_int_equal(store_revocations_since(fx->s, 0, 10, check_entry, &w, &last), MESH_OK);
    assert_int_equal(w.seen, 10);
    store_close(fx->s); /* closed while the disk is full: the WAL stays */
    fx->s = NULL;
    assert_int_equal(unlink(fx->ballast), 0);
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
    print_message("wal after reopening: %lld bytes\n", (long long)file_size(fx->wal));
    assert_true(file_size(fx->wal) <= STORE_WAL_LIMIT_BYTES);
    writes_work(fx->s, "reopened");
    reopen(fx);
    ledger_matches_store(fx->s, false);
}

/*
 * Restarted on a full disk and given back a single page: a WAL left behind must be folded in
 * before the first write, which would otherwise take that page for its own frames and leave none
 * for the checkpoint. The freed page and the WAL's room then hold a few hundred revocations.
 */
static void test_full_disk_store_reopened_after_one_page_is_freed(void **state)
{
    struct fixture *fx = *state;

    fill_until_full(fx->s, false);
    store_close(fx->s);
    fx->s = NULL;
    assert_int_equal(unlink(fx->ballast), 0);
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
    for (int i = 0; i < ONE_PAGE_WRITES; i++) {
        if (revoke_next(fx->s, LIVE_EXP) != MESH_OK) {
            fail_msg("revocation %d after freeing one page failed: %s", i + 1, mesh_err_detail());
        }
    }
    reopen(fx);
    ledger_matches_store(fx->s, false);
}

/* The disk filled with revocations, most of them expired: pruning makes room for new ones. */
static void test_full_disk_prune_makes_room_for_new_revocations(void **state)
{
    struct fixture *fx = *state;
    size_t removed = 0;

    fill_until_full(fx->s, true);
    assert_int_equal(unlink(fx->ballast), 0); /* a little room, then prune */
    if (store_prune(fx->s, NOW, &removed) != MESH_OK) {
        fail_msg("prune after freeing %d bytes: %s", SMALL_BALLAST, mesh_err_detail());
    }
    print_message("pruned %zu revocations; WAL %lld bytes\n", removed,
                  (long long)file_size(fx->wal));
    assert_true(removed > led.n / 2);
    assert_true(file_size(fx->wal) <= STORE_WAL_LIMIT_BYTES); /* batches, not one DELETE */
    writes_work(fx->s, "after-prune");
    reopen(fx);
    writes_work(fx->s, "after-prune-reopened");
    reopen(fx);
    ledger_matches_store(fx->s, true);
}

/*
 * Another worker's long read keeps the WAL from restarting: 200 updates of one row, one WAL
 * frame each, none of them checkpointed while the read lasts. Returns with the read ended.
 */
static void grow_wal_behind_a_reader(struct fixture *fx)
{
    svc_token_rec_t rec = make_svc("touched");
    sqlite3 *reader = NULL;
    sqlite3_stmt *st = NULL;

    assert_int_equal(store_svc_insert(fx->s, &rec), MESH_OK);
    reopen(fx); /* the row is in the database file, the WAL empty */
    assert_int_equal(sqlite3_open_v2(fx->db, &reader, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(reader, "SELECT count(*) FROM svc_tokens", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW); /* a read snapshot from before the touches */
    sqlite3_finalize(st);
    for (int i = 1; i <= 200; i++) {
        assert_int_equal(store_svc_touch(fx->s, rec.name, NOW + 60 * i), MESH_OK);
    }
    assert_int_equal(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(reader), SQLITE_OK);
    print_message("WAL behind the reader: %lld bytes\n", (long long)file_size(fx->wal));
    assert_true(file_size(fx->wal) > STORE_WAL_LIMIT_BYTES);
}

/* Pruning a large backlog goes in batches: one DELETE would need a WAL as large as the table. */
static void test_prune_of_a_large_backlog_keeps_the_wal_small(void **state)
{
    struct fixture *fx = *state;
    size_t removed = 0;

    for (int i = 0; i < 8000; i++) {
        assert_int_equal(revoke_next(fx->s, EXPIRED_EXP), MESH_OK);
    }
    reopen(fx); /* ~700 KiB of table and indexes in the database file, the WAL empty */
    assert_int_equal(store_prune(fx->s, NOW, &removed), MESH_OK);
    assert_int_equal(removed, 8000);
    print_message("WAL after pruning 8000: %lld bytes\n", (long long)file_size(fx->wal));
    assert_true(file_size(fx->wal) <= STORE_WAL_LIMIT_BYTES);
}

/* Once the WAL can restart it is cut back to the limit (PRAGMA journal_size_limit). */
static void test_wal_shrinks_to_the_limit_after_a_long_read(void **state)
{
    struct fixture *fx = *state;

    grow_wal_behind_a_reader(fx);
    /* The first commit's autocheckpoint copies every frame; the second write restarts the WAL. */
    assert_int_equal(revoke_next(fx->s, LIVE_EXP), MESH_OK);
    assert_int_equal(revoke_next(fx->s, LIVE_EXP), MESH_OK);
    print_message("WAL after two more writes: %lld bytes\n", (long long)file_size(fx->wal));
    assert_true(file_size(fx->wal) <= STORE_WAL_LIMIT_BYTES);
}

/*
 * The WAL holds ~800 KiB of frames when another program fills the disk. The next write must
 * succeed at once: the checkpoint after its SQLITE_FULL frees the WAL's room (the frames rewrite
 * one existing page, so the database file need not grow) and the retry fits.
 */
static void test_full_disk_write_succeeds_at_once_when_the_wal_holds_the_room(void **state)
{
    struct fixture *fx = *state;
    char other[4200];
    mesh_err_t rc;

    grow_wal_behind_a_reader(fx);
    testdir_path(other, sizeof(other), fx->dir, "other-program");
    fill_disk(other);
    rc = revoke_next(fx->s, LIVE_EXP);
    if (rc != MESH_OK) {
        fail_msg("the first write on the full disk failed: %s", mesh_err_detail());
    }
    print_message("WAL after the write: %lld bytes\n", (long long)file_size(fx->wal));
    for (int i = 0; i < 50; i++) {
        assert_int_equal(revoke_next(fx->s, LIVE_EXP), MESH_OK);
    }
    reopen(fx);
    ledger_matches_store(fx->s, false);
}

/*
 * A store written with SQLite's default 1000-page autocheckpoint (an older mesh-issuer), killed on
 * a full disk, leaves a WAL far past the limit. Restarted once a little room is free, it must
 * fold that WAL into the database at open, so the WAL's room is free before the first write.
 */
static void test_open_truncates_a_large_wal_left_by_a_killed_issuer(void **state)
{
    struct fixture *fx = *state;
    pid_t pid;
    int status = 0;
    char other[4200];

    store_close(fx->s); /* the schema is there */
    fx->s = NULL;
    for (int i = 0; i < 40; i++) { /* what the killed issuer committed: seqs 1..40 */
        make_jti(led.jti[i], (uint64_t)i);
        led.seq[i] = i + 1;
        led.exp[i] = LIVE_EXP;
        led.ok[i] = true;
    }
    led.n = 40;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        char sql[256];
        if (sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA wal_autocheckpoint=1000", NULL, NULL, NULL) != SQLITE_OK) {
            _exit(2);
        }
        for (size_t i = 0; i < led.n; i++) {
            snprintf(sql, sizeof(sql),
                     "INSERT INTO revocations (jti, exp, revoked_at) VALUES ('%s', %lld, %lld)",
                     led.jti[i], LIVE_EXP, NOW);
            if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
                _exit(3);
            }
        }
        _exit(0); /* as if killed: no close, no checkpoint */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    print_message("WAL left behind: %lld bytes\n", (long long)file_size(fx->wal));
    assert_true(file_size(fx->wal) > STORE_WAL_LIMIT_BYTES);
    testdir_path(other, sizeof(other), fx->dir, "other-program");
    fill_disk(other);
    free_room(other, SMALL_BALLAST);
    assert_int_equal(store_open(fx->url, &fx->s), MESH_OK);
    print_message("WAL after store_open: %lld bytes\n", (long long)file_size(fx->wal));
    assert_true(file_size(fx->wal) <= STORE_WAL_LIMIT_BYTES);
    writes_work(fx->s, "restarted");
    reopen(fx);
    ledger_matches_store(fx->s, false);
}

int main(void)
{
    char why[512];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk_writes_recover_once_room_is_freed,
                                        setup_big_ballast, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_store_reopened_after_room_is_freed,
                                        setup_big_ballast, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_store_reopened_after_one_page_is_freed,
                                        setup_one_page_ballast, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_prune_makes_room_for_new_revocations,
                                        setup_small_ballast, teardown),
        cmocka_unit_test_setup_teardown(test_prune_of_a_large_backlog_keeps_the_wal_small,
                                        setup_no_ballast, teardown),
        cmocka_unit_test_setup_teardown(test_wal_shrinks_to_the_limit_after_a_long_read,
                                        setup_no_ballast, teardown),
        cmocka_unit_test_setup_teardown(
            test_full_disk_write_succeeds_at_once_when_the_wal_holds_the_room, setup_no_ballast,
            teardown),
        cmocka_unit_test_setup_teardown(test_open_truncates_a_large_wal_left_by_a_killed_issuer,
                                        setup_no_ballast, teardown),
    };

    if (!enter_namespace(why, sizeof(why))) {
        fprintf(stderr,
                "test-issuer-store-full: FAIL: cannot make a user + mount namespace to mount a "
                "2 MiB tmpfs (%s). This test needs what `unshare -rm` needs: unprivileged user "
                "namespaces (sysctl kernel.unprivileged_userns_clone=1, "
                "user.max_user_namespaces > 0) or root. Failing, not skipping: it must not "
                "count as passed where it cannot run.\n",
                why);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
