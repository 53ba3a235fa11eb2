/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Durability across kill -9: store-crash-writer (argv[1]) revokes jtis and prints "ok SEQ JTI"
 * after each commit; it is SIGKILLed mid-stream, twice, and the reopened store must hold
 * every printed revocation with its seq. No timing: the kill comes after a number of lines.
 * (A revocation committed just before the kill but never printed is allowed to exist.)
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"
#include "testdir.h"

#define KILL_AFTER_LINES 40
#define MAX_LINES        100000

static const char *writer_path;

struct printed {
    int64_t seq[MAX_LINES];
    char jti[MAX_LINES][32];
    size_t n;
};

static struct printed printed;

/* Runs the writer, SIGKILLs it after KILL_AFTER_LINES lines, keeps every line it printed. */
static void run_and_kill(const char *url, const char *prefix)
{
    int fds[2];
    pid_t pid;
    FILE *out;
    char line[128];
    size_t seen = 0;
    int status = 0;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(writer_path, writer_path, url, prefix, "100000000", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    out = fdopen(fds[0], "r");
    assert_non_null(out);
    while (fgets(line, sizeof(line), out) != NULL) {
        long long seq;
        char jti[32];
        assert_int_equal(sscanf(line, "ok %lld %31s", &seq, jti), 2);
        assert_true(printed.n < MAX_LINES);
        printed.seq[printed.n] = seq;
        snprintf(printed.jti[printed.n], sizeof(printed.jti[0]), "%s", jti);
        printed.n++;
        if (++seen == KILL_AFTER_LINES) {
            assert_int_equal(kill(pid, SIGKILL), 0); /* lines already in the pipe still count */
        }
    }
    fclose(out);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(seen >= KILL_AFTER_LINES);
    print_message("%s: %zu committed revocations reported before SIGKILL\n", prefix, seen);
}

struct one {
    int64_t seq;
    char jti[32];
};

static bool take_first(void *ctx, int64_t seq, const char *jti, int64_t exp)
{
    struct one *o = ctx;

    (void)exp;
    o->seq = seq;
    snprintf(o->jti, sizeof(o->jti), "%s", jti);
    return false;
}

/* Same jti prefix ("first-1", "first-2"): printed by the same writer run. */
static bool same_run(size_t a, size_t b)
{
    size_t la = strcspn(printed.jti[a], "-"), lb = strcspn(printed.jti[b], "-");

    return la == lb && strncmp(printed.jti[a], printed.jti[b], la) == 0;
}

static void check_all_printed_survived(const char *url)
{
    store_t *s = NULL;
    int64_t last = 0;

    assert_int_equal(store_open(url, &s), MESH_OK);
    for (size_t i = 0; i < printed.n; i++) {
        bool revoked = false;
        struct one o = {.seq = 0};
        if (i == 0) {
            assert_int_equal(printed.seq[0], 1);
        } else if (same_run(i - 1, i)) {
            assert_int_equal(printed.seq[i], printed.seq[i - 1] + 1);
        } else {
            /* The killed run may have committed one more than it printed: a gap is fine. */
            assert_true(printed.seq[i] > printed.seq[i - 1]);
        }
        assert_int_equal(store_is_revoked(s, printed.jti[i], &revoked), MESH_OK);
        assert_true(revoked);
        assert_int_equal(store_revocations_since(s, printed.seq[i] - 1, 1, take_first, &o, &last),
                         MESH_OK);
        assert_int_equal(o.seq, printed.seq[i]);
        assert_string_equal(o.jti, printed.jti[i]);
    }
    assert_true(last >= printed.seq[printed.n - 1]);
    store_close(s);
}

/* In setup/teardown so a failed assertion still removes the scratch directory. */
static int make_dir(void **state)
{
    *state = (void *)testdir_new();
    return 0;
}

static int remove_dir(void **state)
{
    testdir_remove(*state);
    return 0;
}

static void test_revocations_survive_sigkill(void **state)
{
    const char *dir = *state;
    char url[4200];

    testdir_url(url, sizeof(url), dir, "issuer.db");
    printed.n = 0;
    run_and_kill(url, "first");
    check_all_printed_survived(url);
    run_and_kill(url, "second"); /* recovery after a crash, then another crash */
    check_all_printed_survived(url);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_revocations_survive_sigkill, make_dir, remove_dir),
    };

    if (argc != 2) {
        fprintf(stderr, "usage: test-issuer-store-crash PATH-TO-store-crash-writer\n");
        return 2;
    }
    writer_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
