/* SPDX-License-Identifier: Apache-2.0 */
/* The request handlers of mesh-authz's listeners (server_http.c). */
#ifndef AUTHZ_SERVER_HTTP_H
#define AUTHZ_SERVER_HTTP_H

struct evhttp_request;

/* A proxy's request on a decision listener; `arg` is its listener_t. */
void http_handle(struct evhttp_request *req, void *arg);
/* GET /metrics and /healthz on the metrics listener. */
void metrics_handle(struct evhttp_request *req, void *arg);

#endif /* AUTHZ_SERVER_HTTP_H */
