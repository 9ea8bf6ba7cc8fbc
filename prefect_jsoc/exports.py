"""Staging and awaiting exports: the plain functions behind the ``stage`` and ``await_export`` tasks.

Restart safety has three layers:

1. Prefect caches ``stage`` on the query key (see ``tasks.py``), so a re-run gets the same handle.
2. This module keeps an **export ledger** in the state directory: the handle of every submitted
   export, keyed by query key and server, written right after JSOC accepts it. ``stage`` consults
   it (inside the export-slot lock) before submitting, so a crash between submission and Prefect's
   result write, or a concurrent run of the same query, re-attaches instead of submitting again.
3. When an export has expired or the server forgot it, ``await_export`` re-stages once and records
   ``old id -> new id``; later runs holding the old handle go straight to the new id.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from prefect_jsoc._log import get_logger as _logger
from prefect_jsoc.client import JsocClient
from prefect_jsoc.downloads import parse_record, quick_filename, safe_filename
from prefect_jsoc.errors import (
    JsocError,
    JsocExportError,
    JsocExportExpired,
    JsocExportTimeout,
    JsocProtocolError,
    JsocTransientError,
    NoRecordsError,
    export_error_for_status,
)
from prefect_jsoc._old_slots import PENDING_STATUSES, ExportSlots, atomic_write_json, read_json
from prefect_jsoc.models import ExportHandle, ExportManifest, ManifestFile
from prefect_jsoc.query import JsocQuery
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.validation import check_email, validate_query

__all__ = ["ExportLedger", "STAGE_TTL", "build_files", "stage_export", "wait_for_export"]

ProgressCallback = Callable[[str, float, str], None]

#: How long a staged export is re-used (JSOC de-duplicates identical exports for 24 h and keeps
#: results for 7 days).
STAGE_TTL = dt.timedelta(hours=24)
_MAX_TRANSIENT_POLLS = 10


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# ---------------------------------------------------------------------------------------------
# Ledger
# ---------------------------------------------------------------------------------------------


class ExportLedger:
    """What was submitted for which query, on disk under ``<state_dir>/exports/<server id>/``.

    Args:
        settings: Resolved settings.

    Example:
        ```python
        from prefect_jsoc import JsocSettings
        from prefect_jsoc.exports import ExportLedger
        ledger = ExportLedger(JsocSettings())
        handle = ledger.lookup("d437a7c7e7dbf8dd6fb7c782dc63b84b")   # None if nothing staged
        ```
    """

    def __init__(self, settings: JsocSettings):
        self.directory = settings.state_path / "exports" / settings.server_id

    def _handle_path(self, query_key: str) -> Path:
        return self.directory / f"{query_key}.json"

    def _replaced_path(self, request_id: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in request_id)
        return self.directory / "replaced" / f"{safe}.json"

    def record(self, handle: ExportHandle) -> None:
        """Remember the handle staged for its query."""
        atomic_write_json(self._handle_path(handle.query_key), handle.model_dump(mode="json"))

    def lookup(self, query_key: str) -> ExportHandle | None:
        """Return the handle staged for a query within :data:`STAGE_TTL`, or None."""
        data = read_json(self._handle_path(query_key))
        if not isinstance(data, dict):
            return None
        try:
            handle = ExportHandle.model_validate(data)
        except Exception:
            return None
        if _now() - handle.submitted_at > STAGE_TTL:
            return None
        return handle

    def forget(self, query_key: str) -> None:
        """Drop the handle of a query (its export failed for good)."""
        with contextlib.suppress(FileNotFoundError):
            self._handle_path(query_key).unlink()
        self.bump_generation(query_key)

    def generation(self, query_key: str) -> int:
        """How many times the query's export was abandoned (part of the ``stage`` cache key)."""
        data = read_json(self.directory / "generations" / f"{query_key}.json")
        return int(data) if isinstance(data, int) else 0

    def bump_generation(self, query_key: str) -> None:
        """Invalidate cached ``stage`` results of the query (used after a permanent failure)."""
        atomic_write_json(self.directory / "generations" / f"{query_key}.json", self.generation(query_key) + 1)

    def record_replacement(self, old_id: str, new: ExportHandle) -> None:
        """Remember that ``old_id`` was re-staged as ``new``."""
        atomic_write_json(self._replaced_path(old_id), new.model_dump(mode="json"))

    def replacement(self, request_id: str) -> ExportHandle | None:
        """Follow ``old id -> new id`` links to the newest handle, or None when not replaced."""
        newest = None
        current = request_id
        for _ in range(20):  # guard against cycles
            data = read_json(self._replaced_path(current))
            if not isinstance(data, dict):
                break
            try:
                newest = ExportHandle.model_validate(data)
            except Exception:
                break
            if not newest.request_id or newest.request_id == current:
                break
            current = newest.request_id
        return newest


# ---------------------------------------------------------------------------------------------
# Manifest files
# ---------------------------------------------------------------------------------------------


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def build_files(reply: dict[str, Any], server_url: str, query: JsocQuery | None = None) -> list[ManifestFile]:
    """Turn a completed export reply (``exp_status`` status 0, or a quick ``exp_request``) into files.

    * fits/url exports: ``<server><dir>/<filename>``, named as the server named them;
    * quick as-is exports (no ``dir``): the absolute SUMS path, named like drms does from the
      record (``hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits``);
    * tar exports: the single tar file.

    Rows without a file (``NoDataFile``) are dropped. Every local name is checked with
    :func:`~prefect_jsoc.downloads.safe_filename`, and repeated names get ``.1``, ``.2`` suffixes.

    Args:
        reply: The JSON reply.
        server_url: Base URL for downloads.
        query: The query, whose layout names the prime keys for path templates.

    Returns:
        The files.

    Raises:
        UnsafeFilenameError: When the server sent a name that could escape the target directory.
    """
    base = server_url.rstrip("/") + "/"
    primekeys = list(query.layout.primekeys) if query is not None and query.layout is not None else []
    tar = str(reply.get("tarfile") or "").strip()
    directory = str(reply.get("dir") or "").strip()
    files: list[ManifestFile] = []
    if tar:
        name = safe_filename(tar.rsplit("/", 1)[-1])
        series = query.series if query else ""
        return [ManifestFile(url=urljoin(base, tar.lstrip("/")), filename=name, record=None, size=None,
                             keywords={"series": series})]
    used: dict[str, int] = {}
    for row in reply.get("data") or []:
        if not isinstance(row, dict):
            continue
        filename = str(row.get("filename") or "").strip()
        record = row.get("record")
        if not filename or filename == "NoDataFile" or (record and str(record).startswith("movie")):
            continue
        if directory:
            name = safe_filename(filename)
            url = urljoin(base, f"{directory.strip('/')}/{filename}")
        else:
            url = urljoin(base, filename.lstrip("/"))
            name = safe_filename(quick_filename(record, filename))
        if name in used:
            used[name] += 1
            stem, dot, ext = name.partition(".fits") if ".fits" in name else (name, "", "")
            name = f"{stem}.{used[name]}{dot}{ext}"
            _logger().warning("Two files of the export are both named %s; saving one as %s.", filename, name)
        else:
            used[name] = 0
        series, values, segment = parse_record(str(record) if record else None)
        keywords: dict[str, str] = {"series": series or (query.series if query else "")}
        for pk, value in zip(primekeys, values):
            keywords[pk] = value
        if segment:
            keywords["segment"] = segment
        size = _int(row.get("size"))
        files.append(ManifestFile(url=url, filename=name, record=str(record) if record else None, size=size,
                                  keywords=keywords))
    return files


# ---------------------------------------------------------------------------------------------
# Stage
# ---------------------------------------------------------------------------------------------


def _handle_from_reply(
    reply: dict[str, Any], query: JsocQuery, recordset: str, server_url: str
) -> ExportHandle:
    status = _int(reply.get("status"), -1)
    request_id = str(reply.get("requestid") or reply.get("reqid") or "").strip() or None
    files = build_files(reply, server_url, query) if status == 0 else []
    return ExportHandle(
        request_id=request_id,
        query_key=query.cache_key(),
        label=query.label,
        series=query.series,
        recordset=recordset,
        method=str(reply.get("method") or query.method),
        protocol=str(reply.get("protocol") or query.protocol),
        server_url=server_url,
        submitted_at=_now(),
        status=status if status is not None else -1,
        files=files,
        size_mb=_float(reply.get("size")),
        record_count=_int(reply.get("rcount"), _int(reply.get("count"))),
        query=query,
    )


#: Quick exports sent at once from this process: parallel enough to hide JSOC's latency, few enough
#: not to look like the bursts of exports that made JSOC answer HTTP 500 (sunpy#3897).
MAX_QUICK_IN_FLIGHT = 4
_QUICK_IN_FLIGHT = threading.BoundedSemaphore(MAX_QUICK_IN_FLIGHT)


def _is_quick(query: JsocQuery) -> bool:
    """``url_quick`` + ``as-is``: JSOC answers with the files at once and keeps nothing pending."""
    return query.method == "url_quick" and query.protocol == "as-is"


def _submit_quick(
    client: JsocClient,
    query: JsocQuery,
    address: str,
    recordset: str,
    slots: ExportSlots,
    ledger: ExportLedger,
    reuse_ledger: bool,
) -> ExportHandle | None:
    """Submit a quick export without queueing for a pending-export slot.

    Quick exports of online data never become pending, so serialising them behind the per-e-mail
    slot would only make many small blocks wait on each other. If JSOC turns one into a real request
    (data on tape), it is registered as pending like any other; if JSOC answers status 7, ``None``
    sends the caller to the slot queue. JSOC itself enforces its pending rule, so this cannot exceed it.
    """
    if reuse_ledger:
        existing = ledger.lookup(query.cache_key())
        if existing is not None:
            return existing
    with _QUICK_IN_FLIGHT:
        reply = client.submit_export(query, address, recordset)
    status = _int(reply.get("status"), -1)
    if status == 7:
        return None
    if status not in (0, 1, 2):
        err = export_error_for_status(reply, label=query.label)
        if isinstance(err, JsocTransientError):
            return None  # the slot loop retries transient refusals with its backoff
        raise err
    handle = _handle_from_reply(reply, query, recordset, client.server_url)
    if status in (1, 2) and handle.request_id:
        with slots.locked():
            slots.add(handle.request_id, label=query.label, query_key=query.cache_key())
        _logger().info("Quick export of %s became request %s (data not online); it is pending.",
                       query.label, handle.request_id)
    else:
        _logger().info("Quick export of %s is ready at once: %d file(s).", query.label, len(handle.files))
    ledger.record(handle)
    return handle


def _submit_with_slot(
    client: JsocClient,
    query: JsocQuery,
    address: str,
    settings: JsocSettings,
    *,
    reuse_ledger: bool = True,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportHandle:
    """Submit ``query`` once a pending-export slot for ``address`` is free (or re-attach)."""
    logger = _logger()
    ledger = ExportLedger(settings)
    slots = ExportSlots(settings, address)
    recordset = query.recordset()
    key = query.cache_key()
    if _is_quick(query):
        quick = _submit_quick(client, query, address, recordset, slots, ledger, reuse_ledger)
        if quick is not None:
            return quick
    deadline = time.monotonic() + settings.export_timeout
    delay = 1.0
    transient = 0
    announced = False
    wait_started = time.monotonic()
    while True:
        waiting_on: list[str] = []
        with slots.locked():
            if reuse_ledger:
                existing = ledger.lookup(key)
                if existing is not None:
                    logger.info(
                        "Re-attaching to export %s for %s (submitted %s); nothing new is submitted.",
                        existing.request_id or "(quick)", query.label, existing.submitted_at.isoformat(),
                    )
                    return existing
            pending = slots.prune(client.export_status)
            waiting_on = [p["request_id"] for p in pending]
            if len(pending) < slots.limit:
                reply = client.submit_export(query, address, recordset)
                status = _int(reply.get("status"), -1)
                if status in (0, 1, 2):
                    handle = _handle_from_reply(reply, query, recordset, client.server_url)
                    if status in (1, 2):
                        if not handle.request_id:
                            raise JsocProtocolError(
                                f"JSOC accepted the export of {query.label} (status {status}) without a request id."
                            )
                        slots.add(handle.request_id, label=query.label, query_key=key)
                        waited = time.monotonic() - wait_started
                        logger.info(
                            "Submitted export %s for %s (%s/%s, %s records, ~%s MB)%s.",
                            handle.request_id, query.label, handle.method, handle.protocol,
                            handle.record_count if handle.record_count is not None else "?",
                            f"{handle.size_mb:g}" if handle.size_mb is not None else "?",
                            f" after waiting {waited:.1f} s for a free export slot" if announced else "",
                        )
                    else:
                        logger.info(
                            "Quick export of %s is ready at once: %d file(s).", query.label, len(handle.files)
                        )
                    ledger.record(handle)
                    return handle
                err = export_error_for_status(reply, label=query.label)
                if status == 7:
                    waiting_on = waiting_on or ["(server-side)"]
                    logger.info("JSOC asked to wait before a new export (status 7); waiting for a free slot.")
                elif isinstance(err, JsocTransientError):
                    transient += 1
                    if transient > settings.http_retries:
                        raise err
                    logger.warning("%s (attempt %d of %d)", err, transient, settings.http_retries + 1)
                else:
                    raise err
        if time.monotonic() >= deadline:
            raise JsocExportTimeout(
                f"No export slot became free for {query.label} within {settings.export_timeout:.0f} s "
                f"(pending: {', '.join(waiting_on) or 'none'}). Raise export_timeout or wait for pending exports."
            )
        if not announced and waiting_on:
            logger.info(
                "Waiting for a free export slot for %s: %d pending (%s), limit %d per e-mail.",
                query.label, len(waiting_on), ", ".join(waiting_on), slots.limit,
            )
            announced = True
        if on_progress is not None:
            with contextlib.suppress(Exception):
                on_progress("stage", 0.0, f"waiting for an export slot ({len(waiting_on)} pending)")
        sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, settings.poll_interval)


def stage_export(
    query: JsocQuery,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
    record_count: int | None = None,
) -> ExportHandle:
    """Submit the export of a query (politely) and return a serialisable handle.

    Re-attaches instead of submitting when this host already staged the same query on the same
    server within 24 hours. Otherwise validates the query (unless it is already validated), checks
    the e-mail, refuses empty record sets, waits for a free pending-export slot for the e-mail
    (status 7 from JSOC is treated as back-pressure), submits, and records the request id.

    Args:
        query: The query.
        settings: Settings; resolved when None.
        client: A client to reuse.
        on_progress: Called as ``on_progress("stage", fraction, detail)`` while waiting for a slot.
        sleep: Sleep function (tests may pass a fake one).

    Returns:
        The handle (``request_id`` None and ``files`` filled for an immediate quick export).

    Raises:
        MissingEmailError: When no notify e-mail is configured.
        JsocValidationError: When the query is not valid (before anything is exported).
        NoRecordsError: When the query matches no records.
        JsocExportError: When JSOC refuses the export (status 3, 4, 25, ...).
        JsocExportTimeout: When no slot became free within ``export_timeout``.
        JsocTransientError: When the server could not be reached after retries.

    Example:
        ```python
        from prefect_jsoc import JsocQuery, JsocSettings
        from prefect_jsoc.exports import stage_export
        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
        handle = stage_export(q, JsocSettings(email="me@example.org"))
        print(handle.request_id)
        ```
    """
    settings = JsocSettings.resolve(settings)
    address = settings.notify_email(query.notify)
    client = client or JsocClient(settings)
    existing = ExportLedger(settings).lookup(query.cache_key())
    if existing is not None:
        _logger().info(
            "Re-attaching to export %s for %s (submitted %s); nothing new is submitted.",
            existing.request_id or "(quick)", query.label, existing.submitted_at.isoformat(),
        )
        return existing
    if query.layout is None:
        query, count = validate_query(query, settings, client=client)  # also checks the e-mail
    else:
        check_email(client, address)
        # A search just counted these records; asking JSOC again would cost a call per block.
        count = record_count if record_count is not None else client.count(query.recordset())
    if count == 0:
        raise NoRecordsError(
            f"The query {query.label} matches no records ({query.recordset()}), so there is nothing to export. "
            "Check the time range and prime keys with the search task."
        )
    return _submit_with_slot(client, query, address, settings, on_progress=on_progress, sleep=sleep)


# ---------------------------------------------------------------------------------------------
# Await
# ---------------------------------------------------------------------------------------------


def _manifest(handle: ExportHandle, request_id: str | None, files: list[ManifestFile], size_mb: float | None,
              started: dt.datetime, server_url: str, method: str | None = None,
              protocol: str | None = None) -> ExportManifest:
    return ExportManifest(
        request_id=request_id,
        query_key=handle.query_key,
        label=handle.label,
        series=handle.series,
        method=method or handle.method,
        protocol=protocol or handle.protocol,
        files=files,
        size_mb=size_mb,
        staging_seconds=max(0.0, (_now() - started).total_seconds()),
        server_url=server_url,
    )


def _release(settings: JsocSettings, handle: ExportHandle, request_id: str) -> None:
    try:
        address = settings.notify_email(handle.query.notify if handle.query else None)
    except JsocError:
        return
    with contextlib.suppress(Exception):
        ExportSlots(settings, address).release(request_id)


def _touch(settings: JsocSettings, handle: ExportHandle, request_id: str) -> None:
    try:
        address = settings.notify_email(handle.query.notify if handle.query else None)
    except JsocError:
        return
    with contextlib.suppress(Exception):
        ExportSlots(settings, address).touch(request_id)


def wait_for_export(
    handle: ExportHandle,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportManifest:
    """Poll an export until it is ready and return its manifest.

    Polling starts about 1 s after submission and backs off (×1.5) to ``poll_interval``; only
    status changes are logged. If JSOC says the export expired (status 5) or no longer knows it
    (status 4 "invalid export DRMS record"), the query is re-staged once and the new request is
    polled; the replacement is remembered so later runs go straight to it.

    Args:
        handle: From ``stage``.
        settings: Settings; resolved when None.
        client: A client to reuse.
        on_progress: Called as ``on_progress("export", fraction, detail)`` on every poll.
        sleep: Sleep function (tests may pass a fake one).

    Returns:
        The manifest of files to download.

    Raises:
        JsocExportError: A subclass per JSOC status (3 too large, 4 bad request, 5 expired twice,
            25 needs staff, ...).
        JsocExportTimeout: When the export is not ready within ``export_timeout`` (it stays
            pending on the server; running again re-attaches to it).
        JsocTransientError: When the server stayed unreachable for several polls in a row.

    Example:
        ```python
        from prefect_jsoc.exports import stage_export, wait_for_export
        manifest = wait_for_export(stage_export(q, settings), settings,
                                   on_progress=lambda stage, fraction, detail: print(detail))
        print([f.filename for f in manifest.files])
        ```
    """
    settings = JsocSettings.resolve(settings)
    logger = _logger()
    report = on_progress or (lambda stage, fraction, detail: None)
    if handle.request_id is None:
        report("export", 1.0, "quick export ready")
        return _manifest(handle, None, list(handle.files), handle.size_mb, handle.submitted_at,
                         handle.server_url or settings.server_url)
    client = client or JsocClient(settings)
    ledger = ExportLedger(settings)
    current = handle
    rid: str = handle.request_id
    newer = ledger.replacement(rid)
    if newer is not None:
        logger.info("Export %s for %s was re-staged earlier as %s; polling that instead.",
                    rid, handle.label, newer.request_id or "(quick)")
        current = newer
        if newer.request_id is None:
            return _manifest(newer, None, list(newer.files), newer.size_mb, newer.submitted_at,
                             newer.server_url or settings.server_url)
        rid = newer.request_id

    started_mono = time.monotonic()
    deadline = started_mono + settings.export_timeout
    age = (_now() - current.submitted_at).total_seconds()
    if age < 1.0:
        sleep(1.0 - max(age, 0.0))
    delay = 1.0
    last_status: int | None = None
    transient = 0
    restaged = False
    while True:
        try:
            reply = client.export_status(rid)
            transient = 0
        except JsocTransientError as exc:
            transient += 1
            if transient > _MAX_TRANSIENT_POLLS:
                raise
            logger.warning("%s Polling continues.", exc)
            reply = None
        if reply is not None:
            status = _int(reply.get("status"))
            if status == 0:
                _release(settings, current, rid)
                query = current.query or handle.query
                files = build_files(reply, current.server_url or settings.server_url, query)
                manifest = _manifest(handle, rid, files, _float(reply.get("size")), current.submitted_at,
                                     current.server_url or settings.server_url,
                                     str(reply.get("method") or "") or current.method,
                                     str(reply.get("protocol") or "") or current.protocol)
                logger.info("Export %s for %s is ready: %d file(s), %s MB, after %.0f s.", rid, handle.label,
                            len(files), reply.get("size", "?"), manifest.staging_seconds)
                report("export", 1.0, f"{rid} ready: {len(files)} file(s)")
                return manifest
            if status in PENDING_STATUSES:
                if status != last_status:
                    logger.info("Export %s for %s is pending (JSOC status %s).", rid, handle.label, status)
                _touch(settings, current, rid)
                wait_hint = _float(reply.get("wait"))
                elapsed = time.monotonic() - started_mono + max(age, 0.0)
                fraction = elapsed / (elapsed + wait_hint) if wait_hint and wait_hint > 0 else 0.5
                report("export", min(0.99, max(0.0, fraction)), f"{rid}: status {status}")
            else:
                err = export_error_for_status(reply, request_id=rid, label=handle.label)
                if isinstance(err, JsocTransientError):
                    transient += 1
                    if transient > _MAX_TRANSIENT_POLLS:
                        raise err
                    logger.warning("%s", err)
                elif isinstance(err, JsocExportExpired) and not restaged and (current.query or handle.query):
                    logger.warning("Export %s for %s is gone from the server (expired); re-staging once.",
                                   rid, handle.label)
                    _release(settings, current, rid)
                    query = current.query or handle.query
                    assert query is not None
                    address = settings.notify_email(query.notify)
                    new = _submit_with_slot(client, query, address, settings, reuse_ledger=False,
                                            on_progress=on_progress, sleep=sleep)
                    ledger.record_replacement(rid, new)
                    if handle.request_id and handle.request_id != rid:
                        ledger.record_replacement(handle.request_id, new)
                    restaged = True
                    current = new
                    if new.request_id is None:
                        return _manifest(handle, None, list(new.files), new.size_mb, new.submitted_at,
                                         new.server_url or settings.server_url)
                    logger.info("Export of %s re-staged as %s.", handle.label, new.request_id)
                    rid = new.request_id
                    age, delay, last_status = 0.0, 1.0, None
                    started_mono = time.monotonic()
                    sleep(1.0)
                    continue
                else:
                    _release(settings, current, rid)
                    ExportLedger(settings).forget(handle.query_key)
                    if isinstance(err, JsocExportError):
                        logger.error("%s", err)
                    raise err
            last_status = status
        now = time.monotonic()
        if now >= deadline:
            raise JsocExportTimeout(
                f"Export {rid} for {handle.label} was not ready after {settings.export_timeout:.0f} s (last JSOC "
                f"status {last_status}). It stays pending on the server: run again later to re-attach to it, or "
                "raise export_timeout.",
                request_id=rid,
            )
        sleep(min(delay, deadline - now))
        delay = min(delay * 1.5, settings.poll_interval)
