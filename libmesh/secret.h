/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Randomness and wiping are public now (<mesh/util.h>: mesh_random_bytes, mesh_wipe,
 * mesh_equal_ct); this header only forwards there, for the files that still include it.
 */
#ifndef MESH_SECRET_H
#define MESH_SECRET_H

#include <mesh/util.h>

#endif /* MESH_SECRET_H */
