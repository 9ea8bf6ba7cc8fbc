"""Cache keys and isolation of the tasks that are cached: ``stage`` (24 h) and ``search`` (1 h).

``stage`` is keyed on what is exported (record set, method, protocol, processing) and the server,
never on the e-mail or the host, so a re-run anywhere that shares Prefect's result storage re-attaches
to the same request. Concurrent runs of the same key are isolated with Prefect's SERIALIZABLE cache
isolation and its file-system lock manager, given a hold timeout so that a run killed while holding
a lock cannot block that key for long. Across hosts the pending-export slot (a Prefect global
concurrency limit) already serialises one e-mail's submissions, and JSOC answers identical
requests with the same request id; ``PREFECT_JSOC_LOCK_MANAGER=redis://host:port/db`` switches to
prefect-redis's lock manager for strict isolation across hosts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.locking.filesystem import FileSystemLockManager

from prefect_jsoc.models import ExportUnit, SearchResult
from prefect_jsoc.query import JsocQuery, ValidatedQuery
from prefect_jsoc.settings import JsocSettings

__all__ = [
    "SEARCH_CACHE_EXPIRATION",
    "STAGE_CACHE_EXPIRATION",
    "STAGE_CACHE_POLICY",
    "ExpiringFileSystemLockManager",
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


class ExpiringFileSystemLockManager(FileSystemLockManager):
    """Prefect's file-system lock manager whose locks expire, so a killed holder blocks nobody for long.

    Prefect's transactions take locks without a hold timeout, and a lock file left by a killed
    process would then block its key forever. Only the public lock-manager methods are extended.
    """

    def __init__(self, lock_files_directory: Path, hold_seconds: float = LOCK_HOLD_SECONDS) -> None:
        super().__init__(lock_files_directory)
        self.hold_seconds = hold_seconds

    def acquire_lock(self, key: str, holder: str, acquire_timeout: float | None = None,
                     hold_timeout: float | None = None) -> bool:
        hold = hold_timeout if hold_timeout is not None else self.hold_seconds
        for _ in range(50):
            try:
                return super().acquire_lock(key, holder, acquire_timeout, hold)
            except ValueError:  # read another holder's lock file between its creation and its write
                time.sleep(0.1)
        return super().acquire_lock(key, holder, acquire_timeout, hold)

    async def aacquire_lock(self, key: str, holder: str, acquire_timeout: float | None = None,
                            hold_timeout: float | None = None) -> bool:
        return self.acquire_lock(key, holder, acquire_timeout, hold_timeout)

    def release_lock(self, key: str, holder: str) -> None:
        try:
            super().release_lock(key, holder)
        except ValueError:  # our lock expired and another run holds the key now: nothing to release
            pass


def _lock_manager() -> Any:
    url = os.environ.get("PREFECT_JSOC_LOCK_MANAGER", "").strip()
    if url.startswith("redis://"):
        from urllib.parse import urlparse

        from prefect_redis.locking import RedisLockManager  # type: ignore[import-not-found]

        parts = urlparse(url)
        return RedisLockManager(host=parts.hostname or "localhost", port=parts.port or 6379,
                                db=int((parts.path or "/0").strip("/") or 0), password=parts.password)
    from prefect.settings import get_current_settings

    return ExpiringFileSystemLockManager(Path(get_current_settings().home) / "prefect-jsoc-locks")


STAGE_CACHE_POLICY = CachePolicy.from_cache_key_fn(stage_key).configure(
    isolation_level="SERIALIZABLE", lock_manager=_lock_manager()
)
