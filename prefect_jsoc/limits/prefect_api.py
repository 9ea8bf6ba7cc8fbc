"""Talking to the Prefect server about concurrency limits: a client that does not retry, limit creation.

Slot calls poll every 0.2-0.5 s, so they use :func:`no_retry_client` (a busy server is treated like
a taken slot, not waited out); :func:`ensure_limit` creates or resizes a global concurrency limit
once per process; :func:`status_of` and :func:`is_connection_error` classify the API's failures.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from prefect_jsoc.errors import LimitUnavailableError

__all__ = ["BUSY_SERVER", "api_url", "ensure_limit", "is_connection_error", "no_retry_client", "status_of"]

_ensured: dict[tuple[str, str], int] = {}
_ensure_lock = threading.Lock()


def api_url() -> str:
    """The Prefect API URL of the current settings, or ``"ephemeral"`` for an in-process API."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "ephemeral")


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the Prefect server could not be reached."""
    import httpx

    return isinstance(exc, (httpx.TransportError, ConnectionError))


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of the Prefect API's answer that ``exc`` carries, if any."""
    return getattr(getattr(exc, "response", None), "status_code", None)


#: Answers that mean "the Prefect server is busy right now, ask again": SQLite write contention
#: (503), rate limiting (429), a proxy in between (502, 504).
BUSY_SERVER = frozenset({429, 502, 503, 504})


_clients: dict[str, Any] = {}
_no_retry_settings: dict[int, tuple[Any, Any]] = {}
_clients_lock = threading.Lock()


@contextlib.contextmanager
def no_retry_client() -> Iterator[Any]:
    """This process's synchronous Prefect client for slot calls, one that does not retry by itself.

    Prefect's client sleeps 2 s (then 4, 8, ...) after a 503, which a SQLite-backed server answers
    whenever two writes meet; a slot freed during that sleep idles. Our callers poll every 0.2-0.5 s
    and treat a busy server like a taken slot instead. The client stays open (making one costs a
    tenth of a second or more, on every poll); its retry count is read per request from the
    settings context, which is why that context is entered here.
    """
    import prefect.context
    from prefect import get_client
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES

    context = prefect.context.get_settings_context()
    with _clients_lock:
        cached = _no_retry_settings.get(id(context.settings))
        if cached is None or cached[0] is not context.settings:
            cached = (context.settings, context.settings.copy_with_update(updates={PREFECT_CLIENT_MAX_RETRIES: 0}))
            if len(_no_retry_settings) > 8:
                _no_retry_settings.clear()
            _no_retry_settings[id(context.settings)] = cached
    with prefect.context.SettingsContext(profile=context.profile, settings=cached[1]):
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


def ensure_limit(name: str, size: int) -> None:
    """Create the global concurrency limit ``name`` with ``size`` slots, or resize it (once per process).

    Args:
        name: The limit's name.
        size: How many slots it has.

    Raises:
        LimitUnavailableError: When the Prefect API cannot create or read the limit.
    """
    key = (api_url(), name)
    with _ensure_lock:  # threads of one process create a limit once; other hosts may race us
        if _ensured.get(key) == size:
            return
        from prefect import get_client

        try:
            with get_client(sync_client=True) as client:
                for attempt in range(3):
                    try:
                        client.upsert_global_concurrency_limit_by_name(name, size)
                        break
                    except Exception as exc:  # another host created it between our read and create
                        if attempt == 2 or status_of(getattr(exc, "http_exc", exc)) not in (409, 500):
                            raise
        except Exception as exc:
            raise LimitUnavailableError(
                f"Could not create the Prefect global concurrency limit {name!r} ({size} slots) on the "
                f"Prefect API at {api_url()}: {exc}. prefect-jsoc keeps JSOC's limits there; check "
                "PREFECT_API_URL."
            ) from exc
        _ensured[key] = size
