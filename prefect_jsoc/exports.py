"""Submitting and awaiting exports: the plain functions behind the ``stage`` and ``await_export`` tasks.

Restart safety comes from Prefect, not from files here: ``stage`` is cached on the export's content,
so a re-run re-attaches to the same request id; a run that finds no cache entry (another host without
shared result storage) asks JSOC again, and JSOC answers an identical request within 24 hours with
the same request id, which :mod:`prefect_jsoc.export_events` recognises and logs as a re-attachment.
A pending-export slot (:mod:`prefect_jsoc.limits`) is taken by ``stage`` and released by
``await_export``, so every composition of the tasks keeps JSOC's limit.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urljoin

from prefect_jsoc._log import get_logger
from prefect_jsoc.client import JsocClient
from prefect_jsoc.downloads import parse_record, quick_filename, safe_filename
from prefect_jsoc.errors import (
    ExportLimitReachedError,
    ExportTimeoutError,
    JsocProtocolError,
    export_error_for_status,
)
from prefect_jsoc.export_events import READY, SUBMITTED, announce, earlier_submission
from prefect_jsoc.limits import (
    acquire_export_slot,
    claim_export_slot,
    export_limit,
    release_export_slot,
    watch_export_slot,
)
from prefect_jsoc.models import ExportHandle, ExportManifest, ExportUnit, ManifestFile
from prefect_jsoc.polling import poll_until
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.validation import _notify_of, check_email

__all__ = ["PENDING_STATUSES", "build_files", "split_manifest", "stage_export", "wait_for_export"]

ProgressCallback = Callable[[str, float, str], None]

#: exp_status codes that mean "still pending" (1 processing, 2 queued, 6 not located yet).
PENDING_STATUSES = frozenset({1, 2, 6})
#: Seconds between the submission and the first status poll when JSOC gave no ``wait`` estimate.
FIRST_POLL = 1.0
#: The pause after the first poll that found the export still pending; pauses then grow 1.5x
#: up to ``poll_interval``.
SECOND_POLL = 2.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


# ---------------------------------------------------------------------------------------------
# Manifest files
# ---------------------------------------------------------------------------------------------

_EXTENSIONS = (".fits.gz", ".fits", ".fts", ".fit", ".jpg", ".png", ".mpg", ".mp4", ".txt", ".tar")


def _segment_from_filename(name: str) -> str | None:
    """The segment of ``<series>.<prime keys>.<segment>.fits`` (drms's file name format), if any."""
    low = name.lower()
    for ext in _EXTENSIONS:
        if low.endswith(ext):
            stem = name[: -len(ext)]
            return stem.rsplit(".", 1)[-1] or None if "." in stem else None
    return None


def build_files(
    reply: dict[str, Any], server_url: str, primekeys: Sequence[str] = (), series: str = ""
) -> list[ManifestFile]:
    """Turn a completed export reply (``exp_status`` status 0, or a quick ``exp_request``) into files.

    * fits/url exports: ``<server><dir>/<filename>``, named as the server named them;
    * quick as-is exports (no ``dir``): the absolute SUMS path, named like drms does from the
      record (``hmi.m_45s.20140101_000045_TAI.3.magnetogram.fits``);
    * tar exports: the single tar file.

    Rows without a file (``NoDataFile``) are dropped. Every local name is checked with
    :func:`~prefect_jsoc.downloads.safe_filename`, and repeated names get ``.1``, ``.2`` suffixes.
    Each file's ``keywords`` hold its record's prime-key values, ``series`` and ``segment``, for
    path templates.

    Args:
        reply: The JSON reply.
        server_url: Base URL for downloads.
        primekeys: The series' prime keys, in order.
        series: The series name, for files whose record does not say.

    Returns:
        The files.

    Raises:
        UnsafeFilenameError: When the server sent a name that could escape the target directory.
    """
    base = server_url.rstrip("/") + "/"
    tar = str(reply.get("tarfile") or "").strip()
    directory = str(reply.get("dir") or "").strip()
    if tar:
        name = safe_filename(tar.rsplit("/", 1)[-1])
        return [ManifestFile(url=urljoin(base, tar.lstrip("/")), filename=name, keywords={"series": series})]
    files: list[ManifestFile] = []
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
            get_logger().warning("Two files of the export are both named %s; saving one as %s.", filename, name)
        else:
            used[name] = 0
        record_series, values, segment = parse_record(str(record) if record else None)
        keywords: dict[str, str] = {"series": record_series or series}
        keywords.update(zip(primekeys, values))
        segment = segment or _segment_from_filename(filename.rsplit("/", 1)[-1])
        if segment:
            keywords["segment"] = segment
        files.append(
            ManifestFile(
                url=url,
                filename=name,
                record=str(record) if record else None,
                size=_int(row.get("size")),
                keywords=keywords,
            )
        )
    return files


def split_manifest(manifest: ExportManifest, unit: ExportUnit) -> list[ExportManifest]:
    """Give each block of a packed export the files of its own records.

    A file whose record lies in two overlapping blocks belongs to both; a file no block claims (the
    server returned more than asked) goes to the first block, with a warning, so nothing is lost.

    Args:
        manifest: The export's manifest.
        unit: The export unit the manifest belongs to.

    Returns:
        One manifest per block of ``unit``, in the unit's order.
    """
    blocks = unit.blocks
    shares: list[list[ManifestFile]] = [[] for _ in blocks]
    if len(blocks) == 1:
        shares[0] = list(manifest.files)
    else:
        for file in manifest.files:
            values = parse_record(file.record)[1] if file.record else []
            owners = [i for i, block in enumerate(blocks) if values and block.selects(values)]
            if not owners:
                get_logger().warning(
                    "Export %s returned %s, which none of its blocks asked for; keeping it with %s.",
                    manifest.request_id,
                    file.record or file.filename,
                    blocks[0].label,
                )
                owners = [0]
            for i in owners:
                shares[i].append(file)
    return [
        manifest.model_copy(update={"label": block.label, "query_key": block.cache_key(), "files": share})
        for block, share in zip(blocks, shares)
    ]


# ---------------------------------------------------------------------------------------------
# Stage
# ---------------------------------------------------------------------------------------------


def _handle(
    reply: dict[str, Any],
    unit: ExportUnit,
    server_url: str,
    primekeys: tuple[str, ...],
    reattached: bool,
    slot_limit: str,
) -> ExportHandle:
    status = _int(reply.get("status"), -1)
    request_id = str(reply.get("requestid") or reply.get("reqid") or "").strip() or None
    return ExportHandle(
        request_id=request_id,
        unit_key=unit.cache_key(),
        label=unit.label,
        series=unit.series,
        recordset=unit.recordset,
        method=str(reply.get("method") or unit.query.method),
        protocol=str(reply.get("protocol") or unit.query.protocol),
        server_url=server_url,
        submitted_at=_now(),
        status=status if status is not None else -1,
        wait=_float(reply.get("wait")),
        files=build_files(reply, server_url, primekeys, unit.series) if status == 0 else [],
        size_mb=_float(reply.get("size")),
        record_count=_int(reply.get("rcount"), _int(reply.get("count"))),
        reattached=reattached,
        primekeys=primekeys,
        slot_limit=slot_limit,
    )


def stage_export(
    unit: ExportUnit | Any,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportHandle:
    """Submit an export and return a serialisable handle.

    First takes a pending-export slot of the notify e-mail (a Prefect global concurrency limit, so
    it holds for every host); the slot stays taken until ``await_export`` sees the export complete
    or fail. JSOC's status 7 ("too many pending exports", from a client that does not share our
    Prefect server) is back-pressure: the request is repeated with backoff, up to
    ``export_timeout``, never failed.

    Args:
        unit: An ``ExportUnit`` (one block, or several packed into one record set by the
            ``jsoc_fetch`` flow), or one query: a ``JsocQuery`` (validated first), a
            ``ValidatedQuery``, a ``SearchResult``, or the one-element list ``from_attrs`` returns.
        settings: Settings; resolved when None.
        client: A client to reuse.
        sleep: Sleep function (tests may pass a fake one).

    Returns:
        The handle (``request_id`` None and ``files`` filled for an immediate quick export, or for
        a query with no records, which exports nothing).

    Raises:
        MissingEmailError: When no notify e-mail is configured.
        JsocExportError: When JSOC refuses the export (status 3, 4, 25, ...).
        ExportLimitReachedError: When JSOC kept answering status 7 for ``export_timeout``.
        JsocTransientError: When the server could not be reached (the task retries).

    Example:
        ```python
        from prefect_jsoc import JsocQuery, JsocSettings
        from prefect_jsoc.exports import stage_export

        q = JsocQuery(series="hmi.M_45s", start="2014-01-01T00:00", end="2014-01-01T00:05")
        print(stage_export(q).request_id)
        ```
    """
    from prefect_jsoc.planning import as_unit

    settings = JsocSettings.resolve(settings)
    client = client or JsocClient.for_settings(settings)
    logger = get_logger()
    given = unit
    unit = as_unit(given, settings)
    if unit is None:
        logger.warning("Nothing to export for %s: its search found no records.", getattr(given, "label", given))
        return _empty_handle(given, settings)
    address = settings.notify_email(_notify_of(unit.query))
    check_email(client, address)
    info = client.series_info(unit.series)
    refused: list[str] = []
    limit = export_limit(settings, address)

    def submit_once() -> dict[str, Any] | None:
        reply = client.submit_export(unit.query, address, unit.recordset)
        status = _int(reply.get("status"), -1)
        if status in (0, 1, 2):
            return reply
        if status == 7:
            if not refused:
                logger.info(
                    "JSOC asked to wait (status 7): another export of this e-mail is pending, "
                    "submitted outside this Prefect server. Asking again with backoff."
                )
            refused.append(str(reply.get("error") or ""))
            return None
        raise export_error_for_status(reply, label=unit.label)

    def waited_too_long(waited: float) -> Exception:
        said = refused[-1] if refused else ""
        return ExportLimitReachedError(
            f"JSOC kept refusing the export of {unit.label} with status 7 for {waited:.0f} s: {said} "
            "Wait for the other exports of this e-mail, or raise export_timeout.",
            status=7,
            server_message=said or None,
        )

    lease = acquire_export_slot(settings, limit, label=unit.label)
    try:
        reply = poll_until(
            submit_once,
            first_delay=0,
            then=SECOND_POLL,
            maximum=settings.poll_interval,
            timeout=settings.export_timeout,
            on_timeout=waited_too_long,
            sleep=sleep,
        )
        status = _int(reply.get("status"), -1)
        request_id = str(reply.get("requestid") or reply.get("reqid") or "").strip() or None
        if status in (1, 2) and not request_id:
            raise JsocProtocolError(f"JSOC accepted the export of {unit.label} (status {status}) without a request id.")
    except BaseException:
        release_export_slot(lease)
        raise
    earlier = earlier_submission(settings.server_id, request_id) if request_id else None
    handle = _handle(
        reply, unit, client.server_url, tuple(info.primekeys), reattached=earlier is not None, slot_limit=limit
    )
    if handle.is_complete:
        release_export_slot(lease)
    else:
        handle = handle.model_copy(update={"lease_id": lease})
        watch_export_slot(
            lease,
            lambda: _no_longer_pending(client, str(request_id)),
            first_check=max(FIRST_POLL, handle.wait or 0.0) + SECOND_POLL,
            every=settings.poll_interval,
        )
    if handle.is_complete:
        logger.info("Quick export of %s is ready at once: %d file(s).", unit.label, len(handle.files))
    elif earlier is not None:
        logger.info(
            "JSOC answered the export request of %s with %s, which an earlier run submitted at %s: "
            "re-attaching to it; no new export was made.",
            unit.label,
            request_id,
            earlier.isoformat(timespec="seconds"),
        )
    else:
        logger.info(
            "Submitted export %s for %s (%s/%s, %s records, ~%s MB).",
            request_id,
            unit.label,
            handle.method,
            handle.protocol,
            handle.record_count if handle.record_count is not None else "?",
            f"{handle.size_mb:g}" if handle.size_mb is not None else "?",
        )
        announce(
            SUBMITTED,
            settings.server_id,
            str(request_id),
            label=unit.label,
            recordset=unit.recordset,
            blocks=len(unit.blocks),
        )
    return handle


def _no_longer_pending(client: JsocClient, request_id: str) -> bool:
    """True when JSOC says the export is complete or failed (for a slot nobody awaits)."""
    return _int(client.export_status(request_id).get("status")) not in PENDING_STATUSES


def _empty_handle(given: Any, settings: JsocSettings) -> ExportHandle:
    """The handle of an export with no records: complete at once, with no files and no request."""
    query = getattr(given, "query", given)
    label = str(getattr(query, "label", "") or "empty")
    return ExportHandle(
        request_id=None,
        unit_key="empty-" + label,
        label=label,
        series=str(getattr(query, "series", "")),
        recordset="",
        method="url",
        protocol="fits",
        server_url=settings.server_url,
        status=0,
        record_count=0,
    )


# ---------------------------------------------------------------------------------------------
# Await
# ---------------------------------------------------------------------------------------------


def wait_for_export(
    handle: ExportHandle,
    settings: JsocSettings | None = None,
    *,
    client: JsocClient | None = None,
    on_progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ExportManifest:
    """Poll an export until it is ready and return its manifest.

    The first poll comes when JSOC's ``wait`` estimate says the export should be ready (at least
    1 s after submission); then after 2 s, growing 1.5x up to ``poll_interval``. Only status changes
    are logged. A fault ends the wait with the error (the task retries it once).

    Args:
        handle: From ``stage``.
        settings: Settings; resolved when None.
        client: A client to reuse.
        on_progress: Called as ``on_progress("export", fraction, detail)`` on every poll.
        sleep: Sleep function (tests may pass a fake one).

    Returns:
        The manifest of files to download.

    Raises:
        JsocExportError: A subclass per JSOC status (3 too large, 4 bad request, 5 expired or
            unknown, 25 needs staff, ...).
        ExportTimeoutError: When the export is not ready within ``export_timeout`` (it stays
            pending on the server; running again re-attaches to it).
        JsocTransientError: When the server could not be reached.

    Example:
        ```python
        from prefect_jsoc.exports import stage_export, wait_for_export
        manifest = wait_for_export(stage_export(unit), on_progress=lambda step, fraction, detail: print(detail))
        print([f.filename for f in manifest.files])
        ```
    """
    settings = JsocSettings.resolve(settings)
    report = on_progress or (lambda step, fraction, detail: None)
    server_url = handle.server_url or settings.server_url
    if handle.request_id is None:
        report("export", 1.0, "quick export ready")
        return _manifest(handle, None, list(handle.files), handle.size_mb, server_url)
    client = client or JsocClient.for_settings(settings)
    logger = get_logger()
    rid = handle.request_id
    seen: list[int] = []
    # The slot stage took, if this process holds it. An export staged by another process (a re-run
    # after a crash) is awaited without taking a slot: it is already pending at JSOC, and the dead
    # process's lease still counts it until the lease expires.
    lease = handle.lease_id if claim_export_slot(handle.lease_id) else None

    def check() -> dict[str, Any] | None:
        reply = client.export_status(rid)
        status = _int(reply.get("status"))
        if status == 0:
            return reply
        if status in PENDING_STATUSES:
            if not seen or seen[-1] != status:
                logger.info("Export %s for %s is pending (JSOC status %s).", rid, handle.label, status)
            seen.append(status)  # type: ignore[arg-type]
            age = (_now() - handle.submitted_at).total_seconds()
            hint = _float(reply.get("wait"))
            report("export", min(0.99, age / (age + hint)) if hint and hint > 0 else 0.5, f"{rid}: status {status}")
            return None
        raise export_error_for_status(reply, request_id=rid, label=handle.label)

    def timed_out(waited: float) -> Exception:
        return ExportTimeoutError(
            f"Export {rid} for {handle.label} was not ready after {waited:.0f} s (last JSOC status "
            f"{seen[-1] if seen else '?'}). It stays pending on the server: run again later to re-attach to it, "
            "or raise export_timeout.",
            status=seen[-1] if seen else None,
            request_id=rid,
        )

    age = (_now() - handle.submitted_at).total_seconds()
    first = max(FIRST_POLL, handle.wait or 0.0) - max(age, 0.0)
    try:
        reply = poll_until(
            check,
            first_delay=max(0.0, first),
            then=SECOND_POLL,
            maximum=settings.poll_interval,
            timeout=settings.export_timeout,
            on_timeout=timed_out,
            sleep=sleep,
        )
    finally:
        release_export_slot(lease)  # complete, failed or given up: the slot goes to the next export
    files = build_files(reply, server_url, handle.primekeys, handle.series)
    manifest = _manifest(
        handle,
        rid,
        files,
        _float(reply.get("size")),
        server_url,
        str(reply.get("method") or "") or handle.method,
        str(reply.get("protocol") or "") or handle.protocol,
    )
    logger.info(
        "Export %s for %s is ready: %d file(s), %s MB, %.0f s after submission.",
        rid,
        handle.label,
        len(files),
        reply.get("size", "?"),
        manifest.staging_seconds,
    )
    announce(READY, settings.server_id, rid, files=len(files), size_mb=manifest.size_mb)
    report("export", 1.0, f"{rid} ready: {len(files)} file(s)")
    return manifest


def _manifest(
    handle: ExportHandle,
    request_id: str | None,
    files: list[ManifestFile],
    size_mb: float | None,
    server_url: str,
    method: str | None = None,
    protocol: str | None = None,
) -> ExportManifest:
    return ExportManifest(
        request_id=request_id,
        query_key=handle.unit_key,
        label=handle.label,
        series=handle.series,
        method=method or handle.method,
        protocol=protocol or handle.protocol,
        files=files,
        size_mb=size_mb,
        staging_seconds=max(0.0, (_now() - handle.submitted_at).total_seconds()),
        server_url=server_url,
    )
