/* SPDX-License-Identifier: Apache-2.0 */
#include "maintenance.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <mesh/jansson.h>

#include <mesh/x509.h>

#include "certs.h"
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

#define CRL_REWRITE_AGE_S 86400

/* mtime (ns) of certificates.crl at the last pass (main thread only) */
static int64_t crl_seen;

static int64_t mtime_ns(const struct stat *sb)
{
    return (int64_t)sb->st_mtim.tv_sec * 1000000000 + (int64_t)sb->st_mtim.tv_nsec;
}

bool maintenance_certs_crl(store_t *s, const issuer_state_t *st)
{
    const cfg_certs_t *cc = &st->cfg->certs;
    time_t now = time(NULL);
    struct stat sb;
    bool present;

    if (s == NULL || !cc->enabled || st->issuing == NULL) {
        return false;
    }
    present = stat(cc->crl, &sb) == 0;
    if (!present || now - sb.st_mtime >= CRL_REWRITE_AGE_S) {
        if (certs_crl_write(st->issuing, s, cc->crl, (int64_t)now) != MESH_OK) {
            log_msg(LOG_ERROR, "cannot write the issuing CA's CRL", "%s; retried in %d s",
                    mesh_err_detail(), MAINTENANCE_INTERVAL);
            return false;
        }
        log_msg(LOG_INFO, "CRL written", "%s", cc->crl);
        /* written here: the running TLS verdict has the old one (or none) */
        crl_seen = stat(cc->crl, &sb) == 0 ? mtime_ns(&sb) : 0;
        return true;
    }
    if (!present) {
        return false;
    }
    if (crl_seen == 0) {
        crl_seen = mtime_ns(&sb); /* the state just loaded has read it */
        return false;
    }
    if (mtime_ns(&sb) == crl_seen) {
        return false;
    }
    crl_seen = mtime_ns(&sb);
    return true;
}
