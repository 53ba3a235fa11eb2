/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon: the listeners (unix sockets, loopback TCP, TCP with the proxy's mTLS), N
 * worker threads each with its own libevent base serving every listener, and the main
 * thread's loop: signals (SIGHUP reload, SIGTERM/SIGINT exit) and the metrics listener.
 * server*.c are the only libevent and libssl users of mesh-authz.
 */
#ifndef AUTHZ_SERVER_H
#define AUTHZ_SERVER_H

#include "config.h"

/* Runs until SIGTERM/SIGINT; takes `cfg` (started). `ready_file` (optional) receives the
 * bound addresses as JSON once listening. Returns the exit status. */
int server_run(config_t *cfg, const char *ready_file);

/* The live config, a new reference (config_unref). */
config_t *server_config(void);

#endif /* AUTHZ_SERVER_H */
