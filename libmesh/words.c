/* SPDX-License-Identifier: Apache-2.0 */
/* Space-separated word lists (<mesh/util.h>): scope values, the one syntax every program
 * splits them with. */
#include <mesh/util.h>

#include <string.h>

#include "internal.h"

MESH_EXPORT bool mesh_words_next(const char **cursor, const char **word, size_t *len)
{
    const char *p;
    const char *start;

    if (cursor == NULL || *cursor == NULL) {
        return false;
    }
    /* RFC 6749 §3.3: scope = scope-token *( SP scope-token ); SP only, so a tab is part of a
     * word and the caller's character check refuses it */
    for (p = *cursor; *p == ' '; p++) {
    }
    start = p;
    while (*p != '\0' && *p != ' ') {
        p++;
    }
    *cursor = p;
    if (p == start) {
        return false;
    }
    if (word != NULL) {
        *word = start;
    }
    if (len != NULL) {
        *len = (size_t)(p - start);
    }
    return true;
}

MESH_EXPORT bool mesh_words_contains(const char *list, const char *word)
{
    const char *cursor = list;
    const char *w;
    size_t wlen;
    size_t n;

    if (list == NULL || word == NULL || (wlen = strlen(word)) == 0) {
        return false;
    }
    while (mesh_words_next(&cursor, &w, &n)) {
        if (n == wlen && memcmp(w, word, n) == 0) {
            return true;
        }
    }
    return false;
}
