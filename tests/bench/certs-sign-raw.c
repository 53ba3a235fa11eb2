/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The baseline of tests/bench/certs-issue.sh: raw OpenSSL signing of the same leaf mesh-issuer
 * issued, with the same issuing key: for SECONDS of this process's CPU time, X509_dup the
 * leaf, give it a new random 16-byte serial, X509_sign it (SHA-256) and encode it as PEM (the
 * issuer answers PEM). Prints {"signed": N, "cpu_seconds": S, "per_cpu_second": R}.
 *
 * usage: certs-sign-raw LEAF.pem ISSUING-KEY.pem SECONDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sign_one(const X509 *leaf, EVP_PKEY *key)
{
    unsigned char rnd[16];
    X509 *x = X509_dup((X509 *)leaf);
    BIGNUM *bn = NULL;
    BIO *out = BIO_new(BIO_s_mem());
    int ok = x != NULL && out != NULL && RAND_bytes(rnd, sizeof(rnd)) == 1;
    rnd[0] &= 0x7f; /* RFC 5280 §4.1.2.2: positive */
    ok = ok && (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) != NULL &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
         X509_sign(x, key, EVP_sha256()) > 0 && PEM_write_bio_X509(out, x) == 1;
    BN_free(bn);
    BIO_free(out);
    X509_free(x);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: certs-sign-raw LEAF.pem ISSUING-KEY.pem SECONDS\n");
        return 2;
    }
    double secs = strtod(argv[3], NULL);
    FILE *lf = fopen(argv[1], "r"), *kf = fopen(argv[2], "r");
    X509 *leaf = lf != NULL ? PEM_read_X509(lf, NULL, NULL, NULL) : NULL;
    EVP_PKEY *key = kf != NULL ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    if (lf != NULL) {
        fclose(lf);
    }
    if (kf != NULL) {
        fclose(kf);
    }
    if (leaf == NULL || key == NULL || !(secs > 0)) {
        fprintf(stderr,
                "certs-sign-raw: cannot read the leaf %s or the key %s (or SECONDS %s "
                "is not positive)\n",
                argv[1], argv[2], argv[3]);
        X509_free(leaf);
        EVP_PKEY_free(key);
        return 2;
    }
    long n = 0;
    double t0 = cpu_now(), t = t0;
    while (t - t0 < secs) {
        for (int i = 0; i < 100; i++, n++) {
            if (!sign_one(leaf, key)) {
                fprintf(stderr, "certs-sign-raw: X509_sign failed\n");
                return 1;
            }
        }
        t = cpu_now();
    }
    printf("{\"signed\": %ld, \"cpu_seconds\": %.3f, \"per_cpu_second\": %.1f}\n", n, t - t0,
           (double)n / (t - t0));
    X509_free(leaf);
    EVP_PKEY_free(key);
    return 0;
}
