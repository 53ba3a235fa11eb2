/* SPDX-License-Identifier: Apache-2.0 */
/* jansson glue: every JSON document from outside is parsed here, with libmesh's limits. */
#ifndef MESH_JSON_H
#define MESH_JSON_H

#include <stddef.h>

#include <jansson.h>

#include <mesh/error.h>

/*
 * Parses exactly `len` bytes as one JSON value: duplicate object members are
 * MESH_ERR_JSON_DUPLICATE, nesting past `max_depth` MESH_ERR_JSON_DEPTH, invalid UTF-8
 * MESH_ERR_UTF8, anything else malformed MESH_ERR_JSON. `what` names the input in the detail.
 */
mesh_err_t mesh_json_parse(const char *buf, size_t len, size_t max_depth, const char *what,
                           json_t **out);

/* Like mesh_json_parse, and the value must be an object. */
mesh_err_t mesh_json_parse_object(const char *buf, size_t len, size_t max_depth,
                                  const char *what, json_t **out);

#endif /* MESH_JSON_H */
