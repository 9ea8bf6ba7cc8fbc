"""JSOC's politeness limits, held as Prefect global concurrency limits that the Prefect server enforces.

Every worker of a deployment talks to the same Prefect server, so a limit held there holds on every
host at once:

* **pending exports** per (server, notify e-mail): ``prefect-jsoc-exports-<server>-<e-mail digest>``,
  sized ``max_pending_exports`` (JSOC allows one). ``stage`` takes a slot just before it submits,
  and ``await_export`` gives it back as soon as the export is complete or has failed.
* **download connections** per server: ``prefect-jsoc-downloads-<server digest>``, sized
  ``max_connections`` (JSOC asks for one), held while files transfer.

The limits are created, or resized to the current settings, on first use; names carry digests,
never the e-mail. A slot is a Prefect lease of :data:`SLOT_LEASE_SECONDS`, renewed by a daemon
thread of the holding process; if the process dies, the lease expires and the Prefect server's
repossessor service (every 15 s by default) frees the slot, so a crashed holder's slot comes back
in about a minute.

Why not ``prefect.concurrency.sync.concurrency``: an export slot must outlive the task that takes
it (it is handed from ``stage`` to ``await_export``), which a context manager cannot do; and waiting
for a slot must notice a freed slot within a second (Prefect's own waiting sleeps for the server's
``Retry-After``, up to 30 s, and logs an error per refusal when it must not wait). So slots are
taken and renewed through the Prefect client's lease API, and waiting polls every 0.2-0.5 s.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from uuid import UUID

from prefect_jsoc._log import get_logger
from prefect_jsoc.errors import LimitUnavailableError, SlotTimeoutError
from prefect_jsoc.polling import poll_until
from prefect_jsoc.settings import JsocSettings
from prefect_jsoc.slot_api import give_back, is_busy, read_usage, take_slots

__all__ = [
    "SLOT_LEASE_SECONDS",
    "acquire_export_slot",
    "acquire_slots",
    "claim_export_slot",
    "download_limit_name",
    "download_slots",
    "ensure_limit",
    "export_limit",
    "export_limit_name",
    "export_slot_held",
    "release_export_slot",
    "release_slots",
    "watch_export_slot",
]

#: Lease of a held slot, in seconds: Prefect's minimum, so a crashed holder's slot returns soonest.
SLOT_LEASE_SECONDS = 60.0
_POLL_FIRST = 0.2
_POLL_MAX = 0.5

_ensured: dict[tuple[str, str], int] = {}
_ensure_lock = threading.Lock()


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


def _status(exc: BaseException) -> int | None:
    return getattr(getattr(exc, "response", None), "status_code", None)


def ensure_limit(name: str, size: int) -> None:
    """Create the global concurrency limit ``name`` with ``size`` slots, or resize it (once per process).

    Args:
        name: The limit's name.
        size: How many slots it has.

    Raises:
        LimitUnavailableError: When the Prefect API cannot create or read the limit.
    """
    key = (_api_url(), name)
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
                        if attempt == 2 or _status(getattr(exc, "http_exc", exc)) not in (409, 500):
                            raise
        except Exception as exc:
            raise LimitUnavailableError(
                f"Could not create the Prefect global concurrency limit {name!r} ({size} slots) on the "
                f"Prefect API at {_api_url()}: {exc}. prefect-jsoc keeps JSOC's limits there; check "
                "PREFECT_API_URL."
            ) from exc
        _ensured[key] = size


class _Renewal:
    """Keeps one lease alive from a daemon thread until it is released, too old, or its work is done.

    An export slot handed from ``stage`` to ``await_export`` is released by ``await_export``. If no
    ``await_export`` claims it (a script that only stages), the thread asks ``finished`` (JSOC's
    export status) now and then, and releases the slot once the export is no longer pending.
    """

    def __init__(self, lease_id: str, max_seconds: float) -> None:
        self.lease_id = lease_id
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.claimed = False
        self.finished: Callable[[], bool] | None = None
        self.next_check = math.inf
        self.check_every = SLOT_LEASE_SECONDS
        self.thread = threading.Thread(target=self._run, name=f"prefect-jsoc-lease-{lease_id[:8]}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        from prefect import get_client

        renew_at = time.monotonic() + SLOT_LEASE_SECONDS * 0.5
        while True:
            self.wake.wait(max(0.05, min(renew_at, self.next_check) - time.monotonic()))
            self.wake.clear()
            if self.stop.is_set():
                return
            now = time.monotonic()
            if now > self.deadline:  # never keep a slot longer than its work may take
                release_slots(self.lease_id)
                return
            if now >= self.next_check and not self.claimed and self.finished is not None:
                self.next_check = now + self.check_every
                try:
                    done = self.finished()
                except Exception:  # cannot tell: keep the slot, ask again later
                    done = False
                if done and not self.claimed:
                    release_slots(self.lease_id)
                    return
            if now >= renew_at:
                renew_at = now + SLOT_LEASE_SECONDS * 0.5
                try:
                    with get_client(sync_client=True) as client:
                        client.renew_concurrency_lease(UUID(self.lease_id), lease_duration=SLOT_LEASE_SECONDS)
                except Exception as exc:  # a lost lease frees the slot; the work itself goes on
                    get_logger().warning("Could not renew the lease %s of a JSOC slot: %s", self.lease_id, exc)
                    if _status(exc) in (404, 410):
                        with _renewals_lock:
                            _renewals.pop(self.lease_id, None)
                        return


_renewals: dict[str, _Renewal] = {}
_renewals_lock = threading.Lock()
#: Signalled whenever this process gives slots back, so its own waiters try again at once instead
#: of at their next poll (waiters on other hosts poll).
_freed = threading.Condition()
_asking = threading.Lock()


def _sleep_until_freed(seconds: float) -> None:
    with _freed:
        _freed.wait(seconds)


def acquire_slots(
    limit: str,
    size: int,
    occupy: int = 1,
    *,
    timeout: float,
    max_hold: float,
    waiting_message: str = "",
    sleep: Callable[[float], None] | None = None,
) -> str:
    """Take ``occupy`` slots of the limit ``limit`` (created with ``size`` slots); return the lease id.

    The slots stay taken until :func:`release_slots` (from any task of this process), for at most
    ``max_hold`` seconds; a daemon thread renews the lease meanwhile.

    Args:
        limit: The limit's name.
        size: Its size (the limit is created or resized to it first).
        occupy: Slots to take (at most ``size``).
        timeout: Give up after waiting this many seconds for free slots.
        max_hold: Release the slots by themselves after this many seconds.
        waiting_message: Logged once when the slots are not free at once.
        sleep: Sleep function between polls (default: a sleep that a release in this process ends).

    Raises:
        SlotTimeoutError: When the slots did not become free within ``timeout``.
        LimitUnavailableError: When the Prefect API failed.
    """
    occupy = max(1, min(int(occupy), int(size)))
    ensure_limit(limit, size)
    started = time.monotonic()
    announced: list[bool] = []

    def busy() -> None:
        if waiting_message and not announced:
            get_logger().info(waiting_message)
            announced.append(True)

    def take() -> str | None:
        try:
            # Look before asking, one thread of this process at a time: a refused request still writes
            # to the server's database (its "denied slots" count), and on SQLite two writes that meet
            # cost a 503 (see prefect_jsoc.slot_api).
            with _asking:
                active, limit_size = read_usage(limit)
                if active + occupy > limit_size:
                    return busy()
                lease = take_slots(limit, occupy, SLOT_LEASE_SECONDS)
        except Exception as exc:
            if not is_busy(exc):
                raise LimitUnavailableError(f"Could not take a slot of the Prefect limit {limit!r}: {exc}") from exc
            return busy()
        return lease if lease is not None else busy()

    def timed_out(waited: float) -> Exception:
        return SlotTimeoutError(
            f"No slot of the Prefect global concurrency limit {limit!r} became free within {waited:.0f} s; "
            f"other runs hold all {size}. See `prefect gcl inspect {limit}`. A run that was killed frees "
            "its slot when its lease expires (about a minute, on a Prefect server whose services run)."
        )

    lease_id = poll_until(
        take,
        first_delay=0,
        then=_POLL_FIRST,
        maximum=_POLL_MAX,
        timeout=timeout,
        on_timeout=timed_out,
        sleep=sleep or _sleep_until_freed,
    )
    if announced:
        get_logger().info("Got the slot after %.1f s.", time.monotonic() - started)
    with _renewals_lock:
        _renewals[lease_id] = _Renewal(lease_id, max_hold)
    return lease_id


def release_slots(lease_id: str | None) -> None:
    """Give slots back (never raises: slots that cannot be released expire within a minute)."""
    if not lease_id:
        return
    with _renewals_lock:
        renewal = _renewals.pop(lease_id, None)
    if renewal is not None:
        renewal.stop.set()
        renewal.wake.set()
    for attempt in range(4):
        try:
            give_back(lease_id)
            break
        except Exception as exc:
            if attempt < 3 and is_busy(exc):
                time.sleep(0.1 * (attempt + 1))
                continue
            get_logger().warning("Could not give back JSOC slot %s (it expires within a minute): %s", lease_id, exc)
            break
    with _freed:
        _freed.notify_all()


def export_limit(settings: JsocSettings, email_address: str) -> str:
    """The name of the pending-export limit of ``email_address`` on the settings' server."""
    return export_limit_name(settings, email_address)


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
    with _renewals_lock:
        renewal = _renewals.get(lease_id)
    if renewal is not None:
        renewal.finished, renewal.check_every = finished, every
        renewal.next_check = time.monotonic() + first_check
        renewal.wake.set()  # let the thread reschedule


def claim_export_slot(lease_id: str | None) -> bool:
    """Take over an export slot this process holds (``await_export`` does); False if it holds none."""
    with _renewals_lock:
        renewal = _renewals.get(lease_id or "")
        if renewal is None:
            return False
        renewal.claimed = True
        return True


def export_slot_held(lease_id: str | None) -> bool:
    """True when ``lease_id`` is a slot this process holds (and keeps alive)."""
    with _renewals_lock:
        return bool(lease_id) and lease_id in _renewals


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
        The number of slots held: ``min(wanted, max_connections)``, at least 1.
    """
    name = download_limit_name(settings)
    held = _held_downloads.get() or {}
    if name in held:
        yield max(1, min(int(wanted), held[name]))
        return
    size = settings.max_connections
    occupy = max(1, min(int(wanted), size))
    lease = acquire_slots(
        name,
        size,
        occupy,
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
