/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How much room the store needs: bytes per revocation, per service token and per certificate
 * record once checkpointed, the largest the WAL got while writing them, and whether pruned room
 * is reused. Not a test; the numbers in docs/notes-store-full.md come from
 *   build/tests/issuer/unit/store-footprint [DIR]
 * (DIR defaults to a scratch directory under $TMPDIR or /tmp, removed afterwards).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mesh/jwt.h>
#include "store.h"
#include "store_sqlite.h"
#include "testdir.h"

#define REVOCATIONS 20000
#define SVC_TOKENS  1000
#define CERTS       1000
#define NOW         1700000000LL

struct files {
    char db[4200], wal[4300], url[4200];
    long long wal_peak;
};

static long long size_of(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static void note_wal(struct files *f)
{
    long long w = size_of(f->wal);

    if (w > f->wal_peak) {
        f->wal_peak = w;
    }
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int64_t pragma(store_t *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static uint64_t mix(uint64_t x) /* splitmix64, as in test-store-full.c */
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static void make_id(char *out, size_t len, uint64_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint64_t a = mix(n), b = mix(n ^ 0x5555555555555555ULL);

    for (size_t i = 0; i < len; i++) {
        uint64_t w = i < 10 ? a : b;
        out[i] = b64[(w >> (6 * (i % 10))) & 63];
    }
    out[len] = '\0';
}

/* The database file after close: SQLite checkpoints and removes the WAL on the last close. */
static long long closed_size(store_t *s, struct files *f)
{
    store_close(s);
    return size_of(f->db) + size_of(f->wal);
}

static store_t *open_or_die(struct files *f)
{
    store_t *s = NULL;

    if (store_open(f->url, &s) != MESH_OK) {
        fprintf(stderr, "store-footprint: %s\n", mesh_err_detail());
        exit(1);
    }
    return s;
}

static void die_on(mesh_err_t rc, const char *what)
{
    if (rc != MESH_OK) {
        fprintf(stderr, "store-footprint: %s: %s\n", what, mesh_err_detail());
        exit(1);
    }
}

static void revocations(struct files *f, long long empty)
{
    store_t *s = open_or_die(f);
    long long full, after_prune, refilled;
    int64_t free_pages;
    size_t removed = 0;
    char jti[MESH_JTI_LEN + 1];
    double t0;

    f->wal_peak = 0;
    t0 = now_ms();
    for (uint64_t i = 0; i < REVOCATIONS; i++) {
        make_id(jti, MESH_JTI_LEN, i);
        /* Three in four expire before NOW, for the prune below. */
        die_on(store_revoke(s, jti, i % 4 ? NOW - 1 : NOW + 3600, NOW - 7200, NULL), "revoke");
        note_wal(f);
    }
    t0 = now_ms() - t0;
    full = closed_size(s, f);
    printf("revocations: %d jti (22 chars) in %.0f ms: %lld bytes, %.1f bytes each; WAL peak %lld "
           "bytes\n",
           REVOCATIONS, t0, full - empty, (double)(full - empty) / REVOCATIONS, f->wal_peak);

    s = open_or_die(f);
    f->wal_peak = 0;
    t0 = now_ms();
    die_on(store_prune(s, NOW, &removed), "prune");
    t0 = now_ms() - t0;
    note_wal(f);
    free_pages = pragma(s, "PRAGMA freelist_count");
    after_prune = closed_size(s, f);
    printf("prune: %zu removed in batches in %.0f ms; file %lld bytes (%" PRId64 " free pages, "
           "reused by later writes); WAL file after the prune %lld bytes\n",
           removed, t0, after_prune, free_pages, f->wal_peak);

    s = open_or_die(f);
    for (uint64_t i = 0; i < removed; i++) {
        make_id(jti, MESH_JTI_LEN, REVOCATIONS + i);
        die_on(store_revoke(s, jti, NOW + 3600, NOW, NULL), "revoke");
    }
    refilled = closed_size(s, f);
    printf("refill: %zu new revocations after the prune grew the file by %lld bytes\n", removed,
           refilled - after_prune);
}

static void svc_tokens(struct files *f, long long *base, bool largest)
{
    store_t *s = open_or_die(f);
    long long after;
    svc_token_rec_t r;

    for (int i = 0; i < SVC_TOKENS; i++) {
        memset(&r, 0, sizeof(r));
        snprintf(r.name, sizeof(r.name), "%s-%04d", largest ? "big" : "ci-deploy", i);
        memcpy(r.client_id, "msi_", 4);
        make_id(r.client_id + 4, 22, (uint64_t)i + (largest ? 1000000 : 2000000));
        if (largest) { /* every field at its size limit */
            memset(r.audiences, 'a', sizeof(r.audiences) - 1);
            memset(r.scopes, 's', sizeof(r.scopes) - 1);
        } else {
            snprintf(r.audiences, sizeof(r.audiences), "orders,billing");
            snprintf(r.scopes, sizeof(r.scopes), "read write");
        }
        memset(r.hash, 0xab, sizeof(r.hash));
        memset(r.salt, 0x11, sizeof(r.salt));
        r.created = NOW;
        r.expires = NOW + 86400;
        die_on(store_svc_insert(s, &r), "svc insert");
        note_wal(f);
    }
    after = closed_size(s, f);
    printf("service tokens: %d %s: %lld bytes, %.1f bytes each\n", SVC_TOKENS,
           largest ? "with 1023-byte audiences and scopes" : "(name 14, audiences 14, scopes 10)",
           after - *base, (double)(after - *base) / SVC_TOKENS);
    *base = after;
}

static void certs(struct files *f, long long *base)
{
    store_t *s = open_or_die(f);
    long long after;
    char key[128], x5t[64];

    for (int i = 0; i < CERTS; i++) {
        /* cert_key: SHA-256 of the issuer name in hex, ':', a 128-bit serial in hex. */
        snprintf(key, sizeof(key), "%016llx%016llx%016llx%016llx:%016llx%016llx",
                 (unsigned long long)mix(1), (unsigned long long)mix(2), (unsigned long long)mix(3),
                 (unsigned long long)mix(4), (unsigned long long)mix((uint64_t)i),
                 (unsigned long long)mix((uint64_t)i + 7));
        make_id(x5t, 43, (uint64_t)i + 3000000);
        die_on(store_cert_seen(s, key, x5t, NOW + 86400), "cert seen");
        note_wal(f);
    }
    after = closed_size(s, f);
    printf("certificate records: %d: %lld bytes, %.1f bytes each\n", CERTS, after - *base,
           (double)(after - *base) / CERTS);
    *base = after;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : testdir_new();
    struct files f;
    long long empty, base;

    testdir_path(f.db, sizeof(f.db), dir, "footprint.db");
    snprintf(f.wal, sizeof(f.wal), "%s-wal", f.db);
    testdir_url(f.url, sizeof(f.url), dir, "footprint.db");
    empty = closed_size(open_or_die(&f), &f);
    printf("SQLite %s, WAL autocheckpoint and limit: see store_sqlite.c; empty store %lld bytes\n",
           sqlite3_libversion(), empty);
    revocations(&f, empty);
    base = size_of(f.db);
    f.wal_peak = 0;
    svc_tokens(&f, &base, false);
    svc_tokens(&f, &base, true);
    certs(&f, &base);
    printf("WAL peak while writing tokens and certificate records: %lld bytes\n", f.wal_peak);
    if (argc <= 1) {
        testdir_remove(dir);
    }
    return 0;
}
