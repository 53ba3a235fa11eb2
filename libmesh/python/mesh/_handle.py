# SPDX-License-Identifier: Apache-2.0
"""An owned libmesh handle that may be closed while other threads use it."""

from __future__ import annotations

import threading
from typing import Callable, Optional

from ._lib import c_void_p


class Handle:
    """Holds a libmesh object pointer and frees it once, after the last call using it.

    libmesh forbids freeing a client or verifier while another call on it runs; ``use()``
    counts calls in flight and ``close()`` waits for them, so closing from one thread while
    others verify is safe (calls begun after close raise ``RuntimeError``).
    """

    __slots__ = ("_ptr", "_free", "_what", "_busy", "_cond")

    def __init__(self, ptr: c_void_p, free: Callable[[c_void_p], None], what: str) -> None:
        self._ptr: Optional[c_void_p] = ptr
        self._free = free
        self._what = what
        self._busy = 0
        self._cond = threading.Condition(threading.Lock())

    def acquire(self) -> c_void_p:
        with self._cond:
            if self._ptr is None:
                raise RuntimeError(f"{self._what} is closed")
            self._busy += 1
            return self._ptr

    def release(self) -> None:
        with self._cond:
            self._busy -= 1
            if self._busy == 0:
                self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def close(self) -> None:
        with self._cond:
            ptr, self._ptr = self._ptr, None
            while self._busy:
                self._cond.wait()
        if ptr is not None:
            self._free(ptr)
