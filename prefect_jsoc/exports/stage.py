"""Staging an export: take a pending-export slot, submit the export, and ride out JSOC's back-pressure.

This is the plain function behind the ``stage`` task. The slot it takes (:mod:`prefect_jsoc.limits`)
is handed on in the :class:`~prefect_jsoc.models.ExportHandle` and released by ``await_export``
(:mod:`prefect_jsoc.exports.wait`), or by the slot's own watcher when nobody awaits the export.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from prefect_jsoc._log import get_logger
from prefect_jsoc.client import JsocClient
from prefect_jsoc.errors import ExportLimitReachedError, JsocProtocolError, export_error_for_status
from prefect_jsoc.export_events import SUBMITTED, announce, earlier_submission
from prefect_jsoc.limits import acquire_export_slot, export_limit, release_export_slot, watch_export_slot
from prefect_jsoc.models import ExportHandle, ExportUnit
from prefect_jsoc.polling import poll_until
from prefect_jsoc.replies import as_float, as_int, request_id_of
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.validation import _notify_of, check_email

from .manifests import build_files
from .wait import FIRST_POLL, PENDING_STATUSES, SECOND_POLL

__all__ = ["stage_export"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _handle(
    reply: dict[str, Any],
    unit: ExportUnit,
    server_url: str,
    primekeys: tuple[str, ...],
    reattached: bool,
    slot_limit: str,
) -> ExportHandle:
    status = as_int(reply.get("status"), -1)
    request_id = request_id_of(reply)
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
        wait=as_float(reply.get("wait")),
        files=build_files(reply, server_url, primekeys, unit.series) if status == 0 else [],
        size_mb=as_float(reply.get("size")),
        record_count=as_int(reply.get("rcount"), as_int(reply.get("count"))),
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
        status = as_int(reply.get("status"), -1)
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
        status = as_int(reply.get("status"), -1)
        request_id = request_id_of(reply)
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
    return as_int(client.export_status(request_id).get("status")) not in PENDING_STATUSES


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
