/* SPDX-License-Identifier: Apache-2.0 */
/* Base64url is public API: <mesh/b64url.h>. This name stays for libmesh's own files. */
#include <mesh/b64url.h>
