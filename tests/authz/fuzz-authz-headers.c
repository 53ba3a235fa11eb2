/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the certificate headers of nginx, Envoy (XFCC) and Traefik. The first
 * byte picks the decoder; a decoded chain must start with a PEM certificate line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    char *value = malloc(size);
    if (value == NULL) {
        return 0;
    }
    memcpy(value, data + 1, size - 1);
    value[size - 1] = '\0';
    char *pem = NULL;
    size_t len = 0;
    const char *why = data[0] % 3 == 0   ? fwd_nginx_cert(value, &pem, &len)
                      : data[0] % 3 == 1 ? fwd_xfcc_cert(value, &pem, &len)
                                         : fwd_traefik_cert(value, &pem, &len);
    if (why == NULL && pem != NULL &&
        (len != strlen(pem) || strncmp(pem, "-----BEGIN CERTIFICATE-----", 27) != 0)) {
        abort(); /* a decoder accepted something that is no PEM certificate */
    }
    if (why != NULL && pem != NULL) {
        abort(); /* outputs are written only on success */
    }
    free(pem);
    free(value);
    return 0;
}
