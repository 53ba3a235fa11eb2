/* SPDX-License-Identifier: Apache-2.0 */
/* jansson glue: every JSON document from outside is parsed here, with libmesh's limits. The
 * parse functions are public, in <mesh/jansson.h>. */
#ifndef MESH_JSON_H
#define MESH_JSON_H

#include <mesh/jansson.h>

#endif /* MESH_JSON_H */
