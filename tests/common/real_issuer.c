/* SPDX-License-Identifier: Apache-2.0 */
#include "real_issuer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "testutil.h"
#include "../test-tmp.h"

static const char *build_root(void)
{
    const char *b = getenv("MESH_BUILD_ROOT");
    return b != NULL ? b : "build";
}

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        abort();
    }
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

const char *ri_path(const real_issuer_t *ri, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", ri->certs, rel);
    return out;
}

static long get(const real_issuer_t *ri, const char *path, char **body);

/* The issuer config: svc-a may get svc-b (a service token carries its own audiences); rate
 * limits out of the way. */
static void write_config(const real_issuer_t *ri, const char *current, const char *previous)
{
    char tmp[400];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", ri->config);
    f = fopen(tmp, "w");
    if (f == NULL) {
        abort();
    }
    fprintf(f,
            "{\"issuer\":\"%s\",\"listen\":\"127.0.0.1:%d\",\n"
            " \"tls\":{\"cert\":\"certs/issuer/cert.pem\",\"key\":\"certs/issuer/key.pem\","
            "\"ca\":\"certs/ca.pem\"},\n"
            " \"signing_keys\":{\"current\":\"%s\"%s%s%s},\n"
            " \"store\":\"sqlite:issuer.db\",\n"
            " \"audiences\":[{\"name\":\"svc-b\",\"scopes\":[\"read\",\"write\"]},"
            "{\"name\":\"admin-api\"}],\n"
            " \"policy\":[{\"identity\":\"spiffe://mesh.local/svc-a\",\"audiences\":[\"svc-b\"]}],"
            "\n"
            " \"rate_limits\":{\"per_identity\":{\"rate\":1000,\"burst\":1000},"
            "\"per_source\":{\"rate\":1000,\"burst\":1000}},\n"
            " \"jwks_max_age\":60}\n",
            ri->url, ri->port, current, previous != NULL ? ",\"previous\":\"" : "",
            previous != NULL ? previous : "", previous != NULL ? "\"" : "");
    if (fclose(f) != 0 || rename(tmp, ri->config) != 0) {
        abort();
    }
}

bool ri_rotate(real_issuer_t *ri)
{
    char cmd[1024], *body = NULL;

    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
             "-out %s/jwt-2.key >/dev/null 2>&1 && chmod 600 %s/jwt-2.key",
             ri->dir, ri->dir);
    if (system(cmd) != 0) {
        return false;
    }
    write_config(ri, "jwt-2.key", "certs/jwt-signing.key");
    kill(ri->pid, SIGHUP);
    for (int i = 0; i < 200; i++) {
        long code = get(ri, "/.well-known/jwks.json", &body);
        /* Two keys published: the new current and the previous one. */
        char *second = body != NULL ? strstr(body, "\"kid\"") : NULL;
        bool two = code == 200 && second != NULL && strstr(second + 1, "\"kid\"") != NULL;
        free(body);
        if (two) {
            return true;
        }
        tu_sleep_ms(50);
    }
    return false;
}

bool ri_setup(real_issuer_t *ri)
{
    char cmd[2048], bin[512];
    FILE *f;

    memset(ri, 0, sizeof(*ri));
    snprintf(bin, sizeof(bin), "%s/ca/mesh-ca", build_root());
    if (access(bin, X_OK) != 0) {
        return false;
    }
    snprintf(bin, sizeof(bin), "%s/issuer/mesh-issuer", build_root());
    if (access(bin, X_OK) != 0) {
        return false;
    }
    if (test_tmp_template(ri->dir, sizeof(ri->dir), "mesh-e2e") == NULL ||
        mkdtemp(ri->dir) == NULL) {
        abort();
    }
    snprintf(ri->certs, sizeof(ri->certs), "%s/certs", ri->dir);
    snprintf(cmd, sizeof(cmd), "%s/tmpl.json", ri->dir);
    f = fopen(cmd, "w");
    fputs("{\"trust_domain\":\"mesh.local\",\"services\":[{\"name\":\"issuer\"},"
          "{\"name\":\"svc-a\"},{\"name\":\"svc-b\"}]}\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "%s/ca/mesh-ca init --template %s/tmpl.json --dir %s "
             ">%s/mesh-ca.log 2>&1",
             build_root(), ri->dir, ri->certs, ri->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "mesh-ca init failed; see %s/mesh-ca.log\n", ri->dir);
        abort();
    }
    ri->port = free_port();
    snprintf(ri->url, sizeof(ri->url), "https://127.0.0.1:%d", ri->port);
    snprintf(ri->config, sizeof(ri->config), "%s/issuer.json", ri->dir);
    write_config(ri, "certs/jwt-signing.key", NULL);
    return true;
}

static long get(const real_issuer_t *ri, const char *path, char **body)
{
    char url[256], ca[512];
    FILE *mem;
    size_t size = 0;
    long code = 0;
    CURL *h = curl_easy_init();

    snprintf(url, sizeof(url), "%s%s", ri->url, path);
    *body = NULL;
    mem = open_memstream(body, &size);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ri_path(ri, "ca.pem", ca, sizeof(ca)));
    curl_easy_setopt(h, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    }
    curl_easy_cleanup(h);
    fclose(mem);
    return code;
}

bool ri_start(real_issuer_t *ri)
{
    char bin[512], log[512];
    pid_t pid;

    snprintf(bin, sizeof(bin), "%s/issuer/mesh-issuer", build_root());
    snprintf(log, sizeof(log), "%s/issuer.log", ri->dir);
    pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(bin, bin, "serve", "--config", ri->config, "--workers", "1", (char *)NULL);
        _exit(127);
    }
    ri->pid = pid;
    for (int i = 0; i < 200; i++) {
        char *body = NULL;
        long code = get(ri, "/healthz", &body);
        free(body);
        if (code == 200) {
            return true;
        }
        tu_sleep_ms(50);
    }
    fprintf(stderr, "mesh-issuer did not come up; see %s\n", log);
    return false;
}

void ri_stop(real_issuer_t *ri)
{
    if (ri->pid > 0) {
        kill(ri->pid, SIGTERM);
        waitpid(ri->pid, NULL, 0);
        ri->pid = 0;
    }
}

void ri_cleanup(real_issuer_t *ri)
{
    char cmd[400];

    ri_stop(ri);
    if (ri->dir[0] == '/') {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", ri->dir);
        if (system(cmd) != 0) {
            fprintf(stderr, "could not remove %s\n", ri->dir);
        }
    }
}

long ri_tokens_issued(const real_issuer_t *ri)
{
    char *body = NULL;
    long total = 0;
    const char *name = "mesh_issuer_tokens_issued_total{";

    if (get(ri, "/metrics", &body) != 200) {
        free(body);
        return -1;
    }
    for (char *p = strstr(body, name); p != NULL; p = strstr(p + 1, name)) {
        char *sp = strchr(p, ' ');
        if (sp != NULL) {
            total += strtol(sp + 1, NULL, 10);
        }
    }
    free(body);
    return total;
}

bool ri_service_token(const real_issuer_t *ri, const char *name, char *id, size_t idcap,
                      char *secret, size_t scap)
{
    char cmd[1024], buf[1024];
    size_t n;
    FILE *p;
    json_t *doc;
    bool ok;

    snprintf(cmd, sizeof(cmd),
             "%s/issuer/mesh-issuer token create %s --audience svc-b --json "
             "--config %s 2>/dev/null",
             build_root(), name, ri->config);
    p = popen(cmd, "r");
    n = fread(buf, 1, sizeof(buf) - 1, p);
    buf[n] = '\0';
    pclose(p);
    doc = json_loads(buf, 0, NULL);
    ok = json_string_value(json_object_get(doc, "client_id")) != NULL &&
         json_string_value(json_object_get(doc, "client_secret")) != NULL;
    if (ok) {
        snprintf(id, idcap, "%s", json_string_value(json_object_get(doc, "client_id")));
        snprintf(secret, scap, "%s", json_string_value(json_object_get(doc, "client_secret")));
    }
    json_decref(doc);
    return ok;
}

long ri_revoke(const real_issuer_t *ri, const char *token)
{
    char url[256], ca[512], cert[512], key[512], *form;
    long code = 0;
    CURL *h = curl_easy_init();
    size_t n = strlen(token) + 16;

    form = malloc(n);
    snprintf(form, n, "token=%s", token);
    snprintf(url, sizeof(url), "%s/v1/revoke", ri->url);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, ri_path(ri, "ca.pem", ca, sizeof(ca)));
    curl_easy_setopt(h, CURLOPT_SSLCERT, ri_path(ri, "svc-a/cert.pem", cert, sizeof(cert)));
    curl_easy_setopt(h, CURLOPT_SSLKEY, ri_path(ri, "svc-a/key.pem", key, sizeof(key)));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, null);
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    }
    fclose(null);
    curl_easy_cleanup(h);
    free(form);
    return code;
}
