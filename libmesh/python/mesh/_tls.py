# SPDX-License-Identifier: Apache-2.0
"""TLS contexts from a service's identity files, rebuilt when the files are renewed."""

from __future__ import annotations

import os
import ssl
import threading
from typing import Callable, Generic, Optional, TypeVar

from .client import IdentityFiles

T = TypeVar("T")


def client_context(files: IdentityFiles) -> ssl.SSLContext:
    """A client SSLContext that trusts only the mesh CA (no system CAs) and presents the
    service certificate (when the identity has one)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=files.ca_path)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if files.cert_path and files.key_path:
        ctx.load_cert_chain(files.cert_path, files.key_path)
    return ctx


def server_context(cert_path: str, key_path: str, ca_path: str) -> ssl.SSLContext:
    """A server SSLContext requiring a client certificate of the mesh CA (mTLS)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca_path)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(cert_path, key_path)
    return ctx


def file_stamp(files: IdentityFiles) -> tuple:
    """What changes when any identity file is replaced: inode, mtime and size of each."""
    out = []
    for p in (files.cert_path, files.key_path, files.ca_path):
        if p:
            try:
                st = os.stat(p)
                out.append((st.st_ino, st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
    return tuple(out)


class Renewing(Generic[T]):
    """An object built from the identity files (a TLS context, an HTTP transport), built
    again when any of the files changes: certificate renewal (mesh-ca renew, rotate by
    rename) is picked up by the next request without restarting the process. Replaced
    objects are kept until ``retired`` is drained, so a request in flight on one finishes."""

    def __init__(self, files: IdentityFiles, build: Callable[[ssl.SSLContext], T]) -> None:
        self.files = files
        self._build = build
        self._lock = threading.Lock()
        self._stamp = file_stamp(files)
        self._current: T = build(client_context(files))
        self.retired: list[T] = []

    def get(self) -> T:
        stamp = file_stamp(self.files)
        if stamp == self._stamp:
            return self._current
        with self._lock:
            if stamp != self._stamp:
                try:
                    fresh = self._build(client_context(self.files))
                except (OSError, ssl.SSLError):
                    # Half-written files (a renewal in progress): keep the old identity and
                    # try again on the next request.
                    return self._current
                self.retired.append(self._current)
                self._current, self._stamp = fresh, stamp
            return self._current

    def all(self) -> list[T]:
        with self._lock:
            out, self.retired = self.retired + [self._current], []
            return out


def optional_host(url_host: Optional[str], port: Optional[int]) -> list[str]:
    if not url_host:
        return []
    return [f"{url_host}:{port}", url_host] if port else [url_host]
