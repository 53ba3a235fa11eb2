# SPDX-License-Identifier: Apache-2.0
"""The ctypes door into libmesh.so: where the library is found and every prototype used.

Only opaque handles (``c_void_p``) and C scalars cross this boundary: no struct layout of
libmesh is mirrored here, so the package depends on the ABI that libmesh.map exports and on
nothing else. ctypes releases the GIL for the duration of each foreign call, so Python
threads run libmesh calls in parallel.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    POINTER,
    c_bool,
    c_char_p,
    c_double,
    c_int,
    c_int64,
    c_long,
    c_size_t,
    c_uint64,
    c_void_p,
)
from typing import Optional

_SONAME = "libmesh.so.0"


def _candidates() -> list[str]:
    """Where libmesh.so is looked for, in order: $MESH_LIBRARY (a path), the build tree
    named by $MESH_BUILD_ROOT (the tests), then the system library by its soname."""
    out = []
    explicit = os.environ.get("MESH_LIBRARY")
    if explicit:
        return [explicit]
    build = os.environ.get("MESH_BUILD_ROOT")
    if build:
        out.append(os.path.join(build, "libmesh", _SONAME))
    out.append(_SONAME)
    return out


def _load() -> ctypes.CDLL:
    errors = []
    for name in _candidates():
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise ImportError(
        "mesh: cannot load libmesh (" + "; ".join(errors) + "); install libmesh "
        "(meson install) or point MESH_LIBRARY at libmesh.so.0"
    )


lib = _load()

_H = c_void_p
_PH = POINTER(c_void_p)


def _proto(name: str, restype: Optional[type], *argtypes: type) -> None:
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


# error.h
_proto("mesh_strerror", c_char_p, c_int)
_proto("mesh_err_name", c_char_p, c_int)
_proto("mesh_err_detail", c_char_p)
_proto("mesh_err_clear", None)
_proto("mesh_free", None, c_void_p)

# util.h
_proto("mesh_env_identity", c_int, c_char_p, _PH, _PH, _PH)

# client.h
_proto("mesh_client_opts_new", c_int, _PH)
_proto("mesh_client_opts_free", None, _H)
for _n in ("issuer_url", "cert_path", "key_path", "ca_path", "client_id", "client_secret",
           "issuer_id"):
    _proto(f"mesh_client_opts_set_{_n}", c_int, _H, c_char_p)
_proto("mesh_client_opts_set_insecure_skip_hostname", c_int, _H, c_bool)
_proto("mesh_client_opts_set_cache_entries", c_int, _H, c_size_t)
_proto("mesh_client_opts_set_refresh_fraction", c_int, _H, c_double)
_proto("mesh_client_opts_set_token_ttl", c_int, _H, c_int64)
_proto("mesh_client_opts_set_max_retries", c_int, _H, c_int)
for _n in ("retry_base_ms", "retry_max_ms", "timeout_ms"):
    _proto(f"mesh_client_opts_set_{_n}", c_int, _H, c_int64)
_proto("mesh_client_new", c_int, _H, _PH)
_proto("mesh_client_from_env", c_int, c_char_p, _PH)
_proto("mesh_client_free", None, _H)
_proto("mesh_client_token", c_int, _H, c_char_p, c_char_p, _PH, POINTER(c_int64))
_proto("mesh_client_stat", c_uint64, _H, c_int)

# verifier.h
_proto("mesh_verifier_opts_new", c_int, _PH)
_proto("mesh_verifier_opts_free", None, _H)
for _n in ("issuer", "audience", "ca_path", "issuer_id", "binding", "profile", "typ",
           "algorithms", "required_claims"):
    _proto(f"mesh_verifier_opts_set_{_n}", c_int, _H, c_char_p)
_proto("mesh_verifier_opts_set_jwks", c_int, _H, c_int, c_char_p)
_proto("mesh_verifier_opts_set_client_cert", c_int, _H, c_char_p, c_char_p)
_proto("mesh_verifier_opts_set_trust_bundle", c_int, _H, c_char_p, c_char_p)
for _n in ("skew", "max_lifetime", "revocation_poll_ms", "jwks_cooldown_ms"):
    _proto(f"mesh_verifier_opts_set_{_n}", c_int, _H, c_int64)
_proto("mesh_verifier_opts_set_revocation_feed", c_int, _H, c_bool)
_proto("mesh_verifier_opts_set_cache_entries", c_int, _H, c_size_t)
_proto("mesh_verifier_opts_from_env", c_int, c_char_p, _PH)
_proto("mesh_verifier_new", c_int, _H, _PH)
_proto("mesh_verifier_free", None, _H)
_proto("mesh_verify", c_int, _H, c_char_p, c_char_p, c_size_t, c_char_p, _PH)
_proto("mesh_verify_pem", c_int, _H, c_char_p, c_char_p, c_size_t, c_char_p, _PH)
_proto("mesh_verify_http_status", c_int, c_int, c_char_p, c_char_p, c_size_t)
_proto("mesh_verifier_stat", c_uint64, _H, c_int)
_proto("mesh_verifier_refresh_keys", c_int, _H)
_proto("mesh_verifier_poll_revocations", c_int, _H)
_proto("mesh_verifier_reload_trust", c_int, _H)

# jwt.h: the identity
_proto("mesh_identity_free", None, _H)
for _n in ("issuer", "subject", "audience", "scopes", "jti", "client_id", "x5t"):
    _proto(f"mesh_identity_{_n}", c_char_p, _H)
for _n in ("expiry", "issued_at", "not_before"):
    _proto(f"mesh_identity_{_n}", c_int64, _H)
_proto("mesh_identity_has_scope", c_bool, _H, c_char_p)
_proto("mesh_identity_has_audience", c_bool, _H, c_char_p)
_proto("mesh_identity_bound", c_bool, _H)
_proto("mesh_identity_claim", c_int, _H, c_char_p, _PH)
_proto("mesh_identity_to_json", c_int, _H, _PH)

# Exported for the other modules.
__all__ = ["lib", "c_void_p", "c_int64", "c_long"]
