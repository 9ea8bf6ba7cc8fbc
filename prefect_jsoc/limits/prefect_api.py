"""Creating the global concurrency limits on the Prefect server, once per process.

:func:`ensure_limit` creates or resizes a limit; the calls that take and give back its slots are in
:mod:`.slot_calls`.
"""

from __future__ import annotations

import threading

from prefect_jsoc.errors import LimitUnavailableError

__all__ = ["api_url", "ensure_limit", "status_of"]

_ensured: dict[tuple[str, str], int] = {}
_ensure_lock = threading.Lock()


def api_url() -> str:
    """The Prefect API URL of the current settings, or ``"ephemeral"`` for an in-process API."""
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "ephemeral")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of the Prefect API's answer that ``exc`` carries, if any."""
    return getattr(getattr(exc, "response", None), "status_code", None)


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
        from .slot_calls import prefect_client

        try:
            with prefect_client() as client:
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
