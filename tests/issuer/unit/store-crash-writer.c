/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper for test-store-crash: revokes PREFIX-1 .. PREFIX-N in the store at URL and prints
 * "ok SEQ JTI" after each store_revoke returned MESH_OK, i.e. after the commit. The test
 * SIGKILLs it mid-stream; every line it printed must survive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

int main(int argc, char **argv)
{
    store_t *s = NULL;
    char *end = NULL;
    long long n;
    int rc = 1;

    if (argc != 4) {
        fprintf(stderr, "usage: store-crash-writer sqlite:PATH PREFIX COUNT\n");
        return 2;
    }
    errno = 0;
    n = strtoll(argv[3], &end, 10);
    if (errno != 0 || *end != '\0' || n <= 0) {
        fprintf(stderr, "store-crash-writer: COUNT must be a positive integer\n");
        return 2;
    }
    if (store_open(argv[1], &s) != MESH_OK) {
        fprintf(stderr, "store-crash-writer: %s\n", mesh_err_detail());
        return 1;
    }
    for (long long i = 1; i <= n; i++) {
        char jti[64];
        int64_t seq = 0;
        int len = snprintf(jti, sizeof(jti), "%s-%lld", argv[2], i);

        if (len < 0 || (size_t)len >= sizeof(jti) ||
            store_revoke(s, jti, 4000000000LL, 1700000000LL, &seq) != MESH_OK) {
            fprintf(stderr, "store-crash-writer: %s\n", mesh_err_detail());
            goto out;
        }
        /* Printed only after the commit returned: this line is the durability promise. */
        if (printf("ok %lld %s\n", (long long)seq, jti) < 0 || fflush(stdout) != 0) {
            goto out;
        }
    }
    rc = 0;
out:
    store_close(s);
    return rc;
}
