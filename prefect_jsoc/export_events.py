"""Prefect events for JSOC exports: what the UI's event feed shows, and how a run knows it re-attached.

Every submitted export emits ``prefect-jsoc.export.submitted`` on the resource
``prefect-jsoc.export.<server digest>.<request id>``, and ``prefect-jsoc.export.ready`` when it is
complete. The events live on the Prefect server, so they are shared by every host: when JSOC answers
an export request with a request id an earlier run already submitted (JSOC de-duplicates identical
requests for 24 hours), ``stage`` finds that run's event and logs a re-attachment instead of a new
submission. Events are observability only: if the API cannot be read, nothing else changes.
Submissions of this process are also remembered here, since an event reaches the server's event
store a few seconds after it is emitted.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from prefect_jsoc._log import get_logger

__all__ = ["SUBMITTED", "READY", "announce", "earlier_submission", "resource_id"]

SUBMITTED = "prefect-jsoc.export.submitted"
READY = "prefect-jsoc.export.ready"
#: JSOC answers an identical export request with the same request id for this long.
DEDUP_WINDOW = dt.timedelta(hours=24)
_MEMORY = 1024
_submitted_here: dict[tuple[str, str], dt.datetime] = {}
_submitted_lock = threading.Lock()


def resource_id(server_id: str, request_id: str) -> str:
    """The Prefect resource id of one JSOC export."""
    return f"prefect-jsoc.export.{server_id}.{request_id}"


def announce(event: str, server_id: str, request_id: str, **payload: Any) -> None:
    """Emit ``event`` for the export ``request_id`` (never raises)."""
    if event == SUBMITTED:
        with _submitted_lock:
            _submitted_here[(server_id, request_id)] = dt.datetime.now(dt.UTC)
            while len(_submitted_here) > _MEMORY:
                _submitted_here.pop(next(iter(_submitted_here)))
    try:
        from prefect.events import emit_event

        emit_event(
            event=event,
            resource={
                "prefect.resource.id": resource_id(server_id, request_id),
                "prefect.resource.name": request_id,
                "prefect-jsoc.server": server_id,
            },
            payload={k: v for k, v in payload.items() if v is not None},
        )
    except Exception as exc:  # observability must never fail an export
        get_logger().debug("Could not emit %s for %s: %s", event, request_id, exc)


def earlier_submission(server_id: str, request_id: str) -> dt.datetime | None:
    """When an earlier run submitted ``request_id`` (this process, or the Prefect server's events), or None."""
    with _submitted_lock:
        here = _submitted_here.get((server_id, request_id))
    if here is not None and dt.datetime.now(dt.UTC) - here < DEDUP_WINDOW:
        return here
    try:
        from prefect import get_client
        from prefect.events.filters import (
            EventFilter,
            EventNameFilter,
            EventOccurredFilter,
            EventResourceFilter,
        )

        since = dt.datetime.now(dt.UTC) - DEDUP_WINDOW
        with get_client(sync_client=True) as client:
            page = client.read_events(
                filter=EventFilter(
                    occurred=EventOccurredFilter(since=since),
                    event=EventNameFilter(name=[SUBMITTED]),
                    resource=EventResourceFilter(id=[resource_id(server_id, request_id)]),
                ),
                limit=1,
            )
        events = list(page.events)
        return events[0].occurred if events else None
    except Exception as exc:  # an unreadable event feed only costs the log line its precision
        get_logger().debug("Could not read earlier submissions of %s: %s", request_id, exc)
        return None
