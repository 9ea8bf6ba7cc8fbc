"""Counters that tests read through ``GET /_emulator/stats``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]


class Stats:
    """Request, export, fault and transfer counters of one emulator (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the running-download gauge keeps its current value)."""
        with self._lock:
            self.requests: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()
            self.status_replies: Counter[str] = Counter()
            self.exports_submitted = 0
            self.bytes_served = 0
            self.max_pending_per_email = 0
            self.max_concurrent_downloads = getattr(self, "downloads_now", 0)
            self.downloads_now = getattr(self, "downloads_now", 0)

    def request(self, name: str) -> None:
        """Count one request, e.g. ``jsoc_info:rs_list`` or ``file:GET``."""
        with self._lock:
            self.requests[name] += 1

    def fault(self, kind: str) -> None:
        """Count one injected fault."""
        with self._lock:
            self.faults[kind] += 1

    def status_reply(self, op: str, status: int) -> None:
        """Count one ``exp_request``/``exp_status`` reply by status code."""
        with self._lock:
            self.status_replies[f"{op}:{status}"] += 1

    def submitted(self, pending_for_email: int | None) -> None:
        """Count a new accepted export; ``pending_for_email`` is that e-mail's pending count."""
        with self._lock:
            self.exports_submitted += 1
            if pending_for_email is not None:
                self.max_pending_per_email = max(self.max_pending_per_email, pending_for_email)

    def served(self, nbytes: int) -> None:
        """Count file bytes written to clients."""
        with self._lock:
            self.bytes_served += nbytes

    def download_started(self) -> None:
        """A file GET began sending."""
        with self._lock:
            self.downloads_now += 1
            self.max_concurrent_downloads = max(self.max_concurrent_downloads, self.downloads_now)

    def download_finished(self) -> None:
        """A file GET ended (completely or not)."""
        with self._lock:
            self.downloads_now -= 1

    def snapshot(self, pending_now: int) -> dict[str, Any]:
        """The JSON document served at ``/_emulator/stats``."""
        with self._lock:
            return {
                "requests": dict(self.requests),
                "exports_submitted": self.exports_submitted,
                "bytes_served": self.bytes_served,
                "max_pending_per_email": self.max_pending_per_email,
                "pending_now": pending_now,
                "max_concurrent_downloads": self.max_concurrent_downloads,
                "downloads_now": self.downloads_now,
                "faults": dict(self.faults),
                "status_replies": dict(self.status_replies),
            }
