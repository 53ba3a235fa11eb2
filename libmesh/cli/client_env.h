/* SPDX-License-Identifier: Apache-2.0 */
/* Options shared by the verbs that act as a mesh service (token, curl, doctor). */
#ifndef MESH_CLI_CLIENT_ENV_H
#define MESH_CLI_CLIENT_ENV_H

#include <getopt.h>
#include <stdbool.h>

/* getopt_long values 1000+ are these options; each verb lists CLI_CLIENT_OPTIONS. */
enum {
    OPT_SERVICE = 1000,
    OPT_ISSUER,
    OPT_CERT,
    OPT_KEY,
    OPT_CA,
    OPT_CERTS_DIR,
    OPT_CLIENT_ID,
    OPT_CLIENT_SECRET,
    OPT_INSECURE,
    OPT_ISSUER_ID,
};

#define CLI_CLIENT_OPTIONS                                                                         \
    {"service", required_argument, NULL, OPT_SERVICE},                                             \
        {"issuer", required_argument, NULL, OPT_ISSUER},                                           \
        {"cert", required_argument, NULL, OPT_CERT}, {"key", required_argument, NULL, OPT_KEY},    \
        {"ca", required_argument, NULL, OPT_CA},                                                   \
        {"certs-dir", required_argument, NULL, OPT_CERTS_DIR},                                     \
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},                                     \
        {"client-secret", required_argument, NULL, OPT_CLIENT_SECRET},                             \
        {"insecure-skip-hostname", no_argument, NULL, OPT_INSECURE},                               \
    {                                                                                              \
        "issuer-id", required_argument, NULL, OPT_ISSUER_ID                                        \
    }

#define CLI_CLIENT_HELP                                                                            \
    "Identity (flags override the environment):\n"                                                 \
    "  --issuer URL         MESH_ISSUER_URL   the issuer, https://host:port\n"                     \
    "  --issuer-id ID       MESH_ISSUER_ID    the issuer's SPIFFE ID; another server fails\n"      \
    "                                         before anything is sent to it\n"                     \
    "  --cert PEM           TLS_CERT_PATH     this service's certificate\n"                        \
    "  --key PEM            TLS_KEY_PATH      its private key\n"                                   \
    "  --ca PEM             TLS_CA_PATH       the mesh CA (certs/ca.pem)\n"                        \
    "  --certs-dir DIR      MESH_CERTS_DIR    mesh-ca's directory; with --service NAME\n"          \
    "  --service NAME       MESH_SERVICE      uses DIR/NAME/{cert,key}.pem and DIR/ca.pem\n"       \
    "  --client-id ID       MESH_CLIENT_ID    service token instead of the certificate\n"          \
    "  --client-secret S    MESH_CLIENT_SECRET  (prefer the variable: flags show in ps)\n"         \
    "  --insecure-skip-hostname   development only: no TLS hostname check (warns)\n"

/* Handles one of the options above (records it); false when `c` is not one of them. */
bool cli_client_opt(int c, const char *arg);

/* The resolved identity settings (after flags and environment). */
typedef struct {
    const char *service, *issuer, *client_id, *client_secret, *issuer_id;
    char *cert, *key, *ca; /* from mesh_env_identity (new strings); NULL when not found */
    bool insecure;
} cli_identity_t;

/* Resolves flags over the environment; the identity files through mesh_env_identity (a flag
 * is put into the environment variable it overrides first). Free with cli_identity_free. */
void cli_identity_resolve(cli_identity_t *id);
void cli_identity_free(cli_identity_t *id);

#include <mesh/client.h>

/* A client for `id` (max_retries < 0: the default; ttl 0: the issuer's default). */
mesh_err_t cli_make_client(const cli_identity_t *id, int max_retries, long long ttl,
                           mesh_client_t **out);

#endif
