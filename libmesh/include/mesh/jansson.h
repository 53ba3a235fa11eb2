/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The jansson door: every JSON document from outside a program is parsed here, with the
 * rules libmesh applies to its own input: duplicate object members refused (RFC 8725 §3.9),
 * nesting bounded, strict UTF-8. The only public header that includes <jansson.h>; include it
 * only in a file that works with json_t values, and link jansson yourself.
 * These calls never block.
 */
#ifndef MESH_JANSSON_H
#define MESH_JANSSON_H

#include <stddef.h>

#include <jansson.h>

#include <mesh/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Parses exactly `len` bytes as one JSON value (*out new, json_decref()): duplicate object
 * members are MESH_ERR_JSON_DUPLICATE, nesting past `max_depth` MESH_ERR_JSON_DEPTH, invalid
 * UTF-8 MESH_ERR_UTF8, anything else malformed MESH_ERR_JSON. `what` names the input in the
 * detail ("token request body", "template certs-templates/mesh.json").
 */
MESH_WUR mesh_err_t mesh_json_parse(const char *buf, size_t len, size_t max_depth, const char *what,
                                    json_t **out);

/* Like mesh_json_parse, and the value must be an object. */
MESH_WUR mesh_err_t mesh_json_parse_object(const char *buf, size_t len, size_t max_depth,
                                           const char *what, json_t **out);

#ifdef __cplusplus
}
#endif
#endif /* MESH_JANSSON_H */
