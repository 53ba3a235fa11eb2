/* SPDX-License-Identifier: Apache-2.0 */
#include "http.h"
#include <mesh/util.h>

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mesh/buf.h>
#include <mesh/limits.h>

#include "internal.h"
#include "x509_internal.h"

struct mesh_http {
    char *cert_path, *key_path, *ca_path;
    char *pin_prefix, *pin_id;
    bool skip_hostname;
    long timeout_ms;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    atomic_bool cancelled;
    /* The identity in memory (mesh_http_set_identity), used instead of the files when set:
     * renewal swaps it whole, so a new connection never reads half of a pair. */
    pthread_mutex_t id_mu;
    char *cert_blob, *key_blob;
    size_t cert_blob_len, key_blob_len;
};

/* What a response brings, in the bounded buffer of <mesh/buf.h>: the limit is the buffer's,
 * and what it held is wiped when freed (a token response carries a token). */
typedef struct {
    mesh_buf_t *buf;
    bool overflow;
} growbuf_t;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *easy, curl_lock_data data, curl_lock_access access, void *ctx)
{
    mesh_http_t *h = ctx;
    (void)easy;
    (void)access;
    pthread_mutex_lock(&h->locks[data]);
}

static void share_unlock(CURL *easy, curl_lock_data data, void *ctx)
{
    mesh_http_t *h = ctx;
    (void)easy;
    pthread_mutex_unlock(&h->locks[data]);
}

static char *dup_opt(const char *s, bool *failed)
{
    char *d;

    if (s == NULL) {
        return NULL;
    }
    d = strdup(s);
    if (d == NULL) {
        *failed = true;
    }
    return d;
}

mesh_err_t mesh_http_new(const mesh_http_opts_t *opts, mesh_http_t **out)
{
    mesh_http_t *h;
    bool failed = false;

    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        return mesh_err_set(MESH_ERR_INTERNAL, "curl_global_init: %s",
                            curl_easy_strerror(curl_init_rc));
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "http client");
    }
    h->cert_path = dup_opt(opts->cert_path, &failed);
    h->key_path = dup_opt(opts->key_path, &failed);
    h->ca_path = dup_opt(opts->ca_path, &failed);
    h->pin_prefix = dup_opt(opts->pin_id != NULL ? opts->pin_prefix : NULL, &failed);
    h->pin_id = dup_opt(opts->pin_prefix != NULL ? opts->pin_id : NULL, &failed);
    h->skip_hostname = opts->skip_hostname;
    h->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
    for (size_t i = 0; i < MESH_ARRAY_LEN(h->locks); i++) {
        pthread_mutex_init(&h->locks[i], NULL);
    }
    pthread_mutex_init(&h->id_mu, NULL);
    h->share = curl_share_init();
    if (failed || h->share == NULL) {
        mesh_http_free(h);
        return mesh_err_set(MESH_ERR_NOMEM, "http client");
    }
    /* One connection pool, TLS-session cache and DNS cache for every request of a client:
     * steady-state calls reuse a connection and never handshake again. */
    curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    *out = h;
    return MESH_OK;
}

void mesh_http_free(mesh_http_t *h)
{
    if (h == NULL) {
        return;
    }
    if (h->share != NULL) {
        curl_share_cleanup(h->share);
    }
    for (size_t i = 0; i < MESH_ARRAY_LEN(h->locks); i++) {
        pthread_mutex_destroy(&h->locks[i]);
    }
    pthread_mutex_destroy(&h->id_mu);
    if (h->key_blob != NULL) {
        mesh_wipe(h->key_blob, h->key_blob_len);
    }
    free(h->key_blob);
    free(h->cert_blob);
    free(h->cert_path);
    free(h->key_path);
    free(h->pin_prefix);
    free(h->pin_id);
    free(h->ca_path);
    free(h);
}

void mesh_http_cancel(mesh_http_t *h)
{
    if (h != NULL) {
        atomic_store(&h->cancelled, true);
    }
}

static int on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    mesh_http_t *h = ctx;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(&h->cancelled) ? 1 : 0; /* non-zero aborts the transfer */
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ctx)
{
    growbuf_t *b = ctx;
    size_t add = size * n; /* libcurl passes size 1 */

    mesh_err_t rc = mesh_buf_append(b->buf, ptr, add, "response");
    if (rc != MESH_OK) {
        b->overflow = rc == MESH_ERR_LIMIT;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    return add;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ctx)
{
    growbuf_t *b = ctx;
    size_t add = size * n;

    /* A new status line starts a new block (1xx answers, proxies): keep only the last. */
    if (add >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        mesh_buf_reset(b->buf);
    }
    return on_body(ptr, size, n, ctx) == add ? add : 0;
}

/* The value of header `name` in a header block, copied into out; false when absent. */
static bool header_value(const char *block, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = block;

    while (line != NULL && *line != '\0') {
        const char *end = strchr(line, '\n');
        size_t llen = end != NULL ? (size_t)(end - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            const char *ve = line + llen;
            while (v < ve && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (ve > v && isspace((unsigned char)ve[-1])) {
                ve--;
            }
            size_t vlen = (size_t)(ve - v) < cap - 1 ? (size_t)(ve - v) : cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return false;
}

static long parse_seconds(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return end != s && v >= 0 ? v : -1;
}

static void parse_headers(mesh_http_resp_t *r)
{
    char v[256];

    r->retry_after = -1;
    r->max_age = -1;
    if (r->headers == NULL) {
        return;
    }
    if (header_value(r->headers, "Retry-After", v, sizeof(v))) {
        /* RFC 9110 §10.2.3: delta-seconds or an HTTP-date. */
        if (isdigit((unsigned char)v[0])) {
            r->retry_after = parse_seconds(v);
        } else {
            time_t when = curl_getdate(v, NULL);
            time_t now = time(NULL);
            r->retry_after = when > now ? (long)(when - now) : (when > 0 ? 0 : -1);
        }
    }
    if (header_value(r->headers, "Cache-Control", v, sizeof(v))) {
        for (char *p = v; *p != '\0'; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
        const char *m = strstr(v, "max-age=");
        if (m != NULL) {
            r->max_age = parse_seconds(m + 8);
        }
        r->no_store = strstr(v, "no-store") != NULL || strstr(v, "no-cache") != NULL;
    }
}

/* ---- peer pinning (go-spiffe's tlsconfig.AuthorizeID) ---- */

struct mesh_peer_pin {
    CURL *easy;
    char *want;    /* the expected SPIFFE ID */
    bool own;      /* want is ours to free (a handle's pin, not a request's) */
    mesh_err_t rc; /* the last verdict */
};

/*
 * CURLOPT_PREREQFUNCTION runs after the handshake (and curl's chain and host checks) on a new
 * connection, and again on a reused one, before the request is written: so the check sees
 * every request, resumed sessions too (the session keeps the peer certificate). A verify
 * callback installed with CURLOPT_SSL_CTX_FUNCTION would run only on full handshakes and miss
 * the connections and sessions the share handle pools for other requests.
 */
static int on_prereq(void *ctx, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    struct mesh_peer_pin *p = ctx;
    struct curl_tlssessioninfo *info = NULL;
    char *got = NULL, why[256];
    (void)local_ip;
    (void)local_port;

    if (curl_easy_getinfo(p->easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
        info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL) {
        p->rc = mesh_err_set(MESH_ERR_PEER_ID,
                             "server %s:%d: no OpenSSL session to read its "
                             "certificate from; expected %s",
                             primary_ip, primary_port, p->want);
    } else if (mesh_x509_tls_peer_id(info->internals, &got) != MESH_OK) {
        snprintf(why, sizeof(why), "%s", mesh_err_detail());
        p->rc = mesh_err_set(MESH_ERR_PEER_ID, "server %s:%d is not %s: %s", primary_ip,
                             primary_port, p->want, why);
    } else if (strcmp(got, p->want) != 0) {
        p->rc = mesh_err_set(MESH_ERR_PEER_ID, "server %s:%d is %s, not the expected %s",
                             primary_ip, primary_port, got, p->want);
    } else {
        p->rc = MESH_OK;
    }
    free(got);
    return p->rc == MESH_OK ? CURL_PREREQFUNC_OK : CURL_PREREQFUNC_ABORT;
}

static mesh_err_t pin_install(CURL *easy, struct mesh_peer_pin *p)
{
    if (curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, on_prereq) != CURLE_OK ||
        curl_easy_setopt(easy, CURLOPT_PREREQDATA, p) != CURLE_OK) {
        return mesh_err_set(MESH_ERR_INTERNAL, "this libcurl has no CURLOPT_PREREQFUNCTION "
                                               "(7.80.0 or later needed to pin a peer)");
    }
    return MESH_OK;
}

mesh_err_t mesh_http_pin_handle(CURL *easy, const char *peer_id, struct mesh_peer_pin **out)
{
    struct mesh_peer_pin *p = calloc(1, sizeof(*p));
    mesh_err_t rc;

    if (p == NULL || (p->want = strdup(peer_id)) == NULL) {
        free(p);
        return mesh_err_set(MESH_ERR_NOMEM, "peer pin");
    }
    p->easy = easy;
    p->own = true;
    rc = pin_install(easy, p);
    if (rc != MESH_OK) {
        mesh_http_pin_free(p);
        return rc;
    }
    *out = p;
    return MESH_OK;
}

void mesh_http_pin_free(struct mesh_peer_pin *p)
{
    if (p != NULL && p->own) {
        free(p->want);
        free(p);
    }
}

mesh_err_t mesh_http_pin_result(const struct mesh_peer_pin *p)
{
    return p != NULL ? p->rc : MESH_OK;
}

/* The in-memory identity, when there is one: curl copies the blobs (CURL_BLOB_COPY), and a
 * connection or TLS session made with another pair is not reused for this handle (curl
 * matches connections on the client certificate), so after a swap new requests open new
 * connections with the new pair while requests in flight finish on theirs. */
static bool set_identity_blobs(mesh_http_t *h, CURL *c)
{
    bool set = false;

    pthread_mutex_lock(&h->id_mu);
    if (h->cert_blob != NULL) {
        struct curl_blob cert = {h->cert_blob, h->cert_blob_len, CURL_BLOB_COPY};
        struct curl_blob key = {h->key_blob, h->key_blob_len, CURL_BLOB_COPY};
        curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        set = true;
    }
    pthread_mutex_unlock(&h->id_mu);
    return set;
}

mesh_err_t mesh_http_set_identity(mesh_http_t *h, const char *cert_pem, size_t cert_len,
                                  const char *key_pem, size_t key_len)
{
    char *c = malloc(cert_len + 1), *k = malloc(key_len + 1);
    char *old_c, *old_k;
    size_t old_klen;

    if (c == NULL || k == NULL) {
        free(c);
        free(k);
        return mesh_err_set(MESH_ERR_NOMEM, "client identity");
    }
    memcpy(c, cert_pem, cert_len);
    c[cert_len] = '\0';
    memcpy(k, key_pem, key_len);
    k[key_len] = '\0';
    pthread_mutex_lock(&h->id_mu);
    old_c = h->cert_blob;
    old_k = h->key_blob;
    old_klen = h->key_blob_len;
    h->cert_blob = c;
    h->cert_blob_len = cert_len;
    h->key_blob = k;
    h->key_blob_len = key_len;
    pthread_mutex_unlock(&h->id_mu);
    if (old_k != NULL) {
        mesh_wipe(old_k, old_klen);
    }
    free(old_k);
    free(old_c);
    return MESH_OK;
}

/* The TLS and sharing options every handle gets. */
static void set_tls(mesh_http_t *h, CURL *c, bool with_cert)
{
    curl_easy_setopt(c, CURLOPT_SHARE, h->share);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->skip_hostname ? 0L : 2L);
    if (h->ca_path != NULL) {
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_path);
    }
    if (with_cert && set_identity_blobs(h, c)) {
        return;
    }
    if (with_cert && h->cert_path != NULL) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, h->cert_path);
        curl_easy_setopt(c, CURLOPT_SSLKEY, h->key_path);
    }
}

/*
 * A bearer token is compact JWS: base64url and dots only (RFC 6750 §2.1 b64token), so nothing
 * in it can end a header line. An issuer answering "\r\nX-Evil: ..." must not inject headers.
 */
static mesh_err_t bearer_check(const char *token)
{
    size_t n = strlen(token);

    if (n == 0 || n > MESH_MAX_TOKEN_BYTES) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "bearer token: %zu bytes (1..%d allowed)", n,
                            MESH_MAX_TOKEN_BYTES);
    }
    for (size_t i = 0; i < n; i++) {
        char ch = token[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.')) {
            return mesh_err_set(MESH_ERR_INVALID_ARG,
                                "bearer token: byte %zu is not base64url or '.'", i);
        }
    }
    return MESH_OK;
}

/* "Authorization: Bearer <token>" into a new string, wiped and freed by the caller. */
static mesh_err_t bearer_header(const char *token, char **out)
{
    static const char prefix[] = "Authorization: Bearer ";
    size_t n = strlen(token);
    mesh_err_t rc = bearer_check(token);
    char *h;

    if (rc != MESH_OK) {
        return rc;
    }
    h = malloc(sizeof(prefix) + n);
    if (h == NULL) {
        return mesh_err_set(MESH_ERR_NOMEM, "bearer header");
    }
    memcpy(h, prefix, sizeof(prefix) - 1);
    memcpy(h + sizeof(prefix) - 1, token, n + 1);
    *out = h;
    return MESH_OK;
}

static mesh_err_t map_curl_error(CURLcode cc, const char *url, const char *errbuf)
{
    const char *why = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);

    switch (cc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
        return mesh_err_set(MESH_ERR_TLS, "%s: TLS: %s", url, why);
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* An https:// URL gets this code when the peer answers garbage ("Received HTTP/0.9",
         * e.g. a connection to a server that just died): the peer's fault, not the caller's. */
        if (strncmp(url, "https://", 8) == 0) {
            return mesh_err_set(MESH_ERR_NETWORK, "%s: %s", url, why);
        }
        return mesh_err_set(MESH_ERR_CONFIG, "%s: %s (libmesh speaks https:// only)", url, why);
    case CURLE_URL_MALFORMAT:
        return mesh_err_set(MESH_ERR_CONFIG, "%s: %s (libmesh speaks https:// only)", url, why);
    default:
        return mesh_err_set(MESH_ERR_NETWORK, "%s: %s", url, why);
    }
}

mesh_err_t mesh_http_do(mesh_http_t *h, const mesh_http_req_t *req, mesh_http_resp_t *resp)
{
    growbuf_t body = {
        .buf = mesh_buf_new(req->max_body != 0 ? req->max_body : MESH_MAX_RESPONSE_BODY)};
    growbuf_t hdrs = {.buf = mesh_buf_new(MESH_MAX_RESPONSE_HEADER_BYTES)};
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *list = NULL;
    char *auth = NULL;
    mesh_err_t rc = MESH_OK;
    CURLcode cc;
    CURL *c = curl_easy_init();
    const char *want = req->peer_id;
    size_t plen = h->pin_prefix != NULL ? strlen(h->pin_prefix) : 0;
    if (want == NULL && plen > 0 && strncmp(req->url, h->pin_prefix, plen) == 0 &&
        (req->url[plen] == '/' || req->url[plen] == '?' || req->url[plen] == '\0' ||
         h->pin_prefix[plen - 1] == '/')) {
        want = h->pin_id; /* the issuer's own endpoints */
    }
    struct mesh_peer_pin pin = {.easy = c, .want = (char *)want};

    if (c == NULL || body.buf == NULL || hdrs.buf == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "%s",
                          c == NULL ? "curl_easy_init" : "HTTP response buffers");
        goto out;
    }
    set_tls(h, c, req->with_cert);
    if (want != NULL && (rc = pin_install(c, &pin)) != MESH_OK) {
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "libmesh/0.1");
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
    if (req->bearer != NULL) {
        /* Our own handle never follows redirects, so the header goes out as is: measurably
         * cheaper than curl's CURLAUTH_BEARER path (docs/PERFORMANCE.md). */
        if ((rc = bearer_header(req->bearer, &auth)) != MESH_OK) {
            goto out;
        }
        struct curl_slist *a = curl_slist_append(list, auth); /* copies it */
        if (a == NULL) {
            rc = mesh_err_set(MESH_ERR_NOMEM, "request headers");
            goto out;
        }
        list = a;
    }
    for (const char *const *hp = req->headers; hp != NULL && *hp != NULL; hp++) {
        struct curl_slist *n = curl_slist_append(list, *hp);
        if (n == NULL) {
            rc = mesh_err_set(MESH_ERR_NOMEM, "request headers");
            goto out;
        }
        list = n;
    }
    /* No "Expect: 100-continue" round trip for small bodies. */
    struct curl_slist *n = curl_slist_append(list, "Expect:");
    if (n == NULL) {
        rc = mesh_err_set(MESH_ERR_NOMEM, "request headers");
        goto out;
    }
    list = n;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    if (req->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    }
    if (req->method != NULL) {
        if (strcmp(req->method, "GET") == 0 && req->body == NULL) {
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(req->method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
        }
    }
    cc = atomic_load(&h->cancelled) ? CURLE_ABORTED_BY_CALLBACK : curl_easy_perform(c);
    if (cc != CURLE_OK) {
        if (cc == CURLE_ABORTED_BY_CALLBACK && pin.rc != MESH_OK) {
            char why[400];
            snprintf(why, sizeof(why), "%s", mesh_err_detail());
            rc = mesh_err_set(MESH_ERR_PEER_ID, "%s: %s; the request was not sent", req->url, why);
        } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
            rc = mesh_err_set(MESH_ERR_NETWORK,
                              "%s: cancelled (the client or verifier is "
                              "shutting down)",
                              req->url);
        } else if (body.overflow) {
            rc = mesh_err_set(MESH_ERR_LIMIT, "%s: response body over %zu bytes", req->url,
                              mesh_buf_max(body.buf));
        } else {
            rc = map_curl_error(cc, req->url, errbuf);
        }
        goto out;
    }
    memset(resp, 0, sizeof(*resp));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &resp->new_connections);
    resp->body = mesh_buf_take(body.buf, &resp->body_len);
    resp->headers = mesh_buf_take(hdrs.buf, &resp->headers_len);
    if (resp->body == NULL || resp->headers == NULL) {
        mesh_http_resp_clear(resp);
        rc = mesh_err_set(MESH_ERR_NOMEM, "%s: response", req->url);
        goto out;
    }
    parse_headers(resp);
out:
    if (auth != NULL) {
        mesh_wipe(auth, strlen(auth));
        free(auth);
    }
    mesh_buf_free(body.buf);
    mesh_buf_free(hdrs.buf);
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    return rc;
}

void mesh_http_resp_clear(mesh_http_resp_t *resp)
{
    if (resp == NULL) {
        return;
    }
    free(resp->body);
    free(resp->headers);
    memset(resp, 0, sizeof(*resp));
}

mesh_err_t mesh_http_setup_handle(mesh_http_t *h, CURL *easy, const char *bearer)
{
    if (easy == NULL) {
        return mesh_err_set(MESH_ERR_INVALID_ARG, "curl handle is NULL");
    }
    if (bearer != NULL && bearer_check(bearer) != MESH_OK) {
        return MESH_ERR_INVALID_ARG;
    }
    set_tls(h, easy, true);
    if (bearer != NULL) {
        /* curl copies the string and, without CURLOPT_UNRESTRICTED_AUTH, sends it only to
         * the host of the URL, not to a redirect target. */
        if (curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER) != CURLE_OK ||
            curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, bearer) != CURLE_OK) {
            return mesh_err_set(MESH_ERR_INTERNAL, "curl refused the bearer token option");
        }
    }
    return MESH_OK;
}

char *mesh_http_form_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = e != NULL ? strdup(e) : NULL;

    curl_free(e);
    return out;
}
