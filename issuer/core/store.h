/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The issuer's persistent state behind a small interface, so a shared database can back
 * several issuers later. The one implementation today is SQLite (store_sqlite.c), WAL mode,
 * synchronous=FULL: a write that returned MESH_OK survives kill -9 and power loss.
 * A store handle is used from one thread at a time; each worker opens its own.
 */
#ifndef ISSUER_CORE_STORE_H
#define ISSUER_CORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mesh/error.h>
#include <mesh/limits.h>

typedef struct store store_t;

#define SVC_HASH_LEN 32 /* SHA-256 of the secret (see svc_tokens.h) */

typedef struct {
    char name[64];        /* service-token name: identity is "svc-token:<name>" */
    char client_id[64];   /* public id, e.g. "msi_<22 base64url chars>" */
    char audiences[1024]; /* comma-separated */
    char scopes[1024];    /* space-separated; "" = every scope the audience allows */
    uint8_t hash[SVC_HASH_LEN];
    uint8_t salt[16];
    uint8_t prev_hash[SVC_HASH_LEN]; /* previous secret during a rotation grace */
    uint8_t prev_salt[16];
    int64_t prev_valid_until; /* 0 = no previous secret */
    int64_t created;
    int64_t expires;
    int64_t last_used; /* 0 = never */
    bool revoked;
} svc_token_rec_t;

/* "sqlite:PATH" (the only scheme today). Creates the schema when missing. */
mesh_err_t store_open(const char *url, store_t **out);
void store_close(store_t *s);

/* Service tokens. Names are unique; client ids are unique. */
mesh_err_t store_svc_insert(store_t *s,
                            const svc_token_rec_t *rec); /* MESH_ERR_CONFIG if name exists */
mesh_err_t store_svc_get_by_name(store_t *s, const char *name,
                                 svc_token_rec_t *out); /* MESH_ERR_NOT_FOUND */
mesh_err_t store_svc_get_by_id(store_t *s, const char *client_id, svc_token_rec_t *out);
mesh_err_t store_svc_update(store_t *s, const svc_token_rec_t *rec);   /* by name */
mesh_err_t store_svc_touch(store_t *s, const char *name, int64_t now); /* last_used; may be lazy */
/* Calls fn for each record in name order; stops early when fn returns false. */
mesh_err_t store_svc_list(store_t *s, bool (*fn)(void *ctx, const svc_token_rec_t *rec), void *ctx);

/*
 * Revocations: each gets the next sequence number (1, 2, ...). Durable before returning.
 * Revoking a jti again is not an error and returns its first seq (RFC 7009 §2.2).
 */
mesh_err_t store_revoke(store_t *s, const char *jti, int64_t exp, int64_t now, int64_t *seq_out);
mesh_err_t store_is_revoked(store_t *s, const char *jti, bool *revoked);
/*
 * Entries with seq > since, in seq order, at most `max`; *last_seq = the highest seq ever
 * assigned (kept after pruning; seqs are never reused), read before the entries. When fn saw
 * `max` entries more may follow: page on from the last entry's seq, not from *last_seq.
 */
mesh_err_t store_revocations_since(store_t *s, int64_t since, size_t max,
                                   bool (*fn)(void *ctx, int64_t seq, const char *jti, int64_t exp),
                                   void *ctx, int64_t *last_seq);
/* Deletes revocations whose exp is before `now` (the token could not verify anyway), and
 * certificate records whose certificate has expired. *removed counts both. */
mesh_err_t store_prune(store_t *s, int64_t now, size_t *removed);

/*
 * Credential revocations share the feed and its seqs with jti revocations. They are kept under
 * keys a jti cannot have (jtis are base64url, without ':'), which store_rev_key_parse reads back:
 *   "sub:<iat_before>:<subject>"  every token of `subject` issued before iat_before
 *   "x5t:<x5t#S256>"              every token bound to that certificate
 * Revoking the same credential again returns its first seq.
 */
mesh_err_t store_revoke_subject(store_t *s, const char *subject, int64_t iat_before, int64_t exp,
                                int64_t now, int64_t *seq_out);
mesh_err_t store_revoke_cert(store_t *s, const char *x5t, int64_t exp, int64_t now,
                             int64_t *seq_out);

typedef enum { REV_JTI, REV_SUBJECT, REV_CERT } rev_kind_t;

/* What a feed key revokes: *value points into `key` (the jti, subject or x5t). */
rev_kind_t store_rev_key_parse(const char *key, int64_t *iat_before, const char **value);

/*
 * Certificates that got tokens, so a CRL entry (issuer + serial) can be turned into the
 * certificate's x5t#S256 and its tokens revoked. `cert_key` names issuer and serial
 * (tls_peer_t.cert_key); a record stays until the certificate's notAfter.
 */
mesh_err_t store_cert_seen(store_t *s, const char *cert_key, const char *x5t, int64_t not_after);
/* *x5t (cap bytes) of a recorded certificate; MESH_ERR_NOT_FOUND when it never got a token. */
mesh_err_t store_cert_x5t(store_t *s, const char *cert_key, char *x5t, size_t cap);

/*
 * Join tokens (first issuance, docs/CERTIFICATES.md): one-time, for one service. Only the
 * SHA-256 of the token is stored (`hash`, base64url); `id` is a public handle (a prefix of
 * the hash) for list and revoke.
 */
typedef struct {
    char id[16];
    char hash[48];
    char service[MESH_MAX_SERVICE_NAME + 1];
    int64_t created;
    int64_t expires;
    int64_t used_at; /* 0 = not used */
    bool revoked;
} join_token_rec_t;

mesh_err_t store_join_insert(store_t *s, const join_token_rec_t *rec);
/* The token with this hash, used or not (MESH_ERR_NOT_FOUND). */
mesh_err_t store_join_get(store_t *s, const char *hash, join_token_rec_t *out);
/*
 * Uses the token: succeeds (MESH_OK) for exactly one caller, when the token is unused, not
 * revoked and not expired at `now`; otherwise MESH_ERR_NOT_FOUND. Durable before returning.
 */
mesh_err_t store_join_consume(store_t *s, const char *hash, int64_t now);
mesh_err_t store_join_list(store_t *s, bool (*fn)(void *ctx, const join_token_rec_t *rec),
                           void *ctx);
mesh_err_t store_join_revoke(store_t *s, const char *id); /* MESH_ERR_NOT_FOUND */

/* Certificates this issuer signed (POST /v1/certificate), the inventory and its CRL. */
typedef struct {
    char serial[48]; /* lowercase hex */
    char spiffe_id[MESH_MAX_SPIFFE_ID + 1];
    char x5t[48];
    int64_t not_before;
    int64_t not_after;
    char auth_method[16]; /* renewal | join_token */
    int64_t revoked_at;   /* 0 = not revoked */
} issued_cert_rec_t;

mesh_err_t store_issued_insert(store_t *s, const issued_cert_rec_t *rec);
mesh_err_t store_issued_by_x5t(store_t *s, const char *x5t, issued_cert_rec_t *out);
mesh_err_t store_issued_by_serial(store_t *s, const char *serial, issued_cert_rec_t *out);
/* Marks it revoked at `now` (a second time keeps the first time); MESH_ERR_NOT_FOUND. */
mesh_err_t store_issued_revoke(store_t *s, const char *serial, int64_t now);
/* Every record (revoked_only: those revoked and not expired at `now`), by notAfter. */
mesh_err_t store_issued_list(store_t *s, bool revoked_only, int64_t now,
                             bool (*fn)(void *ctx, const issued_cert_rec_t *rec), void *ctx);

#endif /* ISSUER_CORE_STORE_H */
