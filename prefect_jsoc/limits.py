"""JSOC's politeness limits, held as Prefect global concurrency limits that the Prefect server enforces.

Every worker of a deployment talks to the same Prefect server, so a limit held there holds on every
host at once:

* **pending exports** per (server, notify e-mail): one limit named
  ``prefect-jsoc-exports-<server digest>-<e-mail digest>``, sized ``max_pending_exports`` (JSOC
  allows one). An export holds a slot from its submission until it is complete or has failed.
* **download connections** per server: ``prefect-jsoc-downloads-<server digest>``, sized
  ``max_connections`` (JSOC asks for one).

The limits are created, or resized to the current settings, on first use; names carry digests,
never the e-mail itself. Slots are held as leases of :data:`SLOT_LEASE_SECONDS` that a daemon
thread renews, so the slot of a crashed holder comes back once its lease expires (the Prefect
server's repossessor service frees it; it runs every 15 s by default).

Waiting for a slot polls the server every 0.2-1 s (Prefect's own ``concurrency()`` would wait for
the server's ``Retry-After``, up to 30 s, which is what made a finished export's hand-off slow);
every wait is bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator

from prefect_jsoc._log import get_logger
from prefect_jsoc.errors import JsocLimitError, JsocSlotTimeout
from prefect_jsoc.settings import JsocSettings

__all__ = [
    "SLOT_LEASE_SECONDS",
    "download_limit_name",
    "download_slots",
    "ensure_limit",
    "export_limit_name",
    "export_slot",
    "hold_slots",
]

#: Lease of a held slot, in seconds: Prefect's minimum, so a crashed holder's slot returns soonest.
SLOT_LEASE_SECONDS = 60.0
_POLL_FIRST = 0.2
_POLL_MAX = 1.0

_ensured: dict[tuple[str, str], int] = {}
_ensured_lock = threading.Lock()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def export_limit_name(settings: JsocSettings, email_address: str) -> str:
    """Name of the pending-export limit of one e-mail on one server (digests only, never the e-mail)."""
    return f"prefect-jsoc-exports-{settings.server_id}-{_digest(email_address.strip().lower())}"


def download_limit_name(settings: JsocSettings) -> str:
    """Name of the download-connection limit of one server."""
    return f"prefect-jsoc-downloads-{settings.server_id}"


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "ephemeral")


def ensure_limit(name: str, size: int) -> None:
    """Create the global concurrency limit ``name`` with ``size`` slots, or resize it (once per process).

    Args:
        name: The limit's name.
        size: How many slots it has.

    Raises:
        JsocLimitError: When the Prefect API cannot create or read the limit.
    """
    key = (_api_url(), name)
    with _ensured_lock:
        if _ensured.get(key) == size:
            return
    from prefect import get_client
    from prefect.exceptions import ObjectAlreadyExists

    try:
        with get_client(sync_client=True) as client:
            try:
                client.upsert_global_concurrency_limit_by_name(name, size)
            except ObjectAlreadyExists:  # another host created it between our read and create
                client.upsert_global_concurrency_limit_by_name(name, size)
    except Exception as exc:
        raise JsocLimitError(
            f"Could not create the Prefect global concurrency limit {name!r} ({size} slots) on the Prefect "
            f"API at {_api_url()}: {exc}. prefect-jsoc keeps JSOC's limits there; check PREFECT_API_URL."
        ) from exc
    with _ensured_lock:
        _ensured[key] = size


def _slot_busy(exc: BaseException) -> bool:
    """True when an acquisition failed only because every slot is taken (HTTP 423 from Prefect)."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    return getattr(response, "status_code", None) == 423


@contextlib.contextmanager
def hold_slots(
    name: str,
    size: int,
    occupy: int = 1,
    *,
    timeout: float,
    waiting_message: str = "",
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[None]:
    """Hold ``occupy`` slots of the limit ``name`` (created with ``size`` slots) while the block runs.

    Args:
        name: The limit's name.
        size: Its size (the limit is created or resized to it first).
        occupy: Slots to hold (at most ``size``).
        timeout: Give up after waiting this many seconds for free slots.
        waiting_message: Logged once when the slots are not free at once.
        sleep: Sleep function between polls.

    Raises:
        JsocSlotTimeout: When the slots did not become free within ``timeout``.
        JsocLimitError: When the Prefect API failed.
    """
    from prefect.concurrency._asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    occupy = max(1, min(int(occupy), int(size)))
    ensure_limit(name, size)
    started = time.monotonic()
    delay = _POLL_FIRST
    announced = False
    with contextlib.ExitStack() as stack:
        while True:
            try:
                stack.enter_context(
                    concurrency(
                        name,
                        occupy=occupy,
                        max_retries=0,
                        lease_duration=SLOT_LEASE_SECONDS,
                        strict=True,
                        raise_on_lease_renewal_failure=False,
                    )
                )
                break
            except ConcurrencySlotAcquisitionError as exc:
                if not _slot_busy(exc):
                    raise JsocLimitError(f"Could not take a slot of the Prefect limit {name!r}: {exc}") from exc
            waited = time.monotonic() - started
            if waited >= timeout:
                raise JsocSlotTimeout(
                    f"No slot of the Prefect global concurrency limit {name!r} became free within "
                    f"{timeout:.0f} s. Other runs hold all {size}; see `prefect gcl inspect {name}`. A run that "
                    "was killed frees its slot when its lease expires (about a minute, on a Prefect server "
                    "whose services run)."
                )
            if not announced and waiting_message:
                get_logger().info(waiting_message)
                announced = True
            sleep(min(delay, max(0.0, timeout - waited)))
            delay = min(delay * 1.5, _POLL_MAX)
        if announced:
            get_logger().info("Got the slot after %.1f s.", time.monotonic() - started)
        yield


def export_slot(settings: JsocSettings, email_address: str, *, label: str = "") -> contextlib.AbstractContextManager[None]:
    """Hold one pending-export slot of ``email_address`` on the settings' server.

    Args:
        settings: Resolved settings (``max_pending_exports``, ``export_timeout``).
        email_address: The notify e-mail (only its digest is used).
        label: What the slot is for, for the log.
    """
    limit = settings.max_pending_exports
    return hold_slots(
        export_limit_name(settings, email_address),
        limit,
        timeout=settings.export_timeout,
        waiting_message=(
            f"Waiting for a free export slot{f' for {label}' if label else ''}: JSOC allows "
            f"{limit} pending export{'s' if limit != 1 else ''} per e-mail, and other exports hold "
            f"{'it' if limit == 1 else 'them'}."
        ),
    )


@contextlib.contextmanager
def download_slots(settings: JsocSettings, wanted: int = 1) -> Iterator[int]:
    """Hold download-connection slots of the settings' server; yields how many connections to open.

    Args:
        settings: Resolved settings (``max_connections``, ``export_timeout``).
        wanted: How many connections the caller could use (its number of files).

    Yields:
        The number of slots held: ``min(wanted, max_connections)``, at least 1.
    """
    size = settings.max_connections
    occupy = max(1, min(int(wanted), size))
    with hold_slots(
        download_limit_name(settings),
        size,
        occupy,
        timeout=settings.export_timeout,
        waiting_message=f"Waiting for a free download connection (at most {size} per server).",
    ):
        yield occupy
