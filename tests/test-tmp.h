/* SPDX-License-Identifier: Apache-2.0 */
/* Temp-file templates for tests: under $TMPDIR (unset or empty: /tmp), as mktemp(1) does. */
#ifndef TEST_TMP_H
#define TEST_TMP_H

#include <stdio.h>
#include <stdlib.h>

/* Writes "<tmpdir>/<name>-XXXXXX" for mkstemp/mkdtemp into buf; returns buf (NULL if cut). */
static inline char *test_tmp_template(char *buf, size_t cap, const char *name)
{
    const char *dir = getenv("TMPDIR");
    int n = snprintf(buf, cap, "%s/%s-XXXXXX", dir != NULL && dir[0] != '\0' ? dir : "/tmp", name);

    return n > 0 && (size_t)n < cap ? buf : NULL;
}

#endif /* TEST_TMP_H */
