"""The five Prefect tasks: thin wrappers that add retries, caching and readable run names.

The work is done by plain functions you can call without Prefect:
:func:`~prefect_jsoc.validation.validate_query`, :func:`~prefect_jsoc.validation.search_records`,
:func:`~prefect_jsoc.exports.stage_export`, :func:`~prefect_jsoc.exports.wait_for_export` and
:func:`~prefect_jsoc.downloads.download_manifest` (those also take an ``on_progress`` callback).

Retries: only transient faults (HTTP 5xx/429/503, connection errors, timeouts, JSOC's intermittent
status 4) are retried, with exponential backoff and jitter; validation errors and permanent JSOC
statuses fail at once.

Caching:

* ``stage`` is cached on ``query.cache_key()`` and the server URL for 24 hours, with SERIALIZABLE
  isolation and a file lock, so re-runs and concurrent runs of the same query re-attach to one
  export. The notify e-mail and other settings do not change the key.
* ``search`` is cached for 1 hour on the query, the requested keys and the server.
* ``validate``, ``await_export`` and ``download`` are not cached: ``await_export`` costs one status
  call on a re-run and notices expired exports; ``download`` skips verified files by itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.locking.filesystem import FileSystemLockManager
from prefect.serializers import PickleSerializer
from prefect.tasks import exponential_backoff

from prefect_jsoc.errors import JsocTransientError, JsocValidationError
from prefect_jsoc.models import DownloadResult, ExportHandle, ExportManifest, SearchResult
from prefect_jsoc.query import JsocQuery
from prefect_jsoc.settings import JsocSettings

__all__ = [
    "SEARCH_CACHE_EXPIRATION",
    "STAGE_CACHE_EXPIRATION",
    "await_export",
    "download",
    "search",
    "stage",
    "validate",
]

STAGE_CACHE_EXPIRATION = dt.timedelta(hours=24)
SEARCH_CACHE_EXPIRATION = dt.timedelta(hours=1)
_KEY_VERSION = "v1"
_RETRIES = 3
#: Task-level retries come on top of the client's own quick HTTP retries, so they start slower:
#: 5 s, 10 s, 20 s (+ jitter) by default. ``PREFECT_JSOC_TASK_RETRY_DELAY`` sets the first delay
#: (read at import, because Prefect fixes retry delays when the task is declared).
_RETRY_DELAYS = exponential_backoff(backoff_factor=float(os.environ.get("PREFECT_JSOC_TASK_RETRY_DELAY", "5")))
_JITTER = 0.5


# -- retries ------------------------------------------------------------------------------------


def retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry only :class:`~prefect_jsoc.errors.JsocTransientError`."""
    try:
        state.result()
    except JsocTransientError:
        return True
    except BaseException:
        return False
    return False


# -- run names ----------------------------------------------------------------------------------


def _label(obj: Any) -> str:
    for attr in ("label",):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    query = getattr(obj, "query", None)
    if query is not None and getattr(query, "label", None):
        return str(query.label)
    return "?"


def _run_name(prefix: str, param: str) -> Any:
    def name(parameters: dict[str, Any]) -> str:
        try:
            return f"{prefix} · {_label(parameters.get(param))}"
        except Exception:  # a run name must never fail a run
            return prefix

    name.__name__ = f"{prefix}_run_name"
    return name


# -- cache keys ---------------------------------------------------------------------------------


def _settings(parameters: dict[str, Any]) -> JsocSettings:
    return JsocSettings.resolve(parameters.get("settings"))


def _scope(settings: JsocSettings) -> str:
    """Digest of the server URL and the state directory: the "where" part of every cache key.

    The state directory holds the export ledger and slots that go with a cached handle, so a
    different state directory (another user, another test) gets its own cache entries.
    """
    blob = f"{settings.server_url}|{settings.state_path.resolve()}"
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _as_query(value: Any) -> JsocQuery:
    if isinstance(value, SearchResult):
        return value.query
    return value


def _stage_key(context: Any, parameters: dict[str, Any]) -> str | None:
    from prefect_jsoc.exports import ExportLedger

    found = parameters["query"]
    if isinstance(found, SearchResult) and found.count == 0:
        return None  # nothing was exported; do not cache "empty", the records may appear later
    query = _as_query(found)
    settings = _settings(parameters)
    key = query.cache_key()
    generation = ExportLedger(settings).generation(key)
    suffix = f"-g{generation}" if generation else ""
    return f"jsoc-stage-{_KEY_VERSION}-{key}-{_scope(settings)}{suffix}"


def _search_key(context: Any, parameters: dict[str, Any]) -> str:
    query = _as_query(parameters["query"])
    keys = parameters.get("keys")
    if isinstance(keys, str):
        keys = [k for k in keys.replace(",", " ").split() if k]
    blob = json.dumps(keys if keys is None else [str(k).upper() for k in keys])
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return f"jsoc-search-{_KEY_VERSION}-{query.cache_key()}-{digest}-{_scope(_settings(parameters))}"



# -- the stage lock -----------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class StateDirLockManager(FileSystemLockManager):
    """Prefect's file-system lock manager, in ``<PREFECT_JSOC_STATE_DIR>/locks``, robust to crashes.

    Prefect writes lock files without an expiry, so a process killed while holding one would block
    every later run of the same query forever. This manager records the holder's host and PID and
    treats a lock whose holder process is gone (on this host) as free; locks from other hosts
    expire after ``default_hold`` seconds.
    """

    default_hold = 6 * 3600.0

    def __init__(self) -> None:
        super().__init__(Path("."))

    @property  # type: ignore[override]
    def lock_files_directory(self) -> Path:
        base = os.environ.get("PREFECT_JSOC_STATE_DIR") or "~/.prefect_jsoc"
        return (Path(os.path.expandvars(base)).expanduser() / "locks").resolve()

    @lock_files_directory.setter
    def lock_files_directory(self, value: Path) -> None:  # set by the base __init__; ignored
        pass

    def _lock_path_for_key(self, key: str) -> Path:
        return self.lock_files_directory.joinpath(key).with_suffix(".lock")

    def acquire_lock(
        self,
        key: str,
        holder: str,
        acquire_timeout: float | None = None,
        hold_timeout: float | None = None,
    ) -> bool:
        acquired = super().acquire_lock(
            key, holder, acquire_timeout, hold_timeout if hold_timeout is not None else self.default_hold
        )
        if acquired:
            info = self._locks.get(key)
            expiration = info.get("expiration") if info else None
            path = self._lock_path_for_key(key)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(
                json.dumps(
                    {
                        "holder": holder,
                        "expiration": str(expiration) if expiration is not None else None,
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                    }
                )
            )
            os.replace(tmp, path)  # readers never see a half-written file
        return acquired

    def _get_lock_info(self, key: str, use_cache: bool = True) -> Any:
        try:
            return super()._get_lock_info(key, use_cache=use_cache)
        except ValueError:
            # Prefect creates the lock file and writes it in two steps, so another thread can read
            # it empty. Treat it as held; if it stays empty (the creator died), it is stale.
            path = self._lock_path_for_key(key)
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                return None
            if age > 10.0:
                path.unlink(missing_ok=True)
                return None
            return {"holder": "", "expiration": None, "path": path}

    def is_locked(self, key: str, use_cache: bool = False) -> bool:
        info = self._get_lock_info(key, use_cache=use_cache)
        if info is not None and info.get("host") == socket.gethostname():
            pid = info.get("pid")
            if isinstance(pid, int) and pid != os.getpid() and not _pid_alive(pid):
                Path(info["path"]).unlink(missing_ok=True)
                self._locks.pop(key, None)
                return False
        return super().is_locked(key, use_cache=use_cache)


STAGE_CACHE_POLICY = CachePolicy.from_cache_key_fn(_stage_key).configure(
    isolation_level="SERIALIZABLE", lock_manager=StateDirLockManager()
)


class FastPickleSerializer(PickleSerializer):
    """Prefect's pickle serializer, base64-encoded in one line.

    Prefect's own uses ``base64.encodebytes`` (a newline every 76 characters), which takes about
    5x longer than ``b64encode``: 80 ms of the 100,000-record search result's 17 MB here.
    """

    type: Literal["prefect-jsoc-pickle"] = "prefect-jsoc-pickle"  # type: ignore[assignment]

    def dumps(self, obj: Any) -> bytes:
        import cloudpickle

        return base64.b64encode(cloudpickle.dumps(obj))

    def loads(self, blob: bytes) -> Any:
        import cloudpickle

        return cloudpickle.loads(base64.b64decode(blob))


# -- the tasks ----------------------------------------------------------------------------------

_common: dict[str, Any] = dict(
    retries=_RETRIES,
    retry_delay_seconds=_RETRY_DELAYS,
    retry_jitter_factor=_JITTER,
    retry_condition_fn=retry_transient_only,
)


@task(name="validate", task_run_name=_run_name("validate", "query"), cache_policy=NO_CACHE, **_common)
def validate(query: JsocQuery, settings: JsocSettings | None = None) -> JsocQuery:
    """Check a query against the server before anything is exported.

    Checks that the series exists and that prime keys, wavelength, segments and filter keywords
    belong to it, that the server accepts the record set, that the estimated size is under JSOC's
    100 GB per-request limit, and (when an e-mail is configured or given on the query) that the
    e-mail is registered.

    Args:
        query: The query.
        settings: Server and politeness settings; ``None`` means ``JsocSettings.resolve()``.

    Returns:
        The query with its series layout attached (its ``recordset()`` is then exact).

    Raises:
        JsocValidationError: A subclass naming the bad value and listing the valid ones
            (``UnknownSeriesError``, ``UnknownSegmentError``, ``UnregisteredEmailError``, ...).
            Never retried.
        JsocTransientError: The server could not be reached (retried with backoff).

    Example:
        ```python
        from prefect import flow
        from prefect_jsoc import JsocQuery, validate

        @flow
        def check():
            q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05",
                          segments=["magnetogram"])
            return validate(q).recordset()
        ```
    """
    from prefect_jsoc.validation import validate_query

    return validate_query(query, settings)[0]


@task(
    name="search",
    task_run_name=_run_name("search", "query"),
    cache_key_fn=_search_key,
    cache_expiration=SEARCH_CACHE_EXPIRATION,
    result_serializer=FastPickleSerializer(),
    **_common,
)
def search(
    query: JsocQuery,
    keys: list[str] | str | None = None,
    settings: JsocSettings | None = None,
) -> SearchResult:
    """Find the records of a query, with the requested keywords.

    Args:
        query: The query (a validated one avoids nothing but is fine).
        keys: Keywords to return: ``None`` for ``T_REC, TELESCOP, INSTRUME, WAVELNTH, CAR_ROT`` (those
            the series has), ``"all"`` or ``["**ALL**"]`` for every keyword, or a list of names.
        settings: Server and politeness settings; ``None`` means ``JsocSettings.resolve()``.

    Returns:
        A ``SearchResult``: ``count``, ``table`` (an astropy Table, one row per record; requested
        segments add columns with storage paths), ``keys`` and the validated ``query``.

    Raises:
        JsocValidationError: For an unknown series, prime key, segment or keyword.
        JsocTransientError: The server could not be reached (retried with backoff).

    Example:
        ```python
        from prefect import flow
        from prefect_jsoc import JsocQuery, search

        @flow
        def look():
            q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
            result = search(q, keys=["T_REC", "QUALITY"])
            print(result.count, result.table)
        ```
    """
    from prefect_jsoc.validation import search_records

    return search_records(_as_query(query), keys, settings)


def _empty_handle(query: JsocQuery, settings: JsocSettings) -> ExportHandle:
    """The handle of a query with no records: complete at once, with no files and no request."""
    return ExportHandle(
        request_id=None,
        query_key=query.cache_key(),
        label=query.label,
        series=query.series,
        recordset=query.recordset(),
        method=query.method,
        protocol=query.protocol,
        server_url=settings.server_url,
        status=0,
        files=[],
        record_count=0,
        query=query,
    )


@task(
    name="stage",
    task_run_name=_run_name("stage", "query"),
    cache_policy=STAGE_CACHE_POLICY,
    cache_expiration=STAGE_CACHE_EXPIRATION,
    **_common,
)
def stage(query: JsocQuery | SearchResult, settings: JsocSettings | None = None) -> ExportHandle:
    """Submit the export of a query and return a small handle (request id, method, protocol, key).

    Cached on the normalised query and the server for 24 hours: a re-run, also after a crash,
    re-attaches to the same request id instead of submitting again. Pending exports are limited
    per e-mail (``max_pending_exports``, JSOC allows one) across threads, flow runs and processes on
    this host; JSOC's status 7 is back-pressure (the task waits), never a failure.

    Args:
        query: The query, or the ``SearchResult`` of ``search`` (its validated query is used; an
            empty result submits nothing and returns a complete handle with no files).
        settings: Server and politeness settings; ``None`` means ``JsocSettings.resolve()``. Only the
            server URL is part of the cache key.

    Returns:
        An ``ExportHandle`` (``request_id`` is None for a quick as-is export answered at once; its
        files are then in ``files``).

    Raises:
        MissingEmailError: No notify e-mail is configured.
        JsocValidationError: The query is invalid (nothing is exported), or matches no records.
        JsocExportError: JSOC refused the export (too large, bad request, needs staff, ...).
        JsocExportTimeout: No export slot became free within ``export_timeout``.

    Example:
        ```python
        from prefect import flow
        from prefect_jsoc import JsocQuery, JsocSettings, stage

        @flow
        def submit():
            q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05",
                          segments=["magnetogram"])
            handle = stage(q, settings=JsocSettings(email="me@example.org"))
            return handle.request_id
        ```
    """
    from prefect_jsoc.exports import stage_export

    record_count = None
    if isinstance(query, SearchResult):
        if query.count == 0:
            return _empty_handle(query.query, JsocSettings.resolve(settings))
        query, record_count = query.query, query.count
    if not isinstance(query, JsocQuery):
        raise JsocValidationError(f"stage needs a JsocQuery or a SearchResult, got {type(query).__name__}.")
    return stage_export(query, settings, record_count=record_count)


# Not cached: one exp_status call per re-run is what notices that JSOC purged or forgot an
# export (status 5, or an unknown id after a server restart), so the query is re-staged instead of
# downloading from a stale manifest.
@task(name="await_export", task_run_name=_run_name("await_export", "handle"), cache_policy=NO_CACHE, **_common)
def await_export(handle: ExportHandle, settings: JsocSettings | None = None) -> ExportManifest:
    """Wait until a staged export is ready and return the manifest of its files.

    Polls ``exp_status`` from about 1 s after submission with backoff up to ``poll_interval``,
    bounded by ``export_timeout``. If the export expired or the server forgot it, the query is
    re-staged once (same slot rules) and the manifest carries the new request id.

    Args:
        handle: From ``stage``.
        settings: Server and politeness settings; ``None`` means ``JsocSettings.resolve()``.

    Returns:
        An ``ExportManifest``: file URLs, safe local names, records and sizes (when known).

    Raises:
        JsocExportTooLarge: Status 3.
        JsocExportBadRequest: Status 4 (permanent).
        JsocExportExpired: Status 5, again after one re-stage.
        JsocExportNeedsStaff: Status 25.
        JsocExportTimeout: Not ready within ``export_timeout`` (it stays pending; re-run to re-attach).

    Example:
        ```python
        from prefect import flow
        from prefect_jsoc import JsocQuery, await_export, stage

        @flow
        def export():
            q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
            manifest = await_export(stage(q))
            return [f.filename for f in manifest.files]
        ```
    """
    from prefect_jsoc.exports import wait_for_export

    return wait_for_export(handle, settings)


@task(name="download", task_run_name=_run_name("download", "manifest"), cache_policy=NO_CACHE, **_common)
def download(
    manifest: ExportManifest,
    path: str | Path = "data/jsoc",
    settings: JsocSettings | None = None,
    overwrite: bool = False,
) -> DownloadResult:
    """Download the files of a finished export, verified, skipping files already present and valid.

    Uses parfive with a 1 MiB read chunk and at most ``max_connections`` connections, shared by
    every download on this host. Files go to a temporary name, are verified (length; FITS files must
    open and be as long as their headers declare) and then renamed. File names from the server that
    could escape the target directory are refused.

    Args:
        manifest: From ``await_export``.
        path: A directory, or a template such as ``"data/{series}/{T_REC}/{file}"`` (``{file}``,
            ``{series}``, ``{segment}``, ``{request_id}`` and the record's prime keys).
        settings: Server and politeness settings; ``None`` means ``JsocSettings.resolve()``.
        overwrite: Download again even files that are present and valid.

    Returns:
        A ``DownloadResult`` with the local paths, and how many files were downloaded or skipped.

    Raises:
        UnsafeFilenameError: A file name would escape the target directory (nothing is written).
        JsocDownloadError: Files still failing after retries; lists each URL and error.

    Example:
        ```python
        from prefect import flow
        from prefect_jsoc import JsocQuery, await_export, download, stage

        @flow
        def fetch():
            q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05",
                          segments=["magnetogram"])
            return download(await_export(stage(q)), "data/{series}/{file}").paths
        ```
    """
    from prefect_jsoc.downloads import download_manifest

    return download_manifest(manifest, path, settings, overwrite=overwrite)
