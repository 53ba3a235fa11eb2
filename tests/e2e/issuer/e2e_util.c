/* SPDX-License-Identifier: Apache-2.0 */
#include "e2e.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

server_t srv;

typedef struct {
    char *p;
    size_t n;
} buf_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    buf_t *b = ud;
    size_t add = size * nmemb;
    char *np = realloc(b->p, b->n + add + 1);
    if (np == NULL) {
        return 0;
    }
    memcpy(np + b->n, ptr, add);
    b->p = np;
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

resp_t *do_req(const req_t *r)
{
    CURL *c = r->curl != NULL ? r->curl : curl_easy_init();
    char url[512], cert[400], key[400], ca[400];
    snprintf(url, sizeof(url), "%s%s", srv.url, r->path);
    snprintf(ca, sizeof(ca), "%s/ca.pem", srv.dir);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    if (r->cert != NULL) {
        snprintf(cert, sizeof(cert), "%s/%s/cert.pem", srv.dir, r->cert);
        snprintf(key, sizeof(key), "%s/%s/key.pem", srv.dir, r->cert);
        curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, key);
    }
    struct curl_slist *h = NULL;
    if (r->body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 r->ctype ? r->ctype : "application/x-www-form-urlencoded");
        h = curl_slist_append(h, ct);
    }
    if (r->method != NULL) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    }
    for (int i = 0; i < 6 && r->hdrs[i] != NULL; i++) {
        h = curl_slist_append(h, r->hdrs[i]);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (r->userpwd != NULL) {
        curl_easy_setopt(c, CURLOPT_USERPWD, r->userpwd);
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    }
    buf_t body = {0}, hdr = {0};
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &hdr);
    resp_t *out = calloc(1, sizeof(*out));
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &out->new_conns);
    } else {
        out->status = -1;
        fprintf(stderr, "curl %s: %s\n", r->path, curl_easy_strerror(rc));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    if (r->curl == NULL) {
        curl_easy_cleanup(c);
    }
    out->body = body.p ? body.p : strdup("");
    out->headers = hdr.p ? hdr.p : strdup("");
    out->json = json_loads(out->body, 0, NULL);
    return out;
}

void resp_free(resp_t *r)
{
    if (r != NULL) {
        free(r->body);
        free(r->headers);
        json_decref(r->json);
        free(r);
    }
}

const char *resp_header(const resp_t *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p != NULL && *p != '\0';) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') {
                v++;
            }
            snprintf(buf, cap, "%.*s", (int)(len - (size_t)(v - p)), v);
            return buf;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

const char *jstr(const resp_t *r, const char *key)
{
    const char *s = json_string_value(json_object_get(r->json, key));
    return s ? s : "";
}

int run_cmd(const char *cmd, char **out)
{
    char full[2048];
    snprintf(full, sizeof(full), "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (p == NULL) {
        return -1;
    }
    buf_t b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        on_data(chunk, 1, n, &b);
    }
    int st = pclose(p);
    if (out != NULL) {
        *out = b.p ? b.p : strdup("");
    } else {
        free(b.p);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int e2e_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        abort();
    }
    close(fd);
    return ntohs(a.sin_port);
}

void write_config(const char *keys, const char *rates)
{
    char maxc[16] = "";
    if (srv.max_connections > 0) {
        snprintf(maxc, sizeof(maxc), "%d", srv.max_connections);
    }
    FILE *f = fopen(srv.config, "w");
    if (f == NULL) {
        abort();
    }
    fprintf(f,
            "{\n"
            "  \"issuer\": \"%s\",\n"
            "  \"listen\": \"127.0.0.1:%d\",\n"
            "  \"tls\": {\"cert\": \"mesh-issuer/cert.pem\", \"key\": \"mesh-issuer/key.pem\",\n"
            "          \"ca\": \"ca.pem\"%s},\n"
            "  \"signing_keys\": %s,\n"
            "  \"store\": \"sqlite:issuer.db\",\n"
            "  \"tokens\": {\"default_ttl\": 300, \"min_ttl\": 30, \"max_ttl\": 600,\n"
            "             \"svc_token_max_ttl\": 120},\n"
            "  \"audiences\": [\n"
            "    {\"name\": \"gateway\", \"description\": \"edge\", \"scopes\": [\"route\"]},\n"
            "    {\"name\": \"asset-service\", \"description\": \"assets\",\n"
            "     \"scopes\": [\"assets:read\", \"assets:write\"]},\n"
            "    {\"name\": \"chat-service\", \"scopes\": [\"chat:read\", \"chat:write\"]}\n"
            "  ],\n"
            "  \"policy\": [\n"
            "    {\"identity\": \"spiffe://mesh.local/gateway\",\n"
            "     \"audiences\": [\"asset-service\", \"chat-service\"]},\n"
            "    {\"identity\": \"spiffe://mesh.local/chat-service\", \"audiences\": "
            "[\"asset-service\"],\n"
            "     \"scopes\": [\"assets:read\"], \"max_ttl\": 120},\n"
            "    {\"identity\": \"spiffe://mesh.local/asset-service\", \"audiences\": "
            "[\"gateway\"]}\n"
            "  ],\n"
            "  \"admins\": [\"spiffe://mesh.local/admin\"],\n"
            "  \"rate_limits\": %s,\n"
            "  \"workers\": %d%s%s%s%s\n"
            "}\n",
            srv.url, srv.port, srv.no_crl ? "" : ", \"crl\": \"crl.pem\"", keys, rates,
            srv.workers > 0 ? srv.workers : 2,
            srv.max_connections > 0 ? ",\n  \"max_connections\": " : "", maxc,
            srv.extra != NULL ? ",\n  " : "", srv.extra != NULL ? srv.extra : "");
    fclose(f);
}

static bool healthy(void)
{
    req_t r = {.path = "/healthz"};
    resp_t *x = do_req(&r);
    bool ok = x->status == 200;
    resp_free(x);
    return ok;
}

void server_start(void)
{
    struct stat sb;
    srv.log_start = stat(srv.log, &sb) == 0 ? (long)sb.st_size : 0;
    srv.pid = fork();
    if (srv.pid == 0) {
        /* If the test dies, so does its server: never an orphan holding meson's pipes. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(srv.log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        if (chdir(srv.dir) != 0) {
            _exit(127);
        }
        for (int i = 0; i < srv.inherit_fds; i++) {
            (void)open("/dev/null", O_RDONLY); /* descriptors used by something else */
        }
        if (srv.nofile > 0) {
            struct rlimit rl = {(rlim_t)srv.nofile, (rlim_t)srv.nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                _exit(127);
            }
        }
        execl(srv.bin, srv.bin, "serve", "--config", srv.config, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) { /* up to 60 s: ASan builds on a busy machine are slow */
        int st;
        if (waitpid(srv.pid, &st, WNOHANG) == srv.pid) {
            fprintf(stderr, "mesh-issuer exited at start; log %s\n", srv.log);
            abort();
        }
        if (healthy()) {
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "mesh-issuer did not answer /healthz; log %s\n", srv.log);
    kill(srv.pid, SIGKILL);
    abort();
}

void server_stop_signal(int sig, int *status)
{
    kill(srv.pid, sig);
    int st = 0;
    waitpid(srv.pid, &st, 0);
    *status = st;
    srv.pid = 0;
}

bool server_wait_exit(int timeout_s, int *status)
{
    for (int i = 0; i < timeout_s * 10; i++) {
        if (waitpid(srv.pid, status, WNOHANG) == srv.pid) {
            srv.pid = 0;
            return true;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    server_kill9();
    return false;
}

bool server_log_has(const char *needle)
{
    FILE *f = fopen(srv.log, "r");
    if (f == NULL || fseek(f, srv.log_start, SEEK_SET) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return false;
    }
    bool found = false;
    char line[8192];
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        found = strstr(line, needle) != NULL;
    }
    fclose(f);
    return found;
}

void server_kill9(void)
{
    int st;
    kill(srv.pid, SIGKILL);
    waitpid(srv.pid, &st, 0);
    srv.pid = 0;
}

void e2e_init(const char *bin, const char *gen)
{
    char *abs = realpath(bin, NULL); /* the server runs in its temp dir */
    snprintf(srv.bin, sizeof(srv.bin), "%s", abs ? abs : bin);
    free(abs);
    abs = realpath(gen, NULL);
    snprintf(srv.gen, sizeof(srv.gen), "%s", abs ? abs : gen);
    free(abs);
    const char *tmp = getenv("TMPDIR");
    snprintf(srv.dir, sizeof(srv.dir), "%s/mesh-issuer-e2e-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(srv.dir) == NULL) {
        abort();
    }
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash '%s' '%s'", gen, srv.dir);
    char *out = NULL;
    if (run_cmd(cmd, &out) != 0) {
        fprintf(stderr, "%s\n", out);
        abort();
    }
    free(out);
    srv.port = e2e_free_port();
    snprintf(srv.url, sizeof(srv.url), "https://localhost:%d", srv.port);
    snprintf(srv.config, sizeof(srv.config), "%s/issuer.json", srv.dir);
    snprintf(srv.log, sizeof(srv.log), "%s/issuer.log", srv.dir);
    write_config("{\"current\": \"jwt-signing.key\"}", "{}");
}

char *get_token(const char *cert, const char *audience, const char *extra)
{
    char body[512];
    snprintf(body, sizeof(body), "grant_type=client_credentials&audience=%s%s", audience,
             extra ? extra : "");
    req_t r = {.path = "/v1/token", .cert = cert, .body = body};
    resp_t *x = do_req(&r);
    char *t = NULL;
    if (x->status == 200) {
        t = strdup(jstr(x, "access_token"));
    } else {
        fprintf(stderr, "get_token %s %s: %ld %s\n", cert, audience, x->status, x->body);
    }
    resp_free(x);
    return t;
}

void e2e_init_roots(const char *source_root, const char *build_root)
{
    char bin[512], gen[512];

    snprintf(bin, sizeof(bin), "%s/issuer/mesh-issuer", build_root);
    snprintf(gen, sizeof(gen), "%s/tests/e2e/issuer/gen-certs.sh", source_root);
    e2e_init(bin, gen);
}
