/* SPDX-License-Identifier: Apache-2.0 */
#include "fake_issuer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <openssl/ssl.h>

#include "testutil.h"
#include <jansson.h>

#define MAX_REPLIES 16

typedef struct {
    int status;
    long retry_after;
    char *body;
} reply_t;

struct fake {
    struct event_base *base;
    struct evhttp *http;
    SSL_CTX *ssl;
    pthread_t thread;
    int port;
    char url[64];

    pthread_mutex_t mu;
    mesh_key_t *key;
    char *jwks, *cache_control;
    bool down[FAKE_NPATHS];
    int counts[FAKE_NPATHS];
    reply_t replies[MAX_REPLIES];
    int nreplies;
    char **revoked; /* feed entries as JSON objects; entry i has seq i + 1 */
    int nrevoked, revoked_cap;
    int feed_page; /* entries per feed page; 0: all at once */
    int delay_ms;
    int64_t ttl;
    bool running;
    pthread_cond_t started;
    /* the certificate endpoint (fake_set_cert_ca) */
    X509 *cert_ca;
    EVP_PKEY *cert_ca_key;
    char *cert_ca_pem;
    int64_t cert_lifetime;
    int64_t cert_backdate; /* not_before this far in the past */
    char *join_token, *join_id;
    reply_t cert_replies[MAX_REPLIES];
    int ncert_replies;
    int certs_issued;
};

static void die(const char *what)
{
    fprintf(stderr, "fake issuer: %s\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

static void send_json(struct evhttp_request *req, int status, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", b);
    evbuffer_free(b);
}

/* The client certificate of the connection a request came on (DER, new), or NULL. */
static uint8_t *peer_der(struct evhttp_request *req, size_t *len)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    X509 *x = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
    uint8_t *der = NULL;
    int n;

    if (x == NULL) {
        return NULL;
    }
    n = i2d_X509(x, &der);
    X509_free(x);
    if (n <= 0) {
        return NULL;
    }
    *len = (size_t)n;
    return der;
}

static int begin(fake_t *f, struct evhttp_request *req, int path)
{
    pthread_mutex_lock(&f->mu);
    f->counts[path]++;
    bool down = f->down[path];
    pthread_mutex_unlock(&f->mu);
    if (down) {
        send_json(req, 503, "{\"error\":\"temporarily_unavailable\"}");
        return -1;
    }
    return 0;
}

static void on_jwks(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    char *body;

    if (begin(f, req, FAKE_JWKS) != 0) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    body = strdup(f->jwks);
    if (f->cache_control != NULL) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                          f->cache_control);
    }
    pthread_mutex_unlock(&f->mu);
    send_json(req, 200, body);
    free(body);
}

static void on_meta(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    char body[512];

    if (begin(f, req, FAKE_META) != 0) {
        return;
    }
    snprintf(body, sizeof(body),
             "{\"issuer\":\"%s\",\"jwks_uri\":\"%s/.well-known/jwks.json\","
             "\"token_endpoint\":\"%s/v1/token\"}",
             f->url, f->url, f->url);
    pthread_mutex_lock(&f->mu);
    bool certs = f->cert_ca != NULL;
    pthread_mutex_unlock(&f->mu);
    if (certs) {
        snprintf(body + strlen(body) - 1, sizeof(body) - strlen(body) + 1,
                 ",\"mesh_certificate_endpoint\":\"%s/v1/certificate\"}", f->url);
    }
    send_json(req, 200, body);
}

/* GET /v1/revocations?since=N as the issuer answers it: a full page says "more" and carries
 * the seq of its last entry. */
static void on_revocations(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    struct evkeyvalq q;
    const char *since_s;
    struct evbuffer *b;
    int since, end, seq;
    bool full;

    if (begin(f, req, FAKE_REVOCATIONS) != 0) {
        return;
    }
    evhttp_parse_query(evhttp_request_get_uri(req), &q);
    since_s = evhttp_find_header(&q, "since");
    since = since_s != NULL ? (int)strtol(since_s, NULL, 10) : 0;
    evhttp_clear_headers(&q);
    b = evbuffer_new();
    pthread_mutex_lock(&f->mu);
    since = since < 0 ? 0 : since;
    end = since < f->nrevoked ? f->nrevoked : since;
    if (f->feed_page > 0 && end - since > f->feed_page) {
        end = since + f->feed_page;
    }
    full = f->feed_page > 0 && end - since == f->feed_page;
    seq = full ? end : (f->nrevoked > since ? f->nrevoked : since);
    evbuffer_add_printf(b, "{\"seq\":%d,\"revoked\":[", seq);
    for (int i = since; i < end; i++) {
        evbuffer_add_printf(b, "%s%s", i > since ? "," : "", f->revoked[i]);
    }
    pthread_mutex_unlock(&f->mu);
    evbuffer_add_printf(b, "]%s}", full ? ",\"more\":true" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void on_peer(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    const char *auth;
    char x5t[MESH_X5T_LEN + 1] = "";
    char body[10000];
    size_t len = 0;
    uint8_t *der;

    if (begin(f, req, FAKE_PEER) != 0) {
        return;
    }
    auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    der = peer_der(req, &len);
    if (der != NULL && mesh_x5t_s256(der, len, x5t) != MESH_OK) {
        x5t[0] = '\0';
    }
    free(der);
    snprintf(body, sizeof(body), "{\"authorization\":\"%s\",\"x5t\":\"%s\"}",
             auth != NULL ? auth : "", x5t);
    send_json(req, 200, body);
}

static void on_token(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    struct evkeyvalq form;
    char raw[4096], x5t[MESH_X5T_LEN + 1], resp[12000];
    size_t n = evbuffer_get_length(in), der_len = 0;
    const char *aud, *scope, *id;
    char *spiffe = NULL, *token = NULL, client[256];
    uint8_t *der;
    tu_claims_t c = {0};
    reply_t r = {0};

    if (begin(f, req, FAKE_TOKEN) != 0) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    int delay = f->delay_ms;
    if (f->nreplies > 0) {
        r = f->replies[0];
        memmove(f->replies, f->replies + 1, sizeof(reply_t) * (size_t)(--f->nreplies));
    }
    pthread_mutex_unlock(&f->mu);
    if (delay > 0) {
        usleep((useconds_t)delay * 1000);
    }
    if (r.status != 0) {
        if (r.retry_after >= 0) {
            char ra[32];
            snprintf(ra, sizeof(ra), "%ld", r.retry_after);
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
        }
        send_json(req, r.status, r.body);
        free(r.body);
        return;
    }
    if (n >= sizeof(raw)) {
        send_json(req, 400, "{\"error\":\"invalid_request\"}");
        return;
    }
    evbuffer_copyout(in, raw, n);
    raw[n] = '\0';
    evhttp_parse_query_str(raw, &form);
    aud = evhttp_find_header(&form, "audience");
    scope = evhttp_find_header(&form, "scope");
    id = evhttp_find_header(evhttp_request_get_input_headers(req), "Mesh-Client-Id");
    der = peer_der(req, &der_len);
    if (aud == NULL || strcmp(aud, "nope") == 0) {
        send_json(req, 400,
                  "{\"error\":\"invalid_target\",\"error_description\":\"unknown "
                  "audience; registered: svc-b, svc-a\"}");
        goto out;
    }
    if (strcmp(aud, "forbidden") == 0) {
        send_json(req, 403,
                  "{\"error\":\"access_denied\",\"error_description\":\"policy: "
                  "only svc-z may get forbidden\"}");
        goto out;
    }
    if (id != NULL) {
        const char *secret =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Mesh-Client-Secret");
        if (secret == NULL || strcmp(secret, "s3cret") != 0) {
            send_json(req, 401,
                      "{\"error\":\"invalid_client\",\"error_description\":\"bad "
                      "service token\"}");
            goto out;
        }
        snprintf(client, sizeof(client), "svc-token:%s", id);
        c.sub = client;
        c.client_id = id;
    } else if (der != NULL && mesh_x509_spiffe_id(der, der_len, &spiffe) == MESH_OK &&
               mesh_x5t_s256(der, der_len, x5t) == MESH_OK) {
        c.sub = spiffe;
        c.client_id = strrchr(spiffe, '/') + 1;
        c.x5t = x5t;
    } else {
        send_json(req, 401,
                  "{\"error\":\"invalid_client\",\"error_description\":\"present "
                  "a client certificate or a service token\"}");
        goto out;
    }
    c.iss = f->url;
    c.aud = aud;
    c.scope = scope;
    c.iat = time(NULL);
    pthread_mutex_lock(&f->mu);
    c.ttl = f->ttl;
    mesh_key_t *key = mesh_key_ref(f->key);
    pthread_mutex_unlock(&f->mu);
    if ((token = tu_sign(key, &c, NULL)) == NULL) {
        mesh_key_free(key);
        send_json(req, 500, "{\"error\":\"server_error\"}");
        goto out;
    }
    mesh_key_free(key);
    snprintf(resp, sizeof(resp),
             "{\"access_token\":\"%s\",\"token_type\":\"Bearer\",\"expires_in\":%lld,"
             "\"scope\":\"%s\"}",
             token, (long long)c.ttl, scope != NULL ? scope : "");
    send_json(req, 200, resp);
out:
    mesh_free(token);
    mesh_free(spiffe);
    free(der);
    evhttp_clear_headers(&form);
}

/* ---- the certificate endpoint: a scripted peer that really signs (fake_set_cert_ca) ---- */

static void cert_error(struct evhttp_request *req, int status, const char *err, const char *desc)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"error_description\":\"%s\"}", err, desc);
    send_json(req, status, body);
}

/* The spiffe:// URI SAN a CSR asks for, copied into out ("" when none); false when it asks
 * for any other name (a DNS or IP SAN, a second URI). */
static bool csr_spiffe(X509_REQ *csr, char *out, size_t cap)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(csr);
    GENERAL_NAMES *names = NULL;
    bool ok = true;

    out[0] = '\0';
    for (int i = 0; exts != NULL && i < sk_X509_EXTENSION_num(exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(exts, i);
        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) == NID_subject_alt_name) {
            names = X509V3_EXT_d2i(e);
        }
    }
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_URI || out[0] != '\0') {
            ok = false;
            break;
        }
        snprintf(out, cap, "%.*s", ASN1_STRING_length(gn->d.uniformResourceIdentifier),
                 (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier));
    }
    GENERAL_NAMES_free(names);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e == NULL || X509_add_ext(x, e, -1) != 1) {
        die("certificate extension");
    }
    X509_EXTENSION_free(e);
}

/* A leaf for `spiffe_id` with the CSR's key, signed by the CA: PEM (new, free()). */
static char *sign_leaf(fake_t *f, X509_REQ *csr, const char *spiffe_id, int64_t lifetime,
                       char serial_hex[80], int64_t *nb, int64_t *na)
{
    X509 *x = X509_new();
    unsigned char sn[16];
    BIGNUM *bn;
    char san[2200], *hex, *pem;
    const char *svc = strrchr(spiffe_id, '/') + 1;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;

    RAND_bytes(sn, sizeof(sn));
    sn[0] &= 0x7f;
    bn = BN_bin2bn(sn, sizeof(sn), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    hex = BN_bn2hex(bn);
    snprintf(serial_hex, 80, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    X509_set_version(x, 2);
    *nb = (int64_t)time(NULL) - f->cert_backdate;
    *na = *nb + lifetime;
    ASN1_TIME_set(X509_getm_notBefore(x), (time_t)*nb);
    ASN1_TIME_set(X509_getm_notAfter(x), (time_t)*na);
    X509_set_issuer_name(x, X509_get_subject_name(f->cert_ca));
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                               (const unsigned char *)svc, -1, -1, 0);
    X509_set_pubkey(x, X509_REQ_get0_pubkey(csr));
    add_ext(x, f->cert_ca, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, f->cert_ca, NID_key_usage, "critical,digitalSignature");
    add_ext(x, f->cert_ca, NID_ext_key_usage, "serverAuth,clientAuth");
    snprintf(san, sizeof(san), "URI:%s,DNS:%s,DNS:localhost,IP:127.0.0.1", spiffe_id, svc);
    add_ext(x, f->cert_ca, NID_subject_alt_name, san);
    if (X509_sign(x, f->cert_ca_key, EVP_sha256()) <= 0 || PEM_write_bio_X509(bio, x) != 1) {
        die("signing a leaf");
    }
    n = BIO_get_mem_data(bio, &data);
    pem = malloc((size_t)n + 1);
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    BIO_free(bio);
    X509_free(x);
    return pem;
}

static void on_cert(struct evhttp_request *req, void *arg)
{
    fake_t *f = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in), der_len = 0;
    char raw[16384], asked[2100], serial[80];
    const char *join, *csr_pem;
    char *spiffe = NULL, *leaf = NULL, *chain = NULL, *out = NULL;
    uint8_t *der = NULL;
    json_t *doc = NULL, *ans;
    X509_REQ *csr = NULL;
    BIO *bio = NULL;
    int64_t nb = 0, na = 0, lifetime;
    reply_t r = {0};
    int delay;

    if (begin(f, req, FAKE_CERT) != 0) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    bool ready = f->cert_ca != NULL;
    lifetime = f->cert_lifetime;
    delay = f->delay_ms;
    if (f->ncert_replies > 0) {
        r = f->cert_replies[0];
        memmove(f->cert_replies, f->cert_replies + 1,
                sizeof(reply_t) * (size_t)(--f->ncert_replies));
    }
    pthread_mutex_unlock(&f->mu);
    if (delay > 0) {
        usleep((useconds_t)delay * 1000);
    }
    if (r.status != 0) {
        send_json(req, r.status, r.body);
        free(r.body);
        return;
    }
    if (!ready) {
        cert_error(req, 404, "not_found", "no certificate endpoint here");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || n >= sizeof(raw)) {
        cert_error(req, 400, "invalid_request", "POST a JSON body of at most 16 KiB");
        return;
    }
    evbuffer_copyout(in, raw, n);
    raw[n] = '\0';
    doc = json_loads(raw, 0, NULL);
    csr_pem = json_string_value(json_object_get(doc, "csr"));
    bio = csr_pem != NULL ? BIO_new_mem_buf(csr_pem, -1) : NULL;
    csr = bio != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    ERR_clear_error();
    if (csr == NULL || X509_REQ_verify(csr, X509_REQ_get0_pubkey(csr)) != 1) {
        ERR_clear_error();
        cert_error(req, 400, "invalid_request", "csr: not a signed PEM CERTIFICATE REQUEST");
        goto out;
    }
    if (!csr_spiffe(csr, asked, sizeof(asked))) {
        cert_error(req, 400, "invalid_request", "csr: names other than the SPIFFE ID");
        goto out;
    }
    der = peer_der(req, &der_len);
    join = evhttp_find_header(evhttp_request_get_input_headers(req), "Mesh-Join-Token");
    if (der != NULL && mesh_x509_spiffe_id(der, der_len, &spiffe) == MESH_OK) {
        /* renewal: the same identity only */
    } else if (join != NULL) {
        pthread_mutex_lock(&f->mu);
        bool ok = f->join_token != NULL && strcmp(join, f->join_token) == 0;
        if (ok) {
            spiffe = strdup(f->join_id);
            free(f->join_token); /* one use */
            f->join_token = NULL;
        }
        pthread_mutex_unlock(&f->mu);
        if (!ok) {
            cert_error(req, 401, "invalid_client", "join token unknown, expired or used");
            goto out;
        }
    } else {
        cert_error(req, 401, "invalid_client", "present a client certificate or a join token");
        goto out;
    }
    if (asked[0] != '\0' && strcmp(asked, spiffe) != 0) {
        cert_error(req, 403, "access_denied", "csr asks for another identity");
        goto out;
    }
    pthread_mutex_lock(&f->mu);
    leaf = sign_leaf(f, csr, spiffe, lifetime, serial, &nb, &na);
    size_t clen = strlen(leaf) + strlen(f->cert_ca_pem) + 1;
    chain = malloc(clen);
    snprintf(chain, clen, "%s%s", leaf, f->cert_ca_pem);
    f->certs_issued++;
    pthread_mutex_unlock(&f->mu);
    ans = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "certificate", leaf, "chain", chain, "serial",
                    serial, "spiffe_id", spiffe, "not_before", (json_int_t)nb, "not_after",
                    (json_int_t)na);
    out = json_dumps(ans, JSON_COMPACT);
    json_decref(ans);
    send_json(req, 200, out);
out:
    free(out);
    free(leaf);
    free(chain);
    free(der);
    mesh_free(spiffe);
    X509_REQ_free(csr);
    BIO_free(bio);
    json_decref(doc);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    fake_t *f = arg;
    return bufferevent_openssl_socket_new(base, -1, SSL_new(f->ssl), BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static int accept_any(int ok, X509_STORE_CTX *ctx)
{
    (void)ctx;
    return ok;
}

/* Runs once the loop is up: a loopbreak before the loop starts would be lost. */
static void on_started(evutil_socket_t fd, short what, void *arg)
{
    fake_t *f = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&f->mu);
    f->running = true;
    pthread_cond_broadcast(&f->started);
    pthread_mutex_unlock(&f->mu);
}

static void *run(void *arg)
{
    fake_t *f = arg;
    event_base_dispatch(f->base);
    return NULL;
}

static void set_default_jwks(fake_t *f)
{
    mesh_jwks_t *set = NULL;
    char *json = NULL;

    if (mesh_jwks_from_keys(&f->key, 1, &set) != MESH_OK || mesh_jwks_to_json(set, &json)) {
        die("jwks");
    }
    mesh_jwks_free(set);
    free(f->jwks);
    f->jwks = strdup(json);
    mesh_free(json);
}

fake_t *fake_start(const char *certdir, mesh_key_t *key, int port)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    fake_t *f = calloc(1, sizeof(*f));
    char path[1024], kpath[1024], capath[1024];
    struct evhttp_bound_socket *sock;
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    signal(SIGPIPE, SIG_IGN); /* a client may hang up mid-answer */
    pthread_mutex_init(&f->mu, NULL);
    f->key = mesh_key_ref(key);
    f->ttl = 300;
    set_default_jwks(f);
    f->cache_control = strdup("max-age=300");
    snprintf(path, sizeof(path), "%s/issuer/cert.pem", certdir);
    snprintf(kpath, sizeof(kpath), "%s/issuer/key.pem", certdir);
    snprintf(capath, sizeof(capath), "%s/ca.pem", certdir);
    f->ssl = SSL_CTX_new(TLS_server_method());
    if (f->ssl == NULL || SSL_CTX_use_certificate_chain_file(f->ssl, path) != 1 ||
        SSL_CTX_use_PrivateKey_file(f->ssl, kpath, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_load_verify_locations(f->ssl, capath, NULL) != 1) {
        die("TLS setup");
    }
    /* Ask for a certificate, accept connections without one (service tokens). */
    SSL_CTX_set_verify(f->ssl, SSL_VERIFY_PEER, accept_any);
    SSL_CTX_set_session_id_context(f->ssl, (const unsigned char *)"fake", 4);
    f->base = event_base_new();
    f->http = evhttp_new(f->base);
    evhttp_set_bevcb(f->http, make_bev, f);
    evhttp_set_cb(f->http, "/v1/token", on_token, f);
    evhttp_set_cb(f->http, "/.well-known/jwks.json", on_jwks, f);
    evhttp_set_cb(f->http, "/.well-known/oauth-authorization-server", on_meta, f);
    evhttp_set_cb(f->http, "/v1/revocations", on_revocations, f);
    evhttp_set_cb(f->http, "/peer", on_peer, f);
    evhttp_set_cb(f->http, "/v1/certificate", on_cert, f);
    sock = evhttp_bind_socket_with_handle(f->http, "127.0.0.1", (ev_uint16_t)port);
    if (sock == NULL) {
        die("bind");
    }
    /* Accepted sockets inherit it: answers leave at once, not after the peer's delayed ACK
     * (tests that page through the revocation feed make a thousand requests). */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sa, &sl);
    f->port = ntohs(sa.sin_port);
    snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%d", f->port);
    pthread_cond_init(&f->started, NULL);
    struct timeval zero = {0, 0};
    event_base_once(f->base, -1, EV_TIMEOUT, on_started, f, &zero);
    pthread_create(&f->thread, NULL, run, f);
    pthread_mutex_lock(&f->mu);
    while (!f->running) {
        pthread_cond_wait(&f->started, &f->mu);
    }
    pthread_mutex_unlock(&f->mu);
    return f;
}

void fake_stop(fake_t *f)
{
    if (f == NULL) {
        return;
    }
    event_base_loopbreak(f->base);
    pthread_join(f->thread, NULL);
    evhttp_free(f->http);
    /* Freeing a connection's bufferevent (and its SSL) is deferred to the loop: run it until
     * nothing is left, or a connection closed just before the stop leaks its TLS state. */
    for (int i = 0; i < 8 && event_base_loop(f->base, EVLOOP_NONBLOCK) == 0; i++) {
    }
    event_base_free(f->base);
    SSL_CTX_free(f->ssl);
    mesh_key_free(f->key);
    for (int i = 0; i < f->nreplies; i++) {
        free(f->replies[i].body);
    }
    for (int i = 0; i < f->nrevoked; i++) {
        free(f->revoked[i]);
    }
    free(f->revoked);
    free(f->jwks);
    free(f->cache_control);
    X509_free(f->cert_ca);
    EVP_PKEY_free(f->cert_ca_key);
    free(f->cert_ca_pem);
    free(f->join_token);
    free(f->join_id);
    for (int i = 0; i < f->ncert_replies; i++) {
        free(f->cert_replies[i].body);
    }
    pthread_cond_destroy(&f->started);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

const char *fake_url(fake_t *f)
{
    return f->url;
}

int fake_port(fake_t *f)
{
    return f->port;
}

void fake_set_jwks(fake_t *f, const char *json, const char *cache_control)
{
    pthread_mutex_lock(&f->mu);
    free(f->jwks);
    f->jwks = strdup(json);
    free(f->cache_control);
    f->cache_control = cache_control != NULL ? strdup(cache_control) : NULL;
    pthread_mutex_unlock(&f->mu);
}

void fake_set_signing_key(fake_t *f, mesh_key_t *key)
{
    pthread_mutex_lock(&f->mu);
    mesh_key_free(f->key);
    f->key = mesh_key_ref(key);
    pthread_mutex_unlock(&f->mu);
}

void fake_set_down(fake_t *f, int path, bool down)
{
    pthread_mutex_lock(&f->mu);
    f->down[path] = down;
    pthread_mutex_unlock(&f->mu);
}

void fake_revoke(fake_t *f, const char *jti, int64_t exp)
{
    char entry[256];

    snprintf(entry, sizeof(entry), "{\"jti\":\"%s\",\"exp\":%lld}", jti, (long long)exp);
    fake_revoke_raw(f, entry);
}

void fake_revoke_raw(fake_t *f, const char *entry_json)
{
    pthread_mutex_lock(&f->mu);
    if (f->nrevoked == f->revoked_cap) {
        int cap = f->revoked_cap > 0 ? f->revoked_cap * 2 : 64;
        char **n = realloc(f->revoked, sizeof(*n) * (size_t)cap);
        if (n == NULL) {
            die("revocations");
        }
        f->revoked = n;
        f->revoked_cap = cap;
    }
    f->revoked[f->nrevoked] = strdup(entry_json);
    if (f->revoked[f->nrevoked] == NULL) {
        die("revocations");
    }
    f->nrevoked++;
    pthread_mutex_unlock(&f->mu);
}

void fake_set_feed_page(fake_t *f, int entries)
{
    pthread_mutex_lock(&f->mu);
    f->feed_page = entries;
    pthread_mutex_unlock(&f->mu);
}

void fake_push_reply(fake_t *f, int status, long retry_after, const char *body)
{
    pthread_mutex_lock(&f->mu);
    if (f->nreplies < MAX_REPLIES) {
        f->replies[f->nreplies].status = status;
        f->replies[f->nreplies].retry_after = retry_after;
        f->replies[f->nreplies++].body = strdup(body);
    }
    pthread_mutex_unlock(&f->mu);
}

void fake_set_delay_ms(fake_t *f, int ms)
{
    pthread_mutex_lock(&f->mu);
    f->delay_ms = ms;
    pthread_mutex_unlock(&f->mu);
}

void fake_set_ttl(fake_t *f, int64_t ttl)
{
    pthread_mutex_lock(&f->mu);
    f->ttl = ttl;
    pthread_mutex_unlock(&f->mu);
}

int fake_count(fake_t *f, int path)
{
    int n;
    pthread_mutex_lock(&f->mu);
    n = f->counts[path];
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fake_reset_counts(fake_t *f)
{
    pthread_mutex_lock(&f->mu);
    memset(f->counts, 0, sizeof(f->counts));
    pthread_mutex_unlock(&f->mu);
}

void fake_set_cert_ca(fake_t *f, const char *ca_cert_path, const char *ca_key_path,
                      int64_t lifetime)
{
    FILE *cf = fopen(ca_cert_path, "r"), *kf = fopen(ca_key_path, "r");
    X509 *x = cf != NULL ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kf != NULL ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;

    if (cf != NULL) {
        fclose(cf);
    }
    if (kf != NULL) {
        fclose(kf);
    }
    if (x == NULL || k == NULL || PEM_write_bio_X509(bio, x) != 1) {
        die("certificate CA");
    }
    n = BIO_get_mem_data(bio, &data);
    pthread_mutex_lock(&f->mu);
    X509_free(f->cert_ca);
    EVP_PKEY_free(f->cert_ca_key);
    free(f->cert_ca_pem);
    f->cert_ca = x;
    f->cert_ca_key = k;
    f->cert_ca_pem = strndup(data, (size_t)n);
    f->cert_lifetime = lifetime;
    pthread_mutex_unlock(&f->mu);
    BIO_free(bio);
}

void fake_set_join_token(fake_t *f, const char *token, const char *spiffe_id)
{
    pthread_mutex_lock(&f->mu);
    free(f->join_token);
    free(f->join_id);
    f->join_token = token != NULL ? strdup(token) : NULL;
    f->join_id = spiffe_id != NULL ? strdup(spiffe_id) : NULL;
    pthread_mutex_unlock(&f->mu);
}

void fake_push_cert_reply(fake_t *f, int status, const char *body)
{
    pthread_mutex_lock(&f->mu);
    if (f->ncert_replies < MAX_REPLIES) {
        f->cert_replies[f->ncert_replies].status = status;
        f->cert_replies[f->ncert_replies++].body = strdup(body);
    }
    pthread_mutex_unlock(&f->mu);
}

int fake_certs_issued(fake_t *f)
{
    int n;
    pthread_mutex_lock(&f->mu);
    n = f->certs_issued;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void fake_set_cert_backdate(fake_t *f, int64_t seconds)
{
    pthread_mutex_lock(&f->mu);
    f->cert_backdate = seconds;
    pthread_mutex_unlock(&f->mu);
}
