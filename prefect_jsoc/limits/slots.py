"""JSOC's two limits by name, and the slot API the tasks use: export slots and download slots.

* **pending exports** per (server, notify e-mail): :func:`export_limit_name`, taken by ``stage``
  (:func:`acquire_export_slot`) and given back by ``await_export`` (:func:`release_export_slot`);
* **download connections** per server: :func:`download_limit_name`, held by :func:`download_slots`
  while files transfer.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar

from prefect_jsoc.settings import JsocSettings

from .leases import (
    SLOT_LEASE_SECONDS,
    acquire_slots,
    acquire_some_slots,
    claim_lease,
    lease_held,
    release_slots,
    watch_lease,
)
from .prefect_api import ensure_limit

__all__ = [
    "acquire_export_slot",
    "claim_export_slot",
    "download_limit_name",
    "download_slots",
    "export_limit",
    "export_limit_name",
    "export_slot_held",
    "prepare_limits",
    "release_export_slot",
    "watch_export_slot",
]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def export_limit_name(settings: JsocSettings, email_address: str) -> str:
    """Name of the pending-export limit of one e-mail on one server (digests only, never the e-mail)."""
    return f"prefect-jsoc-exports-{settings.server_id}-{_digest(email_address.strip().lower())}"


def download_limit_name(settings: JsocSettings) -> str:
    """Name of the download-connection limit of one server."""
    return f"prefect-jsoc-downloads-{settings.server_id}"


def export_limit(settings: JsocSettings, email_address: str) -> str:
    """The name of the pending-export limit of ``email_address`` on the settings' server."""
    return export_limit_name(settings, email_address)


def prepare_limits(settings: JsocSettings, email_addresses: Iterable[str]) -> None:
    """Create (or resize) the limits a fetch will take slots of, before its first ``stage`` needs them.

    The flow runs this beside validation, so the first export is submitted without waiting for
    these API calls. Never raises: ``stage`` reports a Prefect API that cannot be reached.

    Args:
        settings: Resolved settings.
        email_addresses: The notify e-mails the fetch's exports will use.
    """
    limits = [(export_limit_name(settings, a), settings.max_pending_exports) for a in set(email_addresses)]
    limits.append((download_limit_name(settings), settings.max_connections))
    for name, size in limits:
        try:
            ensure_limit(name, size)
        except Exception:  # noqa: BLE001, S112 - stage raises it with its context
            continue


def acquire_export_slot(
    settings: JsocSettings, limit: str, *, label: str = "", sleep: Callable[[float], None] | None = None
) -> str:
    """Take one pending-export slot; ``stage`` calls it just before submitting.

    Args:
        settings: Resolved settings (``max_pending_exports``, ``export_timeout``).
        limit: The limit's name, from :func:`export_limit`.
        label: What the slot is for, for the log.
        sleep: Sleep function between polls.

    Returns:
        The lease id; :func:`release_export_slot` gives the slot back.
    """
    size = settings.max_pending_exports
    return acquire_slots(
        limit,
        size,
        timeout=settings.export_timeout,
        max_hold=settings.export_timeout + SLOT_LEASE_SECONDS,
        waiting_message=(
            f"Waiting for a free export slot{f' for {label}' if label else ''}: JSOC allows {size} pending "
            f"export{'s' if size != 1 else ''} per e-mail, and other exports hold {'it' if size == 1 else 'them'}."
        ),
        sleep=sleep,
    )


def watch_export_slot(lease_id: str, finished: Callable[[], bool], *, first_check: float, every: float) -> None:
    """Release an export slot by itself once ``finished()`` says the export is no longer pending.

    Only while no ``await_export`` has claimed the slot (see :func:`claim_export_slot`): a script that
    stages without awaiting must not keep JSOC's one slot for longer than the export is pending.

    Args:
        lease_id: The slot's lease.
        finished: Asks JSOC whether the export is complete or failed.
        first_check: Seconds until the first question (JSOC's own estimate of the export's wait).
        every: Seconds between later questions.
    """
    watch_lease(lease_id, finished, first_check=first_check, every=every)


def claim_export_slot(lease_id: str | None) -> bool:
    """Take over an export slot this process holds (``await_export`` does); False if it holds none."""
    return claim_lease(lease_id)


def export_slot_held(lease_id: str | None) -> bool:
    """True when ``lease_id`` is a slot this process holds (and keeps alive)."""
    return lease_held(lease_id)


def release_export_slot(lease_id: str | None) -> None:
    """Give an export slot back; ``await_export`` calls it when the export is complete or failed."""
    release_slots(lease_id)


#: Download slots this context already holds, per limit name: a unit's blocks download one after
#: another under one acquisition instead of giving the slot back and asking again for each block.
_held_downloads: ContextVar[dict[str, int] | None] = ContextVar("prefect_jsoc_held_downloads", default=None)


@contextlib.contextmanager
def download_slots(settings: JsocSettings, wanted: int = 1) -> Iterator[int]:
    """Hold download-connection slots of the settings' server; yields how many connections to open.

    Re-entrant: inside an outer ``download_slots`` for the same server (the export task holds one
    around its blocks' downloads), the slots already held are used and nothing is asked again.

    Args:
        settings: Resolved settings (``max_connections``, ``export_timeout``).
        wanted: How many connections the caller could use (its number of files).

    Yields:
        The number of slots held: at most ``min(wanted, max_connections)``, at least 1 (what was
        free when the first slot became free).
    """
    name = download_limit_name(settings)
    held = _held_downloads.get() or {}
    if name in held:
        yield max(1, min(int(wanted), held[name]))
        return
    size = settings.max_connections
    # Start with the connections that are free (at least one) rather than idle until all are.
    lease, occupy = acquire_some_slots(
        name,
        size,
        wanted,
        at_least=1,
        timeout=settings.export_timeout,
        max_hold=24 * 3600.0,
        waiting_message=f"Waiting for a free download connection (at most {size} per server).",
    )
    token = _held_downloads.set({**held, name: occupy})
    try:
        yield occupy
    finally:
        _held_downloads.reset(token)
        release_slots(lease)
