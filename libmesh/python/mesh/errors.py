# SPDX-License-Identifier: Apache-2.0
"""libmesh failures as Python exceptions."""

from __future__ import annotations

import ctypes
from typing import Optional

from ._lib import lib

# The mesh_err_t values this package refers to by name (error.h; never renumbered).
OK = 0
ERR_INVALID_ARG = 1
ERR_AUDIENCE = 43
ERR_SCOPE = 51
ERR_NOT_FOUND = 69
ERR_CONFIG = 68
ERR_NO_TOKEN = 66


class MeshError(Exception):
    """A libmesh call failed.

    ``code`` is the stable ``mesh_err_t`` number, ``reason`` its reason code for logs and
    peers (``mesh_err_name``: "token_expired"), ``message`` the short sentence
    (``mesh_strerror``) and ``detail`` what libmesh said about this failure
    (``mesh_err_detail``: names the file, variable or rule; never a key, secret or token).
    """

    def __init__(self, code: int, detail: str = "", context: str = "") -> None:
        self.code = code
        self.reason = lib.mesh_err_name(code).decode()
        self.message = lib.mesh_strerror(code).decode()
        self.detail = detail
        self.context = context
        text = f"{context}: " if context else ""
        text += f"{self.message} ({self.reason})"
        if detail:
            text += f": {detail}"
        super().__init__(text)

    def http_status(self, required_scope: Optional[str] = None) -> tuple[int, str]:
        """The HTTP status and RFC 6750 WWW-Authenticate value for this failure, as
        ``mesh_verify_http_status`` maps it ("" when the status needs no header)."""
        return http_status(self.code, required_scope)


def http_status(code: int, required_scope: Optional[str] = None) -> tuple[int, str]:
    """``mesh_verify_http_status`` for a ``mesh_err_t`` code."""
    buf = ctypes.create_string_buffer(512)
    scope = required_scope.encode() if required_scope else None
    status = lib.mesh_verify_http_status(code, scope, buf, len(buf))
    return status, buf.value.decode()


def check(code: int, context: str = "") -> None:
    """Raises MeshError for a failed call. Must run on the thread that made the call, right
    after it: the detail is thread-local and the next libmesh call replaces it."""
    if code != OK:
        raise MeshError(code, lib.mesh_err_detail().decode(errors="replace"), context)


def take_string(ptr: ctypes.c_void_p) -> str:
    """Copies a string libmesh returned as new and frees it (mesh_free)."""
    try:
        return ctypes.string_at(ptr).decode() if ptr else ""
    finally:
        lib.mesh_free(ptr)


def enc(value: Optional[str], name: str) -> Optional[bytes]:
    """A str argument as UTF-8 bytes for C; a NUL inside is refused here, naming `name`
    (C would silently cut the string there)."""
    if value is None:
        return None
    if value.__class__ is not str and not isinstance(value, str):
        raise TypeError(f"{name}: expected str, got {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"{name}: contains a NUL character")
    return value.encode()
