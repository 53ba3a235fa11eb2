/* SPDX-License-Identifier: Apache-2.0 */
/* The join-token and cert verbs of mesh-issuer (online issuance, docs/CERTIFICATES.md). */
#ifndef ISSUER_CERTS_CLI_H
#define ISSUER_CERTS_CLI_H

/* argv[1] is "join-token" or "cert"; returns the exit status (0, 1 failed, 2 usage). */
int certs_cli(int argc, char **argv);

#endif /* ISSUER_CERTS_CLI_H */
