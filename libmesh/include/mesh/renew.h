/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificates that renew themselves: a new key and a CSR sent to mesh-issuer's certificate
 * endpoint (POST /v1/certificate), authenticated by the current certificate (renewal: the same
 * SPIFFE ID only) or, the first time, by a one-time join token; the answer written in place so
 * that no reader ever sees a key and a certificate that do not belong together.
 *
 * The pair on disk (docs/OPERATIONS.md "Certificate lifecycle"): the new key is written to
 * <key>.new (mode 0600 from the first byte) and the new chain to <cert>.new, both fsync()ed;
 * then <cert>.new is renamed over <cert> and <key>.new over <key>, and the directory is
 * fsync()ed. Between the two renames a reader can see the new certificate with the old key:
 * mesh_identity_read_pair (and every libmesh reader: the client, the examples' HTTPS server)
 * checks that the two match and reads again until they do. A renewal that stopped between the
 * renames (a crash) is completed by the next mesh_renew_once or mesh_renewer_new: a <key>.new
 * that matches <cert> is moved into place.
 */
#ifndef MESH_RENEW_H
#define MESH_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/client.h>
#include <mesh/error.h>
#include <mesh/key.h>
#include <mesh/limits.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Renewal options: an opaque handle with the defaults, set one option at a time. Each setter
 * checks its value and returns MESH_ERR_INVALID_ARG or MESH_ERR_CONFIG naming the option (the
 * option keeps its previous value then); string setters copy (NULL unsets an optional one).
 * None of these calls blocks. Not thread-safe; the functions below copy what they need.
 */
typedef struct mesh_renew_opts mesh_renew_opts_t;

/* A new options handle with the defaults below. MESH_ERR_NOMEM. */
MESH_WUR mesh_err_t mesh_renew_opts_new(mesh_renew_opts_t **out);
/* Wipes the join token and frees. NULL-safe. */
void mesh_renew_opts_free(mesh_renew_opts_t *o);

/* Required: https://host:port of mesh-issuer (MESH_ERR_CONFIG when not https://). */
MESH_WUR mesh_err_t mesh_renew_opts_set_issuer_url(mesh_renew_opts_t *o, const char *url);
/* Required: the mesh trust anchor (certs/ca.pem): the issuer's TLS certificate and the new
 * certificate must chain to it. */
MESH_WUR mesh_err_t mesh_renew_opts_set_ca_path(mesh_renew_opts_t *o, const char *path);
/* Required: where the certificate chain (leaf first) and its private key live and are
 * written. */
MESH_WUR mesh_err_t mesh_renew_opts_set_cert_path(mesh_renew_opts_t *o, const char *path);
MESH_WUR mesh_err_t mesh_renew_opts_set_key_path(mesh_renew_opts_t *o, const char *path);
/* Optional: a one-time join token ("mjt_" + 43 base64url characters) for the first issuance,
 * used when there is no valid certificate yet. Copied, wiped when replaced and on free, never
 * logged. MESH_ERR_CONFIG for another shape. */
MESH_WUR mesh_err_t mesh_renew_opts_set_join_token(mesh_renew_opts_t *o, const char *token);
/* The type of each new key; default MESH_KEY_P256. MESH_ERR_INVALID_ARG for an unknown one. */
MESH_WUR mesh_err_t mesh_renew_opts_set_key_type(mesh_renew_opts_t *o, mesh_key_type_t type);
/* Renew this far into a certificate's lifetime, in (0, 1); default 2/3. */
MESH_WUR mesh_err_t mesh_renew_opts_set_fraction(mesh_renew_opts_t *o, double fraction);
/* The renewal point is spread over +-jitter/2 of the lifetime around the fraction, in
 * [0, 0.5]; default 0.1 (a 24 h certificate renews between 14.8 h and 17.2 h). */
MESH_WUR mesh_err_t mesh_renew_opts_set_jitter(mesh_renew_opts_t *o, double jitter);
/* While the issuer is down: the first wait in ms, > 0 (default 1000; doubles, with jitter),
 * and the longest, > 0 (default 300000); checked max >= base when used. The retries go on
 * until the certificate expires. */
MESH_WUR mesh_err_t mesh_renew_opts_set_retry_base_ms(mesh_renew_opts_t *o, int64_t ms);
MESH_WUR mesh_err_t mesh_renew_opts_set_retry_max_ms(mesh_renew_opts_t *o, int64_t ms);
/* One request to the issuer, > 0; default 10000 ms. */
MESH_WUR mesh_err_t mesh_renew_opts_set_timeout_ms(mesh_renew_opts_t *o, int64_t ms);

/* What a renewal brought (or, from mesh_renewer_info, the certificate in place). */
typedef struct {
    int64_t not_before, not_after; /* seconds since the epoch */
    int64_t renew_at;              /* when the renewer renews it (0 from mesh_renew_once) */
    char serial[MESH_MAX_SERIAL_HEX + 1];
    char spiffe_id[MESH_MAX_SPIFFE_ID + 1];
} mesh_renew_info_t;

/*
 * One renewal: a new key of key_type, a CSR for the current certificate's SPIFFE ID (none with
 * a join token and no usable certificate: the issuer knows the service from the token), sent
 * over mTLS with the current pair when it is valid, else with the join token; the answer
 * checked (the leaf is for the new key, chains to the CA, and keeps the SPIFFE ID) and written
 * as described at the top. *info (optional) is filled on success. Errors:
 * MESH_ERR_ISSUER_ERROR with the issuer's HTTP status, error and error_description in the
 * detail (503 temporarily_unavailable is worth a retry, 4xx is not); MESH_ERR_NETWORK /
 * MESH_ERR_TLS; MESH_ERR_CONFIG (options); MESH_ERR_CERT when there is neither a valid
 * certificate nor a join token (the detail says which, and what to do). Nothing is written
 * on failure. No retry here (see mesh_renewer_new). Blocks: on the issuer (up to timeout_ms)
 * and the file system. Thread-safe for different paths; two renewals of one pair at once are
 * the caller's to avoid.
 */
MESH_WUR mesh_err_t mesh_renew_once(const mesh_renew_opts_t *o, mesh_renew_info_t *info);

/*
 * Reads a certificate chain and its key so that they belong together: reads both, checks the
 * key is the leaf's, and reads again (up to MESH_RENEW_READ_TRIES times, 10 ms apart) while a
 * renewal stands between its two renames. *cert_pem and *key_pem are new NUL-terminated
 * buffers (mesh_free(); wipe the key's with mesh_wipe first), *cert_len / *key_len optional.
 * MESH_ERR_IO / MESH_ERR_LIMIT naming the file, MESH_ERR_CERT_KEY_MISMATCH when they never
 * match. Blocks on the file system. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_identity_read_pair(const char *cert_path, const char *key_path,
                                            char **cert_pem, size_t *cert_len, char **key_pem,
                                            size_t *key_len);

/*
 * The renewal point of a certificate valid from not_before to not_after under `o`'s fraction
 * and jitter, with `u` in [0, 1] choosing within the jitter (the renewer draws it at random):
 * not_before + lifetime * (fraction - jitter/2 + u * jitter), never before not_before nor
 * after not_after - 1. Does not block.
 */
int64_t mesh_renew_point(const mesh_renew_opts_t *o, int64_t not_before, int64_t not_after,
                         double u);

/*
 * The wait before retry number `attempt` (0 = the first) while the issuer is down:
 * retry_base_ms * 2^attempt capped at retry_max_ms, then taken in [d/2, d] by `u` in [0, 1].
 * Does not block.
 */
int64_t mesh_renew_backoff_ms(const mesh_renew_opts_t *o, int attempt, double u);

/*
 * The certificate in `cert_path` (its first) as a renewer would schedule it under `o` (NULL:
 * the defaults): validity, serial, SPIFFE ID, and renew_at the latest renewal point of the
 * jitter range (u = 1): a certificate still in place after it is overdue, its renewal is
 * failing (`mesh doctor` warns). MESH_ERR_IO / MESH_ERR_CERT naming the file. Blocks on the
 * file system. Thread-safe.
 */
MESH_WUR mesh_err_t mesh_certfile_renewal(const char *cert_path, const mesh_renew_opts_t *o,
                                          mesh_renew_info_t *info);

/*
 * A background renewer: a thread that renews the pair at its renewal point (at once when the
 * certificate is missing, expired or past it and a renewal is possible), retries with backoff
 * while the issuer is down or answers 503, until the certificate expires, and calls `cb`
 * after each attempt that ends (a renewal: rc MESH_OK and the new info; a failure the thread
 * will retry: rc and the detail in mesh_err_detail(); a failure it gives up on (a 4xx answer,
 * an expired certificate and no join token): rc, `final` true, and the thread stops renewing).
 * The callback runs on the renewer's thread: keep it short; it may read the new files. A
 * join token is used once: after the first issuance, renewals use the certificate.
 */
typedef struct mesh_renewer mesh_renewer_t;
typedef void (*mesh_renew_cb_t)(void *arg, mesh_err_t rc, bool final,
                                const mesh_renew_info_t *info);

/*
 * Starts a renewer. `o` is copied (checked as mesh_renew_once checks it); `cb` optional.
 * Reads the current certificate (when there is one) to schedule the first renewal. Blocks on
 * the file system only. MESH_ERR_CONFIG, MESH_ERR_NOMEM, MESH_ERR_INTERNAL (thread).
 */
MESH_WUR mesh_err_t mesh_renewer_new(const mesh_renew_opts_t *o, mesh_renew_cb_t cb, void *arg,
                                     mesh_renewer_t **out);
/* Stops the thread and frees. NULL-safe. Not from the callback. Blocks until the thread has
 * stopped: a renewal in flight is finished first (at most timeout_ms on the issuer). */
void mesh_renewer_free(mesh_renewer_t *r);
/* Renew now, whatever the schedule (e.g. on SIGHUP). Thread-safe, does not block. */
void mesh_renewer_kick(mesh_renewer_t *r);
/* The certificate in place as the renewer last saw it, with its renewal point; MESH_ERR_CERT
 * when there is none yet. Thread-safe, does not block. */
MESH_WUR mesh_err_t mesh_renewer_info(mesh_renewer_t *r, mesh_renew_info_t *info);

typedef enum {
    MESH_RENEW_STAT_RENEWALS = 0, /* certificates written */
    MESH_RENEW_STAT_ATTEMPTS = 1, /* requests sent to the issuer */
    MESH_RENEW_STAT_FAILURES = 2, /* attempts that failed */
} mesh_renew_stat_t;

/* One counter; 0 for an unknown one or a NULL renewer. Thread-safe, does not block. */
uint64_t mesh_renewer_stat(const mesh_renewer_t *r, mesh_renew_stat_t which);

/*
 * The mesh client (client.h) renewing its own certificate. With renew on, mesh_client_new
 * runs a renewer for the client's cert_path/key_path (the defaults above; CA and issuer from
 * the client's options) and, after each renewal, swaps the new pair into its TLS: requests in
 * flight finish on their connections, new connections present the new certificate, and the
 * cached tokens bound to the old certificate (cnf x5t#S256) are dropped, so the next request
 * fetches one bound to the new. With a join token and no valid certificate yet,
 * mesh_client_new first gets one (blocking on the issuer, as mesh_renew_once) and then starts
 * as usual. mesh_client_from_env: MESH_RENEW=1 turns renewal on, MESH_JOIN_TOKEN sets the
 * token (and turns it on). Not in service-token mode (MESH_ERR_CONFIG).
 */
MESH_WUR mesh_err_t mesh_client_opts_set_renew(mesh_client_opts_t *o, bool renew);
/* A one-time join token for the first certificate (mesh_renew_opts_set_join_token's rules);
 * copied, wiped, never logged. NULL unsets. */
MESH_WUR mesh_err_t mesh_client_opts_set_join_token(mesh_client_opts_t *o, const char *token);
/* The client's renewer's counters (mesh_renewer_stat); 0 when the client does not renew.
 * Thread-safe, does not block. */
uint64_t mesh_client_renew_stat(const mesh_client_t *c, mesh_renew_stat_t which);

#ifdef __cplusplus
}
#endif
#endif /* MESH_RENEW_H */
