/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTPS server: one listening socket shared by N worker threads, each with its own
 * libevent event_base, evhttp and store handle. The main thread only waits for signals:
 * SIGHUP reloads the state snapshot, SIGTERM/SIGINT drain the workers and exit.
 * server.c, server_http.c and server_tls.c are the only libevent / SSL users.
 */
#ifndef ISSUER_SERVER_H
#define ISSUER_SERVER_H

#include <stdbool.h>
#include <time.h>

#include "metrics.h"
#include "server_tls.h"
#include "state.h"
#include "store.h"

struct evhttp_request;

typedef struct worker worker_t;

/* One accepted connection (lives as long as its SSL object). */
typedef struct conn {
    worker_t *w;
    struct conn *prev, *next; /* the worker's open connections */
    struct bufferevent *bev;
    struct event *deadline;
    bool idle; /* last answer fully sent, no request bytes since: safe to close on drain */
    bool peer_loaded;
    tls_peer_t peer;
    struct timespec opened; /* CLOCK_MONOTONIC */
    struct event *accepted; /* runs once the socket is set: counts it against its source */
    bool counted;           /* in the per-source table under `source` */
    char source[64];
} conn_t;

/* Runs the server until SIGTERM/SIGINT. Takes `st`. Returns the process exit status. */
int server_run(const char *config_path, issuer_state_t *st, int workers);

/* For server_http.c */
issuer_state_t *server_state_get(void); /* a new reference to the current snapshot */
metrics_t *server_metrics(void);
store_t *worker_store(worker_t *w);
bool worker_draining(worker_t *w);
/* true when `c` is older than max_connection_age: its next answer says Connection: close. */
bool server_conn_too_old(const conn_t *c, const config_t *cfg);
conn_t *server_conn_of(struct evhttp_request *req);
/* The connection's client certificate as judged now (see tls_peer_judge); borrowed. */
const tls_peer_t *server_conn_peer(conn_t *c, const issuer_state_t *st);
/* Called as a request starts being answered: rearms the deadline, marks idle when sent. */
void server_conn_answering(conn_t *c, const issuer_state_t *st, struct evhttp_request *req);

/* The request handler (server_http.c); arg is the worker. */
void http_handle(struct evhttp_request *req, void *arg);

#endif /* ISSUER_SERVER_H */
