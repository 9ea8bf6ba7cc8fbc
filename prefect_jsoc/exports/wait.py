"""Awaiting an export: poll JSOC on a growing schedule until the export is ready, then list its files.

This is the plain function behind the ``await_export`` task. It gives back the pending-export slot
``stage`` took as soon as the export is complete, has failed, or the wait gave up.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from prefect_jsoc._log import get_logger
from prefect_jsoc.client import JsocClient
from prefect_jsoc.errors import ExportTimeoutError, export_error_for_status
from prefect_jsoc.export_events import READY, announce
from prefect_jsoc.limits import claim_export_slot, release_export_slot
from prefect_jsoc.models import ExportHandle, ExportManifest, ManifestFile
from prefect_jsoc.polling import poll_until
from prefect_jsoc.replies import as_float, as_int
from prefect_jsoc.settings import JsocSettings

from .manifests import build_files

__all__ = ["FIRST_POLL", "PENDING_STATUSES", "SECOND_POLL", "ProgressCallback", "wait_for_export"]

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
        status = as_int(reply.get("status"))
        if status == 0:
            return reply
        if status in PENDING_STATUSES:
            if not seen or seen[-1] != status:
                logger.info("Export %s for %s is pending (JSOC status %s).", rid, handle.label, status)
            seen.append(status)  # type: ignore[arg-type]
            age = (_now() - handle.submitted_at).total_seconds()
            hint = as_float(reply.get("wait"))
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
        as_float(reply.get("size")),
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
