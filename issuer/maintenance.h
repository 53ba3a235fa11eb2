/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Housekeeping of the revocation feed, on the main thread's own store handle, at start, after
 * every reload and every MAINTENANCE_INTERVAL seconds: certificates the CRLs now list become
 * feed entries for their x5t#S256 (each certificate that ever got a token here is recorded, so
 * its tokens die at every verifier), and entries no token can need any more are pruned.
 */
#ifndef ISSUER_MAINTENANCE_H
#define ISSUER_MAINTENANCE_H

#include <stdbool.h>

#include "state.h"
#include "store.h"

#define MAINTENANCE_INTERVAL 60 /* seconds */

/* One pass; failures are logged and retried on the next. `s` NULL does nothing. */
void maintenance_run(store_t *s, const issuer_state_t *st);

/*
 * The issuing CA's CRL file (certificates.crl): rewritten when missing or a day old (its
 * nextUpdate is MESH_CRL_FILE_NEXT_S ahead). Returns true when the file changed since the
 * last pass (rewritten here, or by `mesh-issuer cert revoke`): the caller reloads the state so
 * the TLS verdict reads it.
 */
bool maintenance_certs_crl(store_t *s, const issuer_state_t *st);

#endif /* ISSUER_MAINTENANCE_H */
