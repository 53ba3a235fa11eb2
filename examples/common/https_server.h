/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small HTTPS server for the example services: libevent's evhttp over OpenSSL
 * bufferevents, asking every client for a certificate that chains to the mesh CA (mTLS).
 * This file and https_server.c are the examples' only TLS-server code; the services see
 * requests (libevent's evhttp_request: headers, body) and the peer's DER certificate.
 *
 * One event loop, one thread: requests are handled one after another. That keeps the
 * examples short; a production gateway would hand the upstream call to a worker.
 */
#ifndef EXAMPLES_HTTPS_SERVER_H
#define EXAMPLES_HTTPS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/http.h>
#include <event2/util.h>

#include <mesh/buf.h>
#include <mesh/error.h>

typedef struct {
    const char *listen;       /* "HOST:PORT"; port 0 picks a free one (see port_file) */
    const char *cert_path;    /* the service's certificate chain (leaf first) */
    const char *key_path;     /* its key */
    const char *ca_path;      /* the mesh trust anchor: client certificates must chain to it */
    bool require_client_cert; /* false: ask for a certificate but let the route decide */
    const char *port_file;    /* optional: the bound port is written here once listening */
    const char *name;         /* for log lines: "gateway", "asset-service" */
    FILE *log;                /* refusal log (https_server_log_refusal); NULL: stderr */
    long long (*clock)(void); /* test hook: seconds for the log rate limit; NULL: monotonic */
    /* Look at the certificate and key files every this many ms and reload when they change
     * (a renewal in place); 0: the environment's MESH_TLS_RELOAD_POLL_MS, else no polling.
     * SIGHUP reloads in any case. */
    int reload_poll_ms;
} https_server_opts_t;

typedef struct https_server https_server_t;

/* Called for every request; the handler must answer it (evhttp_send_reply...). */
typedef void (*https_handler_fn)(struct evhttp_request *req, void *arg);

/*
 * Loads the TLS files (the error names the file), binds, writes the port file. Returns NULL
 * after printing the reason to stderr.
 */
https_server_t *https_server_new(const https_server_opts_t *opts, https_handler_fn fn, void *arg);

/* Runs until SIGINT, SIGTERM or https_server_stop(); returns 0 on a clean stop. */
int https_server_run(https_server_t *s);

/* Makes https_server_run() return once the current callback is done. From another thread
 * only when libevent threading was enabled (evthread_use_pthreads) before https_server_new. */
void https_server_stop(https_server_t *s);

void https_server_free(https_server_t *s);

/* Renewed certificate files are taken without a restart: on SIGHUP (what `mesh renew --daemon
 * --signal PID` sends), and with reload_poll_ms when the certificate or key file changes
 * (inode, mtime or size). New connections get the new pair, open ones keep theirs; a pair that
 * fails to load is reported and the previous one kept. The count of reloads so far (tests). */
unsigned https_server_reloads(const https_server_t *s);

/* The port the server is bound to. */
int https_server_port(const https_server_t *s);

/*
 * The client certificate of the connection `req` arrived on, DER-encoded, into *der (a new
 * buffer, free()) and *len. Returns false when the peer presented none.
 */
bool https_peer_cert_der(struct evhttp_request *req, uint8_t **der, size_t *len);

/*
 * Logs one line about a refused request (401, 403, ...) to the server's log, rate-limited
 * (log_limit.h): at most LOG_LIMIT_BURST lines per LOG_LIMIT_INTERVAL_S, then one
 * "suppressed K similar lines" summary per interval, so a flood of bad requests cannot fill
 * the disk. The line is prefixed with the server's name.
 */
void https_server_log_refusal(https_server_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Sets TCP_NODELAY on a TCP socket: a response is sent as soon as it is written instead of
 * waiting (Nagle) for the ACK of the previous segment, which a peer delays by up to ~40 ms.
 * The server sets it on its listening socket; Linux copies it to every accepted socket.
 * Returns false (errno set) when setsockopt fails.
 */
bool https_socket_set_nodelay(evutil_socket_t fd);

/*
 * The request's body in a new bounded buffer (*out, mesh_buf_free(); <mesh/buf.h>), at most
 * MESH_GATEWAY_MAX_BODY bytes (libevent refuses a larger one with 413 before the handler
 * runs). MESH_ERR_LIMIT past it, MESH_ERR_NOMEM; *out is set only on success. Never blocks.
 */
mesh_err_t https_request_body(struct evhttp_request *req, mesh_buf_t **out)
    __attribute__((warn_unused_result));

/* "GET", "POST", ... for the request's method. */
const char *https_method_name(struct evhttp_request *req);

/* Answers `status` with a JSON body (a copy of `json`) and optional extra header. */
void https_reply_json(struct evhttp_request *req, int status, const char *reason, const char *json,
                      const char *hdr_name, const char *hdr_value);

#endif /* EXAMPLES_HTTPS_SERVER_H */
