/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One entry of "issuers": the mesh issuer ("kind": "mesh"), an external OpenID provider
 * ("oidc": discovery or a JWKS URL, its own audiences, algorithms, typ, required claims and
 * claims mapped to headers, or a legacy HS256 key file), or legacy API keys ("api-keys").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <mesh/limits.h>

#include "cfg_json.h"
#include "config.h"
#include "secret.h"

static bool parse_jwks(cfg_t *c, issuer_t *is, const json_t *o, const char *path)
{
    json_t *j;
    if (!cfg_object(c, o, path, "jwks", false, &j)) {
        return false;
    }
    is->jwks_src = MESH_JWKS_FROM_ISSUER;
    if (j == NULL) {
        return true;
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "jwks");
    static const char *const known[] = {"url", "file", NULL};
    char *url = NULL, *file = NULL;
    if (!cfg_known(c, j, p, known) || !cfg_str(c, j, p, "url", false, &url) ||
        !cfg_file(c, j, p, "file", false, &file)) {
        free(url);
        free(file);
        return false;
    }
    if ((url == NULL) == (file == NULL)) {
        free(url);
        free(file);
        return cfg_fail(c, p,
                        "needs exactly one of \"url\" (https://) or \"file\"; leave "
                        "\"jwks\" out to follow the issuer's metadata");
    }
    is->jwks_src = url != NULL ? MESH_JWKS_FROM_URL : MESH_JWKS_FROM_FILE;
    is->jwks_loc = url != NULL ? url : file;
    if (url != NULL && strncmp(url, "https://", 8) != 0) {
        char q[CFG_PATH];
        cfg_join(q, sizeof(q), p, "url");
        return cfg_fail(c, q, "'%s' must be an https:// URL", url);
    }
    return true;
}

/* "jwks_cache": {"max_age_min", "max_age_max", "stale_if_error", "cooldown_ms"}. */
static bool parse_cache(cfg_t *c, issuer_t *is, const json_t *o, const char *path)
{
    json_t *j;
    is->max_age_min = is->max_age_max = is->stale_s = is->cooldown_ms = -1;
    if (!cfg_object(c, o, path, "jwks_cache", false, &j)) {
        return false;
    }
    if (j == NULL) {
        return true;
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "jwks_cache");
    static const char *const known[] = {"max_age_min", "max_age_max", "stale_if_error",
                                        "cooldown_ms", NULL};
    const int64_t day = 86400;
    if (!cfg_known(c, j, p, known) ||
        !cfg_int(c, j, p, "max_age_min", 10, 0, day, &is->max_age_min) ||
        !cfg_int(c, j, p, "max_age_max", 3600, 0, day, &is->max_age_max) ||
        !cfg_int(c, j, p, "stale_if_error", day, 0, 7 * day, &is->stale_s) ||
        !cfg_int(c, j, p, "cooldown_ms", 30000, 0, MESH_MAX_OPT_MS, &is->cooldown_ms)) {
        return false;
    }
    if (is->max_age_max < is->max_age_min) {
        return cfg_fail(c, p, "max_age_max (%lld) is below max_age_min (%lld)",
                        (long long)is->max_age_max, (long long)is->max_age_min);
    }
    return true;
}

static bool parse_token_header(cfg_t *c, issuer_t *is, const json_t *o, const char *path,
                               const char *key)
{
    if (!cfg_str(c, o, path, key, false, &is->token_header)) {
        return false;
    }
    if (is->token_header == NULL) {
        return true;
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, key);
    size_t n = strlen(is->token_header);
    if (n > MESH_AUTHZ_MAX_HEADER_NAME ||
        strspn(is->token_header, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789-") != n) {
        return cfg_fail(c, p, "'%s' must be a header name (letters, digits, '-'; at most %d)",
                        is->token_header, MESH_AUTHZ_MAX_HEADER_NAME);
    }
    if (strcasecmp(is->token_header, "Authorization") == 0) {
        free(is->token_header); /* the default: "Bearer <token>" */
        is->token_header = NULL;
    }
    return true;
}

/* The words of an array, space-separated (NULL when absent). */
static bool joined_words(cfg_t *c, const json_t *o, const char *path, const char *key, char **out)
{
    char **w = NULL;
    size_t n = 0;
    *out = NULL;
    if (!cfg_words(c, o, path, key, &w, &n)) {
        cfg_free_strs(w, n);
        return false;
    }
    size_t len = 1;
    for (size_t i = 0; i < n; i++) {
        len += strlen(w[i]) + 1;
    }
    if (n > 0 && (*out = calloc(1, len)) != NULL) {
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
            int k = snprintf(*out + used, len - used, "%s%s", i ? " " : "", w[i]);
            used += k > 0 ? (size_t)k : 0; /* sized above: it fits */
        }
    }
    cfg_free_strs(w, n);
    return n == 0 || *out != NULL || cfg_fail(c, path, "out of memory");
}

static bool header_name_ok(const char *h)
{
    size_t n = strlen(h);
    static const char *const fixed[] = {"X-Mesh-Subject",   "X-Mesh-Client-Id", "X-Mesh-Audience",
                                        "X-Mesh-Scopes",    "X-Mesh-Token-Id",  "X-Mesh-Bound",
                                        "Authorization",    "Content-Type",     "Content-Length",
                                        "WWW-Authenticate", "Retry-After",      NULL};
    for (size_t i = 0; fixed[i] != NULL; i++) {
        if (strcasecmp(fixed[i], h) == 0) {
            return false;
        }
    }
    return n > 0 && n <= MESH_AUTHZ_MAX_HEADER_NAME &&
           strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

static bool parse_claims(cfg_t *c, issuer_t *is, const json_t *o, const char *path)
{
    json_t *m = NULL;
    if (!cfg_object(c, o, path, "claims_to_headers", false, &m)) {
        return false;
    }
    if (m == NULL) {
        return true;
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "claims_to_headers");
    if (json_object_size(m) > MESH_AUTHZ_MAX_LIST) {
        return cfg_fail(c, p, "at most %d claims (MESH_AUTHZ_MAX_LIST)", MESH_AUTHZ_MAX_LIST);
    }
    is->claims = calloc(json_object_size(m) + 1, sizeof(claim_header_t));
    if (is->claims == NULL) {
        return cfg_fail(c, p, "out of memory");
    }
    const char *claim;
    json_t *v;
    json_object_foreach(m, claim, v)
    {
        char q[CFG_PATH];
        cfg_join(q, sizeof(q), p, claim);
        if (strlen(claim) == 0 || strlen(claim) > MESH_MAX_CLAIM_NAME) {
            return cfg_fail(c, q, "a claim name is 1..%d bytes", MESH_MAX_CLAIM_NAME);
        }
        if (!json_is_string(v) || !header_name_ok(json_string_value(v))) {
            return cfg_fail(c, q,
                            "must be a header name such as \"X-Mesh-User-Email\" (letters, "
                            "digits, '-', at most %d; not one of mesh-authz's own X-Mesh-* "
                            "identity headers)",
                            MESH_AUTHZ_MAX_HEADER_NAME);
        }
        for (size_t k = 0; k < is->n_claims; k++) {
            if (strcasecmp(is->claims[k].header, json_string_value(v)) == 0) {
                return cfg_fail(c, q, "header '%s' is used twice", json_string_value(v));
            }
        }
        claim_header_t *ch = &is->claims[is->n_claims++];
        ch->claim = strdup(claim);
        ch->header = strdup(json_string_value(v));
        if (ch->claim == NULL || ch->header == NULL) {
            return cfg_fail(c, q, "out of memory");
        }
    }
    return true;
}

static bool parse_oidc(cfg_t *c, issuer_t *is, const json_t *o, const char *path)
{
    static const char *const known[] = {"kind",
                                        "url",
                                        "discovery",
                                        "jwks",
                                        "ca",
                                        "audiences",
                                        "algorithms",
                                        "typ",
                                        "required_claims",
                                        "claims_to_headers",
                                        "hmac_key_file",
                                        "max_lifetime",
                                        "token_header",
                                        "binding",
                                        "jwks_cache",
                                        NULL};
    bool discovery = false;
    char *hmac = NULL, *binding = NULL;
    int64_t life;
    char p[CFG_PATH];
    if (!cfg_known(c, o, path, known) || !cfg_str(c, o, path, "url", true, &is->url) ||
        !cfg_bool(c, o, path, "discovery", false, &discovery) || !parse_jwks(c, is, o, path) ||
        !cfg_file(c, o, path, "ca", false, &is->ca) ||
        !joined_words(c, o, path, "audiences", &is->audiences) ||
        !joined_words(c, o, path, "algorithms", &is->algorithms) ||
        !joined_words(c, o, path, "typ", &is->typ) ||
        !joined_words(c, o, path, "required_claims", &is->required_claims) ||
        !parse_claims(c, is, o, path) || !cfg_file(c, o, path, "hmac_key_file", false, &hmac) ||
        !cfg_int(c, o, path, "max_lifetime", 0, 0, 86400, &life) ||
        !parse_token_header(c, is, o, path, "token_header") ||
        !cfg_str(c, o, path, "binding", false, &binding) || !parse_cache(c, is, o, path)) {
        free(hmac);
        free(binding);
        return false;
    }
    is->max_lifetime = life;
    is->own_audiences = is->audiences != NULL;
    if (is->own_audiences) {
        for (const char *q = is->audiences; *q; q++) {
            is->n_audiences += *q == ' ';
        }
        is->n_audiences++;
    }
    is->binding = BIND_WHEN_PRESENTED;
    if (binding != NULL && strcmp(binding, "required") == 0) {
        is->binding = BIND_REQUIRED;
    } else if (binding != NULL && strcmp(binding, "when-presented") != 0) {
        cfg_join(p, sizeof(p), path, "binding");
        free(binding);
        free(hmac);
        return cfg_fail(c, p,
                        "must be \"when-presented\" (the default: a cnf, when present, is "
                        "checked) or \"required\"");
    }
    free(binding);
    bool jwks = json_object_get(o, "jwks") != NULL;
    if ((int)discovery + (int)jwks + (int)(hmac != NULL) != 1) {
        free(hmac);
        return cfg_fail(c, path,
                        "needs exactly one key source: \"discovery\": true (OpenID Connect "
                        "discovery at <url>/.well-known/openid-configuration), \"jwks\": "
                        "{\"url\": ...}, or \"hmac_key_file\" (a legacy HS256 project)");
    }
    if (discovery) {
        is->jwks_src = MESH_JWKS_FROM_OIDC;
    }
    if (hmac != NULL) {
        cfg_join(p, sizeof(p), path, "hmac_key_file");
        if (is->algorithms != NULL) {
            free(hmac);
            return cfg_fail(c, p, "the key's algorithm is HS256: leave \"algorithms\" out");
        }
        char e[512];
        bool ok = secret_read_file(hmac, MESH_MAX_HMAC_KEY_BYTES, &is->hmac_key, &is->hmac_len, e,
                                   sizeof(e));
        free(hmac);
        if (!ok) {
            return cfg_fail(c, p, "%s", e);
        }
        if (is->hmac_len < MESH_MIN_HMAC_KEY_BYTES) {
            return cfg_fail(c, p, "the key is %zu bytes; at least %d (MESH_MIN_HMAC_KEY_BYTES)",
                            is->hmac_len, MESH_MIN_HMAC_KEY_BYTES);
        }
    }
    if (strncmp(is->url, "https://", 8) != 0) {
        cfg_join(p, sizeof(p), path, "url");
        return cfg_fail(c, p, "'%s' must be an https:// URL (the exact iss of its tokens)",
                        is->url);
    }
    return true;
}

/* "2027-01-31" or "2027-01-31T12:00:00Z" (UTC) to Unix seconds; -1 when malformed. */
static int64_t parse_date(const char *s)
{
    int y, mo, d, h = 0, mi = 0, se = 0, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) != 3 || used != 10) {
        return -1;
    }
    if (s[10] != '\0' && (sscanf(s + 10, "T%2d:%2d:%2dZ%n", &h, &mi, &se, &used) != 3 ||
                          used != 10 || s[20] != '\0')) {
        return -1;
    }
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
        return -1;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = se};
    return (int64_t)timegm(&tm);
}

static bool parse_key(cfg_t *c, api_key_t *k, const json_t *o, const char *path)
{
    static const char *const known[] = {"name", "hash", "expires", "scopes", NULL};
    char *hash = NULL, *exp = NULL;
    char p[CFG_PATH];
    if (!json_is_object(o)) {
        return cfg_fail(c, path,
                        "must be {\"name\", \"hash\", \"expires\"} (mesh-authz "
                        "hash-key prints one)");
    }
    if (!cfg_known(c, o, path, known) || !cfg_str(c, o, path, "name", true, &k->name) ||
        !cfg_str(c, o, path, "hash", true, &hash) || !cfg_str(c, o, path, "expires", true, &exp) ||
        !cfg_words(c, o, path, "scopes", &k->scopes, &k->n_scopes)) {
        free(hash);
        free(exp);
        return false;
    }
    size_t n = strlen(k->name);
    bool hash_ok = secret_parse_hash(hash, k->hash);
    free(hash);
    k->expires = strcmp(exp, "never") == 0 ? 0 : parse_date(exp);
    free(exp);
    if (n > MESH_MAX_METRIC_LABEL ||
        strspn(k->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n) {
        cfg_join(p, sizeof(p), path, "name");
        return cfg_fail(c, p, "must be 1..%d letters, digits, '_', '.' or '-'",
                        MESH_MAX_METRIC_LABEL);
    }
    if (!hash_ok) {
        cfg_join(p, sizeof(p), path, "hash");
        return cfg_fail(c, p,
                        "must be \"sha256:<64 hex digits>\" (mesh-authz hash-key "
                        "prints it; the key itself never goes in the config)");
    }
    if (k->expires < 0) {
        cfg_join(p, sizeof(p), path, "expires");
        return cfg_fail(c, p,
                        "must be a UTC date \"2027-01-31\", \"2027-01-31T12:00:00Z\" or "
                        "\"never\"");
    }
    return true;
}

static bool parse_api_keys(cfg_t *c, issuer_t *is, const json_t *o, const char *path)
{
    static const char *const known[] = {"kind", "header", "enabled", "keys", NULL};
    if (!cfg_known(c, o, path, known) || !parse_token_header(c, is, o, path, "header") ||
        !cfg_bool(c, o, path, "enabled", true, &is->enabled)) {
        return false;
    }
    if (is->token_header == NULL && json_object_get(o, "header") != NULL) {
        char p[CFG_PATH];
        cfg_join(p, sizeof(p), path, "header");
        return cfg_fail(c, p,
                        "API keys do not come in Authorization (that is for tokens); use "
                        "e.g. \"X-Api-Key\"");
    }
    if (is->token_header == NULL && (is->token_header = strdup("X-Api-Key")) == NULL) {
        return cfg_fail(c, path, "out of memory");
    }
    char p[CFG_PATH];
    cfg_join(p, sizeof(p), path, "keys");
    json_t *a = json_object_get(o, "keys");
    if (!json_is_array(a) || json_array_size(a) == 0 ||
        json_array_size(a) > MESH_AUTHZ_MAX_API_KEYS) {
        return cfg_fail(c, p, "required: an array of 1..%d keys (MESH_AUTHZ_MAX_API_KEYS)",
                        MESH_AUTHZ_MAX_API_KEYS);
    }
    is->keys = calloc(json_array_size(a), sizeof(api_key_t));
    if (is->keys == NULL) {
        return cfg_fail(c, p, "out of memory");
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        char q[CFG_PATH];
        cfg_index(q, sizeof(q), p, i);
        is->n_keys++;
        if (!parse_key(c, &is->keys[i], json_array_get(a, i), q)) {
            return false;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(is->keys[k].name, is->keys[i].name) == 0 ||
                memcmp(is->keys[k].hash, is->keys[i].hash, 32) == 0) {
                return cfg_fail(c, q, "the same name or hash as keys[%zu]", k);
            }
        }
    }
    is->url = strdup("api-keys"); /* no iss: never matched against a token's */
    return is->url != NULL || cfg_fail(c, path, "out of memory");
}

static bool parse_mesh(cfg_t *c, issuer_t *is, const json_t *o, const char *path)
{
    static const char *const known[] = {"kind",
                                        "url",
                                        "ca",
                                        "cert",
                                        "key",
                                        "issuer_id",
                                        "jwks",
                                        "revocation_feed",
                                        "revocation_poll_ms",
                                        "token_header",
                                        "jwks_cache",
                                        NULL};
    int64_t poll;
    if (!cfg_known(c, o, path, known) || !cfg_str(c, o, path, "url", true, &is->url) ||
        !cfg_file(c, o, path, "ca", false, &is->ca) ||
        !cfg_file(c, o, path, "cert", false, &is->cert) ||
        !cfg_file(c, o, path, "key", false, &is->key) ||
        !cfg_str(c, o, path, "issuer_id", false, &is->issuer_id) || !parse_jwks(c, is, o, path) ||
        !cfg_bool(c, o, path, "revocation_feed", true, &is->feed) ||
        !cfg_int(c, o, path, "revocation_poll_ms", 10000, 100, MESH_MAX_OPT_MS, &poll) ||
        !parse_token_header(c, is, o, path, "token_header") || !parse_cache(c, is, o, path)) {
        return false;
    }
    is->poll_ms = poll;
    if ((is->cert == NULL) != (is->key == NULL)) {
        return cfg_fail(c, path,
                        "\"cert\" and \"key\" go together (the client certificate "
                        "mesh-authz presents to the issuer)");
    }
    if (strncmp(is->url, "https://", 8) != 0) {
        char p[CFG_PATH];
        cfg_join(p, sizeof(p), path, "url");
        return cfg_fail(c, p, "'%s' must be an https:// URL (the exact iss of its tokens)",
                        is->url);
    }
    return true;
}

bool config_parse_issuer(cfg_t *c, issuer_t *is, const char *name, const json_t *o)
{
    char path[CFG_PATH];
    cfg_join(path, sizeof(path), "issuers", name);
    if (!json_is_object(o)) {
        return cfg_fail(c, path, "must be an object, got %s", cfg_type(o));
    }
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > MESH_MAX_SERVICE_NAME ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.-") != nlen) {
        return cfg_fail(c, path,
                        "an issuer's name must be 1..%d letters, digits, '_', '.' or "
                        "'-'",
                        MESH_MAX_SERVICE_NAME);
    }
    is->name = strdup(name);
    if (is->name == NULL) {
        return cfg_fail(c, path, "out of memory");
    }
    char *kind = NULL;
    if (!cfg_str(c, o, path, "kind", true, &kind)) {
        return false;
    }
    char kp[CFG_PATH];
    cfg_join(kp, sizeof(kp), path, "kind");
    bool ok;
    if (strcmp(kind, "mesh") == 0) {
        is->kind = ISSUER_MESH;
        ok = parse_mesh(c, is, o, path);
    } else if (strcmp(kind, "oidc") == 0) {
        is->kind = ISSUER_OIDC;
        ok = parse_oidc(c, is, o, path);
    } else if (strcmp(kind, "api-keys") == 0) {
        is->kind = ISSUER_API_KEYS;
        ok = parse_api_keys(c, is, o, path);
    } else {
        ok = cfg_fail(c, kp, "'%s' is not a kind; use \"mesh\", \"oidc\" or \"api-keys\"", kind);
    }
    free(kind);
    return ok;
}
