"""A small thread-safe cache whose entries expire and whose size is bounded (oldest entries go first).

:class:`~prefect_jsoc.client.JsocClient` keeps series definitions and successful e-mail checks in it.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

V = TypeVar("V")


class TtlCache(Generic[V]):
    """A bounded cache of string keys whose entries expire ``ttl`` seconds after they were put.

    Args:
        maxsize: Entries kept at most; putting one more drops the oldest.
        ttl: Seconds an entry stays valid.
    """

    def __init__(self, maxsize: int, ttl: float) -> None:
        self._data: dict[str, tuple[float, V]] = {}
        self._maxsize, self._ttl = maxsize, ttl
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        """The entry of ``key``, or None when there is none or it expired."""
        with self._lock:
            hit = self._data.get(key)
            if hit is None or time.monotonic() - hit[0] > self._ttl:
                self._data.pop(key, None)
                return None
            return hit[1]

    def put(self, key: str, value: V) -> None:
        """Store ``value`` under ``key``, dropping the oldest entries beyond ``maxsize``."""
        with self._lock:
            self._data.pop(key, None)
            self._data[key] = (time.monotonic(), value)
            while len(self._data) > self._maxsize:
                self._data.pop(next(iter(self._data)))
