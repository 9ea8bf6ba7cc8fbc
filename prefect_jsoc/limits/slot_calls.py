"""The Prefect API calls that take and give back JSOC slots, answered at once even by a busy server.

Prefect's HTTP client sleeps after a retryable answer (2 s after a 503, then longer) even when its
retries are turned off, and a SQLite-backed Prefect server answers 503 whenever two writes meet.
A slot freed during that sleep would idle for two seconds while the next export waits for it, so
the calls here go through the same HTTP connection, base URL and credentials as Prefect's client
(``httpx.Client.send`` on it), but without that back-off. Their callers poll every 0.2-0.5 s and
treat a busy server like a taken slot. If a future Prefect client no longer exposes its
``httpx.Client``, the calls fall back to Prefect's own methods (correct, only slower on SQLite).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .prefect_api import api_url

__all__ = ["BUSY_SERVER", "SlotApiError", "give_back", "is_busy", "prefect_client", "read_usage", "take_slots"]

#: Answers that mean "the Prefect server is busy right now, ask again": SQLite write contention
#: (503), rate limiting (429), a proxy in between (502, 504).
BUSY_SERVER = frozenset({429, 502, 503, 504})

#: Pauses before asking again after a busy answer, within one call. Few: with many runs at once on
#: a SQLite server, more retries only add writes that collide (the callers poll anyway).
_QUICK_RETRIES = (0.02, 0.05, 0.1, 0.2)

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


class SlotApiError(Exception):
    """A slot call the Prefect API answered with an unexpected status (``status`` keeps it)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def is_busy(exc: BaseException) -> bool:
    """True when ``exc`` means "ask again soon": a busy server, a refused (423) or lost connection."""
    status = getattr(exc, "status", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return status in BUSY_SERVER or status == 423 or isinstance(exc, (httpx.TransportError, ConnectionError))


@contextlib.contextmanager
def prefect_client() -> Iterator[Any]:
    """This process's synchronous Prefect client, kept open (making one costs 0.1 s or more)."""
    from prefect import get_client

    url = api_url()
    if url == "ephemeral":  # an in-process API: nothing to keep open
        with get_client(sync_client=True) as client:
            yield client
        return
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = get_client(sync_client=True).__enter__()
    yield client


def _send(client: Any, method: str, path: str, payload: dict[str, Any] | None = None) -> httpx.Response:
    raw = getattr(client, "_client", None)
    if not isinstance(raw, httpx.Client):
        raise LookupError("the Prefect client exposes no httpx.Client")
    response = httpx.Client.send(raw, raw.build_request(method, path, json=payload))
    if response.status_code == 403 and "csrf" in response.text.lower():  # a server that wants Prefect's CSRF token
        raise LookupError("the Prefect server wants a CSRF token")
    return response


def read_usage(limit: str) -> tuple[int, int]:
    """``(active_slots, size)`` of the global concurrency limit ``limit``."""
    with prefect_client() as client:
        try:
            response = _send(client, "GET", f"/v2/concurrency_limits/{limit}")
        except LookupError:
            current = client.read_global_concurrency_limit_by_name(limit)
            return int(current.active_slots), int(current.limit)
    _check(response, f"read the Prefect limit {limit!r}")
    body = response.json()
    return int(body["active_slots"]), int(body["limit"])


def take_slots(limit: str, occupy: int, lease_seconds: float) -> str | None:
    """Take ``occupy`` slots of ``limit`` under a lease; the lease id, or None if they are taken."""
    payload = {"names": [limit], "slots": occupy, "mode": "concurrency", "lease_duration": lease_seconds}
    with prefect_client() as client:
        try:
            response = _send(client, "POST", "/v2/concurrency_limits/increment-with-lease", payload)
            for pause in _QUICK_RETRIES:  # a 503 is a write that met another one: it passes in milliseconds
                if response.status_code not in BUSY_SERVER:
                    break
                time.sleep(pause)
                response = _send(client, "POST", "/v2/concurrency_limits/increment-with-lease", payload)
        except LookupError:
            reply = client.increment_concurrency_slots_with_lease(
                names=[limit], slots=occupy, mode="concurrency", lease_duration=lease_seconds
            ).json()
            return str(reply["lease_id"]) if reply.get("limits") else None
    if response.status_code == 423:
        return None
    _check(response, f"take a slot of the Prefect limit {limit!r}")
    reply = response.json()
    if not reply.get("limits"):
        raise SlotApiError(f"The Prefect limit {limit!r} does not exist.")
    return str(reply["lease_id"])


def give_back(lease_id: str) -> None:
    """Release the slots held under ``lease_id``."""
    with prefect_client() as client:
        try:
            response = _send(client, "POST", "/v2/concurrency_limits/decrement-with-lease", {"lease_id": lease_id})
        except LookupError:
            from uuid import UUID

            client.release_concurrency_slots_with_lease(UUID(lease_id))
            return
    _check(response, f"give back the Prefect lease {lease_id}")


def _check(response: httpx.Response, doing: str) -> None:
    if response.status_code >= 400:
        raise SlotApiError(
            f"Could not {doing}: the Prefect API answered HTTP {response.status_code} {response.text[:200]}",
            status=response.status_code,
        )
