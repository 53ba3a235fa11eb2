/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libcurl bridge: configures a caller's own curl easy handles to call peers as a mesh
 * client. The only public header that includes <curl/curl.h>; <mesh/mesh.h> does not include
 * it. Build with `pkg-config --cflags --libs libmesh-curl` (libmesh and libcurl).
 */
#ifndef MESH_CURL_H
#define MESH_CURL_H

#include <curl/curl.h>

#include <mesh/client.h>
#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Configures a caller's curl easy handle to call a peer as this service: client certificate
 * and key, the mesh CA, the client's shared connection/TLS-session cache, and
 * "Authorization: Bearer <token for audience>" (CURLAUTH_BEARER; curl sends it only to the
 * URL's host). The handle joins the client's connection cache: curl_easy_cleanup() it (or
 * set CURLOPT_SHARE to NULL) before mesh_client_free(). Thread-safe
 * (a handle itself is used by one thread at a time, as libcurl requires).
 * Blocks: it gets the token as mesh_client_token does, so on a cache miss it waits for the
 * issuer (network, up to the client's timeout per attempt, with its retries); with a cached
 * token it does not touch the network. The transfer itself is the caller's curl_easy_perform.
 */
MESH_WUR mesh_err_t mesh_client_setup_curl(mesh_client_t *c, CURL *handle, const char *audience);

/* The pin mesh_client_setup_curl_peer() puts on a caller's handle. */
typedef struct mesh_peer_pin mesh_peer_pin_t;

/*
 * As mesh_client_setup_curl, and pins `handle` to the peer `peer_id`: before every request
 * on the handle (new or reused connection, resumed session) the server's spiffe:// URI SAN
 * must equal peer_id, else the transfer fails with CURLE_ABORTED_BY_CALLBACK before any byte
 * of the request is written; mesh_peer_pin_result() is then MESH_ERR_PEER_ID and
 * mesh_err_detail(), on the thread that ran the transfer, names both IDs. The pin uses the
 * handle's CURLOPT_PREREQFUNCTION and CURLOPT_PREREQDATA (do not set them). *pin is new: free
 * it with mesh_peer_pin_free() after curl_easy_cleanup(handle) (or after setting
 * CURLOPT_PREREQFUNCTION to NULL). On failure the handle has no pin and no bearer.
 * Blocks as mesh_client_setup_curl (a token on a cache miss).
 */
MESH_WUR mesh_err_t mesh_client_setup_curl_peer(mesh_client_t *c, CURL *handle,
                                                const char *audience, const char *peer_id,
                                                mesh_peer_pin_t **pin);

/* MESH_OK, or MESH_ERR_PEER_ID when the pin stopped the handle's last transfer. NULL: OK.
 * Neither call blocks. */
mesh_err_t mesh_peer_pin_result(const mesh_peer_pin_t *pin);
void mesh_peer_pin_free(mesh_peer_pin_t *pin); /* NULL-safe */

#ifdef __cplusplus
}
#endif
#endif /* MESH_CURL_H */
