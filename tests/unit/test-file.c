/* SPDX-License-Identifier: Apache-2.0 */
/* mesh_file_read and mesh_file_write_atomic (<mesh/util.h>). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <mesh/util.h>

#include "../test-tmp.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    if (test_tmp_template(dir, sizeof(dir), "mesh-test-file") == NULL || mkdtemp(dir) == NULL) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < cap);
}

static void put(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(data, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Entries of the test directory, "." and ".." not counted. */
static int entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_read_whole_file(void **state)
{
    char p[300];
    char *buf = NULL;
    size_t len = 0;

    (void)state;
    path_in(p, sizeof(p), "a.txt");
    put(p, "hello");
    assert_int_equal(mesh_file_read(p, 5, &buf, &len), MESH_OK);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    mesh_free(buf);
    buf = NULL;
    assert_int_equal(mesh_file_read(p, 100, &buf, NULL), MESH_OK); /* len is optional */
    assert_string_equal(buf, "hello");
    mesh_free(buf);
}

static void test_read_over_limit_is_limit(void **state)
{
    char p[300];
    char *buf = NULL;
    size_t len = 77;

    (void)state;
    path_in(p, sizeof(p), "big.txt");
    put(p, "123456");
    assert_int_equal(mesh_file_read(p, 5, &buf, &len), MESH_ERR_LIMIT);
    assert_null(buf);
    assert_int_equal(len, 77); /* outputs untouched on failure */
    assert_non_null(strstr(mesh_err_detail(), p));
}

static void test_read_not_regular(void **state)
{
    char *buf = NULL;
    char fifo[300];

    (void)state;
    assert_int_equal(mesh_file_read(dir, 100, &buf, NULL), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "not a regular file"));
    /* a FIFO nobody writes to must not hang the reader */
    path_in(fifo, sizeof(fifo), "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(mesh_file_read(fifo, 100, &buf, NULL), MESH_ERR_IO);
    assert_null(buf);
    assert_int_equal(unlink(fifo), 0);
}

static void test_read_errors_name_the_path(void **state)
{
    char *buf = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(mesh_file_read("/nonexistent/mesh-test", 100, &buf, &len), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "/nonexistent/mesh-test"));
    assert_null(buf);
    assert_int_equal(mesh_file_read(NULL, 100, &buf, &len), MESH_ERR_INVALID_ARG);
}

static void test_write_mode_ignores_umask(void **state)
{
    char p[300];
    struct stat st;
    char *buf = NULL;
    mode_t old = umask(0);

    (void)state;
    path_in(p, sizeof(p), "secret.pem");
    assert_int_equal(mesh_file_write_atomic(p, "s3cret", 6, 0600, false), MESH_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    (void)umask(077);
    path_in(p, sizeof(p), "public.pem");
    assert_int_equal(mesh_file_write_atomic(p, "pub", 3, 0644, false), MESH_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    (void)umask(old);
    assert_int_equal(mesh_file_read(p, 100, &buf, NULL), MESH_OK);
    assert_string_equal(buf, "pub");
    mesh_free(buf);
    assert_int_equal(entries(), 2); /* no temporary left beside them */
}

static void test_write_no_replace_is_eexist(void **state)
{
    char p[300];
    char *buf = NULL;

    (void)state;
    path_in(p, sizeof(p), "key.pem");
    put(p, "old");
    assert_int_equal(mesh_file_write_atomic(p, "new", 3, 0600, false), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), "already exists"));
    assert_non_null(strstr(mesh_err_detail(), p));
    assert_int_equal(mesh_file_read(p, 100, &buf, NULL), MESH_OK);
    assert_string_equal(buf, "old"); /* untouched */
    mesh_free(buf);
    buf = NULL;
    assert_int_equal(entries(), 1); /* the temporary is gone */
    assert_int_equal(mesh_file_write_atomic(p, "new", 3, 0600, true), MESH_OK);
    assert_int_equal(mesh_file_read(p, 100, &buf, NULL), MESH_OK);
    assert_string_equal(buf, "new");
    mesh_free(buf);
    assert_int_equal(entries(), 1);
}

static void test_write_failure_leaves_no_temp(void **state)
{
    char p[300];

    (void)state;
    /* the target is a directory: rename() fails after the temporary was written */
    path_in(p, sizeof(p), "adir");
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(mesh_file_write_atomic(p, "x", 1, 0600, true), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), p));
    assert_int_equal(entries(), 1);
    assert_int_equal(rmdir(p), 0);
    /* a directory that does not exist: nothing is created anywhere */
    path_in(p, sizeof(p), "missing/key.pem");
    assert_int_equal(mesh_file_write_atomic(p, "x", 1, 0600, true), MESH_ERR_IO);
    assert_non_null(strstr(mesh_err_detail(), p));
    assert_int_equal(entries(), 0);
    assert_int_equal(mesh_file_write_atomic(NULL, "x", 1, 0600, true), MESH_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_whole_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_over_limit_is_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_not_regular, setup, teardown),
        cmocka_unit_test(test_read_errors_name_the_path),
        cmocka_unit_test_setup_teardown(test_write_mode_ignores_umask, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_no_replace_is_eexist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_leaves_no_temp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
