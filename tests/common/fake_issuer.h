/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small HTTPS issuer the client tests control: it runs in a thread of the test process on
 * 127.0.0.1 (free port), speaks the mesh-issuer endpoints (token, JWKS, metadata, revocation
 * feed) plus /peer (echoes the caller's Authorization and certificate thumbprint), counts
 * requests per endpoint, and answers scripted errors (503, 429 + Retry-After, OAuth 4xx).
 */
#ifndef FAKE_ISSUER_H
#define FAKE_ISSUER_H

#include <stdbool.h>
#include <stdint.h>

#include <mesh/mesh.h>

typedef struct fake fake_t;

enum { FAKE_TOKEN, FAKE_JWKS, FAKE_META, FAKE_REVOCATIONS, FAKE_PEER, FAKE_CERT, FAKE_NPATHS };

/* Serves with <certdir>/issuer/{cert,key}.pem, asking for client certs from <certdir>/ca.pem;
 * signs tokens with `key`. `port` 0 picks a free one. Aborts the test on failure. */
fake_t *fake_start(const char *certdir, mesh_key_t *key, int port);
void fake_stop(fake_t *f);
const char *fake_url(fake_t *f); /* https://127.0.0.1:PORT */
int fake_port(fake_t *f);

/* The JWKS served (default: the signing key's public half) and its Cache-Control. */
void fake_set_jwks(fake_t *f, const char *json, const char *cache_control);
void fake_set_signing_key(fake_t *f, mesh_key_t *key);
void fake_set_down(fake_t *f, int path, bool down); /* answer 503 on that path */
void fake_revoke(fake_t *f, const char *jti, int64_t exp);
/* Appends one feed entry as given (a JSON object: {"sub":..,"iat_before":..,"exp":..}, ...). */
void fake_revoke_raw(fake_t *f, const char *entry_json);
/* Feed pages of `entries` (the issuer's are 1000) with "more"; 0 (default): one page. */
void fake_set_feed_page(fake_t *f, int entries);
void fake_push_reply(fake_t *f, int status, long retry_after, const char *body);
void fake_set_delay_ms(fake_t *f, int ms); /* token endpoint latency */
void fake_set_ttl(fake_t *f, int64_t ttl);
int fake_count(fake_t *f, int path);
void fake_reset_counts(fake_t *f);

/*
 * The certificate endpoint (POST /v1/certificate, the contract of issue 12), a scripted peer
 * for the renewal tests: it really signs the CSR with OpenSSL, with the CA key `ca_key_path`
 * whose certificate is `ca_cert_path` (the chain it answers is leaf + that certificate), for
 * `lifetime` seconds. Renewal: the caller's verified client certificate, same SPIFFE ID only
 * (a CSR naming another is 400 invalid_request). First issuance: the header Mesh-Join-Token
 * equal to the token set with fake_set_join_token, for `spiffe_id`, once. Until this is
 * called the endpoint answers 404. The metadata then names it (mesh_certificate_endpoint).
 */
void fake_set_cert_ca(fake_t *f, const char *ca_cert_path, const char *ca_key_path,
                      int64_t lifetime);
void fake_set_join_token(fake_t *f, const char *token, const char *spiffe_id);
/* The next answers of the certificate endpoint, in order (status + JSON body). */
void fake_push_cert_reply(fake_t *f, int status, const char *body);
/* Certificates signed from now on start `seconds` in the past (a certificate already past its
 * renewal point, for `mesh doctor`); default 0. */
void fake_set_cert_backdate(fake_t *f, int64_t seconds);
/* Certificates the endpoint signed. */
int fake_certs_issued(fake_t *f);

#endif
