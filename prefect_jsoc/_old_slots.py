"""TEMPORARY: the old file-based export slots, kept only until exports.py moves to limits.py (issue 10)."""


from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from prefect_jsoc._log import get_logger as _logger
from prefect_jsoc.errors import JsocExportTimeout, JsocTransientError
from prefect_jsoc.settings import JsocSettings

__all__ = ["ConnectionSlots", "ExportSlots", "PENDING_STATUSES", "atomic_write_json", "read_json"]


#: exp_status codes that mean "still pending" (1 processing, 2 queued, 6 not located yet).
PENDING_STATUSES = frozenset({1, 2, 6})


def _now() -> float:
    return time.time()


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON to ``path`` atomically (temporary file, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, default=str))
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    """Read JSON from ``path``; None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class ExportSlots:
    """Pending-export registry for one notify e-mail on one server.

    Args:
        settings: Resolved settings (state directory, limit, poll interval, timeouts).
        email_address: The notify e-mail (only its digest is stored on disk).

    Example:
        ```python
        from prefect_jsoc import JsocSettings
        from prefect_jsoc.limits import ExportSlots
        slots = ExportSlots(JsocSettings(), "me@example.org")
        with slots.locked():
            print(slots.pending())
        ```
    """

    def __init__(self, settings: JsocSettings, email_address: str):
        self.settings = settings
        digest = hashlib.sha256(f"{email_address.lower()}|{settings.server_url}".encode()).hexdigest()[:16]
        self.directory = settings.state_path / "pending" / digest
        self.limit = settings.max_pending_exports
        self._lock_path = self.directory / ".lock"

    def _entry_path(self, request_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in request_id)
        return self.directory / f"{safe}.json"

    @contextlib.contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the registry's file lock (blocks other threads and processes on this host).

        Raises:
            JsocExportTimeout: When the lock could not be taken within ``timeout`` seconds.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self._lock_path)
        wait = self.settings.export_timeout if timeout is None else timeout
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise JsocExportTimeout(
                f"Could not take the export-slot lock {self._lock_path} within {wait:.0f} s; another "
                "process holds it. If no prefect-jsoc process is running, delete the file."
            ) from None
        try:
            yield
        finally:
            lock.release()

    def pending(self) -> list[dict[str, Any]]:
        """Return the recorded pending exports (call while holding :meth:`locked`)."""
        out = []
        if not self.directory.is_dir():
            return out
        for path in sorted(self.directory.glob("*.json")):
            data = read_json(path)
            if isinstance(data, dict) and data.get("request_id"):
                out.append(data)
        return out

    def add(self, request_id: str, *, label: str = "", query_key: str = "") -> None:
        """Record a newly submitted export as pending (call while holding :meth:`locked`)."""
        atomic_write_json(
            self._entry_path(request_id),
            {
                "request_id": request_id,
                "label": label,
                "query_key": query_key,
                "submitted_at": dt.datetime.now(dt.timezone.utc).isoformat(),
                "checked_at": _now(),
            },
        )

    def release(self, request_id: str) -> None:
        """Forget a request id once its export finished or failed (takes the lock itself)."""
        with self.locked():
            with contextlib.suppress(FileNotFoundError):
                self._entry_path(request_id).unlink()

    def touch(self, request_id: str) -> None:
        """Note that the export was just seen pending, so pruning need not ask the server again."""
        with self.locked():
            path = self._entry_path(request_id)
            data = read_json(path)
            if isinstance(data, dict):
                data["checked_at"] = _now()
                atomic_write_json(path, data)

    def prune(self, status_of: Callable[[str], dict[str, Any]]) -> list[dict[str, Any]]:
        """Drop entries that are no longer pending and return the rest (call while locked).

        Each entry is checked on the server at most once per ``poll_interval``. An entry whose
        status cannot be read (transient fault) is kept: counting one pending export too many is
        safer than overrunning JSOC's limit.

        Args:
            status_of: ``exp_status`` for a request id (``JsocClient.export_status``).

        Returns:
            The entries still pending.
        """
        keep = []
        for entry in self.pending():
            rid = entry["request_id"]
            if _now() - float(entry.get("checked_at") or 0) < self.settings.poll_interval:
                keep.append(entry)
                continue
            try:
                reply = status_of(rid)
                status = int(reply.get("status"))
            except (JsocTransientError, TypeError, ValueError):
                keep.append(entry)
                continue
            if status in PENDING_STATUSES:
                entry["checked_at"] = _now()
                atomic_write_json(self._entry_path(rid), entry)
                keep.append(entry)
            else:
                _logger().debug("Export %s is no longer pending (status %s); freeing its slot.", rid, status)
                with contextlib.suppress(FileNotFoundError):
                    self._entry_path(rid).unlink()
        return keep


class ConnectionSlots:
    """Download connection slots shared by every download from one server on this host.

    Args:
        settings: Resolved settings (state directory and ``max_connections``).

    Example:
        ```python
        from prefect_jsoc import JsocSettings
        from prefect_jsoc.limits import ConnectionSlots
        with ConnectionSlots(JsocSettings()).hold(wanted=4) as n:
            print(f"may open {n} connections")
        ```
    """

    def __init__(self, settings: JsocSettings):
        self.settings = settings
        self.directory = settings.state_path / "connections" / settings.server_id
        self.limit = settings.max_connections

    def _try(self, index: int) -> FileLock | None:
        lock = FileLock(self.directory / f"slot-{index}.lock")
        try:
            lock.acquire(blocking=False)
        except Timeout:
            return None
        return lock

    @contextlib.contextmanager
    def hold(
        self,
        wanted: int = 1,
        *,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> Iterator[int]:
        """Hold between 1 and ``min(wanted, max_connections)`` slots while the block runs.

        Blocks (polling with backoff) until at least one slot is free, then takes as many more as
        are free right now.

        Args:
            wanted: How many connections the caller could use (e.g. the number of files).
            timeout: Give up after this many seconds (default: no limit).
            sleep: Sleep function between polls.

        Yields:
            The number of slots held (the connection count to use).

        Raises:
            TimeoutError: When no slot became free within ``timeout``.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        target = max(1, min(int(wanted), self.limit))
        held: list[FileLock] = []
        delay = 0.05
        start = time.monotonic()
        announced = False
        while not held:
            for i in range(self.limit):
                lock = self._try(i)
                if lock is not None:
                    held.append(lock)
                    if len(held) >= target:
                        break
            if held:
                break
            if timeout is not None and time.monotonic() - start > timeout:
                raise TimeoutError(f"No download connection slot became free within {timeout:.0f} s.")
            if not announced:
                _logger().info("Waiting for a free download connection (limit %d on this host).", self.limit)
                announced = True
            sleep(delay)
            delay = min(delay * 1.5, 1.0)
        try:
            yield len(held)
        finally:
            for lock in held:
                lock.release()
