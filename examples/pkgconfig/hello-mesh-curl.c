/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello-mesh with the libcurl bridge: the program owns a curl handle and lets libmesh
 * configure it (certificate, mesh CA, bearer token) with mesh_client_setup_curl, then
 * performs the request itself. It includes <mesh/curl.h> and builds with
 * `pkg-config --cflags --libs libmesh-curl`. Without arguments it prints both versions.
 */
#include <stdio.h>

#include <curl/curl.h>

#include <mesh/curl.h>
#include <mesh/mesh.h>

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

int main(int argc, char **argv)
{
    printf("libmesh %s with %s: %s\n", MESH_VERSION, curl_version(), mesh_strerror(MESH_OK));
    if (argc < 4) {
        printf("usage: hello-mesh-curl SERVICE AUDIENCE URL  (with MESH_CERTS_DIR, "
               "MESH_ISSUER_URL)\n");
        return 0;
    }
    mesh_client_t *c = NULL;
    CURL *h = NULL;
    long status = 0;
    mesh_err_t rc = mesh_client_from_env(argv[1], &c);
    if (rc == MESH_OK && (h = curl_easy_init()) == NULL) {
        rc = MESH_ERR_NOMEM;
    }
    if (rc == MESH_OK) {
        rc = mesh_client_setup_curl(c, h, argv[2]);
    }
    if (rc == MESH_OK) {
        curl_easy_setopt(h, CURLOPT_URL, argv[3]);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        CURLcode cc = curl_easy_perform(h);
        if (cc != CURLE_OK) {
            fprintf(stderr, "hello-mesh-curl: %s: %s\n", argv[3], curl_easy_strerror(cc));
            curl_easy_cleanup(h);
            mesh_client_free(c);
            return 1;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        printf("%s called %s: HTTP %ld\n", argv[1], argv[3], status);
    }
    curl_easy_cleanup(h); /* before mesh_client_free: the handle shares the client's cache */
    mesh_client_free(c);
    if (rc != MESH_OK) {
        fprintf(stderr, "hello-mesh-curl: %s: %s\n", mesh_strerror(rc), mesh_err_detail());
        return 1;
    }
    return 0;
}
