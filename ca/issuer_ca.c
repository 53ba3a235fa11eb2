/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `mesh-ca issuer-ca`: the issuing intermediate mesh-issuer holds to sign certificates online
 * (docs/CERTIFICATES.md). The root key stays here, with mesh-ca; the issuer gets only
 * DIR/issuing-ca.pem and DIR/issuing-ca.key (0600 from the first byte, ca_pair_commit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"

#define ISSUING_DAYS_DEFAULT 365

int ca_cmd_issuer_ca(const struct ca_opts *o)
{
    struct ca_mesh m;
    struct ca_signer s = {0};
    struct ca_pem kp = {0}, cp = {0};
    char path[MESH_MAX_PATH];
    mesh_key_type_t kt = o->key_set ? o->key : MESH_KEY_P256;
    int days = o->days ? o->days : ISSUING_DAYS_DEFAULT;
    mesh_err_t rc = ca_mesh_open(&m, o, false, true);

    if (rc == MESH_OK) {
        rc = ca_mesh_load_ca(&m);
    }
    if (rc == MESH_OK && m.trust_domain == NULL) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "%s: cannot tell the trust domain (index.json lost?); run `mesh-ca init`",
                          m.dir);
    }
    if (rc == MESH_OK &&
        (rc = ca_path(path, sizeof(path), "%s/issuing-ca.pem", m.dir)) == MESH_OK &&
        ca_exists(path) && !o->force) {
        rc = mesh_err_set(MESH_ERR_CONFIG,
                          "%s exists; mesh-issuer may be signing with it. Use --force to replace "
                          "it (certificates it signed stay valid until they expire)",
                          path);
    }
    if (rc == MESH_OK && (rc = ca_key_generate(kt, &s.key)) == MESH_OK &&
        (rc = ca_mint_issuing(s.key, &m.root, m.trust_domain, days, m.inter.cert, o->now,
                              &s.cert)) == MESH_OK &&
        (rc = ca_pem_key(s.key, &kp)) == MESH_OK &&
        (rc = ca_pem_certs(s.cert, NULL, &cp)) == MESH_OK) {
        rc = ca_pair_commit(m.dir, "issuing-ca.key", &kp, "issuing-ca.pem", &cp);
    }
    if (rc == MESH_OK) {
        char date[16], *serial = ca_serial_hex(s.cert);
        time_t na = 0;
        (void)ca_asn1_to_time(X509_get0_notAfter(s.cert), &na);
        ca_fmt_date(na, date, sizeof(date));
        if (o->json) {
            printf("{\"cert\":\"%s/issuing-ca.pem\",\"key\":\"%s/issuing-ca.key\","
                   "\"serial\":\"%s\",\"not_after\":%lld}\n",
                   m.dir, m.dir, serial ? serial : "", (long long)na);
        } else {
            printf("  created   %s/issuing-ca.key (mode 0600)\n"
                   "  created   %s/issuing-ca.pem (issuing CA for mesh-issuer, %s, expires %s)\n"
                   "  next      point mesh-issuer's certificates.ca_cert / ca_key at them; the\n"
                   "            root key %s/ca.key stays here\n",
                   m.dir, m.dir, mesh_key_type_name(kt), date, m.dir);
        }
        free(serial);
    } else {
        fprintf(stderr, "mesh-ca issuer-ca: %s\n", mesh_err_detail());
    }
    ca_pem_free(&kp);
    ca_pem_free(&cp);
    X509_free(s.cert);
    EVP_PKEY_free(s.key);
    ca_mesh_close(&m);
    return rc == MESH_OK ? CA_EXIT_OK : CA_EXIT_ERR;
}
