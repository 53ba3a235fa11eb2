# SPDX-License-Identifier: Apache-2.0
"""An owned libmesh handle that may be closed while other threads use it."""

from __future__ import annotations

import time
from typing import Callable, Optional

from ._lib import c_void_p


class Handle:
    """Holds a libmesh object pointer and frees it once, after the last call using it.

    libmesh forbids freeing a client or verifier while another call on it runs. ``acquire``
    registers a call in flight *before* reading the pointer, ``release`` unregisters it, and
    ``close`` clears the pointer *before* waiting until no call is registered. The register
    is a list whose append and pop are atomic under the GIL, so the hot path takes no lock
    (a Condition cost more than the verification it guarded). Calls begun after close raise
    ``RuntimeError``.
    """

    __slots__ = ("_ptr", "_free", "_what", "_inflight")

    def __init__(self, ptr: c_void_p, free: Callable[[c_void_p], None], what: str) -> None:
        self._ptr: Optional[c_void_p] = ptr
        self._free = free
        self._what = what
        self._inflight: list[None] = []

    def acquire(self) -> c_void_p:
        self._inflight.append(None)
        ptr = self._ptr
        if ptr is None:
            self._inflight.pop()
            raise RuntimeError(f"{self._what} is closed")
        return ptr

    def release(self) -> None:
        self._inflight.pop()

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            return
        while self._inflight:  # calls that read the pointer before it was cleared
            time.sleep(0.001)
        self._free(ptr)
