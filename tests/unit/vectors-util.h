/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the public-vector tests: where the vectors are, hex, counting, skipping loudly. */
#ifndef VECTORS_UTIL_H
#define VECTORS_UTIL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef MESH_DEFAULT_VECTORS_DIR
#define MESH_DEFAULT_VECTORS_DIR ""
#endif

typedef struct {
    const char *file;
    unsigned passed, failed, skipped, acceptable, exceptions;
} vcount_t;

static inline const char *vectors_dir(void)
{
    const char *d = getenv("MESH_VECTORS_DIR");
    return d != NULL && d[0] != '\0' ? d : MESH_DEFAULT_VECTORS_DIR;
}

/* The vectors ship in tests/vectors: missing ones are a failure (exit 1), never a skip. */
static inline void vectors_require(const char *rel)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", vectors_dir(), rel);
    if (stat(path, &st) != 0) {
        fprintf(stderr,
                "public test vectors not found at %s (they ship in tests/vectors; "
                "MESH_VECTORS_DIR overrides the folder)\n",
                path);
        exit(1);
    }
}

static inline json_t *vectors_load(const char *rel)
{
    char path[4096];
    json_error_t err;
    json_t *root;

    snprintf(path, sizeof(path), "%s/%s", vectors_dir(), rel);
    root = json_load_file(path, 0, &err);
    if (root == NULL) {
        fprintf(stderr, "%s: %s (line %d)\n", path, err.text, err.line);
    }
    return root;
}

/* Decodes a lowercase/uppercase hex string; returns a new buffer (free()) and its length. */
static inline unsigned char *hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    unsigned char *out = malloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        unsigned int v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (unsigned char)v;
    }
    *len = n;
    return out;
}

static inline void vcount_print(const vcount_t *c)
{
    printf("%-42s passed %4u  failed %3u  skipped %4u  acceptable %2u  label exceptions %u\n",
           c->file, c->passed, c->failed, c->skipped, c->acceptable, c->exceptions);
}

/* Compares one outcome with its label; `acceptable` tests pass either way (logged). */
static inline void vcount_check(vcount_t *c, int tc_id, const char *result, int ok, const char *why)
{
    if (strcmp(result, "acceptable") == 0) {
        c->acceptable++;
        printf("  %s tcId %d: acceptable, libmesh %s\n", c->file, tc_id,
               ok ? "accepts" : "rejects");
    } else if ((strcmp(result, "valid") == 0) == (ok != 0)) {
        c->passed++;
    } else {
        c->failed++;
        printf("  FAIL %s tcId %d: labelled %s, libmesh %s (%s)\n", c->file, tc_id, result,
               ok ? "accepts" : "rejects", why);
    }
}

#endif /* VECTORS_UTIL_H */
