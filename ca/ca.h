/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mesh-ca internals: the pieces main.c composes. Only ca/ includes this header.
 *
 * Error convention: a fallible function returns mesh_err_t and, on failure, has recorded a
 * human sentence with libmesh's mesh_err_set() (read back with mesh_err_detail()) that names
 * the input and what to do. Outputs are written only on success.
 */
#ifndef MESH_CA_H
#define MESH_CA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include <mesh/jansson.h>
#include <mesh/limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <mesh/error.h>
#include <mesh/key.h>

#define CA_WUR          __attribute__((warn_unused_result))
#define CA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define CA_EXIT_OK   0
#define CA_EXIT_WARN 1 /* check: something expires within the window */
#define CA_EXIT_ERR  2 /* bad input, or something expired/invalid */

#define CA_BACKDATE_SECS 60 /* NotBefore = now - 60 s (clock skew between hosts) */

/* ---- util.c: time, parsing, string lists ---- */

/* Parses a decimal integer in [min, max]; the whole string must be used. */
bool ca_parse_int(const char *s, long long min, long long max, long long *out) CA_WUR;
/* "30d", "12h", "90m", "45s" or a bare number of days -> seconds. */
bool ca_parse_duration(const char *s, long long *secs) CA_WUR;
/* RFC 1035 label, lowercase: [a-z0-9-]{1,63}, no hyphen at either end. */
bool ca_valid_label(const char *s);
/* Lowercase DNS name of labels (a leading "*." is allowed when wildcard is true). */
bool ca_valid_dns(const char *s, bool wildcard);
/* IPv4 or IPv6 literal. */
bool ca_is_ip(const char *s);
/* snprintf that fails (MESH_ERR_LIMIT) instead of truncating. */
mesh_err_t ca_path(char *buf, size_t size, const char *fmt, ...) CA_WUR
    __attribute__((format(printf, 3, 4)));
/* "2026-11-22" / "2026-11-22T06:27:44Z" for a time_t. */
void ca_fmt_date(time_t t, char *buf, size_t size);
void ca_fmt_time(time_t t, char *buf, size_t size);
/* ASN1_TIME -> time_t; false when it cannot be represented. */
bool ca_asn1_to_time(const ASN1_TIME *a, time_t *out);
/* "2026-11-22T06:27:44Z" -> time_t (the form ca_fmt_time writes). */
bool ca_parse_time(const char *s, time_t *out);

struct ca_strv {
    char **v;
    size_t n;
};
mesh_err_t ca_strv_add(struct ca_strv *sv, const char *s) CA_WUR; /* copies; skips duplicates */
bool ca_strv_has(const struct ca_strv *sv, const char *s);
void ca_strv_free(struct ca_strv *sv);

/* ---- key types ---- */

/* libmesh's mesh_key_type_t; names ("p256", "rsa2048", ...) from mesh_key_type_name() and
 * mesh_key_type_from_name(). Only the human label is mesh-ca's. */
const char *ca_keytype_label(mesh_key_type_t t); /* "ECDSA P-256", ... */

/* ---- template.c ---- */

struct ca_service {
    char *name;
    struct ca_strv dns; /* extra DNS SANs from the template */
    struct ca_strv ips; /* extra IP SANs from the template */
    int days;           /* 0: the template's leaf default */
    mesh_key_type_t key;
};

struct ca_template {
    char *path;
    char *trust_domain;
    /* "development": leaves also get DNS:localhost and IP:127.0.0.1 (any mesh service can then
     * answer as any other on loopback). Absent: true, as every template before the member. */
    bool development;
    mesh_key_type_t ca_key, leaf_key, jwt_key;
    int root_days, intermediate_days, leaf_days;
    struct ca_strv nc_dns; /* name_constraints.dns; empty: derived from the services */
    struct ca_service *svcs;
    size_t nsvcs;
};

/* Fills the built-in defaults (trust domain mesh.local, no services). */
mesh_err_t ca_template_defaults(struct ca_template *t) CA_WUR;
/* Reads and validates a template file; errors name the file and the key path. */
mesh_err_t ca_template_load(const char *path, struct ca_template *t) CA_WUR;
/* The same from memory (`name` labels errors); used by the template fuzz target. */
mesh_err_t ca_template_parse(const char *name, const char *buf, size_t len,
                             struct ca_template *t) CA_WUR;
void ca_template_free(struct ca_template *t);
const struct ca_service *ca_template_find(const struct ca_template *t, const char *name);
/* The template format, for `mesh-ca template --help`. */
extern const char ca_template_help[];

/* ---- mint.c: keys and X.509 building ---- */

/* What a leaf certificate says. dns/ips are the complete lists (defaults included). */
struct ca_leaf_req {
    const char *name;
    const char *trust_domain;
    const struct ca_strv *dns;
    const struct ca_strv *ips;
    int days;
};

struct ca_signer {
    X509 *cert;
    EVP_PKEY *key;
};

/* A new key from libmesh's generator (mesh_key_generate: the code whose checks verifiers run),
 * as an EVP_PKEY for the X.509 code. */
mesh_err_t ca_key_generate(mesh_key_type_t t, EVP_PKEY **out) CA_WUR;
/* The mesh key type of an OpenSSL key, after libmesh's key checks; false for any other key.
 * Leaves mesh_err_detail() as it was. */
bool ca_key_type_of(EVP_PKEY *k, mesh_key_type_t *out);
mesh_err_t ca_mint_root(EVP_PKEY *key, const char *td, int days, time_t now, X509 **out) CA_WUR;
mesh_err_t ca_mint_intermediate(EVP_PKEY *key, const struct ca_signer *root, const char *td,
                                int days, const struct ca_strv *nc_dns, time_t now,
                                X509 **out) CA_WUR;
/* The issuing CA mesh-issuer holds (`mesh-ca issuer-ca`): an intermediate of its own name
 * ("mesh-issuer issuing CA (td)"), pathlen 0, signed by the root, with the name constraints
 * of `constraints_from` (the mesh's intermediate) when it has any. */
mesh_err_t ca_mint_issuing(EVP_PKEY *key, const struct ca_signer *root, const char *td, int days,
                           X509 *constraints_from, time_t now, X509 **out) CA_WUR;
mesh_err_t ca_mint_leaf(const struct ca_leaf_req *req, EVP_PKEY *key,
                        const struct ca_signer *issuer, time_t now, X509 **out) CA_WUR;
/* As ca_mint_leaf, living `secs` seconds (req->days is not read): mesh-issuer's leaves. */
mesh_err_t ca_mint_leaf_secs(const struct ca_leaf_req *req, long long secs, EVP_PKEY *key,
                             const struct ca_signer *issuer, time_t now, X509 **out) CA_WUR;
/* The SAN list a leaf request implies, as sorted "DNS:x" / "IP:x" / "URI:x" strings. */
mesh_err_t ca_req_names(const struct ca_leaf_req *req, struct ca_strv *out) CA_WUR;
/* The SANs of a certificate, in the same form. */
mesh_err_t ca_cert_names(X509 *cert, struct ca_strv *out) CA_WUR;
/* Full chain check leaf -> intermediate -> root at `now` (name constraints included). */
mesh_err_t ca_chain_verify(X509 *leaf, X509 *inter, X509 *root, time_t now) CA_WUR;
/* Serial as lowercase hex (caller frees). */
char *ca_serial_hex(const X509 *cert);
/* Hex of the certificate's subject key identifier ("" when absent; caller frees). */
char *ca_ski_hex(X509 *cert);

/* ---- files.c: atomic writes, permissions, two-file commits ---- */

/* Test hook: MESH_CA_TEST_CRASH_AFTER=N kills the process (SIGKILL) at the N-th write step. */
void ca_crash_point(void);
/* Creates `dir` with mode 0700 (or checks it): a directory holding keys must not be group- or
 * world-accessible; with fix it is chmod'ed to 0700, otherwise refused. */
mesh_err_t ca_dir_ensure(const char *dir, bool create, bool fix) CA_WUR;
/* temp file (mode set before any byte) + fsync + rename over `path`. */
mesh_err_t ca_write_atomic(const char *path, const void *buf, size_t len, mode_t mode) CA_WUR;
/* Loads a private key; a key file readable by group/other is refused (or fixed). */
mesh_err_t ca_load_key(const char *path, bool fix, EVP_PKEY **out) CA_WUR;
/* Checks a key file's mode without loading it (for up-front validation). */
mesh_err_t ca_check_key_mode(const char *path, bool fix) CA_WUR;
mesh_err_t ca_load_cert(const char *path, X509 **out) CA_WUR;
mesh_err_t ca_load_pubkey(const char *path, EVP_PKEY **out) CA_WUR;
bool ca_exists(const char *path);
/* Parses a JSON file of at most `max` bytes, duplicate members rejected. */
mesh_err_t ca_load_json(const char *path, size_t max, json_t **out) CA_WUR;
/* PEM encodings in memory; key buffers are wiped by ca_pem_free. */
struct ca_pem {
    char *data;
    size_t len;
};
mesh_err_t ca_pem_key(EVP_PKEY *k, struct ca_pem *out) CA_WUR;
mesh_err_t ca_pem_pubkey(EVP_PKEY *k, struct ca_pem *out) CA_WUR;
mesh_err_t ca_pem_certs(X509 *a, X509 *b, struct ca_pem *out) CA_WUR;
void ca_pem_free(struct ca_pem *p);
/*
 * Replaces <dir>/<keyname> and <dir>/<pubname> as one unit: both are staged as *.new, then
 * renamed key first. ca_pair_recover() finishes or undoes a commit a crash interrupted.
 * key may be NULL (keep the key; only the certificate/public file changes).
 */
mesh_err_t ca_pair_commit(const char *dir, const char *keyname, const struct ca_pem *key,
                          const char *pubname, const struct ca_pem *pub) CA_WUR;
mesh_err_t ca_pair_recover(const char *dir, const char *keyname, const char *pubname) CA_WUR;
/* Hard-links <path> to <path>.<stamp>.bak (the dated backup renew keeps). */
mesh_err_t ca_backup(const char *path, time_t now) CA_WUR;

/* ---- index.c: certs/index.json ---- */

mesh_err_t ca_index_load(const char *dir, json_t **out) CA_WUR;
mesh_err_t ca_index_save(const char *dir, json_t *idx) CA_WUR;
/* Records a certificate as the current one for `service` ("" for CA certs: kind says). */
mesh_err_t ca_index_record(json_t *idx, const char *kind, const char *service, X509 *cert) CA_WUR;
/* The entry with this serial, or NULL. */
json_t *ca_index_find(json_t *idx, const char *serial);
bool ca_index_is_revoked(json_t *idx, const char *serial);

/* ---- crl.c ---- */

/* Marks `serial` revoked in the index (reason: RFC 5280 §5.3.1 name). */
mesh_err_t ca_revoke_entry(json_t *idx, const char *serial, const char *reason, time_t now) CA_WUR;
/* Writes <dir>/crl.pem signed by the intermediate, listing its revoked serials. */
mesh_err_t ca_crl_write(const char *dir, json_t *idx, const struct ca_signer *inter,
                        time_t now) CA_WUR;
bool ca_reason_valid(const char *reason);

/* ---- the commands (mesh.c, init.c, cmds.c, report.c) ---- */

struct ca_opts {
    const char *dir;           /* --dir, default "certs" */
    const char *template_path; /* --template */
    time_t now;                /* --now / MESH_CA_NOW, else time(NULL) */
    bool force, force_ca, fix_perms, keep_key, json, name_constraints, all;
    bool jwt_key_set, key_set;
    mesh_key_type_t jwt_key, key;
    long long within; /* seconds; -1 when not given */
    int days;         /* 0 when not given */
    struct ca_strv sans;
    const char *reason;
    char **args;
    int nargs;
};

struct ca_mesh {
    const struct ca_opts *o;
    char dir[MESH_MAX_PATH];
    char *trust_domain;
    struct ca_signer root, inter;
    json_t *idx;
};

enum ca_status {
    CA_ST_OK,
    CA_ST_EXPIRING,
    CA_ST_MISSING,
    CA_ST_OUTDATED, /* valid, but not what the template asks for */
    CA_ST_REVOKED,
    CA_ST_EXPIRED,
    CA_ST_INVALID,
};

struct ca_item {
    char name[80];
    const char *kind; /* "root", "intermediate", "leaf", "jwt", "crl" */
    enum ca_status st;
    char why[400];
    time_t not_after;
    char key[16];
    char serial[48];
    char spiffe[320];
    bool loopback; /* leaf: carries DNS:localhost, a 127/8 or ::1 IP SAN */
};

/* mesh.c */
mesh_err_t ca_mesh_open(struct ca_mesh *m, const struct ca_opts *o, bool create, bool write) CA_WUR;
/* Loads root and intermediate (both must be there and match their keys). */
mesh_err_t ca_mesh_load_ca(struct ca_mesh *m) CA_WUR;
void ca_mesh_close(struct ca_mesh *m);
/* Service directories present under the mesh dir, sorted. */
mesh_err_t ca_mesh_services(const struct ca_mesh *m, struct ca_strv *out) CA_WUR;
/* Mints key (unless kept) + leaf, verifies the chain, commits, records in the index. */
mesh_err_t ca_leaf_issue(struct ca_mesh *m, const struct ca_leaf_req *req, mesh_key_type_t kt,
                         bool keep_key, bool backup, const char *verb) CA_WUR;
/* Full SAN lists for a service: its name, the loopback names (localhost, 127.0.0.1) when
 * `development`, plus the extras. */
mesh_err_t ca_leaf_names(const char *name, bool development, const struct ca_strv *xdns,
                         const struct ca_strv *xips, struct ca_strv *dns,
                         struct ca_strv *ips) CA_WUR;
/* The mesh's mode as init recorded it in index.json; a mesh from before the member: true. */
bool ca_mesh_development(const struct ca_mesh *m);
/* The one-line notice init and issue print for a development mesh. */
void ca_say_development(void);

/* The DNS/IP SANs and lifetime (days) of an existing leaf, to issue it again (init.c). */
mesh_err_t ca_leaf_from_cert(const char *certpath, struct ca_strv *dns, struct ca_strv *ips,
                             int *days) CA_WUR;

/* report.c */
void ca_inspect_leaf(struct ca_mesh *m, const char *svc, const struct ca_leaf_req *want,
                     const mesh_key_type_t *want_key, struct ca_item *it);
void ca_inspect_ca(struct ca_mesh *m, bool root, struct ca_item *it);
void ca_print_summary(struct ca_mesh *m);

/* crl.c: nextUpdate of DIR/crl.pem (*exists false when there is none). */
mesh_err_t ca_crl_next_update(const char *dir, bool *exists, time_t *next) CA_WUR;
/* true when DIR/crl.pem exists and is unreadable, expired or close to its nextUpdate. */
bool ca_crl_due(const char *dir, time_t now);

int ca_cmd_init(const struct ca_opts *o);
int ca_cmd_issue(const struct ca_opts *o);
int ca_cmd_renew(const struct ca_opts *o);
int ca_cmd_revoke(const struct ca_opts *o);
int ca_cmd_list(const struct ca_opts *o);
int ca_cmd_check(const struct ca_opts *o);
int ca_cmd_issuer_ca(const struct ca_opts *o); /* issuer_ca.c */

#endif /* MESH_CA_H */
