"""Counters that tests read through ``GET /_emulator/stats``."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from typing import Any

__all__ = ["Stats", "email_digest"]


def email_digest(email: str) -> str:
    """The 12-hex-digit digest of an e-mail (SHA-256 of the trimmed, lower-cased address).

    It is the digest ``prefect_jsoc.limits`` puts in the names of its export limits, so a test
    can match the emulator's records to them without the address appearing in clear.
    """
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:12]


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
            self.exports_created = 0
            self.exports_duplicate = 0
            self.exports_quick = 0
            self.refusals_status7 = 0
            self.bytes_served = 0
            self.max_pending_per_email = 0
            self.max_pending = 0
            self.exports: dict[str, dict[str, Any]] = {}
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
        """Count one ``exp_request``/``exp_status`` reply by status code (and status-7 refusals)."""
        with self._lock:
            self.status_replies[f"{op}:{status}"] += 1
            if op == "exp_request" and status == 7:
                self.refusals_status7 += 1

    def submitted(self, pending_for_email: int | None, pending_total: int | None = None) -> None:
        """Count a new accepted export (staged or quick).

        Args:
            pending_for_email: That e-mail's pending staged exports, this one included (None for a
                quick export, which is never pending).
            pending_total: Pending staged exports of every e-mail, this one included.
        """
        with self._lock:
            self.exports_submitted += 1
            if pending_for_email is None:
                self.exports_quick += 1
            else:
                self.max_pending_per_email = max(self.max_pending_per_email, pending_for_email)
            if pending_total is not None:
                self.max_pending = max(self.max_pending, pending_total)

    def created(
        self, request_id: str, email: str, submitted_at: float, completes_at: float, rcount: int, size_mb: int
    ) -> None:
        """Record a new staged export under its request id."""
        with self._lock:
            self.exports_created += 1
            digest = email_digest(email)
            self.exports[request_id] = {
                "email_digest": digest,
                "requested_by": [digest],
                "submitted_at": submitted_at,
                "completes_at": completes_at,
                "rcount": rcount,
                "size_mb": size_mb,
                "duplicates": 0,
            }

    def duplicate(self, request_id: str, email: str) -> None:
        """Record an ``exp_request`` answered with the id of an existing export (JSOC's 24 h reuse)."""
        with self._lock:
            self.exports_duplicate += 1
            entry = self.exports.get(request_id)
            if entry is not None:
                entry["duplicates"] += 1
                digest = email_digest(email)
                if digest not in entry["requested_by"]:
                    entry["requested_by"].append(digest)

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
        """The JSON document served at ``/_emulator/stats``.

        Keys: ``requests`` (per CGI and op, and ``file:GET``/``file:HEAD``), ``exports_submitted``
        (accepted exports: created plus quick), ``exports_created`` (new staged request ids),
        ``exports_duplicate`` (``exp_request`` answered with an existing id), ``exports_quick``,
        ``refusals_status7``, ``max_pending_per_email``, ``max_pending`` (all e-mails),
        ``pending_now``, ``exports`` (per request id: ``email_digest``, ``requested_by``,
        ``submitted_at``, ``completes_at`` (Unix times), ``rcount``, ``size_mb``, ``duplicates``),
        ``bytes_served``, ``max_concurrent_downloads``, ``downloads_now``, ``faults`` and
        ``status_replies`` (``"<op>:<status>"`` counts).
        """
        with self._lock:
            return {
                "requests": dict(self.requests),
                "exports_submitted": self.exports_submitted,
                "exports_created": self.exports_created,
                "exports_duplicate": self.exports_duplicate,
                "exports_quick": self.exports_quick,
                "refusals_status7": self.refusals_status7,
                "bytes_served": self.bytes_served,
                "max_pending_per_email": self.max_pending_per_email,
                "max_pending": self.max_pending,
                "pending_now": pending_now,
                "exports": {rid: {**e, "requested_by": list(e["requested_by"])} for rid, e in self.exports.items()},
                "max_concurrent_downloads": self.max_concurrent_downloads,
                "downloads_now": self.downloads_now,
                "faults": dict(self.faults),
                "status_replies": dict(self.status_replies),
            }
