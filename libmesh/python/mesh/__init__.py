# SPDX-License-Identifier: Apache-2.0
"""libmesh for Python services: a client that fetches and caches tokens for peers, a
verifier for incoming requests, transports for httpx and requests (mesh.transports) and a
FastAPI/Starlette middleware and dependency (mesh.fastapi). See docs/PYTHON.md.

The package loads libmesh.so.0 ($MESH_LIBRARY, else the build tree in $MESH_BUILD_ROOT,
else the system library) through ctypes and uses only its public, opaque-handle API.
"""

from .client import Client, IdentityFiles, env_identity
from .errors import MeshError, http_status
from .verifier import Identity, Verifier, fast, fast_path

__all__ = ["Client", "Identity", "IdentityFiles", "MeshError", "Verifier", "env_identity",
           "fast", "fast_path", "http_status"]
__version__ = "0.1.0"
