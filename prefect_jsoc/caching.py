"""Cache keys and isolation of the tasks that are cached: ``stage`` (24 h) and ``search`` (1 h).

``stage`` is keyed on what is exported (record set, method, protocol, processing) and the server,
never on the e-mail or the host, so a re-run anywhere that shares Prefect's result storage re-attaches
to the same request. Concurrent runs of the same key are isolated with Prefect's SERIALIZABLE cache
isolation and a Prefect lock manager (files by default), whose locks are given a hold timeout so that
a run killed while holding one cannot block that key for long, and whose lock files are read safely
while another run is writing one. Across hosts the pending-export slot (a Prefect global
concurrency limit) already serialises one e-mail's submissions, and JSOC answers identical
requests with the same request id; ``PREFECT_JSOC_LOCK_MANAGER=redis://host:port/db`` switches to
prefect-redis's lock manager for strict isolation across hosts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.locking.filesystem import FileSystemLockManager
from prefect.locking.protocol import LockManager

from prefect_jsoc._log import get_logger
from prefect_jsoc.errors import InvalidOptionError
from prefect_jsoc.models import ExportUnit, SearchResult
from prefect_jsoc.query import JsocQuery, ValidatedQuery
from prefect_jsoc.settings import JsocSettings

__all__ = [
    "SEARCH_CACHE_EXPIRATION",
    "STAGE_CACHE_EXPIRATION",
    "STAGE_CACHE_POLICY",
    "ExpiringLocks",
    "ReadSafeFileLocks",
    "lock_manager",
    "search_key",
    "stage_key",
]

#: How long a staged export is re-used: JSOC de-duplicates identical exports for 24 h and keeps the
#: files for 7 days; an export that expired earlier is re-staged (see the ``export`` task).
STAGE_CACHE_EXPIRATION = dt.timedelta(hours=24)
SEARCH_CACHE_EXPIRATION = dt.timedelta(hours=1)
_KEY_VERSION = "v2"
#: A stage lock older than this is stale: its holder was killed (submitting takes seconds).
LOCK_HOLD_SECONDS = 300.0


def _server(parameters: dict[str, Any]) -> str:
    return JsocSettings.resolve(parameters.get("settings")).server_id


def stage_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """Cache key of ``stage``: the export's content and the server (None: do not cache)."""
    what = parameters.get("unit")
    if isinstance(what, list) and len(what) == 1:
        what = what[0]
    if isinstance(what, ExportUnit):
        key = "u-" + what.cache_key()
    elif isinstance(what, ValidatedQuery):
        key = "u-" + ExportUnit(blocks=(what,), recordset=what.recordset()).cache_key()
    elif isinstance(what, JsocQuery):
        key = "q-" + what.cache_key()
    else:  # a SearchResult (empty ones export nothing) or something stage will refuse
        return None if not isinstance(what, SearchResult) or not what.count else "q-" + what.query.cache_key()
    return f"jsoc-stage-{_KEY_VERSION}-{key}-{_server(parameters)}"


def search_key(context: Any, parameters: dict[str, Any]) -> str:
    """Cache key of ``search``: the query, the requested keywords and the server."""
    what = parameters.get("query")
    if isinstance(what, list) and len(what) == 1:
        what = what[0]
    query = what.query if isinstance(what, (ValidatedQuery, SearchResult)) else what
    keys = parameters.get("keys")
    if isinstance(keys, str):
        keys = [k for k in keys.replace(",", " ").split() if k]
    blob = json.dumps(keys if keys is None else [str(k).upper() for k in keys])
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    qkey = query.cache_key() if isinstance(query, JsocQuery) else hashlib.sha256(repr(query).encode()).hexdigest()
    return f"jsoc-search-{_KEY_VERSION}-{qkey}-{digest}-{_server(parameters)}"


class ExpiringLocks(LockManager):
    """A Prefect lock manager (file system or Redis) whose locks expire, so a killed holder blocks little.

    Prefect's transactions take their lock without a hold timeout, so a lock left by a process that
    was killed would block its key forever. This wrapper gives every lock :data:`LOCK_HOLD_SECONDS`
    unless the caller asks for another hold; it uses only the public lock-manager interface.

    Args:
        inner: The lock manager that stores the locks.
        hold_seconds: The default hold of a lock.
    """

    def __init__(self, inner: LockManager, hold_seconds: float = LOCK_HOLD_SECONDS) -> None:
        self.inner = inner
        self.hold_seconds = hold_seconds

    def acquire_lock(
        self, key: str, holder: str, acquire_timeout: float | None = None, hold_timeout: float | None = None
    ) -> bool:
        hold = hold_timeout if hold_timeout is not None else self.hold_seconds
        if self.inner.is_locked(key) and not self.inner.is_lock_holder(key, holder):
            # Otherwise a re-run right after a crash mid-stage would wait in silence.
            get_logger().info(
                "Another run is staging the same export (lock %s); waiting until it is done, or at most "
                "%.0f s if that run was killed.",
                key,
                self.hold_seconds,
            )
        return self.inner.acquire_lock(key, holder, acquire_timeout, hold)

    async def aacquire_lock(
        self, key: str, holder: str, acquire_timeout: float | None = None, hold_timeout: float | None = None
    ) -> bool:
        hold = hold_timeout if hold_timeout is not None else self.hold_seconds
        return await self.inner.aacquire_lock(key, holder, acquire_timeout, hold)

    def release_lock(self, key: str, holder: str) -> None:
        try:
            self.inner.release_lock(key, holder)
        except ValueError:  # the lock expired and another run holds the key now: nothing to release
            pass

    def wait_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return self.inner.wait_for_lock(key, timeout)

    async def await_for_lock(self, key: str, timeout: float | None = None) -> bool:
        return await self.inner.await_for_lock(key, timeout)

    def is_locked(self, key: str) -> bool:
        return self.inner.is_locked(key)

    def is_lock_holder(self, key: str, holder: str) -> bool:
        return self.inner.is_lock_holder(key, holder)


class ReadSafeFileLocks(FileSystemLockManager):
    """Prefect's file-system lock manager, safe to read while another run is taking a lock.

    Prefect creates a lock file empty (the exclusive step) and writes its holder after; a run that
    reads it in between got ``ValueError`` from the JSON parser and its task failed. Here such a file
    counts as held by a holder not known yet, until :data:`LOCK_HOLD_SECONDS` after its creation (a
    writer killed in between cannot block the key for longer). A lock file that another waiter
    removes first counts as free.
    """

    def _get_lock_info(self, key: str, use_cache: bool = True) -> Any:
        try:
            return super()._get_lock_info(key, use_cache)
        except ValueError:  # created, not written yet; not cached, so the next look reads it again
            path = self._lock_path_for_key(key)
            try:
                created = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
            except FileNotFoundError:
                return None
            return {"holder": "", "expiration": created + dt.timedelta(seconds=LOCK_HOLD_SECONDS), "path": path}

    def is_locked(self, key: str, use_cache: bool = False) -> bool:
        try:
            return super().is_locked(key, use_cache)
        except FileNotFoundError:  # another waiter removed the expired lock file first
            return False


def lock_manager(url: str | None = None) -> ExpiringLocks:
    """The lock manager of ``stage``: Redis for a ``redis://`` URL, else the file system (one machine).

    Args:
        url: A ``redis://host:port/db`` URL; default ``PREFECT_JSOC_LOCK_MANAGER``, else files under
            ``$PREFECT_HOME/prefect-jsoc-locks``.

    Raises:
        InvalidOptionError: For a URL that is not ``redis://`` or ``rediss://``.
    """
    url = (url if url is not None else os.environ.get("PREFECT_JSOC_LOCK_MANAGER", "")).strip()
    if url.startswith(("redis://", "rediss://")):
        from prefect_redis.locking import RedisLockManager  # pip install "prefect-jsoc[redis]"

        return ExpiringLocks(RedisLockManager(connection_url=url))
    if url:
        raise InvalidOptionError(
            f"PREFECT_JSOC_LOCK_MANAGER={url!r} is not a redis:// URL; leave it unset to use the file system."
        )
    from prefect.settings import get_current_settings

    return ExpiringLocks(ReadSafeFileLocks(Path(get_current_settings().home) / "prefect-jsoc-locks"))


STAGE_CACHE_POLICY = CachePolicy.from_cache_key_fn(stage_key).configure(
    isolation_level="SERIALIZABLE", lock_manager=lock_manager()
)
