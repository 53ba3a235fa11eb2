/* SPDX-License-Identifier: Apache-2.0 */
/* Scratch directories for the issuer unit tests: real files, removed afterwards. */
#ifndef ISSUER_TEST_TESTDIR_H
#define ISSUER_TEST_TESTDIR_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a static path, aborts on error. */
const char *testdir_new(void);
/* Removes the directory made by testdir_new() with everything in it. */
void testdir_remove(const char *dir);
/* dir + "/" + name into out (cap); aborts when it does not fit. */
void testdir_path(char *out, size_t cap, const char *dir, const char *name);
/* "sqlite:" + dir + "/" + name into out (cap). */
void testdir_url(char *out, size_t cap, const char *dir, const char *name);

#endif /* ISSUER_TEST_TESTDIR_H */
