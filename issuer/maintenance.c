/* SPDX-License-Identifier: Apache-2.0 */
#include "maintenance.h"

#include <stdint.h>
#include <time.h>

#include <mesh/jansson.h>

#include <mesh/x509.h>

#include "log.h"

void maintenance_run(store_t *s, const issuer_state_t *st)
{
    if (s == NULL) {
        return;
    }
    const config_t *cfg = st->cfg;
    int64_t now = (int64_t)time(NULL);
    int64_t longest = (cfg->ttl_max > cfg->svc_ttl_max ? cfg->ttl_max : cfg->svc_ttl_max);
    const char *const *keys = NULL;
    size_t n = tls_ctx_revoked(st->tls, &keys), added = 0;
    for (size_t i = 0; i < n; i++) {
        char x5t[MESH_X5T_LEN + 1];
        mesh_err_t rc = store_cert_x5t(s, keys[i], x5t, sizeof(x5t));
        if (rc == MESH_ERR_NOT_FOUND) {
            continue; /* never got a token here, or expired: nothing to revoke */
        }
        int64_t seq = 0;
        if (rc == MESH_OK) {
            rc = store_revoke_cert(s, x5t, now + longest + cfg->skew + 1, now, &seq);
        }
        if (rc != MESH_OK) {
            log_msg(LOG_ERROR, "cannot revoke a certificate's tokens", "%s; retried in %d s",
                    mesh_err_detail(), MAINTENANCE_INTERVAL);
            break;
        }
        added++;
    }
    size_t removed = 0;
    if (store_prune(s, now - cfg->skew - 1, &removed) != MESH_OK) {
        log_msg(LOG_WARN, "cannot prune revocations", "%s", mesh_err_detail());
    }
    if (added > 0 || removed > 0) {
        log_json(LOG_INFO, "revocations maintained",
                 json_pack("{s:I, s:I}", "revoked_certificates", (json_int_t)added, "pruned",
                           (json_int_t)removed));
    }
}
