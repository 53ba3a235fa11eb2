/* SPDX-License-Identifier: Apache-2.0 */
/* libmesh umbrella header: include this, link with `pkg-config --libs libmesh`. */
#ifndef MESH_MESH_H
#define MESH_MESH_H

#include <mesh/error.h>
#include <mesh/b64url.h>
#include <mesh/limits.h>
#include <mesh/key.h>
#include <mesh/jwks.h>
#include <mesh/jws.h>
#include <mesh/jwt.h>
#include <mesh/x509.h>
#include <mesh/client.h>
#include <mesh/verifier.h>
#include <mesh/util.h>
#include <mesh/buf.h>

#define MESH_VERSION "0.1.0"

#endif /* MESH_MESH_H */
