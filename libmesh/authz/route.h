/* SPDX-License-Identifier: Apache-2.0 */
/* Which route a request falls under: host, then longest path prefix, then method. */
#ifndef AUTHZ_ROUTE_H
#define AUTHZ_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/*
 * true when `path` (`len` bytes, no query) starts with '/' and has no '.' or '..' segment, no
 * empty segment ("//"), no '%' (no encoded '/', '.' or NUL can hide one), no '\\', no control
 * byte or space, no '?' or '#'. A proxy routes on the normalised path while it forwards the
 * raw one: mesh-authz only decides for paths both read the same way.
 */
bool route_path_canonical(const char *path, size_t len);

/*
 * The route for `method`, `host` (NULL or "": none; the port is ignored) and `path` (canonical,
 * no query): the routes naming the request's host exactly are tried first, the host-less ("*")
 * ones only when none of those matches the path. The longest matching prefix wins, whatever
 * the method; of the routes with that prefix, the first (in file order) that allows the
 * method is the answer. NULL when none: *reason is "no_route", or "method_not_allowed" when
 * the longest prefix's routes do not take the method (never a looser, shorter prefix).
 */
const route_t *route_match(const config_t *cfg, const char *method, const char *host,
                           const char *path, const char **reason);

#endif /* AUTHZ_ROUTE_H */
